//! The [`CircuitBreaker`] itself: its state word, counters, window and
//! live settings, how it is built, and what it reads about itself. What it
//! does lives beside it: `admission.rs` (entering), `transitions.rs`
//! (outcomes and state changes), `refusal.rs`, `snapshot.rs`.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::sliding::Window;
use super::state::Word;
use super::{CircuitBreakerConfig, CircuitState, LiveCircuitBreakerConfig, StateChange, observers};
use crate::counter::Counter;
use crate::error::{ConfigError, PolicyName};
use crate::sync::{AtomicI64, AtomicU64};

/// A circuit breaker: CLOSED, OPEN, HALF_OPEN.
///
/// It opens after `threshold` consecutive failures, or when `failure_rate`
/// is reached over the last `window` calls once `min_calls` were seen. While
/// open it rejects at once with [`Error::CircuitOpen`](crate::Error::CircuitOpen). After `timeout` it
/// lets `half_open_max` trial calls through; `success_threshold` successes
/// close it, one failure opens it again and restarts the timer.
///
/// The `#[circuit_breaker]` macro creates and registers breakers; this type
/// is also usable directly:
///
/// ```
/// use resil::{CircuitBreaker, CircuitBreakerConfig, CircuitState};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let breaker = CircuitBreaker::new("doc-breaker", CircuitBreakerConfig::DEFAULT.threshold(2)).unwrap();
/// for _ in 0..2 {
///     let _ = breaker.call(async { Err::<(), resil::Error>(fail()) }).await;
/// }
/// assert_eq!(breaker.state(), CircuitState::Open);
/// assert!(matches!(breaker.try_acquire(), Err(resil::Error::CircuitOpen { .. })));
/// # }
/// # fn fail() -> resil::Error { resil::Error::Timeout { policy: "x".into(), after: Default::default() } }
/// ```
pub struct CircuitBreaker {
    pub(super) state: AtomicU64,
    pub(super) counters: Counters,
    pub(super) last_transition_micros: AtomicI64,
    pub(super) window: Option<Window>,
    pub(super) config: LiveCircuitBreakerConfig,
    pub(super) name: PolicyName,
}

#[derive(Debug, Default)]
pub(super) struct Counters {
    /// Bumped by every successful call: a per-thread counter, which costs
    /// no locked instruction (see `crate::counter`).
    pub(super) successes: Counter,
    pub(super) failures: AtomicU64,
    pub(super) ignored: AtomicU64,
    /// Bumped by every rejection: per-thread too, as an open breaker
    /// rejects at the rate calls come in.
    pub(super) rejected: Counter,
    pub(super) slow: AtomicU64,
}

impl CircuitBreaker {
    /// A breaker that no registry knows of. Use
    /// [`Registry::register_circuit_breaker`](crate::Registry::register_circuit_breaker)
    /// for one that is shared by name.
    pub fn new(
        name: impl Into<PolicyName>,
        config: CircuitBreakerConfig,
    ) -> Result<Self, ConfigError> {
        let name = name.into();
        config.validate(name.as_str())?;
        Ok(Self {
            state: AtomicU64::new(Word::initial().0),
            counters: Counters::default(),
            last_transition_micros: AtomicI64::new(i64::MIN),
            window: config.has_window().then(|| Window::new(&config)),
            config: LiveCircuitBreakerConfig::new(&config),
            name,
        })
    }

    /// The breaker's name.
    pub fn name(&self) -> &PolicyName {
        &self.name
    }

    /// The settings in force.
    pub fn config(&self) -> CircuitBreakerConfig {
        self.config.load()
    }

    /// The current state. An open breaker whose timeout has run out still
    /// reads `Open` until the next call moves it to half-open.
    pub fn state(&self) -> CircuitState {
        self.load().state()
    }

    #[inline]
    pub(super) fn load(&self) -> Word {
        Word(self.state.load(Ordering::Acquire))
    }

    /// Calls `callback` after every change of state, like gobreaker's
    /// `OnStateChange`, with the breaker's name, both states and the time.
    ///
    /// Callbacks run in registration order on a background thread
    /// (`resil-callbacks`), never on the call that caused the change, so a
    /// slow or blocking callback never delays a call; it only delays the
    /// callbacks after it. A panicking callback is logged and skipped. A
    /// change is seen shortly after it happens, not at once: to react within
    /// the same task, use [`state`](Self::state) or
    /// [`events::subscribe`](crate::events::subscribe).
    ///
    /// ```
    /// use std::sync::mpsc;
    /// use std::time::Duration;
    /// use resil::{CircuitBreaker, CircuitBreakerConfig, CircuitState};
    ///
    /// let breaker = std::sync::Arc::new(
    ///     CircuitBreaker::new("callback-doc", CircuitBreakerConfig::DEFAULT.threshold(1)).unwrap(),
    /// );
    /// let (tx, rx) = mpsc::channel();
    /// breaker.on_state_change(move |change| {
    ///     let _ = tx.send(format!("{} {} -> {}", change.policy, change.from, change.to));
    /// });
    /// breaker.try_acquire().unwrap().failure();
    /// assert_eq!(rx.recv_timeout(Duration::from_secs(5)).unwrap(), "callback-doc closed -> open");
    /// ```
    pub fn on_state_change(
        self: &Arc<Self>,
        callback: impl Fn(&StateChange) + Send + Sync + 'static,
    ) {
        observers::add(self, Arc::new(callback));
    }

    /// Bytes this breaker occupies, its window included.
    pub fn memory_footprint(&self) -> usize {
        std::mem::size_of::<Self>() + self.window.as_ref().map_or(0, Window::heap_bytes)
    }
}

impl Drop for CircuitBreaker {
    fn drop(&mut self) {
        if observers::any() {
            observers::remove(self);
        }
    }
}

impl fmt::Debug for CircuitBreaker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CircuitBreaker")
            .field("name", &self.name)
            .field("state", &self.state())
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}
