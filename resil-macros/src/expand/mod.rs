//! The third stage: rewrites the body of a checked `async fn` into the
//! stack of policies around it.
//!
//! Input, for `#[retry] #[circuit_breaker] #[bulkhead]` (no `spans`
//! feature, no names):
//!
//! ```text
//! async fn f(client: &Client, req: Req) -> Result<T, E> { body }
//! ```
//!
//! Output (simplified; every path is really `::resil::__private::...` or
//! `::core::...`):
//!
//! ```text
//! async fn f(client: &Client, req: Req) -> Result<T, E> {
//!     static __RESIL_RETRY_0: RetrySite = RetrySite::unnamed("path::f", RetryConfig::DEFAULT);
//!     #[distributed_slice(DECLARATIONS)]
//!     static __RESIL_RETRY_0_DECLARE: &dyn Declaration = &__RESIL_RETRY_0;
//!     // ... the same for __RESIL_CIRCUIT_BREAKER_1 and __RESIL_BULKHEAD_2 (`site`)
//!     let __resil_convert = error_converter(PhantomData::<Result<T, E>>); // `E::from`
//!     {
//!         let (__resil_outcome, __resil_rejection) = {                  // `retry_loop`
//!             let mut __resil_run = __RESIL_RETRY_0.get().start();
//!             loop {
//!                 let __resil_delay = {
//!                     let req = clone_arg(&req);
//!                     let (__resil_attempt, __resil_rejection) = '__resil_scope_0: {
//!                         ({                                            // `guards::circuit_breaker`
//!                             let __resil_breaker_1 = __RESIL_CIRCUIT_BREAKER_1.get();
//!                             let __resil_permit = match match BreakerEntry::try_enter(&*__resil_breaker_1) {
//!                                 Some(permit) => Ok(permit),
//!                                 None => BreakerEntry::enter_slow(&*__resil_breaker_1).await,
//!                             } {
//!                                 Ok(permit) => permit,
//!                                 Err(__resil_refusal) => {             // `Scopes::refuse`
//!                                     let __resil_error = BreakerEntry::refusal_error(&*__resil_breaker_1, __resil_refusal);
//!                                     let __resil_rejection = Rejection::of(&__resil_error);
//!                                     break '__resil_scope_0 (Err(convert!(__resil_convert, __resil_error)), __resil_rejection);
//!                                 }
//!                             };
//!                             let __resil_result = {                    // `guards::bulkhead`, alike
//!                                 /* __resil_slot from __resil_bulkhead_2 */
//!                                 let __resil_result = anchor::<Result<T, E>, _>(async { body }).await;
//!                                 drop(__resil_slot);
//!                                 __resil_result
//!                             };
//!                             settle(__resil_permit, &__resil_result, never);
//!                             __resil_result
//!                         }, Rejection::new())
//!                     };
//!                     match __resil_attempt {
//!                         Ok(value) => { RetryStepping::succeeded(&__resil_run); break (Ok(value), __resil_rejection); }
//!                         Err(error) => match RetryStepping::after_failure(&mut __resil_run, error, __resil_rejection, always, no_retry_after, ..) {
//!                             RetryStep::Done(error) => break (Err(error), __resil_rejection),
//!                             RetryStep::Retry(delay) => delay,
//!                         },
//!                     }
//!                 };
//!                 sleep(__resil_delay).await;
//!             }
//!         };
//!         if __resil_rejection.is_set() {                               // `Scopes::pass_on`
//!             return __resil_outcome;
//!         }
//!         __resil_outcome
//!     }
//! }
//! ```
//!
//! Every layer passes the body's own `Result<T, E>` on; a refusal becomes
//! `E` where it happens and jumps to the nearest layer that asks whether
//! an error was one (see `scopes`). The body and the slow entries run in
//! the attempt's tracing span, when a subscriber records it.
//!
//! The body stays a plain (not `move`) `async` block awaited in place, so it
//! borrows the arguments: `&self`, `&mut self`, borrowed arguments, `?` and
//! early `return` behave as in the original function.
//!
//! Layout: this file walks the stack from the innermost layer out
//! (`Expansion`); `site` makes each layer's `static` and reaches its
//! policy; `config` writes its configuration; `guards`, `retry` and
//! `fallback` write each layer's code; `scopes` routes refusals; `tokens`
//! holds the token and type helpers.

mod config;
mod fallback;
mod guards;
mod retry;
mod scopes;
mod site;
mod tokens;

use proc_macro2::{Ident, Span, TokenStream};
use quote::{ToTokens, format_ident, quote, quote_spanned};
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{AttrStyle, ItemFn, Path, ReturnType, Type};

use self::config::{
    bulkhead_config, circuit_breaker_config, rate_limit_config, retry_config, timeout_config,
};
use self::fallback::{FallbackArg, fallback, fallback_arguments};
use self::guards::{bulkhead, circuit_breaker};
use self::retry::{attempt_span, retry_loop};
use self::scopes::{Layering, Scopes};
use self::site::SiteDecl;
use self::tokens::{
    contains_impl_trait, first_and_last_span, owned_bindings, respanned, spanned_call,
    without_impl_trait,
};
use crate::parse::{Layer, RetryArgs};

/// Whether the generated code opens `resil.attempt` spans: the `spans`
/// feature, which `resil`'s `spans` feature turns on here and in the
/// runtime alike. Without it the code has no trace of them: even a span
/// that is never made costs every call (measured).
pub(crate) const SPANS: bool = cfg!(feature = "spans");

/// Expands the checked function `func` under its stack of `layers`.
pub(crate) fn expand(func: ItemFn, layers: &[Layer]) -> TokenStream {
    expand_with(func, layers, SPANS)
}

/// What every layer of one expansion shares.
struct Expansion<'a> {
    layers: &'a [Layer],
    /// The `resil` crate, as the first layer with `crate = ..` names it.
    krate: &'a Path,
    fn_name: String,
    /// The function's return type, `Result<T, E>`.
    ret: &'a Type,
    /// `let x = clone_arg(&x);` for each owned argument, under a retry.
    clones: TokenStream,
    fallback_args: Vec<FallbackArg>,
    /// `__resil_convert`: `E::from` for `resil::Error`.
    convert: Ident,
    scopes: Scopes,
    /// The `static` sites of every layer.
    statics: TokenStream,
    /// Whether a retry runs below the layer being written.
    retry_below: bool,
}

pub(crate) fn expand_with(mut func: ItemFn, layers: &[Layer], spans: bool) -> TokenStream {
    let krate: Path = layers
        .iter()
        .find_map(|layer| layer.common().krate.clone())
        .unwrap_or_else(|| syn::parse_quote!(::resil));
    let ReturnType::Type(_, ret) = &func.sig.output else {
        unreachable!("checked by check::item")
    };
    let ret = ret.clone();
    let has_retry = layers.iter().any(|layer| matches!(layer, Layer::Retry(_)));
    let clones = if has_retry {
        clones(&mut func, &krate)
    } else {
        TokenStream::new()
    };
    // A fallback gets the function's arguments; which of them it can take
    // as they are depends on the layers below it.
    let fallback_args = if layers.iter().any(|l| matches!(l, Layer::Fallback(_))) {
        fallback_arguments(&func)
    } else {
        Vec::new()
    };
    let mut expansion = Expansion {
        layers,
        krate: &krate,
        fn_name: func.sig.ident.unraw().to_string(),
        ret: &ret,
        clones,
        fallback_args,
        convert: Ident::new("__resil_convert", Span::call_site()),
        scopes: Scopes::new(layers, spans),
        statics: TokenStream::new(),
        retry_below: false,
    };
    let mut code = expansion.body(&func, spans);
    for (index, layer) in layers.iter().enumerate().rev() {
        code = expansion.layer(index, layer, code);
    }
    expansion.function(&func, code, has_retry || !spans)
}

/// Owned arguments are cloned at the start of every attempt; the original
/// binding is then only borrowed, so its `mut` moves to the per-attempt copy.
fn clones(func: &mut ItemFn, krate: &Path) -> TokenStream {
    owned_bindings(func)
        .into_iter()
        .map(|(mutability, ident)| {
            quote_spanned! {ident.span()=>
                let #mutability #ident = #krate::__private::clone_arg(&#ident);
            }
        })
        .collect()
}

impl Expansion<'_> {
    /// The body as an expression of `Result<T, E>`.
    ///
    /// The body is polled in the attempt's span when a subscriber records
    /// it: the span moves into a wrapper that polls the body through
    /// `Pin<&mut _>` (pinned where it is made, the body is not copied).
    /// Without a span, nothing wraps the body: the wrapper, even unused,
    /// would cost every call (measured at several nanoseconds).
    fn body(&self, func: &ItemFn, spans: bool) -> TokenStream {
        let krate = self.krate;
        let ret = self.ret;
        let ret_span = ret.span();
        let block = &func.block;
        let body = if contains_impl_trait(ret) {
            // `impl Trait` cannot be named in the anchor's turbofish.
            quote_spanned!(ret_span=> async #block)
        } else {
            quote_spanned!(ret_span=> #krate::__private::anchor::<#ret, _>(async #block))
        };
        if spans {
            quote! {
                {
                    let __resil_body = ::core::pin::pin!(#body);
                    match __resil_span {
                        ::core::option::Option::None => __resil_body.await,
                        ::core::option::Option::Some(__resil_span) => {
                            #krate::__private::traced(__resil_span, __resil_body).await
                        }
                    }
                }
            }
        } else {
            quote!(#body.await)
        }
    }

    /// Layer `index` around `code`, the layers below it.
    fn layer(&mut self, index: usize, layer: &Layer, code: TokenStream) -> TokenStream {
        let layer_krate = layer.common().krate.as_ref().unwrap_or(self.krate);
        let site = format_ident!("__RESIL_{}_{}", layer.kind().name().to_uppercase(), index);
        // A named site shares its policy; an unnamed one gets a policy of its
        // own, registered under the function's path.
        let fn_name = &self.fn_name;
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
        match layer {
            Layer::Retry(args) => self.retry(&decl, index, args, code),
            Layer::CircuitBreaker(args) => {
                let config = circuit_breaker_config(&private, args);
                let policy = decl.policy(&mut self.statics, config);
                let ignore = match &args.ignore {
                    Some(path) => path.to_token_stream(),
                    None => quote!(#private::never),
                };
                let cx = self.layering(&private, index);
                let breaker = format_ident!("__resil_breaker_{}", index);
                let refused = self.scopes.refuse(
                    &cx,
                    quote!(#private::BreakerEntry::refusal_error(&*#breaker, __resil_refusal)),
                );
                let slow = (self.scopes).traced_entry(
                    &private,
                    index,
                    quote!(#private::BreakerEntry::enter_slow(&*#breaker)),
                );
                circuit_breaker(&cx, &policy, &ignore, [refused, slow], code)
            }
            Layer::Bulkhead(args) => {
                let config = bulkhead_config(&private, args);
                let policy = decl.policy(&mut self.statics, config);
                let cx = self.layering(&private, index);
                let own = format_ident!("__resil_bulkhead_{}", index);
                let refused = self.scopes.refuse(&cx, quote!(__resil_refusal));
                let slow = (self.scopes).traced_entry(
                    &private,
                    index,
                    quote!(#private::BulkheadEntry::enter_slow(&*#own)),
                );
                bulkhead(&cx, &policy, [refused, slow], code)
            }
            Layer::Timeout(args) => {
                let config = timeout_config(&private, args);
                decl.plain(&mut self.statics, "TimeoutSite", config);
                self.timeout(&private, &site, index, code)
            }
            Layer::RateLimit(args) => {
                let config = rate_limit_config(&private, args);
                decl.plain(&mut self.statics, "RateLimiterSite", config);
                self.rate_limit(&private, &site, index, code)
            }
            Layer::Fallback(args) => {
                let inner = self.scopes.catch(&private, index, code);
                let (ret, fallback_args) = (self.ret, &self.fallback_args);
                fallback(&private, args, fallback_args, self.retry_below, ret, inner)
            }
        }
    }

    /// What a guard's code needs to know of where it is. Borrows only the
    /// converter's name, so that `scopes` stays free to change.
    fn layering<'a>(&self, private: &'a TokenStream, index: usize) -> Layering<'a> {
        Layering {
            private,
            convert: self.convert.clone(),
            index,
        }
    }

    /// A `#[timeout]` layer: the layers below run in a future of their own,
    /// which the timeout races; their refusals come out of it tagged.
    fn timeout(
        &mut self,
        private: &TokenStream,
        site: &Ident,
        index: usize,
        code: TokenStream,
    ) -> TokenStream {
        let inner = self.scopes.catch(private, index, code);
        let convert = &self.convert;
        let outcome = quote! {
            #private::TimeoutEntry::run(
                #site.get(),
                async { #inner },
                |__resil_e| #private::convert!(#convert, __resil_e)
            )
            .await
        };
        self.scopes.pass_on(index, outcome)
    }

    /// A `#[rate_limit]` layer: a permit, or a refusal, before the layers
    /// below.
    fn rate_limit(
        &mut self,
        private: &TokenStream,
        site: &Ident,
        index: usize,
        code: TokenStream,
    ) -> TokenStream {
        let cx = self.layering(private, index);
        let refused = self.scopes.refuse(&cx, quote!(__resil_refusal));
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

    /// A `#[retry]` layer: a loop of attempts around `code`.
    fn retry(
        &mut self,
        decl: &SiteDecl<'_>,
        index: usize,
        args: &RetryArgs,
        code: TokenStream,
    ) -> TokenStream {
        let private = decl.private;
        let config = retry_config(private, args);
        let policy = decl.policy(&mut self.statics, config);
        let retry_if = match &args.retry_if {
            Some(path) => path.to_token_stream(),
            None => quote!(#private::always),
        };
        let retry_after = match &args.retry_after {
            Some(path) => path.to_token_stream(),
            None => quote!(#private::no_retry_after),
        };
        self.retry_below = true;
        // A retry inside another one opens its spans inside the outer
        // attempt's.
        let span_of_attempt = match self.scopes.span_expr(private, index) {
            Some(parent) => {
                let made = attempt_span(
                    private,
                    self.layers,
                    &self.fn_name,
                    quote!(__resil_run.attempt()),
                    parent,
                );
                quote!(let __resil_span: #private::AttemptSpan = #made;)
            }
            None => TokenStream::new(),
        };
        let attempt = self.scopes.catch(private, index, code);
        let outcome = retry_loop(
            private,
            &policy,
            [&retry_if, &retry_after],
            &self.clones,
            span_of_attempt,
            attempt,
        );
        self.scopes.pass_on(index, outcome)
    }

    /// The function again, its body the stack around the original body.
    /// `untraced`: no span around the whole call (there is a retry, whose
    /// loops make a span per attempt, or no spans at all).
    fn function(self, func: &ItemFn, code: TokenStream, untraced: bool) -> TokenStream {
        let krate = self.krate;
        let ret = self.ret;
        let convert = &self.convert;
        let statics = &self.statics;
        // Every policy's refusal becomes the function's `E`, through one
        // converter made once by a call spanned over the return type, so
        // that an `E` without `From<resil::Error>` is one error, reported
        // there, not on the attribute. Only `E` matters to the converter:
        // `impl Trait` (which a turbofish cannot name) stands aside as `()`.
        let (start, end) = first_and_last_span(ret);
        let ret_for_error = without_impl_trait(ret);
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
        // Without a retry, the whole call is one attempt, with one span.
        let top_span = if untraced {
            TokenStream::new()
        } else {
            let private_root = quote!(#krate::__private);
            let top_span = attempt_span(
                &private_root,
                self.layers,
                &self.fn_name,
                quote!(1u32),
                quote!(&#private_root::NO_SPAN),
            );
            quote!(let __resil_span: #krate::__private::AttemptSpan = #top_span;)
        };
        let (outer_attrs, inner_attrs): (Vec<_>, Vec<_>) = func
            .attrs
            .iter()
            .partition(|attr| matches!(attr.style, AttrStyle::Outer));
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
}

#[cfg(test)]
mod tests;
