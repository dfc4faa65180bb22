//! Circuit breaker: stops calling a dependency that keeps failing, and
//! probes it with a few trial calls before trusting it again.
//!
//! # How the state is laid out
//!
//! Everything a transition depends on (the state, its generation, and the
//! consecutive-failure count, open deadline or half-open trial counts) lives
//! in one `AtomicU64` (see `state.rs`), so every transition is one
//! compare-and-swap, and the half-open trial limit holds under any
//! concurrency: a trial slot is taken by the same CAS that checks the limit.
//! The closed path is one `Acquire` load before the call and, after it, a
//! bump of a per-thread success counter (no locked instruction; see
//! `counter.rs`) and one more load (plus a CAS only when a failure streak
//! is broken). No lock and no allocation happen on the closed path, and no
//! clock read unless `slow_call`, a time window or metrics call timing asks
//! for one.
//!
//! A permit is two words, the breaker and a packed `Ticket` (generation,
//! trial, timing and start time): it lives across the call's await, and a
//! permit of narrow fields read back whole stalls the CPU's store
//! forwarding.
//!
//! The open path compares the deadline with the coarse monotonic clock
//! (`clock::certainly_before`) and reads the precise one only within a few
//! milliseconds of the deadline, and only for a deadline set on the real
//! clock (`clock::on_real_clock`, asked once per opening and kept in the
//! state word: a paused test clock always decides on the precise path); the rejection is counted per thread and
//! leaves the entry as a one-word `Refusal`, made into a `resil::Error`
//! only where the generated code hands it on.
//!
//! # Windows
//!
//! With `failure_rate` or `slow_call` the breaker keeps a sliding window of
//! recent calls, allocated once when it is built:
//!
//! - a **count window** (`window = 100`, the default kind) holds the last
//!   `window` calls as rings of bits, one for failures and, with
//!   `slow_call`, one for slow calls (see `window.rs`): 16 bytes per ring
//!   for 100 calls, so a breaker with a 100-call window stays under 256
//!   bytes in all;
//! - a **time window** (`window = 60s`) holds the calls of the last `window`
//!   in 64 buckets of `window / 64` each, every counter an atomic word that
//!   carries its bucket's epoch (see `time_window.rs`): 1536 bytes whatever
//!   the length or the traffic, and one clock read per call.
//!
//! The breaker opens when, once the window holds `min_calls` calls, the
//! share of failures reaches `failure_rate` or the share of slow calls
//! reaches `slow_rate`.
//!
//! # Slow calls
//!
//! With `slow_call = 2s`, a permit notes the time it was issued and the
//! outcome compares the call's duration with the bound: a call that took
//! longer is slow, whether it succeeded or failed, and is recorded as such
//! in the window. A slow half-open trial counts as a failed trial.

mod admission;
mod breaker;
mod config;
#[cfg(feature = "chaos")]
mod fault;
mod observers;
pub(crate) mod permit;
mod reconfigure;
pub(crate) use reconfigure::ROUTE;
pub(crate) mod refusal;
mod sliding;
mod snapshot;
mod state;
mod time_window;
mod transitions;
pub(crate) mod window;

pub use breaker::CircuitBreaker;
pub use config::CircuitBreakerConfig;
pub(crate) use config::LiveCircuitBreakerConfig;
pub use observers::StateChange;
pub use permit::CircuitPermit;
#[cfg(feature = "tower")]
pub(crate) use permit::OwnedCircuitPermit;
pub(crate) use refusal::Refusal;
pub use snapshot::CircuitBreakerSnapshot;
pub use state::CircuitState;
