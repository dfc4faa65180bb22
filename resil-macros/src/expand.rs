//! Code generation: rewrites the body of a checked `async fn` into the stack
//! of policies around it.
//!
//! Input, for `#[retry] #[circuit_breaker] #[bulkhead]`:
//!
//! ```text
//! async fn f(client: &Client, req: Req) -> Result<T, E> { body }
//! ```
//!
//! Output (simplified):
//!
//! ```text
//! async fn f(client: &Client, req: Req) -> Result<T, E> {
//!     static __RESIL_RETRY_0: RetrySite = RetrySite::new(name, RetryConfig::DEFAULT...);
//!     static __RESIL_CIRCUIT_BREAKER_1: ...;
//!     static __RESIL_BULKHEAD_2: ...;
//!     let __resil_convert = error_converter();   // `E::from`
//!     done({
//!         let mut __resil_run = __RESIL_RETRY_0.get().start();
//!         let (result, _) = loop {
//!             let req = clone_arg(&req);
//!             let __resil_span = attempt_span(&[("retry", ..), ..], __resil_run.attempt(), None);
//!             let (attempt, rejection) = '__resil_scope_0: {
//!                 (
//!                     {
//!                         let permit = match breaker.try_enter() / enter_slow() {
//!                             Ok(permit) => permit,
//!                             Err(refusal) => break '__resil_scope_0
//!                                 (Err(__resil_convert(refusal)), Rejection::of(&refusal)),
//!                         };
//!                         let result = {
//!                             let slot = /* the same, for the bulkhead */;
//!                             traced(&__resil_span, pin!(anchor::<Result<T, E>, _>(async { body }))).await
//!                         };
//!                         settle(permit, &result, never);
//!                         result
//!                     },
//!                     Rejection::new(),
//!                 )
//!             };
//!             match attempt {
//!                 Ok(value) => { __resil_run.succeeded(); break (Ok(value), rejection) }
//!                 Err(error) => match __resil_run.after_failure(error, rejection, always, ..) {
//!                     RetryStep::Done(error) => break (Err(error), rejection),
//!                     RetryStep::Retry(delay) => sleep(delay).await,
//!                 },
//!             }
//!         };
//!         result
//!     }, &__resil_convert)
//! }
//! ```
//!
//! Every layer passes the body's own `Result<T, E>` on; a refusal becomes
//! `E` where it happens and jumps to the nearest layer that asks whether
//! an error was one (see `Scopes`). The body and the slow entries run in
//! the attempt's tracing span, when a subscriber records it.
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
use syn::{AttrStyle, FnArg, ItemFn, Lifetime, Pat, Path, ReturnType, Token, Type};

use crate::args::{
    BulkheadArgs, CircuitBreakerArgs, FallbackArgs, FallbackOn, Layer, RateLimitArgs, RetryArgs,
    TimeoutArgs, Value, Window,
};

/// Whether the generated code opens `resil.attempt` spans: the `spans`
/// feature, which `resil`'s `spans` feature turns on here and in the
/// runtime alike. Without it the code has no trace of them: even a span
/// that is never made costs every call (measured).
pub(crate) const SPANS: bool = cfg!(feature = "spans");

pub(crate) fn expand(func: ItemFn, layers: &[Layer]) -> TokenStream {
    expand_with(func, layers, SPANS)
}

pub(crate) fn expand_with(mut func: ItemFn, layers: &[Layer], spans: bool) -> TokenStream {
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
    let span = Ident::new("__resil_span", Span::call_site());
    let private_root = quote!(#krate::__private);
    // The body is polled in the attempt's span when a subscriber records
    // it: the span moves into a wrapper that polls the body through
    // `Pin<&mut _>` (pinned where it is made, the body is not copied).
    // Without a span, nothing wraps the body: the wrapper, even unused,
    // would cost every call (measured at several nanoseconds).
    let mut code = if spans {
        quote! {
            {
                let __resil_body = ::core::pin::pin!(#body);
                match #span {
                    ::core::option::Option::None => __resil_body.await,
                    ::core::option::Option::Some(__resil_span) => {
                        #private_root::traced(__resil_span, __resil_body).await
                    }
                }
            }
        }
    } else {
        quote!(#body.await)
    };

    // A fallback gets the function's arguments; which of them it can take
    // as they are depends on the layers below it.
    let fallback_args = if layers.iter().any(|l| matches!(l, Layer::Fallback(_))) {
        fallback_arguments(&func)
    } else {
        Vec::new()
    };
    // Every policy's refusal becomes the function's `E`, through one
    // converter made once and spanned over the return type, so that a
    // missing `From<resil::Error>` is one error, reported there.
    let (start, end) = first_and_last_span(&ret);
    let convert = Ident::new("__resil_convert", Span::call_site());
    // Only `E` matters to the converter: `impl Trait` (which a turbofish
    // cannot name) stands aside as `()`.
    let ret_for_error = without_impl_trait(&ret);
    let mut scopes = Scopes::new(layers, spans);

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
        let decl = SiteDecl {
            private: &private,
            layer,
            site: &site,
            constructor: &constructor,
            name: &name,
        };
        let cx = Layering {
            private: &private,
            convert: &convert,
            index,
        };
        code = match layer {
            Layer::Retry(args) => {
                let config = retry_config(&private, args);
                let policy = decl.policy(&mut statics, config);
                let retry_if = match &args.retry_if {
                    Some(path) => path.to_token_stream(),
                    None => quote!(#private::always),
                };
                let retry_after = match &args.retry_after {
                    Some(path) => path.to_token_stream(),
                    None => quote!(#private::no_retry_after),
                };
                retry_below = true;
                // A retry inside another one opens its spans inside the
                // outer attempt's.
                let span_of_attempt = match scopes.span_expr(&private, index) {
                    Some(parent) => {
                        let made = attempt_span(
                            &private,
                            layers,
                            &fn_name,
                            quote!(__resil_run.attempt()),
                            parent,
                        );
                        quote!(let #span: #private::AttemptSpan = #made;)
                    }
                    None => TokenStream::new(),
                };
                let attempt = scopes.catch(&private, index, code);
                let outcome = retry_loop(
                    &private,
                    &policy,
                    [&retry_if, &retry_after],
                    &clones,
                    span_of_attempt,
                    attempt,
                );
                scopes.pass_on(index, outcome)
            }
            Layer::CircuitBreaker(args) => {
                let config = circuit_breaker_config(&private, args);
                let policy = decl.policy(&mut statics, config);
                let ignore = match &args.ignore {
                    Some(path) => path.to_token_stream(),
                    None => quote!(#private::never),
                };
                let breaker = format_ident!("__resil_breaker_{}", index);
                let refused = scopes.refuse(&cx, quote!(#breaker.refusal_error(__resil_refusal)));
                let slow = scopes.traced_entry(&private, index, quote!(#breaker.enter_slow()));
                circuit_breaker(&cx, &policy, &ignore, [refused, slow], code)
            }
            Layer::Bulkhead(args) => {
                let config = bulkhead_config(&private, args);
                let policy = decl.policy(&mut statics, config);
                let own = format_ident!("__resil_bulkhead_{}", index);
                let refused = scopes.refuse(&cx, quote!(__resil_refusal));
                let slow = scopes.traced_entry(&private, index, quote!(#own.enter_slow()));
                bulkhead(&cx, &policy, [refused, slow], code)
            }
            Layer::Timeout(args) => {
                let config = timeout_config(&private, args);
                decl.plain(&mut statics, "TimeoutSite", config);
                // The layers below run in a future of their own, which the
                // timeout races; their refusals come out of it tagged.
                let inner = scopes.catch(&private, index, code);
                let outcome = quote! {
                    #site
                        .get()
                        .run(async { #inner }, |__resil_e| #private::convert!(#convert, __resil_e))
                        .await
                };
                scopes.pass_on(index, outcome)
            }
            Layer::RateLimit(args) => {
                let config = rate_limit_config(&private, args);
                decl.plain(&mut statics, "RateLimiterSite", config);
                let refused = scopes.refuse(&cx, quote!(__resil_refusal));
                quote! {
                    {
                        if let ::core::result::Result::Err(__resil_refusal) =
                            #site.get().acquire().await
                        {
                            #refused
                        }
                        #code
                    }
                }
            }
            Layer::Fallback(args) => {
                let inner = scopes.catch(&private, index, code);
                fallback(&private, args, &fallback_args, retry_below, &ret, inner)
            }
        };
    }

    // The converter is made by a call spanned over the return type, so
    // that an `E` without `From<resil::Error>` is reported there, not on
    // the attribute.
    let make_converter = spanned_call(
        quote!(#krate::__private::error_converter),
        respanned(
            quote!(::core::marker::PhantomData::<#ret_for_error>),
            start,
            end,
        ),
        start,
        end,
    );
    // Without a retry, the whole call is one attempt, with one span; with
    // one, each retry loop makes a span per attempt.
    let top_span = if has_retry || !spans {
        TokenStream::new()
    } else {
        let top_span = attempt_span(
            &private_root,
            layers,
            &fn_name,
            quote!(1u32),
            quote!(&#private_root::NO_SPAN),
        );
        quote!(let #span: #krate::__private::AttemptSpan = #top_span;)
    };
    let vis = &func.vis;
    let sig = &func.sig;
    quote! {
        #(#outer_attrs)*
        #vis #sig {
            #(#inner_attrs)*
            #statics
            let #convert = #make_converter;
            #top_span
            #code
        }
    }
}

/// How a layer's `static` site is named and made.
struct SiteDecl<'a> {
    private: &'a TokenStream,
    layer: &'a Layer,
    site: &'a Ident,
    constructor: &'a Ident,
    name: &'a TokenStream,
}

impl SiteDecl<'_> {
    /// A policy that can also be declared by path or picked by a key (see
    /// `declared::site`): an expression of it.
    fn policy(&self, statics: &mut TokenStream, config: TokenStream) -> TokenStream {
        crate::declared::site(
            statics,
            self.private,
            self.layer,
            self.site,
            self.constructor,
            self.name,
            config,
        )
        .expr()
    }

    /// A `static` of `site_type`, registered for the start-up walk.
    fn plain(&self, statics: &mut TokenStream, site_type: &str, config: TokenStream) {
        let SiteDecl {
            private,
            site,
            constructor,
            name,
            ..
        } = self;
        let site_type = Ident::new(site_type, Span::call_site());
        statics.extend(quote! {
            static #site: #private::#site_type = #private::#site_type::#constructor(#name, #config);
        });
        crate::declared::register(statics, private, site);
    }
}

/// What a layer's code needs to know of where it is.
struct Layering<'a> {
    private: &'a TokenStream,
    /// `__resil_convert`: `E::from` for `resil::Error`.
    convert: &'a Ident,
    index: usize,
}

/// Where a policy's refusal goes.
///
/// Every layer passes the body's own `Result<T, E>` on. A refusal becomes
/// `E` where it happens and jumps, as `(Err(e), Rejection::of(&refusal))`,
/// to the nearest layer above that asks whether an error was a refusal:
/// a retry (`retry_rejections`, the refusal's `retry_after`), a fallback
/// (`on = rejections`) or a timeout (whose layers below run in a future of
/// their own, so the jump must end there; the timeout passes it on). The
/// jump leaves every circuit breaker and bulkhead in between, whose permits
/// are dropped unsettled: a refusal is nobody's failure. With nothing above
/// that asks, a refusal returns from the function.
///
/// Nothing is kept across the body's `.await` to say whether the error
/// was a refusal: state that lives across an await costs every call,
/// measured at several nanoseconds, where a jump costs only the call that
/// is refused.
struct Scopes {
    /// For each layer, the nearest layer above it that catches refusals.
    catcher: Vec<Option<usize>>,
    /// For each layer, whether it runs inside an attempt's span.
    in_span: Vec<bool>,
    /// Whether the code opens spans at all.
    spans: bool,
    /// Catchers that some refusal below jumps to.
    caught: Vec<bool>,
}

impl Scopes {
    fn new(layers: &[Layer], spans: bool) -> Self {
        let has_retry = layers.iter().any(|layer| matches!(layer, Layer::Retry(_)));
        let mut catcher = Vec::with_capacity(layers.len());
        let mut in_span = Vec::with_capacity(layers.len());
        let mut nearest = None;
        let mut spanned = !has_retry;
        for (index, layer) in layers.iter().enumerate() {
            catcher.push(nearest);
            in_span.push(spanned);
            if matches!(
                layer,
                Layer::Retry(_) | Layer::Fallback(_) | Layer::Timeout(_)
            ) {
                nearest = Some(index);
            }
            if matches!(layer, Layer::Retry(_)) {
                spanned = true;
            }
        }
        Self {
            catcher,
            in_span,
            spans,
            caught: vec![false; layers.len()],
        }
    }

    /// `&__resil_span`, or no span outside every attempt; `None` when the
    /// code opens no spans.
    fn span_expr(&self, private: &TokenStream, index: usize) -> Option<TokenStream> {
        if !self.spans {
            None
        } else if self.in_span[index] {
            Some(quote!(&__resil_span))
        } else {
            Some(quote!(&#private::NO_SPAN))
        }
    }

    /// `entry` (a future), awaited in the attempt's span if there is one.
    fn traced_entry(&self, private: &TokenStream, index: usize, entry: TokenStream) -> TokenStream {
        match self.span_expr(private, index) {
            Some(span) => quote!(#private::traced_by_ref(#span, ::core::pin::pin!(#entry)).await),
            None => quote!(#entry.await),
        }
    }

    /// The statement that sends a refusal on from layer `cx.index`;
    /// `error` makes it a `resil::Error` (from `__resil_refusal`).
    fn refuse(&mut self, cx: &Layering<'_>, error: TokenStream) -> TokenStream {
        let Layering {
            private, convert, ..
        } = cx;
        match self.catcher[cx.index] {
            Some(catcher) => {
                self.caught[catcher] = true;
                let label = scope_label(catcher);
                quote! {
                    {
                        let __resil_error = #error;
                        let __resil_rejection = #private::Rejection::of(&__resil_error);
                        break #label (
                            ::core::result::Result::Err(#private::convert!(#convert, __resil_error)),
                            __resil_rejection,
                        );
                    }
                }
            }
            None => quote! {
                {
                    return ::core::result::Result::Err(#private::convert!(#convert, #error));
                }
            },
        }
    }

    /// The layers below catcher `index`, as a `(Result<T, E>, Rejection)`:
    /// refusals jump to its end.
    fn catch(&self, private: &TokenStream, index: usize, inner: TokenStream) -> TokenStream {
        if self.caught[index] {
            let label = scope_label(index);
            quote! {
                #label: {
                    (#inner, #private::Rejection::new())
                }
            }
        } else {
            quote!((#inner, #private::Rejection::new()))
        }
    }

    /// A catcher's `(Result<T, E>, Rejection)` as the `Result<T, E>` of
    /// the layers above: a refusal it did not answer jumps on.
    fn pass_on(&mut self, index: usize, outcome: TokenStream) -> TokenStream {
        match self.catcher[index] {
            Some(catcher) => {
                self.caught[catcher] = true;
                let label = scope_label(catcher);
                quote! {
                    {
                        let (__resil_outcome, __resil_rejection) = #outcome;
                        if __resil_rejection.is_set() {
                            break #label (__resil_outcome, __resil_rejection);
                        }
                        __resil_outcome
                    }
                }
            }
            // Nothing above asks: a refusal leaves the function, past the
            // guards in between (their permits are dropped unsettled).
            None => quote! {
                {
                    let (__resil_outcome, __resil_rejection) = #outcome;
                    if __resil_rejection.is_set() {
                        return __resil_outcome;
                    }
                    __resil_outcome
                }
            },
        }
    }
}

fn scope_label(index: usize) -> Lifetime {
    Lifetime::new(&format!("'__resil_scope_{index}"), Span::call_site())
}

// Every guard's code is an expression of the function's own
// `Result<T, E>`, evaluated in place inside the function's `async` body:
// a policy's entry and exit are statements around the layers below, not
// a future wrapping theirs, so the result is never re-wrapped on its way
// out and the whole stack is one small state machine.

// Input: `#[circuit_breaker]` over `inner`.
// Output:
//
//     {
//         let __resil_breaker_1 = POLICY;
//         let __resil_permit = match match __resil_breaker_1.try_enter() {
//             Some(permit) => Ok(permit),
//             None => traced_by_ref(&__resil_span, pin!(__resil_breaker_1.enter_slow())).await,
//         } {
//             Ok(permit) => permit,
//             Err(__resil_refusal) => REFUSED,   // see `Scopes`: the error is
//         };                                    // `refusal_error(__resil_refusal)`
//         let __resil_result = inner;
//         settle(__resil_permit, &__resil_result, ignore);
//         __resil_result
//     }
//
// The entry is unpacked by a `let`, not by a `match` around `inner`: a
// `match`'s scrutinee lives until the match ends, so the whole
// `Result<permit, Error>` would be kept in the future across `inner`'s
// awaits.
fn circuit_breaker(
    cx: &Layering<'_>,
    policy: &TokenStream,
    ignore: &TokenStream,
    [refused, slow]: [TokenStream; 2],
    inner: TokenStream,
) -> TokenStream {
    let private = cx.private;
    let breaker = format_ident!("__resil_breaker_{}", cx.index);
    quote! {
        {
            let #breaker = #policy;
            let __resil_permit = match match #breaker.try_enter() {
                ::core::option::Option::Some(__resil_permit) => ::core::result::Result::Ok(__resil_permit),
                ::core::option::Option::None => #slow,
            } {
                ::core::result::Result::Ok(__resil_permit) => __resil_permit,
                ::core::result::Result::Err(__resil_refusal) => #refused
            };
            let __resil_result = #inner;
            #private::settle(__resil_permit, &__resil_result, #ignore);
            __resil_result
        }
    }
}

// Input: `#[bulkhead]` over `inner`. The slot is held while `inner` runs.
// Output:
//
//     {
//         let __resil_bulkhead_2 = POLICY;
//         let __resil_slot = match match __resil_bulkhead_2.try_enter() {
//             Some(slot) => Ok(slot),
//             None => traced_by_ref(&__resil_span, pin!(__resil_bulkhead_2.enter_slow())).await,
//         } {
//             Ok(slot) => slot,
//             Err(__resil_refusal) => REFUSED,   // see `Scopes`
//         };
//         let __resil_result = inner;
//         drop(__resil_slot);
//         __resil_result
//     }
fn bulkhead(
    cx: &Layering<'_>,
    policy: &TokenStream,
    [refused, slow]: [TokenStream; 2],
    inner: TokenStream,
) -> TokenStream {
    let bulkhead = format_ident!("__resil_bulkhead_{}", cx.index);
    quote! {
        {
            let #bulkhead = #policy;
            let __resil_slot = match match #bulkhead.try_enter() {
                ::core::option::Option::Some(__resil_slot) => ::core::result::Result::Ok(__resil_slot),
                ::core::option::Option::None => #slow,
            } {
                ::core::result::Result::Ok(__resil_slot) => __resil_slot,
                ::core::result::Result::Err(__resil_refusal) => #refused
            };
            let __resil_result = #inner;
            ::core::mem::drop(__resil_slot);
            __resil_result
        }
    }
}

// Input: `#[retry]` over `attempt`, an expression of
// `(Result<T, E>, Rejection)` (see `Scopes::catch`).
// Output, of the same type:
//
//     {
//         let mut __resil_run = POLICY.start();
//         loop {
//             let req = clone_arg(&req);
//             let __resil_span = attempt_span(.., __resil_run.attempt(), parent);
//             let (__resil_attempt, __resil_rejection) = attempt;
//             match __resil_attempt {
//                 Ok(value) => { __resil_run.succeeded(); break (Ok(value), __resil_rejection) }
//                 Err(error) => match __resil_run.after_failure(error, __resil_rejection, retry_if, ..) {
//                     RetryStep::Done(error) => break (Err(error), __resil_rejection),
//                 RetryStep::Retry(delay) => sleep(delay).await,
//             }
//         }
//     }
fn retry_loop(
    private: &TokenStream,
    policy: &TokenStream,
    [retry_if, retry_after]: [&TokenStream; 2],
    clones: &TokenStream,
    span_of_attempt: TokenStream,
    attempt: TokenStream,
) -> TokenStream {
    // The attempt's result and span live in a block that ends before the
    // wait: kept in scope across the sleep's await, they would be stored
    // in the call's future and copied in and out on every call.
    quote! {
        {
            let mut __resil_run = #policy.start();
            loop {
                let __resil_delay = {
                    #clones
                    #span_of_attempt
                    let (__resil_attempt, __resil_rejection) = #attempt;
                    // The result is taken apart, never borrowed: a result
                    // whose address is taken stays in memory, and copying
                    // it out cost every call several nanoseconds.
                    match __resil_attempt {
                        ::core::result::Result::Ok(__resil_value) => {
                            __resil_run.succeeded();
                            break (::core::result::Result::Ok(__resil_value), __resil_rejection);
                        }
                        ::core::result::Result::Err(__resil_error) => {
                            match __resil_run.after_failure(
                                __resil_error,
                                __resil_rejection,
                                #retry_if,
                                #retry_after,
                                |__resil_e| #private::describe!(__resil_e),
                            ) {
                                #private::RetryStep::Done(__resil_error) => {
                                    break (::core::result::Result::Err(__resil_error), __resil_rejection);
                                }
                                #private::RetryStep::Retry(__resil_delay) => __resil_delay,
                            }
                        }
                    }
                };
                #private::sleep(__resil_delay).await;
            }
        }
    }
}

/// The tracing hook: the span of one attempt of the innermost enclosing
/// retry (or of the whole call when there is no retry), naming every
/// policy of the stack and the attempt number, a child of `parent` (the
/// enclosing retry's attempt) if there is one. Built by
/// `__private::attempt_span`, which is all that knows about `tracing`;
/// `__private::traced` polls the body and the slow entries in it.
///
/// Output: `__private::attempt_span(&[("retry", "name"), ...], #attempt, #parent)`
fn attempt_span(
    private: &TokenStream,
    layers: &[Layer],
    fn_name: &str,
    attempt: TokenStream,
    parent: TokenStream,
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
    quote!(#private::attempt_span(&[#(#policies),*], #attempt, #parent))
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
//         let (outcome, rejection) = inner;   // see `Scopes::catch`
//         match outcome {
//             Ok(value) => Ok(value),
//             Err(error) => {
//                 if fallback_applies(rejection, rejections_only) {
//                     fallback_future::<Result<T, E>, _>(cached(self, key, __resil_fallback_2, error))
//                         .await
//                 } else {
//                     Err(error)
//                 }
//             }
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
        #private::fallback_future::<#expected, _>(#path(#(#passed,)* #error)).await
    };
    quote! {
        {
            #copies
            let (__resil_outcome, __resil_rejection) = #inner;
            match __resil_outcome {
                ::core::result::Result::Ok(__resil_value) => ::core::result::Result::Ok(__resil_value),
                ::core::result::Result::Err(#error) => {
                    if #private::fallback_applies(__resil_rejection, #rejections_only) {
                        #call
                    } else {
                        ::core::result::Result::Err(#error)
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

/// `tokens` with its first token spanned at `start` and its last at `end`
/// (the tokens between keep theirs): rustc spans an expression from its
/// first token to its last, so an error about it covers `start..end`.
fn respanned(tokens: TokenStream, start: Span, end: Span) -> TokenStream {
    let mut tokens: Vec<TokenTree> = tokens.into_iter().collect();
    if let Some(first) = tokens.first_mut() {
        first.set_span(start);
    }
    if let Some(last) = tokens.last_mut() {
        last.set_span(end);
    }
    tokens.into_iter().collect()
}

fn peel(ty: &Type) -> &Type {
    match ty {
        Type::Group(group) => peel(&group.elem),
        Type::Paren(paren) => peel(&paren.elem),
        _ => ty,
    }
}

fn without_impl_trait(ty: &Type) -> Type {
    struct Replacer;
    impl syn::visit_mut::VisitMut for Replacer {
        fn visit_type_mut(&mut self, ty: &mut Type) {
            if matches!(ty, Type::ImplTrait(_)) {
                *ty = syn::parse_quote!(());
            } else {
                syn::visit_mut::visit_type_mut(self, ty);
            }
        }
    }
    let mut ty = ty.clone();
    syn::visit_mut::VisitMut::visit_type_mut(&mut Replacer, &mut ty);
    ty
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
        let out = expand_with(func, &layers, true);
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
            "let __resil_span : :: resil :: __private :: AttemptSpan = :: resil :: __private :: attempt_span (& [(\"retry\" , :: core :: concat ! (:: core :: module_path ! () , \"::\" , \"outline\")) , (\"circuit_breaker\" , \"osteon\") , (\"bulkhead\" , \"osteon\")] , __resil_run . attempt () , & :: resil :: __private :: NO_SPAN) ;",
            "let (__resil_attempt , __resil_rejection) = '__resil_scope_0 : { ({ let __resil_breaker_1 = __RESIL_CIRCUIT_BREAKER_1 . get () ;",
            "match match __resil_breaker_1 . try_enter () { :: core :: option :: Option :: Some (__resil_permit) => :: core :: result :: Result :: Ok (__resil_permit) , :: core :: option :: Option :: None => :: resil :: __private :: traced_by_ref (& __resil_span , :: core :: pin :: pin ! (__resil_breaker_1 . enter_slow ())) . await , }",
            // A refusal jumps to the retry, past the breaker's settling.
            "let __resil_error = __resil_breaker_1 . refusal_error (__resil_refusal) ;",
            "break '__resil_scope_0 (:: core :: result :: Result :: Err (:: resil :: __private :: convert ! (__resil_convert , __resil_error)) , __resil_rejection ,) ;",
            "let __resil_result = { let __resil_body = :: core :: pin :: pin ! (:: resil :: __private :: anchor :: < Result < Outline , OsteonError > , _ > (async { client . outline (req) . await })) ; match __resil_span { :: core :: option :: Option :: None => __resil_body . await , :: core :: option :: Option :: Some (__resil_span) => { :: resil :: __private :: traced (__resil_span , __resil_body) . await } } } ; :: core :: mem :: drop (__resil_slot) ;",
            ":: resil :: __private :: settle (__resil_permit , & __resil_result , :: resil :: __private :: never) ;",
            "match __resil_run . after_failure (__resil_error , __resil_rejection , :: resil :: __private :: always ,",
            ":: core :: result :: Result :: Ok (__resil_value) => { __resil_run . succeeded () ; break (:: core :: result :: Result :: Ok (__resil_value) , __resil_rejection) ; }",
            "let __resil_convert = :: resil :: __private :: error_converter (:: core :: marker :: PhantomData :: < Result < Outline , OsteonError > >) ;",
        ] {
            assert!(out.contains(expected), "missing\n{expected}\nin\n{out}");
        }
        assert!(!out.contains("clone_arg (& client)"), "{out}");
    }

    #[test]
    fn without_spans_the_body_and_the_entries_are_awaited_bare() {
        let mut errors = Errors::default();
        let layers: Vec<_> = [
            (Kind::Retry, quote!(max = 3)),
            (Kind::CircuitBreaker, quote!()),
            (Kind::Bulkhead, quote!()),
        ]
        .iter()
        .map(|(kind, args)| Layer::parse(*kind, args.clone(), &mut errors))
        .collect();
        let func: ItemFn = syn::parse2(quote! {
            async fn f(x: u8) -> Result<u8, E> { Ok(x) }
        })
        .unwrap();
        let out = expand_with(func, &layers, false).to_string();
        for unexpected in ["span", "traced", "pin !"] {
            assert!(!out.contains(unexpected), "{unexpected} in\n{out}");
        }
        assert!(
            out.contains(
                ":: core :: option :: Option :: None => __resil_breaker_1 . enter_slow () . await"
            ),
            "{out}"
        );
        assert!(out.contains("(async { Ok (x) }) . await"), "{out}");
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
            out.contains("let __resil_span : :: resil :: __private :: AttemptSpan = :: resil :: __private :: attempt_span (& [(\"bulkhead\" , :: core :: concat ! (:: core :: module_path ! () , \"::\" , \"f\"))] , 1u32 , & :: resil :: __private :: NO_SPAN) ; { let __resil_bulkhead_0 = __RESIL_BULKHEAD_0 . get () ;"),
            "{out}"
        );
        // Nothing above the bulkhead asks about refusals: one returns.
        assert!(
            out.contains("return :: core :: result :: Result :: Err (:: resil :: __private :: convert ! (__resil_convert , __resil_refusal)) ;"),
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
        assert!(out.contains("pin ! (async { Ok (1) })"), "{out}");
        assert!(
            out.contains("PhantomData :: < Result < () , E > >"),
            "{out}"
        );
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
                "PhantomData :: < Result < () , E > >) ; { let __resil_breaker_0 = __RESIL_CIRCUIT_BREAKER_0 . get () ;"
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
            "let __resil_convert = :: resil :: __private :: error_converter (:: core :: marker :: PhantomData :: < Result < u8 , E > >) ;",
            "__RESIL_TIMEOUT_3 . get () . run (async { '__resil_scope_3 : {",
            "} , | __resil_e | :: resil :: __private :: convert ! (__resil_convert , __resil_e)) . await",
            // A refusal below the timeout comes out of it, and jumps on to
            // the retry.
            "if __resil_rejection . is_set () { break '__resil_scope_1 (__resil_outcome , __resil_rejection) ; }",
            "if let :: core :: result :: Result :: Err (__resil_refusal) = __RESIL_RATE_LIMIT_4 . get () . acquire () . await",
            "after_failure (__resil_error , __resil_rejection , :: resil :: __private :: always , hint ,",
            "fallback_applies (__resil_rejection , true)",
            "fallback_future :: < Result < u8 , E > , _ > (cached (self , key , req , __resil_error)) . await",
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
        assert!(out.contains("error_converter"), "{out}");
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
