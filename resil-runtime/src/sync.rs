//! The atomics and locks the policies use: std's, or loom's under
//! `--cfg loom` so the model checker can explore every interleaving of the
//! state machines (see `tests/loom/`).

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, fence};
#[cfg(loom)]
pub(crate) use loom::sync::{Mutex, MutexGuard};

#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, fence};
#[cfg(not(loom))]
pub(crate) use std::sync::{Mutex, MutexGuard};

/// The pause inside a spin-wait. Under loom a spinning thread must yield,
/// or the model checker would explore the spin forever instead of running
/// the thread it waits for.
#[inline(always)]
pub(crate) fn spin_loop() {
    #[cfg(loom)]
    loom::thread::yield_now();
    #[cfg(not(loom))]
    std::hint::spin_loop();
}
