//! The limits, defaults and rules of resil's settings, in one place.
//!
//! Three checkers read the same settings: the attribute macros at compile
//! time (`#[retry(max = 0)]` is a compile error), the runtime when a
//! configuration file, the environment or `reconfigure` changes a policy
//! (`*Config::validate`), and the `const` checks of a declared policy
//! (`DeclaredRetry::new` fails the build). Each of them calls the rules
//! here, so a value one accepts the others accept too; the
//! `tests/behaviour/rules.rs` test of the `resil` crate runs every key's
//! boundary values through all three.
//!
//! Every limit and default is a `pub const`, every rule a `pub const fn`
//! returning `Result<(), Violation>`: the configuration key it is about and
//! a message that names the valid range. Rules take plain values, not a
//! policy's configuration type, so that the macro crate (which never sees
//! the runtime's types) can call them on what it parsed.
//!
//! This crate has no dependencies and is `no_std`: the macros and the
//! runtime both build on it.

#![no_std]
#![forbid(unsafe_code)]

use core::fmt;

pub mod bulkhead;
pub mod circuit_breaker;
pub mod keyed;
pub mod rate_limit;
pub mod retry;
pub mod timeout;

/// A setting out of its valid range, or at odds with another setting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Violation {
    /// The configuration key, as configuration files and snapshots name it
    /// (`max_attempts`, not the attribute's `max`).
    pub key: &'static str,
    /// What the value must be, naming the valid range: `must be at least 1`.
    pub message: &'static str,
    /// The whole statement, with the kind of policy and the key, for a
    /// `const` check that can only panic with one string:
    /// "retry: `max_attempts` must be at least 1".
    pub sentence: &'static str,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.sentence)
    }
}

/// A [`Violation`] of `$key` in a policy of kind `$policy`; the sentence is
/// put together at compile time, which needs literals.
macro_rules! violation {
    ($policy:literal, $key:literal, $message:literal) => {
        $crate::Violation {
            key: $key,
            message: $message,
            sentence: concat!($policy, ": `", $key, "` ", $message),
        }
    };
}
pub(crate) use violation;

/// `Err(violation)` unless `ok`: lets a rule read as a list of conditions.
pub(crate) const fn require(ok: bool, violation: Violation) -> Result<(), Violation> {
    if ok { Ok(()) } else { Err(violation) }
}

/// Whether `d` is longer than zero (`Duration::is_zero` negated, for
/// reading).
pub(crate) const fn positive(d: core::time::Duration) -> bool {
    !d.is_zero()
}

/// Whether a share is in (0, 1]; `NaN` is not.
pub(crate) const fn share(rate: f64) -> bool {
    rate > 0.0 && rate <= 1.0
}

#[cfg(test)]
mod tests;
