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
//! ```toml
//! [circuit_breaker.payments]
//! threshold = 3
//! timeout = "30s"
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
//! [`InvalidConfig`] that names the source, the policy, the key and what is
//! valid, and every policy stays as it was.
//!
//! ```
//! use resil::config::{Overrides, Source};
//! use resil::{CircuitBreakerConfig, PolicyKind, registry};
//!
//! registry().register_circuit_breaker("config-doc", CircuitBreakerConfig::DEFAULT).unwrap();
//! let file = Overrides::from_json_str(
//!     r#"{ "circuit_breaker": { "config-doc": { "threshold": 3, "timeout": "30s" } } }"#,
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

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

pub use crate::schema::Value;
pub use report::{PolicyConfiguration, SettingValue};

use crate::error::PolicyKind;
use crate::registry::registry;

/// Where configuration came from: named in every error about it.
///
/// ```
/// use resil::config::{Layer, Source};
///
/// assert_eq!(Source::Environment.to_string(), "environment");
/// assert_eq!(Source::File("resil.toml".into()).layer(), Layer::File);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Source {
    /// A file, by its path.
    File(PathBuf),
    /// A document that did not come from a file, under a name the program
    /// gave it. It counts as a file.
    Document(String),
    /// Environment variables.
    Environment,
    /// A change made while the program runs.
    Runtime,
}

impl Source {
    /// A document under a name of your choosing.
    pub fn named(name: impl Into<String>) -> Self {
        Source::Document(name.into())
    }

    /// The layer this source's settings take their place in.
    pub fn layer(&self) -> Layer {
        match self {
            Source::File(_) | Source::Document(_) => Layer::File,
            Source::Environment => Layer::Environment,
            Source::Runtime => Layer::Runtime,
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::File(path) => write!(f, "{}", path.display()),
            Source::Document(name) => f.write_str(name),
            Source::Environment => f.write_str("environment"),
            Source::Runtime => f.write_str("runtime"),
        }
    }
}

/// The layers a setting can come from, lowest first: a higher layer
/// overrides a lower one whatever the order they were loaded in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Layer {
    /// The attribute or declaration in the source code.
    Code,
    /// A configuration document.
    File,
    /// Environment variables.
    Environment,
    /// A change made while the program runs.
    Runtime,
}

impl Layer {
    /// The layers above code, in order.
    pub(crate) const OVERRIDES: [Layer; 3] = [Layer::File, Layer::Environment, Layer::Runtime];

    pub(crate) fn index(self) -> usize {
        match self {
            Layer::Code | Layer::File => 0,
            Layer::Environment => 1,
            Layer::Runtime => 2,
        }
    }
}

impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Layer::Code => "code",
            Layer::File => "file",
            Layer::Environment => "environment",
            Layer::Runtime => "runtime",
        })
    }
}

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
    pub fn from_json_str(text: &str, source: Source) -> Result<Self, InvalidConfig> {
        document::json(text, source)
    }

    /// Reads a TOML document.
    #[cfg(feature = "toml")]
    pub fn from_toml_str(text: &str, source: Source) -> Result<Self, InvalidConfig> {
        document::toml(text, source)
    }

    /// Reads a YAML document.
    #[cfg(feature = "yaml")]
    pub fn from_yaml_str(text: &str, source: Source) -> Result<Self, InvalidConfig> {
        document::yaml(text, source)
    }

    /// Reads a file, in the format its extension names: `.json`, `.toml`
    /// (with the `toml` feature), `.yaml` or `.yml` (with the `yaml`
    /// feature).
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, InvalidConfig> {
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
            other => Err(InvalidConfig {
                source,
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

/// Configuration that was not applied, and why. Nothing changed.
///
/// ```
/// use resil::config::{Overrides, Source};
///
/// let error = Overrides::from_json_str("{ not json", Source::named("inline")).unwrap_err();
/// assert!(error.to_string().starts_with("inline: configuration not applied"), "{error}");
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct InvalidConfig {
    /// Where the configuration came from.
    pub source: Source,
    /// Every problem found, in the order found.
    pub problems: Vec<Problem>,
}

impl fmt::Display for InvalidConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: configuration not applied, nothing changed",
            self.source
        )?;
        match self.problems.as_slice() {
            [one] => write!(f, ": {one}"),
            many => {
                for problem in many {
                    write!(f, "\n  - {problem}")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for InvalidConfig {}

/// One thing wrong with a configuration source.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Problem {
    /// The kind of policy, when the problem concerns one.
    pub kind: Option<PolicyKind>,
    /// The policy's name, when the problem concerns one.
    pub policy: Option<String>,
    /// The setting, when the problem concerns one.
    pub key: Option<String>,
    /// What is wrong, and what would be valid.
    pub message: String,
}

impl Problem {
    pub(crate) fn general(message: String) -> Self {
        Self {
            kind: None,
            policy: None,
            key: None,
            message,
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.kind, &self.policy) {
            (Some(kind), Some(policy)) => write!(f, "{kind} `{policy}`")?,
            (Some(kind), None) => write!(f, "{kind}")?,
            (None, Some(policy)) => write!(f, "`{policy}`")?,
            (None, None) => {}
        }
        match (&self.key, self.kind.is_some() || self.policy.is_some()) {
            (Some(key), true) => write!(f, ", `{key}`: ")?,
            (Some(key), false) => write!(f, "`{key}`: ")?,
            (None, true) => f.write_str(": ")?,
            (None, false) => {}
        }
        f.write_str(&self.message)
    }
}

/// Reads a file and applies it as the file layer; see [`Overrides::from_file`].
///
/// ```no_run
/// resil::config::load_file("resil.toml").unwrap_or_else(|error| panic!("{error}"));
/// ```
pub fn load_file(path: impl AsRef<Path>) -> Result<(), InvalidConfig> {
    registry().apply(&Overrides::from_file(path)?)
}

/// Reads the `RESIL_*` environment variables and applies them as the
/// environment layer.
///
/// ```
/// resil::config::load_env().unwrap();
/// ```
pub fn load_env() -> Result<(), InvalidConfig> {
    registry().apply(&Overrides::from_env())
}
