//! What the parser produces: one typed struct per attribute, with the span
//! of every value so the check stage can point at it.

use std::time::Duration;

use proc_macro2::Span;
use syn::{ExprPath, Ident, LitStr, Path};

use super::kind::Kind;

#[derive(Clone, Copy, Debug)]
pub(crate) struct Value<T> {
    pub(crate) value: T,
    pub(crate) key: Span,
    pub(crate) span: Span,
}

/// Keys every attribute accepts.
#[derive(Default)]
pub(crate) struct Common {
    pub(crate) name: Option<LitStr>,
    /// `crate = "path"`: where the `resil` crate is, for renamed dependencies.
    pub(crate) krate: Option<Path>,
    /// The attribute's path, for errors about a key that is missing; `None`
    /// for the attribute being expanded (its span is the call site).
    pub(crate) attr_span: Option<Span>,
    /// `#[circuit_breaker(PAYMENTS)]`: a declared policy, named by the
    /// leading path, whose settings are in its declaration.
    pub(crate) policy: Option<Path>,
    /// Every known key written, in order: next to a declared policy's path
    /// only a few may stand (see `check::declared`).
    pub(crate) given: Vec<Ident>,
}

impl Common {
    /// Where to report an error about the attribute as a whole.
    pub(crate) fn span(&self) -> Span {
        self.attr_span.unwrap_or_else(Span::call_site)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Backoff {
    Exponential,
    Linear,
    Fibonacci,
    Constant,
}

impl Backoff {
    pub(super) const CHOICES: &[(&str, Backoff)] = &[
        ("exponential", Backoff::Exponential),
        ("linear", Backoff::Linear),
        ("fibonacci", Backoff::Fibonacci),
        ("constant", Backoff::Constant),
    ];

    pub(crate) fn variant(self) -> &'static str {
        match self {
            Backoff::Exponential => "Exponential",
            Backoff::Linear => "Linear",
            Backoff::Fibonacci => "Fibonacci",
            Backoff::Constant => "Constant",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Jitter {
    None,
    Full,
    Equal,
    Decorrelated,
}

impl Jitter {
    pub(super) const CHOICES: &[(&str, Jitter)] = &[
        ("none", Jitter::None),
        ("full", Jitter::Full),
        ("equal", Jitter::Equal),
        ("decorrelated", Jitter::Decorrelated),
    ];

    pub(crate) fn variant(self) -> &'static str {
        match self {
            Jitter::None => "None",
            Jitter::Full => "Full",
            Jitter::Equal => "Equal",
            Jitter::Decorrelated => "Decorrelated",
        }
    }
}

/// `#[retry(...)]`
#[derive(Default)]
pub(crate) struct RetryArgs {
    pub(crate) common: Common,
    pub(crate) max: Option<Value<u32>>,
    pub(crate) backoff: Option<Value<Backoff>>,
    pub(crate) initial: Option<Value<Duration>>,
    pub(crate) max_delay: Option<Value<Duration>>,
    pub(crate) multiplier: Option<Value<f64>>,
    pub(crate) jitter: Option<Value<Jitter>>,
    pub(crate) retry_if: Option<ExprPath>,
    pub(crate) retry_rejections: Option<Value<bool>>,
    pub(crate) max_elapsed: Option<Value<Duration>>,
    pub(crate) retry_after: Option<ExprPath>,
}

/// `#[circuit_breaker(...)]`
#[derive(Default)]
pub(crate) struct CircuitBreakerArgs {
    pub(crate) common: Common,
    pub(crate) threshold: Option<Value<u32>>,
    pub(crate) failure_rate: Option<Value<f64>>,
    pub(crate) window: Option<Value<Window>>,
    pub(crate) min_calls: Option<Value<u32>>,
    pub(crate) open_for: Option<Value<Duration>>,
    pub(crate) half_open_max: Option<Value<u32>>,
    pub(crate) success_threshold: Option<Value<u32>>,
    pub(crate) ignore: Option<ExprPath>,
    pub(crate) slow_call: Option<Value<Duration>>,
    pub(crate) slow_rate: Option<Value<f64>>,
    /// `key = tenant`: the argument whose value picks a breaker of its own.
    pub(crate) key: Option<Ident>,
    /// How many keyed breakers are kept; only with `key`.
    pub(crate) max_keys: Option<Value<u32>>,
    /// How long an unused keyed breaker is kept; only with `key`.
    pub(crate) key_ttl: Option<Value<Duration>>,
}

/// `window = 100` (the last 100 calls) or `window = 60s` (the calls of the
/// last 60 seconds).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Window {
    Calls(u32),
    Time(Duration),
}

/// `#[bulkhead(...)]`
#[derive(Default)]
pub(crate) struct BulkheadArgs {
    pub(crate) common: Common,
    pub(crate) max: Option<Value<u32>>,
    pub(crate) queue: Option<Value<u32>>,
    pub(crate) wait: Option<Value<Duration>>,
}

/// `#[timeout(...)]`
#[derive(Default)]
pub(crate) struct TimeoutArgs {
    pub(crate) common: Common,
    pub(crate) duration: Option<Value<Duration>>,
    /// `duration` was written, even if its value was wrong.
    pub(crate) duration_given: bool,
}

/// Which errors `#[fallback]` answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FallbackOn {
    /// Every error: the body's own and every policy's.
    Errors,
    /// Only refusals by the policies below (open circuit, full bulkhead,
    /// exhausted rate limit).
    Rejections,
}

impl FallbackOn {
    pub(super) const CHOICES: &[(&str, FallbackOn)] = &[
        ("errors", FallbackOn::Errors),
        ("rejections", FallbackOn::Rejections),
    ];
}

/// `#[fallback(...)]`
#[derive(Default)]
pub(crate) struct FallbackArgs {
    pub(crate) common: Common,
    pub(crate) path: Option<ExprPath>,
    /// `path` was written, even if its value was wrong.
    pub(crate) path_given: bool,
    pub(crate) on: Option<Value<FallbackOn>>,
}

/// `#[rate_limit(...)]`
#[derive(Default)]
pub(crate) struct RateLimitArgs {
    pub(crate) common: Common,
    pub(crate) rate: Option<Value<u32>>,
    /// `rate` was written, even if its value was wrong.
    pub(crate) rate_given: bool,
    pub(crate) per: Option<Value<Duration>>,
    pub(crate) burst: Option<Value<u32>>,
    pub(crate) wait: Option<Value<Duration>>,
}

/// One resil attribute of a stack, outermost first.
pub(crate) enum Layer {
    Retry(RetryArgs),
    CircuitBreaker(CircuitBreakerArgs),
    Bulkhead(BulkheadArgs),
    Timeout(TimeoutArgs),
    Fallback(FallbackArgs),
    RateLimit(RateLimitArgs),
}

impl Layer {
    pub(crate) fn kind(&self) -> Kind {
        match self {
            Layer::Retry(_) => Kind::Retry,
            Layer::CircuitBreaker(_) => Kind::CircuitBreaker,
            Layer::Bulkhead(_) => Kind::Bulkhead,
            Layer::Timeout(_) => Kind::Timeout,
            Layer::Fallback(_) => Kind::Fallback,
            Layer::RateLimit(_) => Kind::RateLimit,
        }
    }

    pub(crate) fn common(&self) -> &Common {
        match self {
            Layer::Retry(args) => &args.common,
            Layer::CircuitBreaker(args) => &args.common,
            Layer::Bulkhead(args) => &args.common,
            Layer::Timeout(args) => &args.common,
            Layer::Fallback(args) => &args.common,
            Layer::RateLimit(args) => &args.common,
        }
    }

    pub(super) fn common_mut(&mut self) -> &mut Common {
        match self {
            Layer::Retry(args) => &mut args.common,
            Layer::CircuitBreaker(args) => &mut args.common,
            Layer::Bulkhead(args) => &mut args.common,
            Layer::Timeout(args) => &mut args.common,
            Layer::Fallback(args) => &mut args.common,
            Layer::RateLimit(args) => &mut args.common,
        }
    }
}
