//! Fault injection: make a named policy's calls fail, slow down, or stop
//! altogether at run time, to rehearse how a program behaves when a
//! dependency misbehaves.
//!
//! Compiled only with the `chaos` feature (off by default); without it none
//! of this exists and the policies carry no hook at all. With it, a call
//! through a circuit breaker or a bulkhead reads one atomic flag while no
//! fault is injected anywhere.
//!
//! ```
//! use std::time::Duration;
//! use resil::chaos::{self, Fault};
//!
//! chaos::inject("payments-doc", Fault::Error { rate: 0.2 }).unwrap();
//! chaos::inject("payments-doc", Fault::Latency(Duration::from_millis(50))).unwrap();
//! assert_eq!(chaos::faults("payments-doc").len(), 2);
//! chaos::clear("payments-doc");
//! assert!(chaos::faults("payments-doc").is_empty());
//! assert!(chaos::inject("payments-doc", Fault::Error { rate: 1.5 }).is_err());
//! ```
//!
//! # What a fault does
//!
//! Faults are keyed by policy name, like the [`registry`](crate::registry),
//! and may be injected before the policy is first used. Each fault acts at
//! most once per call, even when a circuit breaker and a bulkhead of the
//! same name are stacked:
//!
//! - [`Fault::Error`] and [`Fault::Outage`] act at the **circuit breaker** of
//!   that name. An injected error is a real failure as far as the breaker is
//!   concerned: the call takes a permit like any other and records a failure
//!   on it, so enough of them open the breaker, and a failing half-open trial
//!   opens it again. The body is not run. The caller gets
//!   [`Error::Timeout`] with `after` zero (see [`is_injected`]), reaching an
//!   annotated function as its own error type through `From<resil::Error>`.
//!   While the breaker is open the call is rejected as usual
//!   ([`Error::CircuitOpen`]), without rolling the dice. An outage is an
//!   error rate of 1: the dependency is down, the breaker opens, and its
//!   trials keep failing until the outage is [`clear`]ed. When no breaker
//!   of that name is registered, the **bulkhead** of that name refuses the
//!   call the same way before taking a slot (a bulkhead counts no failures,
//!   so nothing records it).
//! - [`Fault::Latency`] acts at the **bulkhead** of that name, inside the
//!   slot, so a slow dependency fills the bulkhead as it would in
//!   production. When no bulkhead of that name is registered, it acts at the
//!   circuit breaker of that name, inside the permit (a half-open trial
//!   stays in flight for that long).
//!
//! A `#[retry]` around the stack sees an injected error as an inner
//! policy's refusal (`Failure::Rejected`), so it retries it only when
//! `retry_rejections` is set.
//!
//! # How it is built
//!
//! This module knows no policy: it keeps the faults by name and answers
//! "what is injected into this name, and is there a breaker or a bulkhead
//! of that name to take it". The policies call it from their cold entry
//! (`circuit_breaker/fault.rs`, `bulkhead/fault.rs`), and the registry
//! enrols each breaker and bulkhead as it is declared, so a call finds
//! everything it needs in the one look-up of its own name it makes while
//! a fault is injected somewhere, never through the registry.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{PoisonError, RwLock};
use std::time::Duration;

use crate::error::{ConfigError, Error, PolicyKind, PolicyName};

/// A fault to inject into the calls of a named policy.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum Fault {
    /// Each call fails with probability `rate` (from 0 to 1) without running
    /// the body; the circuit breaker counts it as a failure.
    Error {
        /// The share of calls that fail, from 0.0 to 1.0.
        rate: f64,
    },
    /// Each call is delayed this long before its body runs, holding its
    /// bulkhead slot (or breaker permit) meanwhile.
    Latency(Duration),
    /// Every call fails, as if the dependency were down.
    Outage,
}

/// The faults of one name. Injecting a fault of a kind already present
/// replaces it.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Faults {
    pub(crate) error_rate: Option<f64>,
    pub(crate) latency: Option<Duration>,
    pub(crate) outage: bool,
}

impl Faults {
    fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// Rolls the dice: whether this call fails.
    pub(crate) fn fails_now(&self) -> bool {
        self.outage || self.error_rate.is_some_and(rand::random_bool)
    }
}

/// What one name has: its faults, and which of the policies that act on
/// them the registry declared under it.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Point {
    pub(crate) faults: Faults,
    /// A circuit breaker (not a keyed one) is declared under the name.
    pub(crate) breaker: bool,
    /// A bulkhead is declared under the name.
    pub(crate) bulkhead: bool,
}

impl Point {
    fn is_enrolled(&self) -> bool {
        self.breaker || self.bulkhead
    }
}

/// Whether any name has a fault: the one load a call makes while chaos is
/// compiled in but idle.
static ARMED: AtomicBool = AtomicBool::new(false);
static POINTS: RwLock<BTreeMap<String, Point>> = RwLock::new(BTreeMap::new());

/// Injects `fault` into the calls of the policies named `name`, replacing a
/// fault of the same kind injected before. An error rate outside `[0, 1]`
/// (or not a number) is refused and changes nothing.
pub fn inject(name: impl Into<String>, fault: Fault) -> Result<(), ConfigError> {
    let name = name.into();
    if let Fault::Error { rate } = fault
        && !(0.0..=1.0).contains(&rate)
    {
        return Err(ConfigError::InvalidValue {
            kind: PolicyKind::CircuitBreaker,
            policy: name,
            key: "rate",
            reason: format!("must be from 0.0 to 1.0, not {rate}"),
        });
    }
    let mut map = POINTS.write().unwrap_or_else(PoisonError::into_inner);
    let faults = &mut map.entry(name.clone()).or_default().faults;
    match fault {
        Fault::Error { rate } => faults.error_rate = Some(rate),
        Fault::Latency(delay) => faults.latency = Some(delay),
        Fault::Outage => faults.outage = true,
    }
    ARMED.store(true, Ordering::Release);
    tracing::warn!(target: "resil", policy = %name, ?fault, "chaos: fault injected");
    Ok(())
}

/// Removes every fault injected into `name`.
pub fn clear(name: &str) {
    let mut map = POINTS.write().unwrap_or_else(PoisonError::into_inner);
    if let Some(point) = map.get_mut(name) {
        let had_faults = !point.faults.is_empty();
        point.faults = Faults::default();
        if !point.is_enrolled() {
            map.remove(name);
        }
        if had_faults {
            tracing::warn!(target: "resil", policy = %name, "chaos: faults cleared");
        }
    }
    let armed = map.values().any(|point| !point.faults.is_empty());
    ARMED.store(armed, Ordering::Release);
}

/// Removes every fault from every name.
pub fn clear_all() {
    let mut map = POINTS.write().unwrap_or_else(PoisonError::into_inner);
    map.retain(|_, point| {
        point.faults = Faults::default();
        point.is_enrolled()
    });
    ARMED.store(false, Ordering::Release);
}

/// The faults injected into `name` now.
pub fn faults(name: &str) -> Vec<Fault> {
    let Some(Point { faults, .. }) = lookup(name) else {
        return Vec::new();
    };
    let mut list = Vec::new();
    if let Some(rate) = faults.error_rate {
        list.push(Fault::Error { rate });
    }
    if let Some(delay) = faults.latency {
        list.push(Fault::Latency(delay));
    }
    if faults.outage {
        list.push(Fault::Outage);
    }
    list
}

/// Whether `error` is an injected failure rather than a real one.
pub fn is_injected(error: &Error) -> bool {
    matches!(error, Error::Timeout { after, .. } if after.is_zero())
}

/// The faults injected into `name` and the policies declared under it;
/// `None` while it has no fault.
pub(crate) fn lookup(name: &str) -> Option<Point> {
    if !ARMED.load(Ordering::Acquire) {
        return None;
    }
    let map = POINTS.read().unwrap_or_else(PoisonError::into_inner);
    map.get(name)
        .copied()
        .filter(|point| !point.faults.is_empty())
}

/// Notes that a circuit breaker or a bulkhead is declared under `name`, so
/// that a fault there knows which of the two acts on it. Called by the
/// registry as it declares each one; other kinds are not noted.
pub(crate) fn enrol(kind: PolicyKind, name: &str) {
    let mut map = POINTS.write().unwrap_or_else(PoisonError::into_inner);
    match kind {
        PolicyKind::CircuitBreaker => map.entry(name.to_owned()).or_default().breaker = true,
        PolicyKind::Bulkhead => map.entry(name.to_owned()).or_default().bulkhead = true,
        _ => {}
    }
}

pub(crate) fn injected_error(name: &PolicyName) -> Error {
    tracing::debug!(target: "resil", policy = %name, "chaos: injected a failure");
    Error::Timeout {
        policy: name.clone(),
        after: Duration::ZERO,
    }
}

/// Whether any fault is injected anywhere: while not, calls take their
/// policies' fast paths.
#[inline]
pub(crate) fn armed() -> bool {
    ARMED.load(Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fault_finds_the_policies_enrolled_under_its_name() {
        enrol(PolicyKind::Bulkhead, "chaos-unit-both");
        enrol(PolicyKind::CircuitBreaker, "chaos-unit-both");
        enrol(PolicyKind::Retry, "chaos-unit-both");
        enrol(PolicyKind::CircuitBreaker, "chaos-unit-breaker");
        assert!(lookup("chaos-unit-both").is_none(), "no fault yet");

        let latency = Fault::Latency(Duration::from_millis(5));
        inject("chaos-unit-both", latency).unwrap();
        inject("chaos-unit-breaker", Fault::Outage).unwrap();
        let both = lookup("chaos-unit-both").unwrap();
        assert!(both.breaker && both.bulkhead);
        assert_eq!(both.faults.latency, Some(Duration::from_millis(5)));
        let breaker = lookup("chaos-unit-breaker").unwrap();
        assert!(breaker.breaker && !breaker.bulkhead && breaker.faults.outage);

        // Clearing drops the faults, not what is declared under the name.
        clear("chaos-unit-both");
        assert!(lookup("chaos-unit-both").is_none());
        assert!(faults("chaos-unit-both").is_empty());
        inject("chaos-unit-both", latency).unwrap();
        assert!(lookup("chaos-unit-both").unwrap().bulkhead);
        clear("chaos-unit-both");
        clear("chaos-unit-breaker");
    }
}
