//! The path every attribute takes: collect the stack of resil attributes,
//! parse (`parse`) and check (`check`) all of it, then expand (`expand`),
//! or report every error at once next to the unchanged function.

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, quote};
use syn::parse::{ParseStream, Parser};
use syn::{AttrStyle, Attribute, Ident, Item, ItemFn, MacroDelimiter, Meta, MetaList, token};

use crate::errors::Errors;
use crate::parse::{Kind, Layer};
use crate::{check, expand};

/// Marks an inner attribute whose layer the outermost attribute expanded.
const EXPANDED: &str = "__resil_expanded";

/// Expands the outermost resil attribute `kind` of a stack.
///
/// Attribute macros expand outermost first and the item still carries the
/// attributes below, so this one parses every remaining resil attribute and
/// expands the whole stack in one go. It leaves each of them behind as
/// `#[path(__resil_expanded)]`, which expands to the item unchanged: deleting
/// them would leave their `use` unresolved and warned about as unused.
pub(crate) fn attribute(kind: Kind, args: TokenStream, input: TokenStream) -> TokenStream {
    if is_marker(&args) {
        return input;
    }
    let mut errors = Errors::default();
    let mut func: ItemFn = match syn::parse2(input.clone()) {
        Ok(func) => func,
        Err(error) => {
            match syn::parse2::<Item>(input.clone()) {
                Ok(_) => errors.push(syn::Error::new(Span::call_site(), check::not_a_fn(kind))),
                Err(_) => errors.push(error),
            }
            return with_errors(errors, strip_raw(input));
        }
    };

    let mut layers = vec![Layer::parse(kind, args, &mut errors)];
    for attr in &mut func.attrs {
        if let Some(kind) = inner_layer(attr) {
            layers.push(Layer::parse_attr(kind, attr, &mut errors));
            mark_expanded(attr);
        }
    }
    check::stack(kind, &func, &layers, &mut errors);

    if errors.is_empty() {
        expand::expand(func, &layers)
    } else {
        with_errors(errors, func.into_token_stream())
    }
}

/// The errors next to the user's item, so that callers of the function do not
/// drown in follow-on errors (tokio's `token_stream_with_error`).
fn with_errors(errors: Errors, item: TokenStream) -> TokenStream {
    let errors = errors.into_compile_errors();
    quote!(#errors #item)
}

/// Marks the resil attributes of an item that is not a function as expanded,
/// so they do not each report the same error again.
fn strip_raw(input: TokenStream) -> TokenStream {
    let parser = |input: ParseStream<'_>| {
        let attrs = input.call(Attribute::parse_outer)?;
        let rest: TokenStream = input.parse()?;
        Ok((attrs, rest))
    };
    match parser.parse2(input.clone()) {
        Ok((mut attrs, rest)) => {
            for attr in &mut attrs {
                if inner_layer(attr).is_some() {
                    mark_expanded(attr);
                }
            }
            quote!(#(#attrs)* #rest)
        }
        Err(_) => input,
    }
}

/// The kind of a resil attribute below the one being expanded, unless an
/// outer attribute already took care of it.
fn inner_layer(attr: &Attribute) -> Option<Kind> {
    if !matches!(attr.style, AttrStyle::Outer) {
        return None;
    }
    if let Meta::List(list) = &attr.meta
        && is_marker(&list.tokens)
    {
        return None;
    }
    Kind::of_attr(attr)
}

fn is_marker(args: &TokenStream) -> bool {
    syn::parse2::<Ident>(args.clone()).is_ok_and(|ident| ident == EXPANDED)
}

/// Keeps the attribute's own path (so its import counts as used) but swaps
/// its arguments for the marker.
fn mark_expanded(attr: &mut Attribute) {
    let marker = Ident::new(EXPANDED, Span::call_site());
    attr.meta = Meta::List(MetaList {
        path: attr.path().clone(),
        delimiter: MacroDelimiter::Paren(token::Paren::default()),
        tokens: marker.into_token_stream(),
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors_of(output: &TokenStream) -> Vec<String> {
        // `compile_error! { "..." }` as printed by syn.
        let text = output.to_string();
        text.match_indices("compile_error !")
            .map(|(at, _)| {
                let rest = &text[at..];
                let start = rest.find('"').unwrap() + 1;
                let end = start + rest[start..].find('"').unwrap();
                rest[start..end].to_owned()
            })
            .collect()
    }

    #[test]
    fn not_a_function() {
        let out = attribute(
            Kind::Retry,
            quote!(),
            quote!(
                #[derive(Debug)]
                #[bulkhead]
                struct S;
            ),
        );
        assert_eq!(
            errors_of(&out),
            ["`#[retry]` can only be applied to an `async fn`"]
        );
        let text = out.to_string();
        assert!(text.contains("derive"), "{text}");
        assert!(
            text.contains("# [bulkhead (__resil_expanded)] struct S ;"),
            "{text}"
        );
    }

    #[test]
    fn inner_attributes_are_marked_and_then_pass_through() {
        let out = attribute(
            Kind::Retry,
            quote!(max = 2),
            quote!(
                #[resil::circuit_breaker(threshold = 3)]
                #[inline]
                #[bulkhead]
                async fn f() -> Result<(), E> {
                    Ok(())
                }
            ),
        );
        let text = out.to_string();
        assert!(
            text.starts_with(
                "# [resil :: circuit_breaker (__resil_expanded)] # [inline] \
                 # [bulkhead (__resil_expanded)] async fn f ()"
            ),
            "{text}"
        );
        assert!(text.contains("__RESIL_BULKHEAD_2"), "{text}");

        // The marked attributes then expand to the item as it is.
        let item = quote!(
            #[bulkhead(__resil_expanded)]
            async fn f() {}
        );
        let out = attribute(Kind::CircuitBreaker, quote!(__resil_expanded), item.clone());
        assert_eq!(out.to_string(), item.to_string());
    }

    #[test]
    fn errors_from_every_layer_are_combined() {
        let out = attribute(
            Kind::Retry,
            quote!(maxx = 3),
            quote!(
                #[inline]
                #[resil::circuit_breaker(threshold = 0)]
                #[bulkhead(wait = 60)]
                #[bulkhead = 3]
                fn f() {}
            ),
        );
        assert_eq!(
            errors_of(&out),
            [
                "unknown `retry` argument `maxx`; expected one of: `name`, `max`, `backoff`, \
                 `initial`, `max_delay`, `multiplier`, `jitter`, `retry_if`, \
                 `retry_rejections`, `max_elapsed`, `retry_after`, `crate`",
                "duration needs a unit: write `60s` or `60ms` (units: ns, us, ms, s, m, h)",
                "expected `#[bulkhead(key = value, ...)]`",
                "`#[retry]` can only be applied to an `async fn`",
                "`#[retry]` needs the function to return `Result<T, E>` where \
                 `E: From<resil::Error>`",
                "`threshold` must be at least 1",
            ]
        );
        // The function is still emitted, its resil attributes marked done.
        let text = out.to_string();
        assert!(
            text.contains(
                "# [inline] # [resil :: circuit_breaker (__resil_expanded)] \
                 # [bulkhead (__resil_expanded)] # [bulkhead (__resil_expanded)] fn f () { }"
            ),
            "{text}"
        );
    }
}
