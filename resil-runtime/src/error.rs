//! The error a rejected call carries, and the error a bad configuration or
//! registry look-up gives.

use std::borrow::Borrow;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use serde::{Serialize, Serializer};

pub use crate::origin::PolicyKind;
use crate::origin::{Problem, Source};

/// The name of a registered policy.
///
/// Names written in code are `&'static str` and cost nothing to copy into an
/// [`Error`]; names made at run time share one allocation. Either way a
/// rejection never allocates.
///
/// ```
/// let name = resil::PolicyName::from_static("payments");
/// assert_eq!(name.as_str(), "payments");
/// assert_eq!(name, resil::PolicyName::from(String::from("payments")));
/// ```
#[derive(Clone)]
pub struct PolicyName(NameRepr);

#[derive(Clone)]
enum NameRepr {
    Static(&'static str),
    Shared(Arc<str>),
}

impl PolicyName {
    /// A name known at compile time.
    pub const fn from_static(name: &'static str) -> Self {
        Self(NameRepr::Static(name))
    }

    /// The name as a string slice.
    pub fn as_str(&self) -> &str {
        match &self.0 {
            NameRepr::Static(name) => name,
            NameRepr::Shared(name) => name,
        }
    }
}

impl From<&'static str> for PolicyName {
    fn from(name: &'static str) -> Self {
        Self::from_static(name)
    }
}

impl From<String> for PolicyName {
    fn from(name: String) -> Self {
        Self(NameRepr::Shared(name.into()))
    }
}

impl AsRef<str> for PolicyName {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl Borrow<str> for PolicyName {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq for PolicyName {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for PolicyName {}

impl PartialEq<str> for PolicyName {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for PolicyName {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl Hash for PolicyName {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl PartialOrd for PolicyName {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for PolicyName {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

#[cfg(feature = "metrics")]
impl PolicyName {
    /// The name as a metric label value, without copying the string.
    pub(crate) fn to_label(&self) -> ::metrics::SharedString {
        match &self.0 {
            NameRepr::Static(name) => ::metrics::SharedString::from(*name),
            NameRepr::Shared(name) => ::metrics::SharedString::from(Arc::clone(name)),
        }
    }
}

impl fmt::Display for PolicyName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for PolicyName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl Serialize for PolicyName {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// Why a policy refused or cut short a call.
///
/// The function a policy protects returns `Result<T, E>` with
/// `E: From<resil::Error>`, so rejections reach the caller as the caller's
/// own error type; keep a `#[from] resil::Error` variant in it.
///
/// ```
/// use std::time::Duration;
/// let err = resil::Error::CircuitOpen {
///     policy: "payments".into(),
///     retry_after: Duration::from_secs(30),
/// };
/// assert_eq!(err.http_status(), 503);
/// assert_eq!(err.retry_after(), Some(Duration::from_secs(30)));
/// assert_eq!(err.policy().as_str(), "payments");
/// assert_eq!(err.to_string(), "circuit breaker `payments` is open; retry after 30s");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The circuit breaker is open (or half-open with every trial slot taken).
    #[error("circuit breaker `{policy}` is open; retry after {}", crate::duration::display_for_people(*retry_after))]
    CircuitOpen {
        /// The breaker's name.
        policy: PolicyName,
        /// How long until the breaker lets a trial call through.
        retry_after: Duration,
    },
    /// Every slot of the bulkhead is taken and its queue is full, or the wait
    /// for a slot ran out.
    #[error("bulkhead `{policy}` is full ({max_concurrent} running, queue of {queue})")]
    BulkheadFull {
        /// The bulkhead's name.
        policy: PolicyName,
        /// How many calls it runs at once.
        max_concurrent: u32,
        /// How many calls may wait.
        queue: u32,
    },
    /// The call took longer than its timeout allows.
    #[error("`{policy}` timed out after {}", crate::duration::display_for_people(*after))]
    Timeout {
        /// The timeout's name.
        policy: PolicyName,
        /// The limit that ran out.
        after: Duration,
    },
    /// The rate limiter has no quota left.
    #[error("rate limiter `{policy}` is exhausted; retry after {}", crate::duration::display_for_people(*retry_after))]
    RateLimited {
        /// The rate limiter's name.
        policy: PolicyName,
        /// When quota will be free again.
        retry_after: Duration,
    },
}

impl Error {
    /// The name of the policy that produced this error.
    pub fn policy(&self) -> &PolicyName {
        match self {
            Self::CircuitOpen { policy, .. }
            | Self::BulkheadFull { policy, .. }
            | Self::Timeout { policy, .. }
            | Self::RateLimited { policy, .. } => policy,
        }
    }

    /// The kind of policy that produced this error.
    pub fn kind(&self) -> PolicyKind {
        match self {
            Self::CircuitOpen { .. } => PolicyKind::CircuitBreaker,
            Self::BulkheadFull { .. } => PolicyKind::Bulkhead,
            Self::Timeout { .. } => PolicyKind::Timeout,
            Self::RateLimited { .. } => PolicyKind::RateLimiter,
        }
    }

    /// When it makes sense to try again, if the policy knows.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::CircuitOpen { retry_after, .. } | Self::RateLimited { retry_after, .. } => {
                Some(*retry_after)
            }
            Self::BulkheadFull { .. } | Self::Timeout { .. } => None,
        }
    }

    /// The HTTP status an API gateway answers with for this error: 503 for an
    /// open circuit, 429 for a full bulkhead or an exhausted rate limit, 504
    /// for a timeout. [`ErrorResponse`](crate::http::ErrorResponse) builds the
    /// whole response (headers and JSON body).
    pub fn http_status(&self) -> u16 {
        match self {
            Self::CircuitOpen { .. } => 503,
            Self::BulkheadFull { .. } | Self::RateLimited { .. } => 429,
            Self::Timeout { .. } => 504,
        }
    }

    /// Whether a policy refused the call without running it (as opposed to
    /// cutting it short, as a timeout does).
    pub fn is_rejection(&self) -> bool {
        !matches!(self, Self::Timeout { .. })
    }

    /// A short, stable, `snake_case` code for the error, as the `error` field
    /// of [`ErrorResponse`](crate::http::ErrorResponse)'s JSON body:
    /// `circuit_open`, `bulkhead_full`, `timeout` or `rate_limited`.
    ///
    /// ```
    /// let err = resil::Error::Timeout { policy: "search".into(), after: Default::default() };
    /// assert_eq!(err.code(), "timeout");
    /// ```
    pub fn code(&self) -> &'static str {
        match self {
            Self::CircuitOpen { .. } => "circuit_open",
            Self::BulkheadFull { .. } => "bulkhead_full",
            Self::Timeout { .. } => "timeout",
            Self::RateLimited { .. } => "rate_limited",
        }
    }

    /// [`retry_after`](Self::retry_after) in whole seconds, rounded up and at
    /// least 1: the value of an HTTP `Retry-After` header. Rounding up never
    /// invites a client back before the policy would let it through, and a
    /// half-open breaker whose trial slots are all taken (a `retry_after` of
    /// zero) still asks for a pause rather than an immediate retry storm.
    ///
    /// ```
    /// use std::time::Duration;
    /// let open = |ms| resil::Error::CircuitOpen {
    ///     policy: "payments".into(),
    ///     retry_after: Duration::from_millis(ms),
    /// };
    /// assert_eq!(open(29_001).retry_after_secs(), Some(30));
    /// assert_eq!(open(0).retry_after_secs(), Some(1));
    /// assert_eq!(open(30_000).retry_after_header().as_deref(), Some("30"));
    /// ```
    pub fn retry_after_secs(&self) -> Option<u64> {
        self.retry_after().map(retry_after_secs)
    }

    /// [`retry_after_secs`](Self::retry_after_secs) formatted for an HTTP
    /// `Retry-After` header (delay-seconds form).
    pub fn retry_after_header(&self) -> Option<String> {
        self.retry_after_secs().map(|secs| secs.to_string())
    }
}

/// Whole seconds, rounded up, at least 1.
pub(crate) fn retry_after_secs(after: Duration) -> u64 {
    let secs = after.as_secs();
    let secs = if after.subsec_nanos() > 0 {
        secs.saturating_add(1)
    } else {
        secs
    };
    secs.max(1)
}

/// What is wrong with a configuration value or a registry request.
///
/// Returned, never panicked: every operation that can fail on user input
/// leaves every policy as it was and says here what was wrong.
///
/// ```
/// let err = resil::registry().circuit_breaker("no-such-policy").unwrap_err();
/// assert!(matches!(err, resil::ConfigError::UnknownPolicy { .. }));
/// assert!(err.to_string().contains("no-such-policy"));
/// ```
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// No policy of that kind has that name.
    #[error("no {kind} named `{name}` is registered{}", known_list(known))]
    UnknownPolicy {
        /// The kind asked for.
        kind: PolicyKind,
        /// The name asked for.
        name: String,
        /// The names that are registered for that kind.
        known: Vec<String>,
    },
    /// A setting is out of range or contradicts another.
    #[error("{kind} `{policy}`: `{key}` {reason}")]
    InvalidValue {
        /// The kind of policy.
        kind: PolicyKind,
        /// The policy's name.
        policy: String,
        /// The setting.
        key: &'static str,
        /// What is wrong with it, and what is allowed.
        reason: String,
    },
    /// Two declarations give one name different settings. The first one
    /// registered stays in force.
    #[error(
        "{kind} `{name}` is declared twice with different settings: in force {in_force}; ignored {ignored}"
    )]
    Conflict {
        /// The kind of policy.
        kind: PolicyKind,
        /// The shared name.
        name: String,
        /// The settings registered first, which stay in force.
        in_force: String,
        /// The settings that were not applied.
        ignored: String,
    },
    /// A configuration source (a file, a document, the environment, a
    /// change made while the program runs) was not applied, and nothing
    /// changed: every problem found, each naming its policy and key.
    ///
    /// ```
    /// use resil::config::{Overrides, Source};
    ///
    /// let error = Overrides::from_json_str("{ not json", Source::named("inline")).unwrap_err();
    /// assert!(error.to_string().starts_with("inline: configuration not applied"), "{error}");
    /// assert_eq!(error.origin(), Some(&Source::named("inline")));
    /// ```
    #[error("{}", not_applied(origin, problems))]
    NotApplied {
        /// Where the configuration came from.
        origin: Source,
        /// Every problem found, in the order found.
        problems: Vec<Problem>,
    },
}

impl ConfigError {
    /// Where the configuration came from, for a source that was not
    /// applied; `None` for settings given in code.
    pub fn origin(&self) -> Option<&Source> {
        match self {
            ConfigError::NotApplied { origin, .. } => Some(origin),
            _ => None,
        }
    }

    /// Every problem this error reports: the list of a source that was not
    /// applied, or this one error as a problem.
    pub fn problems(&self) -> Vec<Problem> {
        match self {
            ConfigError::NotApplied { problems, .. } => problems.clone(),
            ConfigError::InvalidValue {
                kind,
                policy,
                key,
                reason,
            } => vec![Problem {
                kind: Some(*kind),
                policy: Some(policy.clone()),
                key: Some((*key).to_owned()),
                message: reason.clone(),
            }],
            other => vec![Problem::general(other.to_string())],
        }
    }

    /// A broken rule of `resil_rules` as the error of policy `policy`:
    /// the rule's key and message, then `detail` (the value found, say).
    pub(crate) fn violated(
        kind: PolicyKind,
        policy: &str,
        violation: resil_rules::Violation,
        detail: &str,
    ) -> Self {
        ConfigError::InvalidValue {
            kind,
            policy: policy.to_owned(),
            key: violation.key,
            reason: format!("{}{detail}", violation.message),
        }
    }
}

fn not_applied(origin: &Source, problems: &[Problem]) -> String {
    let mut text = format!("{origin}: configuration not applied, nothing changed");
    match problems {
        [one] => text.push_str(&format!(": {one}")),
        many => {
            for problem in many {
                text.push_str(&format!("\n  - {problem}"));
            }
        }
    }
    text
}

fn known_list(known: &[String]) -> String {
    if known.is_empty() {
        String::new()
    } else {
        format!(" (registered: {})", known.join(", "))
    }
}
