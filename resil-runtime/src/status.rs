//! What the policies report about themselves, defined below them so that
//! the layers above (events, metrics, the health report) can name it
//! without importing a policy: a circuit breaker's [`CircuitState`] and the
//! health [`Status`] each breaker and bulkhead judges itself to be in, with
//! the [`Assessment`] that carries it and the rule that folds many into one
//! ([`overall`]).
//!
//! Each policy computes its own assessment from its snapshot (the rules
//! are in `circuit_breaker/snapshot.rs` and `bulkhead/assess.rs`, the table in
//! the [`health`](crate::health) module docs); `health` turns them into a
//! report.

use std::fmt;

use serde::Serialize;

/// The state of a circuit breaker.
///
/// ```
/// assert_eq!(resil::CircuitState::HalfOpen.as_str(), "half_open");
/// assert_eq!(resil::CircuitState::Open.metric_value(), 1);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CircuitState {
    /// Calls pass; failures are counted.
    Closed,
    /// Calls are rejected until the timeout runs out.
    Open,
    /// A limited number of trial calls pass to probe the dependency.
    HalfOpen,
    /// Held open by [`CircuitBreaker::force_open`](crate::CircuitBreaker::force_open).
    ForcedOpen,
    /// Held closed by [`CircuitBreaker::force_closed`](crate::CircuitBreaker::force_closed):
    /// every call passes and nothing opens it.
    ForcedClosed,
}

impl CircuitState {
    /// The state as a `snake_case` string.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Closed => "closed",
            Self::Open => "open",
            Self::HalfOpen => "half_open",
            Self::ForcedOpen => "forced_open",
            Self::ForcedClosed => "forced_closed",
        }
    }

    /// The number exported as the `circuit_breaker_state` gauge: 0 closed,
    /// 1 open, 2 half-open (a forced state reports what it acts as).
    pub fn metric_value(self) -> u8 {
        match self {
            Self::Closed | Self::ForcedClosed => 0,
            Self::Open | Self::ForcedOpen => 1,
            Self::HalfOpen => 2,
        }
    }
}

impl std::fmt::Display for CircuitState {
    #[inline]
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How well a policy, or the whole program, is doing.
///
/// Ordered from best to worst, so `max()` of several is the worst.
///
/// ```
/// use resil::health::Status;
/// assert!(Status::Healthy < Status::Degraded && Status::Degraded < Status::Unhealthy);
/// assert_eq!(serde_json::to_string(&Status::Degraded).unwrap(), r#""degraded""#);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Working normally.
    Healthy,
    /// Working, with failures or pressure showing.
    Degraded,
    /// Refusing calls.
    Unhealthy,
}

impl Status {
    /// The status as a `snake_case` string.
    ///
    /// ```
    /// assert_eq!(resil::health::Status::Unhealthy.as_str(), "unhealthy");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Healthy => "healthy",
            Self::Degraded => "degraded",
            Self::Unhealthy => "unhealthy",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Assessment {
    pub(crate) status: Status,
    pub(crate) score: f64,
}

/// Overall status and score of `(is a breaker, status, score)` triples.
pub(crate) fn overall(policies: impl Iterator<Item = (bool, Status, f64)>) -> (Status, f64) {
    let (mut breakers, mut unhealthy_breakers, mut count, mut sum) = (0, 0, 0, 0.0);
    let mut worst = Status::Healthy;
    for (breaker, status, score) in policies {
        if breaker {
            breakers += 1;
            if status == Status::Unhealthy {
                unhealthy_breakers += 1;
            }
        }
        worst = worst.max(status);
        count += 1;
        sum += score;
    }
    let status = if breakers > 0 && unhealthy_breakers == breakers {
        Status::Unhealthy
    } else if worst > Status::Healthy {
        Status::Degraded
    } else {
        Status::Healthy
    };
    let score = if count == 0 { 1.0 } else { sum / count as f64 };
    (status, score)
}
