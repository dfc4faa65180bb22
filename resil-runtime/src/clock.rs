//! Time, taken only from `tokio::time` so that tests with a paused clock
//! (`#[tokio::test(start_paused = true)]`) drive every timeout and backoff.
//!
//! Policies keep instants in atomics as signed microseconds from a
//! process-wide epoch. The epoch is the first instant any policy asked for;
//! a paused test clock may later read earlier than that, which a signed
//! offset represents without trouble.

use std::sync::OnceLock;
use std::time::Duration;

use tokio::time::Instant;

static EPOCH: OnceLock<Instant> = OnceLock::new();

/// Microseconds since the epoch, rounded down; negative before it.
///
/// Rounded down on both sides of the epoch (not toward zero), so that the
/// difference of two readings never depends on which side of the epoch
/// they fall: another test's clock may have set the epoch.
pub(crate) fn now_micros() -> i64 {
    now_nanos().div_euclid(1_000)
}

/// Nanoseconds since the epoch; negative before it. Covers 292 years
/// either way.
pub(crate) fn now_nanos() -> i64 {
    let now = Instant::now();
    let epoch = *EPOCH.get_or_init(|| now);
    match now.checked_duration_since(epoch) {
        Some(after) => saturating_nanos(after),
        None => -saturating_nanos(epoch.duration_since(now)),
    }
}

pub(crate) fn saturating_nanos(d: Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

pub(crate) fn saturating_micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

pub(crate) fn micros_to_duration(micros: i64) -> Duration {
    Duration::from_micros(micros.max(0).unsigned_abs())
}

/// Whether the clock certainly still reads before `deadline` (clock
/// microseconds), decided without reading the precise clock when it can.
///
/// An open breaker asks this of every call it rejects, and a precise clock
/// read costs about as much as the rest of the rejection together. On
/// Linux, `CLOCK_MONOTONIC_COARSE` (the same clock as `std::time::Instant`,
/// updated once a kernel tick, read without the time-stamp counter) lags
/// the precise clock by about a tick (10 ms at 100 Hz), more where ticks
/// arrive late: a coarse reading more than [`COARSE_MARGIN_MICROS`] before
/// the deadline settles it. Closer to the deadline, and on other systems, `None`: the caller
/// reads the precise clock.
///
/// Only for a deadline set on the real clock: the caller asks only when
/// [`on_real_clock`] said so as the deadline was set (the breaker keeps
/// that answer in its state word, beside the deadline).
///
/// When it settles it, returns the coarse reading plus the margin: a wait
/// computed from it is never longer than the precise one, and at most the
/// margin shorter. (Should the lag ever outgrow the margin, an open breaker
/// lets its first trial through that much late.)
#[inline]
pub(crate) fn certainly_before(deadline: i64) -> Option<i64> {
    #[cfg(all(target_os = "linux", not(loom)))]
    return coarse::certainly_before(deadline);
    #[cfg(not(all(target_os = "linux", not(loom))))]
    {
        let _ = deadline;
        None
    }
}

/// Whether `tokio::time` runs on the real clock for the caller, so that a
/// deadline taken from it now may later be checked by [`certainly_before`].
/// Asked when a breaker opens (rarely: it costs a few microseconds).
///
/// `false` under a paused test clock (`start_paused`, `tokio::time::pause`)
/// however far it has advanced, whatever other runtimes in the process do:
/// the answer is the caller's alone, and the breaker keeps it with the
/// deadline it guards. `false` too where there is no coarse clock.
pub(crate) fn on_real_clock() -> bool {
    #[cfg(all(target_os = "linux", not(loom)))]
    return coarse::on_real_clock();
    #[cfg(not(all(target_os = "linux", not(loom))))]
    false
}

/// One reading of `tokio::time::Instant::now()` taken between two readings
/// of `std::time::Instant::now()`.
#[derive(Debug, Clone, Copy)]
#[cfg_attr(not(all(target_os = "linux", not(loom))), allow(dead_code))]
pub(crate) struct Bracketed {
    pub(crate) before: std::time::Instant,
    pub(crate) tokio: std::time::Instant,
    pub(crate) after: std::time::Instant,
}

impl Bracketed {
    #[cfg_attr(not(all(target_os = "linux", not(loom))), allow(dead_code))]
    fn read() -> Self {
        let before = std::time::Instant::now();
        let tokio = Instant::now().into_std();
        let after = std::time::Instant::now();
        Self {
            before,
            tokio,
            after,
        }
    }

    fn within(self) -> bool {
        self.before <= self.tokio && self.tokio <= self.after
    }
}

/// The decision behind [`on_real_clock`], from two bracketed readings taken
/// with real time passing between them.
///
/// One reading inside its bracket proves nothing: a paused clock that has
/// auto-advanced by about as much real time as has passed since it was
/// paused lands inside by coincidence (the flake of a busy CI machine). But
/// a paused clock never moves while its runtime runs synchronous code (it
/// advances only when the runtime parks, or by an `advance` that awaits,
/// and a paused runtime has one thread), so the clock is real only if both
/// readings fall inside their brackets *and* it moved between them.
#[cfg_attr(not(all(target_os = "linux", not(loom))), allow(dead_code))]
pub(crate) fn runs_on_real_clock(first: Bracketed, second: Bracketed) -> bool {
    first.within() && second.within() && second.tokio > first.tokio
}

/// The most the coarse clock is taken to lag behind the precise one. A
/// kernel tick is 10 ms at 100 Hz and 4 ms at 250 Hz, but on a loaded
/// virtual machine ticks arrive late: 12 ms of lag at 250 Hz was measured
/// on the 2-core KVM guests CI runs on. Rejections within this much of the
/// deadline read the precise clock, which costs nothing that matters: an
/// open period is seconds long.
#[cfg_attr(not(all(target_os = "linux", not(loom))), allow(dead_code))]
pub(crate) const COARSE_MARGIN_MICROS: i64 = 50_000;

#[cfg(all(target_os = "linux", not(loom)))]
mod coarse {
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicI64, Ordering};
    use std::time::Duration;

    use rustix::time::{ClockId, Timespec, clock_getres, clock_gettime};

    use super::{Bracketed, COARSE_MARGIN_MICROS, EPOCH, runs_on_real_clock};

    /// Real time that must pass between the two readings of
    /// [`on_real_clock`]: far above `std::time::Instant`'s resolution.
    const SPIN: Duration = Duration::from_micros(2);

    /// Whether the coarse clock's tick fits the margin; checked once.
    static TICK_FITS: OnceLock<bool> = OnceLock::new();
    /// The epoch, in `CLOCK_MONOTONIC` nanoseconds; set by the first
    /// caller that finds the real clock, before any deadline that
    /// [`certainly_before`] may see is published.
    static EPOCH_NANOS: AtomicI64 = AtomicI64::new(0);

    fn nanos(time: Timespec) -> i64 {
        time.tv_sec
            .saturating_mul(1_000_000_000)
            .saturating_add(time.tv_nsec)
    }

    #[inline]
    pub(super) fn certainly_before(deadline: i64) -> Option<i64> {
        let now = nanos(clock_gettime(ClockId::MonotonicCoarse))
            .saturating_sub(EPOCH_NANOS.load(Ordering::Relaxed))
            .div_euclid(1_000);
        let latest = now.saturating_add(COARSE_MARGIN_MICROS);
        (latest < deadline).then_some(latest)
    }

    pub(super) fn on_real_clock() -> bool {
        let tick_fits = *TICK_FITS.get_or_init(|| {
            let tick = nanos(clock_getres(ClockId::MonotonicCoarse)).div_euclid(1_000);
            tick.saturating_add(1_000) <= COARSE_MARGIN_MICROS
        });
        if !tick_fits {
            return false;
        }
        let epoch = EPOCH.get_or_init(tokio::time::Instant::now).into_std();
        let first = Bracketed::read();
        let until = first.after + SPIN;
        while std::time::Instant::now() < until {
            std::hint::spin_loop();
        }
        if !runs_on_real_clock(first, Bracketed::read()) {
            return false;
        }
        // `std::time::Instant` is `CLOCK_MONOTONIC` on Linux, so the epoch
        // (a `std` instant underneath, whichever clock read it) sits at a
        // fixed `CLOCK_MONOTONIC` reading. Every caller computes the same
        // value, so racing stores are harmless; the caller publishes its
        // deadline after this store, with release ordering.
        let now = std::time::Instant::now();
        let raw = nanos(clock_gettime(ClockId::Monotonic));
        let since_epoch = match now.checked_duration_since(epoch) {
            Some(after) => super::saturating_nanos(after),
            None => -super::saturating_nanos(epoch.duration_since(now)),
        };
        EPOCH_NANOS.store(raw.saturating_sub(since_epoch), Ordering::Relaxed);
        true
    }
}

#[cfg(all(test, target_os = "linux", not(loom)))]
mod tests {
    use std::time::{Duration, Instant as StdInstant};

    use super::*;

    fn bracket(before: StdInstant, tokio: StdInstant, after: StdInstant) -> Bracketed {
        Bracketed {
            before,
            tokio,
            after,
        }
    }

    #[test]
    fn a_frozen_clock_that_lands_inside_a_bracket_is_not_taken_for_the_real_one() {
        let t = StdInstant::now();
        let us = Duration::from_micros;
        // A paused clock that has auto-advanced to exactly real time: its
        // first reading falls inside the bracket, and it stands still.
        let frozen = t + us(1);
        assert!(!runs_on_real_clock(
            bracket(t, frozen, t + us(2)),
            bracket(t + us(4), frozen, t + us(5)),
        ));
        // ... or it is caught up again by the second reading: still frozen.
        assert!(!runs_on_real_clock(
            bracket(t, frozen, t + us(2)),
            bracket(frozen, frozen, t + us(5)),
        ));
        // Ahead of or behind real time: not real either.
        assert!(!runs_on_real_clock(
            bracket(t, t + us(3), t + us(2)),
            bracket(t + us(4), t + us(6), t + us(5)),
        ));
        // The real clock: inside both brackets, and it moved.
        assert!(runs_on_real_clock(
            bracket(t, t + us(1), t + us(2)),
            bracket(t + us(4), t + us(4), t + us(5)),
        ));
    }

    #[tokio::test]
    async fn the_real_clock_is_recognised_and_settles_only_far_deadlines() {
        let now = now_micros();
        assert!(
            on_real_clock(),
            "an unpaused tokio clock must be recognised as the real one"
        );
        // Within the margin, or past: only the precise clock decides.
        assert_eq!(certainly_before(now), None);
        assert_eq!(certainly_before(now + COARSE_MARGIN_MICROS / 2), None);
        // Far ahead: settled, never later than the precise clock plus the
        // margin, and at most a margin (plus a tick of lag) earlier.
        let latest = certainly_before(now + 60_000_000).expect("a deadline a minute ahead");
        let precise = now_micros();
        assert!(
            latest <= precise + COARSE_MARGIN_MICROS,
            "{latest} vs {precise}"
        );
        assert!(
            latest + 2 * COARSE_MARGIN_MICROS >= precise,
            "{latest} vs {precise}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_paused_clock_is_never_taken_for_the_real_one() {
        let _ = now_micros();
        assert!(!on_real_clock(), "fresh paused clock");
        tokio::time::advance(Duration::from_secs(3600)).await;
        assert!(!on_real_clock(), "paused clock an hour ahead");
        // Level with real time: the case a single bracketed reading gets
        // wrong now and then.
        let behind = StdInstant::now().saturating_duration_since(Instant::now().into_std());
        tokio::time::advance(behind).await;
        assert!(!on_real_clock(), "paused clock level with real time");
    }
}
