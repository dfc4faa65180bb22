//! `#[bulkhead]`, `BulkheadConfig` and `DeclaredBulkhead`.

use core::time::Duration;

use crate::{Violation, positive, require, violation};

/// Key of the calls that run at once (the attribute's `max`).
pub const MAX_CONCURRENT: &str = "max_concurrent";
/// Key of the calls that may wait for a slot.
pub const QUEUE: &str = "queue";
/// Key of how long a queued call waits.
pub const WAIT: &str = "wait";

/// Calls that run at once by default.
pub const DEFAULT_MAX_CONCURRENT: u32 = 10;
/// Places in the queue by default: none.
pub const DEFAULT_QUEUE: u32 = 0;
/// How long a queued call waits by default.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(1);
/// The most running calls, and the most queued ones: the bulkhead packs
/// both counts in one 64-bit word, 31 bits each plus room for the carry.
pub const MAX_SLOTS: u32 = (1 << 31) - 1;

/// From 1 to [`MAX_SLOTS`].
pub const fn max_concurrent(calls: u32) -> Result<(), Violation> {
    if calls == 0 {
        return Err(violation!(
            "bulkhead",
            "max_concurrent",
            "must be at least 1"
        ));
    }
    require(
        calls <= MAX_SLOTS,
        violation!("bulkhead", "max_concurrent", "must be at most 2147483647"),
    )
}

/// At most [`MAX_SLOTS`]; zero is no queue.
pub const fn queue(waiting: u32) -> Result<(), Violation> {
    require(
        waiting <= MAX_SLOTS,
        violation!("bulkhead", "queue", "must be at most 2147483647"),
    )
}

/// Longer than zero when there is a queue: a queued call that cannot wait
/// would be refused at once, as without a queue.
pub const fn wait(wait: Duration, queue: u32) -> Result<(), Violation> {
    require(
        queue == 0 || positive(wait),
        violation!(
            "bulkhead",
            "wait",
            "must be greater than zero when `queue` is set"
        ),
    )
}
