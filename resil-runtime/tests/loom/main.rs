//! Model checks of the lock-free state machines under every interleaving
//! loom explores (bounded by a preemption bound so each model stays small).
//!
//! Run with:
//!
//! ```text
//! RUSTFLAGS="--cfg loom -C debug-assertions" CARGO_TARGET_DIR=target/loom \
//!     cargo test --release -p resil-runtime --test loom
//! ```
//!
//! `-C debug-assertions` keeps the runtime's own `debug_assert!`s armed in
//! the release build, so loom also checks the invariants they state.
//!
//! Time: the breaker reads `tokio::time::Instant`. Its models use a timeout
//! of one nanosecond, which rounds to zero microseconds, so an open breaker's
//! deadline has always passed when the next call looks at it: every model
//! exercises the OPEN -> HALF_OPEN race without sleeping. The bulkhead's slow
//! path creates a `tokio::time::timeout`, so its models run inside a paused
//! current-thread runtime (entered, never driven): the wait's timer is
//! registered but never fires, and the futures are polled by hand with a
//! no-op waker. The rate limiter, time-window and slow-call models run in
//! such a runtime too, so that every thread reads the same frozen clock
//! (loom needs each execution to be deterministic); the slow-call models
//! move it forward once, before their threads start.
//!
//! What loom sees: every atomic the policies use comes from `crate::sync`,
//! so the breaker's state word and windows, the bulkhead, the rate
//! limiter's TAT and the live settings' sequence lock (`live.rs`) are all
//! explored as written. The per-thread counters (`counter.rs`) are not:
//! under loom a counter is one shared atomic, because loom runs its model
//! threads on one OS thread and so cannot give each its own
//! `std::thread_local!` block; that design is checked for real under
//! contention by the tests in `counter.rs`.
#![cfg(loom)]

mod breaker;
mod bulkhead;
mod live;
mod rate_limit;
mod windows;

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

/// Explores every interleaving with at most `bound` preemptions.
fn check(bound: usize, model: impl Fn() + Sync + Send + 'static) {
    check_long(bound, loom::model::Builder::new().max_branches, model);
}

/// [`check`] for models whose threads make many atomic accesses (the time
/// window reads 192 counters per tally): each is a point where loom may
/// switch threads, so they need more than loom's default of 1,000 branches
/// per execution, and a preemption bound of 1 to stay small.
fn check_long(bound: usize, max_branches: usize, model: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = Some(bound);
    }
    builder.max_branches = max_branches;
    builder.check(model);
}

/// A paused current-thread runtime: entered, its clock is frozen for every
/// model thread, and never driven unless a model moves the clock itself.
fn paused_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap()
}

/// Builds a paused runtime once per test and enters it, so that slow paths
/// can create their timers and every thread reads one frozen clock.
fn in_runtime(model: impl FnOnce()) {
    let runtime = paused_runtime();
    let _entered = runtime.enter();
    model();
}

/// Polls a future once with a waker that does nothing.
fn poll_once<F: Future + ?Sized>(future: Pin<&mut F>) -> Poll<F::Output> {
    future.poll(&mut Context::from_waker(Waker::noop()))
}
