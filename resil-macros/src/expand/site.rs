//! A layer's `static` call site, registered for the start-up walk, and the
//! expression by which the layer's code reaches its policy: the site's own,
//! a declared policy's (by path) or a keyed breaker's member.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::Ident;
use syn::ext::IdentExt;
use syn::spanned::Spanned;

use crate::parse::{CircuitBreakerArgs, Kind, Layer};

/// How a layer's `static` site is named and made.
pub(super) struct SiteDecl<'a> {
    pub(super) private: &'a TokenStream,
    pub(super) layer: &'a Layer,
    pub(super) site: &'a Ident,
    pub(super) constructor: &'a Ident,
    pub(super) name: &'a TokenStream,
}

impl SiteDecl<'_> {
    /// A policy that can also be declared by path or picked by a key (see
    /// `declared::site`): an expression of it.
    pub(super) fn policy(&self, statics: &mut TokenStream, config: TokenStream) -> TokenStream {
        site(self, statics, config).expr()
    }

    /// A `static` of `site_type`, registered for the start-up walk.
    pub(super) fn plain(&self, statics: &mut TokenStream, site_type: &str, config: TokenStream) {
        let SiteDecl {
            private,
            site,
            constructor,
            name,
            ..
        } = self;
        let site_type = Ident::new(site_type, Span::call_site());
        statics.extend(quote! {
            static #site: #private::#site_type = #private::#site_type::#constructor(#name, #config);
        });
        register(statics, private, site);
    }
}

/// How a layer's code reaches its policy.
enum Policy {
    /// An expression of type `&'static P`.
    Direct(TokenStream),
    /// The member the argument picks: `__resil_keyN(&arg)`.
    Keyed { member: TokenStream },
}

impl Policy {
    /// An expression of the policy: `&'static P`, or for a key an
    /// `Arc<CircuitBreaker>` (used through auto-deref).
    fn expr(self) -> TokenStream {
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

/// The attributes a `DECLARATIONS` entry carries, so the linker gathers it.
fn linkme(private: &TokenStream) -> TokenStream {
    quote! {
        #[#private::linkme::distributed_slice(#private::DECLARATIONS)]
        #[linkme(crate = #private::linkme)]
    }
}

/// Emits the `static`s of one circuit breaker, bulkhead or retry layer
/// into `statics`, each registered for the start-up walk, and returns how
/// the layer's code reaches its policy.
///
/// Output, inline settings: `static SITE: RetrySite = RetrySite::new(..);`
/// and a `DECLARATIONS` entry `&SITE`; the policy is `SITE.get()`.
/// Output, a path: see [`declared`]. Output, a key: see [`keyed`].
fn site(decl: &SiteDecl<'_>, statics: &mut TokenStream, config: TokenStream) -> Policy {
    let SiteDecl {
        private,
        layer,
        site,
        constructor,
        name,
    } = decl;
    if let Some(path) = &layer.common().policy {
        return declared(decl, statics, path);
    }
    if let Layer::CircuitBreaker(args @ CircuitBreakerArgs { key: Some(_), .. }) = layer {
        return keyed(decl, statics, args, config);
    }
    let (site_type, _) = runtime_names(layer.kind());
    let site_type = Ident::new(site_type, Span::call_site());
    let register = format_ident!("{}_DECLARE", site);
    let linkme = linkme(private);
    statics.extend(quote! {
        static #site: #private::#site_type = #private::#site_type::#constructor(#name, #config);
        #linkme
        static #register: &'static dyn #private::Declaration = &#site;
    });
    Policy::Direct(quote!(#site.get()))
}

/// Output, a path: a `DECLARATIONS` entry `declared_policy(&PATH)`; the
/// policy is `retry_policy(&PATH).get()`, spanned on the path so a wrong
/// kind or a typo is reported there.
fn declared(decl: &SiteDecl<'_>, statics: &mut TokenStream, path: &syn::Path) -> Policy {
    let private = decl.private;
    let (_, resolve) = runtime_names(decl.layer.kind());
    let resolve = Ident::new(resolve, Span::call_site());
    let register = format_ident!("{}_DECLARE", decl.site);
    let linkme = linkme(private);
    let span = path.span();
    // Registered whatever its kind: the kind is checked once, below,
    // where the error message can say which kind was expected.
    let declaration = quote_spanned!(span=> #private::declared_policy(&#path));
    statics.extend(quote! {
        #linkme
        static #register: &'static dyn #private::Declaration = #declaration;
    });
    Policy::Direct(quote_spanned!(span=> #private::#resolve(&#path).get()))
}

/// Output, a key: `static SITE: KeyedCircuitBreakerSite = ..;`, its entry,
/// and a local trait that names the argument in the error when its type
/// cannot be a key.
fn keyed(
    decl: &SiteDecl<'_>,
    statics: &mut TokenStream,
    args: &CircuitBreakerArgs,
    config: TokenStream,
) -> Policy {
    let SiteDecl {
        private,
        site,
        constructor,
        name,
        ..
    } = decl;
    let arg = args.key.as_ref().expect("a keyed layer has a key");
    let max_keys = args
        .max_keys
        .map_or(resil_rules::keyed::DEFAULT_MAX_KEYS, |v| v.value);
    let ttl = match args.key_ttl {
        Some(ttl) => {
            let nanos = u64::try_from(ttl.value.as_nanos()).unwrap_or(u64::MAX);
            quote!(::core::option::Option::Some(::core::time::Duration::from_nanos(#nanos)))
        }
        None => quote!(::core::option::Option::None),
    };
    let register = format_ident!("{}_DECLARE", site);
    let linkme = linkme(private);
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
    Policy::Keyed {
        member: quote_spanned!(span=> #key_fn(&#arg)),
    }
}

/// Registers a site `static` for the start-up walk, so the registry knows
/// its policy before the first call.
fn register(statics: &mut TokenStream, private: &TokenStream, site: &Ident) {
    let register = format_ident!("{}_DECLARE", site);
    statics.extend(quote! {
        #[#private::linkme::distributed_slice(#private::DECLARATIONS)]
        #[linkme(crate = #private::linkme)]
        static #register: &'static dyn #private::Declaration = &#site;
    });
}
