//! The first stage: an attribute's tokens become a typed [`Layer`].
//!
//! One parser reads every form an attribute takes: inline settings
//! (`max = 3, backoff = linear`), a leading positional value
//! (`#[timeout(2s)]`), a declared policy's path
//! (`#[circuit_breaker(PAYMENTS, ignore = ..)]`) and a keyed breaker's keys
//! (`key = tenant, max_keys = 100`). It reports what cannot be read (a
//! syntax error, an unknown or repeated key, a value of the wrong type) on
//! its token and goes on; what can be read but is out of range or does not
//! fit with another key is the check stage's (`crate::check`).
//!
//! Layout: `kind` (which attribute, which keys), `args` (the structs),
//! `layer` (one parse per attribute), `pairs` (`key = value` splitting),
//! `value` and `duration` (one value of each type), `expr` (what an
//! expression is, for messages).

mod args;
mod duration;
mod expr;
mod kind;
mod layer;
mod pairs;
mod value;

pub(crate) use args::{
    Backoff, BulkheadArgs, CircuitBreakerArgs, Common, FallbackArgs, FallbackOn, Layer,
    RateLimitArgs, RetryArgs, TimeoutArgs, Value, Window,
};
pub(crate) use kind::Kind;

#[cfg(test)]
mod tests;
