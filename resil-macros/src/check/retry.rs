//! `#[retry]`: attempts, delays and how they grow.

use std::time::Duration;

use super::{in_range, positive};
use crate::errors::Errors;
use crate::parse::{Backoff, RetryArgs};

const DEFAULT_INITIAL: Duration = Duration::from_millis(100);
const DEFAULT_MAX_DELAY: Duration = Duration::from_secs(5);

pub(super) fn retry(args: &RetryArgs, errors: &mut Errors) {
    in_range("max", args.max, 1, u32::MAX, errors);
    positive("max_elapsed", args.max_elapsed, errors);
    let initial_ok = positive("initial", args.initial, errors);
    if let Some(multiplier) = args.multiplier {
        if !multiplier.value.is_finite() || multiplier.value < 1.0 {
            errors.push(syn::Error::new(
                multiplier.span,
                format!(
                    "`multiplier` must be a finite number of at least 1.0, found `{}`",
                    multiplier.value
                ),
            ));
        }
        if let Some(backoff) = args.backoff
            && backoff.value != Backoff::Exponential
        {
            errors.push(syn::Error::new(
                multiplier.key,
                "`multiplier` only applies with `backoff = exponential`",
            ));
        }
    }
    if !initial_ok {
        return;
    }
    let initial = args.initial.map_or(DEFAULT_INITIAL, |v| v.value);
    match args.max_delay {
        Some(max_delay) if max_delay.value < initial => errors.push(syn::Error::new(
            max_delay.span,
            format!(
                "`max_delay` ({:?}) must be at least `initial` ({initial:?}{})",
                max_delay.value,
                if args.initial.is_some() {
                    ""
                } else {
                    ", the default"
                },
            ),
        )),
        None if initial > DEFAULT_MAX_DELAY => {
            let initial = args
                .initial
                .expect("only a given `initial` exceeds the default");
            errors.push(syn::Error::new(
                initial.span,
                format!(
                    "`initial` ({:?}) exceeds the default `max_delay` ({DEFAULT_MAX_DELAY:?}); \
                     set `max_delay` too",
                    initial.value
                ),
            ));
        }
        _ => {}
    }
}
