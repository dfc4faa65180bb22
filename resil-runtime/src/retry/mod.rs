//! Retry: runs a failed call again after a growing, randomised wait.
//!
//! The loop itself is generated inline by `#[retry]` around the function's
//! body (no closure, so `&mut self` and borrowed arguments work); this
//! module decides, after each attempt, whether to try again and how long to
//! wait, and keeps the shared statistics of a named retry policy. An attempt
//! that succeeds first time costs one bump of a per-thread counter: the
//! generated loop takes the result apart and counts a success inline
//! ([`RetryRun::succeeded`]); only an error goes to the decision
//! ([`RetryRun::after_failure`]), by value. Lending the result to the
//! decision instead would take its address, and keep every result in
//! memory to be copied out (measured at about 10 ns a call).

mod config;
pub(crate) mod pause;
mod reconfigure;

use crate::sync::AtomicU64;
use std::fmt;
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde::Serialize;
use tokio::time::Instant;

pub use config::{Backoff, Jitter, RetryConfig};

use crate::counter::Counter;
use crate::error::{ConfigError, PolicyKind, PolicyName};
use crate::events::{self, EventKind};
use crate::outcome::Rejection;
pub(crate) use config::LiveRetryConfig;

/// A named retry policy: its settings and its statistics.
///
/// `#[retry]` creates and registers these; [`RetryPolicy::run`] drives one
/// directly:
///
/// ```
/// use std::sync::atomic::{AtomicU32, Ordering};
/// use resil::{RetryConfig, RetryPolicy};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
/// let policy = RetryPolicy::new("doc-retry", RetryConfig::DEFAULT.max_attempts(3)).unwrap();
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
pub struct RetryPolicy {
    counters: Counters,
    config: LiveRetryConfig,
    name: PolicyName,
}

/// `calls` is derived (first + after retry + failed) so that a success on
/// the first attempt costs one bump of a per-thread counter (no locked
/// instruction; see `crate::counter`).
#[derive(Debug, Default)]
struct Counters {
    succeeded_first: Counter,
    succeeded_after_retry: AtomicU64,
    failed: AtomicU64,
    exhausted: AtomicU64,
    retries: AtomicU64,
    deadline_reached: AtomicU64,
}

/// Statistics of one retry policy at one moment.
///
/// ```
/// let policy = resil::RetryPolicy::new("retry-snap-doc", Default::default()).unwrap();
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

/// What to do after an attempt.
#[derive(Debug)]
pub enum RetryStep<R> {
    /// Stop and return this.
    Done(R),
    /// Wait this long, then try again.
    Retry(Duration),
}

/// The state of one call's attempts.
#[derive(Debug)]
pub struct RetryRun<'a> {
    policy: &'a RetryPolicy,
    attempt: u32,
    previous_delay: Duration,
    /// When `max_elapsed` runs out; read from the clock only when it is set.
    deadline: Option<Instant>,
}

impl RetryPolicy {
    /// A policy that no registry knows of.
    pub fn new(name: impl Into<PolicyName>, config: RetryConfig) -> Result<Self, ConfigError> {
        let name = name.into();
        config.validate(name.as_str())?;
        Ok(Self {
            counters: Counters::default(),
            config: LiveRetryConfig::new(&config),
            name,
        })
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
            Jitter::Full => uniform(Duration::ZERO, base),
            Jitter::Equal => base / 2 + uniform(Duration::ZERO, base - base / 2),
            Jitter::Decorrelated => {
                let upper = previous.max(config.initial).saturating_mul(3);
                uniform(config.initial, upper)
            }
        };
        delay.min(config.max_delay)
    }
}

fn uniform(low: Duration, high: Duration) -> Duration {
    if high <= low {
        return low;
    }
    let span = (high - low).as_nanos().min(u128::from(u64::MAX)) as u64;
    low + Duration::from_nanos(rand::random_range(0..=span))
}

impl RetryRun<'_> {
    /// The attempt about to run or just run, from 1.
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// The wait before the current attempt (zero before the first).
    #[cfg(feature = "tower")]
    pub(crate) fn previous_delay(&self) -> Duration {
        self.previous_delay
    }

    /// When `max_elapsed` runs out for this call, if it is set.
    #[cfg(feature = "tower")]
    pub(crate) fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// Decides what follows an attempt that gave `result`. `retry_if` picks
    /// which errors are retried; `describe` renders one for the log.
    #[inline]
    pub fn next<T, E, P, D>(
        &mut self,
        result: Result<T, E>,
        retry_if: P,
        describe: D,
    ) -> RetryStep<Result<T, E>>
    where
        P: Fn(&E) -> bool,
        D: Fn(&E) -> Option<String>,
    {
        self.next_hinted(result, retry_if, crate::outcome::no_retry_after, describe)
    }

    /// [`next`](Self::next), honouring the wait an error asks for.
    ///
    /// `retry_after` reads it from the errors (a 429 or 503 with a
    /// `Retry-After` header). When that wait is longer than the backoff's,
    /// it is used instead, even beyond `max_delay`: the server knows when
    /// it will answer. `max_elapsed` still bounds it: a wait that would end
    /// past the deadline ends the retries instead, and the caller gets the
    /// error, which still says when to come back.
    #[inline]
    pub fn next_hinted<T, E, P, H, D>(
        &mut self,
        result: Result<T, E>,
        retry_if: P,
        retry_after: H,
        describe: D,
    ) -> RetryStep<Result<T, E>>
    where
        P: Fn(&E) -> bool,
        H: Fn(&E) -> Option<Duration>,
        D: Fn(&E) -> Option<String>,
    {
        self.next_after(result, Rejection::new(), retry_if, retry_after, describe)
    }

    /// [`next_hinted`](Self::next_hinted) for an error that may be an
    /// inner policy's refusal, as `rejection` says: `retry_rejections`
    /// decides on those, and their own `retry_after` counts.
    #[doc(hidden)]
    #[inline]
    pub fn next_after<T, E, P, H, D>(
        &mut self,
        result: Result<T, E>,
        rejection: Rejection,
        retry_if: P,
        retry_after: H,
        describe: D,
    ) -> RetryStep<Result<T, E>>
    where
        P: Fn(&E) -> bool,
        H: Fn(&E) -> Option<Duration>,
        D: Fn(&E) -> Option<String>,
    {
        match result {
            Ok(value) => {
                self.succeeded();
                RetryStep::Done(Ok(value))
            }
            Err(error) => {
                match self.after_failure(error, rejection, retry_if, retry_after, describe) {
                    RetryStep::Done(error) => RetryStep::Done(Err(error)),
                    RetryStep::Retry(delay) => RetryStep::Retry(delay),
                }
            }
        }
    }

    /// The attempt succeeded: counted; the run is over.
    #[doc(hidden)]
    #[inline]
    pub fn succeeded(&self) {
        let counters = &self.policy.counters;
        if self.attempt == 1 {
            counters.succeeded_first.increment();
        } else {
            counters
                .succeeded_after_retry
                .fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The macros' decision after a failed attempt, taking the error by
    /// value: `Done(error)` hands it back to be returned, `Retry(delay)`
    /// drops it. By value, so that the caller's result never has its
    /// address taken, which would keep a successful result in memory and
    /// cost every call a copy.
    #[doc(hidden)]
    pub fn after_failure<E, P, H, D>(
        &mut self,
        error: E,
        rejection: Rejection,
        retry_if: P,
        retry_after: H,
        describe: D,
    ) -> RetryStep<E>
    where
        P: Fn(&E) -> bool,
        H: Fn(&E) -> Option<Duration>,
        D: Fn(&E) -> Option<String>,
    {
        match self.failed(&error, rejection, retry_if, retry_after, describe) {
            RetryStep::Done(()) => RetryStep::Done(error),
            RetryStep::Retry(delay) => RetryStep::Retry(delay),
        }
    }

    fn failed<E, P, H, D>(
        &mut self,
        error: &E,
        rejection: Rejection,
        retry_if: P,
        retry_after: H,
        describe: D,
    ) -> RetryStep<()>
    where
        P: Fn(&E) -> bool,
        H: Fn(&E) -> Option<Duration>,
        D: Fn(&E) -> Option<String>,
    {
        let counters = &self.policy.counters;
        let retryable = if rejection.is_set() {
            self.policy.config.retry_rejections()
        } else {
            retry_if(error)
        };
        // Switched off by configuration: the first attempt is the only one.
        if !retryable || !crate::switch::retries() {
            self.finish_failed(false);
            return RetryStep::Done(());
        }
        let described = describe(error);
        if self.attempt >= self.policy.config.max_attempts() {
            self.finish_failed(true);
            tracing::warn!(target: "resil", policy = %self.policy.name, attempts = self.attempt, error = described.as_deref().unwrap_or("?"), "retries exhausted");
            #[cfg(feature = "metrics")]
            crate::meter::retries_exhausted(&self.policy.name);
            self.announce_gave_up();
            return RetryStep::Done(());
        }
        let backoff = self.policy.delay(self.attempt, self.previous_delay);
        let hinted = if rejection.is_set() {
            rejection.retry_after()
        } else {
            retry_after(error)
        };
        let delay = hinted.map_or(backoff, |hinted| hinted.max(backoff));
        if let Some(deadline) = self.deadline
            && Instant::now()
                .checked_add(delay)
                .is_none_or(|end| end > deadline)
        {
            self.finish_failed(false);
            counters.deadline_reached.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(target: "resil", policy = %self.policy.name, attempts = self.attempt, delay_ms = delay.as_millis() as u64, error = described.as_deref().unwrap_or("?"), "retry deadline reached");
            self.announce_gave_up();
            return RetryStep::Done(());
        }
        counters.retries.fetch_add(1, Ordering::Relaxed);
        #[cfg(feature = "metrics")]
        crate::meter::retry(&self.policy.name, self.attempt + 1);
        tracing::info!(target: "resil", policy = %self.policy.name, attempt = self.attempt, delay_ms = delay.as_millis() as u64, error = described.as_deref().unwrap_or("?"), "retrying");
        events::emit(
            &self.policy.name,
            PolicyKind::Retry,
            EventKind::Retry {
                attempt: self.attempt,
                delay,
            },
        );
        self.attempt += 1;
        self.previous_delay = delay;
        RetryStep::Retry(delay)
    }

    /// Tells subscribers this call stops retrying with an error.
    fn announce_gave_up(&self) {
        events::emit(
            &self.policy.name,
            PolicyKind::Retry,
            EventKind::RetriesExhausted {
                attempts: self.attempt,
            },
        );
    }

    fn finish_failed(&self, exhausted: bool) {
        let counters = &self.policy.counters;
        counters.failed.fetch_add(1, Ordering::Relaxed);
        if exhausted {
            counters.exhausted.fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl fmt::Debug for RetryPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryPolicy")
            .field("name", &self.name)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}
