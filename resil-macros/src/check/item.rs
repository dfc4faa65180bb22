//! Checks that the annotated item is something the policies can wrap.

use syn::{FnArg, ItemFn, Pat, ReturnType, Type};

use crate::errors::Errors;
use crate::parse::Kind;

pub(crate) fn not_a_fn(kind: Kind) -> String {
    format!("`#[{kind}]` can only be applied to an `async fn`")
}

pub(super) fn check(kind: Kind, func: &ItemFn, errors: &mut Errors) {
    let sig = &func.sig;
    if let Some(constness) = &sig.constness {
        errors.push(syn::Error::new(
            constness.span,
            format!("`#[{kind}]` cannot be applied to a `const fn`"),
        ));
    }
    if sig.asyncness.is_none() {
        errors.push(syn::Error::new(sig.fn_token.span, not_a_fn(kind)));
    }
    if let Some(variadic) = &sig.variadic {
        errors.push(syn::Error::new_spanned(
            variadic,
            format!("`#[{kind}]` cannot be applied to a variadic function"),
        ));
    }
    let needs_result = format!(
        "`#[{kind}]` needs the function to return `Result<T, E>` where `E: From<resil::Error>`"
    );
    match &sig.output {
        ReturnType::Default => errors.push(syn::Error::new_spanned(sig, needs_result)),
        ReturnType::Type(_, ty) => {
            // Any path is accepted here (`io::Result<T>`, aliases); the
            // runtime's `ResultLike` bound rejects the rest with a type error.
            if !matches!(peel(ty), Type::Path(_)) {
                errors.push(syn::Error::new_spanned(ty, needs_result));
            }
        }
    }
}

/// `#[fallback]` passes every argument again, so each must have a name.
pub(super) fn check_fallback(func: &ItemFn, errors: &mut Errors) {
    for arg in &func.sig.inputs {
        let FnArg::Typed(arg) = arg else { continue };
        match &*arg.pat {
            Pat::Ident(pat) if pat.by_ref.is_none() && pat.subpat.is_none() => {}
            pat => errors.push(syn::Error::new_spanned(
                pat,
                "`#[fallback]` passes every argument to the fallback, so each needs a plain \
                 name: write `name: Type` and take it apart in the body",
            )),
        }
    }
}

fn peel(ty: &Type) -> &Type {
    match ty {
        Type::Group(group) => peel(&group.elem),
        Type::Paren(paren) => peel(&paren.elem),
        _ => ty,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    fn check_fn(tokens: proc_macro2::TokenStream) -> Vec<String> {
        let func: ItemFn = syn::parse2(tokens).unwrap();
        let mut errors = Errors::default();
        check(Kind::Retry, &func, &mut errors);
        errors.messages()
    }

    const NEEDS_RESULT: &str =
        "`#[retry]` needs the function to return `Result<T, E>` where `E: From<resil::Error>`";

    #[test]
    fn accepts_async_fns_returning_paths() {
        assert!(
            check_fn(quote!(
                async fn f() -> Result<u8, E> {
                    Ok(1)
                }
            ))
            .is_empty()
        );
        assert!(
            check_fn(quote!(
                async fn f() -> io::Result<()> {
                    Ok(())
                }
            ))
            .is_empty()
        );
        assert!(
            check_fn(quote!(
                pub async unsafe fn f() -> (Result<(), E>) {
                    Ok(())
                }
            ))
            .is_empty()
        );
    }

    #[test]
    fn rejects() {
        assert_eq!(
            check_fn(quote!(
                fn f() -> Result<(), E> {
                    Ok(())
                }
            )),
            ["`#[retry]` can only be applied to an `async fn`"]
        );
        assert_eq!(
            check_fn(quote!(
                const fn f() -> Result<(), E> {
                    Ok(())
                }
            )),
            [
                "`#[retry]` cannot be applied to a `const fn`",
                "`#[retry]` can only be applied to an `async fn`"
            ]
        );
        assert_eq!(
            check_fn(quote!(
                async fn f() {}
            )),
            [NEEDS_RESULT]
        );
        assert_eq!(
            check_fn(quote!(
                async fn f() -> (u8, u8) {
                    (1, 2)
                }
            )),
            [NEEDS_RESULT]
        );
        assert_eq!(
            check_fn(quote!(
                async fn f() -> &'static str {
                    ""
                }
            )),
            [NEEDS_RESULT]
        );
        assert_eq!(
            check_fn(quote!(
                async fn f() -> impl Sized {
                    1
                }
            )),
            [NEEDS_RESULT]
        );
    }
}
