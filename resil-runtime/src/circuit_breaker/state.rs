//! The breaker's whole state machine in one `AtomicU64`, so that every
//! transition is a single compare-and-swap and no reader can see a state
//! paired with another state's deadline or trial count.
//!
//! ```text
//!  63   61 60          48 47                                   0
//! +-------+--------------+--------------------------------------+
//! |  tag  |  generation  |               payload                |
//! +-------+--------------+--------------------------------------+
//!   tag      Closed, Open, HalfOpen, ForcedOpen, ForcedClosed, or Open
//!            whose deadline was set on the real clock, so that the coarse
//!            clock may settle rejections before it (`clock::on_real_clock`)
//!   payload  Closed: consecutive failures
//!            Open: deadline, biased microseconds since the clock epoch
//!            HalfOpen: trials in flight (bits 0..16), trial successes (16..32)
//! ```
//!
//! The generation changes on every transition. A permit remembers the
//! generation it was issued in, so an outcome that arrives after the state
//! moved on (a slow call from before the breaker opened, a trial from an
//! earlier half-open period) cannot close or re-open the breaker.

pub use crate::status::CircuitState;

const TAG_SHIFT: u32 = 61;
const GEN_SHIFT: u32 = 48;
const GEN_MASK: u64 = (1 << 13) - 1;
/// The tag of an open state whose deadline was set on the real clock: read
/// with the deadline in one load, so no rejection can pair a deadline with
/// another opening's answer.
const OPEN_ON_REAL_CLOCK: u64 = 5;
const PAYLOAD_MASK: u64 = (1 << GEN_SHIFT) - 1;
const DEADLINE_BIAS: i64 = 1 << 47;

/// The state's tag: the top three bits of the word.
#[inline]
fn tag(state: CircuitState) -> u64 {
    use CircuitState as S;
    match state {
        S::Closed => 0,
        S::Open => 1,
        S::HalfOpen => 2,
        S::ForcedOpen => 3,
        S::ForcedClosed => 4,
    }
}

/// One decoded value of the state word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Word(pub(crate) u64);

impl Word {
    #[inline]
    pub(crate) fn state(self) -> CircuitState {
        match self.0 >> TAG_SHIFT {
            0 => CircuitState::Closed,
            1 | OPEN_ON_REAL_CLOCK => CircuitState::Open,
            2 => CircuitState::HalfOpen,
            3 => CircuitState::ForcedOpen,
            _ => CircuitState::ForcedClosed,
        }
    }

    #[inline]
    pub(crate) fn generation(self) -> u16 {
        ((self.0 >> GEN_SHIFT) & GEN_MASK) as u16
    }

    #[inline]
    fn payload(self) -> u64 {
        self.0 & PAYLOAD_MASK
    }

    #[inline]
    fn with_payload(self, payload: u64) -> Self {
        Self((self.0 & !PAYLOAD_MASK) | (payload & PAYLOAD_MASK))
    }

    /// The word after a transition: a new tag and the next generation.
    #[inline]
    pub(crate) fn transition(self, to: CircuitState, payload: u64) -> Self {
        let generation = (u64::from(self.generation()) + 1) & GEN_MASK;
        Self((tag(to) << TAG_SHIFT) | (generation << GEN_SHIFT) | (payload & PAYLOAD_MASK))
    }

    /// This word with an open deadline marked as set on the real clock, or
    /// not (other states are left as they are).
    #[inline]
    pub(crate) fn on_real_clock(self, real: bool) -> Self {
        let tag = match (self.state(), real) {
            (CircuitState::Open, true) => OPEN_ON_REAL_CLOCK,
            (state, _) => tag(state),
        };
        Self((self.0 & !(0b111 << TAG_SHIFT)) | (tag << TAG_SHIFT))
    }

    /// Whether the deadline was set on the real clock (cleared by every
    /// transition).
    #[inline]
    pub(crate) fn real_clock(self) -> bool {
        self.0 >> TAG_SHIFT == OPEN_ON_REAL_CLOCK
    }

    #[inline]
    pub(crate) fn consecutive_failures(self) -> u32 {
        self.payload().min(u64::from(u32::MAX)) as u32
    }

    #[inline]
    pub(crate) fn with_consecutive_failures(self, failures: u32) -> Self {
        self.with_payload(u64::from(failures))
    }

    #[inline]
    pub(crate) fn deadline_payload(deadline_micros: i64) -> u64 {
        deadline_micros
            .saturating_add(DEADLINE_BIAS)
            .clamp(0, PAYLOAD_MASK as i64) as u64
    }

    #[inline]
    pub(crate) fn deadline_micros(self) -> i64 {
        self.payload() as i64 - DEADLINE_BIAS
    }

    #[inline]
    pub(crate) fn trials_in_flight(self) -> u32 {
        (self.payload() & 0xFFFF) as u32
    }

    #[inline]
    pub(crate) fn trial_successes(self) -> u32 {
        ((self.payload() >> 16) & 0xFFFF) as u32
    }

    #[inline]
    pub(crate) fn with_trials(self, in_flight: u32, successes: u32) -> Self {
        self.with_payload(u64::from(in_flight & 0xFFFF) | (u64::from(successes & 0xFFFF) << 16))
    }

    #[inline]
    pub(crate) fn initial() -> Self {
        Self(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_round_trip_without_disturbing_each_other() {
        let closed = Word::initial();
        assert_eq!(closed.state(), CircuitState::Closed);
        let failing = closed.with_consecutive_failures(4);
        assert_eq!(failing.consecutive_failures(), 4);
        assert_eq!(failing.generation(), 0);

        let open = failing.transition(CircuitState::Open, Word::deadline_payload(-5_000));
        assert_eq!(open.state(), CircuitState::Open);
        assert_eq!(open.generation(), 1);
        assert_eq!(open.deadline_micros(), -5_000);
        assert!(!open.real_clock());
        let real = open.on_real_clock(true);
        assert!(real.real_clock());
        assert_eq!(
            (real.state(), real.generation(), real.deadline_micros()),
            (CircuitState::Open, 1, -5_000)
        );
        assert!(!real.transition(CircuitState::Open, 0).real_clock());

        let half = open.transition(CircuitState::HalfOpen, 0).with_trials(3, 2);
        assert_eq!(half.state(), CircuitState::HalfOpen);
        assert_eq!(half.generation(), 2);
        assert_eq!((half.trials_in_flight(), half.trial_successes()), (3, 2));

        for state in [CircuitState::ForcedOpen, CircuitState::ForcedClosed] {
            assert_eq!(half.transition(state, 0).state(), state);
        }
    }

    #[test]
    fn generation_wraps_instead_of_spilling_into_the_tag() {
        let mut word = Word::initial();
        for _ in 0..=GEN_MASK {
            word = word.transition(CircuitState::Closed, 0);
        }
        assert_eq!(word.generation(), 0);
        assert_eq!(word.state(), CircuitState::Closed);
        assert!(!word.real_clock());
    }
}
