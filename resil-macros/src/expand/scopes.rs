//! Where a policy's refusal goes: the labelled blocks a refusal jumps to.

use proc_macro2::{Ident, Span, TokenStream};
use quote::quote;
use syn::Lifetime;

use crate::parse::Layer;

/// What a layer's code needs to know of where it is.
pub(super) struct Layering<'a> {
    pub(super) private: &'a TokenStream,
    /// `__resil_convert`: `E::from` for `resil::Error`.
    pub(super) convert: Ident,
    pub(super) index: usize,
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
pub(super) struct Scopes {
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
    pub(super) fn new(layers: &[Layer], spans: bool) -> Self {
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
    pub(super) fn span_expr(&self, private: &TokenStream, index: usize) -> Option<TokenStream> {
        if !self.spans {
            None
        } else if self.in_span[index] {
            Some(quote!(&__resil_span))
        } else {
            Some(quote!(&#private::NO_SPAN))
        }
    }

    /// `entry` (a future), awaited in the attempt's span if there is one.
    pub(super) fn traced_entry(
        &self,
        private: &TokenStream,
        index: usize,
        entry: TokenStream,
    ) -> TokenStream {
        match self.span_expr(private, index) {
            Some(span) => quote!(#private::traced_by_ref(#span, ::core::pin::pin!(#entry)).await),
            None => quote!(#entry.await),
        }
    }

    /// The statement that sends a refusal on from layer `cx.index`;
    /// `error` makes it a `resil::Error` (from `__resil_refusal`).
    pub(super) fn refuse(&mut self, cx: &Layering<'_>, error: TokenStream) -> TokenStream {
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
    pub(super) fn catch(
        &self,
        private: &TokenStream,
        index: usize,
        inner: TokenStream,
    ) -> TokenStream {
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
    pub(super) fn pass_on(&mut self, index: usize, outcome: TokenStream) -> TokenStream {
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
