//! The guards: a circuit breaker's permit and a bulkhead's slot around the
//! layers below.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::scopes::Layering;

// Every guard's code is an expression of the function's own
// `Result<T, E>`, evaluated in place inside the function's `async` body:
// a policy's entry and exit are statements around the layers below, not
// a future wrapping theirs, so the result is never re-wrapped on its way
// out and the whole stack is one small state machine.

// Input: `#[circuit_breaker]` over `inner`.
// Output:
//
//     {
//         let __resil_breaker_1 = POLICY;
//         let __resil_permit = match match BreakerEntry::try_enter(&*__resil_breaker_1) {
//             Some(permit) => Ok(permit),
//             None => traced_by_ref(&__resil_span, pin!(BreakerEntry::enter_slow(&*__resil_breaker_1))).await,
//         } {
//             Ok(permit) => permit,
//             Err(__resil_refusal) => REFUSED,   // see `Scopes`: the error is
//         };                                    // `BreakerEntry::refusal_error(..)`
//         let __resil_result = inner;
//         settle(__resil_permit, &__resil_result, ignore);
//         __resil_result
//     }
//
// The entry is unpacked by a `let`, not by a `match` around `inner`: a
// `match`'s scrutinee lives until the match ends, so the whole
// `Result<permit, Error>` would be kept in the future across `inner`'s
// awaits.
pub(super) fn circuit_breaker(
    cx: &Layering<'_>,
    policy: &TokenStream,
    ignore: &TokenStream,
    [refused, slow]: [TokenStream; 2],
    inner: TokenStream,
) -> TokenStream {
    let private = cx.private;
    let breaker = format_ident!("__resil_breaker_{}", cx.index);
    quote! {
        {
            let #breaker = #policy;
            let __resil_permit = match match #private::BreakerEntry::try_enter(&*#breaker) {
                ::core::option::Option::Some(__resil_permit) => ::core::result::Result::Ok(__resil_permit),
                ::core::option::Option::None => #slow,
            } {
                ::core::result::Result::Ok(__resil_permit) => __resil_permit,
                ::core::result::Result::Err(__resil_refusal) => #refused
            };
            let __resil_result = #inner;
            #private::settle(__resil_permit, &__resil_result, #ignore);
            __resil_result
        }
    }
}

// Input: `#[bulkhead]` over `inner`. The slot is held while `inner` runs.
// Output:
//
//     {
//         let __resil_bulkhead_2 = POLICY;
//         let __resil_slot = match match BulkheadEntry::try_enter(&*__resil_bulkhead_2) {
//             Some(slot) => Ok(slot),
//             None => traced_by_ref(&__resil_span, pin!(BulkheadEntry::enter_slow(&*__resil_bulkhead_2))).await,
//         } {
//             Ok(slot) => slot,
//             Err(__resil_refusal) => REFUSED,   // see `Scopes`
//         };
//         let __resil_result = inner;
//         drop(__resil_slot);
//         __resil_result
//     }
pub(super) fn bulkhead(
    cx: &Layering<'_>,
    policy: &TokenStream,
    [refused, slow]: [TokenStream; 2],
    inner: TokenStream,
) -> TokenStream {
    let private = cx.private;
    let bulkhead = format_ident!("__resil_bulkhead_{}", cx.index);
    quote! {
        {
            let #bulkhead = #policy;
            let __resil_slot = match match #private::BulkheadEntry::try_enter(&*#bulkhead) {
                ::core::option::Option::Some(__resil_slot) => ::core::result::Result::Ok(__resil_slot),
                ::core::option::Option::None => #slow,
            } {
                ::core::result::Result::Ok(__resil_slot) => __resil_slot,
                ::core::result::Result::Err(__resil_refusal) => #refused
            };
            let __resil_result = #inner;
            ::core::mem::drop(__resil_slot);
            __resil_result
        }
    }
}
