//! The tracing span of each attempt of a protected call, for the code the
//! macros generate (through `__private`): made only when a subscriber
//! records it (feature `spans`), and a future wrapper that polls the body
//! and the policies' waits inside it. Apart from the macro support since
//! it is machinery with a cost model of its own (see [`AttemptSpan`]),
//! not glue; it knows no policy.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

/// The span of one attempt of a protected call (or of the whole call,
/// without `#[retry]`), if a subscriber records it; see [`attempt_span`].
///
/// With the `spans` feature, boxed, so that it costs the call's future one
/// word, not a whole span, when tracing is off; the box is made only when a
/// subscriber records the span, which costs far more than the allocation.
/// Without the feature, always `None`, of a type with no value: the
/// generated code's span branches compile away.
pub type AttemptSpan = Option<SpanHandle>;

/// A recorded attempt span.
#[cfg(feature = "spans")]
pub type SpanHandle = Box<tracing::Span>;

/// No span: the `spans` feature is off.
#[cfg(not(feature = "spans"))]
#[derive(Debug)]
pub enum SpanHandle {}

/// No span: for the layers outside every retry's attempts.
pub const NO_SPAN: AttemptSpan = None;

/// The `resil.attempt` span (with the `spans` feature): level `DEBUG`,
/// target `resil`, fields `policies` (`"retry=payments
/// circuit_breaker=payments"`, outermost first) and `attempt` (from 1), a
/// child of `parent` (an enclosing retry's attempt) or of the current span.
/// The body, and the policies' waits and rejections, run in it
/// ([`traced`]), so a trace shows each retry as its own span, the
/// rejections inside it.
///
/// With no subscriber interested (none installed, or one that filters out
/// `resil` at `DEBUG`) there is no span: the cost is the callsite's cached
/// interest check, and the fields are never formatted. Even so, a span
/// that might exist costs each call a few nanoseconds (measured), which is
/// why the feature is off by default.
#[inline]
#[cfg_attr(not(feature = "spans"), allow(unused_variables))]
pub fn attempt_span(
    policies: &'static [(&'static str, &'static str)],
    attempt: u32,
    parent: &AttemptSpan,
) -> AttemptSpan {
    #[cfg(feature = "spans")]
    {
        let span = match parent {
            Some(parent) => {
                tracing::debug_span!(target: "resil", parent: &**parent, "resil.attempt", policies = %Policies(policies), attempt)
            }
            None => {
                tracing::debug_span!(target: "resil", "resil.attempt", policies = %Policies(policies), attempt)
            }
        };
        (!span.is_disabled()).then(|| Box::new(span))
    }
    #[cfg(not(feature = "spans"))]
    None
}

/// `future`, polled inside `span`.
#[inline]
pub fn traced<F: Future>(span: SpanHandle, future: F) -> Traced<SpanHandle, F> {
    Traced {
        span: Some(span),
        inner: future,
    }
}

/// `future`, polled inside `span` when there is one; for the slow entries
/// of the policies, before the body takes the span.
#[inline]
pub fn traced_by_ref<F: Future>(span: &AttemptSpan, future: F) -> Traced<&SpanHandle, F> {
    Traced {
        span: span.as_ref(),
        inner: future,
    }
}

pin_project_lite::pin_project! {
    /// A future polled inside an attempt's span, if any, which it holds
    /// (`S` is [`SpanHandle`]) or borrows (`&SpanHandle`); see [`traced`].
    #[derive(Debug)]
    pub struct Traced<S, F> {
        span: Option<S>,
        #[pin]
        inner: F,
    }
}

impl<S: std::borrow::Borrow<SpanHandle>, F: Future> Future for Traced<S, F> {
    type Output = F::Output;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let _entered = this.span.as_ref().map(|span| enter(span.borrow()));
        this.inner.poll(cx)
    }
}

#[cfg(feature = "spans")]
fn enter(span: &SpanHandle) -> tracing::span::Entered<'_> {
    span.enter()
}

#[cfg(not(feature = "spans"))]
fn enter(span: &SpanHandle) {
    match *span {}
}

/// Formats a stack of `(kind, name)` as `kind=name kind=name`.
#[cfg_attr(not(feature = "spans"), allow(dead_code))]
struct Policies(&'static [(&'static str, &'static str)]);

impl fmt::Display for Policies {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (kind, name)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{kind}={name}")?;
        }
        Ok(())
    }
}
