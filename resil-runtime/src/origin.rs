//! The vocabulary of [`ConfigError`](crate::ConfigError): the kinds of
//! policy, where configuration comes from and what can be wrong with it.
//! It sits with the primitives, below every policy, so that one error type
//! serves a policy built in code, a run-time change and a file alike; the
//! configuration layer re-exports `Source`, `Layer` and `Problem` as
//! `resil::config::{Source, Layer, Problem}`.

use std::fmt;
use std::path::PathBuf;

use serde::Serialize;

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

/// The kinds of policy resil provides.
///
/// ```
/// assert_eq!(resil::PolicyKind::CircuitBreaker.to_string(), "circuit breaker");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum PolicyKind {
    /// [`CircuitBreaker`](crate::CircuitBreaker).
    CircuitBreaker,
    /// [`Bulkhead`](crate::Bulkhead).
    Bulkhead,
    /// [`Retry`](crate::Retry).
    Retry,
    /// A rate limiter.
    RateLimiter,
    /// A timeout.
    Timeout,
}

impl fmt::Display for PolicyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::CircuitBreaker => "circuit breaker",
            Self::Bulkhead => "bulkhead",
            Self::Retry => "retry",
            Self::RateLimiter => "rate limiter",
            Self::Timeout => "timeout",
        })
    }
}
