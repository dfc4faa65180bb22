//! The state machine's transitions: what an outcome does to the state
//! word (a success may close a half-open breaker or break a failure
//! streak; a failure may open it; a slow call counts against the slow-call
//! rate), each one compare-and-swap, and what follows a change of state
//! (the window cleared, observers, metrics, events, logs). Outcomes carry
//! their permit's generation, so a late one from an earlier period cannot
//! move the state.

use std::sync::atomic::Ordering;

use super::permit::Ticket;
use super::sliding::{Now, Window};
use super::state::Word;
use super::window::WindowTally;
use super::{CircuitBreaker, CircuitState, observers};
use crate::clock;
use crate::error::PolicyKind;
use crate::events::{self, EventKind};

impl CircuitBreaker {
    pub(super) fn cas(&self, current: Word, new: Word) -> Result<(), Word> {
        self.state
            .compare_exchange(current.0, new.0, Ordering::AcqRel, Ordering::Acquire)
            .map(|_| ())
            .map_err(Word)
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
        // The common case: an untimed call (so not slow) that is not a
        // trial. It cannot open the breaker or close it; all it may do is
        // take its slot in a count window and break a failure streak.
        if !ticket.trial() && !ticket.timed() {
            match &self.window {
                None => {}
                // Recorded here, inline, with nothing read back: what the
                // cold path would record for it (see `window.rs`).
                Some(Window::Count(window)) => window.record_success(),
                Some(Window::Time(_)) => return self.on_success_slow(ticket),
            }
            let word = self.load();
            if word.state() == CircuitState::Closed && word.consecutive_failures() != 0 {
                self.break_streak(word);
            }
            return;
        }
        self.on_success_slow(ticket);
    }

    /// A success on a closed breaker with a failure streak: the streak
    /// starts over. (The cold path's loop, for a call already recorded.)
    #[cold]
    #[inline(never)]
    fn break_streak(&self, mut word: Word) {
        while word.state() == CircuitState::Closed && word.consecutive_failures() != 0 {
            match self.cas(word, word.with_consecutive_failures(0)) {
                Ok(()) => return,
                Err(actual) => word = actual,
            }
        }
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
                // Like a failure, only a call of the current closed period
                // can open it: a slow call from before the breaker last
                // opened (or was reset) cannot.
                CircuitState::Closed if slow_rate_reached && word.generation() == generation => {
                    self.open_word(word)
                }
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
            clock::now_micros().saturating_add(clock::saturating_micros(self.config.open_for()));
        // Asked of the clock the deadline comes from, once per opening:
        // a paused test clock must decide this breaker's rejections itself.
        word.transition(CircuitState::Open, Word::deadline_payload(deadline))
            .on_real_clock(clock::on_real_clock())
    }

    fn closed_again(&self) {
        if let Some(window) = &self.window {
            window.reset();
        }
    }

    pub(super) fn transitioned(&self, from: CircuitState, to: CircuitState) {
        self.last_transition_micros
            .store(clock::now_micros(), Ordering::Relaxed);
        #[cfg(feature = "metrics")]
        crate::meter::transition(&self.name, from, to);
        if observers::any() {
            observers::notify(self, from, to);
        }
        if to == CircuitState::Open {
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
}
