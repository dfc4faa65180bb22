//! A retry policy's settings ([`RetryConfig`], [`Backoff`], [`Jitter`]),
//! with their `const` builder (so the macros can put one in a `static`)
//! and `validate`, and the policy's live copy of them (`LiveRetryConfig`,
//! see `crate::live`, with the cell encoding of `Backoff` and `Jitter`).

use std::time::Duration;

use serde::Serialize;

use crate::error::{ConfigError, PolicyKind};

/// How the wait between attempts grows.
///
/// ```
/// assert_eq!(resil::Backoff::default(), resil::Backoff::Exponential);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Backoff {
    /// `initial * multiplier^(n-1)`.
    #[default]
    Exponential,
    /// `initial * n`.
    Linear,
    /// `initial * fib(n)`: 1, 1, 2, 3, 5, ...
    Fibonacci,
    /// `initial` every time.
    Constant,
}

/// How the computed wait is randomised, so that many clients that failed
/// together do not retry together.
///
/// ```
/// assert_eq!(resil::Jitter::default(), resil::Jitter::Full);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Jitter {
    /// Exactly the computed wait.
    None,
    /// Uniform in `[0, wait]`.
    #[default]
    Full,
    /// `wait / 2` plus uniform in `[0, wait / 2]`.
    Equal,
    /// Uniform in `[initial, previous * 3]` (AWS's "decorrelated jitter"),
    /// independent of the backoff kind.
    Decorrelated,
}

/// Settings of a [`Retry`](super::Retry).
///
/// ```
/// use std::time::Duration;
/// use resil::{Backoff, Jitter, RetryConfig};
///
/// const FETCH: RetryConfig = RetryConfig::DEFAULT
///     .max_attempts(5)
///     .backoff(Backoff::Linear)
///     .initial(Duration::from_millis(50))
///     .jitter(Jitter::None);
/// assert!(FETCH.validate("fetch").is_ok());
/// assert_eq!(FETCH.base_delay(3), Duration::from_millis(150));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RetryConfig {
    /// Attempts in all, the first included (default 3).
    pub max_attempts: u32,
    /// How the wait grows (default exponential).
    pub backoff: Backoff,
    /// The first wait (default 100ms).
    #[serde(serialize_with = "crate::duration::serialize")]
    pub initial: Duration,
    /// No wait is longer than this (default 5s).
    #[serde(serialize_with = "crate::duration::serialize")]
    pub max_delay: Duration,
    /// Growth factor of exponential backoff (default 2.0).
    pub multiplier: f64,
    /// Randomisation of the wait (default full).
    pub jitter: Jitter,
    /// Whether rejections by inner policies (an open circuit, a full
    /// bulkhead) are retried (default false: the dependency was not even
    /// called, and retrying at once only adds load).
    pub retry_rejections: bool,
    /// An overall deadline, counted from the start of the first attempt: no
    /// wait is scheduled that would end past it, so no attempt starts after
    /// it (default none: only `max_attempts` bounds the retries).
    #[serde(serialize_with = "crate::duration::serialize_option")]
    pub max_elapsed: Option<Duration>,
}

impl RetryConfig {
    /// The defaults: 3 attempts, exponential from 100ms by 2.0 up to 5s,
    /// full jitter, rejections not retried.
    pub const DEFAULT: Self = Self {
        max_attempts: resil_rules::retry::DEFAULT_MAX_ATTEMPTS,
        backoff: Backoff::Exponential,
        initial: resil_rules::retry::DEFAULT_INITIAL,
        max_delay: resil_rules::retry::DEFAULT_MAX_DELAY,
        multiplier: resil_rules::retry::DEFAULT_MULTIPLIER,
        jitter: Jitter::Full,
        retry_rejections: false,
        max_elapsed: None,
    };

    /// Sets `max_attempts`.
    pub const fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts;
        self
    }

    /// Sets `backoff`.
    pub const fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// Sets `initial`.
    pub const fn initial(mut self, delay: Duration) -> Self {
        self.initial = delay;
        self
    }

    /// Sets `max_delay`.
    pub const fn max_delay(mut self, delay: Duration) -> Self {
        self.max_delay = delay;
        self
    }

    /// Sets `multiplier`.
    pub const fn multiplier(mut self, multiplier: f64) -> Self {
        self.multiplier = multiplier;
        self
    }

    /// Sets `jitter`.
    pub const fn jitter(mut self, jitter: Jitter) -> Self {
        self.jitter = jitter;
        self
    }

    /// Sets `retry_rejections`.
    pub const fn retry_rejections(mut self, retry: bool) -> Self {
        self.retry_rejections = retry;
        self
    }

    /// Sets `max_elapsed`.
    pub const fn max_elapsed(mut self, deadline: Duration) -> Self {
        self.max_elapsed = Some(deadline);
        self
    }

    /// The wait after failed attempt `n` (from 1) before jitter, capped at
    /// `max_delay`.
    pub fn base_delay(&self, attempt: u32) -> Duration {
        let n = attempt.max(1);
        let initial = self.initial.as_secs_f64();
        let seconds = match self.backoff {
            Backoff::Exponential => {
                // Past i32::MAX the exponent saturates: the wait is long
                // since capped by then, and `n as i32` would wrap negative.
                initial
                    * self
                        .multiplier
                        .powi(i32::try_from(n - 1).unwrap_or(i32::MAX))
            }
            Backoff::Linear => initial * f64::from(n),
            Backoff::Fibonacci => initial * fibonacci(n),
            Backoff::Constant => initial,
        };
        let cap = self.max_delay.as_secs_f64();
        Duration::try_from_secs_f64(seconds.min(cap)).unwrap_or(self.max_delay)
    }

    /// Checks every value, naming the policy and the setting that is wrong.
    pub fn validate(&self, policy: &str) -> Result<(), ConfigError> {
        use resil_rules::retry as rules;
        let fail = |violation, detail: &str| {
            ConfigError::violated(PolicyKind::Retry, policy, violation, detail)
        };
        rules::max_attempts(self.max_attempts).map_err(|v| fail(v, ""))?;
        rules::initial(self.initial).map_err(|v| fail(v, ""))?;
        rules::max_delay(self.max_delay, self.initial)
            .map_err(|v| fail(v, &format!(" ({})", crate::duration::display(self.initial))))?;
        rules::max_elapsed(self.max_elapsed).map_err(|v| fail(v, ""))?;
        rules::multiplier(self.multiplier)
            .map_err(|v| fail(v, &format!(", not {}", self.multiplier)))?;
        Ok(())
    }
}

impl Default for RetryConfig {
    fn default() -> Self {
        Self::DEFAULT
    }
}

fn fibonacci(n: u32) -> f64 {
    let (mut a, mut b) = (1.0_f64, 1.0_f64);
    for _ in 1..n.min(90) {
        (a, b) = (b, a + b);
    }
    a
}

/// Backoff and jitter kept in a [`Live`](crate::live::Live) cell.
impl crate::live::Bits for Backoff {
    fn to_bits(self) -> u64 {
        match self {
            Backoff::Exponential => 0,
            Backoff::Linear => 1,
            Backoff::Fibonacci => 2,
            Backoff::Constant => 3,
        }
    }
    fn from_bits(bits: u64) -> Self {
        match bits {
            1 => Backoff::Linear,
            2 => Backoff::Fibonacci,
            3 => Backoff::Constant,
            _ => Backoff::Exponential,
        }
    }
}

impl crate::live::Bits for Jitter {
    fn to_bits(self) -> u64 {
        match self {
            Jitter::None => 0,
            Jitter::Full => 1,
            Jitter::Equal => 2,
            Jitter::Decorrelated => 3,
        }
    }
    fn from_bits(bits: u64) -> Self {
        match bits {
            0 => Jitter::None,
            2 => Jitter::Equal,
            3 => Jitter::Decorrelated,
            _ => Jitter::Full,
        }
    }
}

crate::live::live_config! {
    /// A retry policy's settings.
    LiveRetryConfig for RetryConfig {
        max_attempts: u32,
        backoff: Backoff,
        initial: Duration,
        max_delay: Duration,
        multiplier: f64,
        jitter: Jitter,
        retry_rejections: bool,
        max_elapsed: Option<Duration>,
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn every_field_round_trips_through_the_live_cell() {
        for backoff in [
            Backoff::Exponential,
            Backoff::Linear,
            Backoff::Fibonacci,
            Backoff::Constant,
        ] {
            for jitter in [
                Jitter::None,
                Jitter::Full,
                Jitter::Equal,
                Jitter::Decorrelated,
            ] {
                let retry = RetryConfig::DEFAULT
                    .backoff(backoff)
                    .jitter(jitter)
                    .multiplier(1.5)
                    .retry_rejections(true);
                assert_eq!(LiveRetryConfig::new(&retry).load(), retry);
            }
        }
    }
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn delays(config: RetryConfig) -> Vec<Duration> {
        (1..=6).map(|n| config.base_delay(n)).collect()
    }

    #[test]
    fn each_backoff_kind_grows_as_documented() {
        let base = RetryConfig::DEFAULT
            .initial(MS * 100)
            .max_delay(Duration::from_secs(100));
        assert_eq!(
            delays(base.backoff(Backoff::Exponential)),
            [100, 200, 400, 800, 1600, 3200].map(|m| MS * m)
        );
        assert_eq!(
            delays(base.backoff(Backoff::Exponential).multiplier(3.0)),
            [100, 300, 900, 2700, 8100, 24300].map(|m| MS * m)
        );
        assert_eq!(
            delays(base.backoff(Backoff::Linear)),
            [100, 200, 300, 400, 500, 600].map(|m| MS * m)
        );
        assert_eq!(
            delays(base.backoff(Backoff::Fibonacci)),
            [100, 100, 200, 300, 500, 800].map(|m| MS * m)
        );
        assert_eq!(delays(base.backoff(Backoff::Constant)), [MS * 100; 6]);
    }

    #[test]
    fn max_delay_caps_every_kind() {
        for backoff in [Backoff::Exponential, Backoff::Linear, Backoff::Fibonacci] {
            let config = RetryConfig::DEFAULT
                .backoff(backoff)
                .initial(MS * 100)
                .max_delay(MS * 250);
            assert_eq!(config.base_delay(40), MS * 250, "{backoff:?}");
            assert_eq!(config.base_delay(u32::MAX), MS * 250, "{backoff:?}");
        }
    }

    #[test]
    fn validation_names_the_bad_setting() {
        let bad = [
            (RetryConfig::DEFAULT.max_attempts(0), "max_attempts"),
            (RetryConfig::DEFAULT.initial(Duration::ZERO), "initial"),
            (
                RetryConfig::DEFAULT.initial(MS * 10).max_delay(MS),
                "max_delay",
            ),
            (RetryConfig::DEFAULT.multiplier(0.5), "multiplier"),
            (RetryConfig::DEFAULT.multiplier(f64::NAN), "multiplier"),
            (
                RetryConfig::DEFAULT.max_elapsed(Duration::ZERO),
                "max_elapsed",
            ),
        ];
        for (config, key) in bad {
            match config.validate("p") {
                Err(ConfigError::InvalidValue { key: got, .. }) => assert_eq!(got, key),
                other => panic!("{key}: {other:?}"),
            }
        }
    }
}
