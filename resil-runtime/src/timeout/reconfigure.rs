//! Changing a live timeout's settings.

use super::{TimeoutConfig, TimeoutPolicy};
use crate::error::ConfigError;

impl TimeoutPolicy {
    /// Replaces the settings, keeping the counters; calls already running
    /// keep the limit they started with. Invalid settings are an error and
    /// change nothing.
    ///
    /// ```
    /// use std::time::Duration;
    /// use resil::{TimeoutConfig, TimeoutPolicy};
    ///
    /// let timeout = TimeoutPolicy::new("timeout-reconfigure-doc", TimeoutConfig::DEFAULT).unwrap();
    /// timeout.reconfigure(timeout.config().duration(Duration::from_millis(250))).unwrap();
    /// assert_eq!(timeout.config().duration, Duration::from_millis(250));
    /// assert!(timeout.reconfigure(timeout.config().duration(Duration::ZERO)).is_err());
    /// ```
    pub fn reconfigure(&self, config: TimeoutConfig) -> Result<(), ConfigError> {
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
