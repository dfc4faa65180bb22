//! The configuration methods of [`Registry`]: `apply`, `reconfigure` and
//! its typed forms, the kind switches, and `configuration`. Each is a thin
//! door into the functions of this layer (`apply.rs`, `report.rs`), which
//! read and write the registry from above: the registry itself knows
//! nothing of configuration layers, sources or problems.

use super::report::{self, PolicyConfiguration};
use super::{Overrides, Source, apply};
use crate::bulkhead::{Bulkhead, BulkheadConfig};
use crate::circuit_breaker::{CircuitBreaker, CircuitBreakerConfig};
use crate::error::{ConfigError, PolicyKind};
use crate::registry::Registry;
use crate::retry::{Retry, RetryConfig};
use crate::schema::Value;
use crate::switch;

impl Registry {
    /// Applies `overrides` in the layer of its source (a file's, the
    /// environment's or the run time's), after checking every setting: an
    /// unknown policy, an unknown key, a value of the wrong type or out of
    /// range, or a change a running policy cannot take is reported, with
    /// every other problem, and nothing changes. Running policies keep their
    /// state and counters.
    ///
    /// ```
    /// use resil::config::{Overrides, Source};
    /// use resil::{BulkheadConfig, PolicyKind, registry};
    ///
    /// registry().register_bulkhead("apply-doc", BulkheadConfig::DEFAULT).unwrap();
    /// let change = Overrides::new(Source::Runtime)
    ///     .set(PolicyKind::Bulkhead, "apply-doc", "max_concurrent", 3);
    /// registry().apply(&change).unwrap();
    /// assert_eq!(registry().bulkhead("apply-doc").unwrap().config().max_concurrent, 3);
    /// ```
    pub fn apply(&self, overrides: &Overrides) -> Result<(), ConfigError> {
        apply::apply(self, overrides)
    }

    /// Changes settings of the policy `name` of `kind` while the program
    /// runs, by key, as an admin endpoint receives them. Run-time changes
    /// override every other layer; the policy keeps its state and counters.
    /// Checked like [`apply`](Self::apply): all or nothing.
    ///
    /// ```
    /// use resil::config::Value;
    /// use resil::{CircuitBreakerConfig, PolicyKind, registry};
    ///
    /// registry().register_circuit_breaker("reconfigure-doc", CircuitBreakerConfig::DEFAULT).unwrap();
    /// registry()
    ///     .reconfigure(
    ///         PolicyKind::CircuitBreaker,
    ///         "reconfigure-doc",
    ///         [("threshold", Value::from(2)), ("open_for", Value::from("10s"))],
    ///     )
    ///     .unwrap();
    /// let error = registry()
    ///     .reconfigure(PolicyKind::CircuitBreaker, "reconfigure-doc", [("threshold", 0)])
    ///     .unwrap_err();
    /// assert_eq!(
    ///     error.to_string(),
    ///     "runtime: configuration not applied, nothing changed: \
    ///      circuit breaker `reconfigure-doc`, `threshold`: must be at least 1"
    /// );
    /// ```
    pub fn reconfigure<K, V>(
        &self,
        kind: PolicyKind,
        name: &str,
        settings: impl IntoIterator<Item = (K, V)>,
    ) -> Result<(), ConfigError>
    where
        K: Into<String>,
        V: Into<Value>,
    {
        let mut change = Overrides::new(Source::Runtime);
        for (key, value) in settings {
            change = change.set(kind, name, key, value);
        }
        self.apply(&change)
    }

    /// Changes the circuit breaker `name` while the program runs: `change`
    /// gets the settings in force and returns the new ones. See
    /// [`reconfigure`](Self::reconfigure).
    ///
    /// ```
    /// use resil::{CircuitBreakerConfig, registry};
    ///
    /// registry().register_circuit_breaker("typed-doc", CircuitBreakerConfig::DEFAULT).unwrap();
    /// registry().reconfigure_circuit_breaker("typed-doc", |c| c.threshold(9)).unwrap();
    /// assert_eq!(registry().circuit_breaker("typed-doc").unwrap().config().threshold, 9);
    /// ```
    pub fn reconfigure_circuit_breaker(
        &self,
        name: &str,
        change: impl FnOnce(CircuitBreakerConfig) -> CircuitBreakerConfig,
    ) -> Result<(), ConfigError> {
        apply::reconfigure_typed::<CircuitBreaker>(self, name, change)
    }

    /// Changes the bulkhead `name`; see
    /// [`reconfigure_circuit_breaker`](Self::reconfigure_circuit_breaker).
    pub fn reconfigure_bulkhead(
        &self,
        name: &str,
        change: impl FnOnce(BulkheadConfig) -> BulkheadConfig,
    ) -> Result<(), ConfigError> {
        apply::reconfigure_typed::<Bulkhead>(self, name, change)
    }

    /// Changes the retry policy `name`; see
    /// [`reconfigure_circuit_breaker`](Self::reconfigure_circuit_breaker).
    pub fn reconfigure_retry(
        &self,
        name: &str,
        change: impl FnOnce(RetryConfig) -> RetryConfig,
    ) -> Result<(), ConfigError> {
        apply::reconfigure_typed::<Retry>(self, name, change)
    }

    /// Switches every policy of `kind` (circuit breakers, bulkheads or
    /// retries) on or off at run time: switched off, calls pass straight
    /// through. Overrides the file's and the environment's switches.
    ///
    /// ```
    /// use resil::{PolicyKind, registry};
    ///
    /// registry().set_enabled(PolicyKind::Retry, false).unwrap();
    /// assert!(!registry().is_enabled(PolicyKind::Retry));
    /// registry().set_enabled(PolicyKind::Retry, true).unwrap();
    /// assert!(registry().set_enabled(PolicyKind::Timeout, false).is_err());
    /// ```
    pub fn set_enabled(&self, kind: PolicyKind, enabled: bool) -> Result<(), ConfigError> {
        self.apply(&Overrides::new(Source::Runtime).enable(kind, enabled))
    }

    /// Whether policies of `kind` act, or were switched off.
    pub fn is_enabled(&self, kind: PolicyKind) -> bool {
        switch::enabled(kind)
    }

    /// The settings in force of every configurable policy, and the layer
    /// each comes from. Reading it builds nothing, so it shows the settings
    /// a policy will start with before its first call.
    ///
    /// ```
    /// use resil::{BulkheadConfig, PolicyKind, registry};
    /// use resil::config::Layer;
    ///
    /// registry().register_bulkhead("configuration-doc", BulkheadConfig::DEFAULT.queue(2)).unwrap();
    /// let all = registry().configuration();
    /// let mine = all.iter().find(|p| p.name == "configuration-doc").unwrap();
    /// assert_eq!(mine.kind, PolicyKind::Bulkhead);
    /// let queue = mine.settings.iter().find(|s| s.key == "queue").unwrap();
    /// assert_eq!((queue.value.to_string(), queue.layer), ("2".to_owned(), Layer::Code));
    /// ```
    pub fn configuration(&self) -> Vec<PolicyConfiguration> {
        report::configuration(self)
    }
}
