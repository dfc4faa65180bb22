//! The settings each kind of policy takes from configuration: their keys
//! (the field names its snapshot shows), how to read them, and how to write
//! them back.

pub(crate) mod value;

use crate::bulkhead::BulkheadConfig;
use crate::circuit_breaker::CircuitBreakerConfig;
use crate::rate_limit::RateLimiterConfig;
use crate::retry::RetryConfig;
use crate::timeout::TimeoutConfig;
pub(crate) use value::Setting;
pub use value::Value;

/// One setting of configuration `C`.
pub(crate) struct Field<C> {
    /// The key in documents; in environment variables, upper-cased.
    pub(crate) key: &'static str,
    /// Other keys for it: the attribute's own (`max` for `max_concurrent`).
    pub(crate) aliases: &'static [&'static str],
    pub(crate) set: fn(&mut C, &Value) -> Result<(), String>,
    pub(crate) get: fn(&C) -> Value,
}

impl<C> Field<C> {
    pub(crate) fn is(&self, key: &str) -> bool {
        self.key == key || self.aliases.contains(&key)
    }
}

/// Finds the setting `key` of a kind.
pub(crate) fn find<'f, C>(fields: &'f [Field<C>], key: &str) -> Option<&'f Field<C>> {
    fields.iter().find(|field| field.is(key))
}

/// The valid keys of a kind, for messages: "`threshold`, `timeout`, ...".
pub(crate) fn key_list<C>(fields: &[Field<C>]) -> String {
    if fields.is_empty() {
        return "none: this kind of policy takes no configuration".to_owned();
    }
    fields
        .iter()
        .map(|field| format!("`{}`", field.key))
        .collect::<Vec<_>>()
        .join(", ")
}

macro_rules! field {
    ($config:ty, $name:ident $(, $alias:literal)*) => {
        Field::<$config> {
            key: stringify!($name),
            aliases: &[$($alias),*],
            set: |config, value| {
                config.$name = Setting::read(value)?;
                Ok(())
            },
            get: |config| Setting::write(&config.$name),
        }
    };
}

pub(crate) static CIRCUIT_BREAKER: &[Field<CircuitBreakerConfig>] = &[
    field!(CircuitBreakerConfig, threshold),
    field!(CircuitBreakerConfig, failure_rate),
    field!(CircuitBreakerConfig, window),
    field!(CircuitBreakerConfig, time_window),
    field!(CircuitBreakerConfig, min_calls),
    field!(CircuitBreakerConfig, open_for, "timeout"),
    field!(CircuitBreakerConfig, half_open_max),
    field!(CircuitBreakerConfig, success_threshold),
    field!(CircuitBreakerConfig, slow_call),
    field!(CircuitBreakerConfig, slow_rate),
];

pub(crate) static BULKHEAD: &[Field<BulkheadConfig>] = &[
    field!(BulkheadConfig, max_concurrent, "max"),
    field!(BulkheadConfig, queue),
    field!(BulkheadConfig, wait),
];

pub(crate) static RETRY: &[Field<RetryConfig>] = &[
    field!(RetryConfig, max_attempts, "max"),
    field!(RetryConfig, backoff),
    field!(RetryConfig, initial),
    field!(RetryConfig, max_delay),
    field!(RetryConfig, multiplier),
    field!(RetryConfig, jitter),
    field!(RetryConfig, retry_rejections),
    field!(RetryConfig, max_elapsed),
];

pub(crate) static TIMEOUT: &[Field<TimeoutConfig>] = &[field!(TimeoutConfig, duration)];

pub(crate) static RATE_LIMITER: &[Field<RateLimiterConfig>] = &[
    field!(RateLimiterConfig, rate),
    field!(RateLimiterConfig, per),
    field!(RateLimiterConfig, burst),
    field!(RateLimiterConfig, wait),
];

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn round_trip<C: Copy + PartialEq + std::fmt::Debug>(fields: &[Field<C>], from: C, to: C) {
        let mut config = from;
        for field in fields {
            (field.set)(&mut config, &(field.get)(&to)).unwrap();
        }
        assert_eq!(config, to);
    }

    #[test]
    fn every_field_reads_back_what_it_writes() {
        round_trip(
            CIRCUIT_BREAKER,
            CircuitBreakerConfig::DEFAULT,
            CircuitBreakerConfig::DEFAULT
                .threshold(9)
                .failure_rate(0.25)
                .window(30)
                .min_calls(7)
                .open_for(Duration::from_millis(1500))
                .half_open_max(3)
                .success_threshold(4)
                .time_window(Duration::from_secs(60))
                .slow_call(Duration::from_millis(250))
                .slow_rate(0.5),
        );
        round_trip(
            BULKHEAD,
            BulkheadConfig::DEFAULT,
            BulkheadConfig::DEFAULT
                .max_concurrent(3)
                .queue(2)
                .wait(Duration::from_micros(250)),
        );
        round_trip(
            RETRY,
            RetryConfig::DEFAULT,
            RetryConfig::DEFAULT
                .max_attempts(7)
                .backoff(crate::Backoff::Fibonacci)
                .initial(Duration::from_millis(5))
                .max_delay(Duration::from_secs(2))
                .multiplier(1.5)
                .jitter(crate::Jitter::Decorrelated)
                .retry_rejections(true)
                .max_elapsed(Duration::from_secs(9)),
        );
    }

    #[test]
    fn timeouts_and_rate_limiters_too() {
        round_trip(
            TIMEOUT,
            TimeoutConfig::DEFAULT,
            TimeoutConfig::DEFAULT.duration(Duration::from_millis(750)),
        );
        round_trip(
            RATE_LIMITER,
            RateLimiterConfig::DEFAULT,
            RateLimiterConfig::DEFAULT
                .rate(7)
                .per(Duration::from_secs(2))
                .burst(3)
                .wait(Duration::from_millis(20)),
        );
    }

    #[test]
    fn attribute_keys_are_aliases() {
        assert_eq!(find(BULKHEAD, "max").unwrap().key, "max_concurrent");
        assert_eq!(find(RETRY, "max").unwrap().key, "max_attempts");
        assert!(find(CIRCUIT_BREAKER, "max").is_none());
    }
}
