//! Retry: runs a failed call again after a growing, randomised wait.
//!
//! The loop itself is generated inline by `#[retry]` around the function's
//! body (no closure, so `&mut self` and borrowed arguments work); this
//! module decides, after each attempt, whether to try again and how long to
//! wait, and keeps the shared statistics of a named retry policy. An attempt
//! that succeeds first time costs one bump of a per-thread counter: the
//! generated loop takes the result apart and counts a success inline
//! (`RetryRun::succeeded`); only an error goes to the decision
//! (`RetryRun::after_failure`), by value. Lending the result to the
//! decision instead would take its address, and keep every result in
//! memory to be copied out (measured at about 10 ns a call).

mod config;
mod jitter_source;
pub(crate) mod pause;
mod policy;
mod reconfigure;
pub(crate) use reconfigure::ROUTE;
mod run;

pub(crate) use config::LiveRetryConfig;
pub use config::{Backoff, Jitter, RetryConfig};
pub use policy::{Retry, RetrySnapshot};
pub use run::{RetryRun, RetryStep};

/// The name [`Retry`] had before every policy type was named for its
/// policy alone, like `CircuitBreaker` and `Bulkhead`.
#[deprecated(note = "renamed `resil::Retry`")]
pub type RetryPolicy = Retry;
