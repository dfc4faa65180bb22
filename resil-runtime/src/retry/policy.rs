//! The [`Retry`] type: a named policy's settings and statistics,
//! the backoff each attempt waits, and the ways to drive it directly
//! (`run`, `call`). The step-by-step decision of one call is `run.rs`.

use crate::sync::AtomicU64;
use std::fmt;
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde::Serialize;
use tokio::time::Instant;

use super::jitter_source::JitterSource;
use super::{Jitter, LiveRetryConfig, RetryConfig, RetryRun, RetryStep, pause};
use crate::counter::Counter;
use crate::error::{ConfigError, PolicyName};

/// A named retry policy: its settings and its statistics.
///
/// `#[retry]` creates and registers these; [`Retry::run`] drives one
/// directly:
///
/// ```
/// use std::sync::atomic::{AtomicU32, Ordering};
/// use resil::{RetryConfig, Retry};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
/// let policy = Retry::new("doc-retry", RetryConfig::DEFAULT.max_attempts(3)).unwrap();
/// let calls = AtomicU32::new(0);
/// let result: Result<u32, resil::Error> = policy
///     .run(|| async {
///         match calls.fetch_add(1, Ordering::SeqCst) {
///             0 | 1 => Err(resil::Error::Timeout { policy: "x".into(), after: Default::default() }),
///             n => Ok(n),
///         }
///     })
///     .await;
/// assert_eq!(result.unwrap(), 2);
/// assert_eq!(policy.snapshot().retries, 2);
/// # }
/// ```
pub struct Retry {
    pub(super) counters: Counters,
    pub(super) config: LiveRetryConfig,
    jitter: JitterSource,
    pub(super) name: PolicyName,
}

/// `calls` is derived (first + after retry + failed) so that a success on
/// the first attempt costs one bump of a per-thread counter (no locked
/// instruction; see `crate::counter`).
#[derive(Debug, Default)]
pub(super) struct Counters {
    pub(super) succeeded_first: Counter,
    pub(super) succeeded_after_retry: AtomicU64,
    pub(super) failed: AtomicU64,
    pub(super) exhausted: AtomicU64,
    pub(super) retries: AtomicU64,
    pub(super) deadline_reached: AtomicU64,
}

/// Statistics of one retry policy at one moment.
///
/// ```
/// let policy = resil::Retry::new("retry-snap-doc", Default::default()).unwrap();
/// assert_eq!(policy.snapshot().calls, 0);
/// ```
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct RetrySnapshot {
    /// The policy's name.
    pub name: PolicyName,
    /// Calls that finished.
    pub calls: u64,
    /// Calls that succeeded on the first attempt.
    pub succeeded_first: u64,
    /// Calls that succeeded after one or more retries.
    pub succeeded_after_retry: u64,
    /// Calls that ended in an error (not retryable, or attempts exhausted).
    pub failed: u64,
    /// Of those, the ones that used every attempt.
    pub exhausted: u64,
    /// Attempts after the first, in all.
    pub retries: u64,
    /// Of the failed calls, the ones stopped by `max_elapsed` before their
    /// attempts ran out.
    pub deadline_reached: u64,
    /// The settings in force.
    pub config: RetryConfig,
}

impl Retry {
    /// A policy that no registry knows of.
    pub fn new(name: impl Into<PolicyName>, config: RetryConfig) -> Result<Self, ConfigError> {
        let name = name.into();
        config.validate(name.as_str())?;
        Ok(Self {
            counters: Counters::default(),
            config: LiveRetryConfig::new(&config),
            jitter: JitterSource::default(),
            name,
        })
    }

    /// Makes this policy's jitter a fixed sequence that `seed` determines,
    /// so that a test (or a replayed failure) sees the same waits on every
    /// run. Without it, jitter comes from the thread's generator, seeded
    /// differently in every process. Takes `&self`, so a policy that a
    /// registry holds can be seeded too.
    ///
    /// ```
    /// use std::time::Duration;
    /// use resil::{Jitter, RetryConfig, Retry};
    ///
    /// let config = RetryConfig::DEFAULT.jitter(Jitter::Full);
    /// let (a, b) = (
    ///     Retry::new("seeded-a", config).unwrap(),
    ///     Retry::new("seeded-b", config).unwrap(),
    /// );
    /// a.seed_jitter(42);
    /// b.seed_jitter(42);
    /// for attempt in 1..=5 {
    ///     assert_eq!(a.delay(attempt, Duration::ZERO), b.delay(attempt, Duration::ZERO));
    /// }
    /// ```
    pub fn seed_jitter(&self, seed: u64) {
        self.jitter.seed(seed);
    }

    /// The policy's name.
    pub fn name(&self) -> &PolicyName {
        &self.name
    }

    /// The settings in force.
    pub fn config(&self) -> RetryConfig {
        self.config.load()
    }

    /// Starts the attempts of one call.
    #[inline]
    pub fn start(&self) -> RetryRun<'_> {
        RetryRun {
            policy: self,
            attempt: 1,
            previous_delay: Duration::ZERO,
            deadline: self
                .config
                .max_elapsed()
                .and_then(|elapsed| Instant::now().checked_add(elapsed)),
        }
    }

    /// A run that already made `attempt - 1` attempts, the last wait being
    /// `previous_delay`, under the `deadline` its first attempt set: for
    /// futures that own their policy and so cannot keep a [`RetryRun`]
    /// across polls.
    #[cfg(feature = "tower")]
    pub(crate) fn resume(
        &self,
        attempt: u32,
        previous_delay: Duration,
        deadline: Option<Instant>,
    ) -> RetryRun<'_> {
        RetryRun {
            policy: self,
            attempt,
            previous_delay,
            deadline,
        }
    }

    /// Calls `attempt` until it succeeds, returns an error that is not
    /// retried, or the attempts run out; returns the last result unchanged.
    /// Every error is retried.
    pub async fn run<T, E, F, Fut>(&self, mut attempt: F) -> Result<T, E>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let mut run = self.start();
        loop {
            let result = attempt().await;
            match run.next(result, crate::outcome::always, |_| None) {
                RetryStep::Done(result) => return result,
                RetryStep::Retry(delay) => pause::sleep(delay).await,
            }
        }
    }

    /// Statistics at this moment.
    pub fn snapshot(&self) -> RetrySnapshot {
        let c = &self.counters;
        let succeeded_first = c.succeeded_first.get();
        let succeeded_after_retry = c.succeeded_after_retry.load(Ordering::Relaxed);
        let failed = c.failed.load(Ordering::Relaxed);
        RetrySnapshot {
            name: self.name.clone(),
            calls: succeeded_first + succeeded_after_retry + failed,
            succeeded_first,
            succeeded_after_retry,
            failed,
            exhausted: c.exhausted.load(Ordering::Relaxed),
            retries: c.retries.load(Ordering::Relaxed),
            deadline_reached: c.deadline_reached.load(Ordering::Relaxed),
            config: self.config.load(),
        }
    }

    /// Zeroes the statistics.
    pub fn reset(&self) {
        let c = &self.counters;
        c.succeeded_first.reset();
        for counter in [
            &c.succeeded_after_retry,
            &c.failed,
            &c.exhausted,
            &c.retries,
            &c.deadline_reached,
        ] {
            counter.store(0, Ordering::Relaxed);
        }
    }

    /// The wait after failed attempt `attempt`, jitter applied; `previous`
    /// is the wait before that attempt (zero before the first).
    pub fn delay(&self, attempt: u32, previous: Duration) -> Duration {
        let config = &self.config.load();
        let base = config.base_delay(attempt);
        let delay = match config.jitter {
            Jitter::None => base,
            Jitter::Full => self.uniform(Duration::ZERO, base),
            Jitter::Equal => base / 2 + self.uniform(Duration::ZERO, base - base / 2),
            Jitter::Decorrelated => {
                let upper = previous.max(config.initial).saturating_mul(3);
                self.uniform(config.initial, upper)
            }
        };
        delay.min(config.max_delay)
    }

    fn uniform(&self, low: Duration, high: Duration) -> Duration {
        if high <= low {
            return low;
        }
        let span = (high - low).as_nanos().min(u128::from(u64::MAX)) as u64;
        low + Duration::from_nanos(self.jitter.up_to(span))
    }
}

impl fmt::Debug for Retry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Retry")
            .field("name", &self.name)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}
