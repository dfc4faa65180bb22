//! What configuration is in force: every configurable policy's settings
//! and the layer each comes from ([`PolicyConfiguration`]), read from the
//! registry's entries without building any policy.

use std::fmt;

use serde::Serialize;

use super::Layer;
use crate::bulkhead::Bulkhead;
use crate::circuit_breaker::CircuitBreaker;
use crate::error::PolicyKind;
use crate::rate_limit::RateLimiter;
use crate::registry::{Registry, Tabled};
use crate::retry::Retry;
use crate::schema::Value;
use crate::timeout::Timeout;

/// The settings in force of every configurable policy; see
/// [`Registry::configuration`].
pub(super) fn configuration(registry: &Registry) -> Vec<PolicyConfiguration> {
    let mut all = configuration_of::<CircuitBreaker>(registry);
    all.extend(configuration_of::<Bulkhead>(registry));
    all.extend(configuration_of::<Retry>(registry));
    all.extend(configuration_of::<Timeout>(registry));
    all.extend(configuration_of::<RateLimiter>(registry));
    all
}

fn configuration_of<P: Tabled>(registry: &Registry) -> Vec<PolicyConfiguration> {
    registry
        .table::<P>()
        .entries()
        .iter()
        .map(|entry| {
            let state = entry.lock();
            let settings = P::fields()
                .iter()
                .map(|field| {
                    let layer = Layer::OVERRIDES
                        .into_iter()
                        .rev()
                        .find(|layer| {
                            state.layers[layer.index()]
                                .iter()
                                .any(|(key, _)| *key == field.key)
                        })
                        .unwrap_or(Layer::Code);
                    SettingValue {
                        key: field.key,
                        value: (field.get)(&state.effective),
                        layer,
                    }
                })
                .collect();
            PolicyConfiguration {
                kind: P::KIND,
                name: entry.name.to_string(),
                keyed: entry.keys.is_some(),
                settings,
            }
        })
        .collect()
}

/// One policy's settings in force: see
/// [`Registry::configuration`](crate::Registry::configuration).
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct PolicyConfiguration {
    /// The kind of policy.
    pub kind: PolicyKind,
    /// Its name.
    pub name: String,
    /// Whether it keeps one policy per key (`#[circuit_breaker(key = ...)]`).
    pub keyed: bool,
    /// Every setting, in the order of the kind's keys.
    pub settings: Vec<SettingValue>,
}

impl fmt::Display for PolicyConfiguration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} `{}`{}:",
            self.kind,
            self.name,
            if self.keyed { " (keyed)" } else { "" }
        )?;
        for (i, setting) in self.settings.iter().enumerate() {
            let separator = if i == 0 { " " } else { ", " };
            write!(f, "{separator}{setting}")?;
        }
        Ok(())
    }
}

/// One setting in force, and where it came from.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct SettingValue {
    /// The setting's key.
    pub key: &'static str,
    /// Its value.
    pub value: Value,
    /// The layer that set it.
    pub layer: Layer,
}

impl fmt::Display for SettingValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} = {}", self.key, self.value)?;
        if self.layer != Layer::Code {
            write!(f, " ({})", self.layer)?;
        }
        Ok(())
    }
}
