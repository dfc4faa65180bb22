//! Circuit breaker: stops calling a dependency that keeps failing, and
//! probes it with a few trial calls before trusting it again.
//!
//! # How the state is laid out
//!
//! Everything a transition depends on (the state, its generation, and the
//! consecutive-failure count, open deadline or half-open trial counts) lives
//! in one `AtomicU64` (see `state.rs`), so every transition is one
//! compare-and-swap, and the half-open trial limit holds under any
//! concurrency: a trial slot is taken by the same CAS that checks the limit.
//! The closed path is one `Acquire` load before the call and, after it, a
//! bump of a per-thread success counter (no locked instruction; see
//! `counter.rs`) and one more load (plus a CAS only when a failure streak
//! is broken). No lock and no allocation happen on the closed path, and no
//! clock read unless `slow_call`, a time window or metrics call timing asks
//! for one.
//!
//! A permit is two words, the breaker and a packed `Ticket` (generation,
//! trial, timing and start time): it lives across the call's await, and a
//! permit of narrow fields read back whole stalls the CPU's store
//! forwarding.
//!
//! The open path compares the deadline with the coarse monotonic clock
//! (`clock::certainly_before`) and reads the precise one only within a few
//! milliseconds of the deadline; the rejection is counted per thread and
//! leaves the entry as a one-word `Refusal`, made into a `resil::Error`
//! only where the generated code hands it on.
//!
//! # Windows
//!
//! With `failure_rate` or `slow_call` the breaker keeps a sliding window of
//! recent calls, allocated once when it is built:
//!
//! - a **count window** (`window = 100`, the default kind) holds the last
//!   `window` calls as rings of bits, one for failures and, with
//!   `slow_call`, one for slow calls (see `window.rs`): 16 bytes per ring
//!   for 100 calls, so a breaker with a 100-call window stays under 256
//!   bytes in all;
//! - a **time window** (`window = 60s`) holds the calls of the last `window`
//!   in 64 buckets of `window / 64` each, every counter an atomic word that
//!   carries its bucket's epoch (see `time_window.rs`): 1536 bytes whatever
//!   the length or the traffic, and one clock read per call.
//!
//! The breaker opens when, once the window holds `min_calls` calls, the
//! share of failures reaches `failure_rate` or the share of slow calls
//! reaches `slow_rate`.
//!
//! # Slow calls
//!
//! With `slow_call = 2s`, a permit notes the time it was issued and the
//! outcome compares the call's duration with the bound: a call that took
//! longer is slow, whether it succeeded or failed, and is recorded as such
//! in the window. A slow half-open trial counts as a failed trial.

mod assess;
mod config;
#[cfg(feature = "chaos")]
mod fault;
mod observers;
pub(crate) mod permit;
mod reconfigure;
mod state;
mod time_window;
pub(crate) mod window;

use crate::sync::{AtomicI64, AtomicU64};
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde::Serialize;

pub use config::CircuitBreakerConfig;
pub use observers::StateChange;
pub use permit::CircuitPermit;
#[cfg(feature = "tower")]
pub(crate) use permit::OwnedCircuitPermit;
pub use state::CircuitState;

use crate::clock;
use crate::counter::Counter;
use crate::error::{ConfigError, Error, PolicyKind, PolicyName};
use crate::events::{self, EventKind};
use crate::status::Status;
pub(crate) use config::LiveCircuitBreakerConfig;
use permit::Ticket;
use state::Word;
use time_window::TimeWindow;
use window::{CountWindow, WindowTally};

/// Why a breaker refused a call, before it is made into a
/// [`resil::Error`](Error) by [`CircuitBreaker::refusal_error`]: two words
/// where the error is six, so that the refusal travels out of the entry
/// cheaply and the error is built once, where it is handed on.
///
/// One word, without drop glue: the `retry_after` of an open (or forced
/// open, or full half-open) breaker in microseconds, or [`INJECTED`] for a
/// chaos fault.
///
/// [`INJECTED`]: Self::INJECTED
#[doc(hidden)]
#[derive(Debug, Clone, Copy)]
pub struct Refusal(u64);

impl Refusal {
    /// A failure injected by chaos.
    #[cfg_attr(not(feature = "chaos"), allow(dead_code))]
    pub(crate) const INJECTED: Self = Self(u64::MAX);

    #[inline]
    fn open(retry_after: Duration) -> Self {
        Self(
            u64::try_from(retry_after.as_micros())
                .unwrap_or(u64::MAX)
                .min(u64::MAX - 1),
        )
    }
}

/// The shortest time window: its 64 buckets are then at least 15ms wide.
pub(crate) const MIN_TIME_WINDOW: Duration = Duration::from_secs(1);

/// The sliding window of recent calls.
#[derive(Debug)]
enum Window {
    Count(CountWindow),
    Time(TimeWindow),
}

impl Window {
    fn new(config: &CircuitBreakerConfig) -> Self {
        match config.time_window {
            Some(length) => Window::Time(TimeWindow::new(length)),
            None => Window::Count(CountWindow::new(config.window, config.slow_call.is_some())),
        }
    }

    /// Records a call; returns what the window holds if `evaluate`, or
    /// always for a count window, where it costs nothing more.
    fn record(&self, now: &Now, failed: bool, slow: bool, evaluate: bool) -> Option<WindowTally> {
        match self {
            Window::Count(window) => Some(window.record(failed, slow)),
            Window::Time(window) => {
                let now = now.get();
                window.record(now, failed, slow);
                evaluate.then(|| window.tally(now))
            }
        }
    }

    fn tally(&self) -> WindowTally {
        match self {
            Window::Count(window) => window.tally(),
            Window::Time(window) => window.tally(clock::now_nanos()),
        }
    }

    fn reset(&self) {
        match self {
            Window::Count(window) => window.reset(),
            Window::Time(window) => window.reset(clock::now_nanos()),
        }
    }

    fn heap_bytes(&self) -> usize {
        match self {
            Window::Count(window) => window.heap_bytes(),
            Window::Time(window) => window.heap_bytes(),
        }
    }
}

/// The clock, read at most once per outcome and only if needed.
struct Now(std::cell::Cell<Option<i64>>);

impl Now {
    fn new() -> Self {
        Self(std::cell::Cell::new(None))
    }

    fn get(&self) -> i64 {
        match self.0.get() {
            Some(now) => now,
            None => {
                let now = clock::now_nanos();
                self.0.set(Some(now));
                now
            }
        }
    }
}

/// A circuit breaker: CLOSED, OPEN, HALF_OPEN.
///
/// It opens after `threshold` consecutive failures, or when `failure_rate`
/// is reached over the last `window` calls once `min_calls` were seen. While
/// open it rejects at once with [`Error::CircuitOpen`]. After `timeout` it
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
    state: AtomicU64,
    counters: Counters,
    last_transition_micros: AtomicI64,
    window: Option<Window>,
    config: LiveCircuitBreakerConfig,
    name: PolicyName,
}

#[derive(Debug, Default)]
struct Counters {
    /// Bumped by every successful call: a per-thread counter, which costs
    /// no locked instruction (see `crate::counter`).
    successes: Counter,
    failures: AtomicU64,
    ignored: AtomicU64,
    /// Bumped by every rejection: per-thread too, as an open breaker
    /// rejects at the rate calls come in.
    rejected: Counter,
    slow: AtomicU64,
}

/// Counts and state of one breaker at one moment, as the registry's
/// snapshot serializes it.
///
/// ```
/// let breaker = resil::CircuitBreaker::new("metrics-doc", Default::default()).unwrap();
/// let view = breaker.snapshot();
/// assert_eq!(view.state, resil::CircuitState::Closed);
/// assert_eq!(view.calls, 0);
/// ```
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct CircuitBreakerSnapshot {
    /// The breaker's name.
    pub name: PolicyName,
    /// Its state.
    pub state: CircuitState,
    /// Calls that finished or were rejected.
    pub calls: u64,
    /// Calls that succeeded.
    pub successes: u64,
    /// Calls that failed (including panics).
    pub failures: u64,
    /// Calls whose error `ignore` excluded from the failure count.
    pub ignored: u64,
    /// Calls rejected without running.
    pub rejected: u64,
    /// Calls slower than `slow_call` (successes and failures alike).
    pub slow_calls: u64,
    /// The current run of consecutive failures (closed state only).
    pub consecutive_failures: u32,
    /// Trial calls running now (half-open state only).
    pub trial_calls_in_flight: Option<u32>,
    /// Trial calls that succeeded so far; `success_threshold` of them close
    /// the breaker (half-open state only).
    pub trial_successes: Option<u32>,
    /// Failure rate over the window, when `failure_rate` is set.
    pub failure_rate: Option<f64>,
    /// Calls the window holds, when `failure_rate` or `slow_call` is set.
    pub window_calls: Option<u32>,
    /// Share of slow calls in the window, when `slow_call` is set.
    pub slow_call_rate: Option<f64>,
    /// Milliseconds until trial calls are let through, while open.
    pub half_open_in_ms: Option<u64>,
    /// Milliseconds since the last state change, if it ever changed.
    pub since_transition_ms: Option<u64>,
    /// Healthy, degraded or unhealthy; see [`health`](crate::health).
    pub health: Status,
    /// From 0 (open) to 1 (closed, nothing failing); see [`health`](crate::health).
    pub score: f64,
    /// The settings in force.
    pub config: CircuitBreakerConfig,
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
    fn load(&self) -> Word {
        Word(self.state.load(Ordering::Acquire))
    }

    /// Asks to make one call. The permit records the call's outcome; if it
    /// is dropped without one (the call was cancelled) it gives its trial
    /// slot back, and if it is dropped while a panic unwinds it counts a
    /// failure.
    #[inline]
    pub fn try_acquire(&self) -> Result<CircuitPermit<'_>, Error> {
        let word = self.load();
        if let Some(permit) = self.closed_permit(word) {
            return Ok(permit);
        }
        self.try_acquire_slow(word)
            .map_err(|refusal| self.refusal_error(refusal))
    }

    /// A permit if `word` lets every call through (closed, or forced
    /// closed): the whole closed path, inlined into each entry.
    #[inline]
    fn closed_permit(&self, word: Word) -> Option<CircuitPermit<'_>> {
        matches!(
            word.state(),
            CircuitState::Closed | CircuitState::ForcedClosed
        )
        .then(|| CircuitPermit::new(self, self.ticket(word.generation(), false)))
    }

    /// Every state but closed: kept out of line so the closed path above
    /// inlines into the caller as a load and a branch.
    #[cold]
    #[inline(never)]
    fn try_acquire_slow(&self, mut word: Word) -> Result<CircuitPermit<'_>, Refusal> {
        loop {
            match word.state() {
                CircuitState::Closed | CircuitState::ForcedClosed => {
                    return Ok(CircuitPermit::new(
                        self,
                        self.ticket(word.generation(), false),
                    ));
                }
                CircuitState::Open => {
                    let deadline = word.deadline_micros();
                    // The coarse reading lags: the wait it gives is a little
                    // longer than the precise one, never shorter.
                    if let Some(coarse_now) = clock::certainly_before(deadline) {
                        return Err(self.refuse(clock::micros_to_duration(deadline - coarse_now)));
                    }
                    let now = clock::now_micros();
                    if now < deadline {
                        return Err(self.refuse(clock::micros_to_duration(deadline - now)));
                    }
                    let next = word.transition(CircuitState::HalfOpen, 0).with_trials(1, 0);
                    match self.cas(word, next) {
                        Ok(()) => {
                            self.transitioned(CircuitState::Open, CircuitState::HalfOpen);
                            return Ok(CircuitPermit::new(
                                self,
                                self.ticket(next.generation(), true),
                            ));
                        }
                        Err(actual) => word = actual,
                    }
                }
                CircuitState::HalfOpen => {
                    let in_flight = word.trials_in_flight();
                    if in_flight >= self.config.half_open_max() {
                        return Err(self.refuse(Duration::ZERO));
                    }
                    let next = word.with_trials(in_flight + 1, word.trial_successes());
                    match self.cas(word, next) {
                        Ok(()) => {
                            return Ok(CircuitPermit::new(
                                self,
                                self.ticket(word.generation(), true),
                            ));
                        }
                        Err(actual) => word = actual,
                    }
                }
                CircuitState::ForcedOpen => return Err(self.refuse(self.config.timeout())),
            }
        }
    }

    /// Counts and reports a rejection; the error itself is made only by
    /// [`refusal_error`](Self::refusal_error), where it is handed on.
    #[inline(always)]
    fn refuse(&self, retry_after: Duration) -> Refusal {
        self.counters.rejected.increment();
        #[cfg(feature = "metrics")]
        if crate::meter::call_timing() {
            crate::meter::call_duration(&self.name, "rejected", Duration::ZERO);
        }
        tracing::debug!(target: "resil", policy = %self.name, retry_after_ms = retry_after.as_millis() as u64, "circuit breaker rejected a call");
        events::rejected(&self.name, PolicyKind::CircuitBreaker, || {
            self.open_error(retry_after)
        });
        Refusal::open(retry_after)
    }

    fn open_error(&self, retry_after: Duration) -> Error {
        Error::CircuitOpen {
            policy: self.name.clone(),
            retry_after,
        }
    }

    /// The error a [`Refusal`] of this breaker stands for.
    #[doc(hidden)]
    #[cold]
    pub fn refusal_error(&self, refusal: Refusal) -> Error {
        #[cfg(feature = "chaos")]
        if refusal.0 == Refusal::INJECTED.0 {
            return crate::chaos::injected_error(&self.name);
        }
        self.open_error(Duration::from_micros(refusal.0))
    }

    /// [`try_acquire`](Self::try_acquire), with the refusal not yet an error.
    #[cfg(feature = "chaos")]
    pub(crate) fn acquire_or_refuse(&self) -> Result<CircuitPermit<'_>, Refusal> {
        self.enter_now()
    }

    fn cas(&self, current: Word, new: Word) -> Result<(), Word> {
        self.state
            .compare_exchange(current.0, new.0, Ordering::AcqRel, Ordering::Acquire)
            .map(|_| ())
            .map_err(Word)
    }

    /// The permit's ticket for a call starting now. The start time is read
    /// only if the call is timed (`slow_call`, or metrics call timing): the
    /// only clock read a closed breaker makes before the call.
    #[inline]
    fn ticket(&self, generation: u16, trial: bool) -> Ticket {
        #[cfg(feature = "metrics")]
        let metered = crate::meter::call_timing();
        #[cfg(not(feature = "metrics"))]
        let metered = false;
        let started = (metered || self.config.slow_call().is_some()).then(clock::now_micros);
        Ticket::new(generation, trial, started, metered)
    }

    /// Whether a call that started at `started` was slower than `slow_call`.
    fn is_slow(&self, ticket: Ticket, now: &Now) -> bool {
        if !ticket.timed() {
            return false;
        }
        let Some(bound) = self.config.slow_call() else {
            return false;
        };
        let elapsed = ticket.elapsed_micros(now.get().div_euclid(1_000));
        let slow = elapsed.is_some_and(|elapsed| elapsed as u128 > bound.as_micros());
        if slow {
            self.counters.slow.fetch_add(1, Ordering::Relaxed);
        }
        slow
    }

    /// Whether the window's rates call for opening.
    fn rates_reached(&self, tally: WindowTally) -> bool {
        if tally.calls < self.config.effective_min_calls() {
            return false;
        }
        let failing = self
            .config
            .failure_rate()
            .is_some_and(|limit| tally.rate() >= limit);
        let slow = self.config.slow_call().is_some()
            && tally.slow_rate() >= self.config.slow_rate().unwrap_or(1.0);
        failing || slow
    }

    #[inline]
    pub(crate) fn on_success(&self, ticket: Ticket) {
        self.counters.successes.increment();
        // The common case: an untimed, windowless call that found the
        // breaker closed with no failure streak to break. Nothing to change.
        if !ticket.trial() && !ticket.timed() && self.window.is_none() {
            let word = self.load();
            if word.state() != CircuitState::Closed || word.consecutive_failures() == 0 {
                return;
            }
        }
        self.on_success_slow(ticket);
    }

    #[cold]
    #[inline(never)]
    fn on_success_slow(&self, ticket: Ticket) {
        let (generation, trial) = (ticket.generation(), ticket.trial());
        let now = Now::new();
        let slow = self.is_slow(ticket, &now);
        // A success can open the breaker only by being slow.
        let slow_rate_reached = self.window.as_ref().is_some_and(|window| {
            window
                .record(&now, false, slow, slow)
                .is_some_and(|tally| slow && self.rates_reached(tally))
        });
        let mut word = self.load();
        loop {
            let next = match word.state() {
                CircuitState::Closed if slow_rate_reached => self.open_word(word),
                CircuitState::Closed if word.consecutive_failures() != 0 => {
                    word.with_consecutive_failures(0)
                }
                // A slow trial says the dependency is not well yet.
                CircuitState::HalfOpen if trial && word.generation() == generation && slow => {
                    self.open_word(word)
                }
                CircuitState::HalfOpen if trial && word.generation() == generation => {
                    let successes = word.trial_successes() + 1;
                    if successes >= self.config.success_threshold() {
                        word.transition(CircuitState::Closed, 0)
                    } else {
                        word.with_trials(word.trials_in_flight().saturating_sub(1), successes)
                    }
                }
                _ => return,
            };
            match self.cas(word, next) {
                Ok(()) => {
                    if next.state() != word.state() {
                        if next.state() == CircuitState::Closed {
                            self.closed_again();
                        }
                        self.transitioned(word.state(), next.state());
                    }
                    return;
                }
                Err(actual) => word = actual,
            }
        }
    }

    pub(crate) fn on_failure(&self, ticket: Ticket) {
        let (generation, trial) = (ticket.generation(), ticket.trial());
        self.counters.failures.fetch_add(1, Ordering::Relaxed);
        let now = Now::new();
        let slow = self.is_slow(ticket, &now);
        let rate_reached = self.window.as_ref().is_some_and(|window| {
            window
                .record(&now, true, slow, true)
                .is_some_and(|tally| self.rates_reached(tally))
        });
        let mut word = self.load();
        loop {
            let next = match word.state() {
                // Only a call of the current closed period extends the
                // streak: one from before the breaker last opened (or a trial
                // that outlived its half-open period) cannot re-open it.
                CircuitState::Closed if word.generation() == generation => {
                    let failures = word.consecutive_failures().saturating_add(1);
                    if failures >= self.config.threshold() || rate_reached {
                        self.open_word(word)
                    } else {
                        word.with_consecutive_failures(failures)
                    }
                }
                CircuitState::HalfOpen if trial && word.generation() == generation => {
                    self.open_word(word)
                }
                _ => return,
            };
            match self.cas(word, next) {
                Ok(()) => {
                    if next.state() != word.state() {
                        self.transitioned(word.state(), next.state());
                    }
                    return;
                }
                Err(actual) => word = actual,
            }
        }
    }

    /// A permit dropped without an outcome: while a panic unwinds the call
    /// failed; otherwise it was cancelled, which says nothing about the
    /// dependency and only gives the trial slot back.
    pub(crate) fn on_dropped(&self, ticket: Ticket) {
        if std::thread::panicking() {
            self.on_failure(ticket);
        } else {
            self.on_release(ticket, false);
        }
    }

    /// A call that ended without an outcome that counts: an ignored error,
    /// an inner policy's rejection, or cancellation. Only its trial slot
    /// matters.
    pub(crate) fn on_release(&self, ticket: Ticket, ignored: bool) {
        let (generation, trial) = (ticket.generation(), ticket.trial());
        if ignored {
            self.counters.ignored.fetch_add(1, Ordering::Relaxed);
        }
        if !trial {
            return;
        }
        let mut word = self.load();
        while word.state() == CircuitState::HalfOpen
            && word.generation() == generation
            && word.trials_in_flight() > 0
        {
            let next = word.with_trials(word.trials_in_flight() - 1, word.trial_successes());
            match self.cas(word, next) {
                Ok(()) => return,
                Err(actual) => word = actual,
            }
        }
    }

    fn open_word(&self, word: Word) -> Word {
        let deadline =
            clock::now_micros().saturating_add(clock::saturating_micros(self.config.timeout()));
        word.transition(CircuitState::Open, Word::deadline_payload(deadline))
    }

    fn closed_again(&self) {
        if let Some(window) = &self.window {
            window.reset();
        }
    }

    fn transitioned(&self, from: CircuitState, to: CircuitState) {
        self.last_transition_micros
            .store(clock::now_micros(), Ordering::Relaxed);
        #[cfg(feature = "metrics")]
        crate::meter::transition(&self.name, from, to);
        if observers::any() {
            observers::notify(self, from, to);
        }
        if to == CircuitState::Open {
            // Once per opening, not per CAS attempt: whether the coarse
            // clock may decide this breaker's rejections.
            clock::observe();
            tracing::warn!(target: "resil", policy = %self.name, from = %from, to = %to, "circuit breaker opened");
        } else {
            tracing::info!(target: "resil", policy = %self.name, from = %from, to = %to, "circuit breaker state changed");
        }
        events::emit(
            &self.name,
            PolicyKind::CircuitBreaker,
            EventKind::StateChanged { from, to },
        );
    }

    fn set_state(&self, to: CircuitState) {
        let mut word = self.load();
        loop {
            let next = word.transition(to, 0);
            match self.cas(word, next) {
                Ok(()) => {
                    self.closed_again();
                    self.transitioned(word.state(), to);
                    return;
                }
                Err(actual) => word = actual,
            }
        }
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
    /// [`events::subscribe`].
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

    /// Holds the breaker open: every call is rejected until
    /// [`reset`](Self::reset) or [`force_closed`](Self::force_closed).
    pub fn force_open(&self) {
        self.set_state(CircuitState::ForcedOpen);
    }

    /// Holds the breaker closed: every call passes and failures never open
    /// it, until [`reset`](Self::reset) or [`force_open`](Self::force_open).
    pub fn force_closed(&self) {
        self.set_state(CircuitState::ForcedClosed);
    }

    /// Back to closed with an empty window and zeroed counters.
    pub fn reset(&self) {
        self.set_state(CircuitState::Closed);
        self.counters.successes.reset();
        self.counters.rejected.reset();
        for counter in [
            &self.counters.failures,
            &self.counters.ignored,
            &self.counters.slow,
        ] {
            counter.store(0, Ordering::Relaxed);
        }
    }

    /// Counts and state at this moment.
    pub fn snapshot(&self) -> CircuitBreakerSnapshot {
        let word = self.load();
        let now = clock::now_micros();
        let successes = self.counters.successes.get();
        let failures = self.counters.failures.load(Ordering::Relaxed);
        let ignored = self.counters.ignored.load(Ordering::Relaxed);
        let rejected = self.counters.rejected.get();
        let tally = self.window.as_ref().map(Window::tally);
        let last = self.last_transition_micros.load(Ordering::Relaxed);
        let half_open = word.state() == CircuitState::HalfOpen;
        let mut snapshot = CircuitBreakerSnapshot {
            name: self.name.clone(),
            state: word.state(),
            calls: successes + failures + ignored + rejected,
            successes,
            failures,
            ignored,
            rejected,
            slow_calls: self.counters.slow.load(Ordering::Relaxed),
            consecutive_failures: if word.state() == CircuitState::Closed {
                word.consecutive_failures()
            } else {
                0
            },
            trial_calls_in_flight: half_open.then(|| word.trials_in_flight()),
            trial_successes: half_open.then(|| word.trial_successes()),
            failure_rate: tally.map(|t| t.rate()),
            window_calls: tally.map(|t| t.calls),
            slow_call_rate: tally
                .filter(|_| self.config.slow_call().is_some())
                .map(|t| t.slow_rate()),
            half_open_in_ms: (word.state() == CircuitState::Open).then(|| {
                clock::micros_to_duration(word.deadline_micros() - now).as_millis() as u64
            }),
            since_transition_ms: (last != i64::MIN)
                .then(|| clock::micros_to_duration(now - last).as_millis() as u64),
            health: Status::Healthy,
            score: 1.0,
            config: self.config.load(),
        };
        let assessed = assess::assess_circuit_breaker(&snapshot, word.deadline_micros() <= now);
        snapshot.health = assessed.status;
        snapshot.score = assessed.score;
        snapshot
    }

    /// Whether a call now would be let through (a trial included), without
    /// taking a permit.
    pub(crate) fn would_admit(&self) -> bool {
        let word = self.load();
        match word.state() {
            CircuitState::Closed | CircuitState::ForcedClosed => true,
            CircuitState::Open => word.deadline_micros() <= clock::now_micros(),
            CircuitState::HalfOpen => word.trials_in_flight() < self.config.half_open_max(),
            CircuitState::ForcedOpen => false,
        }
    }

    /// Bytes this breaker occupies, its window included.
    pub fn memory_footprint(&self) -> usize {
        std::mem::size_of::<Self>() + self.window.as_ref().map_or(0, Window::heap_bytes)
    }

    /// Runs `call` through the breaker. Every error counts as a failure;
    /// a rejection is turned into `E` with `From<resil::Error>`.
    pub async fn call<T, E, F>(&self, call: F) -> Result<T, E>
    where
        F: Future<Output = Result<T, E>>,
        E: From<Error>,
    {
        let permit = match self.try_enter() {
            Some(permit) => permit,
            None => match self.enter_slow().await {
                Ok(permit) => permit,
                Err(refusal) => return Err(self.refusal_error(refusal).into()),
            },
        };
        let result = call.await;
        permit::settle(permit, &result, crate::outcome::never);
        result
    }

    /// The macros' entry on the fast path: a permit if the breaker is
    /// closed (or switched off by configuration, when the permit records
    /// nothing). `None` otherwise, and while chaos faults are injected
    /// anywhere: [`enter_slow`](Self::enter_slow) then decides.
    ///
    /// An `Option` of a two-word permit comes back in registers; a
    /// `Result` with the rejection would come back through memory.
    #[doc(hidden)]
    #[inline]
    pub fn try_enter(&self) -> Option<CircuitPermit<'_>> {
        #[cfg(feature = "chaos")]
        if crate::chaos::armed() {
            return None;
        }
        if !crate::switch::circuit_breakers() {
            return Some(CircuitPermit::new(self, Ticket::BYPASS));
        }
        self.closed_permit(self.load())
    }

    fn enter_now(&self) -> Result<CircuitPermit<'_>, Refusal> {
        if !crate::switch::circuit_breakers() {
            return Ok(CircuitPermit::new(self, Ticket::BYPASS));
        }
        let word = self.load();
        if let Some(permit) = self.closed_permit(word) {
            return Ok(permit);
        }
        self.try_acquire_slow(word)
    }

    /// The rest of the macros' entry: chaos faults (an injected failure, an
    /// added latency), then a permit or the refusal (made into an error by
    /// [`refusal_error`](Self::refusal_error)).
    #[doc(hidden)]
    #[cold]
    pub async fn enter_slow(&self) -> Result<CircuitPermit<'_>, Refusal> {
        #[cfg(feature = "chaos")]
        {
            let latency = fault::at_circuit_breaker(self)?;
            let permit = self.enter_now()?;
            if let Some(latency) = latency {
                tokio::time::sleep(latency).await;
            }
            Ok(permit)
        }
        #[cfg(not(feature = "chaos"))]
        self.enter_now()
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
