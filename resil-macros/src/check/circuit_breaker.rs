//! `#[circuit_breaker]`: counts, rates, windows and the keyed breaker's
//! keys.

use resil_rules::{circuit_breaker as rules, keyed};

use super::obey;
use crate::errors::Errors;
use crate::parse::{CircuitBreakerArgs, Value, Window};

pub(super) fn circuit_breaker(args: &CircuitBreakerArgs, errors: &mut Errors) {
    keyed(args, errors);
    obey("threshold", args.threshold, rules::threshold, errors);
    let window_ok = window(args.window, errors);
    let min_calls_ok = obey("min_calls", args.min_calls, rules::min_calls, errors);
    obey(
        "half_open_max",
        args.half_open_max,
        rules::half_open_max,
        errors,
    );
    obey(
        "success_threshold",
        args.success_threshold,
        rules::success_threshold,
        errors,
    );
    obey("open_for", args.open_for, rules::open_for, errors);
    obey(
        "slow_call",
        args.slow_call,
        |d| rules::slow_call(Some(d)),
        errors,
    );
    rate(
        "failure_rate",
        args.failure_rate,
        rules::failure_rate,
        errors,
    );
    rate("slow_rate", args.slow_rate, rules::slow_rate, errors);
    if let Some(slow_rate) = args.slow_rate
        && let Err(violation) = rules::slow_rate_needs_slow_call(true, args.slow_call.is_some())
    {
        errors.push(syn::Error::new(
            slow_rate.key,
            format!(
                "`slow_rate` {}: set `slow_call = <duration>`, the time above which a call \
                 counts as slow",
                violation.message
            ),
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
    if window_ok && min_calls_ok {
        min_calls_in_window(args, errors);
    }
}

/// `min_calls` against the window, perhaps the default one.
fn min_calls_in_window(args: &CircuitBreakerArgs, errors: &mut Errors) {
    let Some(min_calls) = args.min_calls else {
        return;
    };
    let (window_size, time_window) = match args.window.map(|v| v.value) {
        None => (rules::DEFAULT_WINDOW, false),
        Some(Window::Calls(calls)) => (calls, false),
        Some(Window::Time(_)) => (rules::DEFAULT_WINDOW, true),
    };
    if rules::min_calls_in_window(min_calls.value, window_size, time_window).is_err() {
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

/// `window = 100` is a window of calls, `window = 60s` one of time.
/// Returns whether the window is absent or valid.
fn window(window: Option<Value<Window>>, errors: &mut Errors) -> bool {
    let Some(window) = window else { return true };
    match window.value {
        Window::Calls(calls) => obey(
            "window",
            Some(Value {
                value: calls,
                key: window.key,
                span: window.span,
            }),
            rules::window,
            errors,
        ),
        Window::Time(time) => match rules::time_window(Some(time)) {
            Ok(()) => true,
            Err(violation) => {
                errors.push(syn::Error::new(
                    window.span,
                    format!(
                        "a time `window` {}, found {time:?}; for a window of calls write a \
                         plain count, like `window = 100`",
                        violation.message
                    ),
                ));
                false
            }
        },
    }
}

/// A share of calls, with the value found in the message.
fn rate(
    key: &str,
    value: Option<Value<f64>>,
    rule: fn(Option<f64>) -> Result<(), resil_rules::Violation>,
    errors: &mut Errors,
) {
    if let Some(rate) = value
        && let Err(violation) = rule(Some(rate.value))
    {
        errors.push(syn::Error::new(
            rate.span,
            format!("`{key}` {}, found `{}`", violation.message, rate.value),
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
    obey("max_keys", args.max_keys, keyed::max_keys, errors);
    obey("key_ttl", args.key_ttl, |d| keyed::key_ttl(Some(d)), errors);
}
