//! Support for the code the macros generate. Not a public API: reached only
//! through `resil::__private`, and it may change in any release.

use std::fmt;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

pub use crate::bulkhead::{Bulkhead, BulkheadConfig};
pub use crate::circuit_breaker::{CircuitBreaker, CircuitBreakerConfig};
pub use crate::error::Error;
pub use crate::retry::{Backoff, Jitter, RetryConfig, RetryPolicy, RetryRun, RetryStep};

pub use crate::registry::Registered;
use crate::registry::{Tabled, registry};

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
    policy: OnceLock<Arc<P>>,
}

/// The call site of a `#[circuit_breaker]`.
pub type CircuitBreakerSite = Site<CircuitBreaker>;
/// The call site of a `#[bulkhead]`.
pub type BulkheadSite = Site<Bulkhead>;
/// The call site of a `#[retry]`.
pub type RetrySite = Site<RetryPolicy>;

#[allow(private_bounds, private_interfaces)]
impl<P: Tabled> Site<P> {
    /// A site of the policy named `name`, shared with every other site that
    /// names it; registered with `config` when first used.
    pub const fn new(name: &'static str, config: P::Config) -> Self {
        Self {
            name,
            shared: true,
            config,
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
        self.policy
            .get_or_init(|| registry().site::<P>(self.name, self.config, self.shared))
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
