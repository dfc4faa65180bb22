//! Health: healthy, degraded or unhealthy, per policy and overall, with a
//! score for ranking, and health-aware selection among replicas.
//!
//! A circuit breaker already is the hysteresis that health-aware routing
//! wants: it turns **unhealthy** after `threshold` consecutive failures (or
//! its failure rate), and **healthy** again only after `success_threshold`
//! trial calls succeed. Between the two it is **degraded**: half-open, or
//! closed with a failure streak under way, or a windowed failure rate at or
//! above half of `failure_rate`.
//!
//! | circuit breaker | status | score |
//! | --- | --- | --- |
//! | open, forced open | unhealthy | 0 (0.1 once its timeout ran out: the next call is a trial) |
//! | half-open | degraded | 0.25 to 0.5, rising with each trial success |
//! | closed, forced closed | healthy, or degraded as above | 1 − 0.5 × pressure: above 0.5 |
//!
//! where *pressure* is the larger of `consecutive failures / threshold`
//! and `failure rate / failure_rate`. A bulkhead is degraded while the next
//! call would have to wait or be refused (every slot taken, and someone
//! already waiting or no queue), healthy otherwise; its score is
//! 1 − 0.5 × occupancy. Retry policies keep no state to judge.
//!
//! Overall, the report is unhealthy when every circuit breaker is (nothing
//! the program depends on answers), degraded when any policy is not healthy,
//! and healthy otherwise; its score is the mean of the policies' scores.
//!
//! ```
//! use resil::health::{self, Status};
//!
//! let breaker = resil::registry()
//!     .register_circuit_breaker("health-doc", Default::default())
//!     .unwrap();
//! assert_eq!(breaker.health().status, Status::Healthy);
//! breaker.force_open();
//! let report = health::report();
//! let mine = report.policies.iter().find(|p| p.name == "health-doc").unwrap();
//! assert_eq!((mine.status, mine.score), (Status::Unhealthy, 0.0));
//! println!("{}", serde_json::to_string(&report).unwrap());
//! # breaker.reset();
//! ```

use serde::Serialize;

use crate::bulkhead::{Bulkhead, BulkheadSnapshot};
use crate::circuit_breaker::{CircuitBreaker, CircuitBreakerSnapshot, CircuitState};
use crate::error::{PolicyKind, PolicyName};
use crate::registry::{Registry, Snapshot, registry};

mod replicas;

pub use crate::status::Status;
use crate::status::overall;
pub use replicas::{Pick, Replicas};

/// The health of one policy.
///
/// ```
/// let bulkhead = resil::Bulkhead::new("policy-health-doc", Default::default()).unwrap();
/// let health = bulkhead.health();
/// assert_eq!(health.status, resil::health::Status::Healthy);
/// assert_eq!(health.score, 1.0);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct PolicyHealth {
    /// The policy's kind.
    pub kind: PolicyKind,
    /// The policy's name.
    pub name: PolicyName,
    /// Healthy, degraded or unhealthy.
    pub status: Status,
    /// From 0 (refusing calls) to 1 (nothing wrong); higher is healthier.
    pub score: f64,
    /// Why, for people: "open; trial calls in 1200ms", "2 consecutive
    /// failures (opens at 5)", ...
    pub reason: String,
}

/// The health of every registered policy, and overall; serializes to the
/// JSON of a `/health` endpoint.
///
/// ```
/// let report = resil::health::report();
/// assert!(report.http_status() == 200 || report.http_status() == 503);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct HealthReport {
    /// Overall: unhealthy when every circuit breaker is, degraded when any
    /// policy is not healthy, healthy otherwise.
    pub status: Status,
    /// The mean of the policies' scores (1 with no policies).
    pub score: f64,
    /// Circuit breakers, then bulkheads, each by name.
    pub policies: Vec<PolicyHealth>,
}

impl HealthReport {
    /// The HTTP status a `/health` endpoint answers with: 503 when
    /// unhealthy, 200 otherwise (a degraded program still serves).
    pub fn http_status(&self) -> u16 {
        match self.status {
            Status::Unhealthy => 503,
            Status::Healthy | Status::Degraded => 200,
        }
    }

    pub(crate) fn from_snapshot(snapshot: &Snapshot) -> Self {
        let policies: Vec<PolicyHealth> = snapshot
            .circuit_breakers
            .iter()
            .map(circuit_breaker_health)
            .chain(snapshot.bulkheads.iter().map(bulkhead_health))
            .collect();
        let (status, score) = overall(
            policies
                .iter()
                .map(|p| (p.kind == PolicyKind::CircuitBreaker, p.status, p.score)),
        );
        Self {
            status,
            score,
            policies,
        }
    }
}

impl Registry {
    /// Every circuit breaker's and bulkhead's health, and overall; see
    /// [`health`](crate::health).
    ///
    /// ```
    /// let report = resil::registry().health();
    /// assert!(report.score >= 0.0 && report.score <= 1.0);
    /// ```
    pub fn health(&self) -> HealthReport {
        HealthReport::from_snapshot(&self.snapshot())
    }
}

/// The health of every registered policy: the same as
/// [`registry().health()`](crate::Registry::health).
///
/// ```
/// let json = serde_json::to_value(resil::health::report()).unwrap();
/// assert!(json["status"].is_string() && json["policies"].is_array());
/// ```
pub fn report() -> HealthReport {
    registry().health()
}

fn circuit_breaker_health(snapshot: &CircuitBreakerSnapshot) -> PolicyHealth {
    let config = &snapshot.config;
    let reason = match snapshot.state {
        CircuitState::Open => format!(
            "open; trial calls in {}ms",
            snapshot.half_open_in_ms.unwrap_or(0)
        ),
        CircuitState::ForcedOpen => "held open".to_owned(),
        CircuitState::HalfOpen => format!(
            "half-open; {} of {} trial successes",
            snapshot.trial_successes.unwrap_or(0),
            config.success_threshold
        ),
        CircuitState::Closed | CircuitState::ForcedClosed => {
            let held = if snapshot.state == CircuitState::ForcedClosed {
                "held closed"
            } else {
                "closed"
            };
            match (snapshot.failure_rate, config.failure_rate) {
                _ if snapshot.consecutive_failures > 0 => format!(
                    "{held}; {} consecutive failures (opens at {})",
                    snapshot.consecutive_failures, config.threshold
                ),
                (Some(rate), Some(limit)) if rate > 0.0 => format!(
                    "{held}; failure rate {:.0}% over {} calls (opens at {:.0}%)",
                    rate * 100.0,
                    snapshot.window_calls.unwrap_or(0),
                    limit * 100.0
                ),
                _ => held.to_owned(),
            }
        }
    };
    PolicyHealth {
        kind: PolicyKind::CircuitBreaker,
        name: snapshot.name.clone(),
        status: snapshot.health,
        score: snapshot.score,
        reason,
    }
}

fn bulkhead_health(snapshot: &BulkheadSnapshot) -> PolicyHealth {
    PolicyHealth {
        kind: PolicyKind::Bulkhead,
        name: snapshot.name.clone(),
        status: snapshot.health,
        score: snapshot.score,
        reason: format!(
            "{} of {} slots in use, {} of {} queue places",
            snapshot.in_flight,
            snapshot.config.max_concurrent,
            snapshot.queued,
            snapshot.config.queue
        ),
    }
}

impl CircuitBreaker {
    /// This breaker's health; see [`health`](crate::health).
    ///
    /// ```
    /// let breaker = resil::CircuitBreaker::new("cb-health-doc", Default::default()).unwrap();
    /// breaker.try_acquire().unwrap().failure();
    /// let health = breaker.health();
    /// assert_eq!(health.status, resil::health::Status::Degraded);
    /// assert_eq!(health.score, 0.9); // 1 of 5 failures towards opening
    /// ```
    pub fn health(&self) -> PolicyHealth {
        circuit_breaker_health(&self.snapshot())
    }
}

impl Bulkhead {
    /// This bulkhead's health; see [`health`](crate::health).
    ///
    /// ```
    /// let bulkhead = resil::Bulkhead::new(
    ///     "bh-health-doc",
    ///     resil::BulkheadConfig::DEFAULT.max_concurrent(1),
    /// ).unwrap();
    /// let _slot = bulkhead.try_acquire().unwrap();
    /// assert_eq!(bulkhead.health().status, resil::health::Status::Degraded);
    /// ```
    pub fn health(&self) -> PolicyHealth {
        bulkhead_health(&self.snapshot())
    }
}
