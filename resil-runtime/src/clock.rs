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
