//! Changing a live bulkhead's settings.

use std::sync::atomic::Ordering;

use super::{Bulkhead, BulkheadConfig, WAITING_ONE, running, waiting};
use crate::error::ConfigError;
use crate::route::Route;

/// Where a registered bulkhead's [`reconfigure`](Bulkhead::reconfigure) goes:
/// through the registry, as a run-time layer (see `crate::route`).
pub(crate) static ROUTE: Route<Bulkhead, BulkheadConfig> = Route::new();

impl Bulkhead {
    /// Replaces the settings while the bulkhead runs, keeping the calls in
    /// flight, the queue and the counters. Invalid settings are an error and
    /// change nothing.
    ///
    /// A larger `max_concurrent` admits queued callers at once; a smaller
    /// one lets running calls finish and admits no new ones until fewer
    /// than the new limit run. A queued call keeps the `wait` it started
    /// with.
    ///
    /// A bulkhead the [`registry()`](crate::registry()) holds changes
    /// through it, as a run-time layer: `registry().configuration()`
    /// reports the change, which changes to other settings and to lower
    /// layers (a file, the environment) leave in force, and an
    /// error is the registry's ([`ConfigError::NotApplied`]). A bulkhead built
    /// with `new` changes alone.
    ///
    /// ```
    /// use resil::{Bulkhead, BulkheadConfig};
    ///
    /// let bulkhead = Bulkhead::new("bulkhead-reconfigure-doc", BulkheadConfig::DEFAULT.max_concurrent(1)).unwrap();
    /// let _held = bulkhead.try_acquire().unwrap();
    /// assert!(bulkhead.try_acquire().is_err());
    /// bulkhead.reconfigure(bulkhead.config().max_concurrent(2)).unwrap();
    /// assert!(bulkhead.try_acquire().is_ok());
    /// ```
    pub fn reconfigure(&self, config: BulkheadConfig) -> Result<(), ConfigError> {
        if let Some(routed) = ROUTE.take(self, &config) {
            return routed;
        }
        self.reconfigure_in_place(config)
    }

    /// The change itself, made on this bulkhead alone: the registry calls it
    /// once a run-time layer's change is checked, and
    /// [`reconfigure`](Self::reconfigure) for a bulkhead it does not hold.
    pub(crate) fn reconfigure_in_place(&self, config: BulkheadConfig) -> Result<(), ConfigError> {
        self.check_reconfigure(&config)?;
        self.config.store(&config);
        tracing::info!(target: "resil", policy = %self.name, ?config, "bulkhead reconfigured");
        self.admit_waiters();
        Ok(())
    }

    /// Whether [`reconfigure`](Self::reconfigure) would accept `config`.
    pub(crate) fn check_reconfigure(&self, config: &BulkheadConfig) -> Result<(), ConfigError> {
        config.validate(self.name.as_str())
    }

    /// Hands slots that a larger limit freed to the oldest waiters.
    fn admit_waiters(&self) {
        let mut waiters = self.lock_waiters();
        let mut state = self.state.load(Ordering::Acquire);
        // Under the lock the waiting count equals the queue's length, and
        // with anyone waiting no other path takes a slot without the lock.
        while waiting(state) > 0 && running(state) < self.config.max_concurrent() {
            match self.state.compare_exchange_weak(
                state,
                state - WAITING_ONE + 1,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => {
                    if let Some(waiter) = waiters.pop_front() {
                        waiter.grant();
                    }
                    state = self.state.load(Ordering::Acquire);
                }
                Err(actual) => state = actual,
            }
        }
        drop(waiters);
    }
}
