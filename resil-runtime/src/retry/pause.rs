//! The wait between a retry's attempts, kept apart so that the generated
//! code (through `__private`) and [`Retry::call`](super::Retry::call)
//! share one.

use std::time::Duration;

/// Waits between attempts, on `tokio::time` so paused clocks drive it.
///
/// Boxed: a timer is large, and kept in the call's future it would make
/// every call, the ones that never retry included, carry (and move) it.
/// One allocation per wait is nothing next to the wait.
#[cold]
pub fn sleep(delay: Duration) -> std::pin::Pin<Box<tokio::time::Sleep>> {
    Box::pin(tokio::time::sleep(delay))
}
