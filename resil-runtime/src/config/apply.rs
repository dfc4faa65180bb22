//! Checking configuration against the registered policies, then applying
//! all of it or none of it.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use serde::{Serialize, Serializer};

use super::{
    InvalidConfig, Item, KINDS, Layer, Overrides, PREFIX, Problem, SWITCHABLE, Source, key_of_kind,
};
use crate::bulkhead::{Bulkhead, BulkheadConfig};
use crate::circuit_breaker::{CircuitBreaker, CircuitBreakerConfig};
use crate::error::{ConfigError, PolicyKind};
use crate::rate_limit::RateLimiter;
use crate::registry::{Entry, Registry, Tabled, compose};
use crate::retry::{RetryConfig, RetryPolicy};
use crate::schema::{self, key_list};
use crate::schema::{Setting, Value};
use crate::switch;
use crate::timeout::TimeoutPolicy;

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
struct Wanted {
    kind: PolicyKind,
    policy: String,
    key: String,
    value: Value,
    /// The environment variable it came from, for messages.
    variable: Option<String>,
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

fn problem_of(error: ConfigError) -> Problem {
    match error {
        ConfigError::InvalidValue {
            kind,
            policy,
            key,
            reason,
        } => Problem {
            kind: Some(kind),
            policy: Some(policy),
            key: Some(key.to_owned()),
            message: reason,
        },
        other => Problem::general(other.to_string()),
    }
}

fn quoted(names: impl IntoIterator<Item = String>) -> String {
    let names: Vec<String> = names.into_iter().map(|n| format!("`{n}`")).collect();
    if names.is_empty() {
        "none".to_owned()
    } else {
        names.join(", ")
    }
}

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
    pub fn apply(&self, overrides: &Overrides) -> Result<(), InvalidConfig> {
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
                    self.variable(name, value, &mut wanted, &mut flips, &mut problems);
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
        let breakers = self.targets::<CircuitBreaker>(&wanted, &mut problems);
        let bulkheads = self.targets::<Bulkhead>(&wanted, &mut problems);
        let retries = self.targets::<RetryPolicy>(&wanted, &mut problems);
        let timeouts = self.targets::<TimeoutPolicy>(&wanted, &mut problems);
        let limiters = self.targets::<RateLimiter>(&wanted, &mut problems);
        let breakers = plan(&breakers, layer, &mut problems);
        let bulkheads = plan(&bulkheads, layer, &mut problems);
        let retries = plan(&retries, layer, &mut problems);
        let timeouts = plan(&timeouts, layer, &mut problems);
        let limiters = plan(&limiters, layer, &mut problems);
        if !problems.is_empty() {
            return Err(InvalidConfig {
                source: overrides.source.clone(),
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
    ///         [("threshold", Value::from(2)), ("timeout", Value::from("10s"))],
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
    ) -> Result<(), InvalidConfig>
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
    ) -> Result<(), InvalidConfig> {
        self.reconfigure_typed::<CircuitBreaker>(name, change)
    }

    /// Changes the bulkhead `name`; see
    /// [`reconfigure_circuit_breaker`](Self::reconfigure_circuit_breaker).
    pub fn reconfigure_bulkhead(
        &self,
        name: &str,
        change: impl FnOnce(BulkheadConfig) -> BulkheadConfig,
    ) -> Result<(), InvalidConfig> {
        self.reconfigure_typed::<Bulkhead>(name, change)
    }

    /// Changes the retry policy `name`; see
    /// [`reconfigure_circuit_breaker`](Self::reconfigure_circuit_breaker).
    pub fn reconfigure_retry(
        &self,
        name: &str,
        change: impl FnOnce(RetryConfig) -> RetryConfig,
    ) -> Result<(), InvalidConfig> {
        self.reconfigure_typed::<RetryPolicy>(name, change)
    }

    fn reconfigure_typed<P: Tabled>(
        &self,
        name: &str,
        change: impl FnOnce(P::Config) -> P::Config,
    ) -> Result<(), InvalidConfig> {
        let Some(entry) = self.table::<P>().entry(name) else {
            return Err(InvalidConfig {
                source: Source::Runtime,
                problems: vec![self.unknown_policy::<P>(name)],
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
        self.apply(&overrides)
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
    pub fn set_enabled(&self, kind: PolicyKind, enabled: bool) -> Result<(), InvalidConfig> {
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
        let mut all = self.configuration_of::<CircuitBreaker>();
        all.extend(self.configuration_of::<Bulkhead>());
        all.extend(self.configuration_of::<RetryPolicy>());
        all.extend(self.configuration_of::<TimeoutPolicy>());
        all.extend(self.configuration_of::<RateLimiter>());
        all
    }

    fn configuration_of<P: Tabled>(&self) -> Vec<PolicyConfiguration> {
        self.table::<P>()
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

    fn unknown_policy<P: Tabled>(&self, name: &str) -> Problem {
        let known = self
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
    fn targets<P: Tabled>(&self, wanted: &[Wanted], problems: &mut Vec<Problem>) -> Vec<Target<P>> {
        let table = self.table::<P>();
        let mut targets: Vec<Target<P>> = Vec::new();
        let mut unknown = BTreeSet::new();
        for want in wanted.iter().filter(|w| w.kind == P::KIND) {
            let Some(entry) = table.entry(&want.policy) else {
                if unknown.insert(want.policy.clone()) {
                    let mut problem = self.unknown_policy::<P>(&want.policy);
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

    /// Works out which policy and key `RESIL_...` names: the one registered
    /// policy whose upper-cased name, followed by `_` and a valid key, makes
    /// up the rest of the variable.
    fn variable(
        &self,
        name: &str,
        value: &str,
        wanted: &mut Vec<Wanted>,
        flips: &mut Vec<(PolicyKind, bool)>,
        problems: &mut Vec<Problem>,
    ) {
        let rest = &name[PREFIX.len()..];
        for (section, kind) in KINDS {
            if SWITCHABLE.contains(&section)
                && rest == format!("{}_ENABLED", section.to_ascii_uppercase())
            {
                switch_item(
                    kind,
                    &Value::Str(value.to_owned()),
                    Some(name),
                    flips,
                    problems,
                );
                return;
            }
        }
        let mut found = Vec::new();
        let mut partial = Vec::new();
        self.match_variable::<CircuitBreaker>(rest, &mut found, &mut partial);
        self.match_variable::<Bulkhead>(rest, &mut found, &mut partial);
        self.match_variable::<RetryPolicy>(rest, &mut found, &mut partial);
        self.match_variable::<TimeoutPolicy>(rest, &mut found, &mut partial);
        self.match_variable::<RateLimiter>(rest, &mut found, &mut partial);
        match found.as_slice() {
            [(kind, policy, key)] => wanted.push(Wanted {
                kind: *kind,
                policy: policy.clone(),
                key: (*key).to_owned(),
                value: Value::Str(value.to_owned()),
                variable: Some(name.to_owned()),
            }),
            [] => match partial
                .into_iter()
                .max_by_key(|(_, policy, _, _)| policy.len())
            {
                Some((kind, policy, key, keys)) => problems.push(Problem {
                    kind: Some(kind),
                    policy: Some(policy),
                    key: Some(key),
                    message: format!("unknown key (from `{name}`); valid keys: {keys}"),
                }),
                None => problems.push(Problem {
                    kind: None,
                    policy: None,
                    key: Some(name.to_owned()),
                    message: format!(
                        "names no policy and key: variables are `RESIL_<POLICY>_<KEY>`, for the \
                         policies {}, or `RESIL_<KIND>_ENABLED` for the kinds {}",
                        quoted(self.variable_prefixes()),
                        quoted(SWITCHABLE.iter().map(|s| s.to_ascii_uppercase()))
                    ),
                }),
            },
            many => problems.push(Problem {
                kind: None,
                policy: None,
                key: Some(name.to_owned()),
                message: format!(
                    "is ambiguous: it could set {}; set it in a configuration file instead",
                    many.iter()
                        .map(|(kind, policy, key)| format!("`{key}` of {kind} `{policy}`"))
                        .collect::<Vec<_>>()
                        .join(" or ")
                ),
            }),
        }
    }

    #[allow(clippy::type_complexity)]
    fn match_variable<P: Tabled>(
        &self,
        rest: &str,
        found: &mut Vec<(PolicyKind, String, &'static str)>,
        partial: &mut Vec<(PolicyKind, String, String, String)>,
    ) {
        for name in self.table::<P>().names() {
            let prefix = format!("{}_", variable_name(name.as_str()));
            let Some(key) = rest.strip_prefix(&prefix) else {
                continue;
            };
            let key = key.to_ascii_lowercase();
            match schema::find(P::fields(), &key) {
                Some(field) => found.push((P::KIND, name.to_string(), field.key)),
                None => partial.push((P::KIND, name.to_string(), key, key_list(P::fields()))),
            }
        }
    }

    fn variable_prefixes(&self) -> Vec<String> {
        fn of<P: Tabled>(registry: &Registry, out: &mut Vec<String>) {
            for name in registry.table::<P>().names() {
                out.push(format!("{PREFIX}{}_*", variable_name(name.as_str())));
            }
        }
        let mut out = Vec::new();
        of::<CircuitBreaker>(self, &mut out);
        of::<Bulkhead>(self, &mut out);
        of::<RetryPolicy>(self, &mut out);
        of::<TimeoutPolicy>(self, &mut out);
        of::<RateLimiter>(self, &mut out);
        out
    }
}

/// A policy's name as environment variables spell it: upper-cased, every
/// character other than an ASCII letter or digit written `_`.
pub(crate) fn variable_name(policy: &str) -> String {
    policy
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

fn switch_item(
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
            problems.push(problem_of(invalid));
            continue;
        }
        if let Some(refused) = entry
            .live()
            .iter()
            .find_map(|policy| policy.check_reconfigure(&config).err())
        {
            problems.push(problem_of(refused));
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

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Bool(b) => serializer.serialize_bool(*b),
            Value::Int(n) => serializer.serialize_i64(*n),
            Value::Float(x) => serializer.serialize_f64(*x),
            Value::Str(s) => serializer.serialize_str(s),
        }
    }
}
