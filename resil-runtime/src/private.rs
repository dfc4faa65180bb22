//! Support for the code the macros generate. Not a public API: reached only
//! through `resil::__private`, and it may change in any release.

use std::fmt;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

pub use crate::bulkhead::{Bulkhead, BulkheadConfig};
pub use crate::circuit_breaker::{CircuitBreaker, CircuitBreakerConfig};
pub use crate::error::Error;
pub use crate::rate_limit::{RateLimiter, RateLimiterConfig};
pub use crate::retry::{Backoff, Jitter, RetryConfig, RetryPolicy, RetryRun, RetryStep};
pub use crate::timeout::{TimeoutConfig, TimeoutPolicy};

pub use crate::declared::{
    BulkheadPolicy, CircuitBreakerPolicy, DECLARATIONS, Declaration, RetryPolicyDecl,
    bulkhead_policy, circuit_breaker_policy, declared_policy, retry_policy,
};
pub use crate::keyed::{KeyedCircuitBreakerSite, KeyedSite};
pub use crate::registry::Registered;
use crate::registry::{Entry, Registry, Tabled, registry};
pub use linkme;

/// An attempt's error: the body's own, or an inner policy's rejection.
/// Keeping them apart lets a retry tell "the dependency failed" from "we
/// never called it".
#[derive(Debug)]
pub enum Failure<E> {
    /// The function body returned this error.
    Inner(E),
    /// A policy refused or cut short the call.
    Rejected(Error),
}

/// A `static` per policy per annotated function: registers the policy on
/// first use, then hands out a plain reference with one atomic load.
#[allow(private_bounds)]
pub struct Site<P: Tabled> {
    name: &'static str,
    shared: bool,
    config: P::Config,
    /// The registry's entry, found by the start-up walk or the first call.
    entry: OnceLock<Arc<Entry<P>>>,
    policy: OnceLock<Arc<P>>,
}

/// The call site of a `#[circuit_breaker]`.
pub type CircuitBreakerSite = Site<CircuitBreaker>;
/// The call site of a `#[bulkhead]`.
pub type BulkheadSite = Site<Bulkhead>;
/// The call site of a `#[retry]`.
pub type RetrySite = Site<RetryPolicy>;
/// The call site of a `#[timeout]`.
pub type TimeoutSite = Site<TimeoutPolicy>;
/// The call site of a `#[rate_limit]`.
pub type RateLimiterSite = Site<RateLimiter>;

#[allow(private_bounds, private_interfaces)]
impl<P: Tabled> Site<P> {
    /// A site of the policy named `name`, shared with every other site that
    /// names it; registered with `config` when first used.
    pub const fn new(name: &'static str, config: P::Config) -> Self {
        Self {
            name,
            shared: true,
            config,
            entry: OnceLock::new(),
            policy: OnceLock::new(),
        }
    }

    /// A site with a policy of its own, registered under `default_name`
    /// (the function's path), or `default_name#2`, `#3`, ... when another
    /// function of the same path already has one (an inner `fn` of the
    /// same name in another function, a method of the same name on
    /// another type).
    pub const fn unnamed(default_name: &'static str, config: P::Config) -> Self {
        Self {
            name: default_name,
            shared: false,
            config,
            entry: OnceLock::new(),
            policy: OnceLock::new(),
        }
    }

    /// The policy, registered on the first call.
    #[inline]
    pub fn get(&'static self) -> &'static P {
        match self.policy.get() {
            Some(policy) => policy,
            None => self.init(),
        }
    }

    #[cold]
    fn init(&'static self) -> &'static P {
        // The start-up walk declares this site too: run it first, outside
        // the `OnceLock`s.
        let registry = registry();
        let entry = self.entry.get_or_init(|| self.declare_in(registry));
        self.policy.get_or_init(|| entry.policy())
    }

    /// The name the site was declared with.
    pub(crate) const fn name(&self) -> &'static str {
        self.name
    }

    /// The settings the site was declared with.
    pub(crate) fn config(&self) -> P::Config {
        self.config
    }

    fn declare_in(&self, registry: &Registry) -> Arc<Entry<P>> {
        registry.declare::<P>(self.name, self.config, self.shared, None)
    }
}

impl<P: Tabled> Declaration for Site<P> {
    fn declare(&'static self, registry: &Registry) {
        self.entry.get_or_init(|| self.declare_in(registry));
    }
}

#[allow(private_bounds)]
impl<P: Tabled> fmt::Debug for Site<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Site").field("name", &self.name).finish()
    }
}

/// Runs one attempt of a protected call (or the whole call, without
/// `#[retry]`) in a `resil.attempt` span: level `DEBUG`, target `resil`,
/// fields `policies` (`"retry=payments circuit_breaker=payments"`, outermost
/// first) and `attempt` (from 1). A trace then shows each retry as its own
/// span, the rejections and retry decisions inside it.
///
/// With no subscriber interested (none installed, or one that filters out
/// `resil` at `DEBUG`) the span is disabled: creating it costs the
/// callsite's cached interest check, entering it a branch, and the fields
/// are never formatted.
#[inline]
pub fn attempt<F: Future>(
    policies: &'static [(&'static str, &'static str)],
    attempt: u32,
    future: F,
) -> tracing::instrument::Instrumented<F> {
    let span = tracing::debug_span!(target: "resil", "resil.attempt", policies = %Policies(policies), attempt);
    tracing::Instrument::instrument(future, span)
}

/// Formats a stack of `(kind, name)` as `kind=name kind=name`.
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

/// Waits between attempts, on `tokio::time` so paused clocks drive it.
pub async fn sleep(delay: Duration) {
    tokio::time::sleep(delay).await;
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

/// `E::from` for resil errors, for stacks where a policy's error must
/// travel as the body's own (a timeout, a rejection handed to a fallback).
/// The macros call it once per function, spanned over the return type, and
/// pass the result to every layer and to [`finish_with`], so a missing
/// `From` is one error, reported there.
#[inline]
pub fn error_converter<E: FromResilError>() -> fn(Error) -> E {
    E::from
}

/// Marks the function's return type as a `Result`.
#[diagnostic::on_unimplemented(
    message = "resil policies need the function to return `Result<T, E>`, not `{Self}`",
    label = "not a `Result`",
    note = "rejections reach the caller as `E`, so `E` must implement `From<resil::Error>`"
)]
pub trait ResultLike {}

impl<T, E> ResultLike for Result<T, E> {}

/// Fixes the body's output type to the function's return type, so that `?`
/// and `Ok(..)` in the body infer as they would without the macro.
#[inline(always)]
pub fn anchor<R: ResultLike, F: Future<Output = R>>(body: F) -> F {
    body
}

/// Wraps the body's error as [`Failure::Inner`].
#[inline]
pub async fn lift<T, E, F>(body: F) -> Result<T, Failure<E>>
where
    F: Future<Output = Result<T, E>>,
{
    match body.await {
        Ok(value) => Ok(value),
        Err(error) => Err(Failure::Inner(error)),
    }
}

/// Errors that can carry a resil rejection.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot carry a resil rejection",
    label = "the function's error type must implement `From<resil::Error>`",
    note = "add a variant such as `#[error(transparent)] Resil(#[from] resil::Error)` to `{Self}`"
)]
pub trait FromResilError: From<Error> {}

impl<E: From<Error>> FromResilError for E {}

/// Turns the stack's result back into the function's own `Result`.
#[inline]
pub fn finish<T, E: FromResilError>(result: Result<T, Failure<E>>) -> Result<T, E> {
    match result {
        Ok(value) => Ok(value),
        Err(Failure::Inner(error)) => Err(error),
        Err(Failure::Rejected(rejection)) => Err(E::from(rejection)),
    }
}

/// [`finish`] with the converter from [`error_converter`].
#[inline]
pub fn finish_with<T, E>(result: Result<T, Failure<E>>, convert: fn(Error) -> E) -> Result<T, E> {
    match result {
        Ok(value) => Ok(value),
        Err(Failure::Inner(error)) => Err(error),
        Err(Failure::Rejected(rejection)) => Err(convert(rejection)),
    }
}

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

/// Picks the errors a fallback answers: every error, or only rejections
/// (`rejections_only`). `Ok(error)` goes to the fallback, with a rejection
/// turned into `E` by `convert`; `Err(failure)` passes on unchanged.
#[inline]
pub fn fallback_error<E, C>(
    failure: Failure<E>,
    rejections_only: bool,
    convert: C,
) -> Result<E, Failure<E>>
where
    C: FnOnce(Error) -> E,
{
    match failure {
        Failure::Inner(error) if rejections_only => Err(Failure::Inner(error)),
        Failure::Inner(error) => Ok(error),
        Failure::Rejected(rejection) => Ok(convert(rejection)),
    }
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

/// The fallback's answer, as a layer's result: its error is an error like
/// the body's.
#[inline]
pub fn fallback_done<T, E>(result: Result<T, E>) -> Result<T, Failure<E>> {
    result.map_err(Failure::Inner)
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
