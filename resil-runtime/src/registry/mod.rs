//! The global registry of named policies.
//!
//! Every policy the program declares is known here from start-up: each
//! call site's `static` and each declared policy puts itself in a
//! link-time list (a `linkme` distributed slice), which the first call to
//! [`registry()`](crate::registry()) walks. A policy is *built* (its state allocated) the
//! first time it is called or looked up, with the settings in force then,
//! so configuration loaded at start-up can change any setting. Only tools
//! look policies up by name: the hot path holds a direct reference in its
//! call site's `static`, so the locks here are never touched per call.
//!
//! The registry sits above the policies and below everything that reads
//! it: it knows each kind's table (`kinds.rs`, `table.rs`), its entries
//! (`entry.rs`), keyed members (`keys.rs`) and the start-up list
//! (`declare.rs`), and nothing of configuration layers, health reports,
//! metrics or call sites. Those add their `Registry` methods from their
//! own modules (`config/methods.rs`, `health/mod.rs`).

mod declare;
pub(crate) mod entry;
mod keys;
mod kinds;
mod table;

use std::fmt;
use std::sync::{Arc, Mutex, Once, PoisonError};

use serde::Serialize;

use crate::bulkhead::{Bulkhead, BulkheadConfig, BulkheadSnapshot};
use crate::circuit_breaker::{CircuitBreaker, CircuitBreakerConfig, CircuitBreakerSnapshot};
use crate::error::{ConfigError, PolicyKind, PolicyName};
use crate::rate_limit::{RateLimiter, RateLimiterConfig, RateLimiterSnapshot};
use crate::retry::{Retry, RetryConfig, RetrySnapshot};
use crate::status::{Status, overall};
use crate::timeout::{Timeout, TimeoutConfig, TimeoutSnapshot};

pub use declare::{DECLARATIONS, Declaration};
pub(crate) use entry::{Entry, build, compose};
pub use keys::DEFAULT_MAX_KEYS;
pub(crate) use keys::{KeyOptions, Keys};
pub use kinds::Registered;
pub(crate) use kinds::Tabled;
use table::Declared;
pub(crate) use table::Table;

static REGISTRY: Registry = Registry::new();
static START: Once = Once::new();

/// The registry, its start-up walk done. The public door,
/// [`resil::registry()`](crate::registry()), is in the configuration
/// layer, which also makes sure changes to registered policies go through
/// it.
pub(crate) fn registry() -> &'static Registry {
    START.call_once(|| declare::declare_all(&REGISTRY));
    &REGISTRY
}

/// Every named policy, by kind and name. Get it with [`registry()`](crate::registry()).
pub struct Registry {
    circuit_breakers: Table<CircuitBreaker>,
    bulkheads: Table<Bulkhead>,
    retries: Table<Retry>,
    timeouts: Table<Timeout>,
    rate_limiters: Table<RateLimiter>,
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

/// Every built policy's state and counters at one moment; serializes to the
/// JSON a `/health` endpoint returns. Keyed circuit breakers appear once per
/// key, as `name[key]`.
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
    /// Overall health, as in [`HealthReport::status`](crate::health::HealthReport::status).
    pub status: Status,
    /// Overall score, as in [`HealthReport::score`](crate::health::HealthReport::score).
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
    /// Timeouts, by name.
    pub timeouts: Vec<TimeoutSnapshot>,
    /// Rate limiters, by name.
    pub rate_limiters: Vec<RateLimiterSnapshot>,
}

impl Registry {
    const fn new() -> Self {
        Self {
            circuit_breakers: Table::new(),
            bulkheads: Table::new(),
            retries: Table::new(),
            timeouts: Table::new(),
            rate_limiters: Table::new(),
            conflicts: Mutex::new(Vec::new()),
        }
    }

    pub(crate) fn table<P: Tabled>(&self) -> &Table<P> {
        P::table(self)
    }

    /// The circuit breaker registered as `name` (a keyed one's member as
    /// `name[key]`).
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
    pub fn retry(&self, name: &str) -> Result<Arc<Retry>, ConfigError> {
        self.retries.get(name)
    }

    /// The timeout registered as `name`.
    pub fn timeout(&self, name: &str) -> Result<Arc<Timeout>, ConfigError> {
        self.timeouts.get(name)
    }

    /// The rate limiter registered as `name`.
    pub fn rate_limiter(&self, name: &str) -> Result<Arc<RateLimiter>, ConfigError> {
        self.rate_limiters.get(name)
    }

    /// Registers a circuit breaker, or returns the one already registered
    /// under `name` if its settings in code are the same. Different settings
    /// are a [`ConfigError::Conflict`] and change nothing.
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
    ) -> Result<Arc<Retry>, ConfigError> {
        self.register(name.into(), config)
    }

    /// Registers a timeout; see
    /// [`register_circuit_breaker`](Self::register_circuit_breaker).
    pub fn register_timeout(
        &self,
        name: impl Into<PolicyName>,
        config: TimeoutConfig,
    ) -> Result<Arc<Timeout>, ConfigError> {
        self.register(name.into(), config)
    }

    /// Registers a rate limiter; see
    /// [`register_circuit_breaker`](Self::register_circuit_breaker).
    pub fn register_rate_limiter(
        &self,
        name: impl Into<PolicyName>,
        config: RateLimiterConfig,
    ) -> Result<Arc<RateLimiter>, ConfigError> {
        self.register(name.into(), config)
    }

    fn register<P: Tabled>(
        &self,
        name: PolicyName,
        config: P::Config,
    ) -> Result<Arc<P>, ConfigError> {
        P::validate(&config, name.as_str())?;
        match P::table(self).declare_shared(name, config, None) {
            Declared::Agreed(entry) => Ok(entry.policy()),
            Declared::Conflicting(_, conflict) => Err(conflict),
        }
    }

    /// For call sites and declared policies: never fails. Settings that do
    /// not validate (only a hand-written site can have them: the macros and
    /// `const` declarations check them at compile time) are replaced by the
    /// defaults; a conflicting declaration shares the entry declared first.
    /// Both are logged and kept for [`conflicts`](Self::conflicts).
    pub(crate) fn declare<P: Tabled>(
        &self,
        name: &'static str,
        config: P::Config,
        shared: bool,
        keys: Option<KeyOptions>,
    ) -> Arc<Entry<P>> {
        let config = match P::validate(&config, name) {
            Ok(()) => config,
            Err(invalid) => {
                tracing::error!(target: "resil", %invalid, "invalid policy configuration; using defaults");
                self.record(invalid);
                Default::default()
            }
        };
        if !shared {
            return P::table(self).declare_unique(name, config, keys);
        }
        match P::table(self).declare_shared(PolicyName::from_static(name), config, keys) {
            Declared::Agreed(entry) => entry,
            Declared::Conflicting(entry, conflict) => {
                tracing::error!(target: "resil", %conflict, "conflicting policy declarations");
                self.record(conflict);
                if entry.keys.is_some() == keys.is_some() {
                    entry
                } else {
                    // Keyed and unkeyed cannot share one entry: this site
                    // gets a policy the registry does not list.
                    Arc::new(Entry::new(PolicyName::from_static(name), config, keys))
                }
            }
        }
    }

    fn record(&self, error: ConfigError) {
        self.conflicts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(error);
    }

    /// Declarations that gave one name different settings, and settings in
    /// code that did not validate, in the order they were found. Call it in
    /// a start-up check or a test:
    /// `assert!(resil::registry().conflicts().is_empty())`.
    pub fn conflicts(&self) -> Vec<ConfigError> {
        self.conflicts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Every declared or registered policy, by kind and then name, whether
    /// or not it was called yet; keyed circuit breakers once by their own
    /// name and once per key, as `name[key]`.
    pub fn policies(&self) -> Vec<PolicyId> {
        fn ids<P: Tabled>(table: &Table<P>) -> Vec<PolicyId> {
            let mut ids = Vec::new();
            for entry in table.entries() {
                ids.push(PolicyId {
                    kind: P::KIND,
                    name: entry.name.to_string(),
                });
                if entry.keys.is_some() {
                    ids.extend(entry.live().iter().map(|member| PolicyId {
                        kind: P::KIND,
                        name: member.policy_name().to_string(),
                    }));
                }
            }
            ids
        }
        let mut all = ids(&self.circuit_breakers);
        all.extend(ids(&self.bulkheads));
        all.extend(ids(&self.retries));
        all.extend(ids(&self.rate_limiters));
        all.extend(ids(&self.timeouts));
        all
    }

    /// Every built policy's state and counters, with the overall health and
    /// any conflicting declarations. Policies never called and never looked
    /// up are not built yet and do not appear.
    pub fn snapshot(&self) -> Snapshot {
        let circuit_breakers: Vec<CircuitBreakerSnapshot> = self
            .circuit_breakers
            .all()
            .iter()
            .map(|b| b.snapshot())
            .collect();
        let bulkheads: Vec<BulkheadSnapshot> =
            self.bulkheads.all().iter().map(|b| b.snapshot()).collect();
        let (status, score) = overall(
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
            timeouts: self.timeouts.all().iter().map(|t| t.snapshot()).collect(),
            rate_limiters: self
                .rate_limiters
                .all()
                .iter()
                .map(|r| r.snapshot())
                .collect(),
        }
    }

    /// Resets the policy `name` of `kind` (state and counters).
    pub fn reset(&self, kind: PolicyKind, name: &str) -> Result<(), ConfigError> {
        match kind {
            PolicyKind::CircuitBreaker => self.circuit_breaker(name)?.reset(),
            PolicyKind::Bulkhead => self.bulkhead(name)?.reset(),
            PolicyKind::Retry => self.retry(name)?.reset(),
            PolicyKind::Timeout => self.timeout(name)?.reset(),
            PolicyKind::RateLimiter => self.rate_limiter(name)?.reset(),
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
