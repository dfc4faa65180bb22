//! Support for the code the macros generate. Not a public API: reached only
//! through `resil::__private`, and it may change in any release.

use std::fmt;
use std::time::Duration;

pub use crate::bulkhead::slots::BulkheadSlot;
pub use crate::bulkhead::{Bulkhead, BulkheadConfig};
pub use crate::circuit_breaker::permit::settle;
pub use crate::circuit_breaker::refusal::Refusal;
pub use crate::circuit_breaker::{CircuitBreaker, CircuitBreakerConfig, CircuitPermit};
pub use crate::error::Error;
pub use crate::outcome::{Rejection, always, never, no_retry_after};
pub use crate::rate_limit::{RateLimiter, RateLimiterConfig};
pub use crate::retry::pause::sleep;
pub use crate::retry::{Backoff, Jitter, Retry, RetryConfig, RetryRun, RetryStep};
pub use crate::timeout::{Timeout, TimeoutConfig};

pub use crate::declared::{
    BulkheadPolicy, CircuitBreakerPolicy, RetryPolicyDecl, bulkhead_policy, circuit_breaker_policy,
    declared_policy, retry_policy,
};
pub use crate::registry::Registered;
pub use crate::registry::{DECLARATIONS, Declaration};
pub use crate::site::{
    BulkheadSite, CircuitBreakerSite, KeyedCircuitBreakerSite, KeyedSite, RateLimiterSite,
    RetrySite, Site, TimeoutSite,
};
pub use crate::span::{
    AttemptSpan, NO_SPAN, SpanHandle, Traced, attempt_span, traced, traced_by_ref,
};
pub use linkme;

/// `E::from` for resil errors: every policy's refusal travels as the
/// function's own error `E`, for the return type `R = Result<T, E>`. The
/// macros call it once per function, spanned over the return type, so a
/// missing `From` is one error, reported there (the converter's uses,
/// through [`convert!`], then compile without another).
///
/// The converter is a zero-sized value, not a function pointer: it takes
/// no room in the call's future (a pointer kept across the body's await
/// was measured at several nanoseconds a call).
#[inline]
pub fn error_converter<R, E>(_return_type: std::marker::PhantomData<R>) -> Converter<E>
where
    R: ResultLike<Err = E>,
    E: FromResilError,
{
    Converter(std::marker::PhantomData)
}

/// Turns a [`resil::Error`](Error) into the function's `E`; made by
/// [`error_converter`], used through [`convert!`].
#[allow(missing_debug_implementations)]
pub struct Converter<E>(std::marker::PhantomData<fn() -> E>);

impl<E> Clone for Converter<E> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<E> Copy for Converter<E> {}

/// `converter.convert(error)` for an `E` with `From<resil::Error>`.
#[doc(hidden)]
pub trait ConvertWithFrom<E> {
    fn convert(&self, error: Error) -> E;
}

impl<E: From<Error>> ConvertWithFrom<E> for Converter<E> {
    #[inline]
    fn convert(&self, error: Error) -> E {
        E::from(error)
    }
}

/// The same for an `E` without it: only ever compiled next to the error
/// [`error_converter`] reports, so that it is the only one.
#[doc(hidden)]
pub trait ConvertWithout<E> {
    fn convert(&self, error: Error) -> E;
}

impl<E> ConvertWithout<E> for &Converter<E> {
    fn convert(&self, _error: Error) -> E {
        unreachable!("a program with this call does not compile: `E` lacks `From<resil::Error>`")
    }
}

/// `converter.convert(error)`, as a macro: which of the two traits applies
/// is decided where `E` is concrete, the generated call site (autoref
/// specialisation, like [`describe!`]).
pub use crate::__resil_convert as convert;

#[doc(hidden)]
#[macro_export]
macro_rules! __resil_convert {
    ($converter:expr, $error:expr) => {{
        #[allow(unused_imports)]
        use $crate::__private::{ConvertWithFrom as _, ConvertWithout as _};
        (&$converter).convert($error)
    }};
}

/// Marks the function's return type as a `Result`.
#[diagnostic::on_unimplemented(
    message = "resil policies need the function to return `Result<T, E>`, not `{Self}`",
    label = "not a `Result`",
    note = "rejections reach the caller as `E`, so `E` must implement `From<resil::Error>`"
)]
pub trait ResultLike {
    /// The error type, `E`.
    type Err;
}

impl<T, E> ResultLike for Result<T, E> {
    type Err = E;
}

/// Fixes the body's output type to the function's return type, so that `?`
/// and `Ok(..)` in the body infer as they would without the macro.
#[inline(always)]
pub fn anchor<R, F: Future<Output = R>>(body: F) -> F {
    body
}

/// Errors that can carry a resil rejection.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot carry a resil rejection",
    label = "the function's error type must implement `From<resil::Error>`",
    note = "add a variant such as `#[error(transparent)] Resil(#[from] resil::Error)` to `{Self}`"
)]
pub trait FromResilError: From<Error> {}

impl<E: From<Error>> FromResilError for E {}

/// Owned arguments that a retried function passes again on each attempt.
#[diagnostic::on_unimplemented(
    message = "`#[retry]` passes each owned argument to every attempt, so `{Self}` must implement `Clone`",
    label = "this argument is not `Clone`",
    note = "take the argument by reference (`&{Self}`), or implement `Clone` for it"
)]
pub trait RetryArg: Clone {}

impl<T: Clone> RetryArg for T {}

/// A fresh copy of an owned argument for the next attempt.
#[inline]
pub fn clone_arg<T: RetryArg>(argument: &T) -> T {
    argument.clone()
}

/// Owned arguments that `#[fallback]` passes to the fallback as well as to
/// the body.
#[diagnostic::on_unimplemented(
    message = "`#[fallback]` passes each owned argument to the fallback too, so `{Self}` must implement `Clone`",
    label = "this argument is not `Clone`",
    note = "take the argument by reference (`&{Self}`), implement `Clone` for it, or put a `#[retry]` below the `#[fallback]`, which leaves the arguments to the fallback"
)]
pub trait FallbackArg: Clone {}

impl<T: Clone> FallbackArg for T {}

/// The fallback's copy of an owned argument, taken before the body runs.
#[inline]
pub fn clone_fallback_arg<T: FallbackArg>(argument: &T) -> T {
    argument.clone()
}

/// Whether a fallback answers the error the layers below ended with:
/// every error, or only rejections (`rejections_only`). The fallback's
/// answer is no rejection, whatever it answered.
#[inline]
pub fn fallback_applies(rejection: Rejection, rejections_only: bool) -> bool {
    !rejections_only || rejection.is_set()
}

/// What a `#[fallback]` function must return: a future of the function's
/// own return type `R`.
#[diagnostic::on_unimplemented(
    message = "the fallback must be an `async fn` returning `{R}`, like the function it stands in for",
    label = "`{Self}` is not a future",
    note = "the fallback takes the function's arguments, then its error, and returns what the function returns: `async fn fallback(<the same arguments>, error: E) -> {R}`"
)]
pub trait FallbackFuture<R>: Future<Output = R> {}

impl<R, F: Future<Output = R>> FallbackFuture<R> for F {}

/// Checks the fallback's type where the error can name it.
#[inline(always)]
pub fn fallback_future<R, F: FallbackFuture<R>>(future: F) -> F {
    future
}

/// Renders an error for the retry log when its type is `Debug`, and as
/// `None` when it is not, so that errors without `Debug` still compile.
///
/// A macro, not a function: the choice (autoref specialisation) must be made
/// where the error type is concrete, which is the generated call site. Use
/// it as `::resil::__private::describe!(error_ref)`.
pub use crate::__resil_describe as describe;

#[doc(hidden)]
#[macro_export]
macro_rules! __resil_describe {
    ($error:expr) => {{
        #[allow(unused_imports)]
        use $crate::__private::{RenderDebug as _, RenderNothing as _};
        (&&$crate::__private::Describe($error)).render()
    }};
}

#[doc(hidden)]
#[allow(missing_debug_implementations)]
pub struct Describe<'a, E>(pub &'a E);

#[doc(hidden)]
pub trait RenderDebug {
    fn render(&self) -> Option<String>;
}

impl<E: fmt::Debug> RenderDebug for &Describe<'_, E> {
    fn render(&self) -> Option<String> {
        Some(format!("{:?}", self.0))
    }
}

#[doc(hidden)]
pub trait RenderNothing {
    fn render(&self) -> Option<String>;
}

impl<E> RenderNothing for Describe<'_, E> {
    fn render(&self) -> Option<String> {
        None
    }
}

// The entries only generated code calls. They are inherent `pub(crate)`
// methods of the policies, so that a policy's public surface is what a
// user may call; generated code reaches them through these traits, by
// UFCS (`::resil::__private::BreakerEntry::try_enter(&*breaker)`). Each
// method forwards to the inherent one with the same inlining, so that the
// generated code compiles to what it did when it called them directly.

/// Keeps the entry traits to the runtime's own types.
mod sealed {
    pub trait Sealed {}
    impl Sealed for super::CircuitBreaker {}
    impl Sealed for super::Bulkhead {}
    impl Sealed for super::RetryRun<'_> {}
    impl Sealed for super::Timeout {}
}

/// A circuit breaker's entry as the generated code makes it: the fast
/// path, the slow path (chaos faults, open and half-open), and the error a
/// refusal stands for.
pub trait BreakerEntry: sealed::Sealed {
    /// A permit if the breaker is closed; `None` sends the call to
    /// [`enter_slow`](Self::enter_slow).
    fn try_enter(&self) -> Option<CircuitPermit<'_>>;
    /// Chaos faults, then a permit or the refusal.
    fn enter_slow(&self) -> impl Future<Output = Result<CircuitPermit<'_>, Refusal>> + Send;
    /// The error a refusal of this breaker stands for.
    fn refusal_error(&self, refusal: Refusal) -> Error;
}

impl BreakerEntry for CircuitBreaker {
    #[inline]
    fn try_enter(&self) -> Option<CircuitPermit<'_>> {
        CircuitBreaker::try_enter(self)
    }

    #[inline]
    fn enter_slow(&self) -> impl Future<Output = Result<CircuitPermit<'_>, Refusal>> + Send {
        CircuitBreaker::enter_slow(self)
    }

    #[inline]
    fn refusal_error(&self, refusal: Refusal) -> Error {
        CircuitBreaker::refusal_error(self, refusal)
    }
}

/// A bulkhead's entry as the generated code makes it: a free slot at once,
/// or the queue.
pub trait BulkheadEntry: sealed::Sealed {
    /// A slot if one is free; `None` sends the call to
    /// [`enter_slow`](Self::enter_slow).
    fn try_enter(&self) -> Option<BulkheadSlot<'_>>;
    /// Chaos faults, then a slot, waiting in the queue if need be.
    fn enter_slow(&self) -> impl Future<Output = Result<BulkheadSlot<'_>, Error>> + Send;
}

impl BulkheadEntry for Bulkhead {
    #[inline]
    fn try_enter(&self) -> Option<BulkheadSlot<'_>> {
        Bulkhead::try_enter(self)
    }

    #[inline]
    fn enter_slow(&self) -> impl Future<Output = Result<BulkheadSlot<'_>, Error>> + Send {
        Bulkhead::enter_slow(self)
    }
}

/// The generated retry loop's steps: a success counted, and the decision
/// after a failure that takes the error by value (users step a run with
/// [`RetryRun::next`](crate::retry::RetryRun::next) and `next_hinted`).
pub trait RetryStepping: sealed::Sealed {
    /// The attempt succeeded: counted; the run is over.
    fn succeeded(&self);
    /// `Done(error)` hands the error back to be returned; `Retry(delay)`
    /// drops it.
    fn after_failure<E, P, H, D>(
        &mut self,
        error: E,
        rejection: Rejection,
        retry_if: P,
        retry_after: H,
        describe: D,
    ) -> RetryStep<E>
    where
        P: Fn(&E) -> bool,
        H: Fn(&E) -> Option<Duration>,
        D: Fn(&E) -> Option<String>;
    /// What follows an attempt that gave `result`, for an error that may be
    /// an inner policy's refusal, as `rejection` says (see
    /// [`RetryRun::next_hinted`] for errors that are never refusals).
    fn next_after<T, E, P, H, D>(
        &mut self,
        result: Result<T, E>,
        rejection: Rejection,
        retry_if: P,
        retry_after: H,
        describe: D,
    ) -> RetryStep<Result<T, E>>
    where
        P: Fn(&E) -> bool,
        H: Fn(&E) -> Option<Duration>,
        D: Fn(&E) -> Option<String>;
}

impl RetryStepping for RetryRun<'_> {
    #[inline]
    fn succeeded(&self) {
        RetryRun::succeeded(self)
    }

    #[inline]
    fn after_failure<E, P, H, D>(
        &mut self,
        error: E,
        rejection: Rejection,
        retry_if: P,
        retry_after: H,
        describe: D,
    ) -> RetryStep<E>
    where
        P: Fn(&E) -> bool,
        H: Fn(&E) -> Option<Duration>,
        D: Fn(&E) -> Option<String>,
    {
        RetryRun::after_failure(self, error, rejection, retry_if, retry_after, describe)
    }

    #[inline]
    fn next_after<T, E, P, H, D>(
        &mut self,
        result: Result<T, E>,
        rejection: Rejection,
        retry_if: P,
        retry_after: H,
        describe: D,
    ) -> RetryStep<Result<T, E>>
    where
        P: Fn(&E) -> bool,
        H: Fn(&E) -> Option<Duration>,
        D: Fn(&E) -> Option<String>,
    {
        RetryRun::next_after(self, result, rejection, retry_if, retry_after, describe)
    }
}

/// A timeout's entry as the generated code makes it: the layers below
/// raced against the limit, a timeout made into the function's own error.
pub trait TimeoutEntry: sealed::Sealed {
    /// Runs `call` within the limit; `convert` is `E::from`.
    fn run<T, E, F, C>(
        &self,
        call: F,
        convert: C,
    ) -> impl Future<Output = (Result<T, E>, Rejection)>
    where
        F: Future<Output = (Result<T, E>, Rejection)>,
        C: FnOnce(Error) -> E;
}

impl TimeoutEntry for Timeout {
    #[inline]
    fn run<T, E, F, C>(
        &self,
        call: F,
        convert: C,
    ) -> impl Future<Output = (Result<T, E>, Rejection)>
    where
        F: Future<Output = (Result<T, E>, Rejection)>,
        C: FnOnce(Error) -> E,
    {
        Timeout::run(self, call, convert)
    }
}
