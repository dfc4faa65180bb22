//! The second stage: what the parser read is checked against the rules
//! (ranges, and keys that only make sense together), and the function
//! against what the policies can wrap. Every error is collected, so one
//! compile reports them all.
//!
//! The limits, defaults and rules are `resil_rules`'s, the ones the
//! runtime checks configuration with: a bad value is a compile error here
//! rather than a logged fallback at run time. The messages add what only
//! the attribute knows (the value found, the default it was compared with).

mod circuit_breaker;
mod declared;
mod item;
mod limits;
mod retry;

use resil_rules::Violation;
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

/// Checks a value written for attribute key `key` against `rule`, one of
/// `resil_rules`'s, and reports a violation on the value: "`max` must be at
/// least 1". Returns whether the value is absent or valid.
pub(super) fn obey<T: Copy>(
    key: &str,
    value: Option<Value<T>>,
    rule: impl FnOnce(T) -> Result<(), Violation>,
    errors: &mut Errors,
) -> bool {
    let Some(value) = value else { return true };
    match rule(value.value) {
        Ok(()) => true,
        Err(violation) => {
            errors.push(syn::Error::new(
                value.span,
                format!("`{key}` {}", violation.message),
            ));
            false
        }
    }
}

#[cfg(test)]
mod tests;
