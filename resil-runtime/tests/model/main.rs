//! Property tests: random sequences of operations applied both to a policy
//! and to a small, sequential reference model written here from the
//! documented behaviour. States, admissions, rejections and counters must
//! agree after every step.
//!
//! Time is a paused tokio clock, moved only by `tokio::time::advance`, so
//! deadlines and waits are exact.
//!
//! # Replaying a failure
//!
//! Every property runs through [`check`], which seeds proptest's generator
//! from `RESIL_SEED` (a fresh random seed when it is unset) and, when a
//! property fails, names that seed in the panic message: run again with
//! `RESIL_SEED=<seed>` (and the same `PROPTEST_CASES`) to replay the whole
//! run, shrinking included. Randomness inside the policies is part of the
//! generated input (retry jitter takes a generated seed through
//! `Retry::seed_jitter`), so it replays too. Each failing case is also
//! saved under `tests/proptest-regressions/` (proptest's default place for
//! a test binary in a folder), and those saved cases run first on every
//! later run: commit them.
//!
//! Case counts are moderate (see [`CASES`]); `PROPTEST_CASES` overrides
//! every one of them, so CI or a local soak can raise them.

use std::future::Future;
use std::panic;
use std::pin::Pin;
use std::sync::{Once, OnceLock};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::{FileFailurePersistence, RngSeed, TestCaseResult, TestRunner};

mod breaker;
mod bulkhead;
mod rate_limit;
mod retry;

/// Cases per property unless `PROPTEST_CASES` says otherwise.
const CASES: u32 = 256;

/// The seed of this run's case generation: `RESIL_SEED`, or one drawn once
/// per process.
fn run_seed() -> u64 {
    static SEED: OnceLock<u64> = OnceLock::new();
    *SEED.get_or_init(|| match std::env::var("RESIL_SEED") {
        Ok(seed) => seed
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("RESIL_SEED must be a u64, not {seed:?}")),
        Err(_) => rand::random(),
    })
}

/// `cases` cases (or `PROPTEST_CASES`), generated from [`run_seed`], with
/// failures persisted next to the sources.
fn config(cases: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(cases);
    ProptestConfig {
        failure_persistence: Some(Box::new(FileFailurePersistence::SourceParallel(
            "proptest-regressions",
        ))),
        rng_seed: RngSeed::Fixed(run_seed()),
        ..ProptestConfig::with_cases(cases)
    }
}

/// Runs property `test` on `cases` inputs from `strategy` (see [`config`]).
/// `source` is the caller's `file!()`: it decides which regression file
/// keeps the failures. A failure panics with the minimal input and the
/// seed that replays the run.
#[track_caller]
fn check<S>(
    source: &'static str,
    cases: u32,
    strategy: S,
    test: impl Fn(S::Value) -> TestCaseResult,
) where
    S: Strategy,
    S::Value: std::fmt::Debug,
{
    let mut config = config(cases);
    config.source_file = Some(source);
    let mut runner = TestRunner::new(config);
    if let Err(failure) = runner.run(&strategy, test) {
        panic!(
            "{failure}\n{runner}\nreplay this run with RESIL_SEED={} (and the same PROPTEST_CASES)",
            run_seed()
        );
    }
}

/// Whole milliseconds: the unit every model keeps time in.
const MS: Duration = Duration::from_millis(1);

fn paused_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap()
}

/// Polls a future once with a waker that does nothing: the models poll by
/// hand, after moving the clock, instead of letting a runtime drive them.
fn poll_once<F: Future + ?Sized>(future: Pin<&mut F>) -> Poll<F::Output> {
    future.poll(&mut Context::from_waker(Waker::noop()))
}

/// The payload of the panics the models raise on purpose; the hook below
/// keeps them off the test output.
struct ModelPanic;

fn quiet_model_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let default = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if !info.payload().is::<ModelPanic>() {
                default(info);
            }
        }));
    });
}
