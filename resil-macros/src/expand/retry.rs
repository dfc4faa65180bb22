//! The retry loop and the tracing span of each attempt.

use proc_macro2::TokenStream;
use quote::{ToTokens, quote};

use crate::parse::Layer;

// Input: `#[retry]` over `attempt`, an expression of
// `(Result<T, E>, Rejection)` (see `Scopes::catch`).
// Output, of the same type:
//
//     {
//         let mut __resil_run = POLICY.start();
//         loop {
//             let req = clone_arg(&req);
//             let __resil_span = attempt_span(.., __resil_run.attempt(), parent);
//             let (__resil_attempt, __resil_rejection) = attempt;
//             match __resil_attempt {
//                 Ok(value) => { RetryStepping::succeeded(&__resil_run); break (Ok(value), __resil_rejection) }
//                 Err(error) => match RetryStepping::after_failure(&mut __resil_run, error, ..) {
//                     RetryStep::Done(error) => break (Err(error), __resil_rejection),
//                 RetryStep::Retry(delay) => sleep(delay).await,
//             }
//         }
//     }
pub(super) fn retry_loop(
    private: &TokenStream,
    policy: &TokenStream,
    [retry_if, retry_after]: [&TokenStream; 2],
    clones: &TokenStream,
    span_of_attempt: TokenStream,
    attempt: TokenStream,
) -> TokenStream {
    // The attempt's result and span live in a block that ends before the
    // wait: kept in scope across the sleep's await, they would be stored
    // in the call's future and copied in and out on every call.
    quote! {
        {
            let mut __resil_run = #policy.start();
            loop {
                let __resil_delay = {
                    #clones
                    #span_of_attempt
                    let (__resil_attempt, __resil_rejection) = #attempt;
                    // The result is taken apart, never borrowed: a result
                    // whose address is taken stays in memory, and copying
                    // it out cost every call several nanoseconds.
                    match __resil_attempt {
                        ::core::result::Result::Ok(__resil_value) => {
                            #private::RetryStepping::succeeded(&__resil_run);
                            break (::core::result::Result::Ok(__resil_value), __resil_rejection);
                        }
                        ::core::result::Result::Err(__resil_error) => {
                            match #private::RetryStepping::after_failure(
                                &mut __resil_run,
                                __resil_error,
                                __resil_rejection,
                                #retry_if,
                                #retry_after,
                                |__resil_e| #private::describe!(__resil_e),
                            ) {
                                #private::RetryStep::Done(__resil_error) => {
                                    break (::core::result::Result::Err(__resil_error), __resil_rejection);
                                }
                                #private::RetryStep::Retry(__resil_delay) => __resil_delay,
                            }
                        }
                    }
                };
                #private::sleep(__resil_delay).await;
            }
        }
    }
}

/// The tracing hook: the span of one attempt of the innermost enclosing
/// retry (or of the whole call when there is no retry), naming every
/// policy of the stack and the attempt number, a child of `parent` (the
/// enclosing retry's attempt) if there is one. Built by
/// `__private::attempt_span`, which is all that knows about `tracing`;
/// `__private::traced` polls the body and the slow entries in it.
///
/// Output: `__private::attempt_span(&[("retry", "name"), ...], #attempt, #parent)`
pub(super) fn attempt_span(
    private: &TokenStream,
    layers: &[Layer],
    fn_name: &str,
    attempt: TokenStream,
    parent: TokenStream,
) -> TokenStream {
    let policies = layers.iter().map(|layer| {
        let kind = layer.kind().name();
        // A declared policy is labelled by its path: its registered name is
        // not a constant this `&'static` table can hold.
        let name = match (&layer.common().policy, &layer.common().name) {
            (Some(path), _) => quote!(::core::stringify!(#path)),
            (None, Some(name)) => name.to_token_stream(),
            (None, None) => quote!(::core::concat!(::core::module_path!(), "::", #fn_name)),
        };
        quote!((#kind, #name))
    });
    quote!(#private::attempt_span(&[#(#policies),*], #attempt, #parent))
}
