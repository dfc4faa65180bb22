//! `#[rate_limit]` and `RateLimiterConfig`.

use core::time::Duration;

use crate::{Violation, positive, require, violation};

/// Key of the calls allowed per period.
pub const RATE: &str = "rate";
/// Key of the period.
pub const PER: &str = "per";
/// Key of the calls that may come at once.
pub const BURST: &str = "burst";
/// Key of how long a call waits for a permit.
pub const WAIT: &str = "wait";

/// Calls per period by default.
pub const DEFAULT_RATE: u32 = 100;
/// The period by default.
pub const DEFAULT_PER: Duration = Duration::from_secs(1);
/// How long a call waits by default: not at all.
pub const DEFAULT_WAIT: Duration = Duration::ZERO;

/// At least 1.
pub const fn rate(calls: u32) -> Result<(), Violation> {
    require(
        calls >= 1,
        violation!("rate limiter", "rate", "must be at least 1"),
    )
}

/// Longer than zero.
pub const fn per(period: Duration) -> Result<(), Violation> {
    require(
        positive(period),
        violation!("rate limiter", "per", "must be greater than zero"),
    )
}

/// At most one call a nanosecond: the limiter keeps one call's share of
/// the period in whole nanoseconds.
pub const fn rate_per(calls: u32, period: Duration) -> Result<(), Violation> {
    require(
        calls as u128 <= period.as_nanos(),
        violation!(
            "rate limiter",
            "rate",
            "must be at most one call a nanosecond"
        ),
    )
}

/// At least 1, when given.
pub const fn burst(burst: Option<u32>) -> Result<(), Violation> {
    match burst {
        Some(burst) => require(
            burst >= 1,
            violation!("rate limiter", "burst", "must be at least 1"),
        ),
        None => Ok(()),
    }
}
