//! Changing a live timeout's settings.

use super::{Timeout, TimeoutConfig};
use crate::error::ConfigError;
use crate::route::Route;

/// Where a registered timeout's [`reconfigure`](Timeout::reconfigure) goes:
/// through the registry, as a run-time layer (see `crate::route`).
pub(crate) static ROUTE: Route<Timeout, TimeoutConfig> = Route::new();

impl Timeout {
    /// Replaces the settings, keeping the counters; calls already running
    /// keep the limit they started with. Invalid settings are an error and
    /// change nothing.
    ///
    /// A timeout the [`registry()`](crate::registry()) holds changes
    /// through it, as a run-time layer: `registry().configuration()`
    /// reports the change, which changes to other settings and to lower
    /// layers (a file, the environment) leave in force, and an
    /// error is the registry's ([`ConfigError::NotApplied`]). A timeout built
    /// with `new` changes alone.
    ///
    /// ```
    /// use std::time::Duration;
    /// use resil::{TimeoutConfig, Timeout};
    ///
    /// let timeout = Timeout::new("timeout-reconfigure-doc", TimeoutConfig::DEFAULT).unwrap();
    /// timeout.reconfigure(timeout.config().duration(Duration::from_millis(250))).unwrap();
    /// assert_eq!(timeout.config().duration, Duration::from_millis(250));
    /// assert!(timeout.reconfigure(timeout.config().duration(Duration::ZERO)).is_err());
    /// ```
    pub fn reconfigure(&self, config: TimeoutConfig) -> Result<(), ConfigError> {
        if let Some(routed) = ROUTE.take(self, &config) {
            return routed;
        }
        self.reconfigure_in_place(config)
    }

    /// The change itself, made on this timeout alone: the registry calls it
    /// once a run-time layer's change is checked, and
    /// [`reconfigure`](Self::reconfigure) for a timeout it does not hold.
    pub(crate) fn reconfigure_in_place(&self, config: TimeoutConfig) -> Result<(), ConfigError> {
        self.check_reconfigure(&config)?;
        self.config.store(&config);
        tracing::info!(target: "resil", policy = %self.name, ?config, "timeout reconfigured");
        Ok(())
    }

    /// Whether [`reconfigure`](Self::reconfigure) would accept `config`.
    pub(crate) fn check_reconfigure(&self, config: &TimeoutConfig) -> Result<(), ConfigError> {
        config.validate(self.name.as_str())
    }
}
