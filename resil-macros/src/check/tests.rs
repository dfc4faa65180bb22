//! The check stage's tests: each rule's boundaries and each combination.

use super::*;
use crate::parse::Kind;
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
        check(Kind::CircuitBreaker, quote!(open_for = 0s)),
        ["`open_for` must be greater than zero"]
    );
    assert_eq!(
        check(Kind::Bulkhead, quote!(queue = 1, wait = 0s)),
        ["`wait` must be greater than zero when `queue` is set"]
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
        ["`failure_rate` must be in (0, 1], found `1.5`"]
    );
    assert_eq!(
        check(Kind::CircuitBreaker, quote!(failure_rate = 0)),
        ["`failure_rate` must be in (0, 1], found `0`"]
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
    assert_eq!(
        check(Kind::RateLimit, quote!(per = 1s)),
        [
            "`#[rate_limit]` needs `rate`: the calls allowed `per` period, like \
          `#[rate_limit(rate = 100, per = 1s)]`"
        ]
    );
    assert_eq!(
        check(Kind::Fallback, quote!(on = errors)),
        [
            "`#[fallback]` needs the function to call: `#[fallback(path::to::function)]`, an \
          `async fn` that takes the same arguments and then the error"
        ]
    );
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
        ]
    );
    // Zero is the runtime's default wait, not waiting: the same rule as
    // in configuration.
    ok(Kind::RateLimit, quote!(rate = 1, wait = 0s));
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
            "`slow_rate` must be in (0, 1], found `1.5`"
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

#[test]
fn settings_next_to_a_path_are_errors() {
    assert_eq!(
        check(
            Kind::CircuitBreaker,
            quote!(PAYMENTS, threshold = 0, name = "x", ignore = is_client)
        ),
        [
            "`threshold` cannot be set here: `PAYMENTS` is a declared policy, whose settings \
             are in its declaration; next to a path only `ignore`, `crate` may be given",
            "`name` cannot be set here: `PAYMENTS` is a declared policy, whose settings are \
             in its declaration; next to a path only `ignore`, `crate` may be given",
        ],
        "the value of a setting that cannot be there is not checked"
    );
    assert_eq!(
        check(Kind::CircuitBreaker, quote!(PAYMENTS, key = tenant)),
        [
            "`key` cannot be combined with the declared policy `PAYMENTS`: a keyed breaker is \
             declared inline, `#[circuit_breaker(name = \"...\", key = tenant, ...)]`"
        ]
    );
    ok(
        Kind::Retry,
        quote!(
            policies::RETRY,
            retry_if = f,
            retry_after = g,
            crate = "::r"
        ),
    );
}

#[test]
fn keyed_options() {
    assert_eq!(
        check(Kind::CircuitBreaker, quote!(max_keys = 5, key_ttl = 1s)),
        [
            "`max_keys` only applies with `key`",
            "`key_ttl` only applies with `key`"
        ]
    );
    assert_eq!(
        check(
            Kind::CircuitBreaker,
            quote!(key = tenant, max_keys = 0, key_ttl = 0s)
        ),
        [
            "`max_keys` must be at least 1",
            "`key_ttl` must be greater than zero"
        ]
    );
    ok(
        Kind::CircuitBreaker,
        quote!(key = tenant, max_keys = 1, key_ttl = 1ns),
    );
}
