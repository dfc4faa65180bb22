//! Two ways a policy attribute can get its policy besides inline settings:
//! a declared policy named by path (`#[circuit_breaker(PAYMENTS)]`), and a
//! keyed breaker (`#[circuit_breaker(key = tenant, max_keys = 100)]`).
//!
//! Both are taken out of the attribute's arguments before `args.rs` parses
//! the rest, and both change only how the layer reaches its policy: the
//! `static`s they emit, and the expression that yields the policy.

use std::time::Duration;

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::{ToTokens, format_ident, quote, quote_spanned};
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{Expr, FnArg, Ident, ItemFn, Lit, Pat, Path};

use crate::args::{Kind, Layer};
use crate::errors::Errors;

/// What [`extract`] takes out of an attribute's arguments.
#[derive(Default)]
pub(crate) struct Extracted {
    /// `#[circuit_breaker(PAYMENTS)]`: the declared policy's path.
    pub(crate) policy: Option<Path>,
    /// `key = tenant, max_keys = 100, key_ttl = 10m`.
    pub(crate) key: Option<KeyArgs>,
}

/// The keys of a keyed circuit breaker.
#[derive(Clone)]
pub(crate) struct KeyArgs {
    /// The argument whose value picks the breaker.
    pub(crate) arg: Ident,
    pub(crate) max_keys: Option<u32>,
    pub(crate) ttl: Option<Duration>,
}

/// The keys that may stand next to a declared policy's path: they say what
/// the function does with the policy, not how the policy is set up.
fn allowed_with_path(kind: Kind) -> &'static [&'static str] {
    match kind {
        Kind::CircuitBreaker => &["ignore", "crate"],
        Kind::Retry => &["retry_if", "retry_after", "crate"],
        _ => &["crate"],
    }
}

fn takes_path(kind: Kind) -> bool {
    matches!(kind, Kind::CircuitBreaker | Kind::Bulkhead | Kind::Retry)
}

/// Splits a leading policy path and the key arguments off `tokens`, and
/// returns the rest for `args.rs`.
///
/// Input: `PAYMENTS, ignore = is_client_error` or `key = tenant, threshold = 3`
/// Output: the path or key arguments, and `ignore = is_client_error` or
/// `threshold = 3`.
pub(crate) fn extract(
    kind: Kind,
    tokens: TokenStream,
    errors: &mut Errors,
) -> (Extracted, TokenStream) {
    let mut extracted = Extracted::default();
    let segments = split_commas(tokens);
    let mut rest: Vec<Vec<TokenTree>> = Vec::new();
    let mut key: Option<Ident> = None;
    let mut max_keys: Option<(u32, Span)> = None;
    let mut ttl: Option<(Duration, Span)> = None;
    let mut given_keys: Vec<Ident> = Vec::new();
    for (index, segment) in segments.into_iter().enumerate() {
        if index == 0 && takes_path(kind) && !has_eq(&segment) && !segment.is_empty() {
            let stream: TokenStream = segment.iter().cloned().collect();
            if let Ok(path) = syn::parse2::<Path>(stream) {
                extracted.policy = Some(path);
                continue;
            }
        }
        let name = match segment.first() {
            Some(TokenTree::Ident(ident)) if has_eq(&segment) => Some(ident.clone()),
            _ => None,
        };
        let Some(name) = name else {
            rest.push(segment);
            continue;
        };
        let name_str = name.unraw().to_string();
        if kind == Kind::CircuitBreaker
            && matches!(name_str.as_str(), "key" | "max_keys" | "key_ttl")
        {
            let value = value_of(&segment);
            let duplicate = match name_str.as_str() {
                "key" => key.is_some(),
                "max_keys" => max_keys.is_some(),
                _ => ttl.is_some(),
            };
            if duplicate {
                errors.push(syn::Error::new(
                    name.span(),
                    format!("duplicate `circuit_breaker` argument `{name_str}`"),
                ));
                continue;
            }
            match (name_str.as_str(), value) {
                (_, Err(error)) => errors.push(error),
                ("key", Ok(value)) => match argument_name(&value) {
                    Some(ident) => key = Some(ident),
                    None => errors.push(syn::Error::new_spanned(
                        &value,
                        "expected the name of one of the function's arguments for `key`, \
                         like `key = tenant`",
                    )),
                },
                ("max_keys", Ok(value)) => match count(&value) {
                    Some(0) => errors.push(syn::Error::new_spanned(
                        &value,
                        "`max_keys` must be at least 1",
                    )),
                    Some(n) => max_keys = Some((n, name.span())),
                    None => errors.push(syn::Error::new_spanned(
                        &value,
                        format!(
                            "expected an integer for `max_keys`, found {}",
                            crate::args::what(&value)
                        ),
                    )),
                },
                (_, Ok(value)) => match crate::duration::parse("key_ttl", &value) {
                    Ok(d) if d.is_zero() => errors.push(syn::Error::new_spanned(
                        &value,
                        "`key_ttl` must be longer than zero",
                    )),
                    Ok(d) => ttl = Some((d, name.span())),
                    Err(error) => errors.push(error),
                },
            }
            continue;
        }
        given_keys.push(name);
        rest.push(segment);
    }

    if key.is_none() {
        for (what, span) in [
            ("max_keys", max_keys.map(|m| m.1)),
            ("key_ttl", ttl.map(|t| t.1)),
        ] {
            if let Some(span) = span {
                errors.push(syn::Error::new(
                    span,
                    format!("`{what}` only applies with `key`"),
                ));
            }
        }
    }
    if let Some(path) = &extracted.policy {
        let shown = path.to_token_stream().to_string().replace(' ', "");
        for given in &given_keys {
            let given_str = given.unraw().to_string();
            if !allowed_with_path(kind).contains(&given_str.as_str()) {
                errors.push(syn::Error::new(
                    given.span(),
                    format!(
                        "`{given_str}` cannot be set here: `{shown}` is a declared policy, \
                         whose settings are in its declaration; next to a path only {} may \
                         be given",
                        allowed_with_path(kind)
                            .iter()
                            .map(|k| format!("`{k}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            }
        }
        if let Some(key) = &key {
            errors.push(syn::Error::new(
                key.span(),
                format!(
                    "`key` cannot be combined with the declared policy `{shown}`: a keyed \
                     breaker is declared inline, `#[circuit_breaker(name = \"...\", key = {key}, ...)]`"
                ),
            ));
        }
    }
    extracted.key = key.map(|arg| KeyArgs {
        arg,
        max_keys: max_keys.map(|m| m.0),
        ttl: ttl.map(|t| t.0),
    });
    let mut out = TokenStream::new();
    for (i, segment) in rest.into_iter().enumerate() {
        if i > 0 {
            out.extend(quote!(,));
        }
        out.extend(segment);
    }
    (extracted, out)
}

fn split_commas(tokens: TokenStream) -> Vec<Vec<TokenTree>> {
    let mut segments = vec![Vec::new()];
    for token in tokens {
        match &token {
            TokenTree::Punct(punct) if punct.as_char() == ',' => segments.push(Vec::new()),
            _ => segments.last_mut().expect("never empty").push(token),
        }
    }
    if segments.last().is_some_and(Vec::is_empty) {
        segments.pop();
    }
    segments
}

/// Whether a segment is `ident = ...` (and not `a == b`).
fn has_eq(segment: &[TokenTree]) -> bool {
    matches!(segment.get(1), Some(TokenTree::Punct(p)) if p.as_char() == '=')
        && !matches!(segment.get(2), Some(TokenTree::Punct(p)) if p.as_char() == '=')
}

fn value_of(segment: &[TokenTree]) -> syn::Result<Expr> {
    let tokens: TokenStream = segment[2..].iter().cloned().collect();
    if tokens.is_empty() {
        return Err(syn::Error::new(
            segment[1].span(),
            format!("expected a value after `{} =`", segment[0]),
        ));
    }
    syn::parse2(tokens)
}

fn argument_name(value: &Expr) -> Option<Ident> {
    match crate::args::peel(value) {
        Expr::Path(path) if path.qself.is_none() => path.path.get_ident().cloned(),
        _ => None,
    }
}

fn count(value: &Expr) -> Option<u32> {
    match crate::args::peel(value) {
        Expr::Lit(syn::ExprLit {
            lit: Lit::Int(int), ..
        }) if matches!(int.suffix(), "" | "u32") => int.base10_parse().ok(),
        _ => None,
    }
}

/// Checks that each `key = arg` names an argument of the function.
pub(crate) fn check(func: &ItemFn, layers: &[Layer], errors: &mut Errors) {
    for layer in layers {
        let Some(key) = &layer.common().key else {
            continue;
        };
        let mut names = Vec::new();
        for input in &func.sig.inputs {
            if let FnArg::Typed(typed) = input
                && let Pat::Ident(ident) = &*typed.pat
            {
                names.push(ident.ident.clone());
            }
        }
        if !names.contains(&key.arg) {
            let listed = if names.is_empty() {
                "it has no named arguments".to_owned()
            } else {
                format!(
                    "its arguments are {}",
                    names
                        .iter()
                        .map(|n| format!("`{}`", n.unraw()))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            errors.push(syn::Error::new(
                key.arg.span(),
                format!(
                    "`key = {}` names no argument of `{}`; {listed}",
                    key.arg.unraw(),
                    func.sig.ident.unraw()
                ),
            ));
        }
    }
}

/// How a layer's code reaches its policy.
pub(crate) enum Policy {
    /// An expression of type `&'static P`.
    Direct(TokenStream),
    /// The member the argument picks: `__resil_keyN(&arg)`.
    Keyed { member: TokenStream },
}

impl Policy {
    /// An expression of the policy: `&'static P`, or for a key an
    /// `Arc<CircuitBreaker>` (used through auto-deref).
    pub(crate) fn expr(self) -> TokenStream {
        match self {
            Policy::Direct(policy) => policy,
            Policy::Keyed { member } => member,
        }
    }
}

/// The kind's names in the runtime.
fn runtime_names(kind: Kind) -> (&'static str, &'static str) {
    match kind {
        Kind::CircuitBreaker => ("CircuitBreakerSite", "circuit_breaker_policy"),
        Kind::Bulkhead => ("BulkheadSite", "bulkhead_policy"),
        _ => ("RetrySite", "retry_policy"),
    }
}

/// Emits the `static`s of one circuit breaker, bulkhead or retry layer
/// into `statics`, each registered for the start-up walk, and returns how
/// the layer's code reaches its policy.
///
/// Output, inline settings: `static SITE: RetrySite = RetrySite::new(..);`
/// and a `DECLARATIONS` entry `&SITE`; the policy is `SITE.get()`.
/// Output, a path: a `DECLARATIONS` entry `declare_retry(&PATH)`; the
/// policy is `retry_policy(&PATH).get()`, spanned on the path so a wrong
/// kind or a typo is reported there.
/// Output, a key: `static SITE: KeyedCircuitBreakerSite = ..;`, its entry,
/// and a local trait that names the argument in the error when its type
/// cannot be a key.
#[allow(clippy::too_many_arguments)]
pub(crate) fn site(
    statics: &mut TokenStream,
    private: &TokenStream,
    layer: &Layer,
    site: &Ident,
    constructor: &Ident,
    name: &TokenStream,
    config: TokenStream,
) -> Policy {
    let kind = layer.kind();
    let (site_type, resolve) = runtime_names(kind);
    let site_type = Ident::new(site_type, Span::call_site());
    let resolve = Ident::new(resolve, Span::call_site());
    let register = format_ident!("{}_DECLARE", site);
    let common = layer.common();
    let linkme = quote! {
        #[#private::linkme::distributed_slice(#private::DECLARATIONS)]
        #[linkme(crate = #private::linkme)]
    };
    if let Some(path) = &common.policy {
        let span = path.span();
        // Registered whatever its kind: the kind is checked once, below,
        // where the error message can say which kind was expected.
        let declaration = quote_spanned!(span=> #private::declared_policy(&#path));
        statics.extend(quote! {
            #linkme
            static #register: &'static dyn #private::Declaration = #declaration;
        });
        return Policy::Direct(quote_spanned!(span=> #private::#resolve(&#path).get()));
    }
    if let Some(key) = &common.key {
        let max_keys = key.max_keys.unwrap_or(1_000);
        let ttl = match key.ttl {
            Some(ttl) => {
                let nanos = u64::try_from(ttl.as_nanos()).unwrap_or(u64::MAX);
                quote!(::core::option::Option::Some(::core::time::Duration::from_nanos(#nanos)))
            }
            None => quote!(::core::option::Option::None),
        };
        let arg = &key.arg;
        let arg_name = arg.unraw().to_string();
        let index: String = site
            .to_string()
            .chars()
            .filter(char::is_ascii_digit)
            .collect();
        let key_trait = format_ident!("__ResilKey{}", index);
        let key_fn = format_ident!("__resil_key{}", index);
        let message = format!(
            "the `key` argument `{arg_name}` is a `{{Self}}`, which cannot pick a circuit breaker"
        );
        let label = format!("`key = {arg_name}` needs `Hash + Eq + Display`");
        statics.extend(quote! {
            static #site: #private::KeyedCircuitBreakerSite =
                #private::KeyedCircuitBreakerSite::#constructor(#name, #config, #max_keys, #ttl);
            #linkme
            static #register: &'static dyn #private::Declaration = &#site;
            #[diagnostic::on_unimplemented(
                message = #message,
                label = #label,
                note = "each distinct value gets a breaker of its own, named by its `Display` form"
            )]
            #[allow(non_camel_case_types)]
            trait #key_trait: ::core::hash::Hash + ::core::cmp::Eq + ::core::fmt::Display {}
            impl<T: ?::core::marker::Sized + ::core::hash::Hash + ::core::cmp::Eq + ::core::fmt::Display>
                #key_trait for T {}
            // The only bound the call checks is the one that names the
            // argument: the runtime's own follow from it.
            #[inline(always)]
            fn #key_fn<K: ?::core::marker::Sized + #key_trait>(
                key: &K,
            ) -> ::std::sync::Arc<#private::CircuitBreaker> {
                #site.policy_for(key)
            }
        });
        let span = arg.span();
        return Policy::Keyed {
            member: quote_spanned!(span=> #key_fn(&#arg)),
        };
    }
    statics.extend(quote! {
        static #site: #private::#site_type = #private::#site_type::#constructor(#name, #config);
        #linkme
        static #register: &'static dyn #private::Declaration = &#site;
    });
    Policy::Direct(quote!(#site.get()))
}

/// Registers a site `static` for the start-up walk, so the registry knows
/// its policy before the first call.
pub(crate) fn register(statics: &mut TokenStream, private: &TokenStream, site: &Ident) {
    let register = format_ident!("{}_DECLARE", site);
    statics.extend(quote! {
        #[#private::linkme::distributed_slice(#private::DECLARATIONS)]
        #[linkme(crate = #private::linkme)]
        static #register: &'static dyn #private::Declaration = &#site;
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(kind: Kind, tokens: TokenStream) -> (Extracted, String, Vec<String>) {
        let mut errors = Errors::default();
        let (extracted, rest) = extract(kind, tokens, &mut errors);
        (extracted, rest.to_string(), errors.messages())
    }

    #[test]
    fn a_leading_path_is_the_declared_policy() {
        let (e, rest, errors) = run(
            Kind::CircuitBreaker,
            quote!(policies::PAYMENTS, ignore = is_client),
        );
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(
            e.policy.unwrap().to_token_stream().to_string(),
            "policies :: PAYMENTS"
        );
        assert_eq!(rest, "ignore = is_client");

        let (e, rest, errors) = run(Kind::Retry, quote!(max = 3));
        assert!(e.policy.is_none() && errors.is_empty());
        assert_eq!(rest, "max = 3");

        // Not a path: left for `args.rs` to report.
        let (e, rest, _) = run(Kind::Retry, quote!(max 3, jitter = none));
        assert!(e.policy.is_none());
        assert_eq!(rest, "max 3 , jitter = none");
    }

    #[test]
    fn settings_next_to_a_path_are_errors() {
        let (_, _, errors) = run(
            Kind::CircuitBreaker,
            quote!(PAYMENTS, threshold = 3, name = "x"),
        );
        assert_eq!(
            errors,
            [
                "`threshold` cannot be set here: `PAYMENTS` is a declared policy, whose settings \
                 are in its declaration; next to a path only `ignore`, `crate` may be given",
                "`name` cannot be set here: `PAYMENTS` is a declared policy, whose settings are \
                 in its declaration; next to a path only `ignore`, `crate` may be given",
            ]
        );
    }

    #[test]
    fn key_arguments() {
        let (e, rest, errors) = run(
            Kind::CircuitBreaker,
            quote!(key = tenant, threshold = 2, max_keys = 50, key_ttl = 10m),
        );
        assert!(errors.is_empty(), "{errors:?}");
        let key = e.key.unwrap();
        assert_eq!(key.arg.to_string(), "tenant");
        assert_eq!(key.max_keys, Some(50));
        assert_eq!(key.ttl, Some(Duration::from_secs(600)));
        assert_eq!(rest, "threshold = 2");

        let (_, _, errors) = run(
            Kind::CircuitBreaker,
            quote!(key = "tenant", max_keys = 0, key = t),
        );
        assert_eq!(
            errors,
            [
                "expected the name of one of the function's arguments for `key`, like `key = tenant`",
                "`max_keys` must be at least 1",
            ]
        );
        let (_, _, errors) = run(Kind::CircuitBreaker, quote!(max_keys = 5));
        assert_eq!(errors, ["`max_keys` only applies with `key`"]);
        // Other kinds leave `key` to `args.rs`, which does not know it.
        let (e, rest, _) = run(Kind::Bulkhead, quote!(key = tenant));
        assert!(e.key.is_none());
        assert_eq!(rest, "key = tenant");
    }
}
