//! Behaviour of every policy rule, through the attributes as users write
//! them. One binary (modules below) keeps CI's link time down.
//!
//! Every test that involves time runs on a paused clock: `tokio::time`
//! advances only when the test says so, or when every task is idle. The
//! exceptions are the tests that claim concurrency: they run on a
//! multi-thread runtime (which cannot pause time) and check outcomes that
//! do not depend on how long anything took.

mod bulkhead;
mod circuit_breaker;
mod clock;
mod config;
mod declared;
mod fallback;
mod keyed;
mod rate_limit;
mod registry;
mod retry;
mod rules;
mod stack;
mod timeout;

use std::sync::atomic::{AtomicU32, Ordering};

/// The error type of every protected function in these tests.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub(crate) enum TestError {
    #[error(transparent)]
    Resil(#[from] resil::Error),
    #[error("upstream failed (call {0})")]
    Upstream(u32),
    #[error("bad request")]
    Validation,
}

impl TestError {
    pub(crate) fn is_validation(&self) -> bool {
        matches!(self, Self::Validation)
    }
}

/// `ignore` / `retry_if` predicate used by several tests.
pub(crate) fn is_validation(error: &TestError) -> bool {
    error.is_validation()
}

/// What a test body should do on its next call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Ok,
    Fail,
    Invalid,
}

impl Outcome {
    pub(crate) fn into_result(self, call: u32) -> Result<u32, TestError> {
        match self {
            Outcome::Ok => Ok(call),
            Outcome::Fail => Err(TestError::Upstream(call)),
            Outcome::Invalid => Err(TestError::Validation),
        }
    }
}

/// Counts how often a body ran.
#[derive(Debug, Default)]
pub(crate) struct Calls(AtomicU32);

impl Calls {
    pub(crate) const fn new() -> Self {
        Self(AtomicU32::new(0))
    }

    /// Records one run and returns its number, from 1.
    pub(crate) fn hit(&self) -> u32 {
        self.0.fetch_add(1, Ordering::SeqCst) + 1
    }

    pub(crate) fn get(&self) -> u32 {
        self.0.load(Ordering::SeqCst)
    }
}

/// Lets pending tasks run without advancing the paused clock.
pub(crate) async fn settle() {
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
}
