use std::fmt;
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
    generation: u16,
    trial: bool,
    settled: bool,
    /// When the call started (`clock::now_nanos`), if it is timed.
    started: i64,
}

impl<'a> CircuitPermit<'a> {
    #[inline]
    pub(super) fn new(
        breaker: &'a CircuitBreaker,
        generation: u16,
        trial: bool,
        started: i64,
    ) -> Self {
        Self {
            breaker,
            generation,
            trial,
            settled: false,
            started,
        }
    }

    /// The call succeeded.
    #[inline]
    pub fn success(mut self) {
        self.settled = true;
        self.breaker
            .on_success(self.generation, self.trial, self.started);
    }

    /// The call failed.
    pub fn failure(mut self) {
        self.settled = true;
        self.breaker
            .on_failure(self.generation, self.trial, self.started);
    }

    /// The call failed in a way that says nothing about the dependency's
    /// health (a validation error, say): counted as ignored.
    pub fn ignored(mut self) {
        self.settled = true;
        self.breaker.on_release(self.generation, self.trial, true);
    }

    /// The call did not reach the dependency (an inner policy refused it):
    /// counted nowhere.
    pub fn release(mut self) {
        self.settled = true;
        self.breaker.on_release(self.generation, self.trial, false);
    }

    /// Whether this is one of the half-open state's trial calls.
    pub fn is_trial(&self) -> bool {
        self.trial
    }

    /// The same permit, holding its breaker by `Arc` so that it can live in
    /// a future that outlives the borrow. `breaker` must be the breaker this
    /// permit came from.
    #[cfg(feature = "tower")]
    pub(crate) fn into_owned(mut self, breaker: Arc<CircuitBreaker>) -> OwnedCircuitPermit {
        debug_assert!(std::ptr::eq(self.breaker, &*breaker));
        self.settled = true;
        OwnedCircuitPermit {
            breaker,
            generation: self.generation,
            trial: self.trial,
            started: self.started,
            settled: false,
        }
    }
}

/// A [`CircuitPermit`] that owns its breaker, for futures that must be
/// `'static` (the `tower` layer's). Settles the same way when dropped.
#[cfg(feature = "tower")]
pub(crate) struct OwnedCircuitPermit {
    breaker: Arc<CircuitBreaker>,
    generation: u16,
    trial: bool,
    started: i64,
    settled: bool,
}

#[cfg(feature = "tower")]
impl OwnedCircuitPermit {
    pub(crate) fn success(mut self) {
        self.settled = true;
        self.breaker
            .on_success(self.generation, self.trial, self.started);
    }

    pub(crate) fn failure(mut self) {
        self.settled = true;
        self.breaker
            .on_failure(self.generation, self.trial, self.started);
    }

    pub(crate) fn release(mut self) {
        self.settled = true;
        self.breaker.on_release(self.generation, self.trial, false);
    }
}

#[cfg(feature = "tower")]
impl Drop for OwnedCircuitPermit {
    fn drop(&mut self) {
        if self.settled {
            return;
        }
        self.breaker
            .on_dropped(self.generation, self.trial, self.started);
    }
}

#[cfg(feature = "tower")]
impl fmt::Debug for OwnedCircuitPermit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedCircuitPermit")
            .field("breaker", self.breaker.name())
            .field("trial", &self.trial)
            .finish()
    }
}

impl Drop for CircuitPermit<'_> {
    #[inline]
    fn drop(&mut self) {
        if self.settled {
            return;
        }
        self.breaker
            .on_dropped(self.generation, self.trial, self.started);
    }
}

impl fmt::Debug for CircuitPermit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CircuitPermit")
            .field("breaker", self.breaker.name())
            .field("trial", &self.trial)
            .finish()
    }
}
