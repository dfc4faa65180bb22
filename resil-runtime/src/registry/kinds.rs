//! The kinds of policy the registry holds, and what it needs of each:
//! how to build one and read its settings ([`Registered`], which generated
//! call sites name), where its table is and how configuration changes it
//! (`Tabled`), and its name (`Named`). One `registered!` line per kind
//! ties a policy type to its table, configuration schema and
//! `reconfigure`.

use std::fmt;

use super::{Registry, Table};
use crate::bulkhead::{Bulkhead, BulkheadConfig};
use crate::circuit_breaker::{CircuitBreaker, CircuitBreakerConfig};
use crate::error::{ConfigError, PolicyKind, PolicyName};
use crate::rate_limit::{RateLimiter, RateLimiterConfig};
use crate::retry::{Retry, RetryConfig};
use crate::schema::{self, Field};
use crate::timeout::{Timeout, TimeoutConfig};

/// A kind of policy the registry holds. Public only so generated call sites
/// can name `P::Config`; sealed by `Tabled`, which only this crate implements.
#[doc(hidden)]
pub trait Registered: Sized + Send + Sync + 'static {
    /// The kind, for messages and look-ups.
    const KIND: PolicyKind;
    /// The settings type.
    type Config: PartialEq + fmt::Debug + Copy + Default + Send + Sync + 'static;

    /// A policy with these settings, or what is wrong with them.
    fn build(name: PolicyName, config: Self::Config) -> Result<Self, ConfigError>;
    /// The settings in force.
    fn config_of(&self) -> Self::Config;
}

/// Where the registry keeps each kind, and how configuration changes it.
pub(crate) trait Tabled: Registered + Named {
    fn table(registry: &Registry) -> &Table<Self>;
    /// The settings configuration may change.
    fn fields() -> &'static [Field<Self::Config>];
    fn validate(config: &Self::Config, policy: &str) -> Result<(), ConfigError>;
    /// Whether a built policy can take `config` while it runs.
    fn check_reconfigure(&self, config: &Self::Config) -> Result<(), ConfigError>;
    fn reconfigure(&self, config: Self::Config) -> Result<(), ConfigError>;
}

macro_rules! registered {
    ($policy:ty, $config:ty, $kind:ident, $field:ident $(, fields: $fields:expr)?) => {
        impl Registered for $policy {
            const KIND: PolicyKind = PolicyKind::$kind;
            type Config = $config;

            fn build(name: PolicyName, config: $config) -> Result<Self, ConfigError> {
                <$policy>::new(name, config)
            }

            fn config_of(&self) -> $config {
                self.config()
            }
        }

        impl Tabled for $policy {
            fn table(registry: &Registry) -> &Table<Self> {
                &registry.$field
            }

            fn validate(config: &$config, policy: &str) -> Result<(), ConfigError> {
                config.validate(policy)
            }

            registered!(@live $policy, $config $(, $fields)?);
        }
    };
    (@live $policy:ty, $config:ty, $fields:expr) => {
        fn fields() -> &'static [Field<$config>] {
            $fields
        }

        fn check_reconfigure(&self, config: &$config) -> Result<(), ConfigError> {
            <$policy>::check_reconfigure(self, config)
        }

        fn reconfigure(&self, config: $config) -> Result<(), ConfigError> {
            <$policy>::reconfigure_in_place(self, config)
        }
    };
    (@live $policy:ty, $config:ty) => {
        fn fields() -> &'static [Field<$config>] {
            &[]
        }

        fn check_reconfigure(&self, _: &$config) -> Result<(), ConfigError> {
            Err(ConfigError::InvalidValue {
                kind: Self::KIND,
                policy: self.name().to_string(),
                key: "config",
                reason: "cannot change while the program runs".to_owned(),
            })
        }

        fn reconfigure(&self, config: $config) -> Result<(), ConfigError> {
            self.check_reconfigure(&config)
        }
    };
}

registered!(
    CircuitBreaker,
    CircuitBreakerConfig,
    CircuitBreaker,
    circuit_breakers,
    fields: schema::CIRCUIT_BREAKER
);
registered!(Bulkhead, BulkheadConfig, Bulkhead, bulkheads, fields: schema::BULKHEAD);
registered!(Retry, RetryConfig, Retry, retries, fields: schema::RETRY);
registered!(Timeout, TimeoutConfig, Timeout, timeouts, fields: schema::TIMEOUT);
registered!(
    RateLimiter,
    RateLimiterConfig,
    RateLimiter,
    rate_limiters,
    fields: schema::RATE_LIMITER
);

/// Policies that know their name.
pub(crate) trait Named {
    fn policy_name(&self) -> &PolicyName;
}

macro_rules! named {
    ($($policy:ty),*) => {$(
        impl Named for $policy {
            fn policy_name(&self) -> &PolicyName {
                self.name()
            }
        }
    )*};
}
named!(CircuitBreaker, Bulkhead, Retry, Timeout, RateLimiter);
