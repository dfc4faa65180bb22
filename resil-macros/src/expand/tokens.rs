//! Token and type helpers: owned bindings, spans stretched over a type,
//! `impl Trait` in a return type.

use proc_macro2::{Delimiter, Group, Ident, Span, TokenStream, TokenTree};
use quote::ToTokens;
use syn::visit::Visit;
use syn::{FnArg, ItemFn, Pat, Token, Type};

/// The bindings of owned arguments (not `self`, references or `impl Trait`),
/// each with the `mut` taken off the signature's pattern.
pub(super) fn owned_bindings(func: &mut ItemFn) -> Vec<(Option<Token![mut]>, Ident)> {
    let mut bindings = Vec::new();
    for arg in &mut func.sig.inputs {
        let FnArg::Typed(arg) = arg else { continue };
        if matches!(peel(&arg.ty), Type::Reference(_) | Type::ImplTrait(_)) {
            continue;
        }
        collect_bindings(&mut arg.pat, &mut bindings);
    }
    bindings
}

pub(super) fn collect_bindings(pat: &mut Pat, out: &mut Vec<(Option<Token![mut]>, Ident)>) {
    match pat {
        Pat::Ident(pat) => {
            // A `ref` binding borrows from the argument, which outlives the loop.
            if pat.by_ref.is_none() {
                out.push((pat.mutability.take(), pat.ident.clone()));
            }
            if let Some((_, subpat)) = &mut pat.subpat {
                collect_bindings(subpat, out);
            }
        }
        Pat::Tuple(pat) => pat.elems.iter_mut().for_each(|p| collect_bindings(p, out)),
        Pat::TupleStruct(pat) => pat.elems.iter_mut().for_each(|p| collect_bindings(p, out)),
        Pat::Slice(pat) => pat.elems.iter_mut().for_each(|p| collect_bindings(p, out)),
        Pat::Struct(pat) => pat
            .fields
            .iter_mut()
            .for_each(|field| collect_bindings(&mut field.pat, out)),
        Pat::Reference(pat) => collect_bindings(&mut pat.pat, out),
        Pat::Paren(pat) => collect_bindings(&mut pat.pat, out),
        Pat::Type(pat) => collect_bindings(&mut pat.pat, out),
        _ => {}
    }
}

pub(super) fn first_and_last_span(ty: &Type) -> (Span, Span) {
    let mut spans = ty.to_token_stream().into_iter().map(|tt| tt.span());
    let start = spans.next().unwrap_or_else(Span::call_site);
    (start, spans.last().unwrap_or(start))
}

/// `path(args)` spanned from `start` to `end`: rustc joins the span of an
/// expression's first token to its last one's, so the call covers the whole
/// return type (the trick of `syn::Error::new_spanned`).
pub(super) fn spanned_call(
    path: TokenStream,
    args: TokenStream,
    start: Span,
    end: Span,
) -> TokenStream {
    let mut call: TokenStream = path
        .into_iter()
        .map(|mut token| {
            token.set_span(start);
            token
        })
        .collect();
    let mut args = Group::new(Delimiter::Parenthesis, args);
    args.set_span(end);
    call.extend([TokenTree::Group(args)]);
    call
}

/// `tokens` with its first token spanned at `start` and its last at `end`
/// (the tokens between keep theirs): rustc spans an expression from its
/// first token to its last, so an error about it covers `start..end`.
pub(super) fn respanned(tokens: TokenStream, start: Span, end: Span) -> TokenStream {
    let mut tokens: Vec<TokenTree> = tokens.into_iter().collect();
    if let Some(first) = tokens.first_mut() {
        first.set_span(start);
    }
    if let Some(last) = tokens.last_mut() {
        last.set_span(end);
    }
    tokens.into_iter().collect()
}

pub(super) fn peel(ty: &Type) -> &Type {
    match ty {
        Type::Group(group) => peel(&group.elem),
        Type::Paren(paren) => peel(&paren.elem),
        _ => ty,
    }
}

pub(super) fn without_impl_trait(ty: &Type) -> Type {
    struct Replacer;
    impl syn::visit_mut::VisitMut for Replacer {
        fn visit_type_mut(&mut self, ty: &mut Type) {
            if matches!(ty, Type::ImplTrait(_)) {
                *ty = syn::parse_quote!(());
            } else {
                syn::visit_mut::visit_type_mut(self, ty);
            }
        }
    }
    let mut ty = ty.clone();
    syn::visit_mut::VisitMut::visit_type_mut(&mut Replacer, &mut ty);
    ty
}

pub(super) fn contains_impl_trait(ty: &Type) -> bool {
    struct Finder(bool);
    impl Visit<'_> for Finder {
        fn visit_type_impl_trait(&mut self, _: &syn::TypeImplTrait) {
            self.0 = true;
        }
    }
    let mut finder = Finder(false);
    finder.visit_type(ty);
    finder.0
}
