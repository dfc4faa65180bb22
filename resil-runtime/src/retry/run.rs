//! One call's attempts ([`RetryRun`]): after each failed attempt, whether
//! to try again and how long to wait ([`RetryStep`]), counted in the
//! policy's statistics and reported as events. The generated retry loop,
//! [`Retry::run`](super::Retry::run) and the tower layer all
//! step through it, so they decide alike.

use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::time::Instant;

use super::Retry;
use crate::error::PolicyKind;
use crate::events::{self, EventKind};
use crate::outcome::Rejection;

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
    pub(super) policy: &'a Retry,
    pub(super) attempt: u32,
    pub(super) previous_delay: Duration,
    /// When `max_elapsed` runs out; read from the clock only when it is set.
    pub(super) deadline: Option<Instant>,
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
    /// decides on those, and their own `retry_after` counts. Reached from
    /// outside the crate through `__private::RetryStepping`.
    #[inline]
    pub(crate) fn next_after<T, E, P, H, D>(
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
    #[inline]
    pub(crate) fn succeeded(&self) {
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
    pub(crate) fn after_failure<E, P, H, D>(
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
