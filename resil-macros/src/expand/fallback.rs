//! `#[fallback]`: the call to the fallback with the function's arguments.

use proc_macro2::{Ident, Span, TokenStream};
use quote::{ToTokens, format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{FnArg, ItemFn, Pat, Type};

use super::tokens::{contains_impl_trait, peel};
use crate::parse::{FallbackArgs, FallbackOn};

/// One argument as the fallback gets it.
pub(super) struct FallbackArg {
    /// `self` or the binding's name.
    name: String,
    /// Whether the body may consume it, so the fallback needs its own copy.
    owned: bool,
}

/// The function's arguments in order. `item::check_fallback` has made sure
/// each is `self` or a plain name.
pub(super) fn fallback_arguments(func: &ItemFn) -> Vec<FallbackArg> {
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

pub(super) fn name_ident(name: &str, span: Span) -> Ident {
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
pub(super) fn fallback(
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
