//! Parses attribute arguments (`max = 3, backoff = linear, ...`) into typed
//! structs, one `syn::Error` per bad token.

use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

use proc_macro2::{Span, TokenStream};
use quote::ToTokens;
use syn::ext::IdentExt;
use syn::parse::{ParseStream, Parser};
use syn::spanned::Spanned;
use syn::{Attribute, Expr, ExprPath, Ident, Lit, LitStr, Meta, Path, Token};

use crate::duration;
use crate::errors::Errors;

/// Which policy an attribute asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Retry,
    CircuitBreaker,
    Bulkhead,
    Timeout,
    Fallback,
    RateLimit,
}

impl Kind {
    /// Recognises a resil attribute by the last segment of its path, so that
    /// `#[retry]` and `#[resil::retry]` both count.
    pub(crate) fn of_attr(attr: &Attribute) -> Option<Kind> {
        match attr.path().segments.last()?.ident.to_string().as_str() {
            "retry" => Some(Kind::Retry),
            "circuit_breaker" => Some(Kind::CircuitBreaker),
            "bulkhead" => Some(Kind::Bulkhead),
            "timeout" => Some(Kind::Timeout),
            "fallback" => Some(Kind::Fallback),
            "rate_limit" => Some(Kind::RateLimit),
            _ => None,
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::Retry => "retry",
            Kind::CircuitBreaker => "circuit_breaker",
            Kind::Bulkhead => "bulkhead",
            Kind::Timeout => "timeout",
            Kind::Fallback => "fallback",
            Kind::RateLimit => "rate_limit",
        }
    }

    /// The key a leading value without `key =` stands for: `#[timeout(2s)]`
    /// is `#[timeout(duration = 2s)]`, `#[fallback(cached)]` is
    /// `#[fallback(path = cached)]`.
    pub(crate) fn positional_key(self) -> Option<&'static str> {
        match self {
            Kind::Timeout => Some("duration"),
            Kind::Fallback => Some("path"),
            _ => None,
        }
    }

    fn keys(self) -> &'static [&'static str] {
        match self {
            Kind::Retry => &[
                "name",
                "max",
                "backoff",
                "initial",
                "max_delay",
                "multiplier",
                "jitter",
                "retry_if",
                "retry_rejections",
                "max_elapsed",
                "retry_after",
                "crate",
            ],
            Kind::CircuitBreaker => &[
                "name",
                "threshold",
                "failure_rate",
                "window",
                "min_calls",
                "timeout",
                "half_open_max",
                "success_threshold",
                "ignore",
                "slow_call",
                "slow_rate",
                "key",
                "max_keys",
                "key_ttl",
                "crate",
            ],
            Kind::Bulkhead => &["name", "max", "queue", "wait", "crate"],
            Kind::Timeout => &["duration", "name", "crate"],
            Kind::Fallback => &["path", "on", "crate"],
            Kind::RateLimit => &["name", "rate", "per", "burst", "wait", "crate"],
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A parsed value with the spans of its key and of the value itself.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Value<T> {
    pub(crate) value: T,
    pub(crate) key: Span,
    pub(crate) span: Span,
}

/// Keys every attribute accepts.
#[derive(Default)]
pub(crate) struct Common {
    pub(crate) name: Option<LitStr>,
    /// `crate = "path"`: where the `resil` crate is, for renamed dependencies.
    pub(crate) krate: Option<Path>,
    /// The attribute's path, for errors about a key that is missing; `None`
    /// for the attribute being expanded (its span is the call site).
    pub(crate) attr_span: Option<Span>,
    /// `#[circuit_breaker(PAYMENTS)]`: a declared policy (see `declared.rs`).
    pub(crate) policy: Option<Path>,
    /// `key = tenant, max_keys = ..., key_ttl = ...` (see `declared.rs`).
    pub(crate) key: Option<crate::declared::KeyArgs>,
}

impl Common {
    /// Where to report an error about the attribute as a whole.
    pub(crate) fn span(&self) -> Span {
        self.attr_span.unwrap_or_else(Span::call_site)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Backoff {
    Exponential,
    Linear,
    Fibonacci,
    Constant,
}

impl Backoff {
    const CHOICES: &[(&str, Backoff)] = &[
        ("exponential", Backoff::Exponential),
        ("linear", Backoff::Linear),
        ("fibonacci", Backoff::Fibonacci),
        ("constant", Backoff::Constant),
    ];

    pub(crate) fn variant(self) -> &'static str {
        match self {
            Backoff::Exponential => "Exponential",
            Backoff::Linear => "Linear",
            Backoff::Fibonacci => "Fibonacci",
            Backoff::Constant => "Constant",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Jitter {
    None,
    Full,
    Equal,
    Decorrelated,
}

impl Jitter {
    const CHOICES: &[(&str, Jitter)] = &[
        ("none", Jitter::None),
        ("full", Jitter::Full),
        ("equal", Jitter::Equal),
        ("decorrelated", Jitter::Decorrelated),
    ];

    pub(crate) fn variant(self) -> &'static str {
        match self {
            Jitter::None => "None",
            Jitter::Full => "Full",
            Jitter::Equal => "Equal",
            Jitter::Decorrelated => "Decorrelated",
        }
    }
}

/// `#[retry(...)]`
#[derive(Default)]
pub(crate) struct RetryArgs {
    pub(crate) common: Common,
    pub(crate) max: Option<Value<u32>>,
    pub(crate) backoff: Option<Value<Backoff>>,
    pub(crate) initial: Option<Value<Duration>>,
    pub(crate) max_delay: Option<Value<Duration>>,
    pub(crate) multiplier: Option<Value<f64>>,
    pub(crate) jitter: Option<Value<Jitter>>,
    pub(crate) retry_if: Option<ExprPath>,
    pub(crate) retry_rejections: Option<Value<bool>>,
    pub(crate) max_elapsed: Option<Value<Duration>>,
    pub(crate) retry_after: Option<ExprPath>,
}

/// `#[circuit_breaker(...)]`
#[derive(Default)]
pub(crate) struct CircuitBreakerArgs {
    pub(crate) common: Common,
    pub(crate) threshold: Option<Value<u32>>,
    pub(crate) failure_rate: Option<Value<f64>>,
    pub(crate) window: Option<Value<Window>>,
    pub(crate) min_calls: Option<Value<u32>>,
    pub(crate) timeout: Option<Value<Duration>>,
    pub(crate) half_open_max: Option<Value<u32>>,
    pub(crate) success_threshold: Option<Value<u32>>,
    pub(crate) ignore: Option<ExprPath>,
    pub(crate) slow_call: Option<Value<Duration>>,
    pub(crate) slow_rate: Option<Value<f64>>,
}

/// `window = 100` (the last 100 calls) or `window = 60s` (the calls of the
/// last 60 seconds).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Window {
    Calls(u32),
    Time(Duration),
}

/// `#[bulkhead(...)]`
#[derive(Default)]
pub(crate) struct BulkheadArgs {
    pub(crate) common: Common,
    pub(crate) max: Option<Value<u32>>,
    pub(crate) queue: Option<Value<u32>>,
    pub(crate) wait: Option<Value<Duration>>,
}

/// `#[timeout(...)]`
#[derive(Default)]
pub(crate) struct TimeoutArgs {
    pub(crate) common: Common,
    pub(crate) duration: Option<Value<Duration>>,
    /// `duration` was written, even if its value was wrong.
    pub(crate) duration_given: bool,
}

/// Which errors `#[fallback]` answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FallbackOn {
    /// Every error: the body's own and every policy's.
    Errors,
    /// Only refusals by the policies below (open circuit, full bulkhead,
    /// exhausted rate limit).
    Rejections,
}

impl FallbackOn {
    const CHOICES: &[(&str, FallbackOn)] = &[
        ("errors", FallbackOn::Errors),
        ("rejections", FallbackOn::Rejections),
    ];
}

/// `#[fallback(...)]`
#[derive(Default)]
pub(crate) struct FallbackArgs {
    pub(crate) common: Common,
    pub(crate) path: Option<ExprPath>,
    /// `path` was written, even if its value was wrong.
    pub(crate) path_given: bool,
    pub(crate) on: Option<Value<FallbackOn>>,
}

/// `#[rate_limit(...)]`
#[derive(Default)]
pub(crate) struct RateLimitArgs {
    pub(crate) common: Common,
    pub(crate) rate: Option<Value<u32>>,
    /// `rate` was written, even if its value was wrong.
    pub(crate) rate_given: bool,
    pub(crate) per: Option<Value<Duration>>,
    pub(crate) burst: Option<Value<u32>>,
    pub(crate) wait: Option<Value<Duration>>,
}

/// One resil attribute of a stack, outermost first.
pub(crate) enum Layer {
    Retry(RetryArgs),
    CircuitBreaker(CircuitBreakerArgs),
    Bulkhead(BulkheadArgs),
    Timeout(TimeoutArgs),
    Fallback(FallbackArgs),
    RateLimit(RateLimitArgs),
}

impl Layer {
    /// Parses the arguments of the attribute being expanded.
    pub(crate) fn parse(kind: Kind, args: TokenStream, errors: &mut Errors) -> Layer {
        let (extracted, args) = crate::declared::extract(kind, args, errors);
        let mut layer = Layer::parse_rest(kind, args, errors);
        let common = layer.common_mut();
        common.policy = extracted.policy;
        common.key = extracted.key;
        layer
    }

    fn parse_rest(kind: Kind, args: TokenStream, errors: &mut Errors) -> Layer {
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

    pub(crate) fn kind(&self) -> Kind {
        match self {
            Layer::Retry(_) => Kind::Retry,
            Layer::CircuitBreaker(_) => Kind::CircuitBreaker,
            Layer::Bulkhead(_) => Kind::Bulkhead,
            Layer::Timeout(_) => Kind::Timeout,
            Layer::Fallback(_) => Kind::Fallback,
            Layer::RateLimit(_) => Kind::RateLimit,
        }
    }

    pub(crate) fn common(&self) -> &Common {
        match self {
            Layer::Retry(args) => &args.common,
            Layer::CircuitBreaker(args) => &args.common,
            Layer::Bulkhead(args) => &args.common,
            Layer::Timeout(args) => &args.common,
            Layer::Fallback(args) => &args.common,
            Layer::RateLimit(args) => &args.common,
        }
    }

    fn common_mut(&mut self) -> &mut Common {
        match self {
            Layer::Retry(args) => &mut args.common,
            Layer::CircuitBreaker(args) => &mut args.common,
            Layer::Bulkhead(args) => &mut args.common,
            Layer::Timeout(args) => &mut args.common,
            Layer::Fallback(args) => &mut args.common,
            Layer::RateLimit(args) => &mut args.common,
        }
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
                "timeout" => args.timeout = errors.ok(duration(arg)),
                "half_open_max" => args.half_open_max = errors.ok(count(arg)),
                "success_threshold" => args.success_threshold = errors.ok(count(arg)),
                "ignore" => args.ignore = errors.ok(fn_path(arg, PREDICATE)),
                "slow_call" => args.slow_call = errors.ok(duration(arg)),
                "slow_rate" => args.slow_rate = errors.ok(number(arg)),
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

/// One `key = value` pair.
struct Arg {
    key: Ident,
    key_str: String,
    value: Expr,
}

/// Parses `key = value, ...`, reports syntax errors, unknown and repeated
/// keys, handles the keys every attribute has, and hands the others to `f`.
fn for_each_arg(
    kind: Kind,
    tokens: TokenStream,
    errors: &mut Errors,
    common: &mut Common,
    mut f: impl FnMut(&Arg, &mut Errors),
) {
    let args = parse_pairs(tokens, kind.positional_key(), errors);
    let mut seen = HashMap::new();
    for arg in &args {
        if !kind.keys().contains(&arg.key_str.as_str()) {
            let expected = kind
                .keys()
                .iter()
                .map(|key| format!("`{key}`"))
                .collect::<Vec<_>>()
                .join(", ");
            errors.push(syn::Error::new(
                arg.key.span(),
                format!(
                    "unknown `{kind}` argument `{}`; expected one of: {expected}",
                    arg.key_str
                ),
            ));
            continue;
        }
        if seen.insert(arg.key_str.clone(), ()).is_some() {
            errors.push(syn::Error::new(
                arg.key.span(),
                format!("duplicate `{kind}` argument `{}`", arg.key_str),
            ));
            continue;
        }
        match arg.key_str.as_str() {
            "name" => common.name = errors.ok(name(arg)),
            "crate" => common.krate = errors.ok(crate_path(arg)),
            _ => f(arg, errors),
        }
    }
}

/// Splits the tokens into pairs. A malformed pair is reported and skipped up
/// to the next comma, so the pairs after it are still checked. When the
/// attribute has a positional key, a first value without `key =` stands
/// for it.
fn parse_pairs(
    tokens: TokenStream,
    positional: Option<&'static str>,
    errors: &mut Errors,
) -> Vec<Arg> {
    let mut args = Vec::new();
    let parser = |input: ParseStream<'_>| {
        let mut first = true;
        while !input.is_empty() {
            let pair = match positional {
                Some(key) if !(input.peek(Ident::peek_any) && input.peek2(Token![=])) => {
                    if first {
                        parse_positional(input, key)
                    } else {
                        Err(input.error(format!(
                            "only the first argument may leave out its key; write \
                             `{key} = <value>`"
                        )))
                    }
                }
                _ => parse_pair(input),
            };
            first = false;
            match pair {
                Ok(arg) => args.push(arg),
                Err(error) => {
                    errors.push(error);
                    skip_to_comma(input)?;
                }
            }
            if input.is_empty() {
                break;
            }
            if let Err(error) = input.parse::<Token![,]>() {
                errors.push(error);
                skip_to_comma(input)?;
                // Consume the comma we stopped at, if any.
                let _: Option<Token![,]> = input.parse()?;
            }
        }
        Ok(())
    };
    if let Err(error) = parser.parse2(tokens) {
        errors.push(error);
    }
    args
}

fn parse_pair(input: ParseStream<'_>) -> syn::Result<Arg> {
    if !input.peek(Ident::peek_any) {
        return Err(input.error("expected an argument like `key = value`"));
    }
    let key = Ident::parse_any(input)?;
    let key_str = key.unraw().to_string();
    if !input.peek(Token![=]) {
        return Err(syn::Error::new(
            key.span(),
            format!("expected `{key_str} = <value>`"),
        ));
    }
    input.parse::<Token![=]>()?;
    if input.is_empty() || input.peek(Token![,]) {
        return Err(input.error(format!("expected a value after `{key_str} =`")));
    }
    let value: Expr = input.parse()?;
    Ok(Arg {
        key,
        key_str,
        value,
    })
}

/// A leading value without a key, such as the `2s` of `#[timeout(2s)]`.
fn parse_positional(input: ParseStream<'_>, key: &'static str) -> syn::Result<Arg> {
    let value: Expr = input.parse()?;
    Ok(Arg {
        key: Ident::new(key, value.span()),
        key_str: key.to_owned(),
        value,
    })
}

fn skip_to_comma(input: ParseStream<'_>) -> syn::Result<()> {
    input.step(|cursor| {
        let mut rest = *cursor;
        while let Some((tt, next)) = rest.token_tree() {
            if matches!(&tt, proc_macro2::TokenTree::Punct(punct) if punct.as_char() == ',') {
                break;
            }
            rest = next;
        }
        Ok(((), rest))
    })
}

/// Looks through invisible groups (from `macro_rules!`) and parentheses.
pub(crate) fn peel(expr: &Expr) -> &Expr {
    match expr {
        Expr::Group(group) => peel(&group.expr),
        Expr::Paren(paren) => peel(&paren.expr),
        _ => expr,
    }
}

/// Names what was written instead of the expected value.
pub(crate) fn what(expr: &Expr) -> String {
    match peel(expr) {
        Expr::Lit(lit) => match &lit.lit {
            Lit::Str(_) => "a string".to_owned(),
            Lit::Int(int) => format!("the integer `{int}`"),
            Lit::Float(float) => format!("the float `{float}`"),
            Lit::Bool(b) => format!("`{}`", b.value),
            Lit::Char(_) => "a character".to_owned(),
            _ => "a literal".to_owned(),
        },
        Expr::Unary(syn::ExprUnary {
            op: syn::UnOp::Neg(_),
            ..
        }) => "a negative number".to_owned(),
        Expr::Path(path) => {
            let text = path.to_token_stream().to_string().replace(' ', "");
            format!("`{text}`")
        }
        _ => "an expression".to_owned(),
    }
}

fn value<T>(arg: &Arg, value: T, span: Span) -> Value<T> {
    Value {
        value,
        key: arg.key.span(),
        span,
    }
}

/// A `u32` count.
fn count(arg: &Arg) -> syn::Result<Value<u32>> {
    let key = &arg.key_str;
    match peel(&arg.value) {
        Expr::Lit(syn::ExprLit {
            lit: Lit::Int(int), ..
        }) => {
            match int.suffix() {
                "" | "u32" => {}
                "ns" | "us" | "ms" | "s" | "m" | "h" => {
                    return Err(syn::Error::new(
                        int.span(),
                        format!(
                            "`{key}` is a count, not a duration: write `{key} = {}`",
                            int.base10_digits()
                        ),
                    ));
                }
                suffix => {
                    return Err(syn::Error::new(
                        int.span(),
                        format!("unexpected suffix `{suffix}`: `{key}` takes a plain integer"),
                    ));
                }
            }
            match int.base10_digits().parse::<u32>() {
                Ok(n) => Ok(value(arg, n, int.span())),
                Err(_) => Err(syn::Error::new(
                    int.span(),
                    format!("`{key}` is too large: at most {}", u32::MAX),
                )),
            }
        }
        Expr::Unary(syn::ExprUnary {
            op: syn::UnOp::Neg(_),
            ..
        }) => Err(syn::Error::new_spanned(
            &arg.value,
            format!("`{key}` cannot be negative"),
        )),
        other => Err(syn::Error::new_spanned(
            &arg.value,
            format!("expected an integer for `{key}`, found {}", what(other)),
        )),
    }
}

/// `rate = 100`: a count, with a hint for the ways people write rates.
fn rate(arg: &Arg) -> syn::Result<Value<u32>> {
    match peel(&arg.value) {
        Expr::Binary(_)
        | Expr::Lit(syn::ExprLit {
            lit: Lit::Str(_), ..
        }) => Err(syn::Error::new_spanned(
            &arg.value,
            format!(
                "expected a number of calls for `rate`, found {}; write the period apart, \
                 like `rate = 100, per = 1s`",
                what(&arg.value)
            ),
        )),
        _ => count(arg),
    }
}

/// An `f64`, written as a float or an integer literal.
fn number(arg: &Arg) -> syn::Result<Value<f64>> {
    let key = &arg.key_str;
    let (digits, suffix, span) = match peel(&arg.value) {
        Expr::Lit(syn::ExprLit {
            lit: Lit::Float(float),
            ..
        }) => (float.base10_digits(), float.suffix(), float.span()),
        Expr::Lit(syn::ExprLit {
            lit: Lit::Int(int), ..
        }) => (int.base10_digits(), int.suffix(), int.span()),
        Expr::Unary(syn::ExprUnary {
            op: syn::UnOp::Neg(_),
            ..
        }) => {
            return Err(syn::Error::new_spanned(
                &arg.value,
                format!("`{key}` cannot be negative"),
            ));
        }
        other => {
            return Err(syn::Error::new_spanned(
                &arg.value,
                format!("expected a number for `{key}`, found {}", what(other)),
            ));
        }
    };
    if !matches!(suffix, "" | "f64" | "f32") {
        return Err(syn::Error::new(
            span,
            format!("unexpected suffix `{suffix}`: `{key}` takes a plain number"),
        ));
    }
    match digits.parse::<f64>() {
        Ok(n) => Ok(value(arg, n, span)),
        Err(error) => Err(syn::Error::new(span, error)),
    }
}

fn boolean(arg: &Arg) -> syn::Result<Value<bool>> {
    match peel(&arg.value) {
        Expr::Lit(syn::ExprLit {
            lit: Lit::Bool(b), ..
        }) => Ok(value(arg, b.value, b.span)),
        other => Err(syn::Error::new_spanned(
            &arg.value,
            format!(
                "expected `true` or `false` for `{}`, found {}",
                arg.key_str,
                what(other)
            ),
        )),
    }
}

fn duration(arg: &Arg) -> syn::Result<Value<Duration>> {
    let parsed = duration::parse(&arg.key_str, &arg.value)?;
    Ok(value(arg, parsed, arg.value.span()))
}

/// A bare word out of a fixed set, like `backoff = linear`.
fn choice<T: Copy>(arg: &Arg, choices: &[(&str, T)]) -> syn::Result<Value<T>> {
    let key = &arg.key_str;
    let expected = choices
        .iter()
        .map(|(name, _)| format!("`{name}`"))
        .collect::<Vec<_>>()
        .join(", ");
    let found = match peel(&arg.value) {
        Expr::Path(path) if path.qself.is_none() => path.path.get_ident(),
        _ => None,
    };
    let Some(ident) = found else {
        return Err(syn::Error::new_spanned(
            &arg.value,
            format!(
                "expected one of {expected} for `{key}`, found {}",
                what(&arg.value)
            ),
        ));
    };
    let word = ident.unraw().to_string();
    match choices.iter().find(|(name, _)| *name == word) {
        Some((_, choice)) => Ok(value(arg, *choice, ident.span())),
        None => Err(syn::Error::new(
            ident.span(),
            format!("unknown `{key}` `{word}`; expected one of: {expected}"),
        )),
    }
}

/// What `fn_path` asks for, in its error message.
const PREDICATE: &str = "a function `fn(&E) -> bool`";
const RETRY_AFTER: &str = "a function `fn(&E) -> Option<Duration>`";
const FALLBACK_FN: &str = "an `async fn` taking the function's arguments and its error";

/// A path to a function, like `retry_if = errors::is_transient`.
fn fn_path(arg: &Arg, expected: &str) -> syn::Result<ExprPath> {
    match peel(&arg.value) {
        Expr::Path(path) => Ok(path.clone()),
        other => Err(syn::Error::new_spanned(
            &arg.value,
            format!(
                "expected a path to {expected} for `{}`, found {}",
                arg.key_str,
                what(other)
            ),
        )),
    }
}

/// `window = 100` counts calls; `window = 60s` (a duration) is a time window.
fn window(arg: &Arg) -> syn::Result<Value<Window>> {
    let is_duration = match peel(&arg.value) {
        Expr::Lit(syn::ExprLit {
            lit: Lit::Int(int), ..
        }) => !matches!(int.suffix(), "" | "u32"),
        Expr::Lit(syn::ExprLit {
            lit: Lit::Float(_) | Lit::Str(_),
            ..
        }) => true,
        _ => false,
    };
    if is_duration {
        let time = duration(arg)?;
        Ok(value(arg, Window::Time(time.value), time.span))
    } else {
        let calls = count(arg)?;
        Ok(value(arg, Window::Calls(calls.value), calls.span))
    }
}

fn name(arg: &Arg) -> syn::Result<LitStr> {
    match peel(&arg.value) {
        Expr::Lit(syn::ExprLit {
            lit: Lit::Str(lit), ..
        }) => Ok(lit.clone()),
        other => Err(syn::Error::new_spanned(
            &arg.value,
            format!(
                "expected a string for `name`, like `name = \"payments\"`, found {}",
                what(other)
            ),
        )),
    }
}

/// `crate = "path"`, or the path written bare.
fn crate_path(arg: &Arg) -> syn::Result<Path> {
    match peel(&arg.value) {
        Expr::Lit(syn::ExprLit {
            lit: Lit::Str(lit), ..
        }) => lit.parse::<Path>().map_err(|_| {
            syn::Error::new(
                lit.span(),
                format!(
                    "expected a path to the resil crate like `crate = \"::my_resil\"`, found {:?}",
                    lit.value()
                ),
            )
        }),
        Expr::Path(path) if path.qself.is_none() => Ok(path.path.clone()),
        other => Err(syn::Error::new_spanned(
            &arg.value,
            format!(
                "expected a path to the resil crate like `crate = \"::my_resil\"`, found {}",
                what(other)
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

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
            timeout = 60s,
            half_open_max = 2,
            success_threshold = 3,
            ignore = is_client_error,
        ));
        assert_eq!(errors, Vec::<String>::new());
        assert_eq!(args.threshold.unwrap().value, 5);
        assert_eq!(args.failure_rate.unwrap().value, 0.5);
        assert_eq!(args.window.unwrap().value, Window::Calls(20));
        assert_eq!(args.min_calls.unwrap().value, 10);
        assert_eq!(args.timeout.unwrap().value, Duration::from_secs(60));
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
}
