//! Call sites: the `static` the macros put beside each annotated function
//! for each policy on it ([`Site`], or [`KeyedSite`] for
//! `#[circuit_breaker(key = ...)]`). A site declares its policy to the
//! registry at start-up (it is a [`Declaration`]) and, on its first call,
//! keeps a direct reference to it, so that no call looks a name up.
//!
//! Above the registry, which knows nothing of sites: it only walks the
//! declarations they put in the link-time list. Reached by generated code
//! through `__private`; not a public API.

use std::fmt::{self, Display};
use std::hash::Hash;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use crate::bulkhead::Bulkhead;
use crate::circuit_breaker::CircuitBreaker;
use crate::config::routes::registry;
use crate::rate_limit::RateLimiter;
use crate::registry::{Declaration, Entry, KeyOptions, Registry, Tabled};
use crate::retry::Retry;
use crate::timeout::Timeout;

/// A `static` per policy per annotated function: registers the policy on
/// first use, then hands out a plain reference with one atomic load.
#[allow(private_bounds)]
pub struct Site<P: Tabled> {
    name: &'static str,
    shared: bool,
    config: P::Config,
    /// The registry's entry, found by the start-up walk or the first call.
    entry: OnceLock<Arc<Entry<P>>>,
    policy: OnceLock<Arc<P>>,
}

/// The call site of a `#[circuit_breaker]`.
pub type CircuitBreakerSite = Site<CircuitBreaker>;
/// The call site of a `#[bulkhead]`.
pub type BulkheadSite = Site<Bulkhead>;
/// The call site of a `#[retry]`.
pub type RetrySite = Site<Retry>;
/// The call site of a `#[timeout]`.
pub type TimeoutSite = Site<Timeout>;
/// The call site of a `#[rate_limit]`.
pub type RateLimiterSite = Site<RateLimiter>;

#[allow(private_bounds, private_interfaces)]
impl<P: Tabled> Site<P> {
    /// A site of the policy named `name`, shared with every other site that
    /// names it; registered with `config` when first used.
    pub const fn new(name: &'static str, config: P::Config) -> Self {
        Self {
            name,
            shared: true,
            config,
            entry: OnceLock::new(),
            policy: OnceLock::new(),
        }
    }

    /// A site with a policy of its own, registered under `default_name`
    /// (the function's path), or `default_name#2`, `#3`, ... when another
    /// function of the same path already has one (an inner `fn` of the
    /// same name in another function, a method of the same name on
    /// another type).
    pub const fn unnamed(default_name: &'static str, config: P::Config) -> Self {
        Self {
            name: default_name,
            shared: false,
            config,
            entry: OnceLock::new(),
            policy: OnceLock::new(),
        }
    }

    /// The policy, registered on the first call.
    #[inline]
    pub fn get(&'static self) -> &'static P {
        match self.policy.get() {
            Some(policy) => policy,
            None => self.init(),
        }
    }

    #[cold]
    fn init(&'static self) -> &'static P {
        // The start-up walk declares this site too: run it first, outside
        // the `OnceLock`s.
        let registry = registry();
        let entry = self.entry.get_or_init(|| self.declare_in(registry));
        self.policy.get_or_init(|| entry.policy())
    }

    /// The name the site was declared with.
    pub(crate) const fn name(&self) -> &'static str {
        self.name
    }

    /// The settings the site was declared with.
    pub(crate) fn config(&self) -> P::Config {
        self.config
    }

    fn declare_in(&self, registry: &Registry) -> Arc<Entry<P>> {
        registry.declare::<P>(self.name, self.config, self.shared, None)
    }
}

impl<P: Tabled> Declaration for Site<P> {
    fn declare(&'static self, registry: &Registry) {
        self.entry.get_or_init(|| self.declare_in(registry));
    }
}

#[allow(private_bounds)]
impl<P: Tabled> fmt::Debug for Site<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Site").field("name", &self.name).finish()
    }
}

/// The call site of a keyed policy: a `static` per annotated function, like
/// [`Site`], that finds the member for each call's
/// key. Not a public API.
#[doc(hidden)]
#[allow(private_bounds)]
pub struct KeyedSite<P: Tabled> {
    name: &'static str,
    shared: bool,
    config: P::Config,
    options: KeyOptions,
    entry: OnceLock<Arc<Entry<P>>>,
}

/// The call site of `#[circuit_breaker(key = ...)]`.
#[doc(hidden)]
pub type KeyedCircuitBreakerSite = KeyedSite<CircuitBreaker>;

#[allow(private_bounds, private_interfaces)]
impl<P: Tabled> KeyedSite<P> {
    /// A keyed policy named `name`, shared with every site that names it.
    pub const fn new(
        name: &'static str,
        config: P::Config,
        max_keys: u32,
        ttl: Option<Duration>,
    ) -> Self {
        Self::with(name, true, config, max_keys, ttl)
    }

    /// A keyed policy of this function's own, named by its path.
    pub const fn unnamed(
        default_name: &'static str,
        config: P::Config,
        max_keys: u32,
        ttl: Option<Duration>,
    ) -> Self {
        Self::with(default_name, false, config, max_keys, ttl)
    }

    const fn with(
        name: &'static str,
        shared: bool,
        config: P::Config,
        max_keys: u32,
        ttl: Option<Duration>,
    ) -> Self {
        Self {
            name,
            shared,
            config,
            options: KeyOptions { max_keys, ttl },
            entry: OnceLock::new(),
        }
    }

    /// The member for `key`.
    #[inline]
    pub fn policy_for<K: Hash + Eq + Display + ?Sized>(&'static self, key: &K) -> Arc<P> {
        let entry = match self.entry.get() {
            Some(entry) => entry,
            None => self.init(),
        };
        match &entry.keys {
            Some(keys) => keys.member(entry, key),
            None => entry.policy(),
        }
    }

    #[cold]
    fn init(&'static self) -> &'static Arc<Entry<P>> {
        // The start-up walk declares this site too: run it first, outside
        // the `OnceLock`.
        let registry = registry();
        self.entry.get_or_init(|| self.declare_in(registry))
    }

    fn declare_in(&self, registry: &Registry) -> Arc<Entry<P>> {
        registry.declare::<P>(self.name, self.config, self.shared, Some(self.options))
    }
}

impl<P: Tabled> Declaration for KeyedSite<P> {
    fn declare(&'static self, registry: &Registry) {
        self.entry.get_or_init(|| self.declare_in(registry));
    }
}

#[allow(private_bounds)]
impl<P: Tabled> fmt::Debug for KeyedSite<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyedSite")
            .field("name", &self.name)
            .field("max_keys", &self.options.max_keys)
            .finish_non_exhaustive()
    }
}
