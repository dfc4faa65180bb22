//! One `key = value` pair as written, and what its value's expression is,
//! for error messages.

use quote::ToTokens;
use syn::{Expr, Ident, Lit};

/// Looks through invisible groups (from `macro_rules!`) and parentheses.
pub(super) fn peel(expr: &Expr) -> &Expr {
    match expr {
        Expr::Group(group) => peel(&group.expr),
        Expr::Paren(paren) => peel(&paren.expr),
        _ => expr,
    }
}

/// Names what was written instead of the expected value.
pub(super) fn what(expr: &Expr) -> String {
    match peel(expr) {
        Expr::Lit(lit) => match &lit.lit {
            Lit::Str(_) => "a string".to_owned(),
            Lit::Int(int) => format!("the integer `{int}`"),
            Lit::Float(float) => format!("the float `{float}`"),
            Lit::Bool(b) => format!("`{}`", b.value),
            Lit::Char(_) => "a character".to_owned(),
            _ => "a literal".to_owned(),
        },
        Expr::Unary(syn::ExprUnary {
            op: syn::UnOp::Neg(_),
            ..
        }) => "a negative number".to_owned(),
        Expr::Path(path) => {
            let text = path.to_token_stream().to_string().replace(' ', "");
            format!("`{text}`")
        }
        _ => "an expression".to_owned(),
    }
}

/// One `key = value` pair.
pub(super) struct Arg {
    pub(super) key: Ident,
    pub(super) key_str: String,
    pub(super) value: Expr,
}
