//! `#[retry]`, `RetryConfig` and `DeclaredRetry`.

use core::time::Duration;

use crate::{Violation, positive, require, violation};

/// Key of the number of attempts, the first included (the attribute's `max`).
pub const MAX_ATTEMPTS: &str = "max_attempts";
/// Key of the first delay.
pub const INITIAL: &str = "initial";
/// Key of the longest delay.
pub const MAX_DELAY: &str = "max_delay";
/// Key of the exponential backoff's factor.
pub const MULTIPLIER: &str = "multiplier";
/// Key of the time budget of all attempts together.
pub const MAX_ELAPSED: &str = "max_elapsed";
/// Key of the backoff's shape.
pub const BACKOFF: &str = "backoff";
/// Key of the randomness added to each delay.
pub const JITTER: &str = "jitter";
/// Key of whether refusals of the policies below are retried.
pub const RETRY_REJECTIONS: &str = "retry_rejections";

/// Attempts by default, the first included.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 3;
/// The first delay by default.
pub const DEFAULT_INITIAL: Duration = Duration::from_millis(100);
/// The longest delay by default.
pub const DEFAULT_MAX_DELAY: Duration = Duration::from_secs(5);
/// The exponential backoff's factor by default.
pub const DEFAULT_MULTIPLIER: f64 = 2.0;
/// The fewest attempts: one, the call itself.
pub const MIN_ATTEMPTS: u32 = 1;
/// The smallest multiplier: delays never shrink.
pub const MIN_MULTIPLIER: f64 = 1.0;

/// At least [`MIN_ATTEMPTS`].
pub const fn max_attempts(attempts: u32) -> Result<(), Violation> {
    require(
        attempts >= MIN_ATTEMPTS,
        violation!("retry", "max_attempts", "must be at least 1"),
    )
}

/// Longer than zero.
pub const fn initial(initial: Duration) -> Result<(), Violation> {
    require(
        positive(initial),
        violation!("retry", "initial", "must be greater than zero"),
    )
}

/// Not shorter than `initial`: the first delay is already capped by it.
pub const fn max_delay(max_delay: Duration, initial: Duration) -> Result<(), Violation> {
    require(
        max_delay.as_nanos() >= initial.as_nanos(),
        violation!("retry", "max_delay", "must not be shorter than `initial`"),
    )
}

/// A finite number of at least [`MIN_MULTIPLIER`]; `NaN` is not.
pub const fn multiplier(multiplier: f64) -> Result<(), Violation> {
    require(
        multiplier >= MIN_MULTIPLIER && multiplier <= f64::MAX,
        violation!(
            "retry",
            "multiplier",
            "must be a finite number of at least 1.0"
        ),
    )
}

/// Longer than zero, when given.
pub const fn max_elapsed(max_elapsed: Option<Duration>) -> Result<(), Violation> {
    match max_elapsed {
        Some(budget) => require(
            positive(budget),
            violation!("retry", "max_elapsed", "must be greater than zero"),
        ),
        None => Ok(()),
    }
}
