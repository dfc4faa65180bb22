//! Policies declared once in code, used by path from any attribute, and
//! known to the registry from start-up.
//!
//! ```
//! use std::time::Duration;
//! use resil::{CircuitBreakerConfig, DeclaredCircuitBreaker, circuit_breaker};
//!
//! // Settings shared by several policies, each overriding some.
//! const BASE: CircuitBreakerConfig = CircuitBreakerConfig::DEFAULT.open_for(Duration::from_secs(30));
//!
//! resil::policy! {
//!     /// Card payments.
//!     pub static PAYMENTS: DeclaredCircuitBreaker =
//!         DeclaredCircuitBreaker::new("payments", BASE.threshold(3));
//! }
//!
//! #[derive(Debug, thiserror::Error)]
//! enum PayError {
//!     #[error(transparent)]
//!     Resil(#[from] resil::Error),
//! }
//!
//! #[circuit_breaker(PAYMENTS)]
//! async fn charge(cents: u64) -> Result<u64, PayError> {
//!     Ok(cents)
//! }
//!
//! #[circuit_breaker(PAYMENTS)]
//! async fn refund(cents: u64) -> Result<u64, PayError> {
//!     Ok(cents)
//! }
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! // Known before any call, with its settings.
//! let ids = resil::registry().policies();
//! assert!(ids.iter().any(|id| id.name == "payments"));
//! charge(100).await.unwrap();
//! refund(100).await.unwrap();
//! // Both functions share one breaker.
//! assert_eq!(PAYMENTS.get().snapshot().successes, 2);
//! assert_eq!(PAYMENTS.get().config().threshold, 3);
//! # }
//! ```
//!
//! # How start-up registration works
//!
//! Each declared policy, and each attribute's call-site `static`, adds a
//! reference to itself to a list the linker assembles (a `linkme`
//! distributed slice, reached through `resil::__private`: no dependency of
//! your own). The first call to [`registry()`](crate::registry()) walks the
//! list: declared policies first, then call sites, so a declared policy's
//! settings win over an attribute that names the same policy inline. This
//! works for `static`s inside function bodies and inside generic functions
//! too. On a target `linkme` does not support, a policy is registered on
//! its first call instead.

use std::fmt;

use crate::bulkhead::{Bulkhead, BulkheadConfig};
use crate::circuit_breaker::{CircuitBreaker, CircuitBreakerConfig};
use crate::registry::{Declaration, Registry, Tabled};
use crate::retry::{Retry, RetryConfig};
use crate::site::Site;

/// A named policy declared once, as a `static`, and used by path:
/// `#[circuit_breaker(PAYMENTS)]`. Use the aliases
/// [`DeclaredCircuitBreaker`], [`DeclaredBulkhead`] and [`DeclaredRetry`],
/// and wrap the `static` in [`policy!`](crate::policy) so the registry knows
/// it from start-up even if no attribute uses it.
///
/// `new` is a `const fn` that checks the settings: invalid ones stop the
/// build with the reason ("evaluation of static initializer failed ...
/// `threshold` must be at least 1").
#[allow(private_bounds)]
pub struct Declared<P: Tabled> {
    site: Site<P>,
}

/// A declared circuit breaker; see [`Declared`].
pub type DeclaredCircuitBreaker = Declared<CircuitBreaker>;
/// A declared bulkhead; see [`Declared`].
pub type DeclaredBulkhead = Declared<Bulkhead>;
/// A declared retry policy; see [`Declared`].
pub type DeclaredRetry = Declared<Retry>;

impl Declared<CircuitBreaker> {
    /// The circuit breaker `name` with `config`, checked at compile time
    /// when it initialises a `static` or `const`.
    ///
    /// ```
    /// use resil::{CircuitBreakerConfig, DeclaredCircuitBreaker};
    ///
    /// static SEARCH: DeclaredCircuitBreaker =
    ///     DeclaredCircuitBreaker::new("declared-search", CircuitBreakerConfig::DEFAULT.threshold(2));
    /// assert_eq!(SEARCH.name(), "declared-search");
    /// ```
    ///
    /// ```compile_fail,E0080
    /// use resil::{CircuitBreakerConfig, DeclaredCircuitBreaker};
    ///
    /// static BAD: DeclaredCircuitBreaker =
    ///     DeclaredCircuitBreaker::new("bad", CircuitBreakerConfig::DEFAULT.threshold(0));
    /// ```
    pub const fn new(name: &'static str, config: CircuitBreakerConfig) -> Self {
        if let Err(reason) = check_circuit_breaker(name, &config) {
            panic!("{}", reason);
        }
        Self {
            site: Site::new(name, config),
        }
    }
}

impl Declared<Bulkhead> {
    /// The bulkhead `name` with `config`, checked at compile time when it
    /// initialises a `static` or `const`.
    ///
    /// ```
    /// use resil::{BulkheadConfig, DeclaredBulkhead};
    ///
    /// static PDF: DeclaredBulkhead = DeclaredBulkhead::new("pdf", BulkheadConfig::DEFAULT.max_concurrent(2));
    /// assert_eq!(PDF.config().max_concurrent, 2);
    /// ```
    pub const fn new(name: &'static str, config: BulkheadConfig) -> Self {
        if let Err(reason) = check_bulkhead(name, &config) {
            panic!("{}", reason);
        }
        Self {
            site: Site::new(name, config),
        }
    }
}

impl Declared<Retry> {
    /// The retry policy `name` with `config`, checked at compile time when
    /// it initialises a `static` or `const`.
    ///
    /// ```
    /// use resil::{DeclaredRetry, RetryConfig};
    ///
    /// static FETCH: DeclaredRetry = DeclaredRetry::new("fetch", RetryConfig::DEFAULT.max_attempts(5));
    /// assert_eq!(FETCH.config().max_attempts, 5);
    /// ```
    pub const fn new(name: &'static str, config: RetryConfig) -> Self {
        if let Err(reason) = check_retry(name, &config) {
            panic!("{}", reason);
        }
        Self {
            site: Site::new(name, config),
        }
    }
}

#[allow(private_bounds)]
impl<P: Tabled> Declared<P> {
    /// The policy, registered and built on first use; every use shares it.
    #[inline]
    pub fn get(&'static self) -> &'static P {
        self.site.get()
    }

    /// The policy's name.
    pub const fn name(&self) -> &'static str {
        self.site.name()
    }

    /// The settings the declaration gives. Configuration may override them:
    /// `get().config()` has the settings in force.
    pub fn config(&self) -> P::Config {
        self.site.config()
    }
}

impl<P: Tabled> Declaration for Declared<P> {
    fn declare(&'static self, registry: &Registry) {
        self.site.declare(registry);
    }

    fn rank(&self) -> u8 {
        0
    }
}

#[allow(private_bounds)]
impl<P: Tabled> fmt::Debug for Declared<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Declared")
            .field("kind", &P::KIND)
            .field("name", &self.name())
            .field("config", &self.config())
            .finish()
    }
}

/// Declares policies as `static`s that the registry knows from start-up,
/// before any call, whether or not an attribute uses them.
///
/// ```
/// use std::time::Duration;
/// use resil::{BulkheadConfig, DeclaredBulkhead, DeclaredRetry, RetryConfig};
///
/// resil::policy! {
///     pub static RENDER: DeclaredBulkhead =
///         DeclaredBulkhead::new("render", BulkheadConfig::DEFAULT.max_concurrent(4));
///     pub(crate) static UPLOAD: DeclaredRetry =
///         DeclaredRetry::new("upload", RetryConfig::DEFAULT.initial(Duration::from_millis(50)));
/// }
///
/// let ids = resil::registry().policies();
/// assert!(ids.iter().any(|id| id.name == "render"));
/// assert!(ids.iter().any(|id| id.name == "upload"));
/// ```
#[macro_export]
macro_rules! policy {
    ($($(#[$meta:meta])* $vis:vis static $name:ident : $ty:ty = $init:expr;)*) => {$(
        $(#[$meta])*
        $vis static $name: $ty = $init;
        const _: () = {
            #[$crate::__private::linkme::distributed_slice($crate::__private::DECLARATIONS)]
            #[linkme(crate = $crate::__private::linkme)]
            static DECLARE: &'static dyn $crate::__private::Declaration =
                $crate::__private::declared_policy(&$name);
        };
    )*};
}

/// The declared policy an attribute names by path. Only `Declared<P>`
/// implements these; the messages say what else would be needed.
#[doc(hidden)]
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a declared circuit breaker",
    label = "`#[circuit_breaker(PATH)]` needs a `resil::DeclaredCircuitBreaker` here",
    note = "declare one with `resil::policy! {{ static NAME: resil::DeclaredCircuitBreaker = resil::DeclaredCircuitBreaker::new(\"name\", resil::CircuitBreakerConfig::DEFAULT); }}`"
)]
pub trait CircuitBreakerPolicy: Declaration + 'static {
    /// The declared policy.
    fn declared(&'static self) -> &'static Declared<CircuitBreaker>;
}

impl CircuitBreakerPolicy for Declared<CircuitBreaker> {
    fn declared(&'static self) -> &'static Declared<CircuitBreaker> {
        self
    }
}

#[doc(hidden)]
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a declared bulkhead",
    label = "`#[bulkhead(PATH)]` needs a `resil::DeclaredBulkhead` here",
    note = "declare one with `resil::policy! {{ static NAME: resil::DeclaredBulkhead = resil::DeclaredBulkhead::new(\"name\", resil::BulkheadConfig::DEFAULT); }}`"
)]
pub trait BulkheadPolicy: Declaration + 'static {
    /// The declared policy.
    fn declared(&'static self) -> &'static Declared<Bulkhead>;
}

impl BulkheadPolicy for Declared<Bulkhead> {
    fn declared(&'static self) -> &'static Declared<Bulkhead> {
        self
    }
}

#[doc(hidden)]
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a declared retry policy",
    label = "`#[retry(PATH)]` needs a `resil::DeclaredRetry` here",
    note = "declare one with `resil::policy! {{ static NAME: resil::DeclaredRetry = resil::DeclaredRetry::new(\"name\", resil::RetryConfig::DEFAULT); }}`"
)]
pub trait RetryPolicyDecl: Declaration + 'static {
    /// The declared policy.
    fn declared(&'static self) -> &'static Declared<Retry>;
}

impl RetryPolicyDecl for Declared<Retry> {
    fn declared(&'static self) -> &'static Declared<Retry> {
        self
    }
}

/// The declared circuit breaker `#[circuit_breaker(PATH)]` names.
#[doc(hidden)]
#[inline(always)]
pub fn circuit_breaker_policy<D: CircuitBreakerPolicy>(
    policy: &'static D,
) -> &'static Declared<CircuitBreaker> {
    policy.declared()
}

/// The declared bulkhead `#[bulkhead(PATH)]` names.
#[doc(hidden)]
#[inline(always)]
pub fn bulkhead_policy<D: BulkheadPolicy>(policy: &'static D) -> &'static Declared<Bulkhead> {
    policy.declared()
}

/// The declared retry policy `#[retry(PATH)]` names.
#[doc(hidden)]
#[inline(always)]
pub fn retry_policy<D: RetryPolicyDecl>(policy: &'static D) -> &'static Declared<Retry> {
    policy.declared()
}

/// The declaration behind a `policy!` static or an attribute's path, as
/// the slice holds it.
#[doc(hidden)]
#[allow(private_bounds)]
pub const fn declared_policy<P: Tabled>(policy: &'static Declared<P>) -> &'static dyn Declaration {
    policy
}

/// `Err(sentence)` of the first of `resil_rules`'s rules that `$rule`
/// breaks: `?` is not available in a `const fn`.
macro_rules! obey {
    ($($rule:expr),+ $(,)?) => {
        $(
            if let Err(violation) = $rule {
                return Err(violation.sentence);
            }
        )+
    };
}

/// `Err(reason)` for settings that [`CircuitBreakerConfig::validate`]
/// rejects: the same rules of `resil_rules`, called in a `const fn` so
/// declarations are checked at compile time.
pub(crate) const fn check_circuit_breaker(
    name: &str,
    c: &CircuitBreakerConfig,
) -> Result<(), &'static str> {
    use resil_rules::circuit_breaker as rules;
    if name.is_empty() {
        return Err("a declared circuit breaker's name must not be empty");
    }
    obey!(
        rules::threshold(c.threshold),
        rules::failure_rate(c.failure_rate),
        rules::window(c.window),
        rules::slow_rate(c.slow_rate),
        rules::slow_rate_needs_slow_call(c.slow_rate.is_some(), c.slow_call.is_some()),
        rules::slow_call(c.slow_call),
        rules::time_window(c.time_window),
    );
    if let Some(min_calls) = c.min_calls {
        obey!(
            rules::min_calls(min_calls),
            rules::min_calls_in_window(min_calls, c.window, c.time_window.is_some()),
        );
    }
    obey!(
        rules::open_for(c.open_for),
        rules::half_open_max(c.half_open_max),
        rules::success_threshold(c.success_threshold),
    );
    Ok(())
}

/// As [`check_circuit_breaker`], for [`BulkheadConfig::validate`].
pub(crate) const fn check_bulkhead(name: &str, c: &BulkheadConfig) -> Result<(), &'static str> {
    use resil_rules::bulkhead as rules;
    if name.is_empty() {
        return Err("a declared bulkhead's name must not be empty");
    }
    obey!(
        rules::max_concurrent(c.max_concurrent),
        rules::queue(c.queue),
        rules::wait(c.wait, c.queue),
    );
    Ok(())
}

/// As [`check_circuit_breaker`], for [`RetryConfig::validate`].
pub(crate) const fn check_retry(name: &str, c: &RetryConfig) -> Result<(), &'static str> {
    use resil_rules::retry as rules;
    if name.is_empty() {
        return Err("a declared retry policy's name must not be empty");
    }
    obey!(
        rules::max_attempts(c.max_attempts),
        rules::initial(c.initial),
        rules::max_delay(c.max_delay, c.initial),
        rules::max_elapsed(c.max_elapsed),
        rules::multiplier(c.multiplier),
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// The `const` checks and `validate` accept and reject the same settings.
    #[test]
    fn const_checks_agree_with_validate() {
        let ms = Duration::from_millis;
        let breakers = [
            CircuitBreakerConfig::DEFAULT,
            CircuitBreakerConfig::DEFAULT.threshold(0),
            CircuitBreakerConfig::DEFAULT.failure_rate(0.0),
            CircuitBreakerConfig::DEFAULT.failure_rate(1.0),
            CircuitBreakerConfig::DEFAULT.failure_rate(f64::NAN),
            CircuitBreakerConfig::DEFAULT.window(0),
            CircuitBreakerConfig::DEFAULT.window(8192),
            CircuitBreakerConfig::DEFAULT.window(8193),
            CircuitBreakerConfig::DEFAULT.min_calls(0),
            CircuitBreakerConfig::DEFAULT.min_calls(10),
            CircuitBreakerConfig::DEFAULT.min_calls(11),
            CircuitBreakerConfig::DEFAULT.open_for(Duration::ZERO),
            CircuitBreakerConfig::DEFAULT.half_open_max(0),
            CircuitBreakerConfig::DEFAULT.half_open_max(65_536),
            CircuitBreakerConfig::DEFAULT.success_threshold(0),
            CircuitBreakerConfig::DEFAULT.success_threshold(65_535),
            CircuitBreakerConfig::DEFAULT.slow_call(Duration::ZERO),
            CircuitBreakerConfig::DEFAULT
                .slow_call(ms(1))
                .slow_rate(0.0),
            CircuitBreakerConfig::DEFAULT
                .slow_call(ms(1))
                .slow_rate(1.0),
            CircuitBreakerConfig::DEFAULT.slow_rate(0.5),
            CircuitBreakerConfig::DEFAULT.time_window(ms(999)),
            CircuitBreakerConfig::DEFAULT.time_window(ms(1000)),
            CircuitBreakerConfig::DEFAULT
                .time_window(ms(1000))
                .min_calls(50),
        ];
        for config in breakers {
            assert_eq!(
                check_circuit_breaker("x", &config).is_ok(),
                config.validate("x").is_ok(),
                "{config:?}"
            );
        }
        let bulkheads = [
            BulkheadConfig::DEFAULT,
            BulkheadConfig::DEFAULT.max_concurrent(0),
            BulkheadConfig::DEFAULT.max_concurrent(1 << 31),
            BulkheadConfig::DEFAULT.max_concurrent((1 << 31) + 1),
            BulkheadConfig::DEFAULT.queue((1 << 31) + 1),
            BulkheadConfig::DEFAULT.queue(1).wait(Duration::ZERO),
            BulkheadConfig::DEFAULT.queue(0).wait(Duration::ZERO),
        ];
        for config in bulkheads {
            assert_eq!(
                check_bulkhead("x", &config).is_ok(),
                config.validate("x").is_ok(),
                "{config:?}"
            );
        }
        let retries = [
            RetryConfig::DEFAULT,
            RetryConfig::DEFAULT.max_attempts(0),
            RetryConfig::DEFAULT.initial(Duration::ZERO),
            RetryConfig::DEFAULT.initial(ms(10)).max_delay(ms(9)),
            RetryConfig::DEFAULT.initial(ms(10)).max_delay(ms(10)),
            RetryConfig::DEFAULT.multiplier(0.99),
            RetryConfig::DEFAULT.multiplier(f64::INFINITY),
            RetryConfig::DEFAULT.multiplier(f64::NAN),
            RetryConfig::DEFAULT.max_elapsed(Duration::ZERO),
            RetryConfig::DEFAULT.max_elapsed(ms(1)),
        ];
        for config in retries {
            assert_eq!(
                check_retry("x", &config).is_ok(),
                config.validate("x").is_ok(),
                "{config:?}"
            );
        }
    }
}
