//! The public door to the registry, [`registry()`], and the routes it
//! fills first (`crate::route`): the one way a registered policy's
//! settings change is the registry's run-time layer, whether the change
//! came through [`Registry::reconfigure`] or the policy's own
//! `reconfigure`. Everything that hands a registered policy to a user
//! passes here first (this door, or a call site's or declared policy's
//! first use), so such a policy always finds its route filled.

use std::sync::{Arc, Once};

use super::apply;
use crate::error::ConfigError;
use crate::registry::{Registry, Tabled};
use crate::{bulkhead, circuit_breaker, rate_limit, retry, timeout};

static ROUTES: Once = Once::new();

/// The registry of every named policy in the program.
///
/// The first call walks every policy the program declares (attributes and
/// [`policy!`](crate::policy) declarations, wherever they are, even inside
/// functions never called yet), so [`Registry::policies`] lists them all
/// before any call.
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
    install_routes();
    crate::registry::registry()
}

/// Sends every registered policy's own `reconfigure` through the registry.
/// Cheap after the first call (one atomic load).
pub(crate) fn install_routes() {
    ROUTES.call_once(|| {
        circuit_breaker::ROUTE.install(through_registry);
        bulkhead::ROUTE.install(through_registry);
        retry::ROUTE.install(through_registry);
        timeout::ROUTE.install(through_registry);
        rate_limit::ROUTE.install(through_registry);
    });
}

/// `config` as a run-time layer over the settings of `policy`, if the
/// registry holds that very policy (not another of the same name, nor a
/// keyed member, which change in place).
fn through_registry<P: Tabled>(policy: &P, config: &P::Config) -> Option<Result<(), ConfigError>> {
    let registry = crate::registry::registry();
    let name = policy.policy_name().as_str();
    let entry = registry.table::<P>().entry(name)?;
    let held = entry
        .live()
        .iter()
        .any(|live| std::ptr::eq(Arc::as_ptr(live), policy));
    if !held {
        return None;
    }
    let config = *config;
    Some(apply::reconfigure_typed::<P>(registry, name, |_| config))
}
