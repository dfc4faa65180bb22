//! Each policy's configuration as a `const` expression: the runtime's
//! `DEFAULT` with a setter per key written, spanned on its value.

use std::time::Duration;

use proc_macro2::{Ident, Literal, Span, TokenStream};
use quote::{ToTokens, quote, quote_spanned};

use crate::parse::{
    BulkheadArgs, CircuitBreakerArgs, RateLimitArgs, RetryArgs, TimeoutArgs, Value, Window,
};

pub(super) fn retry_config(private: &TokenStream, args: &RetryArgs) -> TokenStream {
    let mut config = quote!(#private::RetryConfig::DEFAULT);
    setter(&mut config, "max_attempts", args.max, u32_lit);
    setter(&mut config, "backoff", args.backoff, |backoff| {
        let variant = Ident::new(backoff.variant(), Span::call_site());
        quote!(#private::Backoff::#variant)
    });
    setter(&mut config, "initial", args.initial, duration);
    setter(&mut config, "max_delay", args.max_delay, duration);
    setter(&mut config, "multiplier", args.multiplier, f64_lit);
    setter(&mut config, "jitter", args.jitter, |jitter| {
        let variant = Ident::new(jitter.variant(), Span::call_site());
        quote!(#private::Jitter::#variant)
    });
    setter(
        &mut config,
        "retry_rejections",
        args.retry_rejections,
        |b| quote!(#b),
    );
    setter(&mut config, "max_elapsed", args.max_elapsed, duration);
    config
}

pub(super) fn circuit_breaker_config(
    private: &TokenStream,
    args: &CircuitBreakerArgs,
) -> TokenStream {
    let mut config = quote!(#private::CircuitBreakerConfig::DEFAULT);
    setter(&mut config, "threshold", args.threshold, u32_lit);
    setter(&mut config, "failure_rate", args.failure_rate, f64_lit);
    if let Some(window) = args.window {
        match window.value {
            Window::Calls(calls) => setter(
                &mut config,
                "window",
                Some(Value {
                    value: calls,
                    key: window.key,
                    span: window.span,
                }),
                u32_lit,
            ),
            Window::Time(time) => setter(
                &mut config,
                "time_window",
                Some(Value {
                    value: time,
                    key: window.key,
                    span: window.span,
                }),
                duration,
            ),
        }
    }
    setter(&mut config, "min_calls", args.min_calls, u32_lit);
    setter(&mut config, "open_for", args.open_for, duration);
    setter(&mut config, "half_open_max", args.half_open_max, u32_lit);
    setter(
        &mut config,
        "success_threshold",
        args.success_threshold,
        u32_lit,
    );
    setter(&mut config, "slow_call", args.slow_call, duration);
    setter(&mut config, "slow_rate", args.slow_rate, f64_lit);
    config
}

pub(super) fn bulkhead_config(private: &TokenStream, args: &BulkheadArgs) -> TokenStream {
    let mut config = quote!(#private::BulkheadConfig::DEFAULT);
    setter(&mut config, "max_concurrent", args.max, u32_lit);
    setter(&mut config, "queue", args.queue, u32_lit);
    setter(&mut config, "wait", args.wait, duration);
    config
}

pub(super) fn timeout_config(private: &TokenStream, args: &TimeoutArgs) -> TokenStream {
    let mut config = quote!(#private::TimeoutConfig::DEFAULT);
    setter(&mut config, "duration", args.duration, duration);
    config
}

pub(super) fn rate_limit_config(private: &TokenStream, args: &RateLimitArgs) -> TokenStream {
    let mut config = quote!(#private::RateLimiterConfig::DEFAULT);
    setter(&mut config, "rate", args.rate, u32_lit);
    setter(&mut config, "per", args.per, duration);
    setter(&mut config, "burst", args.burst, u32_lit);
    setter(&mut config, "wait", args.wait, duration);
    config
}

/// Appends `.method(value)` for a key that was given, spanned on the value.
fn setter<T: Copy>(
    config: &mut TokenStream,
    method: &str,
    value: Option<Value<T>>,
    to_tokens: impl FnOnce(T) -> TokenStream,
) {
    if let Some(value) = value {
        let method = Ident::new(method, value.span);
        let tokens = to_tokens(value.value);
        config.extend(quote_spanned!(value.span=> .#method(#tokens)));
    }
}

fn u32_lit(n: u32) -> TokenStream {
    Literal::u32_unsuffixed(n).into_token_stream()
}

fn f64_lit(n: f64) -> TokenStream {
    Literal::f64_suffixed(n).into_token_stream()
}

fn duration(duration: Duration) -> TokenStream {
    let nanos = u64::try_from(duration.as_nanos()).expect("parsed durations fit in u64");
    let nanos = Literal::u64_unsuffixed(nanos);
    quote!(::core::time::Duration::from_nanos(#nanos))
}
