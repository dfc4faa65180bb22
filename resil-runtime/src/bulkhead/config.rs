//! A bulkhead's settings ([`BulkheadConfig`]), with their `const` builder
//! (so the macros can put one in a `static`) and `validate`, and the
//! bulkhead's live copy of them (`LiveBulkheadConfig`, see `crate::live`).

use std::time::Duration;

use serde::Serialize;

use crate::error::{ConfigError, PolicyKind};

/// Settings of a [`Bulkhead`](super::Bulkhead).
///
/// ```
/// use std::time::Duration;
/// use resil::BulkheadConfig;
///
/// const SEARCH: BulkheadConfig = BulkheadConfig::DEFAULT
///     .max_concurrent(4)
///     .queue(8)
///     .wait(Duration::from_millis(250));
/// assert!(SEARCH.validate("search").is_ok());
/// assert!(BulkheadConfig::DEFAULT.max_concurrent(0).validate("search").is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct BulkheadConfig {
    /// Calls that run at once (default 10).
    pub max_concurrent: u32,
    /// Calls that may wait for a slot beyond those (default 0).
    pub queue: u32,
    /// How long a queued call waits for a slot before it is rejected
    /// (default 1s).
    #[serde(serialize_with = "crate::duration::serialize")]
    pub wait: Duration,
}

impl BulkheadConfig {
    /// The defaults: 10 at once, no queue, 1s wait.
    pub const DEFAULT: Self = Self {
        max_concurrent: 10,
        queue: 0,
        wait: Duration::from_secs(1),
    };

    /// Sets `max_concurrent`.
    pub const fn max_concurrent(mut self, calls: u32) -> Self {
        self.max_concurrent = calls;
        self
    }

    /// Sets `queue`.
    pub const fn queue(mut self, waiting: u32) -> Self {
        self.queue = waiting;
        self
    }

    /// Sets `wait`.
    pub const fn wait(mut self, wait: Duration) -> Self {
        self.wait = wait;
        self
    }

    /// Checks every value, naming the policy and the setting that is wrong.
    pub fn validate(&self, policy: &str) -> Result<(), ConfigError> {
        let invalid = |key, reason: &str| {
            Err(ConfigError::InvalidValue {
                kind: PolicyKind::Bulkhead,
                policy: policy.to_owned(),
                key,
                reason: reason.to_owned(),
            })
        };
        if self.max_concurrent == 0 {
            return invalid("max_concurrent", "must be at least 1");
        }
        if self.max_concurrent > super::MAX_SLOTS || self.queue > super::MAX_SLOTS {
            return invalid("max_concurrent", "and `queue` must each be below 2^31");
        }
        if self.queue > 0 && self.wait.is_zero() {
            return invalid("wait", "must be longer than zero when `queue` is set");
        }
        Ok(())
    }
}

impl Default for BulkheadConfig {
    fn default() -> Self {
        Self::DEFAULT
    }
}

crate::live::live_config! {
    /// A bulkhead's settings.
    LiveBulkheadConfig for BulkheadConfig {
        max_concurrent: u32,
        queue: u32,
        wait: Duration,
    }
}
