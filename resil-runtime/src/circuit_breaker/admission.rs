//! Entering the breaker: the closed path, inlined into every caller as a
//! load and a branch, and the cold path for every other state
//! (`try_acquire_slow`), which moves an open breaker to half-open when its
//! deadline has passed and hands out the half-open trial slots. The entry
//! points the generated code calls (`try_enter`, `enter_slow`) are here
//! too, with chaos and the kind's on/off switch in front of them.

use std::time::Duration;

#[cfg(feature = "chaos")]
use super::fault;
use super::permit::{self, Ticket};
use super::state::Word;
use super::{CircuitBreaker, CircuitPermit, CircuitState, Refusal};
use crate::clock;
use crate::error::Error;

impl CircuitBreaker {
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
                    if word.real_clock()
                        && let Some(coarse_now) = clock::certainly_before(deadline)
                    {
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
                CircuitState::ForcedOpen => return Err(self.refuse(self.config.open_for())),
            }
        }
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
    #[inline]
    pub(crate) fn try_enter(&self) -> Option<CircuitPermit<'_>> {
        #[cfg(feature = "chaos")]
        if crate::chaos::armed() {
            return None;
        }
        if !crate::switch::circuit_breakers() {
            return Some(CircuitPermit::new(self, Ticket::BYPASS));
        }
        self.closed_permit(self.load())
    }

    pub(super) fn enter_now(&self) -> Result<CircuitPermit<'_>, Refusal> {
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
    #[cold]
    pub(crate) async fn enter_slow(&self) -> Result<CircuitPermit<'_>, Refusal> {
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
