//! Checks value ranges and combinations of keys once all are parsed.

use std::time::Duration;

use crate::args::{
    Backoff, BulkheadArgs, CircuitBreakerArgs, Common, FallbackArgs, Layer, RateLimitArgs,
    RetryArgs, TimeoutArgs, Value, Window,
};
use crate::errors::Errors;

// The runtime's defaults and limits, checked here so that a bad value is a
// compile error rather than a logged fallback at run time. They must match
// `RetryConfig::DEFAULT`, `CircuitBreakerConfig::DEFAULT` and the runtime's
// `MAX_WINDOW`, `MAX_TRIALS` and `MAX_SLOTS`.
const DEFAULT_INITIAL: Duration = Duration::from_millis(100);
const DEFAULT_MAX_DELAY: Duration = Duration::from_secs(5);
const DEFAULT_WINDOW: u32 = 10;
const MAX_WINDOW: u32 = 8192;
const MAX_TRIALS: u32 = u16::MAX as u32;
const MAX_SLOTS: u32 = (1 << 31) - 1;
/// The shortest time window: its 64 buckets are then at least 15ms wide.
const MIN_TIME_WINDOW: Duration = Duration::from_secs(1);

pub(crate) fn layer(layer: &Layer, errors: &mut Errors) {
    common(layer.common(), errors);
    match layer {
        Layer::Retry(args) => retry(args, errors),
        Layer::CircuitBreaker(args) => circuit_breaker(args, errors),
        Layer::Bulkhead(args) => bulkhead(args, errors),
        Layer::Timeout(args) => timeout(args, errors),
        Layer::Fallback(args) => fallback(args, errors),
        Layer::RateLimit(args) => rate_limit(args, errors),
    }
}

fn common(common: &Common, errors: &mut Errors) {
    if let Some(name) = &common.name
        && name.value().trim().is_empty()
    {
        errors.push(syn::Error::new(name.span(), "`name` must not be empty"));
    }
}

fn retry(args: &RetryArgs, errors: &mut Errors) {
    in_range("max", args.max, 1, u32::MAX, errors);
    positive("max_elapsed", args.max_elapsed, errors);
    let initial_ok = positive("initial", args.initial, errors);
    if let Some(multiplier) = args.multiplier {
        if !multiplier.value.is_finite() || multiplier.value < 1.0 {
            errors.push(syn::Error::new(
                multiplier.span,
                format!(
                    "`multiplier` must be a finite number of at least 1.0, found `{}`",
                    multiplier.value
                ),
            ));
        }
        if let Some(backoff) = args.backoff
            && backoff.value != Backoff::Exponential
        {
            errors.push(syn::Error::new(
                multiplier.key,
                "`multiplier` only applies with `backoff = exponential`",
            ));
        }
    }
    if !initial_ok {
        return;
    }
    let initial = args.initial.map_or(DEFAULT_INITIAL, |v| v.value);
    match args.max_delay {
        Some(max_delay) if max_delay.value < initial => errors.push(syn::Error::new(
            max_delay.span,
            format!(
                "`max_delay` ({:?}) must be at least `initial` ({initial:?}{})",
                max_delay.value,
                if args.initial.is_some() {
                    ""
                } else {
                    ", the default"
                },
            ),
        )),
        None if initial > DEFAULT_MAX_DELAY => {
            let initial = args
                .initial
                .expect("only a given `initial` exceeds the default");
            errors.push(syn::Error::new(
                initial.span,
                format!(
                    "`initial` ({:?}) exceeds the default `max_delay` ({DEFAULT_MAX_DELAY:?}); \
                     set `max_delay` too",
                    initial.value
                ),
            ));
        }
        _ => {}
    }
}

fn circuit_breaker(args: &CircuitBreakerArgs, errors: &mut Errors) {
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
fn window(window: Option<Value<Window>>, errors: &mut Errors) -> bool {
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
fn rate(key: &str, value: Option<Value<f64>>, errors: &mut Errors) {
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

fn bulkhead(args: &BulkheadArgs, errors: &mut Errors) {
    in_range("max", args.max, 1, MAX_SLOTS, errors);
    in_range("queue", args.queue, 0, MAX_SLOTS, errors);
    positive("wait", args.wait, errors);
    if let Some(wait) = args.wait
        && args.queue.is_none_or(|queue| queue.value == 0)
    {
        errors.push(syn::Error::new(
            wait.key,
            "`wait` only applies with `queue`: without a queue, calls over `max` are \
                 rejected at once",
        ));
    }
}

fn timeout(args: &TimeoutArgs, errors: &mut Errors) {
    match args.duration {
        None if args.duration_given => {}
        None => errors.push(syn::Error::new(
            args.common.span(),
            "`#[timeout]` needs a duration: `#[timeout(2s)]` or `#[timeout(duration = 2s)]`",
        )),
        Some(duration) => {
            positive("duration", Some(duration), errors);
        }
    }
}

fn fallback(args: &FallbackArgs, errors: &mut Errors) {
    if args.path.is_none() && !args.path_given {
        errors.push(syn::Error::new(
            args.common.span(),
            "`#[fallback]` needs the function to call: `#[fallback(path::to::function)]`, an \
             `async fn` that takes the same arguments and then the error",
        ));
    }
}

fn rate_limit(args: &RateLimitArgs, errors: &mut Errors) {
    let Some(rate) = args.rate else {
        if args.rate_given {
            return;
        }
        errors.push(syn::Error::new(
            args.common.span(),
            "`#[rate_limit]` needs `rate`: the calls allowed `per` period, like \
             `#[rate_limit(rate = 100, per = 1s)]`",
        ));
        return;
    };
    let rate_ok = in_range("rate", Some(rate), 1, u32::MAX, errors);
    let per_ok = positive("per", args.per, errors);
    in_range("burst", args.burst, 1, u32::MAX, errors);
    positive("wait", args.wait, errors);
    if !(rate_ok && per_ok) {
        return;
    }
    let per = args.per.map_or(Duration::from_secs(1), |v| v.value);
    // One call every `per / rate`, kept in whole nanoseconds.
    if u128::from(rate.value) > per.as_nanos() {
        errors.push(syn::Error::new(
            rate.span,
            format!(
                "`rate` ({}) per {per:?} is more than one call a nanosecond; lower `rate` or \
                 lengthen `per`",
                rate.value
            ),
        ));
    }
}

/// Returns whether the value is absent or valid.
fn in_range(key: &str, value: Option<Value<u32>>, min: u32, max: u32, errors: &mut Errors) -> bool {
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
fn positive(key: &str, value: Option<Value<Duration>>, errors: &mut Errors) -> bool {
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
mod tests {
    use super::*;
    use crate::args::Kind;
    use proc_macro2::TokenStream;
    use quote::quote;

    fn check(kind: Kind, tokens: TokenStream) -> Vec<String> {
        let mut errors = Errors::default();
        let parsed = Layer::parse(kind, tokens, &mut errors);
        assert!(errors.is_empty(), "parse errors");
        layer(&parsed, &mut errors);
        errors.messages()
    }

    fn ok(kind: Kind, tokens: TokenStream) {
        assert_eq!(check(kind, tokens), Vec::<String>::new());
    }

    #[test]
    fn defaults_are_valid() {
        ok(Kind::Retry, quote!());
        ok(Kind::CircuitBreaker, quote!());
        ok(Kind::Bulkhead, quote!());
    }

    #[test]
    fn zero_counts() {
        assert_eq!(
            check(Kind::Retry, quote!(max = 0)),
            ["`max` must be at least 1"]
        );
        assert_eq!(
            check(
                Kind::CircuitBreaker,
                quote!(threshold = 0, half_open_max = 0, success_threshold = 0)
            ),
            [
                "`threshold` must be at least 1",
                "`half_open_max` must be at least 1",
                "`success_threshold` must be at least 1"
            ]
        );
        assert_eq!(
            check(Kind::Bulkhead, quote!(max = 0)),
            ["`max` must be at least 1"]
        );
        ok(Kind::Bulkhead, quote!(queue = 0));
    }

    #[test]
    fn upper_bounds() {
        assert_eq!(
            check(
                Kind::CircuitBreaker,
                quote!(failure_rate = 0.5, window = 8193, half_open_max = 65536)
            ),
            [
                "`window` must be at most 8192",
                "`half_open_max` must be at most 65535"
            ]
        );
        ok(
            Kind::CircuitBreaker,
            quote!(failure_rate = 0.5, window = 8192, min_calls = 8192),
        );
        assert_eq!(
            check(Kind::Bulkhead, quote!(max = 2147483648, queue = 4294967295)),
            [
                "`max` must be at most 2147483647",
                "`queue` must be at most 2147483647"
            ]
        );
        ok(Kind::Retry, quote!(max = 4294967295));
    }

    #[test]
    fn zero_durations() {
        assert_eq!(
            check(Kind::Retry, quote!(initial = 0ms)),
            ["`initial` must be greater than zero"]
        );
        assert_eq!(
            check(Kind::CircuitBreaker, quote!(timeout = 0s)),
            ["`timeout` must be greater than zero"]
        );
        assert_eq!(
            check(Kind::Bulkhead, quote!(queue = 1, wait = 0s)),
            ["`wait` must be greater than zero"]
        );
    }

    #[test]
    fn empty_name() {
        assert_eq!(
            check(Kind::Retry, quote!(name = "")),
            ["`name` must not be empty"]
        );
        assert_eq!(
            check(Kind::Bulkhead, quote!(name = "  ")),
            ["`name` must not be empty"]
        );
    }

    #[test]
    fn failure_rate_range() {
        ok(Kind::CircuitBreaker, quote!(failure_rate = 0.5));
        ok(Kind::CircuitBreaker, quote!(failure_rate = 1));
        assert_eq!(
            check(Kind::CircuitBreaker, quote!(failure_rate = 1.5)),
            ["`failure_rate` must be greater than 0 and at most 1, found `1.5`"]
        );
        assert_eq!(
            check(Kind::CircuitBreaker, quote!(failure_rate = 0)),
            ["`failure_rate` must be greater than 0 and at most 1, found `0`"]
        );
    }

    #[test]
    fn window_needs_failure_rate() {
        assert_eq!(
            check(Kind::CircuitBreaker, quote!(window = 20, min_calls = 5)),
            [
                "`window` only applies with `failure_rate` or `slow_call`",
                "`min_calls` only applies with `failure_rate` or `slow_call`"
            ]
        );
        ok(
            Kind::CircuitBreaker,
            quote!(failure_rate = 0.5, window = 20, min_calls = 20),
        );
    }

    #[test]
    fn min_calls_within_window() {
        assert_eq!(
            check(
                Kind::CircuitBreaker,
                quote!(failure_rate = 0.5, window = 5, min_calls = 6)
            ),
            ["`min_calls` (6) cannot exceed `window` (5)"]
        );
        assert_eq!(
            check(
                Kind::CircuitBreaker,
                quote!(failure_rate = 0.5, min_calls = 11)
            ),
            ["`min_calls` (11) cannot exceed `window` (10, the default)"]
        );
        assert_eq!(
            check(
                Kind::CircuitBreaker,
                quote!(failure_rate = 0.5, window = 0, min_calls = 6)
            ),
            ["`window` must be at least 1"]
        );
    }

    #[test]
    fn max_delay_at_least_initial() {
        ok(Kind::Retry, quote!(initial = 1s, max_delay = 1s));
        assert_eq!(
            check(Kind::Retry, quote!(initial = 2s, max_delay = 1s)),
            ["`max_delay` (1s) must be at least `initial` (2s)"]
        );
        assert_eq!(
            check(Kind::Retry, quote!(max_delay = 50ms)),
            ["`max_delay` (50ms) must be at least `initial` (100ms, the default)"]
        );
        assert_eq!(
            check(Kind::Retry, quote!(initial = 10s)),
            ["`initial` (10s) exceeds the default `max_delay` (5s); set `max_delay` too"]
        );
        ok(Kind::Retry, quote!(initial = 10s, max_delay = 1m));
    }

    #[test]
    fn multiplier() {
        ok(Kind::Retry, quote!(multiplier = 1.0));
        ok(Kind::Retry, quote!(backoff = exponential, multiplier = 3));
        assert_eq!(
            check(Kind::Retry, quote!(multiplier = 0.5)),
            ["`multiplier` must be a finite number of at least 1.0, found `0.5`"]
        );
        assert_eq!(
            check(Kind::Retry, quote!(multiplier = 1e999)),
            ["`multiplier` must be a finite number of at least 1.0, found `inf`"]
        );
        assert_eq!(
            check(Kind::Retry, quote!(backoff = linear, multiplier = 2.0)),
            ["`multiplier` only applies with `backoff = exponential`"]
        );
    }

    #[test]
    fn required_values() {
        assert_eq!(
            check(Kind::Timeout, quote!(name = "t")),
            ["`#[timeout]` needs a duration: `#[timeout(2s)]` or `#[timeout(duration = 2s)]`"]
        );
        assert_eq!(check(Kind::RateLimit, quote!(per = 1s)).len(), 1);
        assert_eq!(check(Kind::Fallback, quote!(on = errors)).len(), 1);
        ok(Kind::Timeout, quote!(2s));
        ok(Kind::RateLimit, quote!(rate = 1));
        ok(Kind::Fallback, quote!(cached));
    }

    #[test]
    fn rate_limit_values() {
        assert_eq!(
            check(
                Kind::RateLimit,
                quote!(rate = 0, per = 0s, burst = 0, wait = 0s)
            ),
            [
                "`rate` must be at least 1",
                "`per` must be greater than zero",
                "`burst` must be at least 1",
                "`wait` must be greater than zero"
            ]
        );
        assert_eq!(
            check(Kind::RateLimit, quote!(rate = 1001, per = 1us)),
            [
                "`rate` (1001) per 1µs is more than one call a nanosecond; lower `rate` or lengthen \
              `per`"
            ]
        );
        ok(Kind::RateLimit, quote!(rate = 1000, per = 1us));
    }

    #[test]
    fn slow_calls_and_time_windows() {
        ok(
            Kind::CircuitBreaker,
            quote!(
                slow_call = 2s,
                slow_rate = 1,
                window = 60s,
                min_calls = 100000
            ),
        );
        ok(Kind::CircuitBreaker, quote!(slow_call = 2s, window = 50));
        assert_eq!(
            check(
                Kind::CircuitBreaker,
                quote!(slow_call = 0s, slow_rate = 1.5)
            ),
            [
                "`slow_call` must be greater than zero",
                "`slow_rate` must be greater than 0 and at most 1, found `1.5`"
            ]
        );
        assert_eq!(
            check(Kind::CircuitBreaker, quote!(slow_rate = 0.5)),
            [
                "`slow_rate` only applies with `slow_call`: set `slow_call = <duration>`, the \
                 time above which a call counts as slow"
            ]
        );
        assert_eq!(
            check(
                Kind::CircuitBreaker,
                quote!(failure_rate = 0.5, window = 999ms)
            ),
            [
                "a time `window` must be at least 1s, found 999ms; for a window of calls write \
                 a plain count, like `window = 100`"
            ]
        );
        assert_eq!(
            check(Kind::CircuitBreaker, quote!(window = 60s)),
            ["`window` only applies with `failure_rate` or `slow_call`"]
        );
    }

    #[test]
    fn max_elapsed_is_positive() {
        assert_eq!(
            check(Kind::Retry, quote!(max_elapsed = 0s)),
            ["`max_elapsed` must be greater than zero"]
        );
        ok(Kind::Retry, quote!(max_elapsed = 30s));
    }

    #[test]
    fn wait_needs_queue() {
        ok(Kind::Bulkhead, quote!(max = 2, queue = 3, wait = 5s));
        let message = "`wait` only applies with `queue`: without a queue, calls over `max` are \
                       rejected at once";
        assert_eq!(check(Kind::Bulkhead, quote!(wait = 5s)), [message]);
        assert_eq!(
            check(Kind::Bulkhead, quote!(queue = 0, wait = 5s)),
            [message]
        );
    }
}
