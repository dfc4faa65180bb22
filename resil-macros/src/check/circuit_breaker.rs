//! `#[circuit_breaker]`: counts, rates, windows and the keyed breaker's
//! keys.

use std::time::Duration;

use super::{in_range, positive};
use crate::errors::Errors;
use crate::parse::{CircuitBreakerArgs, Value, Window};

const DEFAULT_WINDOW: u32 = 10;
const MAX_WINDOW: u32 = 8192;
const MAX_TRIALS: u32 = u16::MAX as u32;
/// The shortest time window: its 64 buckets are then at least 15ms wide.
const MIN_TIME_WINDOW: Duration = Duration::from_secs(1);

pub(super) fn circuit_breaker(args: &CircuitBreakerArgs, errors: &mut Errors) {
    keyed(args, errors);
    in_range("threshold", args.threshold, 1, u32::MAX, errors);
    let window_ok = window(args.window, errors);
    let min_calls_ok = in_range("min_calls", args.min_calls, 1, u32::MAX, errors);
    in_range("half_open_max", args.half_open_max, 1, MAX_TRIALS, errors);
    in_range(
        "success_threshold",
        args.success_threshold,
        1,
        MAX_TRIALS,
        errors,
    );
    positive("timeout", args.timeout, errors);
    positive("slow_call", args.slow_call, errors);
    rate("failure_rate", args.failure_rate, errors);
    rate("slow_rate", args.slow_rate, errors);
    if let (Some(slow_rate), None) = (args.slow_rate, args.slow_call) {
        errors.push(syn::Error::new(
            slow_rate.key,
            "`slow_rate` only applies with `slow_call`: set `slow_call = <duration>`, the time \
             above which a call counts as slow",
        ));
    }
    if args.failure_rate.is_none() && args.slow_call.is_none() {
        for (key, span) in [
            ("window", args.window.map(|v| v.key)),
            ("min_calls", args.min_calls.map(|v| v.key)),
        ] {
            if let Some(span) = span {
                errors.push(syn::Error::new(
                    span,
                    format!("`{key}` only applies with `failure_rate` or `slow_call`"),
                ));
            }
        }
        return;
    }
    let window_size = match args.window.map(|v| v.value) {
        None => DEFAULT_WINDOW,
        Some(Window::Calls(calls)) => calls,
        // A time window holds any number of calls.
        Some(Window::Time(_)) => return,
    };
    if let (Some(min_calls), true, true) = (args.min_calls, window_ok, min_calls_ok)
        && min_calls.value > window_size
    {
        errors.push(syn::Error::new(
            min_calls.span,
            format!(
                "`min_calls` ({}) cannot exceed `window` ({window_size}{})",
                min_calls.value,
                if args.window.is_some() {
                    ""
                } else {
                    ", the default"
                },
            ),
        ));
    }
}

/// Returns whether the window is absent or valid.
pub(super) fn window(window: Option<Value<Window>>, errors: &mut Errors) -> bool {
    let Some(window) = window else { return true };
    match window.value {
        Window::Calls(calls) => in_range(
            "window",
            Some(Value {
                value: calls,
                key: window.key,
                span: window.span,
            }),
            1,
            MAX_WINDOW,
            errors,
        ),
        Window::Time(time) if time < MIN_TIME_WINDOW => {
            errors.push(syn::Error::new(
                window.span,
                format!(
                    "a time `window` must be at least {MIN_TIME_WINDOW:?}, found {time:?}; \
                     for a window of calls write a plain count, like `window = 100`"
                ),
            ));
            false
        }
        Window::Time(_) => true,
    }
}

/// A rate in (0, 1].
pub(super) fn rate(key: &str, value: Option<Value<f64>>, errors: &mut Errors) {
    if let Some(rate) = value
        && !(rate.value > 0.0 && rate.value <= 1.0)
    {
        errors.push(syn::Error::new(
            rate.span,
            format!(
                "`{key}` must be greater than 0 and at most 1, found `{}`",
                rate.value
            ),
        ));
    }
}

/// `max_keys` and `key_ttl` belong to a keyed breaker.
fn keyed(args: &CircuitBreakerArgs, errors: &mut Errors) {
    if args.key.is_none() {
        for (key, span) in [
            ("max_keys", args.max_keys.map(|v| v.key)),
            ("key_ttl", args.key_ttl.map(|v| v.key)),
        ] {
            if let Some(span) = span {
                errors.push(syn::Error::new(
                    span,
                    format!("`{key}` only applies with `key`"),
                ));
            }
        }
        return;
    }
    in_range("max_keys", args.max_keys, 1, u32::MAX, errors);
    positive("key_ttl", args.key_ttl, errors);
}
