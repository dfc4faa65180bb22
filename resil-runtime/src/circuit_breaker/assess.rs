//! How healthy a breaker judges itself from its snapshot: the rule behind
//! the circuit-breaker rows of the table in the [`health`](crate::health)
//! module docs. Here, beside the state machine it reads, so that the
//! breaker reports its health without importing the health report.

use super::{CircuitBreakerSnapshot, CircuitState};
use crate::status::{Assessment, Status};

/// `open_ready`: an open breaker's timeout has run out.
pub(crate) fn assess_circuit_breaker(
    snapshot: &CircuitBreakerSnapshot,
    open_ready: bool,
) -> Assessment {
    let config = &snapshot.config;
    let (status, score) = match snapshot.state {
        CircuitState::Open if open_ready => (Status::Unhealthy, 0.1),
        CircuitState::Open | CircuitState::ForcedOpen => (Status::Unhealthy, 0.0),
        CircuitState::HalfOpen => {
            let successes = snapshot.trial_successes.unwrap_or(0);
            let progress = f64::from(successes) / f64::from(config.success_threshold.max(1));
            (Status::Degraded, 0.25 + 0.25 * progress.min(1.0))
        }
        CircuitState::Closed | CircuitState::ForcedClosed => {
            let streak =
                f64::from(snapshot.consecutive_failures) / f64::from(config.threshold.max(1));
            let rate = match (snapshot.failure_rate, config.failure_rate) {
                (Some(rate), Some(limit)) if snapshot.window_calls.unwrap_or(0) > 0 => rate / limit,
                _ => 0.0,
            };
            let pressure = streak.max(rate).clamp(0.0, 1.0);
            let status = if snapshot.consecutive_failures > 0 || rate >= 0.5 {
                Status::Degraded
            } else {
                Status::Healthy
            };
            (status, 1.0 - 0.5 * pressure)
        }
    };
    Assessment { status, score }
}
