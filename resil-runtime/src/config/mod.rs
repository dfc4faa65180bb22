//! Configuration that overrides, at start-up or while the program runs,
//! the settings that named policies were given in code.
//!
//! # Where settings come from
//!
//! Each setting of each policy takes its value from the highest of four
//! layers that sets it:
//!
//! 1. **code**: the attribute (`#[circuit_breaker(threshold = 5)]`) or the
//!    declaration ([`DeclaredCircuitBreaker::new`](crate::DeclaredCircuitBreaker::new));
//! 2. **file**: a TOML, JSON or YAML document ([`load_file`]);
//! 3. **environment**: `RESIL_<POLICY>_<KEY>` variables ([`load_env`]);
//! 4. **run time**: [`Registry::reconfigure`](crate::Registry::reconfigure)
//!    and friends.
//!
//! The order in which a program loads them does not matter: an environment
//! variable beats a file loaded after it. A change keeps the policy's state
//! and counters.
//!
//! # Documents
//!
//! A section per kind (`circuit_breaker`, `bulkhead`, `retry`, `timeout`,
//! `rate_limiter`), a table per policy name, and the keys its snapshot
//! shows. Durations are strings with
//! a unit (`"250us"`, `"100ms"`, `"5s"`, `"2m"`, `"1h"`); optional settings
//! (`failure_rate`, `min_calls`) take `"off"`. `enabled = false` in the
//! `circuit_breaker`, `bulkhead` or `retry` section switches that kind off:
//! calls pass straight through every policy of the kind.
//!
//! Keys are the names the builders and snapshots use. A few have a second
//! name, accepted here, in the environment and in the attribute: a
//! breaker's `open_for` is also `timeout` (its older name), a bulkhead's
//! `max_concurrent` and a retry's `max_attempts` are also `max` (the
//! attribute's name). Give one name of each.
//!
//! ```toml
//! [circuit_breaker.payments]
//! threshold = 3
//! open_for = "30s"
//!
//! [bulkhead.search]
//! max_concurrent = 4
//!
//! [retry]
//! enabled = false
//! ```
//!
//! JSON is always available; TOML needs the `toml` feature (on by default)
//! and YAML the `yaml` feature.
//!
//! # Environment variables
//!
//! `RESIL_<POLICY>_<KEY>=<value>`, the policy's name upper-cased with every
//! other character than a letter or digit written `_`:
//! `RESIL_PAYMENTS_THRESHOLD=3`, `RESIL_SEARCH_API_MAX_CONCURRENT=8` for the
//! bulkhead `search-api`. `RESIL_CIRCUIT_BREAKER_ENABLED=false`,
//! `RESIL_BULKHEAD_ENABLED=false` and `RESIL_RETRY_ENABLED=false` switch a
//! whole kind off.
//!
//! # Nothing half-applied
//!
//! Every source is checked as a whole before anything changes: an unknown
//! policy, an unknown key, a value of the wrong type, a value out of range,
//! or a change a running policy cannot take is reported in an
//! [`ConfigError::NotApplied`] that names the source, the policy, the key and what is
//! valid, and every policy stays as it was.
//!
//! ```
//! use resil::config::{Overrides, Source};
//! use resil::{CircuitBreakerConfig, PolicyKind, registry};
//!
//! registry().register_circuit_breaker("config-doc", CircuitBreakerConfig::DEFAULT).unwrap();
//! let file = Overrides::from_json_str(
//!     r#"{ "circuit_breaker": { "config-doc": { "threshold": 3, "open_for": "30s" } } }"#,
//!     Source::named("inline"),
//! )
//! .unwrap();
//! registry().apply(&file).unwrap();
//! assert_eq!(registry().circuit_breaker("config-doc").unwrap().config().threshold, 3);
//!
//! let bad = Overrides::from_json_str(
//!     r#"{ "circuit_breaker": { "config-doc": { "threshold": 4, "timout": "1s" } } }"#,
//!     Source::named("inline"),
//! )
//! .unwrap();
//! let error = registry().apply(&bad).unwrap_err();
//! assert!(error.to_string().contains("unknown key"), "{error}");
//! // Nothing changed, not even the valid `threshold`.
//! assert_eq!(registry().circuit_breaker("config-doc").unwrap().config().threshold, 3);
//! ```

mod apply;
mod document;
mod env;
mod methods;
mod report;
pub(crate) mod routes;

use std::path::Path;

pub use crate::origin::{Layer, Problem, Source};
pub use crate::schema::Value;
pub use report::{PolicyConfiguration, SettingValue};

use crate::error::ConfigError;
use crate::error::PolicyKind;
use crate::registry::registry;

/// Settings to apply to named policies, read from one source. Nothing
/// changes until [`Registry::apply`](crate::Registry::apply) checks them all
/// against the registered policies.
///
/// ```
/// use resil::config::{Overrides, Source};
/// use resil::PolicyKind;
///
/// let change = Overrides::new(Source::Runtime)
///     .set(PolicyKind::Bulkhead, "search", "max_concurrent", 4)
///     .set(PolicyKind::Bulkhead, "search", "wait", "250ms")
///     .enable(PolicyKind::Retry, false);
/// assert_eq!(change.len(), 3);
/// ```
#[derive(Debug, Clone)]
pub struct Overrides {
    pub(crate) source: Source,
    pub(crate) items: Vec<Item>,
    pub(crate) problems: Vec<Problem>,
}

#[derive(Debug, Clone)]
pub(crate) enum Item {
    Setting {
        kind: PolicyKind,
        policy: String,
        key: String,
        value: Value,
    },
    Switch {
        kind: PolicyKind,
        value: Value,
    },
    /// `RESIL_...`: which policy and key it names is known only once the
    /// registry's names are.
    Variable {
        name: String,
        value: String,
    },
}

impl Overrides {
    /// No settings yet, from `source`.
    pub fn new(source: Source) -> Self {
        Self {
            source,
            items: Vec::new(),
            problems: Vec::new(),
        }
    }

    /// Adds a setting: `key` of the policy `policy` of `kind`.
    pub fn set(
        mut self,
        kind: PolicyKind,
        policy: impl Into<String>,
        key: impl Into<String>,
        value: impl Into<Value>,
    ) -> Self {
        self.items.push(Item::Setting {
            kind,
            policy: policy.into(),
            key: key.into(),
            value: value.into(),
        });
        self
    }

    /// Switches every policy of `kind` on or off.
    pub fn enable(mut self, kind: PolicyKind, enabled: bool) -> Self {
        self.items.push(Item::Switch {
            kind,
            value: Value::Bool(enabled),
        });
        self
    }

    /// Where these settings came from.
    pub fn source(&self) -> &Source {
        &self.source
    }

    /// How many settings and switches there are.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty() && self.problems.is_empty()
    }

    /// Reads a JSON document.
    pub fn from_json_str(text: &str, source: Source) -> Result<Self, ConfigError> {
        document::json(text, source)
    }

    /// Reads a TOML document.
    #[cfg(feature = "toml")]
    pub fn from_toml_str(text: &str, source: Source) -> Result<Self, ConfigError> {
        document::toml(text, source)
    }

    /// Reads a YAML document.
    #[cfg(feature = "yaml")]
    pub fn from_yaml_str(text: &str, source: Source) -> Result<Self, ConfigError> {
        document::yaml(text, source)
    }

    /// Reads a file, in the format its extension names: `.json`, `.toml`
    /// (with the `toml` feature), `.yaml` or `.yml` (with the `yaml`
    /// feature).
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, ConfigError> {
        let path = path.as_ref();
        let source = Source::File(path.to_owned());
        let extension = path
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("")
            .to_ascii_lowercase();
        let read = |source: &Source| {
            std::fs::read_to_string(path).map_err(|error| document::syntax(source.clone(), error))
        };
        match extension.as_str() {
            "json" => document::json(&read(&source)?, source),
            #[cfg(feature = "toml")]
            "toml" => document::toml(&read(&source)?, source),
            #[cfg(feature = "yaml")]
            "yaml" | "yml" => document::yaml(&read(&source)?, source),
            other => Err(ConfigError::NotApplied {
                origin: source,
                problems: vec![Problem::general(format!(
                    "unsupported file extension `{other}`; supported: {}",
                    supported_extensions()
                ))],
            }),
        }
    }

    /// Reads every `RESIL_*` variable of the process's environment.
    pub fn from_env() -> Self {
        let vars = std::env::vars_os().filter_map(|(name, value)| {
            let name = name.into_string().ok()?;
            if !name.starts_with(PREFIX) {
                return None;
            }
            Some((name, value.to_string_lossy().into_owned()))
        });
        Self::from_vars(vars)
    }

    /// Reads `RESIL_*` variables from `vars` instead of the process's
    /// environment; other names are ignored. The source is still
    /// [`Source::Environment`].
    ///
    /// ```
    /// use resil::config::Overrides;
    ///
    /// let vars = [("RESIL_PAYMENTS_THRESHOLD", "3"), ("HOME", "/root")];
    /// assert_eq!(Overrides::from_vars(vars).len(), 1);
    /// ```
    pub fn from_vars<K, V>(vars: impl IntoIterator<Item = (K, V)>) -> Self
    where
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut overrides = Self::new(Source::Environment);
        for (name, value) in vars {
            let name = name.as_ref();
            if name.starts_with(PREFIX) {
                overrides.items.push(Item::Variable {
                    name: name.to_owned(),
                    value: value.as_ref().to_owned(),
                });
            }
        }
        overrides
    }
}

pub(crate) const PREFIX: &str = "RESIL_";

fn supported_extensions() -> &'static str {
    match (cfg!(feature = "toml"), cfg!(feature = "yaml")) {
        (true, true) => "`json`, `toml`, `yaml`, `yml`",
        (true, false) => "`json`, `toml` (enable the `yaml` feature for YAML)",
        (false, true) => "`json`, `yaml`, `yml` (enable the `toml` feature for TOML)",
        (false, false) => "`json` (enable the `toml` or `yaml` feature for those)",
    }
}

/// The kinds configuration can change, as their document sections.
pub(crate) const KINDS: [(&str, PolicyKind); 5] = [
    ("circuit_breaker", PolicyKind::CircuitBreaker),
    ("bulkhead", PolicyKind::Bulkhead),
    ("retry", PolicyKind::Retry),
    ("timeout", PolicyKind::Timeout),
    ("rate_limiter", PolicyKind::RateLimiter),
];

/// The kinds that can be switched off, as their document sections.
pub(crate) const SWITCHABLE: [&str; 3] = ["circuit_breaker", "bulkhead", "retry"];

pub(crate) fn kind_of_key(section: &str) -> Option<PolicyKind> {
    KINDS
        .iter()
        .find(|(key, _)| *key == section)
        .map(|(_, kind)| *kind)
}

pub(crate) fn key_of_kind(kind: PolicyKind) -> Option<&'static str> {
    KINDS.iter().find(|(_, k)| *k == kind).map(|(key, _)| *key)
}

pub(crate) fn kind_keys() -> String {
    KINDS
        .iter()
        .map(|(key, _)| format!("`{key}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The name this error had before configuration and policy errors became
/// one type: a configuration that was not applied is
/// [`ConfigError::NotApplied`].
#[deprecated(note = "use `resil::ConfigError`, which it now is")]
pub type InvalidConfig = ConfigError;

/// Reads a file and applies it as the file layer; see [`Overrides::from_file`].
///
/// ```no_run
/// resil::config::load_file("resil.toml").unwrap_or_else(|error| panic!("{error}"));
/// ```
pub fn load_file(path: impl AsRef<Path>) -> Result<(), ConfigError> {
    registry().apply(&Overrides::from_file(path)?)
}

/// Reads the `RESIL_*` environment variables and applies them as the
/// environment layer.
///
/// ```
/// resil::config::load_env().unwrap();
/// ```
pub fn load_env() -> Result<(), ConfigError> {
    registry().apply(&Overrides::from_env())
}
