//! A rate limiter's settings ([`RateLimiterConfig`]), with their `const`
//! builder (so the macros can put one in a `static`) and `validate`, and
//! the limiter's live copy of them (`LiveRateLimiterConfig`, see
//! `crate::live`).

use std::time::Duration;

use serde::Serialize;

use crate::error::{ConfigError, PolicyKind};

/// Settings of a [`RateLimiter`](super::RateLimiter): `rate` calls `per`
/// period, up to `burst` of them at once, callers waiting at most `wait`
/// for their turn.
///
/// ```
/// use std::time::Duration;
/// use resil::RateLimiterConfig;
///
/// const SEARCH: RateLimiterConfig = RateLimiterConfig::DEFAULT
///     .rate(10)
///     .per(Duration::from_secs(1))
///     .burst(2)
///     .wait(Duration::from_millis(500));
/// assert!(SEARCH.validate("search").is_ok());
/// assert_eq!(SEARCH.interval(), Duration::from_millis(100));
/// assert!(RateLimiterConfig::DEFAULT.rate(0).validate("search").is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RateLimiterConfig {
    /// Calls allowed per `per` (default 100).
    pub rate: u32,
    /// The period `rate` is counted over (default 1s).
    #[serde(serialize_with = "crate::duration::serialize")]
    pub per: Duration,
    /// Calls that may go at once after a quiet spell (default: `rate`).
    pub burst: Option<u32>,
    /// How long a call may wait for its turn before it is rejected (default
    /// zero: rejected at once).
    #[serde(serialize_with = "crate::duration::serialize")]
    pub wait: Duration,
}

impl RateLimiterConfig {
    /// The defaults: 100 calls per second, a burst of 100, no waiting.
    /// `#[rate_limit]` always names its rate.
    pub const DEFAULT: Self = Self {
        rate: resil_rules::rate_limit::DEFAULT_RATE,
        per: resil_rules::rate_limit::DEFAULT_PER,
        burst: None,
        wait: resil_rules::rate_limit::DEFAULT_WAIT,
    };

    /// Sets `rate`.
    pub const fn rate(mut self, calls: u32) -> Self {
        self.rate = calls;
        self
    }

    /// Sets `per`.
    pub const fn per(mut self, period: Duration) -> Self {
        self.per = period;
        self
    }

    /// Sets `burst`.
    pub const fn burst(mut self, calls: u32) -> Self {
        self.burst = Some(calls);
        self
    }

    /// Sets `wait`.
    pub const fn wait(mut self, wait: Duration) -> Self {
        self.wait = wait;
        self
    }

    /// The burst in force: `burst`, or `rate` when unset.
    pub fn effective_burst(&self) -> u32 {
        self.burst.unwrap_or(self.rate)
    }

    /// The time one call uses up, `per / rate`, rounded up to whole
    /// nanoseconds so the limit is never exceeded.
    pub fn interval(&self) -> Duration {
        let nanos = self.per.as_nanos().div_ceil(u128::from(self.rate.max(1)));
        Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }

    /// Checks every value, naming the policy and the setting that is wrong.
    pub fn validate(&self, policy: &str) -> Result<(), ConfigError> {
        use resil_rules::rate_limit as rules;
        let fail = |violation, detail: &str| {
            ConfigError::violated(PolicyKind::RateLimiter, policy, violation, detail)
        };
        rules::rate(self.rate).map_err(|v| fail(v, ""))?;
        rules::per(self.per).map_err(|v| fail(v, ""))?;
        rules::rate_per(self.rate, self.per).map_err(|v| {
            let per = crate::duration::display(self.per);
            fail(v, &format!(", not {} per {per}", self.rate))
        })?;
        rules::burst(self.burst).map_err(|v| fail(v, ""))?;
        Ok(())
    }
}

impl Default for RateLimiterConfig {
    fn default() -> Self {
        Self::DEFAULT
    }
}

crate::live::live_config! {
    /// A rate limiter's settings. The limiter also keeps the nanosecond
    /// figures its hot path uses, derived from these, in atomics of its own.
    LiveRateLimiterConfig for RateLimiterConfig {
        rate: u32,
        per: Duration,
        burst: Option<u32>,
        wait: Duration,
    }
}
