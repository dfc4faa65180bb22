//! Per-breaker callbacks on state changes ([`CircuitBreaker::on_state_change`]).
//!
//! Callbacks run on one background thread, `resil-callbacks`, fed by a
//! channel: the call whose outcome moved the breaker only clones the list of
//! callbacks and sends it, so a slow or blocking callback delays other
//! callbacks, never a call. The thread starts with the first callback
//! registered anywhere; a program that registers none has no thread. A
//! callback that panics is logged and the others still run.
//!
//! [`CircuitBreaker::on_state_change`]: super::CircuitBreaker::on_state_change

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::SystemTime;

use super::CircuitState;
use crate::error::PolicyName;

/// A circuit breaker's change of state, as its
/// [`on_state_change`](super::CircuitBreaker::on_state_change) callbacks see it.
///
/// ```
/// let breaker = resil::CircuitBreaker::new("change-doc", Default::default()).unwrap();
/// let (tx, rx) = std::sync::mpsc::channel();
/// breaker.on_state_change(move |change: &resil::StateChange| {
///     let _ = tx.send((change.from, change.to));
/// });
/// breaker.force_open();
/// let seen = rx.recv_timeout(std::time::Duration::from_secs(5)).unwrap();
/// assert_eq!(seen, (resil::CircuitState::Closed, resil::CircuitState::ForcedOpen));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StateChange {
    /// The breaker's name.
    pub policy: PolicyName,
    /// The state it left.
    pub from: CircuitState,
    /// The state it entered.
    pub to: CircuitState,
    /// Wall-clock time of the change.
    pub at: SystemTime,
}

type Callback = Arc<dyn Fn(&StateChange) + Send + Sync + 'static>;

/// The callbacks of one breaker. Boxed behind a `OnceLock` in the breaker,
/// so a breaker without callbacks pays one pointer for them.
#[derive(Default)]
pub(super) struct Observers {
    callbacks: Mutex<Vec<Callback>>,
}

struct Delivery {
    callbacks: Vec<Callback>,
    change: StateChange,
}

impl Observers {
    pub(super) fn add(&self, callback: Callback) {
        // Start the thread now, so the first transition does not pay for it.
        let _ = dispatcher();
        self.lock().push(callback);
    }

    pub(super) fn notify(&self, policy: &PolicyName, from: CircuitState, to: CircuitState) {
        let callbacks = self.lock().clone();
        if callbacks.is_empty() {
            return;
        }
        let delivery = Delivery {
            callbacks,
            change: StateChange {
                policy: policy.clone(),
                from,
                to,
                at: SystemTime::now(),
            },
        };
        let undelivered = match dispatcher() {
            Some(sender) => sender.send(delivery).err().map(|failed| failed.0),
            None => Some(delivery),
        };
        // Only if no thread could be started (or it is gone): run here
        // rather than drop the notification.
        if let Some(delivery) = undelivered {
            deliver(delivery);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Callback>> {
        // A push or a clone cannot leave the list half-changed.
        self.callbacks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl fmt::Debug for Observers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Observers")
            .field("callbacks", &self.lock().len())
            .finish()
    }
}

fn dispatcher() -> Option<&'static Sender<Delivery>> {
    static SENDER: OnceLock<Option<Sender<Delivery>>> = OnceLock::new();
    SENDER
        .get_or_init(|| {
            let (sender, receiver) = mpsc::channel::<Delivery>();
            std::thread::Builder::new()
                .name("resil-callbacks".into())
                .spawn(move || {
                    for delivery in receiver {
                        deliver(delivery);
                    }
                })
                .map_err(|error| {
                    tracing::error!(target: "resil", %error, "could not start the callback thread; callbacks will run on the calling thread");
                })
                .ok()
                .map(|_| sender)
        })
        .as_ref()
}

fn deliver(delivery: Delivery) {
    for callback in &delivery.callbacks {
        if catch_unwind(AssertUnwindSafe(|| callback(&delivery.change))).is_err() {
            tracing::error!(target: "resil", policy = %delivery.change.policy, "an on_state_change callback panicked");
        }
    }
}
