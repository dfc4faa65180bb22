//! A breaker's settings ([`CircuitBreakerConfig`]), with their `const`
//! builder (so the macros can put one in a `static`) and `validate`, and
//! the breaker's live copy of them (`LiveCircuitBreakerConfig`, see
//! `crate::live`), which the hot path reads one field at a time.

use std::time::Duration;

use serde::Serialize;

use crate::error::{ConfigError, PolicyKind};

/// Settings of a [`CircuitBreaker`](super::CircuitBreaker).
///
/// Built from [`CircuitBreakerConfig::DEFAULT`] with `const` setters, so the
/// macros can place a configuration in a `static`. [`validate`] checks it;
/// the macros check the same rules at compile time.
///
/// [`validate`]: CircuitBreakerConfig::validate
///
/// ```
/// use std::time::Duration;
/// use resil::CircuitBreakerConfig;
///
/// const PAYMENTS: CircuitBreakerConfig = CircuitBreakerConfig::DEFAULT
///     .threshold(3)
///     .failure_rate(0.5)
///     .window(20)
///     .open_for(Duration::from_secs(30));
/// assert!(PAYMENTS.validate("payments").is_ok());
/// assert!(CircuitBreakerConfig::DEFAULT.failure_rate(1.5).validate("x").is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CircuitBreakerConfig {
    /// Consecutive failures that open the breaker (default 5).
    pub threshold: u32,
    /// Failure rate in (0, 1] over the last `window` calls that opens the
    /// breaker; `None` (the default) counts only consecutive failures.
    pub failure_rate: Option<f64>,
    /// How many of the most recent calls the failure rate is taken over
    /// (default 10). Ignored when `time_window` is set.
    pub window: u32,
    /// Take the rates over the calls of this last stretch of time instead
    /// of the last `window` calls (default none). See the module docs for
    /// how the window slides and what it costs.
    #[serde(serialize_with = "crate::duration::serialize_option")]
    pub time_window: Option<Duration>,
    /// Calls the window must have seen before a rate can open the breaker
    /// (default: the size of a count window; 10 with a time window).
    pub min_calls: Option<u32>,
    /// How long the breaker stays open before it lets trial calls through
    /// (default 60s). Files and the environment also take it as `timeout`,
    /// its older name.
    #[serde(serialize_with = "crate::duration::serialize")]
    pub open_for: Duration,
    /// Trial calls let through at once while half-open (default 1).
    pub half_open_max: u32,
    /// Successful trial calls that close the breaker again (default 2).
    pub success_threshold: u32,
    /// Calls that take longer than this are slow, even when they succeed
    /// (default none: no call is timed).
    #[serde(serialize_with = "crate::duration::serialize_option")]
    pub slow_call: Option<Duration>,
    /// Share in (0, 1] of slow calls in the window that opens the breaker
    /// (default 1.0 when `slow_call` is set).
    pub slow_rate: Option<f64>,
}

impl CircuitBreakerConfig {
    /// The defaults: `threshold` 5, no failure rate, `window` 10, `timeout`
    /// 60s, `half_open_max` 1, `success_threshold` 2.
    pub const DEFAULT: Self = Self {
        threshold: resil_rules::circuit_breaker::DEFAULT_THRESHOLD,
        failure_rate: None,
        window: resil_rules::circuit_breaker::DEFAULT_WINDOW,
        time_window: None,
        min_calls: None,
        open_for: resil_rules::circuit_breaker::DEFAULT_OPEN_FOR,
        half_open_max: resil_rules::circuit_breaker::DEFAULT_HALF_OPEN_MAX,
        success_threshold: resil_rules::circuit_breaker::DEFAULT_SUCCESS_THRESHOLD,
        slow_call: None,
        slow_rate: None,
    };

    /// Sets `threshold`.
    pub const fn threshold(mut self, consecutive_failures: u32) -> Self {
        self.threshold = consecutive_failures;
        self
    }

    /// Sets `failure_rate`.
    pub const fn failure_rate(mut self, rate: f64) -> Self {
        self.failure_rate = Some(rate);
        self
    }

    /// Sets `window`.
    pub const fn window(mut self, calls: u32) -> Self {
        self.window = calls;
        self
    }

    /// Sets `time_window`.
    pub const fn time_window(mut self, length: Duration) -> Self {
        self.time_window = Some(length);
        self
    }

    /// Sets `slow_call`.
    pub const fn slow_call(mut self, slower_than: Duration) -> Self {
        self.slow_call = Some(slower_than);
        self
    }

    /// Sets `slow_rate`.
    pub const fn slow_rate(mut self, rate: f64) -> Self {
        self.slow_rate = Some(rate);
        self
    }

    /// The slow-call rate in force: `slow_rate`, or 1.0 when unset.
    pub fn effective_slow_rate(&self) -> f64 {
        self.slow_rate.unwrap_or(1.0)
    }

    /// Whether the breaker keeps a window: with `failure_rate` or
    /// `slow_call`.
    pub fn has_window(&self) -> bool {
        self.failure_rate.is_some() || self.slow_call.is_some()
    }

    /// Sets `min_calls`.
    pub const fn min_calls(mut self, calls: u32) -> Self {
        self.min_calls = Some(calls);
        self
    }

    /// Sets `open_for`.
    pub const fn open_for(mut self, open_for: Duration) -> Self {
        self.open_for = open_for;
        self
    }

    /// Sets `open_for`, under its older name.
    #[deprecated(note = "renamed `open_for`, so it is not taken for `#[timeout]`")]
    pub const fn timeout(self, open_for: Duration) -> Self {
        self.open_for(open_for)
    }

    /// Sets `half_open_max`.
    pub const fn half_open_max(mut self, trials: u32) -> Self {
        self.half_open_max = trials;
        self
    }

    /// Sets `success_threshold`.
    pub const fn success_threshold(mut self, successes: u32) -> Self {
        self.success_threshold = successes;
        self
    }

    /// The number of calls the window must see before the rate counts.
    pub fn effective_min_calls(&self) -> u32 {
        self.min_calls.unwrap_or(self.window)
    }

    /// Checks every value, naming the policy and the setting that is wrong.
    pub fn validate(&self, policy: &str) -> Result<(), ConfigError> {
        use resil_rules::circuit_breaker as rules;
        let fail = |violation, detail: &str| {
            ConfigError::violated(PolicyKind::CircuitBreaker, policy, violation, detail)
        };
        let not = |value: &dyn std::fmt::Display| format!(", not {value}");
        rules::threshold(self.threshold).map_err(|v| fail(v, ""))?;
        rules::failure_rate(self.failure_rate)
            .map_err(|v| fail(v, &not(&self.failure_rate.unwrap_or_default())))?;
        rules::window(self.window).map_err(|v| fail(v, &not(&self.window)))?;
        rules::slow_rate(self.slow_rate)
            .map_err(|v| fail(v, &not(&self.slow_rate.unwrap_or_default())))?;
        rules::slow_rate_needs_slow_call(self.slow_rate.is_some(), self.slow_call.is_some())
            .map_err(|v| fail(v, ""))?;
        rules::slow_call(self.slow_call).map_err(|v| fail(v, ""))?;
        rules::time_window(self.time_window).map_err(|v| {
            let length = self.time_window.unwrap_or_default();
            fail(v, &not(&crate::duration::display(length)))
        })?;
        if let Some(min_calls) = self.min_calls {
            rules::min_calls(min_calls).map_err(|v| fail(v, ""))?;
            rules::min_calls_in_window(min_calls, self.window, self.time_window.is_some())
                .map_err(|v| fail(v, &format!(" ({}), not {min_calls}", self.window)))?;
        }
        rules::open_for(self.open_for).map_err(|v| fail(v, ""))?;
        rules::half_open_max(self.half_open_max).map_err(|v| fail(v, &not(&self.half_open_max)))?;
        rules::success_threshold(self.success_threshold)
            .map_err(|v| fail(v, &not(&self.success_threshold)))?;
        Ok(())
    }
}

impl Default for CircuitBreakerConfig {
    fn default() -> Self {
        Self::DEFAULT
    }
}

crate::live::live_config! {
    /// A circuit breaker's settings.
    LiveCircuitBreakerConfig for CircuitBreakerConfig {
        threshold: u32,
        failure_rate: Option<f64>,
        window: u32,
        time_window: Option<Duration>,
        min_calls: Option<u32>,
        open_for: Duration,
        half_open_max: u32,
        success_threshold: u32,
        slow_call: Option<Duration>,
        slow_rate: Option<f64>,
    }
}

impl LiveCircuitBreakerConfig {
    /// [`CircuitBreakerConfig::effective_min_calls`] of the live settings.
    #[inline]
    pub(crate) fn effective_min_calls(&self) -> u32 {
        self.min_calls().unwrap_or_else(|| self.window())
    }
}

#[cfg(test)]
#[cfg(not(loom))]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn every_field_round_trips_through_the_live_cell() {
        let breaker = CircuitBreakerConfig::DEFAULT
            .threshold(7)
            .failure_rate(0.25)
            .window(40)
            .min_calls(20)
            .open_for(Duration::from_millis(1500))
            .half_open_max(3)
            .success_threshold(4);
        assert_eq!(LiveCircuitBreakerConfig::new(&breaker).load(), breaker);
        let defaults = LiveCircuitBreakerConfig::new(&CircuitBreakerConfig::DEFAULT);
        assert_eq!(defaults.load(), CircuitBreakerConfig::DEFAULT);
        defaults.store(&breaker);
        assert_eq!(defaults.load(), breaker);
        assert_eq!(defaults.effective_min_calls(), 20);
    }
}
