//! Timeout: cuts a call short once it has run for a fixed time and fails it
//! with [`Error::Timeout`].
//!
//! The wait is `tokio::time::timeout`, so a paused test clock drives it and
//! the call's future is dropped (cancelled) when the time runs out: every
//! policy below it releases what it held, as for any cancelled call. The
//! call path adds one relaxed `fetch_add` and tokio's timer entry, which
//! lives inside the future and allocates nothing.
//!
//! A timeout is not a rejection: the dependency was called and did not
//! answer in time. Under the macros it reaches the layers above as the
//! function's own error type (`E::from(resil::Error::Timeout { .. })`), as
//! if the body had returned it, so a breaker above counts it as a failure,
//! a retry above retries it and a fallback above answers it.

use std::fmt;
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde::Serialize;

use crate::error::{ConfigError, Error, PolicyKind, PolicyName};
use crate::events::{self, EventKind};
use crate::outcome::Rejection;
use crate::sync::AtomicU64;

mod reconfigure;
pub(crate) use reconfigure::ROUTE;

/// Settings of a [`Timeout`].
///
/// ```
/// use std::time::Duration;
/// use resil::TimeoutConfig;
///
/// const LOOKUP: TimeoutConfig = TimeoutConfig::DEFAULT.duration(Duration::from_millis(250));
/// assert!(LOOKUP.validate("lookup").is_ok());
/// assert!(TimeoutConfig::DEFAULT.duration(Duration::ZERO).validate("lookup").is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TimeoutConfig {
    /// How long a call may run (default 10s).
    #[serde(serialize_with = "crate::duration::serialize")]
    pub duration: Duration,
}

impl TimeoutConfig {
    /// The default: 10s. `#[timeout]` always names its duration.
    pub const DEFAULT: Self = Self {
        duration: resil_rules::timeout::DEFAULT_DURATION,
    };

    /// Sets `duration`.
    pub const fn duration(mut self, limit: Duration) -> Self {
        self.duration = limit;
        self
    }

    /// Checks every value, naming the policy and the setting that is wrong.
    pub fn validate(&self, policy: &str) -> Result<(), ConfigError> {
        resil_rules::timeout::duration(self.duration)
            .map_err(|v| ConfigError::violated(PolicyKind::Timeout, policy, v, ""))
    }
}

impl Default for TimeoutConfig {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// A named timeout: its limit and how many calls ran out of time.
///
/// `#[timeout]` creates and registers these; [`call`](Self::call) uses one
/// directly:
///
/// ```
/// use std::time::Duration;
/// use resil::{TimeoutConfig, Timeout};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
/// let timeout = Timeout::new(
///     "doc-timeout",
///     TimeoutConfig::DEFAULT.duration(Duration::from_millis(100)),
/// )
/// .unwrap();
/// let slow = timeout
///     .call(async {
///         tokio::time::sleep(Duration::from_secs(1)).await;
///         Ok::<_, resil::Error>(1)
///     })
///     .await;
/// assert!(matches!(slow, Err(resil::Error::Timeout { .. })));
/// assert_eq!(timeout.snapshot().timeouts, 1);
/// # }
/// ```
pub struct Timeout {
    calls: AtomicU64,
    timeouts: AtomicU64,
    config: LiveTimeoutConfig,
    name: PolicyName,
}

/// The name [`Timeout`] had before every policy type was named for its
/// policy alone, like `CircuitBreaker` and `Bulkhead`.
#[deprecated(note = "renamed `resil::Timeout`")]
pub type TimeoutPolicy = Timeout;

/// Counts of one timeout at one moment.
///
/// ```
/// let timeout = resil::Timeout::new("timeout-snap-doc", Default::default()).unwrap();
/// assert_eq!(timeout.snapshot().calls, 0);
/// ```
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct TimeoutSnapshot {
    /// The timeout's name.
    pub name: PolicyName,
    /// Calls started under it.
    pub calls: u64,
    /// Of those, the ones it cut short.
    pub timeouts: u64,
    /// The settings in force.
    pub config: TimeoutConfig,
}

impl Timeout {
    /// A timeout that no registry knows of. Use
    /// [`Registry::register_timeout`](crate::Registry::register_timeout) for
    /// one that is shared by name.
    pub fn new(name: impl Into<PolicyName>, config: TimeoutConfig) -> Result<Self, ConfigError> {
        let name = name.into();
        config.validate(name.as_str())?;
        Ok(Self {
            calls: AtomicU64::new(0),
            timeouts: AtomicU64::new(0),
            config: LiveTimeoutConfig::new(&config),
            name,
        })
    }

    /// The timeout's name.
    pub fn name(&self) -> &PolicyName {
        &self.name
    }

    /// The settings in force.
    pub fn config(&self) -> TimeoutConfig {
        self.config.load()
    }

    /// Counts at this moment.
    pub fn snapshot(&self) -> TimeoutSnapshot {
        TimeoutSnapshot {
            name: self.name.clone(),
            calls: self.calls.load(Ordering::Relaxed),
            timeouts: self.timeouts.load(Ordering::Relaxed),
            config: self.config.load(),
        }
    }

    /// Zeroes the counters.
    pub fn reset(&self) {
        self.calls.store(0, Ordering::Relaxed);
        self.timeouts.store(0, Ordering::Relaxed);
    }

    /// Runs `call`, cancelling it after the configured duration; the
    /// timeout reaches the caller as `E` through `From<resil::Error>`.
    pub async fn call<T, E, F>(&self, call: F) -> Result<T, E>
    where
        F: Future<Output = Result<T, E>>,
        E: From<Error>,
    {
        let call = async { (call.await, Rejection::new()) };
        self.run(call, E::from).await.0
    }

    /// The macros' entry: a timeout becomes the function's own error
    /// (`convert` is `E::from`), so the layers above treat it as a failure
    /// of the call.
    ///
    /// The layers below come with the record of whether their error was a
    /// refusal (see `__private::Rejection`); a timeout is none. Generated
    /// code reaches it through `__private::TimeoutEntry`.
    pub(crate) async fn run<T, E, F, C>(&self, call: F, convert: C) -> (Result<T, E>, Rejection)
    where
        F: Future<Output = (Result<T, E>, Rejection)>,
        C: FnOnce(Error) -> E,
    {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let limit = self.config.duration();
        match tokio::time::timeout(limit, call).await {
            Ok(outcome) => outcome,
            Err(_elapsed) => (Err(convert(self.timed_out(limit))), Rejection::new()),
        }
    }

    #[cold]
    fn timed_out(&self, after: Duration) -> Error {
        self.timeouts.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(target: "resil", policy = %self.name, after_ms = after.as_millis() as u64, "call timed out");
        events::emit(
            &self.name,
            PolicyKind::Timeout,
            EventKind::TimedOut { after },
        );
        Error::Timeout {
            policy: self.name.clone(),
            after,
        }
    }
}

impl fmt::Debug for Timeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Timeout")
            .field("name", &self.name)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

crate::live::live_config! {
    /// A timeout's settings.
    LiveTimeoutConfig for TimeoutConfig {
        duration: Duration,
    }
}
