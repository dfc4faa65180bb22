//! One named policy in the registry: the settings its code declared, the
//! layers of configuration over them, and the policy itself, built on first
//! use from the settings in force then.

use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};

use super::Tabled;
use super::{KeyOptions, Keys};
use crate::error::PolicyName;
use crate::schema::Field;
use crate::schema::Value;

pub(crate) struct Entry<P: Tabled> {
    pub(crate) name: PolicyName,
    /// The settings of the first declaration in code.
    pub(crate) code: P::Config,
    /// One policy per key, for `#[circuit_breaker(key = arg)]`.
    pub(crate) keys: Option<Keys<P>>,
    policy: OnceLock<Arc<P>>,
    state: Mutex<EntryState<P::Config>>,
}

/// Configuration over the code's settings, and the settings in force.
pub(crate) struct EntryState<C> {
    /// File, environment and run-time settings, by canonical key.
    pub(crate) layers: [Vec<(&'static str, Value)>; 3],
    /// `code` with every layer applied, validated.
    pub(crate) effective: C,
}

impl<P: Tabled> Entry<P> {
    pub(crate) fn new(name: PolicyName, code: P::Config, keys: Option<KeyOptions>) -> Self {
        Self {
            name,
            code,
            keys: keys.map(Keys::new),
            policy: OnceLock::new(),
            state: Mutex::new(EntryState {
                layers: Default::default(),
                effective: code,
            }),
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, EntryState<P::Config>> {
        // Every critical section replaces whole values: nothing a panic
        // could leave half-done.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The settings in force (those the policy was or will be built with).
    pub(crate) fn effective(&self) -> P::Config {
        self.lock().effective
    }

    /// The policy of an unkeyed entry, built with the settings in force the
    /// first time it is asked for.
    pub(crate) fn policy(&self) -> Arc<P> {
        if let Some(policy) = self.policy.get() {
            return Arc::clone(policy);
        }
        let state = self.lock();
        Arc::clone(
            self.policy
                .get_or_init(|| build::<P>(self.name.clone(), state.effective)),
        )
    }

    /// The policy, if it was built.
    pub(crate) fn built(&self) -> Option<&Arc<P>> {
        self.policy.get()
    }

    /// Every live policy of this entry: its own, or one per key.
    pub(crate) fn live(&self) -> Vec<Arc<P>> {
        match &self.keys {
            Some(keys) => keys.members(),
            None => self.built().cloned().into_iter().collect(),
        }
    }
}

/// Builds a policy from settings the registry validated. Settings from code
/// that failed validation were replaced with the defaults when declared.
pub(crate) fn build<P: Tabled>(name: PolicyName, config: P::Config) -> Arc<P> {
    let policy = P::build(name.clone(), config)
        .or_else(|_| P::build(name, Default::default()))
        .expect("default configurations are valid");
    Arc::new(policy)
}

/// The code's settings with every layer over them.
pub(crate) fn compose<C: Copy>(
    code: C,
    layers: &[Vec<(&'static str, Value)>; 3],
    fields: &[Field<C>],
) -> Result<C, (&'static str, String)> {
    let mut config = code;
    for layer in layers {
        for (key, value) in layer {
            if let Some(field) = fields.iter().find(|field| field.key == *key) {
                (field.set)(&mut config, value).map_err(|why| (field.key, why))?;
            }
        }
    }
    Ok(config)
}
