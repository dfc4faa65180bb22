//! Splits an attribute's arguments into `key = value` pairs (and a
//! declared policy's leading path), reporting each malformed pair, unknown
//! and repeated key on its own token.

use std::collections::HashMap;

use proc_macro2::TokenStream;
use syn::ext::IdentExt;
use syn::parse::{ParseStream, Parser};
use syn::spanned::Spanned;
use syn::{Expr, Ident, Path, Token};

use super::args::Common;
use super::expr::Arg;
use super::kind::Kind;
use super::value::{crate_path, name};
use crate::errors::Errors;

/// Parses `key = value, ...`, reports syntax errors, unknown and repeated
/// keys, handles the keys every attribute has (and a declared policy's
/// leading path), and hands the others to `f`.
pub(super) fn for_each_arg(
    kind: Kind,
    tokens: TokenStream,
    errors: &mut Errors,
    common: &mut Common,
    mut f: impl FnMut(&Arg, &mut Errors),
) {
    let (policy, args) = parse_pairs(tokens, kind, errors);
    common.policy = policy;
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
        if !matches!(arg.key_str.as_str(), "key" | "max_keys" | "key_ttl") {
            common.given.push(arg.key.clone());
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
/// for it; when it can name a declared policy, a first path does.
fn parse_pairs(tokens: TokenStream, kind: Kind, errors: &mut Errors) -> (Option<Path>, Vec<Arg>) {
    let positional = kind.positional_key();
    let mut args = Vec::new();
    let mut policy = None;
    let parser = |input: ParseStream<'_>| {
        if kind.takes_path() {
            policy = declared_path(input)?;
        }
        let mut first = policy.is_none();
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
    (policy, args)
}

/// `PAYMENTS` or `policies::PAYMENTS` as the first argument, up to the
/// first comma: a declared policy. Anything else is left for the pairs.
fn declared_path(input: ParseStream<'_>) -> syn::Result<Option<Path>> {
    if input.peek(Ident::peek_any) && input.peek2(Token![=]) {
        return Ok(None);
    }
    let fork = input.fork();
    let Ok(path) = fork.parse::<Path>() else {
        return Ok(None);
    };
    if !(fork.is_empty() || fork.peek(Token![,])) {
        return Ok(None);
    }
    input.parse::<Path>()?;
    if !input.is_empty() {
        input.parse::<Token![,]>()?;
    }
    Ok(Some(path))
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
