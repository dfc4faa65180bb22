//! Checking configuration against the registered policies, then applying
//! all of it or none of it: functions over the registry, called by the
//! `Registry` methods in `methods.rs`. Every change takes one lock
//! ([`CONFIGURING`]) for its whole check and apply, plans each policy's new
//! settings from its layers, checks them whole and against the running
//! policies, and commits only if nothing is wrong.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::env::variable;
use super::{Item, KINDS, Layer, Overrides, Problem, SWITCHABLE, Source, key_of_kind};
use crate::bulkhead::Bulkhead;
use crate::circuit_breaker::CircuitBreaker;
use crate::error::{ConfigError, PolicyKind};
use crate::rate_limit::RateLimiter;
use crate::registry::{Entry, Registry, Tabled, compose};
use crate::retry::Retry;
use crate::schema::{self, key_list};
use crate::schema::{Setting, Value};
use crate::switch;
use crate::timeout::Timeout;

/// The per-kind switches of every layer, kept under the lock that
/// serialises configuration changes.
#[derive(Debug)]
pub(crate) struct Switches {
    /// By kind (`KINDS` order), then layer (file, environment, run time).
    layers: [[Option<bool>; 3]; KINDS.len()],
}

impl Switches {
    pub(crate) const fn new() -> Self {
        Self {
            layers: [[None; 3]; KINDS.len()],
        }
    }

    fn set(&mut self, kind: PolicyKind, layer: Layer, enabled: bool) {
        if let Some(index) = KINDS.iter().position(|(_, k)| *k == kind) {
            let layers = &mut self.layers[index];
            layers[layer.index()] = Some(enabled);
            let effective = layers.iter().rev().find_map(|set| *set).unwrap_or(true);
            switch::set(kind, effective);
        }
    }
}

/// Serialises configuration changes, so each is checked and applied whole,
/// and holds the switches they set. Here rather than in the registry: only
/// configuration takes it.
static CONFIGURING: Mutex<Switches> = Mutex::new(Switches::new());

/// One setting a source asks for, before it is checked.
pub(super) struct Wanted {
    pub(super) kind: PolicyKind,
    pub(super) policy: String,
    pub(super) key: String,
    pub(super) value: Value,
    /// The environment variable it came from, for messages.
    pub(super) variable: Option<String>,
}

impl Wanted {
    fn problem(&self, key: Option<&str>, message: String) -> Problem {
        let message = match &self.variable {
            Some(variable) => format!("{message} (from `{variable}`)"),
            None => message,
        };
        Problem {
            kind: Some(self.kind),
            policy: Some(self.policy.clone()),
            key: key.map(str::to_owned),
            message,
        }
    }
}

/// The settings one source gives one policy.
struct Target<P: Tabled> {
    entry: Arc<Entry<P>>,
    settings: Vec<(&'static str, Value)>,
}

/// A target checked and ready to apply, its entry locked so nothing builds
/// it with other settings in between.
struct Plan<'a, P: Tabled> {
    target: &'a Target<P>,
    state: MutexGuard<'a, crate::registry::entry::EntryState<P::Config>>,
    layers: [Vec<(&'static str, Value)>; 3],
    config: P::Config,
}

pub(super) fn quoted(names: impl IntoIterator<Item = String>) -> String {
    let names: Vec<String> = names.into_iter().map(|n| format!("`{n}`")).collect();
    if names.is_empty() {
        "none".to_owned()
    } else {
        names.join(", ")
    }
}

pub(super) fn apply(registry: &Registry, overrides: &Overrides) -> Result<(), ConfigError> {
    let layer = overrides.source.layer();
    let mut switches = CONFIGURING.lock().unwrap_or_else(PoisonError::into_inner);
    let mut problems = overrides.problems.clone();
    let mut wanted = Vec::new();
    let mut flips = Vec::new();
    for item in &overrides.items {
        match item {
            Item::Setting {
                kind,
                policy,
                key,
                value,
            } => wanted.push(Wanted {
                kind: *kind,
                policy: policy.clone(),
                key: key.clone(),
                value: value.clone(),
                variable: None,
            }),
            Item::Switch { kind, value } => {
                switch_item(*kind, value, None, &mut flips, &mut problems);
            }
            Item::Variable { name, value } => {
                variable(
                    registry,
                    name,
                    value,
                    &mut wanted,
                    &mut flips,
                    &mut problems,
                );
            }
        }
    }
    for want in &wanted {
        if key_of_kind(want.kind).is_none() {
            problems.push(want.problem(
                Some(&want.key),
                format!(
                    "{}s take no configuration; configurable kinds: {}",
                    want.kind,
                    super::kind_keys()
                ),
            ));
        }
    }
    let breakers = targets::<CircuitBreaker>(registry, &wanted, &mut problems);
    let bulkheads = targets::<Bulkhead>(registry, &wanted, &mut problems);
    let retries = targets::<Retry>(registry, &wanted, &mut problems);
    let timeouts = targets::<Timeout>(registry, &wanted, &mut problems);
    let limiters = targets::<RateLimiter>(registry, &wanted, &mut problems);
    let breakers = plan(&breakers, layer, &mut problems);
    let bulkheads = plan(&bulkheads, layer, &mut problems);
    let retries = plan(&retries, layer, &mut problems);
    let timeouts = plan(&timeouts, layer, &mut problems);
    let limiters = plan(&limiters, layer, &mut problems);
    if !problems.is_empty() {
        return Err(ConfigError::NotApplied {
            origin: overrides.source.clone(),
            problems,
        });
    }
    commit(breakers);
    commit(bulkheads);
    commit(retries);
    commit(timeouts);
    commit(limiters);
    for (kind, enabled) in flips {
        switches.set(kind, layer, enabled);
    }
    tracing::info!(target: "resil", source = %overrides.source, settings = overrides.len(), "configuration applied");
    Ok(())
}

/// Changes the policy `name` of kind `P` to what `change` makes of its
/// settings in force, as a run-time layer over them.
pub(super) fn reconfigure_typed<P: Tabled>(
    registry: &Registry,
    name: &str,
    change: impl FnOnce(P::Config) -> P::Config,
) -> Result<(), ConfigError> {
    let Some(entry) = registry.table::<P>().entry(name) else {
        return Err(ConfigError::NotApplied {
            origin: Source::Runtime,
            problems: vec![unknown_policy::<P>(registry, name)],
        });
    };
    let current = entry.effective();
    let wanted = change(current);
    let mut overrides = Overrides::new(Source::Runtime);
    for field in P::fields() {
        let value = (field.get)(&wanted);
        if value != (field.get)(&current) {
            overrides = overrides.set(P::KIND, name, field.key, value);
        }
    }
    apply(registry, &overrides)
}

fn unknown_policy<P: Tabled>(registry: &Registry, name: &str) -> Problem {
    let known = registry
        .table::<P>()
        .names()
        .iter()
        .map(|n| n.to_string())
        .collect::<Vec<_>>();
    Problem {
        kind: Some(P::KIND),
        policy: Some(name.to_owned()),
        key: None,
        message: format!("no {} has this name; known: {}", P::KIND, quoted(known)),
    }
}

/// The settings of `wanted` for kind `P`, grouped by policy, each key
/// known and each value of the right type.
fn targets<P: Tabled>(
    registry: &Registry,
    wanted: &[Wanted],
    problems: &mut Vec<Problem>,
) -> Vec<Target<P>> {
    let table = registry.table::<P>();
    let mut targets: Vec<Target<P>> = Vec::new();
    let mut unknown = BTreeSet::new();
    for want in wanted.iter().filter(|w| w.kind == P::KIND) {
        let Some(entry) = table.entry(&want.policy) else {
            if unknown.insert(want.policy.clone()) {
                let mut problem = unknown_policy::<P>(registry, &want.policy);
                if let Some(variable) = &want.variable {
                    problem.message = format!("{} (from `{variable}`)", problem.message);
                }
                problems.push(problem);
            }
            continue;
        };
        let Some(field) = schema::find(P::fields(), &want.key) else {
            problems.push(want.problem(
                Some(&want.key),
                format!("unknown key; valid keys: {}", key_list(P::fields())),
            ));
            continue;
        };
        let mut scratch = entry.code;
        if let Err(why) = (field.set)(&mut scratch, &want.value) {
            problems.push(want.problem(Some(field.key), why));
            continue;
        }
        let at = match targets.iter().position(|t| Arc::ptr_eq(&t.entry, &entry)) {
            Some(at) => at,
            None => {
                targets.push(Target {
                    entry,
                    settings: Vec::new(),
                });
                targets.len() - 1
            }
        };
        let settings = &mut targets[at].settings;
        settings.retain(|(key, _)| *key != field.key);
        settings.push((field.key, want.value.clone()));
    }
    targets
}

pub(super) fn switch_item(
    kind: PolicyKind,
    value: &Value,
    variable: Option<&str>,
    flips: &mut Vec<(PolicyKind, bool)>,
    problems: &mut Vec<Problem>,
) {
    let from = variable
        .map(|v| format!(" (from `{v}`)"))
        .unwrap_or_default();
    if !switch::switchable(kind) {
        problems.push(Problem {
            kind: Some(kind),
            policy: None,
            key: Some("enabled".to_owned()),
            message: format!(
                "{kind}s cannot be switched off{from}; kinds with a switch: {}",
                quoted(SWITCHABLE.iter().map(|s| (*s).to_owned()))
            ),
        });
        return;
    }
    match bool::read(value) {
        Ok(enabled) => flips.push((kind, enabled)),
        Err(why) => problems.push(Problem {
            kind: Some(kind),
            policy: None,
            key: Some("enabled".to_owned()),
            message: format!("{why}{from}"),
        }),
    }
}

/// Checks each target's new settings as a whole, and against its running
/// policies.
fn plan<'a, P: Tabled>(
    targets: &'a [Target<P>],
    layer: Layer,
    problems: &mut Vec<Problem>,
) -> Vec<Plan<'a, P>> {
    let mut plans = Vec::new();
    for target in targets {
        let entry = &target.entry;
        let state = entry.lock();
        let mut layers = state.layers.clone();
        let slot = &mut layers[layer.index()];
        for (key, value) in &target.settings {
            slot.retain(|(k, _)| k != key);
            slot.push((key, value.clone()));
        }
        let config = match compose(entry.code, &layers, P::fields()) {
            Ok(config) => config,
            Err((key, why)) => {
                problems.push(Problem {
                    kind: Some(P::KIND),
                    policy: Some(entry.name.to_string()),
                    key: Some(key.to_owned()),
                    message: why,
                });
                continue;
            }
        };
        if let Err(invalid) = P::validate(&config, entry.name.as_str()) {
            problems.extend(invalid.problems());
            continue;
        }
        if let Some(refused) = entry
            .live()
            .iter()
            .find_map(|policy| policy.check_reconfigure(&config).err())
        {
            problems.extend(refused.problems());
            continue;
        }
        plans.push(Plan {
            target,
            state,
            layers,
            config,
        });
    }
    plans
}

fn commit<P: Tabled>(plans: Vec<Plan<'_, P>>) {
    for mut plan in plans {
        plan.state.layers = plan.layers;
        plan.state.effective = plan.config;
        for policy in plan.target.entry.live() {
            if let Err(error) = policy.reconfigure(plan.config) {
                // `plan` checked this very change under the same lock.
                tracing::error!(target: "resil", %error, "a checked change was refused");
            }
        }
    }
}
