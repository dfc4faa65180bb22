//! Changing a live retry policy's settings.

use super::{RetryConfig, RetryPolicy};
use crate::error::ConfigError;

impl RetryPolicy {
    /// Replaces the settings, keeping the statistics. Calls already
    /// retrying use the new settings from their next attempt. Invalid
    /// settings are an error and change nothing.
    ///
    /// ```
    /// use resil::{RetryConfig, RetryPolicy};
    ///
    /// let policy = RetryPolicy::new("retry-reconfigure-doc", RetryConfig::DEFAULT).unwrap();
    /// policy.reconfigure(policy.config().max_attempts(5)).unwrap();
    /// assert_eq!(policy.config().max_attempts, 5);
    /// assert!(policy.reconfigure(policy.config().max_attempts(0)).is_err());
    /// ```
    pub fn reconfigure(&self, config: RetryConfig) -> Result<(), ConfigError> {
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
