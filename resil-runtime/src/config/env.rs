//! Environment variables: working out which policy and key a
//! `RESIL_<POLICY>_<KEY>` variable names, or which kind a
//! `RESIL_<KIND>_ENABLED` switches. Policy names may hold `_`, so a
//! variable is matched against every registered name, and one that could
//! mean two settings is refused rather than guessed.

use super::apply::{Wanted, quoted, switch_item};
use super::{KINDS, PREFIX, Problem, SWITCHABLE};
use crate::bulkhead::Bulkhead;
use crate::circuit_breaker::CircuitBreaker;
use crate::error::PolicyKind;
use crate::rate_limit::RateLimiter;
use crate::registry::{Registry, Tabled};
use crate::retry::Retry;
use crate::schema::{self, Value, key_list};
use crate::timeout::Timeout;

/// Works out which policy and key `RESIL_...` names: the one registered
/// policy whose upper-cased name, followed by `_` and a valid key, makes
/// up the rest of the variable.
pub(super) fn variable(
    registry: &Registry,
    name: &str,
    value: &str,
    wanted: &mut Vec<Wanted>,
    flips: &mut Vec<(PolicyKind, bool)>,
    problems: &mut Vec<Problem>,
) {
    let rest = &name[PREFIX.len()..];
    for (section, kind) in KINDS {
        if SWITCHABLE.contains(&section)
            && rest == format!("{}_ENABLED", section.to_ascii_uppercase())
        {
            switch_item(
                kind,
                &Value::Str(value.to_owned()),
                Some(name),
                flips,
                problems,
            );
            return;
        }
    }
    let mut found = Vec::new();
    let mut partial = Vec::new();
    match_variable::<CircuitBreaker>(registry, rest, &mut found, &mut partial);
    match_variable::<Bulkhead>(registry, rest, &mut found, &mut partial);
    match_variable::<Retry>(registry, rest, &mut found, &mut partial);
    match_variable::<Timeout>(registry, rest, &mut found, &mut partial);
    match_variable::<RateLimiter>(registry, rest, &mut found, &mut partial);
    match found.as_slice() {
        [(kind, policy, key)] => wanted.push(Wanted {
            kind: *kind,
            policy: policy.clone(),
            key: (*key).to_owned(),
            value: Value::Str(value.to_owned()),
            variable: Some(name.to_owned()),
        }),
        [] => match partial
            .into_iter()
            .max_by_key(|(_, policy, _, _)| policy.len())
        {
            Some((kind, policy, key, keys)) => problems.push(Problem {
                kind: Some(kind),
                policy: Some(policy),
                key: Some(key),
                message: format!("unknown key (from `{name}`); valid keys: {keys}"),
            }),
            None => problems.push(Problem {
                kind: None,
                policy: None,
                key: Some(name.to_owned()),
                message: format!(
                    "names no policy and key: variables are `RESIL_<POLICY>_<KEY>`, for the \
                     policies {}, or `RESIL_<KIND>_ENABLED` for the kinds {}",
                    quoted(variable_prefixes(registry)),
                    quoted(SWITCHABLE.iter().map(|s| s.to_ascii_uppercase()))
                ),
            }),
        },
        many => problems.push(Problem {
            kind: None,
            policy: None,
            key: Some(name.to_owned()),
            message: format!(
                "is ambiguous: it could set {}; set it in a configuration file instead",
                many.iter()
                    .map(|(kind, policy, key)| format!("`{key}` of {kind} `{policy}`"))
                    .collect::<Vec<_>>()
                    .join(" or ")
            ),
        }),
    }
}

#[allow(clippy::type_complexity)]
fn match_variable<P: Tabled>(
    registry: &Registry,
    rest: &str,
    found: &mut Vec<(PolicyKind, String, &'static str)>,
    partial: &mut Vec<(PolicyKind, String, String, String)>,
) {
    for name in registry.table::<P>().names() {
        let prefix = format!("{}_", variable_name(name.as_str()));
        let Some(key) = rest.strip_prefix(&prefix) else {
            continue;
        };
        let key = key.to_ascii_lowercase();
        match schema::find(P::fields(), &key) {
            Some(field) => found.push((P::KIND, name.to_string(), field.key)),
            None => partial.push((P::KIND, name.to_string(), key, key_list(P::fields()))),
        }
    }
}

fn variable_prefixes(registry: &Registry) -> Vec<String> {
    fn of<P: Tabled>(registry: &Registry, out: &mut Vec<String>) {
        for name in registry.table::<P>().names() {
            out.push(format!("{PREFIX}{}_*", variable_name(name.as_str())));
        }
    }
    let mut out = Vec::new();
    of::<CircuitBreaker>(registry, &mut out);
    of::<Bulkhead>(registry, &mut out);
    of::<Retry>(registry, &mut out);
    of::<Timeout>(registry, &mut out);
    of::<RateLimiter>(registry, &mut out);
    out
}

/// A policy's name as environment variables spell it: upper-cased, every
/// character other than an ASCII letter or digit written `_`.
pub(crate) fn variable_name(policy: &str) -> String {
    policy
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}
