//! The two ways a layer gets its policy besides inline settings: a declared
//! policy's path, next to which only what the function itself decides may
//! stand, and a keyed breaker's `key`, which must name an argument.

use quote::ToTokens;
use syn::ext::IdentExt;
use syn::{FnArg, ItemFn, Pat};

use crate::errors::Errors;
use crate::parse::{CircuitBreakerArgs, Layer};

/// Next to a declared policy's path, only the keys the kind allows: the
/// settings are in the declaration.
pub(super) fn with_path(layer: &Layer, errors: &mut Errors) {
    let common = layer.common();
    let Some(path) = &common.policy else { return };
    let kind = layer.kind();
    let shown = path.to_token_stream().to_string().replace(' ', "");
    let allowed = kind.allowed_with_path();
    for given in &common.given {
        let given_str = given.unraw().to_string();
        if !allowed.contains(&given_str.as_str()) {
            errors.push(syn::Error::new(
                given.span(),
                format!(
                    "`{given_str}` cannot be set here: `{shown}` is a declared policy, whose \
                     settings are in its declaration; next to a path only {} may be given",
                    allowed
                        .iter()
                        .map(|k| format!("`{k}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
    }
    if let Layer::CircuitBreaker(CircuitBreakerArgs { key: Some(key), .. }) = layer {
        errors.push(syn::Error::new(
            key.span(),
            format!(
                "`key` cannot be combined with the declared policy `{shown}`: a keyed \
                 breaker is declared inline, `#[circuit_breaker(name = \"...\", key = {key}, ...)]`"
            ),
        ));
    }
}

/// Checks that each `key = arg` names an argument of the function.
pub(super) fn check_keys(func: &ItemFn, layers: &[Layer], errors: &mut Errors) {
    for layer in layers {
        let Layer::CircuitBreaker(CircuitBreakerArgs { key: Some(key), .. }) = layer else {
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
        if !names.contains(key) {
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
                key.span(),
                format!(
                    "`key = {}` names no argument of `{}`; {listed}",
                    key.unraw(),
                    func.sig.ident.unraw()
                ),
            ));
        }
    }
}
