//! `#[bulkhead]`, `#[timeout]`, `#[fallback]` and `#[rate_limit]`: the
//! attributes that limit how much runs, or for how long.

use resil_rules::{
    bulkhead as bulkhead_rules, rate_limit as rate_limit_rules, timeout as timeout_rules,
};

use super::obey;
use crate::errors::Errors;
use crate::parse::{BulkheadArgs, FallbackArgs, RateLimitArgs, TimeoutArgs};

pub(super) fn bulkhead(args: &BulkheadArgs, errors: &mut Errors) {
    obey("max", args.max, bulkhead_rules::max_concurrent, errors);
    obey("queue", args.queue, bulkhead_rules::queue, errors);
    let Some(wait) = args.wait else { return };
    match args.queue.map_or(0, |queue| queue.value) {
        0 => errors.push(syn::Error::new(
            wait.key,
            "`wait` only applies with `queue`: without a queue, calls over `max` are \
                 rejected at once",
        )),
        queue => {
            obey(
                "wait",
                Some(wait),
                |w| bulkhead_rules::wait(w, queue),
                errors,
            );
        }
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
            obey("duration", Some(duration), timeout_rules::duration, errors);
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
    let rate_ok = obey("rate", Some(rate), rate_limit_rules::rate, errors);
    let per_ok = obey("per", args.per, rate_limit_rules::per, errors);
    obey(
        "burst",
        args.burst,
        |burst| rate_limit_rules::burst(Some(burst)),
        errors,
    );
    // `wait` takes any duration: zero, the default, is not waiting.
    if !(rate_ok && per_ok) {
        return;
    }
    let per = args.per.map_or(rate_limit_rules::DEFAULT_PER, |v| v.value);
    if rate_limit_rules::rate_per(rate.value, per).is_err() {
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
