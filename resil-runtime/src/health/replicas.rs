//! Health-aware choice among replicas: several endpoints of one
//! dependency, each behind its own named breaker, and a pick that prefers
//! the healthiest one that would take a call now. Apart from the report,
//! since it is called per request: it takes no lock and allocates nothing
//! once each breaker is found.

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use super::{PolicyHealth, Status};
use crate::circuit_breaker::CircuitBreaker;
use crate::error::{PolicyKind, PolicyName};
use crate::registry::registry;

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
