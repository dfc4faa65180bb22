//! A breaker's counts and state at one moment ([`CircuitBreakerSnapshot`],
//! what the registry's snapshot and `/health` serialize), and the health
//! the breaker judges itself to be in from it: the rule behind the
//! circuit-breaker rows of the table in the [`health`](crate::health)
//! module docs. The rule is here, beside the state it reads, so that the
//! breaker reports its health without importing the health report.

use std::sync::atomic::Ordering;

use serde::Serialize;

use super::sliding::Window;
use super::{CircuitBreaker, CircuitBreakerConfig, CircuitState};
use crate::clock;
use crate::error::PolicyName;
use crate::status::{Assessment, Status};

/// Counts and state of one breaker at one moment, as the registry's
/// snapshot serializes it.
///
/// ```
/// let breaker = resil::CircuitBreaker::new("metrics-doc", Default::default()).unwrap();
/// let view = breaker.snapshot();
/// assert_eq!(view.state, resil::CircuitState::Closed);
/// assert_eq!(view.calls, 0);
/// ```
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct CircuitBreakerSnapshot {
    /// The breaker's name.
    pub name: PolicyName,
    /// Its state.
    pub state: CircuitState,
    /// Calls that finished or were rejected.
    pub calls: u64,
    /// Calls that succeeded.
    pub successes: u64,
    /// Calls that failed (including panics).
    pub failures: u64,
    /// Calls whose error `ignore` excluded from the failure count.
    pub ignored: u64,
    /// Calls rejected without running.
    pub rejected: u64,
    /// Calls slower than `slow_call` (successes and failures alike).
    pub slow_calls: u64,
    /// The current run of consecutive failures (closed state only).
    pub consecutive_failures: u32,
    /// Trial calls running now (half-open state only).
    pub trial_calls_in_flight: Option<u32>,
    /// Trial calls that succeeded so far; `success_threshold` of them close
    /// the breaker (half-open state only).
    pub trial_successes: Option<u32>,
    /// Failure rate over the window, when `failure_rate` is set.
    pub failure_rate: Option<f64>,
    /// Calls the window holds, when `failure_rate` or `slow_call` is set.
    pub window_calls: Option<u32>,
    /// Share of slow calls in the window, when `slow_call` is set.
    pub slow_call_rate: Option<f64>,
    /// Milliseconds until trial calls are let through, while open.
    pub half_open_in_ms: Option<u64>,
    /// Milliseconds since the last state change, if it ever changed.
    pub since_transition_ms: Option<u64>,
    /// Healthy, degraded or unhealthy; see [`health`](crate::health).
    pub health: Status,
    /// From 0 (open) to 1 (closed, nothing failing); see [`health`](crate::health).
    pub score: f64,
    /// The settings in force.
    pub config: CircuitBreakerConfig,
}

impl CircuitBreaker {
    /// Counts and state at this moment.
    pub fn snapshot(&self) -> CircuitBreakerSnapshot {
        let word = self.load();
        let now = clock::now_micros();
        let successes = self.counters.successes.get();
        let failures = self.counters.failures.load(Ordering::Relaxed);
        let ignored = self.counters.ignored.load(Ordering::Relaxed);
        let rejected = self.counters.rejected.get();
        let tally = self.window.as_ref().map(Window::tally);
        let last = self.last_transition_micros.load(Ordering::Relaxed);
        let half_open = word.state() == CircuitState::HalfOpen;
        let mut snapshot = CircuitBreakerSnapshot {
            name: self.name.clone(),
            state: word.state(),
            calls: successes + failures + ignored + rejected,
            successes,
            failures,
            ignored,
            rejected,
            slow_calls: self.counters.slow.load(Ordering::Relaxed),
            consecutive_failures: if word.state() == CircuitState::Closed {
                word.consecutive_failures()
            } else {
                0
            },
            trial_calls_in_flight: half_open.then(|| word.trials_in_flight()),
            trial_successes: half_open.then(|| word.trial_successes()),
            failure_rate: tally.map(|t| t.rate()),
            window_calls: tally.map(|t| t.calls),
            slow_call_rate: tally
                .filter(|_| self.config.slow_call().is_some())
                .map(|t| t.slow_rate()),
            half_open_in_ms: (word.state() == CircuitState::Open).then(|| {
                clock::micros_to_duration(word.deadline_micros() - now).as_millis() as u64
            }),
            since_transition_ms: (last != i64::MIN)
                .then(|| clock::micros_to_duration(now - last).as_millis() as u64),
            health: Status::Healthy,
            score: 1.0,
            config: self.config.load(),
        };
        let assessed = assess_circuit_breaker(&snapshot, word.deadline_micros() <= now);
        snapshot.health = assessed.status;
        snapshot.score = assessed.score;
        snapshot
    }
}

/// `open_ready`: an open breaker's timeout has run out.
fn assess_circuit_breaker(snapshot: &CircuitBreakerSnapshot, open_ready: bool) -> Assessment {
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
