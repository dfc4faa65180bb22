//! The second stage: what the parser read is checked against the rules
//! (ranges, and keys that only make sense together), and the function
//! against what the policies can wrap. Every error is collected, so one
//! compile reports them all.
//!
//! The limits and defaults are the runtime's: a bad value is a compile
//! error here rather than a logged fallback at run time.

mod circuit_breaker;
mod declared;
mod item;
mod limits;
mod retry;

use std::time::Duration;

use syn::ItemFn;

use crate::errors::Errors;
use crate::parse::{Common, Kind, Layer, Value};

pub(crate) use item::not_a_fn;

/// Checks the function `kind` is expanded on and its stack of `layers`.
pub(crate) fn stack(kind: Kind, func: &ItemFn, layers: &[Layer], errors: &mut Errors) {
    item::check(kind, func, errors);
    declared::check_keys(func, layers, errors);
    if layers.iter().any(|layer| layer.kind() == Kind::Fallback) {
        item::check_fallback(func, errors);
    }
    for layer in layers {
        self::layer(layer, errors);
    }
}

fn layer(layer: &Layer, errors: &mut Errors) {
    common(layer.common(), errors);
    if layer.common().policy.is_some() {
        // The settings are the declaration's, checked where it is declared.
        declared::with_path(layer, errors);
        return;
    }
    match layer {
        Layer::Retry(args) => retry::retry(args, errors),
        Layer::CircuitBreaker(args) => circuit_breaker::circuit_breaker(args, errors),
        Layer::Bulkhead(args) => limits::bulkhead(args, errors),
        Layer::Timeout(args) => limits::timeout(args, errors),
        Layer::Fallback(args) => limits::fallback(args, errors),
        Layer::RateLimit(args) => limits::rate_limit(args, errors),
    }
}

fn common(common: &Common, errors: &mut Errors) {
    if let Some(name) = &common.name
        && name.value().trim().is_empty()
    {
        errors.push(syn::Error::new(name.span(), "`name` must not be empty"));
    }
}

pub(super) fn in_range(
    key: &str,
    value: Option<Value<u32>>,
    min: u32,
    max: u32,
    errors: &mut Errors,
) -> bool {
    let Some(value) = value else { return true };
    let message = if value.value < min {
        format!("`{key}` must be at least {min}")
    } else if value.value > max {
        format!("`{key}` must be at most {max}")
    } else {
        return true;
    };
    errors.push(syn::Error::new(value.span, message));
    false
}

/// Returns whether the value is absent or valid.
pub(super) fn positive(key: &str, value: Option<Value<Duration>>, errors: &mut Errors) -> bool {
    match value {
        Some(value) if value.value.is_zero() => {
            errors.push(syn::Error::new(
                value.span,
                format!("`{key}` must be greater than zero"),
            ));
            false
        }
        _ => true,
    }
}

#[cfg(test)]
mod tests;
