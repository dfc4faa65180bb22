//! Changing a live retry policy's settings.

use super::{Retry, RetryConfig};
use crate::error::ConfigError;
use crate::route::Route;

/// Where a registered retry policy's [`reconfigure`](Retry::reconfigure) goes:
/// through the registry, as a run-time layer (see `crate::route`).
pub(crate) static ROUTE: Route<Retry, RetryConfig> = Route::new();

impl Retry {
    /// Replaces the settings, keeping the statistics. Calls already
    /// retrying use the new settings from their next attempt. Invalid
    /// settings are an error and change nothing.
    ///
    /// A retry policy the [`registry()`](crate::registry()) holds changes
    /// through it, as a run-time layer: `registry().configuration()`
    /// reports the change, which changes to other settings and to lower
    /// layers (a file, the environment) leave in force, and an
    /// error is the registry's ([`ConfigError::NotApplied`]). A retry policy built
    /// with `new` changes alone.
    ///
    /// ```
    /// use resil::{RetryConfig, Retry};
    ///
    /// let policy = Retry::new("retry-reconfigure-doc", RetryConfig::DEFAULT).unwrap();
    /// policy.reconfigure(policy.config().max_attempts(5)).unwrap();
    /// assert_eq!(policy.config().max_attempts, 5);
    /// assert!(policy.reconfigure(policy.config().max_attempts(0)).is_err());
    /// ```
    pub fn reconfigure(&self, config: RetryConfig) -> Result<(), ConfigError> {
        if let Some(routed) = ROUTE.take(self, &config) {
            return routed;
        }
        self.reconfigure_in_place(config)
    }

    /// The change itself, made on this retry policy alone: the registry calls it
    /// once a run-time layer's change is checked, and
    /// [`reconfigure`](Self::reconfigure) for a retry policy it does not hold.
    pub(crate) fn reconfigure_in_place(&self, config: RetryConfig) -> Result<(), ConfigError> {
        self.check_reconfigure(&config)?;
        self.config.store(&config);
        tracing::info!(target: "resil", policy = %self.name, ?config, "retry policy reconfigured");
        Ok(())
    }

    /// Whether [`reconfigure`](Self::reconfigure) would accept `config`.
    pub(crate) fn check_reconfigure(&self, config: &RetryConfig) -> Result<(), ConfigError> {
        config.validate(self.name.as_str())
    }
}
