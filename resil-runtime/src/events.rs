//! Events: every state change, rejection, retry and exhausted retry, as a
//! `tracing` event (target `resil`) and, for code that subscribes, on a
//! broadcast channel.
//!
//! The channel is created on the first [`subscribe`]; until then emitting
//! costs one relaxed load. A subscriber that falls behind loses the oldest
//! events (it sees `RecvError::Lagged`) and never slows a call.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use tokio::sync::broadcast;

use crate::error::{PolicyKind, PolicyName};
use crate::status::CircuitState;

const CHANNEL_CAPACITY: usize = 1024;

static SUBSCRIBED: AtomicBool = AtomicBool::new(false);
static CHANNEL: OnceLock<broadcast::Sender<Event>> = OnceLock::new();

/// Something a policy did.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let mut events = resil::events::subscribe();
/// let breaker = resil::CircuitBreaker::new("events-doc", Default::default()).unwrap();
/// breaker.force_open();
/// let event = events.recv().await.unwrap();
/// assert_eq!(event.policy, "events-doc");
/// assert!(matches!(event.kind, resil::events::EventKind::StateChanged { .. }));
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Event {
    /// The policy's name.
    pub policy: PolicyName,
    /// What kind of policy it is.
    pub policy_kind: PolicyKind,
    /// Wall-clock time of the event.
    pub at: SystemTime,
    /// What happened.
    pub kind: EventKind,
}

/// What happened, with its details.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum EventKind {
    /// A circuit breaker moved from one state to another.
    StateChanged {
        /// The state it left.
        from: CircuitState,
        /// The state it entered.
        to: CircuitState,
    },
    /// A call was refused.
    Rejected {
        /// Why.
        error: crate::Error,
    },
    /// A failed attempt will be retried after `delay`.
    Retry {
        /// The attempt that failed, from 1.
        attempt: u32,
        /// The wait before the next attempt.
        delay: Duration,
    },
    /// The last allowed attempt failed.
    RetriesExhausted {
        /// How many attempts were made.
        attempts: u32,
    },
    /// A call ran out of time and was cancelled.
    TimedOut {
        /// The limit that ran out.
        after: Duration,
    },
}

/// Subscribes to the events of every policy.
pub fn subscribe() -> broadcast::Receiver<Event> {
    let receiver = channel().subscribe();
    SUBSCRIBED.store(true, Ordering::Release);
    receiver
}

fn channel() -> &'static broadcast::Sender<Event> {
    CHANNEL.get_or_init(|| broadcast::channel(CHANNEL_CAPACITY).0)
}

/// Whether anyone subscribed: callers check it before building an event
/// that costs something to make (a rejection clones its error).
#[inline]
pub(crate) fn enabled() -> bool {
    SUBSCRIBED.load(Ordering::Acquire)
}

/// Publishes a rejection, making the error only when someone listens:
/// the caller builds its own straight into its return value, as a copy
/// kept around for the event would cost every rejection.
#[inline]
pub(crate) fn rejected(
    policy: &PolicyName,
    policy_kind: PolicyKind,
    error: impl FnOnce() -> crate::Error,
) {
    if enabled() {
        emit(policy, policy_kind, EventKind::Rejected { error: error() });
    }
}

pub(crate) fn emit(policy: &PolicyName, policy_kind: PolicyKind, kind: EventKind) {
    if SUBSCRIBED.load(Ordering::Acquire) {
        // No receiver left is not an error worth reporting.
        let _ = channel().send(Event {
            policy: policy.clone(),
            policy_kind,
            at: SystemTime::now(),
            kind,
        });
    }
}
