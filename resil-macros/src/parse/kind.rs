//! Which attribute is being parsed, and the keys each one takes.

use std::fmt;

use syn::Attribute;

/// Which policy an attribute asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Retry,
    CircuitBreaker,
    Bulkhead,
    Timeout,
    Fallback,
    RateLimit,
}

impl Kind {
    /// Recognises a resil attribute by the last segment of its path, so that
    /// `#[retry]` and `#[resil::retry]` both count.
    pub(crate) fn of_attr(attr: &Attribute) -> Option<Kind> {
        match attr.path().segments.last()?.ident.to_string().as_str() {
            "retry" => Some(Kind::Retry),
            "circuit_breaker" => Some(Kind::CircuitBreaker),
            "bulkhead" => Some(Kind::Bulkhead),
            "timeout" => Some(Kind::Timeout),
            "fallback" => Some(Kind::Fallback),
            "rate_limit" => Some(Kind::RateLimit),
            _ => None,
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::Retry => "retry",
            Kind::CircuitBreaker => "circuit_breaker",
            Kind::Bulkhead => "bulkhead",
            Kind::Timeout => "timeout",
            Kind::Fallback => "fallback",
            Kind::RateLimit => "rate_limit",
        }
    }

    /// The key a leading value without `key =` stands for: `#[timeout(2s)]`
    /// is `#[timeout(duration = 2s)]`, `#[fallback(cached)]` is
    /// `#[fallback(path = cached)]`.
    pub(crate) fn positional_key(self) -> Option<&'static str> {
        match self {
            Kind::Timeout => Some("duration"),
            Kind::Fallback => Some("path"),
            _ => None,
        }
    }

    /// Whether the attribute can name a policy declared with
    /// `resil::policy!` by its path: `#[circuit_breaker(PAYMENTS)]`.
    pub(crate) fn takes_path(self) -> bool {
        matches!(self, Kind::CircuitBreaker | Kind::Bulkhead | Kind::Retry)
    }

    /// The keys that may stand next to a declared policy's path: they say
    /// what the function does with the policy, not how the policy is set up.
    pub(crate) fn allowed_with_path(self) -> &'static [&'static str] {
        match self {
            Kind::CircuitBreaker => &["ignore", "crate"],
            Kind::Retry => &["retry_if", "retry_after", "crate"],
            _ => &["crate"],
        }
    }

    pub(super) fn keys(self) -> &'static [&'static str] {
        match self {
            Kind::Retry => &[
                "name",
                "max",
                "backoff",
                "initial",
                "max_delay",
                "multiplier",
                "jitter",
                "retry_if",
                "retry_rejections",
                "max_elapsed",
                "retry_after",
                "crate",
            ],
            Kind::CircuitBreaker => &[
                "name",
                "threshold",
                "failure_rate",
                "window",
                "min_calls",
                "open_for",
                "timeout",
                "half_open_max",
                "success_threshold",
                "ignore",
                "slow_call",
                "slow_rate",
                "key",
                "max_keys",
                "key_ttl",
                "crate",
            ],
            Kind::Bulkhead => &["name", "max", "queue", "wait", "crate"],
            Kind::Timeout => &["duration", "name", "crate"],
            Kind::Fallback => &["path", "on", "crate"],
            Kind::RateLimit => &["name", "rate", "per", "burst", "wait", "crate"],
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
