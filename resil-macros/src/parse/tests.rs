//! The parser's tests: every key, every wrong kind of value, and the
//! declared and keyed forms.

use std::time::Duration;

use proc_macro2::TokenStream;
use quote::{ToTokens, quote};

use super::args::Jitter;
use super::*;
use crate::errors::Errors;

fn retry(tokens: TokenStream) -> (RetryArgs, Vec<String>) {
    let mut errors = Errors::default();
    let args = RetryArgs::parse(tokens, &mut errors);
    (args, errors.messages())
}

fn breaker(tokens: TokenStream) -> (CircuitBreakerArgs, Vec<String>) {
    let mut errors = Errors::default();
    let args = CircuitBreakerArgs::parse(tokens, &mut errors);
    (args, errors.messages())
}

fn bulkhead(tokens: TokenStream) -> (BulkheadArgs, Vec<String>) {
    let mut errors = Errors::default();
    let args = BulkheadArgs::parse(tokens, &mut errors);
    (args, errors.messages())
}

#[test]
fn empty() {
    let (args, errors) = retry(quote!());
    assert!(errors.is_empty());
    assert!(args.max.is_none() && args.common.name.is_none());
}

#[test]
fn every_retry_key() {
    let (args, errors) = retry(quote!(
        name = "osteon",
        max = 3,
        backoff = linear,
        initial = 100ms,
        max_delay = 5s,
        multiplier = 1.5,
        jitter = decorrelated,
        retry_if = errors::is_transient,
        retry_rejections = true,
        crate = "::my_resil",
    ));
    assert_eq!(errors, Vec::<String>::new());
    assert_eq!(args.common.name.unwrap().value(), "osteon");
    assert_eq!(args.max.unwrap().value, 3);
    assert_eq!(args.backoff.unwrap().value, Backoff::Linear);
    assert_eq!(args.initial.unwrap().value, Duration::from_millis(100));
    assert_eq!(args.max_delay.unwrap().value, Duration::from_secs(5));
    assert_eq!(args.multiplier.unwrap().value, 1.5);
    assert_eq!(args.jitter.unwrap().value, Jitter::Decorrelated);
    let retry_if = args.retry_if.unwrap();
    assert_eq!(quote!(#retry_if).to_string(), "errors :: is_transient");
    assert!(args.retry_rejections.unwrap().value);
    let krate = args.common.krate.unwrap();
    assert_eq!(quote!(#krate).to_string(), ":: my_resil");
}

#[test]
fn every_breaker_key() {
    let (args, errors) = breaker(quote!(
        name = "osteon",
        threshold = 5,
        failure_rate = 0.5,
        window = 20,
        min_calls = 10,
        open_for = 60s,
        half_open_max = 2,
        success_threshold = 3,
        ignore = is_client_error,
    ));
    assert_eq!(errors, Vec::<String>::new());
    assert_eq!(args.threshold.unwrap().value, 5);
    assert_eq!(args.failure_rate.unwrap().value, 0.5);
    assert_eq!(args.window.unwrap().value, Window::Calls(20));
    assert_eq!(args.min_calls.unwrap().value, 10);
    assert_eq!(args.open_for.unwrap().value, Duration::from_secs(60));
    assert_eq!(args.half_open_max.unwrap().value, 2);
    assert_eq!(args.success_threshold.unwrap().value, 3);
    assert!(args.ignore.is_some());
}

#[test]
fn every_bulkhead_key() {
    let (args, errors) = bulkhead(quote!(name = "osteon", max = 10, queue = 5, wait = "5s"));
    assert_eq!(errors, Vec::<String>::new());
    assert_eq!(args.max.unwrap().value, 10);
    assert_eq!(args.queue.unwrap().value, 5);
    assert_eq!(args.wait.unwrap().value, Duration::from_secs(5));
}

#[test]
fn integer_failure_rate_and_multiplier() {
    let (args, errors) = breaker(quote!(failure_rate = 1));
    assert!(errors.is_empty());
    assert_eq!(args.failure_rate.unwrap().value, 1.0);
    let (args, errors) = retry(quote!(multiplier = 3));
    assert!(errors.is_empty());
    assert_eq!(args.multiplier.unwrap().value, 3.0);
}

#[test]
fn unknown_key() {
    let (_, errors) = retry(quote!(maxx = 3));
    assert_eq!(
        errors,
        [
            "unknown `retry` argument `maxx`; expected one of: `name`, `max`, `backoff`, \
          `initial`, `max_delay`, `multiplier`, `jitter`, `retry_if`, `retry_rejections`, \
          `max_elapsed`, `retry_after`, `crate`"
        ]
    );
    let (_, errors) = bulkhead(quote!(threshold = 3));
    assert_eq!(
        errors,
        [
            "unknown `bulkhead` argument `threshold`; expected one of: `name`, `max`, \
             `queue`, `wait`, `crate`"
        ]
    );
}

#[test]
fn duplicate_key() {
    let (args, errors) = retry(quote!(max = 3, max = 4));
    assert_eq!(errors, ["duplicate `retry` argument `max`"]);
    assert_eq!(args.max.unwrap().value, 3);
}

#[test]
fn wrong_kinds() {
    let (_, errors) = retry(quote!(max = "3"));
    assert_eq!(errors, ["expected an integer for `max`, found a string"]);
    let (_, errors) = retry(quote!(max = 2.5));
    assert_eq!(
        errors,
        ["expected an integer for `max`, found the float `2.5`"]
    );
    let (_, errors) = retry(quote!(max = true));
    assert_eq!(errors, ["expected an integer for `max`, found `true`"]);
    let (_, errors) = retry(quote!(max = -1));
    assert_eq!(errors, ["`max` cannot be negative"]);
    let (_, errors) = retry(quote!(max = 3s));
    assert_eq!(
        errors,
        ["`max` is a count, not a duration: write `max = 3`"]
    );
    let (_, errors) = retry(quote!(max = 3u8));
    assert_eq!(
        errors,
        ["unexpected suffix `u8`: `max` takes a plain integer"]
    );
    let (_, errors) = retry(quote!(max = 4294967296));
    assert_eq!(errors, ["`max` is too large: at most 4294967295"]);
    let (args, errors) = retry(quote!(max = 4294967295u32));
    assert!(errors.is_empty());
    assert_eq!(args.max.unwrap().value, u32::MAX);
    let (_, errors) = retry(quote!(retry_rejections = "yes"));
    assert_eq!(
        errors,
        ["expected `true` or `false` for `retry_rejections`, found a string"]
    );
    let (_, errors) = retry(quote!(name = osteon));
    assert_eq!(
        errors,
        ["expected a string for `name`, like `name = \"payments\"`, found `osteon`"]
    );
    let (_, errors) = retry(quote!(retry_if = "is_transient"));
    assert_eq!(
        errors,
        ["expected a path to a function `fn(&E) -> bool` for `retry_if`, found a string"]
    );
    let (_, errors) = breaker(quote!(failure_rate = "half"));
    assert_eq!(
        errors,
        ["expected a number for `failure_rate`, found a string"]
    );
    let (_, errors) = breaker(quote!(failure_rate = -0.5));
    assert_eq!(errors, ["`failure_rate` cannot be negative"]);
}

#[test]
fn choices() {
    let (_, errors) = retry(quote!(backoff = quadratic));
    assert_eq!(
        errors,
        [
            "unknown `backoff` `quadratic`; expected one of: `exponential`, `linear`, \
             `fibonacci`, `constant`"
        ]
    );
    let (_, errors) = retry(quote!(jitter = "full"));
    assert_eq!(
        errors,
        [
            "expected one of `none`, `full`, `equal`, `decorrelated` for `jitter`, found \
             a string"
        ]
    );
    let (args, errors) = retry(quote!(jitter = none, backoff = constant));
    assert!(errors.is_empty());
    assert_eq!(args.jitter.unwrap().value, Jitter::None);
    assert_eq!(args.backoff.unwrap().value, Backoff::Constant);
}

#[test]
fn crate_override() {
    let (args, errors) = bulkhead(quote!(crate = renamed::inner));
    assert!(errors.is_empty());
    let krate = args.common.krate.unwrap();
    assert_eq!(quote!(#krate).to_string(), "renamed :: inner");
    let (_, errors) = bulkhead(quote!(crate = "not a path"));
    assert_eq!(
        errors,
        [
            "expected a path to the resil crate like `crate = \"::my_resil\"`, found \
             \"not a path\""
        ]
    );
}

#[test]
fn syntax_errors_recover_at_the_next_comma() {
    let (args, errors) = retry(quote!(max 3, backoff = linear, initial: 5s, jitter = full));
    assert_eq!(
        errors,
        ["expected `max = <value>`", "expected `initial = <value>`"]
    );
    assert_eq!(args.backoff.unwrap().value, Backoff::Linear);
    assert_eq!(args.jitter.unwrap().value, Jitter::Full);

    let (args, errors) = retry(quote!(max = 3 4, "x", initial =, jitter = none));
    assert_eq!(
        errors,
        [
            "expected `,`",
            "expected an argument like `key = value`",
            "expected a value after `initial =`"
        ]
    );
    assert_eq!(args.max.unwrap().value, 3);
    assert_eq!(args.jitter.unwrap().value, Jitter::None);
}

#[test]
fn all_errors_are_reported() {
    let (_, errors) = retry(quote!(
        maxx = 3,
        backoff = quadratic,
        initial = 60,
        max = "3"
    ));
    assert_eq!(errors.len(), 4, "{errors:?}");
}

#[test]
fn a_leading_value_stands_for_the_positional_key() {
    let mut errors = Errors::default();
    let args = TimeoutArgs::parse(quote!(2s, name = "lookup"), &mut errors);
    assert!(errors.is_empty());
    assert_eq!(args.duration.unwrap().value, Duration::from_secs(2));
    let args = FallbackArgs::parse(quote!(cache::stale, on = rejections), &mut errors);
    assert!(errors.is_empty());
    let path = args.path.unwrap();
    assert_eq!(quote!(#path).to_string(), "cache :: stale");
    assert_eq!(args.on.unwrap().value, FallbackOn::Rejections);
    // Only first, and only for attributes that have one.
    FallbackArgs::parse(quote!(on = errors, cached), &mut errors);
    RetryArgs::parse(quote!(3), &mut errors);
    TimeoutArgs::parse(quote!(2s, duration = 3s), &mut errors);
    assert_eq!(
        errors.messages(),
        [
            "only the first argument may leave out its key; write `path = <value>`",
            "expected an argument like `key = value`",
            "duplicate `timeout` argument `duration`"
        ]
    );
}

#[test]
fn every_new_key() {
    let mut errors = Errors::default();
    let limit = RateLimitArgs::parse(
        quote!(name = "sms", rate = 100, per = 1m, burst = 10, wait = 500ms),
        &mut errors,
    );
    let retry = RetryArgs::parse(quote!(max_elapsed = 10s, retry_after = hint), &mut errors);
    let breaker = CircuitBreakerArgs::parse(
        quote!(window = 60s, slow_call = 2s, slow_rate = 0.8),
        &mut errors,
    );
    assert_eq!(errors.messages(), Vec::<String>::new());
    assert_eq!(limit.rate.unwrap().value, 100);
    assert_eq!(limit.per.unwrap().value, Duration::from_secs(60));
    assert_eq!(limit.burst.unwrap().value, 10);
    assert_eq!(limit.wait.unwrap().value, Duration::from_millis(500));
    assert_eq!(retry.max_elapsed.unwrap().value, Duration::from_secs(10));
    assert!(retry.retry_after.is_some());
    assert_eq!(
        breaker.window.unwrap().value,
        Window::Time(Duration::from_secs(60))
    );
    assert_eq!(breaker.slow_call.unwrap().value, Duration::from_secs(2));
    assert_eq!(breaker.slow_rate.unwrap().value, 0.8);
}

#[test]
fn window_is_a_count_or_a_duration() {
    for (tokens, expected) in [
        (quote!(window = 100), Window::Calls(100)),
        (quote!(window = 100u32), Window::Calls(100)),
        (quote!(window = 90s), Window::Time(Duration::from_secs(90))),
        (
            quote!(window = "2m"),
            Window::Time(Duration::from_secs(120)),
        ),
    ] {
        let (args, errors) = breaker(tokens);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(args.window.unwrap().value, expected);
    }
    let (_, errors) = breaker(quote!(window = 1.5));
    assert_eq!(
        errors,
        ["duration needs a unit: write `1.5s` or `1.5ms` (units: ns, us, ms, s, m, h)"]
    );
}

#[test]
fn rates_written_as_fractions_get_a_hint() {
    let mut errors = Errors::default();
    RateLimitArgs::parse(quote!(rate = 100 / 1s), &mut errors);
    assert_eq!(
        errors.messages(),
        [
            "expected a number of calls for `rate`, found an expression; write the period \
             apart, like `rate = 100, per = 1s`"
        ]
    );
}

#[test]
fn raw_keys() {
    let (args, errors) = retry(quote!(r#max = 3));
    assert!(errors.is_empty());
    assert_eq!(args.max.unwrap().value, 3);
}

fn layer(kind: Kind, tokens: TokenStream) -> (Layer, Vec<String>) {
    let mut errors = Errors::default();
    let layer = Layer::parse(kind, tokens, &mut errors);
    (layer, errors.messages())
}

#[test]
fn a_leading_path_is_the_declared_policy() {
    let (parsed, errors) = layer(
        Kind::CircuitBreaker,
        quote!(policies::PAYMENTS, ignore = is_client),
    );
    assert!(errors.is_empty(), "{errors:?}");
    let common = parsed.common();
    let policy = common.policy.as_ref().unwrap();
    assert_eq!(policy.to_token_stream().to_string(), "policies :: PAYMENTS");
    let given: Vec<_> = common.given.iter().map(ToString::to_string).collect();
    assert_eq!(given, ["ignore"]);
    let Layer::CircuitBreaker(args) = parsed else {
        unreachable!()
    };
    let ignore = args.ignore.unwrap();
    assert_eq!(quote!(#ignore).to_string(), "is_client");

    let (parsed, errors) = layer(Kind::Retry, quote!(max = 3));
    assert!(parsed.common().policy.is_none() && errors.is_empty());

    // Not a path on its own: the pair parser reports it.
    let (parsed, errors) = layer(Kind::Retry, quote!(max 3, jitter = none));
    assert!(parsed.common().policy.is_none());
    assert_eq!(errors, ["expected `max = <value>`"]);
    // Only the first argument can be a path.
    let (_, errors) = layer(Kind::Bulkhead, quote!(max = 2, SEARCH));
    assert_eq!(errors, ["expected `SEARCH = <value>`"]);
    // Attributes that take no declared policy report the path as a pair.
    let (parsed, errors) = layer(Kind::RateLimit, quote!(LIMIT, rate = 1));
    assert!(parsed.common().policy.is_none());
    assert_eq!(errors, ["expected `LIMIT = <value>`"]);
}

#[test]
fn key_arguments() {
    let (parsed, errors) = layer(
        Kind::CircuitBreaker,
        quote!(key = tenant, threshold = 2, max_keys = 50, key_ttl = 10m),
    );
    assert!(errors.is_empty(), "{errors:?}");
    let given: Vec<_> = parsed
        .common()
        .given
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        given,
        ["threshold"],
        "the keyed breaker's keys are not settings"
    );
    let Layer::CircuitBreaker(args) = parsed else {
        unreachable!()
    };
    assert_eq!(args.key.unwrap().to_string(), "tenant");
    assert_eq!(args.threshold.unwrap().value, 2);
    assert_eq!(args.max_keys.unwrap().value, 50);
    assert_eq!(args.key_ttl.unwrap().value, Duration::from_secs(600));

    let (_, errors) = layer(
        Kind::CircuitBreaker,
        quote!(key = "tenant", max_keys = -1, key = t),
    );
    assert_eq!(
        errors,
        [
            "expected the name of one of the function's arguments for `key`, like `key = tenant`",
            "`max_keys` cannot be negative",
            "duplicate `circuit_breaker` argument `key`",
        ]
    );
    // Other kinds do not know `key`.
    let (_, errors) = layer(Kind::Bulkhead, quote!(key = tenant));
    assert_eq!(
        errors,
        [
            "unknown `bulkhead` argument `key`; expected one of: `name`, `max`, `queue`, `wait`, `crate`"
        ]
    );
}

#[test]
fn timeout_is_the_older_name_of_open_for() {
    let (args, errors) = breaker(quote!(timeout = 5s));
    assert_eq!(errors, Vec::<String>::new());
    assert_eq!(args.open_for.unwrap().value, Duration::from_secs(5));

    let (args, errors) = breaker(quote!(open_for = 5s, timeout = 6s));
    assert_eq!(
        errors,
        ["`timeout` is another name for `open_for`: give only one"]
    );
    assert_eq!(args.open_for.unwrap().value, Duration::from_secs(5));
}
