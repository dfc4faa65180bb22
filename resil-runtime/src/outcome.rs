//! What one attempt of a protected call ended with, as the layers around
//! it need to know: whether an inner policy refused it ([`Rejection`]) and
//! the default judgements of the body's errors (`never` ignored, `always`
//! retried, no `retry_after`).
//!
//! A primitive: every policy and the generated code use it, and it knows
//! nothing above the error type. It lives apart from the macro support
//! (`__private` re-exports it) so that policies need not import the layer
//! that imports them.

use std::time::Duration;

use crate::error::Error;

/// Whether the error an attempt ended with is an inner policy's refusal
/// rather than the body's own: a retry tells "the dependency failed" from
/// "we never called it", a breaker above does not count it, a
/// `rejections_only` fallback answers only it.
///
/// The error itself has already become the function's `E` (through
/// `From<resil::Error>`), so that every layer passes the body's own
/// `Result<T, E>` on unchanged: no layer re-wraps the result, which would
/// copy it once per layer on every call. This record travels beside it,
/// made only where a policy refuses, to the layers that ask.
#[derive(Debug, Default, Clone, Copy)]
pub struct Rejection {
    /// One word, as it lives in every protected call's future: 0 when
    /// nothing was refused; else the refusal's `retry_after` in nanoseconds
    /// plus one, or `u64::MAX` for a refusal without one.
    state: u64,
}

impl Rejection {
    const WITHOUT_RETRY_AFTER: u64 = u64::MAX;

    /// Nothing refused yet.
    pub const fn new() -> Self {
        Self { state: 0 }
    }

    /// Whether the last error was a refusal.
    #[inline]
    pub fn is_set(&self) -> bool {
        self.state != 0
    }

    /// When the refusing policy said to come back.
    pub fn retry_after(&self) -> Option<Duration> {
        match self.state {
            0 | Self::WITHOUT_RETRY_AFTER => None,
            nanos => Some(Duration::from_nanos(nanos - 1)),
        }
    }

    /// The record of `error`'s refusal.
    #[cold]
    #[inline(never)]
    pub fn of(error: &Error) -> Self {
        let state = match error.retry_after() {
            Some(after) => {
                let nanos = u64::try_from(after.as_nanos()).unwrap_or(u64::MAX);
                nanos.min(Self::WITHOUT_RETRY_AFTER - 2) + 1
            }
            None => Self::WITHOUT_RETRY_AFTER,
        };
        Self { state }
    }
}

/// The default `ignore`: no error is ignored.
#[inline]
pub fn never<E>(_: &E) -> bool {
    false
}

/// The default `retry_if`: every error is retried.
#[inline]
pub fn always<E>(_: &E) -> bool {
    true
}

/// The default `retry_after`: the body's errors say nothing about when to
/// come back.
#[inline]
pub fn no_retry_after<E>(_: &E) -> Option<Duration> {
    None
}
