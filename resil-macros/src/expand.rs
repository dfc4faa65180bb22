//! Code generation: rewrites the body of a checked `async fn` into the stack
//! of policies around it.
//!
//! Input, for `#[retry] #[circuit_breaker] #[bulkhead]`:
//!
//! ```text
//! async fn f(client: &Client, req: Req) -> Result<T, E> { body }
//! ```
//!
//! Output:
//!
//! ```text
//! async fn f(client: &Client, req: Req) -> Result<T, E> {
//!     static __RESIL_RETRY_0: RetrySite = RetrySite::new(name, RetryConfig::DEFAULT...);
//!     static __RESIL_CIRCUIT_BREAKER_1: ...;
//!     static __RESIL_BULKHEAD_2: ...;
//!     let __resil_result = {
//!         let mut __resil_run = __RESIL_RETRY_0.get().start();
//!         loop {
//!             let req = clone_arg(&req);
//!             let __resil_attempt = attempt(&[("retry", ..), ..], __resil_run.attempt(),
//!                 __RESIL_CIRCUIT_BREAKER_1.get().call_site(
//!                     __RESIL_BULKHEAD_2.get().call_site(lift(anchor::<Result<T, E>, _>(async { body }))),
//!                     never,
//!                 ),
//!             ).await;
//!             match __resil_run.next(__resil_attempt, always, |e| describe!(e)) {
//!                 RetryStep::Done(r) => break r,
//!                 RetryStep::Retry(delay) => sleep(delay).await,
//!             }
//!         }
//!     };
//!     finish(__resil_result)
//! }
//! ```
//!
//! `attempt` runs each attempt (the whole call, without `#[retry]`) in a
//! tracing span; see `traced`.
//!
//! The body stays a plain (not `move`) `async` block awaited in place, so it
//! borrows the arguments: `&self`, `&mut self`, borrowed arguments, `?` and
//! early `return` behave as in the original function.

use std::time::Duration;

use proc_macro2::{Delimiter, Group, Ident, Literal, Span, TokenStream, TokenTree};
use quote::{ToTokens, format_ident, quote, quote_spanned};
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::visit::Visit;
use syn::{AttrStyle, FnArg, ItemFn, Pat, Path, ReturnType, Token, Type};

use crate::args::{
    BulkheadArgs, CircuitBreakerArgs, FallbackArgs, FallbackOn, Layer, RateLimitArgs, RetryArgs,
    TimeoutArgs, Value, Window,
};

pub(crate) fn expand(mut func: ItemFn, layers: &[Layer]) -> TokenStream {
    let shared_krate: Path = layers
        .iter()
        .find_map(|layer| layer.common().krate.clone())
        .unwrap_or_else(|| syn::parse_quote!(::resil));
    let krate = &shared_krate;
    let fn_name = func.sig.ident.unraw().to_string();

    let ReturnType::Type(_, ret) = &func.sig.output else {
        unreachable!("checked by item::check")
    };
    let ret = ret.clone();
    let ret_span = ret.span();

    // Owned arguments are cloned at the start of every attempt; the original
    // binding is then only borrowed, so its `mut` moves to the per-attempt copy.
    let has_retry = layers.iter().any(|layer| matches!(layer, Layer::Retry(_)));
    let clones = if has_retry {
        owned_bindings(&mut func)
            .into_iter()
            .map(|(mutability, ident)| {
                quote_spanned! {ident.span()=>
                    let #mutability #ident = #krate::__private::clone_arg(&#ident);
                }
            })
            .collect()
    } else {
        TokenStream::new()
    };

    let (outer_attrs, inner_attrs): (Vec<_>, Vec<_>) = func
        .attrs
        .iter()
        .partition(|attr| matches!(attr.style, AttrStyle::Outer));

    let block = &func.block;
    let body = if contains_impl_trait(&ret) {
        // `impl Trait` cannot be named in the anchor's turbofish.
        quote_spanned!(ret_span=> async #block)
    } else {
        quote_spanned!(ret_span=> #krate::__private::anchor::<#ret, _>(async #block))
    };
    let mut code = Code::Future(quote_spanned!(ret_span=> #krate::__private::lift(#body)));

    // A fallback gets the function's arguments; which of them it can take
    // as they are depends on the layers below it.
    let fallback_args = if layers.iter().any(|l| matches!(l, Layer::Fallback(_))) {
        fallback_arguments(&func)
    } else {
        Vec::new()
    };
    // Timeouts and fallbacks turn resil errors into `E` inside the stack;
    // they share one converter, made once and spanned over the return type
    // so that a missing `From<resil::Error>` is one error, reported there.
    let (start, end) = first_and_last_span(&ret);
    let converts = layers
        .iter()
        .any(|layer| matches!(layer, Layer::Timeout(_) | Layer::Fallback(_)));
    let convert = Ident::new("__resil_convert", Span::call_site());

    let mut statics = TokenStream::new();
    let mut retry_below = false;
    for (index, layer) in layers.iter().enumerate().rev() {
        let layer_krate = layer.common().krate.as_ref().unwrap_or(krate);
        let site = format_ident!("__RESIL_{}_{}", layer.kind().name().to_uppercase(), index);
        // A named site shares its policy; an unnamed one gets a policy of its
        // own, registered under the function's path.
        let (name, constructor) = match &layer.common().name {
            Some(name) => (name.to_token_stream(), format_ident!("new")),
            None => (
                quote!(::core::concat!(::core::module_path!(), "::", #fn_name)),
                format_ident!("unnamed"),
            ),
        };
        let private = quote!(#layer_krate::__private);
        code = match layer {
            Layer::Retry(args) => {
                let config = retry_config(&private, args);
                let policy = match crate::declared::site(
                    &mut statics,
                    &private,
                    layer,
                    &site,
                    &constructor,
                    &name,
                    config,
                ) {
                    crate::declared::Policy::Direct(policy) => policy,
                    crate::declared::Policy::Keyed { .. } => {
                        unreachable!("only breakers are keyed")
                    }
                };
                let retry_if = match &args.retry_if {
                    Some(path) => path.to_token_stream(),
                    None => quote!(#private::always),
                };
                let retry_after = match &args.retry_after {
                    Some(path) => path.to_token_stream(),
                    None => quote!(#private::no_retry_after),
                };
                retry_below = true;
                let attempt = traced(
                    &private,
                    layers,
                    &fn_name,
                    quote!(__resil_run.attempt()),
                    code.future(),
                );
                Code::Value(retry_loop(
                    &private,
                    &policy,
                    &retry_if,
                    &retry_after,
                    &clones,
                    attempt,
                ))
            }
            Layer::CircuitBreaker(args) => {
                let config = circuit_breaker_config(&private, args);
                let policy = crate::declared::site(
                    &mut statics,
                    &private,
                    layer,
                    &site,
                    &constructor,
                    &name,
                    config,
                );
                let ignore = match &args.ignore {
                    Some(path) => path.to_token_stream(),
                    None => quote!(#private::never),
                };
                let inner = code.future();
                Code::Future(policy.call(quote!(call_site(#inner, #ignore))))
            }
            Layer::Bulkhead(args) => {
                let config = bulkhead_config(&private, args);
                let policy = crate::declared::site(
                    &mut statics,
                    &private,
                    layer,
                    &site,
                    &constructor,
                    &name,
                    config,
                );
                let inner = code.future();
                Code::Future(policy.call(quote!(call_site(#inner))))
            }
            Layer::Timeout(args) => {
                let config = timeout_config(&private, args);
                statics.extend(quote! {
                    static #site: #private::TimeoutSite =
                        #private::TimeoutSite::#constructor(#name, #config);
                });
                crate::declared::register(&mut statics, &private, &site);
                let inner = code.future();
                Code::Future(quote!(#site.get().call_site(#inner, #convert)))
            }
            Layer::RateLimit(args) => {
                let config = rate_limit_config(&private, args);
                statics.extend(quote! {
                    static #site: #private::RateLimiterSite =
                        #private::RateLimiterSite::#constructor(#name, #config);
                });
                crate::declared::register(&mut statics, &private, &site);
                let inner = code.future();
                Code::Future(quote!(#site.get().call_site(#inner)))
            }
            Layer::Fallback(args) => Code::Value(fallback(
                &private,
                args,
                &fallback_args,
                retry_below,
                &ret,
                &convert,
                code.value(),
            )),
        };
    }

    // The `finish` call is spanned over the return type, so that an `E`
    // without `From<resil::Error>` is reported there, not on the attribute.
    let result = Ident::new("__resil_result", Span::call_site());
    let argument = spanned_call(
        quote!(::core::convert::identity),
        result.to_token_stream(),
        start,
        end,
    );
    let (finish, make_converter) = if converts {
        let make = spanned_call(
            quote!(#krate::__private::error_converter),
            TokenStream::new(),
            start,
            end,
        );
        (
            quote!(#krate::__private::finish_with(#argument, #convert)),
            quote!(let #convert = #make;),
        )
    } else {
        (
            spanned_call(quote!(#krate::__private::finish), argument, start, end),
            TokenStream::new(),
        )
    };
    let value = if has_retry {
        code.value()
    } else {
        let private = quote!(#krate::__private);
        Code::Future(traced(
            &private,
            layers,
            &fn_name,
            quote!(1u32),
            code.future(),
        ))
        .value()
    };
    let vis = &func.vis;
    let sig = &func.sig;
    quote! {
        #(#outer_attrs)*
        #vis #sig {
            #(#inner_attrs)*
            #statics
            #make_converter
            let #result = #value;
            #finish
        }
    }
}

/// An expression of type `Result<T, Failure<E>>`, or a future of one.
enum Code {
    Future(TokenStream),
    Value(TokenStream),
}

impl Code {
    fn future(self) -> TokenStream {
        match self {
            Code::Future(future) => future,
            Code::Value(value) => quote!(async { #value }),
        }
    }

    fn value(self) -> TokenStream {
        match self {
            Code::Future(future) => quote!(#future.await),
            Code::Value(value) => value,
        }
    }
}

fn retry_loop(
    private: &TokenStream,
    policy: &TokenStream,
    retry_if: &TokenStream,
    retry_after: &TokenStream,
    clones: &TokenStream,
    attempt: TokenStream,
) -> TokenStream {
    quote! {
        {
            let mut __resil_run = #policy.start();
            loop {
                #clones
                let __resil_attempt = #attempt.await;
                match __resil_run.next_hinted(
                    __resil_attempt,
                    #retry_if,
                    #retry_after,
                    |__resil_e| #private::describe!(__resil_e),
                ) {
                    #private::RetryStep::Done(__resil_r) => break __resil_r,
                    #private::RetryStep::Retry(__resil_delay) => {
                        #private::sleep(__resil_delay).await
                    }
                }
            }
        }
    }
}

/// The tracing hook: runs `future` (one attempt of the innermost enclosing
/// retry, or the whole call when there is no retry) in a span that names
/// every policy of the stack and the attempt number. Built by
/// `__private::attempt`, which is all that knows about `tracing`.
///
/// Output: `__private::attempt(&[("retry", "name"), ...], #attempt, #future)`
fn traced(
    private: &TokenStream,
    layers: &[Layer],
    fn_name: &str,
    attempt: TokenStream,
    future: TokenStream,
) -> TokenStream {
    let policies = layers.iter().map(|layer| {
        let kind = layer.kind().name();
        // A declared policy is labelled by its path: its registered name is
        // not a constant this `&'static` table can hold.
        let name = match (&layer.common().policy, &layer.common().name) {
            (Some(path), _) => quote!(::core::stringify!(#path)),
            (None, Some(name)) => name.to_token_stream(),
            (None, None) => quote!(::core::concat!(::core::module_path!(), "::", #fn_name)),
        };
        quote!((#kind, #name))
    });
    quote!(#private::attempt(&[#(#policies),*], #attempt, #future))
}

fn retry_config(private: &TokenStream, args: &RetryArgs) -> TokenStream {
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

fn circuit_breaker_config(private: &TokenStream, args: &CircuitBreakerArgs) -> TokenStream {
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
    setter(&mut config, "timeout", args.timeout, duration);
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

fn bulkhead_config(private: &TokenStream, args: &BulkheadArgs) -> TokenStream {
    let mut config = quote!(#private::BulkheadConfig::DEFAULT);
    setter(&mut config, "max_concurrent", args.max, u32_lit);
    setter(&mut config, "queue", args.queue, u32_lit);
    setter(&mut config, "wait", args.wait, duration);
    config
}

fn timeout_config(private: &TokenStream, args: &TimeoutArgs) -> TokenStream {
    let mut config = quote!(#private::TimeoutConfig::DEFAULT);
    setter(&mut config, "duration", args.duration, duration);
    config
}

fn rate_limit_config(private: &TokenStream, args: &RateLimitArgs) -> TokenStream {
    let mut config = quote!(#private::RateLimiterConfig::DEFAULT);
    setter(&mut config, "rate", args.rate, u32_lit);
    setter(&mut config, "per", args.per, duration);
    setter(&mut config, "burst", args.burst, u32_lit);
    setter(&mut config, "wait", args.wait, duration);
    config
}

/// One argument as the fallback gets it.
struct FallbackArg {
    /// `self` or the binding's name.
    name: String,
    /// Whether the body may consume it, so the fallback needs its own copy.
    owned: bool,
}

/// The function's arguments in order. `item::check_fallback` has made sure
/// each is `self` or a plain name.
fn fallback_arguments(func: &ItemFn) -> Vec<FallbackArg> {
    func.sig
        .inputs
        .iter()
        .filter_map(|arg| match arg {
            FnArg::Receiver(receiver) => Some(FallbackArg {
                name: "self".to_owned(),
                owned: match &receiver.kind {
                    syn::ReceiverKind::Reference(..) => false,
                    syn::ReceiverKind::Typed(_, ty) => !matches!(peel(ty), Type::Reference(_)),
                    _ => true,
                },
            }),
            FnArg::Typed(typed) => match &*typed.pat {
                Pat::Ident(pat) => Some(FallbackArg {
                    name: pat.ident.to_string(),
                    owned: !matches!(peel(&typed.ty), Type::Reference(_) | Type::ImplTrait(_)),
                }),
                _ => None,
            },
        })
        .collect()
}

fn name_ident(name: &str, span: Span) -> Ident {
    match name.strip_prefix("r#") {
        Some(raw) => Ident::new_raw(raw, span),
        None => Ident::new(name, span),
    }
}

// Input: `#[fallback(cached)] async fn f(&self, key: &str, req: Req) -> Result<T, E>`
// Output (the layers below as `inner`):
//
//     {
//         let __resil_fallback_2 = clone_fallback_arg(&req);
//         let __resil_outcome = inner;
//         match __resil_outcome {
//             Ok(value) => Ok(value),
//             Err(failure) => match fallback_error(failure, rejections_only, __resil_convert) {
//                 Ok(error) => fallback_done(
//                     fallback_future::<Result<T, E>, _>(cached(self, key, __resil_fallback_2, error))
//                         .await,
//                 ),
//                 Err(failure) => Err(failure),
//             },
//         }
//     }
//
// Owned arguments are copied before the call, as the body may consume them;
// a retry below leaves the originals alone (each attempt clones them), so
// then the fallback takes them as they are. The call is spanned on the
// fallback's path, so a signature that does not fit is reported there.
fn fallback(
    private: &TokenStream,
    args: &FallbackArgs,
    arguments: &[FallbackArg],
    retry_below: bool,
    ret: &Type,
    convert: &Ident,
    inner: TokenStream,
) -> TokenStream {
    let path = args.path.as_ref().expect("checked by validate::fallback");
    let span = path.span();
    let mut copies = TokenStream::new();
    let passed: Vec<Ident> = arguments
        .iter()
        .enumerate()
        .map(|(index, arg)| {
            if arg.owned && !retry_below {
                let original = name_ident(&arg.name, Span::call_site());
                let copy = format_ident!("__resil_fallback_{}", index, span = span);
                copies.extend(quote! {
                    let #copy = #private::clone_fallback_arg(&#original);
                });
                copy
            } else {
                name_ident(&arg.name, span)
            }
        })
        .collect();
    let rejections_only = matches!(args.on.map(|on| on.value), Some(FallbackOn::Rejections));
    let expected = if contains_impl_trait(ret) {
        quote!(_)
    } else {
        ret.to_token_stream()
    };
    let error = Ident::new("__resil_error", span);
    let call = quote_spanned! {span=>
        #private::fallback_done(
            #private::fallback_future::<#expected, _>(#path(#(#passed,)* #error)).await
        )
    };
    quote! {
        {
            #copies
            let __resil_outcome = #inner;
            match __resil_outcome {
                ::core::result::Result::Ok(__resil_value) => ::core::result::Result::Ok(__resil_value),
                ::core::result::Result::Err(__resil_failure) => {
                    match #private::fallback_error(__resil_failure, #rejections_only, #convert) {
                        ::core::result::Result::Ok(#error) => #call,
                        ::core::result::Result::Err(__resil_failure) => {
                            ::core::result::Result::Err(__resil_failure)
                        }
                    }
                }
            }
        }
    }
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

/// The bindings of owned arguments (not `self`, references or `impl Trait`),
/// each with the `mut` taken off the signature's pattern.
fn owned_bindings(func: &mut ItemFn) -> Vec<(Option<Token![mut]>, Ident)> {
    let mut bindings = Vec::new();
    for arg in &mut func.sig.inputs {
        let FnArg::Typed(arg) = arg else { continue };
        if matches!(peel(&arg.ty), Type::Reference(_) | Type::ImplTrait(_)) {
            continue;
        }
        collect_bindings(&mut arg.pat, &mut bindings);
    }
    bindings
}

fn collect_bindings(pat: &mut Pat, out: &mut Vec<(Option<Token![mut]>, Ident)>) {
    match pat {
        Pat::Ident(pat) => {
            // A `ref` binding borrows from the argument, which outlives the loop.
            if pat.by_ref.is_none() {
                out.push((pat.mutability.take(), pat.ident.clone()));
            }
            if let Some((_, subpat)) = &mut pat.subpat {
                collect_bindings(subpat, out);
            }
        }
        Pat::Tuple(pat) => pat.elems.iter_mut().for_each(|p| collect_bindings(p, out)),
        Pat::TupleStruct(pat) => pat.elems.iter_mut().for_each(|p| collect_bindings(p, out)),
        Pat::Slice(pat) => pat.elems.iter_mut().for_each(|p| collect_bindings(p, out)),
        Pat::Struct(pat) => pat
            .fields
            .iter_mut()
            .for_each(|field| collect_bindings(&mut field.pat, out)),
        Pat::Reference(pat) => collect_bindings(&mut pat.pat, out),
        Pat::Paren(pat) => collect_bindings(&mut pat.pat, out),
        Pat::Type(pat) => collect_bindings(&mut pat.pat, out),
        _ => {}
    }
}

fn first_and_last_span(ty: &Type) -> (Span, Span) {
    let mut spans = ty.to_token_stream().into_iter().map(|tt| tt.span());
    let start = spans.next().unwrap_or_else(Span::call_site);
    (start, spans.last().unwrap_or(start))
}

/// `path(args)` spanned from `start` to `end`: rustc joins the span of an
/// expression's first token to its last one's, so the call covers the whole
/// return type (the trick of `syn::Error::new_spanned`).
fn spanned_call(path: TokenStream, args: TokenStream, start: Span, end: Span) -> TokenStream {
    let mut call: TokenStream = path
        .into_iter()
        .map(|mut token| {
            token.set_span(start);
            token
        })
        .collect();
    let mut args = Group::new(Delimiter::Parenthesis, args);
    args.set_span(end);
    call.extend([TokenTree::Group(args)]);
    call
}

fn peel(ty: &Type) -> &Type {
    match ty {
        Type::Group(group) => peel(&group.elem),
        Type::Paren(paren) => peel(&paren.elem),
        _ => ty,
    }
}

fn contains_impl_trait(ty: &Type) -> bool {
    struct Finder(bool);
    impl Visit<'_> for Finder {
        fn visit_type_impl_trait(&mut self, _: &syn::TypeImplTrait) {
            self.0 = true;
        }
    }
    let mut finder = Finder(false);
    finder.visit_type(ty);
    finder.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::Kind;
    use crate::errors::Errors;

    fn expand_str(stack: &[(Kind, TokenStream)], func: TokenStream) -> String {
        let mut errors = Errors::default();
        let layers: Vec<_> = stack
            .iter()
            .map(|(kind, args)| Layer::parse(*kind, args.clone(), &mut errors))
            .collect();
        assert!(errors.is_empty());
        let func: ItemFn = syn::parse2(func).unwrap();
        let out = expand(func, &layers);
        // The output must be a valid function.
        syn::parse2::<ItemFn>(out.clone()).unwrap();
        out.to_string()
    }

    #[test]
    fn full_stack() {
        let out = expand_str(
            &[
                (
                    Kind::Retry,
                    quote!(
                        max = 3,
                        backoff = exponential,
                        initial = 100ms,
                        jitter = full
                    ),
                ),
                (
                    Kind::CircuitBreaker,
                    quote!(name = "osteon", threshold = 5, timeout = 60s),
                ),
                (
                    Kind::Bulkhead,
                    quote!(name = "osteon", max = 10, queue = 5, wait = 5s),
                ),
            ],
            quote! {
                async fn outline(client: &Client, req: OutlineRequest) -> Result<Outline, OsteonError> {
                    client.outline(req).await
                }
            },
        );
        for expected in [
            "static __RESIL_RETRY_0 : :: resil :: __private :: RetrySite = :: resil :: __private :: RetrySite :: unnamed (:: core :: concat ! (:: core :: module_path ! () , \"::\" , \"outline\") , :: resil :: __private :: RetryConfig :: DEFAULT . max_attempts (3) . backoff (:: resil :: __private :: Backoff :: Exponential) . initial (:: core :: time :: Duration :: from_nanos (100000000)) . jitter (:: resil :: __private :: Jitter :: Full)) ;",
            "static __RESIL_CIRCUIT_BREAKER_1 : :: resil :: __private :: CircuitBreakerSite = :: resil :: __private :: CircuitBreakerSite :: new (\"osteon\" , :: resil :: __private :: CircuitBreakerConfig :: DEFAULT . threshold (5) . timeout (:: core :: time :: Duration :: from_nanos (60000000000))) ;",
            "static __RESIL_BULKHEAD_2 : :: resil :: __private :: BulkheadSite = :: resil :: __private :: BulkheadSite :: new (\"osteon\" , :: resil :: __private :: BulkheadConfig :: DEFAULT . max_concurrent (10) . queue (5) . wait (:: core :: time :: Duration :: from_nanos (5000000000))) ;",
            "let req = :: resil :: __private :: clone_arg (& req) ;",
            "__RESIL_CIRCUIT_BREAKER_1 . get () . call_site (__RESIL_BULKHEAD_2 . get () . call_site (:: resil :: __private :: lift (:: resil :: __private :: anchor :: < Result < Outline , OsteonError > , _ > (async { client . outline (req) . await }))) , :: resil :: __private :: never)) . await",
            "let __resil_attempt = :: resil :: __private :: attempt (& [(\"retry\" , :: core :: concat ! (:: core :: module_path ! () , \"::\" , \"outline\")) , (\"circuit_breaker\" , \"osteon\") , (\"bulkhead\" , \"osteon\")] , __resil_run . attempt () , __RESIL_CIRCUIT_BREAKER_1",
            ":: resil :: __private :: always",
            ":: resil :: __private :: finish (:: core :: convert :: identity (__resil_result))",
        ] {
            assert!(out.contains(expected), "missing\n{expected}\nin\n{out}");
        }
        assert!(!out.contains("clone_arg (& client)"), "{out}");
    }

    #[test]
    fn no_retry_no_loop_no_clones() {
        let out = expand_str(
            &[(Kind::Bulkhead, quote!())],
            quote!(
                async fn f(req: Req) -> Result<(), E> {
                    Ok(())
                }
            ),
        );
        assert!(!out.contains("loop"), "{out}");
        assert!(!out.contains("clone_arg"), "{out}");
        assert!(
            out.contains("let __resil_result = :: resil :: __private :: attempt (& [(\"bulkhead\" , :: core :: concat ! (:: core :: module_path ! () , \"::\" , \"f\"))] , 1u32 , __RESIL_BULKHEAD_0 . get () . call_site"),
            "{out}"
        );
    }

    #[test]
    fn clones_owned_bindings_only() {
        let out = expand_str(
            &[(Kind::Retry, quote!())],
            quote! {
                async fn f(
                    &mut self,
                    a: &str,
                    mut b: String,
                    (c, ref d): (u8, u8),
                    Wrapper { inner: mut e }: Wrapper,
                    f: impl Fn(),
                    _: u8,
                ) -> Result<(), E> { Ok(()) }
            },
        );
        for expected in [
            "let mut b = :: resil :: __private :: clone_arg (& b)",
            "let c = :: resil :: __private :: clone_arg (& c)",
            "let mut e = :: resil :: __private :: clone_arg (& e)",
            // `mut` moved off the signature.
            "(& mut self , a : & str , b : String , (c , ref d) : (u8 , u8) , Wrapper { inner : e } : Wrapper",
        ] {
            assert!(out.contains(expected), "missing\n{expected}\nin\n{out}");
        }
        for unexpected in ["(& a)", "(& d)", "(& f)", "(& self)", "(& _)"] {
            assert!(
                !out.contains(unexpected),
                "unexpected {unexpected} in\n{out}"
            );
        }
    }

    #[test]
    fn default_name_and_crate_override() {
        let out = expand_str(
            &[
                (Kind::CircuitBreaker, quote!(crate = "::renamed")),
                (Kind::Bulkhead, quote!()),
            ],
            quote!(
                pub(crate) async fn r#get() -> Result<(), E> {
                    Ok(())
                }
            ),
        );
        assert!(out.contains("\"::\" , \"get\""), "{out}");
        assert!(!out.contains(":: resil ::"), "{out}");
        assert!(
            out.contains(":: renamed :: __private :: BulkheadSite"),
            "{out}"
        );
        assert!(out.starts_with("pub (crate) async fn r#get"), "{out}");
    }

    #[test]
    fn impl_trait_return_skips_anchor() {
        let out = expand_str(
            &[(Kind::Retry, quote!())],
            quote!(
                async fn f() -> Result<impl Sized, E> {
                    Ok(1)
                }
            ),
        );
        assert!(!out.contains("anchor"), "{out}");
        assert!(out.contains("lift (async { Ok (1) })"), "{out}");
    }

    #[test]
    fn nested_retries_and_inner_attrs() {
        let out = expand_str(
            &[
                (Kind::CircuitBreaker, quote!()),
                (Kind::Retry, quote!(retry_if = is_transient)),
                (Kind::Retry, quote!(max = 2)),
            ],
            quote!(
                #[doc = "x"]
                async fn f(x: u8) -> Result<(), E> {
                    #![allow(unused)]
                    Ok(())
                }
            ),
        );
        assert!(
            out.starts_with("# [doc = \"x\"] async fn f (x : u8)"),
            "{out}"
        );
        assert!(out.contains("{ # ! [allow (unused)] static"), "{out}");
        assert!(out.contains("__RESIL_RETRY_1"), "{out}");
        assert!(out.contains("__RESIL_RETRY_2"), "{out}");
        assert!(
            out.contains(
                "let __resil_result = __RESIL_CIRCUIT_BREAKER_0 . get () . call_site (async {"
            ),
            "{out}"
        );
        assert!(out.contains(", is_transient ,"), "{out}");
        assert_eq!(out.matches("loop").count(), 2, "{out}");
    }

    #[test]
    fn new_layers_and_keys() {
        let out = expand_str(
            &[
                (Kind::Fallback, quote!(cached, on = rejections)),
                (Kind::Retry, quote!(max_elapsed = 10s, retry_after = hint)),
                (
                    Kind::CircuitBreaker,
                    quote!(window = 60s, slow_call = 2s, slow_rate = 0.5),
                ),
                (Kind::Timeout, quote!(2s)),
                (
                    Kind::RateLimit,
                    quote!(name = "sms", rate = 10, per = 1s, burst = 2, wait = 5ms),
                ),
            ],
            quote!(
                async fn f(&self, key: &str, req: Req) -> Result<u8, E> {
                    Ok(1)
                }
            ),
        );
        for expected in [
            ". max_elapsed (:: core :: time :: Duration :: from_nanos (10000000000))",
            ". time_window (:: core :: time :: Duration :: from_nanos (60000000000)) . slow_call",
            ". slow_rate (0.5f64)",
            ":: resil :: __private :: TimeoutSite :: unnamed",
            ":: resil :: __private :: RateLimiterSite :: new (\"sms\" , :: resil :: __private :: \
             RateLimiterConfig :: DEFAULT . rate (10) . per",
            "let __resil_convert = :: resil :: __private :: error_converter ()",
            "__RESIL_TIMEOUT_3 . get () . call_site (",
            ", __resil_convert)",
            "next_hinted (__resil_attempt , :: resil :: __private :: always , hint ,",
            "fallback_error (__resil_failure , true , __resil_convert)",
            "fallback_future :: < Result < u8 , E > , _ > (cached (self , key , req , __resil_error))",
            "finish_with (:: core :: convert :: identity (__resil_result) , __resil_convert)",
        ] {
            assert!(out.contains(expected), "missing\n{expected}\nin\n{out}");
        }
        // The retry below the fallback keeps `req` intact: no extra copy.
        assert!(!out.contains("clone_fallback_arg"), "{out}");
    }

    #[test]
    fn a_fallback_without_a_retry_below_copies_owned_arguments() {
        let out = expand_str(
            &[(Kind::Fallback, quote!(cached)), (Kind::Retry, quote!())],
            quote!(
                async fn f(key: &str, req: Req) -> Result<u8, E> {
                    Ok(1)
                }
            ),
        );
        assert!(!out.contains("clone_fallback_arg"), "{out}");
        let out = expand_str(
            &[(Kind::Retry, quote!()), (Kind::Fallback, quote!(cached))],
            quote!(
                async fn f(key: &str, mut req: Req, f: impl Fn()) -> Result<u8, E> {
                    Ok(1)
                }
            ),
        );
        assert!(
            out.contains(
                "let __resil_fallback_1 = :: resil :: __private :: clone_fallback_arg (& req) ;"
            ),
            "{out}"
        );
        assert!(
            out.contains("cached (key , __resil_fallback_1 , f , __resil_error)"),
            "{out}"
        );
        assert!(
            !out.contains("error_converter") || out.contains("finish_with"),
            "{out}"
        );
    }

    #[test]
    fn multiplier_and_rates_are_f64() {
        let out = expand_str(
            &[
                (Kind::Retry, quote!(multiplier = 3, retry_rejections = true)),
                (
                    Kind::CircuitBreaker,
                    quote!(failure_rate = 0.5, window = 20, min_calls = 4),
                ),
            ],
            quote!(
                async fn f() -> Result<(), E> {
                    Ok(())
                }
            ),
        );
        assert!(
            out.contains(". multiplier (3f64) . retry_rejections (true)"),
            "{out}"
        );
        assert!(
            out.contains(". failure_rate (0.5f64) . window (20) . min_calls (4)"),
            "{out}"
        );
    }
}
