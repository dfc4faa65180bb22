//! A keyed circuit breaker's own settings: `#[circuit_breaker(key = ..)]`.

use core::time::Duration;

use crate::{Violation, positive, require, violation};

/// Key of the most members kept.
pub const MAX_KEYS: &str = "max_keys";
/// Key of how long an unused member is kept.
pub const KEY_TTL: &str = "key_ttl";

/// Members kept by default.
pub const DEFAULT_MAX_KEYS: u32 = 1_000;

/// At least 1.
pub const fn max_keys(members: u32) -> Result<(), Violation> {
    require(
        members >= 1,
        violation!("keyed circuit breaker", "max_keys", "must be at least 1"),
    )
}

/// Longer than zero, when given.
pub const fn key_ttl(ttl: Option<Duration>) -> Result<(), Violation> {
    match ttl {
        Some(ttl) => require(
            positive(ttl),
            violation!(
                "keyed circuit breaker",
                "key_ttl",
                "must be greater than zero"
            ),
        ),
        None => Ok(()),
    }
}
