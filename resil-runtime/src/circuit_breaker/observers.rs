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

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::SystemTime;

use super::{CircuitBreaker, CircuitState};
use crate::error::PolicyName;

/// A circuit breaker's change of state, as its
/// [`on_state_change`](super::CircuitBreaker::on_state_change) callbacks see it.
///
/// ```
/// let breaker = std::sync::Arc::new(resil::CircuitBreaker::new("change-doc", Default::default()).unwrap());
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

/// Every breaker's callbacks, keyed by the breaker's address. They live
/// here rather than in the breaker because few breakers have any, and a
/// slot in each would cost every breaker 16 bytes; the address is stable
/// because callbacks are added through an `Arc`, and a breaker's entries
/// go when it is dropped.
static CALLBACKS: Mutex<Vec<(usize, Callback)>> = Mutex::new(Vec::new());
/// Whether any callback was ever added: the one load a transition pays
/// when none was.
static ANY: AtomicBool = AtomicBool::new(false);

struct Delivery {
    callbacks: Vec<Callback>,
    change: StateChange,
}

fn key(breaker: &CircuitBreaker) -> usize {
    std::ptr::from_ref(breaker) as usize
}

fn lock() -> std::sync::MutexGuard<'static, Vec<(usize, Callback)>> {
    // A push, a retain or a clone cannot leave the list half-changed.
    CALLBACKS.lock().unwrap_or_else(PoisonError::into_inner)
}

pub(super) fn any() -> bool {
    ANY.load(Ordering::Acquire)
}

pub(super) fn add(breaker: &Arc<CircuitBreaker>, callback: Callback) {
    // Start the thread now, so the first transition does not pay for it.
    let _ = dispatcher();
    lock().push((key(breaker), callback));
    ANY.store(true, Ordering::Release);
}

/// Forgets a dropped breaker's callbacks.
pub(super) fn remove(breaker: &CircuitBreaker) {
    let key = key(breaker);
    lock().retain(|(owner, _)| *owner != key);
}

pub(super) fn notify(breaker: &CircuitBreaker, from: CircuitState, to: CircuitState) {
    let key = key(breaker);
    let callbacks: Vec<Callback> = lock()
        .iter()
        .filter(|(owner, _)| *owner == key)
        .map(|(_, callback)| Arc::clone(callback))
        .collect();
    if callbacks.is_empty() {
        return;
    }
    let delivery = Delivery {
        callbacks,
        change: StateChange {
            policy: breaker.name().clone(),
            from,
            to,
            at: SystemTime::now(),
        },
    };
    let undelivered = match dispatcher() {
        Some(sender) => sender.send(delivery).err().map(|failed| failed.0),
        None => Some(delivery),
    };
    // Only if no thread could be started (or it is gone): run here rather
    // than drop the notification.
    if let Some(delivery) = undelivered {
        deliver(delivery);
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
