//! `#[timeout]` and `TimeoutConfig`.

use core::time::Duration;

use crate::{Violation, positive, require, violation};

/// Key of the time limit.
pub const DURATION: &str = "duration";

/// The time limit by default.
pub const DEFAULT_DURATION: Duration = Duration::from_secs(10);

/// Longer than zero.
pub const fn duration(limit: Duration) -> Result<(), Violation> {
    require(
        positive(limit),
        violation!("timeout", "duration", "must be greater than zero"),
    )
}
