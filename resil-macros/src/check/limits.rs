//! `#[bulkhead]`, `#[timeout]`, `#[fallback]` and `#[rate_limit]`: the
//! attributes that limit how much runs, or for how long.

use std::time::Duration;

use super::{in_range, positive};
use crate::errors::Errors;
use crate::parse::{BulkheadArgs, FallbackArgs, RateLimitArgs, TimeoutArgs};

const MAX_SLOTS: u32 = (1 << 31) - 1;

pub(super) fn bulkhead(args: &BulkheadArgs, errors: &mut Errors) {
    in_range("max", args.max, 1, MAX_SLOTS, errors);
    in_range("queue", args.queue, 0, MAX_SLOTS, errors);
    positive("wait", args.wait, errors);
    if let Some(wait) = args.wait
        && args.queue.is_none_or(|queue| queue.value == 0)
    {
        errors.push(syn::Error::new(
            wait.key,
            "`wait` only applies with `queue`: without a queue, calls over `max` are \
                 rejected at once",
        ));
    }
}

pub(super) fn timeout(args: &TimeoutArgs, errors: &mut Errors) {
    match args.duration {
        None if args.duration_given => {}
        None => errors.push(syn::Error::new(
            args.common.span(),
            "`#[timeout]` needs a duration: `#[timeout(2s)]` or `#[timeout(duration = 2s)]`",
        )),
        Some(duration) => {
            positive("duration", Some(duration), errors);
        }
    }
}

pub(super) fn fallback(args: &FallbackArgs, errors: &mut Errors) {
    if args.path.is_none() && !args.path_given {
        errors.push(syn::Error::new(
            args.common.span(),
            "`#[fallback]` needs the function to call: `#[fallback(path::to::function)]`, an \
             `async fn` that takes the same arguments and then the error",
        ));
    }
}

pub(super) fn rate_limit(args: &RateLimitArgs, errors: &mut Errors) {
    let Some(rate) = args.rate else {
        if args.rate_given {
            return;
        }
        errors.push(syn::Error::new(
            args.common.span(),
            "`#[rate_limit]` needs `rate`: the calls allowed `per` period, like \
             `#[rate_limit(rate = 100, per = 1s)]`",
        ));
        return;
    };
    let rate_ok = in_range("rate", Some(rate), 1, u32::MAX, errors);
    let per_ok = positive("per", args.per, errors);
    in_range("burst", args.burst, 1, u32::MAX, errors);
    positive("wait", args.wait, errors);
    if !(rate_ok && per_ok) {
        return;
    }
    let per = args.per.map_or(Duration::from_secs(1), |v| v.value);
    // One call every `per / rate`, kept in whole nanoseconds.
    if u128::from(rate.value) > per.as_nanos() {
        errors.push(syn::Error::new(
            rate.span,
            format!(
                "`rate` ({}) per {per:?} is more than one call a nanosecond; lower `rate` or \
                 lengthen `per`",
                rate.value
            ),
        ));
    }
}
