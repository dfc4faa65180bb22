//! Shared by the bench binaries: the protected function, its error type, a
//! no-op-waker executor and the short criterion settings.
//!
//! Every bench, bare or protected, resil or peer, drives its future with the
//! same `block_on`, so the executor's cost is the same on both sides of each
//! difference the table reports.

use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use criterion::Criterion;

/// The error of the protected function. `From<resil::Error>` is what the
/// macros require of it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum BenchError {
    Resil(resil::Error),
    Upstream,
}

impl From<resil::Error> for BenchError {
    fn from(error: resil::Error) -> Self {
        Self::Resil(error)
    }
}

impl std::fmt::Display for BenchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Resil(error) => write!(f, "{error}"),
            Self::Upstream => f.write_str("upstream failed"),
        }
    }
}

impl std::error::Error for BenchError {}

/// The trivial `async fn` every bench protects. `black_box` keeps its value
/// opaque; it is free to inline, as a real `async fn` body would be, so that
/// the difference to `bare` is the policy and not the cost of moving a
/// future the compiler could not see into.
pub(crate) async fn work(input: u64) -> Result<u64, BenchError> {
    Ok(black_box(input))
}

/// A call that fails, to trip breakers open.
pub(crate) async fn fail(_input: u64) -> Result<u64, BenchError> {
    Err(BenchError::Upstream)
}

/// Polls `future` to completion with a no-op waker. Every future benched
/// here is ready on its first poll; the loop is only there for correctness.
#[inline(always)]
pub(crate) fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        std::hint::spin_loop();
    }
}

/// Short measurements: the machine has two cores and others build on it.
pub(crate) fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30)
        .configure_from_args()
}

/// Prints what a benchmarked variant was configured with, as a
/// `resil-bench-config:` line that `scripts/bench-table.py` puts beside the
/// variant's row: a row is only worth reading if both sides do the same work.
pub(crate) fn configured(group: &str, variant: &str, configuration: &str) {
    println!("resil-bench-config: {group}/{variant} = {configuration}");
}

/// The peer of resil's 100-call failure-rate window: recloser with the same
/// ring and rate (also recloser's default), and how the table names it.
pub(crate) const WINDOWED_RECLOSER: &str = "custom().closed_len(100).error_rate(0.5)";

pub(crate) fn windowed_recloser() -> recloser::AsyncRecloser {
    recloser::AsyncRecloser::from(
        recloser::Recloser::custom()
            .closed_len(100)
            .error_rate(0.5)
            .build(),
    )
}

/// The peer of resil's default breaker: failsafe's consecutive-failure
/// policy alone (its `Config::new()` default also keeps a success-rate time
/// window), and how the table names it.
pub(crate) const CONSECUTIVE_FAILSAFE: &str =
    "failure_policy(consecutive_failures(5, constant(60 s)))";

pub(crate) fn consecutive_failsafe() -> failsafe::StateMachine<
    failsafe::failure_policy::ConsecutiveFailures<failsafe::backoff::Constant>,
    (),
> {
    failsafe::Config::new()
        .failure_policy(failsafe::failure_policy::consecutive_failures(
            5,
            failsafe::backoff::constant(Duration::from_secs(60)),
        ))
        .build()
}
