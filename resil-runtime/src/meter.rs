//! The metric hooks the policies call as things happen (a transition, a
//! retry, a queued wait, a timed call), the metric names, and the switch
//! for call timing. Feature `metrics`.
//!
//! Below the policies and knowing none of them, so that a policy can report
//! without importing the layer that reads the registry; [`metrics`](crate::metrics)
//! re-exports the public part and adds `record`, which
//! publishes what the policies keep in their own atomics.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use ::metrics::{counter, gauge, histogram};

use crate::error::PolicyName;
use crate::status::CircuitState;

/// `circuit_breaker_state{policy}`: 0 closed, 1 open, 2 half-open.
pub const CIRCUIT_BREAKER_STATE: &str = "circuit_breaker_state";
/// `circuit_breaker_transitions_total{policy,from,to}`.
pub const CIRCUIT_BREAKER_TRANSITIONS: &str = "circuit_breaker_transitions_total";
/// `circuit_breaker_calls_total{policy,outcome}`.
pub const CIRCUIT_BREAKER_CALLS: &str = "circuit_breaker_calls_total";
/// `resil_retry_attempts_total{policy,attempt}`.
pub const RETRY_ATTEMPTS: &str = "resil_retry_attempts_total";
/// `resil_retry_exhausted_total{policy}`.
pub const RETRY_EXHAUSTED: &str = "resil_retry_exhausted_total";
/// `bulkhead_capacity{policy}`.
pub const BULKHEAD_CAPACITY: &str = "bulkhead_capacity";
/// `bulkhead_in_flight{policy}`.
pub const BULKHEAD_IN_FLIGHT: &str = "bulkhead_in_flight";
/// `bulkhead_rejected_total{policy}`.
pub const BULKHEAD_REJECTED: &str = "bulkhead_rejected_total";
/// `bulkhead_wait_seconds{policy}` (histogram).
pub const BULKHEAD_WAIT: &str = "bulkhead_wait_seconds";
/// `resil_call_duration_seconds{policy,outcome}` (histogram).
pub const CALL_DURATION: &str = "resil_call_duration_seconds";

static CALL_TIMING: AtomicBool = AtomicBool::new(false);

/// Turns the `resil_call_duration_seconds` histogram on or off for every
/// circuit breaker (off at start). Timing a call reads the clock twice; a
/// call with timing off pays one relaxed load to find out.
///
/// ```
/// resil::metrics::set_call_timing(true);
/// resil::metrics::set_call_timing(false);
/// assert!(!resil::metrics::call_timing());
/// ```
pub fn set_call_timing(on: bool) {
    CALL_TIMING.store(on, Ordering::Relaxed);
}

/// Whether call durations are being recorded.
///
/// ```
/// # resil::metrics::set_call_timing(false);
/// assert!(!resil::metrics::call_timing());
/// ```
#[inline]
pub fn call_timing() -> bool {
    CALL_TIMING.load(Ordering::Relaxed)
}

/// A breaker changed state. Transitions are rare and never on the hot path.
pub(crate) fn transition(policy: &PolicyName, from: CircuitState, to: CircuitState) {
    counter!(
        CIRCUIT_BREAKER_TRANSITIONS,
        "policy" => policy.to_label(),
        "from" => from.as_str(),
        "to" => to.as_str()
    )
    .increment(1);
    gauge!(CIRCUIT_BREAKER_STATE, "policy" => policy.to_label()).set(f64::from(to.metric_value()));
}

/// Attempt `attempt` (2 or more) of a call is about to start.
pub(crate) fn retry(policy: &PolicyName, attempt: u32) {
    const SMALL: [&str; 11] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10"];
    let attempt: ::metrics::SharedString = match SMALL.get(attempt as usize) {
        Some(label) => (*label).into(),
        None => attempt.to_string().into(),
    };
    counter!(RETRY_ATTEMPTS, "policy" => policy.to_label(), "attempt" => attempt).increment(1);
}

/// The last allowed attempt of a call failed.
pub(crate) fn retries_exhausted(policy: &PolicyName) {
    counter!(RETRY_EXHAUSTED, "policy" => policy.to_label()).increment(1);
}

/// A queued call got its slot, or gave up, after `waited`.
pub(crate) fn bulkhead_wait(policy: &PolicyName, waited: Duration) {
    histogram!(BULKHEAD_WAIT, "policy" => policy.to_label()).record(waited.as_secs_f64());
}

/// When the call starting now began, if call timing is on. Only the tower
/// layer times calls this way.
#[cfg(feature = "tower")]
#[inline]
pub(crate) fn timing_start() -> Option<tokio::time::Instant> {
    if CALL_TIMING.load(Ordering::Relaxed) {
        Some(tokio::time::Instant::now())
    } else {
        None
    }
}

/// A timed call ended with `outcome` after `took`.
#[cold]
pub(crate) fn call_duration(policy: &PolicyName, outcome: &'static str, took: Duration) {
    histogram!(CALL_DURATION, "policy" => policy.to_label(), "outcome" => outcome)
        .record(took.as_secs_f64());
}
