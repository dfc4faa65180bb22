//! What a call holds while it runs through a breaker: [`CircuitPermit`],
//! two words (the breaker and a packed `Ticket` of generation, trial flag
//! and start time) so that it lives cheaply across the call's await, its
//! owned form for the tower layer, and `settle`, which the generated code
//! uses to report an outcome. A permit dropped without an outcome counts a
//! failure while a panic unwinds and otherwise only gives its trial slot
//! back.

use std::fmt;
use std::mem::ManuallyDrop;
#[cfg(feature = "tower")]
use std::sync::Arc;

use super::CircuitBreaker;

/// Leave to make one call through a [`CircuitBreaker`]; say how it went with
/// [`success`](Self::success), [`failure`](Self::failure) or
/// [`ignored`](Self::ignored).
///
/// Dropped without an outcome, it gives back its half-open trial slot (the
/// call was cancelled and says nothing about the dependency); dropped while
/// a panic unwinds, it counts a failure.
///
/// ```
/// let breaker = resil::CircuitBreaker::new("permit-doc", Default::default()).unwrap();
/// let permit = breaker.try_acquire().unwrap();
/// permit.success();
/// assert_eq!(breaker.snapshot().successes, 1);
/// ```
#[must_use = "a permit records nothing unless told the outcome"]
pub struct CircuitPermit<'a> {
    breaker: &'a CircuitBreaker,
    ticket: Ticket,
}

/// What a permit remembers of its call, in one machine word: the breaker
/// generation it was issued in (bits 0-15), whether it is a trial (bit 16),
/// whether the call is timed (bit 17) and its duration goes to metrics (bit
/// 18), whether the breaker was switched off (bit 19: the permit records
/// nothing), and when the call started (bits 20-63, microseconds from the
/// clock's epoch, wrapping every 203 days).
///
/// One word, so that a permit is two and travels in registers: the permit
/// lives across the call's `.await`, and a permit of narrow fields copied
/// with wide loads from freshly written memory stalls the CPU's store
/// forwarding (a few ns a call, measured on the closed path).
#[derive(Clone, Copy)]
pub(crate) struct Ticket(u64);

impl Ticket {
    const TRIAL: u64 = 1 << 16;
    const TIMED: u64 = 1 << 17;
    const METERED: u64 = 1 << 18;
    const BYPASS_BIT: u64 = 1 << 19;
    const START_SHIFT: u32 = 20;
    const START_MASK: u64 = (1 << (64 - Self::START_SHIFT)) - 1;

    /// The ticket of a call through a breaker that is switched off.
    pub(crate) const BYPASS: Self = Self(Self::BYPASS_BIT);

    /// `started`: the call's start in clock microseconds, if it is timed;
    /// `metered`: its duration goes to metrics.
    #[inline]
    pub(crate) fn new(generation: u16, trial: bool, started: Option<i64>, metered: bool) -> Self {
        let mut bits = u64::from(generation);
        if trial {
            bits |= Self::TRIAL;
        }
        if metered {
            bits |= Self::METERED;
        }
        if let Some(started) = started {
            bits |= Self::TIMED | ((started as u64 & Self::START_MASK) << Self::START_SHIFT);
        }
        Self(bits)
    }

    #[inline]
    pub(crate) fn generation(self) -> u16 {
        self.0 as u16
    }

    #[inline]
    pub(crate) fn trial(self) -> bool {
        self.0 & Self::TRIAL != 0
    }

    #[inline]
    pub(crate) fn timed(self) -> bool {
        self.0 & Self::TIMED != 0
    }

    #[inline]
    fn bypass(self) -> bool {
        self.0 & Self::BYPASS_BIT != 0
    }

    /// Microseconds from the call's start to `now` (clock microseconds), if
    /// the call is timed. Wrapping arithmetic on 44 bits: right for any call
    /// shorter than 100 days.
    pub(crate) fn elapsed_micros(self, now: i64) -> Option<u64> {
        self.timed()
            .then(|| (now as u64).wrapping_sub(self.0 >> Self::START_SHIFT) & Self::START_MASK)
    }

    /// Sends the call's duration to metrics, if it is metered.
    #[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
    fn meter(self, breaker: &CircuitBreaker, outcome: &'static str) {
        #[cfg(feature = "metrics")]
        if self.0 & Self::METERED != 0
            && let Some(micros) = self.elapsed_micros(crate::clock::now_micros())
        {
            crate::meter::call_duration(
                breaker.name(),
                outcome,
                std::time::Duration::from_micros(micros),
            );
        }
    }
}

impl<'a> CircuitPermit<'a> {
    #[inline]
    pub(super) fn new(breaker: &'a CircuitBreaker, ticket: Ticket) -> Self {
        Self { breaker, ticket }
    }

    /// Settles the permit: its `Drop` (which handles the unsettled case)
    /// must not run.
    #[inline]
    fn settle(self) -> (&'a CircuitBreaker, Ticket) {
        let this = ManuallyDrop::new(self);
        (this.breaker, this.ticket)
    }

    /// The call succeeded.
    #[inline]
    pub fn success(self) {
        let (breaker, ticket) = self.settle();
        if ticket.0 & (Ticket::BYPASS_BIT | Ticket::METERED) != 0 {
            return Self::success_unusual(breaker, ticket);
        }
        breaker.on_success(ticket);
    }

    #[cold]
    fn success_unusual(breaker: &CircuitBreaker, ticket: Ticket) {
        if !ticket.bypass() {
            ticket.meter(breaker, "success");
            breaker.on_success(ticket);
        }
    }

    /// The call failed.
    pub fn failure(self) {
        let (breaker, ticket) = self.settle();
        if !ticket.bypass() {
            ticket.meter(breaker, "failure");
            breaker.on_failure(ticket);
        }
    }

    /// The call failed in a way that says nothing about the dependency's
    /// health (a validation error, say): counted as ignored.
    pub fn ignored(self) {
        let (breaker, ticket) = self.settle();
        if !ticket.bypass() {
            ticket.meter(breaker, "ignored");
            breaker.on_release(ticket, true);
        }
    }

    /// The call did not reach the dependency (an inner policy refused it):
    /// counted nowhere.
    pub fn release(self) {
        let (breaker, ticket) = self.settle();
        if !ticket.bypass() {
            ticket.meter(breaker, "rejected");
            breaker.on_release(ticket, false);
        }
    }

    /// Whether this is one of the half-open state's trial calls.
    pub fn is_trial(&self) -> bool {
        self.ticket.trial()
    }

    /// The same permit, holding its breaker by `Arc` so that it can live in
    /// a future that outlives the borrow. `breaker` must be the breaker this
    /// permit came from.
    #[cfg(feature = "tower")]
    pub(crate) fn into_owned(self, breaker: Arc<CircuitBreaker>) -> OwnedCircuitPermit {
        let (borrowed, ticket) = self.settle();
        debug_assert!(std::ptr::eq(borrowed, &*breaker));
        OwnedCircuitPermit {
            breaker,
            ticket,
            settled: false,
        }
    }
}

/// A [`CircuitPermit`] that owns its breaker, for futures that must be
/// `'static` (the `tower` layer's). Settles the same way when dropped.
#[cfg(feature = "tower")]
pub(crate) struct OwnedCircuitPermit {
    breaker: Arc<CircuitBreaker>,
    ticket: Ticket,
    settled: bool,
}

#[cfg(feature = "tower")]
impl OwnedCircuitPermit {
    pub(crate) fn success(mut self) {
        self.settled = true;
        self.breaker.on_success(self.ticket);
    }

    pub(crate) fn failure(mut self) {
        self.settled = true;
        self.breaker.on_failure(self.ticket);
    }

    pub(crate) fn release(mut self) {
        self.settled = true;
        self.breaker.on_release(self.ticket, false);
    }
}

#[cfg(feature = "tower")]
impl Drop for OwnedCircuitPermit {
    fn drop(&mut self) {
        if self.settled {
            return;
        }
        self.breaker.on_dropped(self.ticket);
    }
}

#[cfg(feature = "tower")]
impl fmt::Debug for OwnedCircuitPermit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedCircuitPermit")
            .field("breaker", self.breaker.name())
            .field("trial", &self.ticket.trial())
            .finish()
    }
}

impl Drop for CircuitPermit<'_> {
    fn drop(&mut self) {
        if !self.ticket.bypass() {
            self.breaker.on_dropped(self.ticket);
        }
    }
}

impl fmt::Debug for CircuitPermit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CircuitPermit")
            .field("breaker", self.breaker.name())
            .field("trial", &self.is_trial())
            .finish()
    }
}

/// Tells a circuit breaker's permit how the call went; `ignore` picks the
/// errors that say nothing about the dependency. (An inner policy's
/// refusal never gets here: it leaves the permit unsettled, which counts
/// it nowhere.)
#[inline]
pub fn settle<T, E, I>(permit: CircuitPermit<'_>, result: &Result<T, E>, ignore: I)
where
    I: Fn(&E) -> bool,
{
    match result {
        Ok(_) => permit.success(),
        Err(error) if ignore(error) => permit.ignored(),
        Err(_) => permit.failure(),
    }
}
