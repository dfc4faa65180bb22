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
        max_concurrent: resil_rules::bulkhead::DEFAULT_MAX_CONCURRENT,
        queue: resil_rules::bulkhead::DEFAULT_QUEUE,
        wait: resil_rules::bulkhead::DEFAULT_WAIT,
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
        use resil_rules::bulkhead as rules;
        let fail = |violation, detail: &str| {
            ConfigError::violated(PolicyKind::Bulkhead, policy, violation, detail)
        };
        rules::max_concurrent(self.max_concurrent)
            .map_err(|v| fail(v, &format!(", not {}", self.max_concurrent)))?;
        rules::queue(self.queue).map_err(|v| fail(v, &format!(", not {}", self.queue)))?;
        rules::wait(self.wait, self.queue).map_err(|v| fail(v, ""))?;
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

#[cfg(test)]
#[cfg(not(loom))]
mod tests {
    use super::*;

    #[test]
    fn every_field_round_trips_through_the_live_cell() {
        let bulkhead = BulkheadConfig::DEFAULT.max_concurrent(3).queue(9);
        assert_eq!(LiveBulkheadConfig::new(&bulkhead).load(), bulkhead);
    }

    #[test]
    fn readers_never_see_half_a_store() {
        let a = BulkheadConfig::DEFAULT.max_concurrent(1).queue(1);
        let b = BulkheadConfig::DEFAULT.max_concurrent(2).queue(2);
        let live = LiveBulkheadConfig::new(&a);
        std::thread::scope(|scope| {
            scope.spawn(|| {
                for i in 0..20_000 {
                    live.store(if i % 2 == 0 { &b } else { &a });
                }
            });
            for _ in 0..20_000 {
                let seen = live.load();
                assert_eq!(seen.max_concurrent, seen.queue, "{seen:?}");
            }
        });
    }
}
