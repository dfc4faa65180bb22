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
/// the precise clock by at most one tick (10 ms at 100 Hz): a coarse
/// reading more than [`COARSE_MARGIN_MICROS`] before the deadline settles
/// it. Closer to the deadline, and wherever the coarse clock is not known
/// to agree with `tokio::time` (on other systems, or once a paused tokio
/// clock has been seen: see [`observe`]), `None`: the caller reads the
/// precise clock.
///
/// When it settles it, returns the coarse reading plus the margin: a wait
/// computed from it is never longer than the precise one, and at most the
/// margin shorter. (The lag is one tick on a busy system; a tickless idle
/// kernel can let it grow further, and then an open breaker lets its first
/// trial through that much late.)
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

/// Checks, when a breaker opens (rarely), that `tokio::time` runs on the
/// real clock, which is what lets [`certainly_before`] use the coarse one.
/// A paused test clock (`start_paused`, `tokio::time::pause`) switches the
/// coarse path off for the rest of the process.
pub(crate) fn observe() {
    #[cfg(all(target_os = "linux", not(loom)))]
    coarse::observe();
}

/// The coarse clock's lag behind the precise one (one kernel tick: 10 ms
/// at 100 Hz, 4 ms at 250 Hz), with room to spare.
#[cfg_attr(not(all(target_os = "linux", not(loom))), allow(dead_code))]
pub(crate) const COARSE_MARGIN_MICROS: i64 = 11_000;

#[cfg(all(target_os = "linux", not(loom)))]
mod coarse {
    use std::sync::atomic::{AtomicI64, AtomicU8, Ordering};

    use rustix::time::{ClockId, Timespec, clock_getres, clock_gettime};

    use super::{COARSE_MARGIN_MICROS, EPOCH};

    const UNKNOWN: u8 = 0;
    const REAL: u8 = 1;
    /// Off for good: a paused tokio clock was seen (or the tick is too
    /// coarse).
    const PAUSED_SEEN: u8 = 2;

    static STATE: AtomicU8 = AtomicU8::new(UNKNOWN);
    /// The epoch, in `CLOCK_MONOTONIC` nanoseconds.
    static EPOCH_NANOS: AtomicI64 = AtomicI64::new(0);

    fn nanos(time: Timespec) -> i64 {
        time.tv_sec
            .saturating_mul(1_000_000_000)
            .saturating_add(time.tv_nsec)
    }

    #[inline]
    pub(super) fn certainly_before(deadline: i64) -> Option<i64> {
        if STATE.load(Ordering::Acquire) != REAL {
            return None;
        }
        let now = nanos(clock_gettime(ClockId::MonotonicCoarse))
            .saturating_sub(EPOCH_NANOS.load(Ordering::Relaxed))
            .div_euclid(1_000);
        let latest = now.saturating_add(COARSE_MARGIN_MICROS);
        (latest < deadline).then_some(latest)
    }

    pub(super) fn observe() {
        if STATE.load(Ordering::Acquire) == PAUSED_SEEN {
            return;
        }
        // Unpaused, `tokio::time::Instant::now()` is `std`'s, read between
        // two readings of `std`'s; paused, it stands still (or jumps).
        let before = std::time::Instant::now();
        let tokio_now = tokio::time::Instant::now().into_std();
        let after = std::time::Instant::now();
        let Some(epoch) = EPOCH.get().map(|epoch| epoch.into_std()) else {
            return;
        };
        let real = before <= tokio_now && tokio_now <= after;
        let since_epoch = std::time::Instant::now().checked_duration_since(epoch);
        match (real, since_epoch) {
            (true, Some(since_epoch)) => {
                // `std::time::Instant` is `CLOCK_MONOTONIC` on Linux.
                let raw = nanos(clock_gettime(ClockId::Monotonic));
                let since = i64::try_from(since_epoch.as_nanos()).unwrap_or(i64::MAX);
                EPOCH_NANOS.store(raw.saturating_sub(since), Ordering::Relaxed);
                let tick = nanos(clock_getres(ClockId::MonotonicCoarse)).div_euclid(1_000);
                if tick.saturating_add(1_000) > COARSE_MARGIN_MICROS {
                    // A tick longer than the margin allows for: no coarse path.
                    STATE.store(PAUSED_SEEN, Ordering::Release);
                    return;
                }
                let _ = STATE.compare_exchange(UNKNOWN, REAL, Ordering::AcqRel, Ordering::Relaxed);
            }
            _ => STATE.store(PAUSED_SEEN, Ordering::Release),
        }
    }
}

#[cfg(all(test, target_os = "linux", not(loom)))]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn the_coarse_reading_never_claims_a_deadline_that_is_near_or_past() {
        let now = now_micros();
        observe();
        // Within the margin, or past: only the precise clock decides.
        assert_eq!(certainly_before(now), None);
        assert_eq!(certainly_before(now + COARSE_MARGIN_MICROS / 2), None);
        // Far ahead: settled (unless another test has paused a clock, which
        // switches the coarse path off for good), never later than the
        // precise clock plus the margin.
        if let Some(latest) = certainly_before(now + 60_000_000) {
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
    }

    #[tokio::test(start_paused = true)]
    async fn a_paused_clock_turns_the_coarse_path_off() {
        let now = now_micros();
        tokio::time::advance(Duration::from_secs(3600)).await;
        observe();
        assert_eq!(certainly_before(now + 60_000_000), None);
    }
}
