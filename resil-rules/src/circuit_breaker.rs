//! `#[circuit_breaker]`, `CircuitBreakerConfig` and
//! `DeclaredCircuitBreaker`.

use core::time::Duration;

use crate::{Violation, positive, require, share, violation};

/// Key of the consecutive failures that open the breaker.
pub const THRESHOLD: &str = "threshold";
/// Key of the share of failures in the window that opens it.
pub const FAILURE_RATE: &str = "failure_rate";
/// Key of the window of recent calls (the attribute's `window = 100`).
pub const WINDOW: &str = "window";
/// Key of the window of recent time (the attribute's `window = 60s`).
pub const TIME_WINDOW: &str = "time_window";
/// Key of the calls needed in the window before a rate applies.
pub const MIN_CALLS: &str = "min_calls";
/// Key of how long the breaker stays open before a trial call.
pub const OPEN_FOR: &str = "open_for";
/// The older name of [`OPEN_FOR`], still accepted by the attribute, files
/// and the environment: a breaker's open time no longer shares its name
/// with `#[timeout]`.
pub const TIMEOUT: &str = "timeout";
/// Key of the trial calls let through while half-open.
pub const HALF_OPEN_MAX: &str = "half_open_max";
/// Key of the successful trials that close the breaker.
pub const SUCCESS_THRESHOLD: &str = "success_threshold";
/// Key of the time above which a call is slow.
pub const SLOW_CALL: &str = "slow_call";
/// Key of the share of slow calls in the window that opens the breaker.
pub const SLOW_RATE: &str = "slow_rate";

/// Consecutive failures that open the breaker by default.
pub const DEFAULT_THRESHOLD: u32 = 5;
/// The window of recent calls by default.
pub const DEFAULT_WINDOW: u32 = 10;
/// How long the breaker stays open by default.
pub const DEFAULT_OPEN_FOR: Duration = Duration::from_secs(60);
/// Trial calls while half-open by default.
pub const DEFAULT_HALF_OPEN_MAX: u32 = 1;
/// Successful trials that close the breaker by default.
pub const DEFAULT_SUCCESS_THRESHOLD: u32 = 2;
/// The longest window of calls: one bit per call, 1 KiB at most.
pub const MAX_WINDOW: u32 = 8192;
/// The most trial calls, and successes, while half-open: 16 bits each in
/// the breaker's state word.
pub const MAX_TRIALS: u32 = u16::MAX as u32;
/// The shortest time window: its 64 buckets are then at least 15ms wide.
pub const MIN_TIME_WINDOW: Duration = Duration::from_secs(1);

/// At least 1.
pub const fn threshold(failures: u32) -> Result<(), Violation> {
    require(
        failures >= 1,
        violation!("circuit breaker", "threshold", "must be at least 1"),
    )
}

/// In (0, 1], when given; `NaN` is not.
pub const fn failure_rate(rate: Option<f64>) -> Result<(), Violation> {
    match rate {
        Some(rate) => require(
            share(rate),
            violation!("circuit breaker", "failure_rate", "must be in (0, 1]"),
        ),
        None => Ok(()),
    }
}

/// In (0, 1], when given; `NaN` is not.
pub const fn slow_rate(rate: Option<f64>) -> Result<(), Violation> {
    match rate {
        Some(rate) => require(
            share(rate),
            violation!("circuit breaker", "slow_rate", "must be in (0, 1]"),
        ),
        None => Ok(()),
    }
}

/// From 1 to [`MAX_WINDOW`].
pub const fn window(calls: u32) -> Result<(), Violation> {
    if calls == 0 {
        return Err(violation!(
            "circuit breaker",
            "window",
            "must be at least 1"
        ));
    }
    require(
        calls <= MAX_WINDOW,
        violation!("circuit breaker", "window", "must be at most 8192"),
    )
}

/// At least [`MIN_TIME_WINDOW`], when given.
pub const fn time_window(length: Option<Duration>) -> Result<(), Violation> {
    match length {
        Some(length) => require(
            length.as_nanos() >= MIN_TIME_WINDOW.as_nanos(),
            violation!("circuit breaker", "time_window", "must be at least 1s"),
        ),
        None => Ok(()),
    }
}

/// At least 1.
pub const fn min_calls(calls: u32) -> Result<(), Violation> {
    require(
        calls >= 1,
        violation!("circuit breaker", "min_calls", "must be at least 1"),
    )
}

/// Not more than the window of calls (`window`): the rate would never
/// apply. A time window (`time_window` set) holds any number of calls.
pub const fn min_calls_in_window(
    calls: u32,
    window: u32,
    time_window: bool,
) -> Result<(), Violation> {
    require(
        time_window || calls <= window,
        violation!("circuit breaker", "min_calls", "must not exceed `window`"),
    )
}

/// Longer than zero.
pub const fn open_for(open: Duration) -> Result<(), Violation> {
    require(
        positive(open),
        violation!("circuit breaker", "open_for", "must be greater than zero"),
    )
}

/// From 1 to [`MAX_TRIALS`].
pub const fn half_open_max(trials: u32) -> Result<(), Violation> {
    if trials == 0 {
        return Err(violation!(
            "circuit breaker",
            "half_open_max",
            "must be at least 1"
        ));
    }
    require(
        trials <= MAX_TRIALS,
        violation!("circuit breaker", "half_open_max", "must be at most 65535"),
    )
}

/// From 1 to [`MAX_TRIALS`].
pub const fn success_threshold(successes: u32) -> Result<(), Violation> {
    if successes == 0 {
        return Err(violation!(
            "circuit breaker",
            "success_threshold",
            "must be at least 1"
        ));
    }
    require(
        successes <= MAX_TRIALS,
        violation!(
            "circuit breaker",
            "success_threshold",
            "must be at most 65535"
        ),
    )
}

/// Longer than zero, when given.
pub const fn slow_call(limit: Option<Duration>) -> Result<(), Violation> {
    match limit {
        Some(limit) => require(
            positive(limit),
            violation!("circuit breaker", "slow_call", "must be greater than zero"),
        ),
        None => Ok(()),
    }
}

/// `slow_rate` says what share of slow calls opens the breaker, so it needs
/// `slow_call`, which says what a slow call is.
pub const fn slow_rate_needs_slow_call(slow_rate: bool, slow_call: bool) -> Result<(), Violation> {
    require(
        !slow_rate || slow_call,
        violation!(
            "circuit breaker",
            "slow_rate",
            "only applies with `slow_call`"
        ),
    )
}
