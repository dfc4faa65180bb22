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

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use serde::Serialize;

use crate::bulkhead::{Bulkhead, BulkheadSnapshot};
use crate::circuit_breaker::{CircuitBreaker, CircuitBreakerSnapshot, CircuitState};
use crate::error::{PolicyKind, PolicyName};
use crate::registry::{Registry, Snapshot, registry};
pub use crate::status::Status;
use crate::status::overall;

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

/// Several endpoints of one dependency, each behind its own named circuit
/// breaker: [`pick`](Self::pick) chooses the healthiest that would take a
/// call now, skipping open breakers, and goes round-robin among equally
/// healthy ones.
///
/// Breakers are found by name in the [`registry()`](crate::registry) (once
/// each is registered, the reference is kept); a name with no breaker yet
/// has seen no failure and counts as healthy. Picking takes no lock and
/// allocates nothing.
///
/// ```
/// use resil::health::Replicas;
///
/// let replicas = Replicas::new(["replica-doc-a", "replica-doc-b", "replica-doc-c"]);
/// // Nothing has failed: round-robin.
/// let picks: Vec<usize> = (0..3).map(|_| replicas.pick().unwrap().index).collect();
/// assert_eq!(picks, [0, 1, 2]);
///
/// // `b` goes down: it is skipped.
/// let b = resil::registry().register_circuit_breaker("replica-doc-b", Default::default()).unwrap();
/// b.force_open();
/// for _ in 0..4 {
///     assert_ne!(replicas.pick().unwrap().name, "replica-doc-b");
/// }
/// ```
pub struct Replicas {
    replicas: Box<[Replica]>,
    turn: AtomicUsize,
}

struct Replica {
    name: PolicyName,
    breaker: OnceLock<Arc<CircuitBreaker>>,
}

/// The replica [`Replicas::pick`] chose.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Pick {
    /// Its position in the list the replicas were made from.
    pub index: usize,
    /// Its circuit breaker's name.
    pub name: PolicyName,
    /// Its score when it was picked.
    pub score: f64,
}

impl Replicas {
    /// Replicas whose breakers are registered (now or later) under `names`.
    pub fn new<I>(names: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<PolicyName>,
    {
        Self::from_replicas(names.into_iter().map(|name| Replica {
            name: name.into(),
            breaker: OnceLock::new(),
        }))
    }

    /// Replicas guarded by these breakers, registered or not.
    ///
    /// ```
    /// use std::sync::Arc;
    /// let a = Arc::new(resil::CircuitBreaker::new("a", Default::default()).unwrap());
    /// let b = Arc::new(resil::CircuitBreaker::new("b", Default::default()).unwrap());
    /// a.force_open();
    /// let replicas = resil::health::Replicas::from_breakers([a, b]);
    /// assert_eq!(replicas.pick().unwrap().index, 1);
    /// ```
    pub fn from_breakers<I>(breakers: I) -> Self
    where
        I: IntoIterator<Item = Arc<CircuitBreaker>>,
    {
        Self::from_replicas(breakers.into_iter().map(|breaker| Replica {
            name: breaker.name().clone(),
            breaker: OnceLock::from(breaker),
        }))
    }

    fn from_replicas(replicas: impl Iterator<Item = Replica>) -> Self {
        Self {
            replicas: replicas.collect(),
            turn: AtomicUsize::new(0),
        }
    }

    /// How many replicas there are.
    pub fn len(&self) -> usize {
        self.replicas.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.replicas.is_empty()
    }

    /// The breaker names, in order.
    pub fn names(&self) -> impl Iterator<Item = &PolicyName> {
        self.replicas.iter().map(|replica| &replica.name)
    }

    /// The healthiest replica whose breaker would let a call through now,
    /// round-robin among the equally healthy; `None` when every breaker
    /// would refuse (open, or half-open with its trial slots taken).
    pub fn pick(&self) -> Option<Pick> {
        let turn = self.turn.fetch_add(1, Ordering::Relaxed);
        let mut best: Option<(usize, f64)> = None;
        let mut ties = 0;
        for (index, replica) in self.replicas.iter().enumerate() {
            let Some(score) = replica.score() else {
                continue;
            };
            match best {
                Some((_, top)) if score < top => {}
                Some((_, top)) if score == top => ties += 1,
                _ => {
                    best = Some((index, score));
                    ties = 1;
                }
            }
        }
        let (first, top) = best?;
        // Take the `turn % ties`-th of the best. A breaker that changed
        // between the two passes leaves the first best found.
        let mut wanted = turn % ties;
        let chosen = self
            .replicas
            .iter()
            .enumerate()
            .filter(|(_, replica)| replica.score() == Some(top))
            .find(|_| {
                let hit = wanted == 0;
                wanted = wanted.wrapping_sub(1);
                hit
            })
            .map_or(first, |(index, _)| index);
        Some(Pick {
            index: chosen,
            name: self.replicas[chosen].name.clone(),
            score: top,
        })
    }

    /// Every replica's health, in order (a replica whose breaker is not
    /// registered yet reads healthy).
    pub fn health(&self) -> Vec<PolicyHealth> {
        self.replicas
            .iter()
            .map(|replica| match replica.breaker() {
                Some(breaker) => breaker.health(),
                None => PolicyHealth {
                    kind: PolicyKind::CircuitBreaker,
                    name: replica.name.clone(),
                    status: Status::Healthy,
                    score: 1.0,
                    reason: "not registered yet".to_owned(),
                },
            })
            .collect()
    }
}

impl Replica {
    fn breaker(&self) -> Option<&CircuitBreaker> {
        if let Some(breaker) = self.breaker.get() {
            return Some(breaker);
        }
        let found = registry().find_circuit_breaker(self.name.as_str())?;
        Some(self.breaker.get_or_init(|| found))
    }

    /// The replica's score, or `None` if its breaker would refuse a call.
    fn score(&self) -> Option<f64> {
        match self.breaker() {
            None => Some(1.0),
            Some(breaker) if breaker.would_admit() => Some(breaker.snapshot().score),
            Some(_) => None,
        }
    }
}

impl fmt::Debug for Replicas {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Replicas")
            .field("names", &self.names().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}
