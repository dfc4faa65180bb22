//! The global registry of named policies.
//!
//! Policies are registered once (by the first call through a macro-generated
//! call site, or explicitly) and looked up by name only by tools: the hot
//! path holds a direct reference in its call site's `static`, so the
//! `RwLock`s here are never touched per call.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use serde::Serialize;

use crate::bulkhead::{Bulkhead, BulkheadConfig, BulkheadSnapshot};
use crate::circuit_breaker::{CircuitBreaker, CircuitBreakerConfig, CircuitBreakerSnapshot};
use crate::error::{ConfigError, PolicyKind, PolicyName};
use crate::health::{self, HealthReport, Status};
use crate::retry::{RetryConfig, RetryPolicy, RetrySnapshot};

static REGISTRY: Registry = Registry::new();

/// The registry of every named policy in the program.
///
/// ```
/// use resil::{registry, CircuitBreakerConfig};
///
/// let breaker = registry()
///     .register_circuit_breaker("inventory", CircuitBreakerConfig::DEFAULT)
///     .unwrap();
/// breaker.force_open();
/// let json = serde_json::to_value(registry().snapshot()).unwrap();
/// let found = json["circuit_breakers"]
///     .as_array()
///     .unwrap()
///     .iter()
///     .any(|b| b["name"] == "inventory" && b["state"] == "forced_open");
/// assert!(found);
/// ```
pub fn registry() -> &'static Registry {
    &REGISTRY
}

/// Every named policy, by kind and name. Get it with [`registry()`].
pub struct Registry {
    circuit_breakers: Table<CircuitBreaker>,
    bulkheads: Table<Bulkhead>,
    retries: Table<RetryPolicy>,
    conflicts: Mutex<Vec<ConfigError>>,
}

/// A policy's kind and name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct PolicyId {
    /// The kind.
    pub kind: PolicyKind,
    /// The name.
    pub name: String,
}

/// Every registered policy's state and counters at one moment; serializes
/// to the JSON a `/health` endpoint returns.
///
/// ```
/// let json = serde_json::to_value(resil::registry().snapshot()).unwrap();
/// for key in ["status", "score", "conflicts", "circuit_breakers", "bulkheads", "retries"] {
///     assert!(json.get(key).is_some(), "{key}");
/// }
/// ```
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct Snapshot {
    /// Overall health, as in [`HealthReport::status`].
    pub status: Status,
    /// Overall score, as in [`HealthReport::score`].
    pub score: f64,
    /// Declarations that gave one name different settings (see
    /// [`Registry::conflicts`]), as messages; empty when all is well.
    pub conflicts: Vec<String>,
    /// Circuit breakers, by name.
    pub circuit_breakers: Vec<CircuitBreakerSnapshot>,
    /// Bulkheads, by name.
    pub bulkheads: Vec<BulkheadSnapshot>,
    /// Retry policies, by name.
    pub retries: Vec<RetrySnapshot>,
}

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
    fn config_of(&self) -> &Self::Config;
}

/// Where the registry keeps each kind.
pub(crate) trait Tabled: Registered {
    fn table(registry: &Registry) -> &Table<Self>;
}

macro_rules! registered {
    ($policy:ty, $config:ty, $kind:ident, $field:ident) => {
        impl Registered for $policy {
            const KIND: PolicyKind = PolicyKind::$kind;
            type Config = $config;

            fn build(name: PolicyName, config: $config) -> Result<Self, ConfigError> {
                <$policy>::new(name, config)
            }

            fn config_of(&self) -> &$config {
                self.config()
            }
        }

        impl Tabled for $policy {
            fn table(registry: &Registry) -> &Table<Self> {
                &registry.$field
            }
        }
    };
}

registered!(
    CircuitBreaker,
    CircuitBreakerConfig,
    CircuitBreaker,
    circuit_breakers
);
registered!(Bulkhead, BulkheadConfig, Bulkhead, bulkheads);
registered!(RetryPolicy, RetryConfig, Retry, retries);

pub(crate) struct Table<P>(RwLock<BTreeMap<PolicyName, Arc<P>>>);

impl<P: Tabled> Table<P> {
    const fn new() -> Self {
        Self(RwLock::new(BTreeMap::new()))
    }

    fn find(&self, name: &str) -> Option<Arc<P>> {
        let map = self.0.read().unwrap_or_else(PoisonError::into_inner);
        map.get(name).cloned()
    }

    fn get(&self, name: &str) -> Result<Arc<P>, ConfigError> {
        let map = self.0.read().unwrap_or_else(PoisonError::into_inner);
        map.get(name)
            .cloned()
            .ok_or_else(|| ConfigError::UnknownPolicy {
                kind: P::KIND,
                name: name.to_owned(),
                known: map.keys().map(|k| k.to_string()).collect(),
            })
    }

    /// Registers `name`, or returns the policy already registered under it.
    fn get_or_register(
        &self,
        name: PolicyName,
        config: P::Config,
    ) -> Result<Registration<P>, ConfigError> {
        if let Some(existing) = self
            .0
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&name)
        {
            return Ok(check_same(existing, &name, &config));
        }
        let policy = Arc::new(P::build(name.clone(), config)?);
        let mut map = self.0.write().unwrap_or_else(PoisonError::into_inner);
        let entry = map.entry(name.clone()).or_insert(policy);
        Ok(check_same(entry, &name, &config))
    }

    /// Registers a new policy under `name`, or under the first free
    /// `name#N` if it is taken.
    fn register_unique(
        &self,
        name: &'static str,
        config: P::Config,
    ) -> Result<Arc<P>, ConfigError> {
        let mut map = self.0.write().unwrap_or_else(PoisonError::into_inner);
        let mut candidate = PolicyName::from_static(name);
        let mut suffix = 1;
        while map.contains_key(&candidate) {
            suffix += 1;
            candidate = PolicyName::from(format!("{name}#{suffix}"));
        }
        let policy = Arc::new(P::build(candidate.clone(), config)?);
        map.insert(candidate, Arc::clone(&policy));
        Ok(policy)
    }

    fn all(&self) -> Vec<Arc<P>> {
        let map = self.0.read().unwrap_or_else(PoisonError::into_inner);
        map.values().cloned().collect()
    }

    fn names(&self) -> Vec<PolicyName> {
        let map = self.0.read().unwrap_or_else(PoisonError::into_inner);
        map.keys().cloned().collect()
    }
}

/// The policy a registration resolved to.
enum Registration<P> {
    /// Registered now, or registered before with the same settings.
    Agreed(Arc<P>),
    /// Registered before with other settings, which stay in force.
    Conflicting(Arc<P>, ConfigError),
}

fn check_same<P: Registered>(
    existing: &Arc<P>,
    name: &PolicyName,
    config: &P::Config,
) -> Registration<P> {
    if existing.config_of() == config {
        Registration::Agreed(Arc::clone(existing))
    } else {
        Registration::Conflicting(
            Arc::clone(existing),
            ConfigError::Conflict {
                kind: P::KIND,
                name: name.to_string(),
                in_force: format!("{:?}", existing.config_of()),
                ignored: format!("{config:?}"),
            },
        )
    }
}

impl Registry {
    const fn new() -> Self {
        Self {
            circuit_breakers: Table::new(),
            bulkheads: Table::new(),
            retries: Table::new(),
            conflicts: Mutex::new(Vec::new()),
        }
    }

    /// The circuit breaker registered as `name`.
    pub fn circuit_breaker(&self, name: &str) -> Result<Arc<CircuitBreaker>, ConfigError> {
        self.circuit_breakers.get(name)
    }

    /// The circuit breaker registered as `name`, if any; unlike
    /// [`circuit_breaker`](Self::circuit_breaker), builds no error.
    pub(crate) fn find_circuit_breaker(&self, name: &str) -> Option<Arc<CircuitBreaker>> {
        self.circuit_breakers.find(name)
    }

    /// The bulkhead registered as `name`.
    pub fn bulkhead(&self, name: &str) -> Result<Arc<Bulkhead>, ConfigError> {
        self.bulkheads.get(name)
    }

    /// The retry policy registered as `name`.
    pub fn retry(&self, name: &str) -> Result<Arc<RetryPolicy>, ConfigError> {
        self.retries.get(name)
    }

    /// Registers a circuit breaker, or returns the one already registered
    /// under `name` if its settings are the same. Different settings are a
    /// [`ConfigError::Conflict`] and change nothing.
    pub fn register_circuit_breaker(
        &self,
        name: impl Into<PolicyName>,
        config: CircuitBreakerConfig,
    ) -> Result<Arc<CircuitBreaker>, ConfigError> {
        self.register(name.into(), config)
    }

    /// Registers a bulkhead; see
    /// [`register_circuit_breaker`](Self::register_circuit_breaker).
    pub fn register_bulkhead(
        &self,
        name: impl Into<PolicyName>,
        config: BulkheadConfig,
    ) -> Result<Arc<Bulkhead>, ConfigError> {
        self.register(name.into(), config)
    }

    /// Registers a retry policy; see
    /// [`register_circuit_breaker`](Self::register_circuit_breaker).
    pub fn register_retry(
        &self,
        name: impl Into<PolicyName>,
        config: RetryConfig,
    ) -> Result<Arc<RetryPolicy>, ConfigError> {
        self.register(name.into(), config)
    }

    fn register<P: Tabled>(
        &self,
        name: PolicyName,
        config: P::Config,
    ) -> Result<Arc<P>, ConfigError> {
        match P::table(self).get_or_register(name, config)? {
            Registration::Agreed(policy) => Ok(policy),
            Registration::Conflicting(_, conflict) => Err(conflict),
        }
    }

    /// For generated call sites: never fails. A conflicting declaration
    /// shares the policy registered first, and the conflict is logged and
    /// kept for [`conflicts`](Self::conflicts).
    pub(crate) fn site<P: Tabled>(
        &self,
        name: &'static str,
        config: P::Config,
        shared: bool,
    ) -> Arc<P> {
        let registered = if shared {
            P::table(self).get_or_register(PolicyName::from_static(name), config)
        } else {
            P::table(self)
                .register_unique(name, config)
                .map(Registration::Agreed)
        };
        let name = PolicyName::from_static(name);
        match registered {
            Ok(Registration::Agreed(policy)) => policy,
            Ok(Registration::Conflicting(policy, conflict)) => {
                tracing::error!(target: "resil", %conflict, "conflicting policy declarations");
                self.conflicts
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(conflict);
                policy
            }
            Err(invalid) => {
                // The macros validate at compile time, so this is reached only
                // by a hand-written call site. Fall back to the defaults
                // rather than fail every call.
                tracing::error!(target: "resil", %invalid, "invalid policy configuration; using defaults");
                self.conflicts
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(invalid);
                let fallback = P::build(name, Default::default());
                Arc::new(fallback.expect("default configurations are valid"))
            }
        }
    }

    /// Declarations that gave one name different settings, in the order they
    /// were found. Call it in a start-up check or a test:
    /// `assert!(resil::registry().conflicts().is_empty())`.
    pub fn conflicts(&self) -> Vec<ConfigError> {
        self.conflicts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Every registered policy, by kind and then name.
    pub fn policies(&self) -> Vec<PolicyId> {
        let ids = |kind: PolicyKind, names: Vec<PolicyName>| {
            names.into_iter().map(move |name| PolicyId {
                kind,
                name: name.to_string(),
            })
        };
        ids(PolicyKind::CircuitBreaker, self.circuit_breakers.names())
            .chain(ids(PolicyKind::Bulkhead, self.bulkheads.names()))
            .chain(ids(PolicyKind::Retry, self.retries.names()))
            .collect()
    }

    /// Every policy's state and counters, with the overall health and any
    /// conflicting declarations.
    pub fn snapshot(&self) -> Snapshot {
        let circuit_breakers: Vec<CircuitBreakerSnapshot> = self
            .circuit_breakers
            .all()
            .iter()
            .map(|b| b.snapshot())
            .collect();
        let bulkheads: Vec<BulkheadSnapshot> =
            self.bulkheads.all().iter().map(|b| b.snapshot()).collect();
        let (status, score) = health::overall(
            circuit_breakers
                .iter()
                .map(|b| (true, b.health, b.score))
                .chain(bulkheads.iter().map(|b| (false, b.health, b.score))),
        );
        Snapshot {
            status,
            score,
            conflicts: self.conflicts().iter().map(ToString::to_string).collect(),
            circuit_breakers,
            bulkheads,
            retries: self.retries.all().iter().map(|r| r.snapshot()).collect(),
        }
    }

    /// Every circuit breaker's and bulkhead's health, and overall; see
    /// [`health`](crate::health).
    ///
    /// ```
    /// let report = resil::registry().health();
    /// assert!(report.score >= 0.0 && report.score <= 1.0);
    /// ```
    pub fn health(&self) -> HealthReport {
        HealthReport::from_snapshot(&self.snapshot())
    }

    /// Resets the policy `name` of `kind` (state and counters).
    pub fn reset(&self, kind: PolicyKind, name: &str) -> Result<(), ConfigError> {
        match kind {
            PolicyKind::CircuitBreaker => self.circuit_breaker(name)?.reset(),
            PolicyKind::Bulkhead => self.bulkhead(name)?.reset(),
            PolicyKind::Retry => self.retry(name)?.reset(),
            other => {
                return Err(ConfigError::UnknownPolicy {
                    kind: other,
                    name: name.to_owned(),
                    known: Vec::new(),
                });
            }
        }
        Ok(())
    }

    /// Holds the circuit breaker `name` open.
    pub fn force_open(&self, name: &str) -> Result<(), ConfigError> {
        self.circuit_breaker(name).map(|b| b.force_open())
    }

    /// Holds the circuit breaker `name` closed.
    pub fn force_closed(&self, name: &str) -> Result<(), ConfigError> {
        self.circuit_breaker(name).map(|b| b.force_closed())
    }
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry")
            .field("policies", &self.policies())
            .finish()
    }
}
