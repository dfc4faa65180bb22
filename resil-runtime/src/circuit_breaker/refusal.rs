//! Refusals: how an open (or full half-open, or forced open) breaker says
//! no. A refusal is counted and reported where it happens, and leaves the
//! entry as a one-word [`Refusal`], made into a `resil::Error` only by
//! [`CircuitBreaker::refusal_error`] where the generated code hands it on:
//! the error is six words, and building it on every rejection would cost
//! every rejected call.

use std::time::Duration;

use super::CircuitBreaker;
#[cfg(feature = "chaos")]
use super::CircuitPermit;
use crate::error::{Error, PolicyKind};
use crate::events;

/// Why a breaker refused a call, before it is made into a
/// [`resil::Error`](Error) by [`CircuitBreaker::refusal_error`]: one word
/// without drop glue where the error is six, so that the refusal travels
/// out of the entry cheaply and the error is built once, where it is handed
/// on. The word is the `retry_after` of an open (or forced open, or full
/// half-open) breaker in microseconds, or [`INJECTED`] for a chaos fault.
///
/// [`INJECTED`]: Self::INJECTED
#[doc(hidden)]
#[derive(Debug, Clone, Copy)]
pub struct Refusal(u64);

impl Refusal {
    /// A failure injected by chaos.
    #[cfg_attr(not(feature = "chaos"), allow(dead_code))]
    pub(crate) const INJECTED: Self = Self(u64::MAX);

    #[inline]
    pub(super) fn open(retry_after: Duration) -> Self {
        Self(
            u64::try_from(retry_after.as_micros())
                .unwrap_or(u64::MAX)
                .min(u64::MAX - 1),
        )
    }
}

impl CircuitBreaker {
    /// Counts and reports a rejection; the error itself is made only by
    /// [`refusal_error`](Self::refusal_error), where it is handed on.
    #[inline(always)]
    pub(super) fn refuse(&self, retry_after: Duration) -> Refusal {
        self.counters.rejected.increment();
        #[cfg(feature = "metrics")]
        if crate::meter::call_timing() {
            crate::meter::call_duration(&self.name, "rejected", Duration::ZERO);
        }
        tracing::debug!(target: "resil", policy = %self.name, retry_after_ms = retry_after.as_millis() as u64, "circuit breaker rejected a call");
        events::rejected(&self.name, PolicyKind::CircuitBreaker, || {
            self.open_error(retry_after)
        });
        Refusal::open(retry_after)
    }

    fn open_error(&self, retry_after: Duration) -> Error {
        Error::CircuitOpen {
            policy: self.name.clone(),
            retry_after,
        }
    }

    /// The error a [`Refusal`] of this breaker stands for. Generated code
    /// reaches it through `__private::BreakerEntry`.
    #[cold]
    pub(crate) fn refusal_error(&self, refusal: Refusal) -> Error {
        #[cfg(feature = "chaos")]
        if refusal.0 == Refusal::INJECTED.0 {
            return crate::chaos::injected_error(&self.name);
        }
        self.open_error(Duration::from_micros(refusal.0))
    }

    /// [`try_acquire`](Self::try_acquire), with the refusal not yet an error.
    #[cfg(feature = "chaos")]
    pub(crate) fn acquire_or_refuse(&self) -> Result<CircuitPermit<'_>, Refusal> {
        self.enter_now()
    }
}
