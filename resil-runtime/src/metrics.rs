//! Metrics through the `metrics` facade (0.24), for Prometheus or any
//! other exporter that installs a `metrics` recorder.
//!
//! Only with the `metrics` feature (off by default: it adds a dependency
//! that programs on another telemetry stack do not want; turning it on adds
//! no cost to a call that nobody opted into).
//!
//! | metric | kind | labels | published |
//! | --- | --- | --- | --- |
//! | `circuit_breaker_state` | gauge | `policy` | on each transition and by [`record`]: 0 closed, 1 open, 2 half-open ([`CircuitState::metric_value`]) |
//! | `circuit_breaker_transitions_total` | counter | `policy`, `from`, `to` | on each transition |
//! | `circuit_breaker_calls_total` | counter | `policy`, `outcome` (`success`, `failure`, `ignored`, `rejected`) | by [`record`] |
//! | `resil_retry_attempts_total` | counter | `policy`, `attempt` | on each retry; `attempt` is the number of the attempt started (`2` is the first retry) |
//! | `resil_retry_exhausted_total` | counter | `policy` | when the last attempt fails |
//! | `bulkhead_capacity` | gauge | `policy` | by [`record`] |
//! | `bulkhead_in_flight` | gauge | `policy` | by [`record`] |
//! | `bulkhead_rejected_total` | counter | `policy` | by [`record`] |
//! | `bulkhead_wait_seconds` | histogram | `policy` | when a queued call gets its slot or gives up |
//! | `resil_call_duration_seconds` | histogram | `policy`, `outcome` | per circuit-breaker call, only after [`set_call_timing(true)`](set_call_timing) |
//!
//! # What a call pays
//!
//! Nothing, on the hot paths. Counts that the policies already keep in
//! atomics (calls by outcome, bulkhead occupancy and rejections) are read
//! and published by [`record`], which a `/metrics` handler calls before it
//! renders, so a call never reaches the facade. Events that are off the hot
//! path by nature (a breaker's transition, a retry, exhausted retries, a
//! bulkhead wait in the queue) are counted as they happen. Call durations
//! need a clock read per call, so they are recorded only once a program
//! opts in with [`set_call_timing`]; until then a call pays one relaxed
//! load.
//!
//! ```
//! // In a `/metrics` handler, before rendering the exporter's text:
//! resil::metrics::record();
//! // Opt in to `resil_call_duration_seconds` (two clock reads per call).
//! resil::metrics::set_call_timing(true);
//! assert!(resil::metrics::call_timing());
//! # resil::metrics::set_call_timing(false);
//! ```
//!
//! # How it is built
//!
//! Two halves, on either side of the policies: the hooks the policies call
//! as things happen, with the metric names and the call-timing switch, are
//! in `meter.rs`, below the policies and knowing none of them; this module,
//! above the registry, adds [`record`], which walks the registry's
//! snapshot, and re-exports the rest so that users see one module.
//!
//! [`CircuitState::metric_value`]: crate::CircuitState::metric_value

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use ::metrics::{Unit, counter, describe_counter, describe_gauge, describe_histogram, gauge};

use crate::error::{PolicyKind, PolicyName};
pub use crate::meter::{
    BULKHEAD_CAPACITY, BULKHEAD_IN_FLIGHT, BULKHEAD_REJECTED, BULKHEAD_WAIT, CALL_DURATION,
    CIRCUIT_BREAKER_CALLS, CIRCUIT_BREAKER_STATE, CIRCUIT_BREAKER_TRANSITIONS, RETRY_ATTEMPTS,
    RETRY_EXHAUSTED, call_timing, set_call_timing,
};
use crate::registry::registry;

/// Counter values already handed to the recorder, so that [`record`] can
/// publish increments. A plain `absolute()` would not do: exporters keep the
/// largest value they were given, so after a policy's `reset()` its counter
/// would stand still until the new count passed the old one.
///
/// Pruned on every `record()` to the policies the registry holds then: a
/// keyed policy's evicted members would otherwise stay here for good (a
/// million tenant keys once grew it by hundreds of megabytes).
static PUBLISHED: Mutex<Option<Published>> = Mutex::new(None);

/// The last value published of each counter, and the `record()` round that
/// last saw it.
#[derive(Debug, Default)]
struct Published {
    round: u64,
    counters: HashMap<CounterKey, (u64, u64)>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct CounterKey {
    kind: PolicyKind,
    policy: PolicyName,
    outcome: &'static str,
}

/// Publishes every registered policy's counters and gauges to the installed
/// `metrics` recorder: breaker states and calls by outcome, bulkhead
/// capacity, occupancy and rejections. Call it right before each scrape
/// (in the `/metrics` handler); it takes the registry's read locks and one
/// lock of its own, never a lock a call takes.
///
/// Counters are published as increments since the previous `record()`, so
/// they stay monotonic across a policy's `reset()`. Install the recorder
/// before the first `record()`: what is published to no recorder is gone.
///
/// ```
/// let breaker = resil::registry()
///     .register_circuit_breaker("record-doc", Default::default())
///     .unwrap();
/// breaker.try_acquire().unwrap().success();
/// resil::metrics::record(); // `circuit_breaker_calls_total{policy="record-doc",outcome="success"}` is now 1
/// ```
pub fn record() {
    describe();
    let snapshot = registry().snapshot();
    let mut published = PUBLISHED.lock().unwrap_or_else(PoisonError::into_inner);
    let published = published.get_or_insert_with(Published::default);
    published.round += 1;
    let round = published.round;
    let counters = &mut published.counters;
    let mut publish = |kind: PolicyKind, policy: &PolicyName, outcome: &'static str, now: u64| {
        let key = CounterKey {
            kind,
            policy: policy.clone(),
            outcome,
        };
        let before = counters
            .insert(key, (now, round))
            .map_or(0, |(before, _)| before);
        // A count below the last one published means the policy was reset:
        // everything counted since then is new.
        let delta = if now >= before { now - before } else { now };
        if delta == 0 {
            return;
        }
        match kind {
            PolicyKind::CircuitBreaker => {
                counter!(CIRCUIT_BREAKER_CALLS, "policy" => policy.to_label(), "outcome" => outcome)
                    .increment(delta);
            }
            _ => counter!(BULKHEAD_REJECTED, "policy" => policy.to_label()).increment(delta),
        }
    };
    for breaker in &snapshot.circuit_breakers {
        gauge!(CIRCUIT_BREAKER_STATE, "policy" => breaker.name.to_label())
            .set(f64::from(breaker.state.metric_value()));
        for (outcome, count) in [
            ("success", breaker.successes),
            ("failure", breaker.failures),
            ("ignored", breaker.ignored),
            ("rejected", breaker.rejected),
        ] {
            publish(PolicyKind::CircuitBreaker, &breaker.name, outcome, count);
        }
    }
    for bulkhead in &snapshot.bulkheads {
        gauge!(BULKHEAD_CAPACITY, "policy" => bulkhead.name.to_label())
            .set(f64::from(bulkhead.config.max_concurrent));
        gauge!(BULKHEAD_IN_FLIGHT, "policy" => bulkhead.name.to_label())
            .set(f64::from(bulkhead.in_flight));
        publish(
            PolicyKind::Bulkhead,
            &bulkhead.name,
            "rejected",
            bulkhead.rejected,
        );
    }
    // What this round did not see has left the registry (an evicted keyed
    // member, a removed policy); should it come back, it counts from zero
    // as a new policy does.
    published.counters.retain(|_, (_, seen)| *seen == round);
}

/// How many counters [`record`] remembers: at most one per outcome of each
/// policy the registry held at the last `record()`.
#[doc(hidden)]
pub fn published_counters() -> usize {
    PUBLISHED
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .as_ref()
        .map_or(0, |published| published.counters.len())
}

/// Help texts and units, for exporters that show them (Prometheus's
/// `# HELP`). Cheap enough to repeat on every scrape, and repeating it means
/// a recorder installed late still gets them.
fn describe() {
    describe_gauge!(
        CIRCUIT_BREAKER_STATE,
        "Circuit breaker state: 0 closed, 1 open, 2 half-open."
    );
    describe_counter!(
        CIRCUIT_BREAKER_TRANSITIONS,
        "Circuit breaker state changes, by the state left and the state entered."
    );
    describe_counter!(
        CIRCUIT_BREAKER_CALLS,
        "Calls through a circuit breaker, by outcome: success, failure, ignored, rejected."
    );
    describe_counter!(
        RETRY_ATTEMPTS,
        "Retries, by the number of the attempt started (2 is the first retry)."
    );
    describe_counter!(RETRY_EXHAUSTED, "Calls whose last allowed attempt failed.");
    describe_gauge!(BULKHEAD_CAPACITY, "Calls a bulkhead runs at once.");
    describe_gauge!(BULKHEAD_IN_FLIGHT, "Calls running in a bulkhead now.");
    describe_counter!(
        BULKHEAD_REJECTED,
        "Calls a bulkhead refused: queue full, or the wait ran out."
    );
    describe_histogram!(
        BULKHEAD_WAIT,
        Unit::Seconds,
        "Time queued calls waited for a bulkhead slot."
    );
    describe_histogram!(
        CALL_DURATION,
        Unit::Seconds,
        "Duration of calls through a circuit breaker, by outcome (opt-in)."
    );
}
