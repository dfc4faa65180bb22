//! Rate limiter: at most `rate` calls `per` period, bursts of up to `burst`,
//! callers waiting a bounded time for their turn.
//!
//! # The algorithm: GCRA on one atomic
//!
//! The generic cell rate algorithm keeps one number, the *theoretical
//! arrival time* (TAT): when the limiter would next be idle if every call
//! so far had been spaced exactly `interval = per / rate` apart. A call at
//! `now` conforms when `TAT - now <= (burst - 1) * interval`, and then
//! pushes the TAT one interval on. Here the TAT is one `AtomicI64` of
//! nanoseconds on `tokio::time`'s clock, moved by one compare-and-swap: a
//! call with spare quota reads the clock once, loads, and CASes. No lock,
//! no allocation, and a snapshot or a rejection reads the same word.
//!
//! A call that does not conform yet but would within `wait` *reserves* its
//! turn with the same CAS (the TAT moves on as if it had gone) and then
//! sleeps until then. Callers are thus served in the order they asked, and
//! a waiter never waits longer than it was promised. A waiter cancelled
//! before its turn hands the turn back when no later caller has reserved
//! after it (the TAT is still the one it set); otherwise that one interval
//! of quota is lost, which errs on the side of the dependency.
//!
//! # Why not `governor`
//!
//! governor (0.10) implements the same GCRA on one atomic, and its `Clock`
//! trait could be implemented over `tokio::time::Instant`. But its waiting
//! (`until_ready`) sleeps on `futures-timer`, a wall-clock timer that a
//! paused tokio clock does not drive, so waits could not be tested with
//! `start_paused` and would not line up with the rest of resil's time. Its
//! `check` also never reserves: a caller that must wait learns when to try
//! again, sleeps, and races every other caller for the same slot, so a
//! bounded wait can end in a rejection after the full wait. Keeping only
//! its arithmetic would mean a dependency (with `quanta`, `dashmap`,
//! `parking_lot`) for some twenty lines; they are written out here instead.

mod config;
mod limiter;
mod reconfigure;
pub(crate) use reconfigure::ROUTE;

pub(crate) use config::LiveRateLimiterConfig;
pub use config::RateLimiterConfig;
use limiter::Derived;
pub use limiter::{RateLimiter, RateLimiterSnapshot};
