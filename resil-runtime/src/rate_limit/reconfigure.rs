//! Changing a live rate limiter's settings.

use std::sync::atomic::Ordering;

use super::{Derived, RateLimiter, RateLimiterConfig};
use crate::clock;
use crate::error::ConfigError;
use crate::route::Route;

/// Where a registered rate limiter's [`reconfigure`](RateLimiter::reconfigure) goes:
/// through the registry, as a run-time layer (see `crate::route`).
pub(crate) static ROUTE: Route<RateLimiter, RateLimiterConfig> = Route::new();

impl RateLimiter {
    /// Replaces the settings while calls run, keeping the counters and how
    /// many turns are in use: turns taken at the old rate are re-spaced at
    /// the new one, so a higher rate lets calls through at once. Invalid
    /// settings are an error and change nothing.
    ///
    /// A rate limiter the [`registry()`](crate::registry()) holds changes
    /// through it, as a run-time layer: `registry().configuration()`
    /// reports the change, which changes to other settings and to lower
    /// layers (a file, the environment) leave in force, and an
    /// error is the registry's ([`ConfigError::NotApplied`]). A rate limiter built
    /// with `new` changes alone.
    ///
    /// ```
    /// use std::time::Duration;
    /// use resil::{RateLimiter, RateLimiterConfig};
    ///
    /// let limiter = RateLimiter::new("limiter-reconfigure-doc", RateLimiterConfig::DEFAULT.rate(1).per(Duration::from_secs(60))).unwrap();
    /// limiter.try_acquire().unwrap();
    /// assert!(limiter.try_acquire().is_err());
    /// limiter.reconfigure(limiter.config().burst(3)).unwrap();
    /// assert!(limiter.try_acquire().is_ok());
    /// assert!(limiter.reconfigure(limiter.config().rate(0)).is_err());
    /// ```
    pub fn reconfigure(&self, config: RateLimiterConfig) -> Result<(), ConfigError> {
        if let Some(routed) = ROUTE.take(self, &config) {
            return routed;
        }
        self.reconfigure_in_place(config)
    }

    /// The change itself, made on this rate limiter alone: the registry calls it
    /// once a run-time layer's change is checked, and
    /// [`reconfigure`](Self::reconfigure) for a rate limiter it does not hold.
    pub(crate) fn reconfigure_in_place(
        &self,
        config: RateLimiterConfig,
    ) -> Result<(), ConfigError> {
        self.check_reconfigure(&config)?;
        self.config.store(&config);
        let derived = Derived::of(&config);
        let old = self.interval.swap(derived.interval, Ordering::Relaxed);
        self.rescale(old, derived.interval);
        self.tolerance.store(derived.tolerance, Ordering::Relaxed);
        self.max_wait.store(derived.max_wait, Ordering::Relaxed);
        tracing::info!(target: "resil", policy = %self.name, ?config, "rate limiter reconfigured");
        Ok(())
    }

    /// Re-spaces the turns taken ahead of now from the `old` interval to
    /// the `new` one.
    fn rescale(&self, old: i64, new: i64) {
        if old == new || old <= 0 {
            return;
        }
        let now = clock::now_nanos();
        let _rewind = self.rewind();
        let mut tat = self.tat.load(Ordering::Acquire);
        while tat > now {
            let ahead = i128::from(tat - now) * i128::from(new) / i128::from(old);
            let next = now.saturating_add(i64::try_from(ahead).unwrap_or(i64::MAX));
            match self
                .tat
                .compare_exchange_weak(tat, next, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => {
                    // Turns taken so far moved: none can be handed back as
                    // stored.
                    self.era.fetch_add(1, Ordering::AcqRel);
                    return;
                }
                Err(actual) => tat = actual,
            }
        }
    }

    /// Whether [`reconfigure`](Self::reconfigure) would accept `config`.
    pub(crate) fn check_reconfigure(&self, config: &RateLimiterConfig) -> Result<(), ConfigError> {
        config.validate(self.name.as_str())
    }
}
