//! Parses each attribute's arguments into its struct: one parser for the
//! inline settings, a declared policy's leading path and a keyed breaker's
//! keys alike.

use proc_macro2::TokenStream;
use syn::spanned::Spanned;
use syn::{Attribute, Meta};

use super::args::{
    Backoff, BulkheadArgs, CircuitBreakerArgs, FallbackArgs, FallbackOn, Jitter, Layer,
    RateLimitArgs, RetryArgs, TimeoutArgs,
};
use super::kind::Kind;
use super::pairs::for_each_arg;
use super::value::{
    FALLBACK_FN, PREDICATE, RETRY_AFTER, argument_name, boolean, choice, count, duration, fn_path,
    number, rate, window,
};
use crate::errors::Errors;

impl Layer {
    /// Parses the arguments of the attribute being expanded.
    pub(crate) fn parse(kind: Kind, args: TokenStream, errors: &mut Errors) -> Layer {
        match kind {
            Kind::Retry => Layer::Retry(RetryArgs::parse(args, errors)),
            Kind::CircuitBreaker => Layer::CircuitBreaker(CircuitBreakerArgs::parse(args, errors)),
            Kind::Bulkhead => Layer::Bulkhead(BulkheadArgs::parse(args, errors)),
            Kind::Timeout => Layer::Timeout(TimeoutArgs::parse(args, errors)),
            Kind::Fallback => Layer::Fallback(FallbackArgs::parse(args, errors)),
            Kind::RateLimit => Layer::RateLimit(RateLimitArgs::parse(args, errors)),
        }
    }

    /// Parses a resil attribute still sitting on the item (an inner layer).
    pub(crate) fn parse_attr(kind: Kind, attr: &Attribute, errors: &mut Errors) -> Layer {
        let args = match &attr.meta {
            Meta::Path(_) => TokenStream::new(),
            Meta::List(list) => list.tokens.clone(),
            Meta::NameValue(meta) => {
                errors.push(syn::Error::new(
                    meta.eq_token.span,
                    format!("expected `#[{kind}(key = value, ...)]`"),
                ));
                TokenStream::new()
            }
        };
        let mut layer = Layer::parse(kind, args, errors);
        layer.common_mut().attr_span = Some(attr.path().span());
        layer
    }
}

impl RetryArgs {
    pub(crate) fn parse(tokens: TokenStream, errors: &mut Errors) -> Self {
        let mut args = RetryArgs::default();
        for_each_arg(
            Kind::Retry,
            tokens,
            errors,
            &mut args.common,
            |arg, errors| match arg.key_str.as_str() {
                "max" => args.max = errors.ok(count(arg)),
                "backoff" => args.backoff = errors.ok(choice(arg, Backoff::CHOICES)),
                "initial" => args.initial = errors.ok(duration(arg)),
                "max_delay" => args.max_delay = errors.ok(duration(arg)),
                "multiplier" => args.multiplier = errors.ok(number(arg)),
                "jitter" => args.jitter = errors.ok(choice(arg, Jitter::CHOICES)),
                "retry_if" => args.retry_if = errors.ok(fn_path(arg, PREDICATE)),
                "retry_rejections" => args.retry_rejections = errors.ok(boolean(arg)),
                "max_elapsed" => args.max_elapsed = errors.ok(duration(arg)),
                "retry_after" => args.retry_after = errors.ok(fn_path(arg, RETRY_AFTER)),
                _ => unreachable!("key list and match disagree"),
            },
        );
        args
    }
}

impl CircuitBreakerArgs {
    pub(crate) fn parse(tokens: TokenStream, errors: &mut Errors) -> Self {
        let mut args = CircuitBreakerArgs::default();
        for_each_arg(
            Kind::CircuitBreaker,
            tokens,
            errors,
            &mut args.common,
            |arg, errors| match arg.key_str.as_str() {
                "threshold" => args.threshold = errors.ok(count(arg)),
                "failure_rate" => args.failure_rate = errors.ok(number(arg)),
                "window" => args.window = errors.ok(window(arg)),
                "min_calls" => args.min_calls = errors.ok(count(arg)),
                // `timeout` is the older name of `open_for`: one of them.
                "open_for" | "timeout" if args.open_for.is_some() => errors.push(syn::Error::new(
                    arg.key.span(),
                    "`timeout` is another name for `open_for`: give only one",
                )),
                "open_for" | "timeout" => args.open_for = errors.ok(duration(arg)),
                "half_open_max" => args.half_open_max = errors.ok(count(arg)),
                "success_threshold" => args.success_threshold = errors.ok(count(arg)),
                "ignore" => args.ignore = errors.ok(fn_path(arg, PREDICATE)),
                "slow_call" => args.slow_call = errors.ok(duration(arg)),
                "slow_rate" => args.slow_rate = errors.ok(number(arg)),
                "key" => args.key = errors.ok(argument_name(arg)),
                "max_keys" => args.max_keys = errors.ok(count(arg)),
                "key_ttl" => args.key_ttl = errors.ok(duration(arg)),
                _ => unreachable!("key list and match disagree"),
            },
        );
        args
    }
}

impl BulkheadArgs {
    pub(crate) fn parse(tokens: TokenStream, errors: &mut Errors) -> Self {
        let mut args = BulkheadArgs::default();
        for_each_arg(
            Kind::Bulkhead,
            tokens,
            errors,
            &mut args.common,
            |arg, errors| match arg.key_str.as_str() {
                "max" => args.max = errors.ok(count(arg)),
                "queue" => args.queue = errors.ok(count(arg)),
                "wait" => args.wait = errors.ok(duration(arg)),
                _ => unreachable!("key list and match disagree"),
            },
        );
        args
    }
}

impl TimeoutArgs {
    pub(crate) fn parse(tokens: TokenStream, errors: &mut Errors) -> Self {
        let mut args = TimeoutArgs::default();
        for_each_arg(
            Kind::Timeout,
            tokens,
            errors,
            &mut args.common,
            |arg, errors| match arg.key_str.as_str() {
                "duration" => {
                    args.duration_given = true;
                    args.duration = errors.ok(duration(arg));
                }
                _ => unreachable!("key list and match disagree"),
            },
        );
        args
    }
}

impl FallbackArgs {
    pub(crate) fn parse(tokens: TokenStream, errors: &mut Errors) -> Self {
        let mut args = FallbackArgs::default();
        for_each_arg(
            Kind::Fallback,
            tokens,
            errors,
            &mut args.common,
            |arg, errors| match arg.key_str.as_str() {
                "path" => {
                    args.path_given = true;
                    args.path = errors.ok(fn_path(arg, FALLBACK_FN));
                }
                "on" => args.on = errors.ok(choice(arg, FallbackOn::CHOICES)),
                _ => unreachable!("key list and match disagree"),
            },
        );
        args
    }
}

impl RateLimitArgs {
    pub(crate) fn parse(tokens: TokenStream, errors: &mut Errors) -> Self {
        let mut args = RateLimitArgs::default();
        for_each_arg(
            Kind::RateLimit,
            tokens,
            errors,
            &mut args.common,
            |arg, errors| match arg.key_str.as_str() {
                "rate" => {
                    args.rate_given = true;
                    args.rate = errors.ok(rate(arg));
                }
                "per" => args.per = errors.ok(duration(arg)),
                "burst" => args.burst = errors.ok(count(arg)),
                "wait" => args.wait = errors.ok(duration(arg)),
                _ => unreachable!("key list and match disagree"),
            },
        );
        args
    }
}
