//! Reads one value of each type a key takes (count, number, duration,
//! choice, path), with an error that names the key and what was found.

use std::time::Duration;

use proc_macro2::Span;
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{Expr, ExprPath, Ident, Lit, LitStr, Path};

use super::args::{Value, Window};
use super::duration;
use super::expr::{Arg, peel, what};

fn value<T>(arg: &Arg, value: T, span: Span) -> Value<T> {
    Value {
        value,
        key: arg.key.span(),
        span,
    }
}

/// A `u32` count.
pub(super) fn count(arg: &Arg) -> syn::Result<Value<u32>> {
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
pub(super) fn rate(arg: &Arg) -> syn::Result<Value<u32>> {
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
pub(super) fn number(arg: &Arg) -> syn::Result<Value<f64>> {
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

pub(super) fn boolean(arg: &Arg) -> syn::Result<Value<bool>> {
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

pub(super) fn duration(arg: &Arg) -> syn::Result<Value<Duration>> {
    let parsed = duration::parse(&arg.key_str, &arg.value)?;
    Ok(value(arg, parsed, arg.value.span()))
}

/// A bare word out of a fixed set, like `backoff = linear`.
pub(super) fn choice<T: Copy>(arg: &Arg, choices: &[(&str, T)]) -> syn::Result<Value<T>> {
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
pub(super) const PREDICATE: &str = "a function `fn(&E) -> bool`";
pub(super) const RETRY_AFTER: &str = "a function `fn(&E) -> Option<Duration>`";
pub(super) const FALLBACK_FN: &str = "an `async fn` taking the function's arguments and its error";

/// A path to a function, like `retry_if = errors::is_transient`.
pub(super) fn fn_path(arg: &Arg, expected: &str) -> syn::Result<ExprPath> {
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
pub(super) fn window(arg: &Arg) -> syn::Result<Value<Window>> {
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

pub(super) fn name(arg: &Arg) -> syn::Result<LitStr> {
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
pub(super) fn crate_path(arg: &Arg) -> syn::Result<Path> {
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

/// `key = tenant`: the name of one of the function's arguments.
pub(super) fn argument_name(arg: &Arg) -> syn::Result<Ident> {
    match peel(&arg.value) {
        Expr::Path(path) if path.qself.is_none() && path.path.get_ident().is_some() => {
            Ok(path.path.get_ident().cloned().expect("checked just above"))
        }
        _ => Err(syn::Error::new_spanned(
            &arg.value,
            "expected the name of one of the function's arguments for `key`, like `key = tenant`",
        )),
    }
}
