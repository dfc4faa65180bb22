//! Where a named policy's own `reconfigure` sends its change.
//!
//! A policy the registry holds has its settings in layers (code, file,
//! environment, run time), and the registry reports and recombines them.
//! Were `CircuitBreaker::reconfigure` to store settings straight into such
//! a breaker, the registry would report the old ones and the next
//! unrelated change would put them back. So a policy's `reconfigure` first
//! offers its change to its kind's [`Route`]: the configuration layer,
//! above the policies, fills the route at start-up, and takes the change
//! as a run-time layer when the registry holds that very policy. A policy
//! built with `::new` is not the registry's, and changes in place.
//!
//! The route is a hook below the policies so that a policy, a leaf, never
//! imports the registry or configuration it ends up calling.

use std::sync::OnceLock;

use crate::error::ConfigError;

/// What the configuration layer does with a change to a policy of type
/// `P` and settings `C`: `None` when the registry does not hold that
/// policy, else the outcome of applying the change as a run-time layer.
pub(crate) type RouteFn<P, C> = fn(&P, &C) -> Option<Result<(), ConfigError>>;

/// One kind's route, empty until the configuration layer fills it.
pub(crate) struct Route<P: 'static, C: 'static> {
    to: OnceLock<RouteFn<P, C>>,
}

impl<P, C> Route<P, C> {
    pub(crate) const fn new() -> Self {
        Self {
            to: OnceLock::new(),
        }
    }

    /// Sets where changes go; the first setting stays.
    pub(crate) fn install(&self, to: RouteFn<P, C>) {
        let _ = self.to.set(to);
    }

    /// Applies `config` through the registry if the registry holds
    /// `policy`; `None` if it does not, and the policy changes in place.
    pub(crate) fn take(&self, policy: &P, config: &C) -> Option<Result<(), ConfigError>> {
        self.to.get().and_then(|to| to(policy, config))
    }
}
