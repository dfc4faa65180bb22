//! `#[retry]`: attempts, delays and how they grow.

use resil_rules::retry as rules;

use super::obey;
use crate::errors::Errors;
use crate::parse::{Backoff, RetryArgs};

pub(super) fn retry(args: &RetryArgs, errors: &mut Errors) {
    obey("max", args.max, rules::max_attempts, errors);
    obey(
        "max_elapsed",
        args.max_elapsed,
        |d| rules::max_elapsed(Some(d)),
        errors,
    );
    let initial_ok = obey("initial", args.initial, rules::initial, errors);
    if let Some(multiplier) = args.multiplier {
        if let Err(violation) = rules::multiplier(multiplier.value) {
            errors.push(syn::Error::new(
                multiplier.span,
                format!(
                    "`multiplier` {}, found `{}`",
                    violation.message, multiplier.value
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
    if initial_ok {
        max_delay(args, errors);
    }
}

/// `max_delay` against `initial`, either of them perhaps the default.
fn max_delay(args: &RetryArgs, errors: &mut Errors) {
    let initial = args.initial.map_or(rules::DEFAULT_INITIAL, |v| v.value);
    match args.max_delay {
        Some(max_delay) if rules::max_delay(max_delay.value, initial).is_err() => {
            errors.push(syn::Error::new(
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
            ));
        }
        None if rules::max_delay(rules::DEFAULT_MAX_DELAY, initial).is_err() => {
            let initial = args
                .initial
                .expect("only a given `initial` exceeds the default");
            errors.push(syn::Error::new(
                initial.span,
                format!(
                    "`initial` ({:?}) exceeds the default `max_delay` ({:?}); set `max_delay` too",
                    initial.value,
                    rules::DEFAULT_MAX_DELAY,
                ),
            ));
        }
        _ => {}
    }
}
