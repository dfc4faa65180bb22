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
///     .timeout(Duration::from_secs(30));
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
    /// (default 10).
    pub window: u32,
    /// Calls the window must have seen before the rate can open the breaker
    /// (default: the window's size).
    pub min_calls: Option<u32>,
    /// How long the breaker stays open before it lets trial calls through
    /// (default 60s).
    #[serde(serialize_with = "crate::duration::serialize")]
    pub timeout: Duration,
    /// Trial calls let through at once while half-open (default 1).
    pub half_open_max: u32,
    /// Successful trial calls that close the breaker again (default 2).
    pub success_threshold: u32,
}

impl CircuitBreakerConfig {
    /// The defaults: `threshold` 5, no failure rate, `window` 10, `timeout`
    /// 60s, `half_open_max` 1, `success_threshold` 2.
    pub const DEFAULT: Self = Self {
        threshold: 5,
        failure_rate: None,
        window: 10,
        min_calls: None,
        timeout: Duration::from_secs(60),
        half_open_max: 1,
        success_threshold: 2,
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

    /// Sets `min_calls`.
    pub const fn min_calls(mut self, calls: u32) -> Self {
        self.min_calls = Some(calls);
        self
    }

    /// Sets `timeout`.
    pub const fn timeout(mut self, open_for: Duration) -> Self {
        self.timeout = open_for;
        self
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
        let invalid = |key, reason: String| {
            Err(ConfigError::InvalidValue {
                kind: PolicyKind::CircuitBreaker,
                policy: policy.to_owned(),
                key,
                reason,
            })
        };
        if self.threshold == 0 {
            return invalid("threshold", "must be at least 1".into());
        }
        if let Some(rate) = self.failure_rate
            && !(rate > 0.0 && rate <= 1.0)
        {
            return invalid("failure_rate", format!("must be in (0, 1], not {rate}"));
        }
        if self.window == 0 || self.window > super::window::MAX_WINDOW {
            return invalid(
                "window",
                format!("must be from 1 to {}", super::window::MAX_WINDOW),
            );
        }
        match self.min_calls {
            Some(0) => return invalid("min_calls", "must be at least 1".into()),
            Some(n) if n > self.window => {
                return invalid(
                    "min_calls",
                    format!("must not exceed `window` ({}), not {n}", self.window),
                );
            }
            _ => {}
        }
        if self.timeout.is_zero() {
            return invalid("timeout", "must be longer than zero".into());
        }
        if self.half_open_max == 0 || self.half_open_max > super::state::MAX_TRIALS {
            return invalid(
                "half_open_max",
                format!("must be from 1 to {}", super::state::MAX_TRIALS),
            );
        }
        if self.success_threshold == 0 || self.success_threshold > super::state::MAX_TRIALS {
            return invalid(
                "success_threshold",
                format!("must be from 1 to {}", super::state::MAX_TRIALS),
            );
        }
        Ok(())
    }
}

impl Default for CircuitBreakerConfig {
    fn default() -> Self {
        Self::DEFAULT
    }
}
