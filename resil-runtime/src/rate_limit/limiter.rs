//! The [`RateLimiter`] type: the theoretical arrival time in one atomic,
//! the interval and burst derived from the settings, taking a turn (at
//! once, or after a bounded wait), and the snapshot.

use std::fmt;
use std::sync::PoisonError;
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde::Serialize;

use super::{LiveRateLimiterConfig, RateLimiterConfig};
use crate::clock;
use crate::error::{ConfigError, Error, PolicyKind, PolicyName};
use crate::events;
use crate::sync::{AtomicI64, AtomicU64, Mutex, MutexGuard};

/// A rate limiter: `rate` calls `per` period with bursts of `burst`; a call
/// over the limit waits up to `wait` for its turn, or is rejected with
/// [`Error::RateLimited`] saying when quota will be free.
///
/// ```
/// use std::time::Duration;
/// use resil::{RateLimiter, RateLimiterConfig};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
/// let limiter = RateLimiter::new(
///     "doc-limiter",
///     RateLimiterConfig::DEFAULT.rate(2).per(Duration::from_secs(1)).burst(1),
/// )
/// .unwrap();
/// assert!(limiter.try_acquire().is_ok());
/// match limiter.try_acquire() {
///     Err(resil::Error::RateLimited { retry_after, .. }) => {
///         assert_eq!(retry_after, Duration::from_millis(500))
///     }
///     other => panic!("{other:?}"),
/// }
/// tokio::time::advance(Duration::from_millis(500)).await;
/// assert!(limiter.try_acquire().is_ok());
/// # }
/// ```
pub struct RateLimiter {
    /// Theoretical arrival time, nanoseconds on `clock`'s scale.
    pub(super) tat: AtomicI64,
    /// `per / rate` in nanoseconds.
    pub(super) interval: AtomicI64,
    /// `(burst - 1) * interval`: how far ahead of now the TAT may run.
    pub(super) tolerance: AtomicI64,
    /// `wait` in nanoseconds.
    pub(super) max_wait: AtomicI64,
    /// Bumped by [`reset`](Self::reset) and by a `reconfigure` that
    /// re-spaces the turns: a reservation made before either no longer owns
    /// the TAT it stored, even if a later caller happens to store the same
    /// value (same instant, same interval), so it must not hand it back.
    pub(super) era: AtomicU64,
    /// Held by whatever moves the TAT back (a reset, a re-spacing, a
    /// cancelled wait handing its turn back), so that a hand-back checks
    /// the era and moves the TAT as one step. Never taken by a call that
    /// gets or reserves a turn.
    pub(super) rewind: Mutex<()>,
    counters: Counters,
    pub(super) config: LiveRateLimiterConfig,
    pub(super) name: PolicyName,
}

/// The nanosecond figures the hot path works with, from the settings.
pub(super) struct Derived {
    pub(super) interval: i64,
    pub(super) tolerance: i64,
    pub(super) max_wait: i64,
}

impl Derived {
    pub(super) fn of(config: &RateLimiterConfig) -> Self {
        let interval = clock::saturating_nanos(config.interval());
        let burst = i64::from(config.effective_burst());
        Self {
            interval,
            tolerance: interval.saturating_mul(burst - 1),
            max_wait: clock::saturating_nanos(config.wait),
        }
    }
}

#[derive(Debug, Default)]
struct Counters {
    admitted: AtomicU64,
    admitted_after_wait: AtomicU64,
    rejected: AtomicU64,
    wait_nanos: AtomicU64,
}

/// Counts and spare quota of one rate limiter at one moment.
///
/// ```
/// let limiter = resil::RateLimiter::new("limiter-snap-doc", Default::default()).unwrap();
/// assert_eq!(limiter.snapshot().available, 100);
/// ```
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct RateLimiterSnapshot {
    /// The rate limiter's name.
    pub name: PolicyName,
    /// Calls admitted or rejected.
    pub calls: u64,
    /// Calls let through.
    pub admitted: u64,
    /// Of those, the ones that waited for their turn.
    pub admitted_after_wait: u64,
    /// Calls refused.
    pub rejected: u64,
    /// Calls that could go at once now.
    pub available: u32,
    /// Total time admitted calls spent waiting, in milliseconds.
    pub total_wait_ms: u64,
    /// The settings in force.
    pub config: RateLimiterConfig,
}

/// A turn reserved for later: handed back if the wait is cancelled.
struct Reservation<'a> {
    limiter: &'a RateLimiter,
    /// The TAT this reservation stored.
    stored: i64,
    /// The interval it moved the TAT by.
    interval: i64,
    /// The limiter's `era` before the reservation was made.
    era: u64,
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        // Only while no later caller reserved after this one: otherwise the
        // turn cannot be taken back without moving theirs. A reset (or a
        // re-spacing) since the reservation means later callers did, even
        // when the TAT reads the same again; the lock keeps one from
        // landing between the check and the CAS.
        let _rewind = self.limiter.rewind();
        if self.limiter.era.load(Ordering::Acquire) != self.era {
            return;
        }
        let _ = self.limiter.tat.compare_exchange(
            self.stored,
            self.stored.saturating_sub(self.interval),
            Ordering::AcqRel,
            Ordering::Relaxed,
        );
    }
}

impl RateLimiter {
    /// A rate limiter that no registry knows of. Use
    /// [`Registry::register_rate_limiter`](crate::Registry::register_rate_limiter)
    /// for one that is shared by name.
    pub fn new(
        name: impl Into<PolicyName>,
        config: RateLimiterConfig,
    ) -> Result<Self, ConfigError> {
        let name = name.into();
        config.validate(name.as_str())?;
        let derived = Derived::of(&config);
        Ok(Self {
            tat: AtomicI64::new(i64::MIN),
            interval: AtomicI64::new(derived.interval),
            tolerance: AtomicI64::new(derived.tolerance),
            max_wait: AtomicI64::new(derived.max_wait),
            era: AtomicU64::new(0),
            rewind: Mutex::new(()),
            counters: Counters::default(),
            config: LiveRateLimiterConfig::new(&config),
            name,
        })
    }

    /// The rate limiter's name.
    pub fn name(&self) -> &PolicyName {
        &self.name
    }

    /// The settings in force.
    pub fn config(&self) -> RateLimiterConfig {
        self.config.load()
    }

    /// Takes a turn if one is free now; never waits.
    #[inline]
    pub fn try_acquire(&self) -> Result<(), Error> {
        match self.reserve(0) {
            Ok(_) => {
                self.counters.admitted.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Err(retry_after) => Err(self.reject(retry_after)),
        }
    }

    /// Takes a turn, waiting up to the configured `wait` for one. A call
    /// that would have to wait longer is rejected at once, without waiting.
    pub async fn acquire(&self) -> Result<(), Error> {
        match self.reserve(self.max_wait.load(Ordering::Relaxed)) {
            Ok(None) => {
                self.counters.admitted.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Ok(Some((wait, stored, interval, era))) => {
                self.wait_for_turn(wait, stored, interval, era).await;
                Ok(())
            }
            Err(retry_after) => Err(self.reject(retry_after)),
        }
    }

    #[cold]
    async fn wait_for_turn(&self, wait: i64, stored: i64, interval: i64, era: u64) {
        let reservation = Reservation {
            limiter: self,
            stored,
            interval,
            era,
        };
        tokio::time::sleep(Duration::from_nanos(wait.unsigned_abs())).await;
        std::mem::forget(reservation);
        let c = &self.counters;
        c.admitted.fetch_add(1, Ordering::Relaxed);
        c.admitted_after_wait.fetch_add(1, Ordering::Relaxed);
        c.wait_nanos
            .fetch_add(wait.unsigned_abs(), Ordering::Relaxed);
    }

    /// Moves the TAT on for one call that may wait up to `max_wait`
    /// nanoseconds. `Ok(None)`: go now. `Ok(Some((wait, tat, interval,
    /// era)))`: go after `wait` nanoseconds; `tat` is the value this call
    /// stored, by moving the TAT on by `interval`, in `era`.
    /// `Err(retry_after)`: the wait would be longer than allowed.
    #[inline]
    #[allow(clippy::type_complexity)]
    fn reserve(&self, max_wait: i64) -> Result<Option<(i64, i64, i64, u64)>, Duration> {
        let now = clock::now_nanos();
        let interval = self.interval.load(Ordering::Relaxed);
        let tolerance = self.tolerance.load(Ordering::Relaxed);
        let mut tat = self.tat.load(Ordering::Acquire);
        loop {
            let start = tat.max(now);
            let wait = start.saturating_sub(tolerance).saturating_sub(now);
            if wait > max_wait {
                return Err(Duration::from_nanos(wait.unsigned_abs()));
            }
            let next = start.saturating_add(interval);
            // Read before the CAS, so that a reset after it is seen as one.
            let era = if wait > 0 {
                self.era.load(Ordering::Acquire)
            } else {
                0
            };
            match self
                .tat
                .compare_exchange_weak(tat, next, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) if wait <= 0 => return Ok(None),
                Ok(_) => return Ok(Some((wait, next, interval, era))),
                Err(actual) => tat = actual,
            }
        }
    }

    /// The lock of the paths that move the TAT back (see `rewind`).
    pub(super) fn rewind(&self) -> MutexGuard<'_, ()> {
        // It guards no data: a panic while it was held leaves nothing torn.
        self.rewind.lock().unwrap_or_else(PoisonError::into_inner)
    }

    #[cold]
    fn reject(&self, retry_after: Duration) -> Error {
        self.counters.rejected.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(target: "resil", policy = %self.name, retry_after_ms = retry_after.as_millis() as u64, "rate limiter rejected a call");
        let error = || Error::RateLimited {
            policy: self.name.clone(),
            retry_after,
        };
        events::rejected(&self.name, PolicyKind::RateLimiter, error);
        error()
    }

    /// Calls that could go at once now, without waiting.
    pub fn available(&self) -> u32 {
        let now = clock::now_nanos();
        let tat = self.tat.load(Ordering::Acquire);
        let burst = self.config.load().effective_burst();
        if tat <= now {
            return burst;
        }
        let slack = now
            .saturating_add(self.tolerance.load(Ordering::Relaxed))
            .saturating_sub(tat);
        if slack < 0 {
            return 0;
        }
        let calls = slack / self.interval.load(Ordering::Relaxed).max(1) + 1;
        u32::try_from(calls).unwrap_or(u32::MAX).min(burst)
    }

    /// Counts and spare quota at this moment.
    pub fn snapshot(&self) -> RateLimiterSnapshot {
        let c = &self.counters;
        let admitted = c.admitted.load(Ordering::Relaxed);
        let rejected = c.rejected.load(Ordering::Relaxed);
        RateLimiterSnapshot {
            name: self.name.clone(),
            calls: admitted + rejected,
            admitted,
            admitted_after_wait: c.admitted_after_wait.load(Ordering::Relaxed),
            rejected,
            available: self.available(),
            total_wait_ms: Duration::from_nanos(c.wait_nanos.load(Ordering::Relaxed)).as_millis()
                as u64,
            config: self.config.load(),
        }
    }

    /// Zeroes the counters and gives back the whole burst.
    pub fn reset(&self) {
        // The TAT first: a reservation made between the two stores would
        // otherwise carry the new era for a turn the reset then wiped out
        // (one made after the TAT store that still reads the old era only
        // loses its hand-back).
        {
            let _rewind = self.rewind();
            self.tat.store(i64::MIN, Ordering::Release);
            self.era.fetch_add(1, Ordering::AcqRel);
        }
        let c = &self.counters;
        for counter in [
            &c.admitted,
            &c.admitted_after_wait,
            &c.rejected,
            &c.wait_nanos,
        ] {
            counter.store(0, Ordering::Relaxed);
        }
    }

    /// Runs `call` once it has a turn; a rejection is turned into `E` with
    /// `From<resil::Error>`.
    pub async fn call<T, E, F>(&self, call: F) -> Result<T, E>
    where
        F: Future<Output = Result<T, E>>,
        E: From<Error>,
    {
        self.acquire().await?;
        call.await
    }
}

impl fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimiter")
            .field("name", &self.name)
            .field("available", &self.available())
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(config: RateLimiterConfig) -> RateLimiter {
        RateLimiter::new("unit", config).unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn a_burst_then_one_per_interval() {
        let limiter = limiter(RateLimiterConfig::DEFAULT.rate(10).burst(3));
        for _ in 0..3 {
            limiter.try_acquire().unwrap();
        }
        assert_eq!(limiter.available(), 0);
        match limiter.try_acquire() {
            Err(Error::RateLimited { retry_after, .. }) => {
                assert_eq!(retry_after, Duration::from_millis(100))
            }
            other => panic!("{other:?}"),
        }
        tokio::time::advance(Duration::from_millis(100)).await;
        assert_eq!(limiter.available(), 1);
        limiter.try_acquire().unwrap();
        tokio::time::advance(Duration::from_secs(10)).await;
        assert_eq!(limiter.available(), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn a_cancelled_wait_gives_its_turn_back() {
        let limiter = limiter(
            RateLimiterConfig::DEFAULT
                .rate(1)
                .burst(1)
                .wait(Duration::from_secs(5)),
        );
        limiter.try_acquire().unwrap();
        let waiting = tokio::time::timeout(Duration::from_millis(10), limiter.acquire()).await;
        assert!(waiting.is_err(), "the wait was cut short");
        // The turn the cancelled call had reserved is free again.
        tokio::time::advance(Duration::from_secs(1)).await;
        limiter.try_acquire().unwrap();
    }
}
