//! The path every attribute takes: collect the stack of resil attributes,
//! parse and check all of it, then expand, or report every error at once.

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, quote};
use syn::parse::{ParseStream, Parser};
use syn::{AttrStyle, Attribute, Item, ItemFn};

use crate::args::{Kind, Layer};
use crate::errors::Errors;
use crate::{expand, item, validate};

/// Expands the outermost resil attribute `kind` of a stack.
///
/// Attribute macros expand outermost first and the item still carries the
/// attributes below, so this one takes every remaining resil attribute off
/// the item and expands the whole stack in one go.
pub(crate) fn attribute(kind: Kind, args: TokenStream, input: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    let mut func: ItemFn = match syn::parse2(input.clone()) {
        Ok(func) => func,
        Err(error) => {
            match syn::parse2::<Item>(input.clone()) {
                Ok(_) => errors.push(syn::Error::new(Span::call_site(), item::not_a_fn(kind))),
                Err(_) => errors.push(error),
            }
            return with_errors(errors, strip_raw(input));
        }
    };

    let mut layers = vec![Layer::parse(kind, args, &mut errors)];
    func.attrs.retain(|attr| match Kind::of_attr(attr) {
        Some(kind) if matches!(attr.style, AttrStyle::Outer) => {
            layers.push(Layer::parse_attr(kind, attr, &mut errors));
            false
        }
        _ => true,
    });
    item::check(kind, &func, &mut errors);
    for layer in &layers {
        validate::layer(layer, &mut errors);
    }

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

/// Drops the resil attributes from an item that is not a function, so they do
/// not each report the same error again.
fn strip_raw(input: TokenStream) -> TokenStream {
    let parser = |input: ParseStream<'_>| {
        let attrs = input.call(Attribute::parse_outer)?;
        let rest: TokenStream = input.parse()?;
        Ok((attrs, rest))
    };
    match parser.parse2(input.clone()) {
        Ok((attrs, rest)) => {
            let attrs = attrs.iter().filter(|attr| Kind::of_attr(attr).is_none());
            quote!(#(#attrs)* #rest)
        }
        Err(_) => input,
    }
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
        assert!(!text.contains("bulkhead"), "{text}");
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
                 `retry_rejections`, `crate`",
                "duration needs a unit: write `60s` or `60ms` (units: ns, us, ms, s, m, h)",
                "expected `#[bulkhead(key = value, ...)]`",
                "`#[retry]` can only be applied to an `async fn`",
                "`#[retry]` needs the function to return `Result<T, E>` where \
                 `E: From<resil::Error>`",
                "`threshold` must be at least 1",
            ]
        );
        // The function is still emitted, without the resil attributes.
        let text = out.to_string();
        assert!(text.contains("# [inline] fn f () { }"), "{text}");
        assert!(!text.contains("bulkhead ("), "{text}");
    }
}
