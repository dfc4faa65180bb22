//! The count-based sliding window behind `failure_rate` and `slow_call`: one
//! bit per recent call (1 = failure) in a ring of `AtomicU64` words, and a
//! running count of the set bits; with `slow_call`, a second ring of the
//! same size marks the slow calls.
//!
//! A call takes the next slot with one `fetch_add` on the cursor and flips
//! its bit; the failure count moves only when the bit changes. A success
//! whose slot already holds a success touches nothing else, so the common
//! case stays read-mostly. A window of 100 calls costs two words (four with
//! slow calls).
//!
//! What a success on the closed path costs, and why it is built this way
//! (issue 20; criterion `breaker-window/resil` against recloser with the
//! same 100-call ring, on the 2-core x86-64 KVM guest the README's table
//! comes from, shared with other builds). Before, a success went through
//! the breaker's cold out-of-line outcome path, which built a clock cache,
//! asked whether the call was slow, recorded through the generic `record`
//! (loading the failure count back for a tally nobody reads on a success),
//! then re-entered the transition loop; and its slot was `index % size`, a
//! 64-bit division. Now a success calls `CountWindow::record_success`,
//! inlined into the breaker's `on_success`: the `fetch_add` on the cursor,
//! the slot by a multiply with a precomputed inverse (`Slots`), and a
//! plain load of the slot's word, with a write only when the slot held a
//! failure. That took the windowed row from 0.51x recloser's overhead to
//! under half of it. `perf annotate` of what is left puts more than half
//! of the samples of `on_success` on the cursor's locked `fetch_add`,
//! which is what keeps every call in its own slot under contention: the
//! window's remaining cost over the windowless breaker (whose success
//! counter is per-thread, see `counter.rs`) is that one instruction.

use crate::sync::{AtomicI64, AtomicU64};
use std::sync::atomic::Ordering;

/// The largest window: big enough for any count-based rate, small enough to
/// keep a breaker's memory predictable (1 KiB of bits).
pub(crate) const MAX_WINDOW: u32 = resil_rules::circuit_breaker::MAX_WINDOW;

#[derive(Debug)]
pub(crate) struct CountWindow {
    /// The window's size, and its inverse for finding a call's slot.
    slots: Slots,
    cursor: AtomicU64,
    failures: Ring,
    /// Present with `slow_call`. Boxed: most windows count failures only,
    /// and a breaker with a 100-call window fits in 256 bytes this way.
    slow: Option<Box<Ring>>,
}

/// One bit per slot and the number of set bits.
#[derive(Debug)]
struct Ring {
    set: AtomicI64,
    bits: Box<[AtomicU64]>,
}

impl Ring {
    fn new(size: u32) -> Self {
        Self {
            set: AtomicI64::new(0),
            bits: (0..size.div_ceil(64)).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    /// Sets or clears the bit of `slot`; returns the number of set bits.
    fn put(&self, slot: usize, on: bool) -> i64 {
        if on {
            let word = &self.bits[slot / 64];
            let mask = 1u64 << (slot % 64);
            if word.fetch_or(mask, Ordering::AcqRel) & mask == 0 {
                self.set.fetch_add(1, Ordering::AcqRel) + 1
            } else {
                self.set.load(Ordering::Acquire)
            }
        } else if self.unset(slot) {
            self.set.fetch_sub(1, Ordering::AcqRel) - 1
        } else {
            self.set.load(Ordering::Acquire)
        }
    }

    /// Clears the bit of `slot`; whether this call cleared it (and so owes
    /// the count a decrement). A slot that holds no failure, the common
    /// case, costs one plain load and no write.
    #[inline]
    fn unset(&self, slot: usize) -> bool {
        let word = &self.bits[slot / 64];
        let mask = 1u64 << (slot % 64);
        word.load(Ordering::Relaxed) & mask != 0
            && word.fetch_and(!mask, Ordering::AcqRel) & mask != 0
    }

    /// Clears the bit of `slot` and keeps the count in step, without
    /// reading the count back.
    #[inline]
    fn clear_slot(&self, slot: usize) {
        if self.unset(slot) {
            self.set.fetch_sub(1, Ordering::AcqRel);
        }
    }

    fn count(&self) -> i64 {
        self.set.load(Ordering::Acquire)
    }

    /// Clears every bit; each cleared bit is subtracted exactly once, so the
    /// count equals the set bits once concurrent calls settle.
    fn clear(&self) {
        for word in self.bits.iter() {
            let cleared = word.swap(0, Ordering::AcqRel);
            if cleared != 0 {
                self.set
                    .fetch_sub(i64::from(cleared.count_ones()), Ordering::AcqRel);
            }
        }
    }

    fn heap_bytes(&self) -> usize {
        self.bits.len() * std::mem::size_of::<AtomicU64>()
    }
}

/// What a window holds: right after a call was recorded, or at a snapshot.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct WindowTally {
    pub(crate) calls: u32,
    pub(crate) failures: u32,
    pub(crate) slow: u32,
}

impl WindowTally {
    /// The failure rate.
    pub(crate) fn rate(self) -> f64 {
        self.share(self.failures)
    }

    /// The slow-call rate.
    pub(crate) fn slow_rate(self) -> f64 {
        self.share(self.slow)
    }

    fn share(self, part: u32) -> f64 {
        if self.calls == 0 {
            0.0
        } else {
            f64::from(part) / f64::from(self.calls)
        }
    }
}

/// `index % size` without a division: Lemire's "faster remainder by direct
/// computation" (Lemire, Kaser, Kurz 2019). With `c = ceil(2^F / size)`,
/// `index % size == ((c * index mod 2^F) * size) >> F` for every index
/// below `2^N` when `F >= N + log2(size)`: here N = 32 and a size of at
/// most 8192 = 2^13 need F >= 45, and F = 48 keeps every product inside 64
/// bits. The size sits in the word's top 16 bits, so the window is no
/// bigger than with the size alone. An index past `u32::MAX` (four billion
/// calls) takes the division.
#[derive(Debug, Clone, Copy)]
struct Slots(u64);

impl Slots {
    const FRACTION: u32 = 48;
    const LOW: u64 = (1 << Self::FRACTION) - 1;

    fn new(size: u32) -> Self {
        const { assert!(MAX_WINDOW <= 1 << (Self::FRACTION - 32)) };
        // ceil(2^48 / size); 2^48 itself for a size of 1, which the mask
        // makes 0, and then every index maps to slot 0, as it should.
        let inverse = (Self::LOW / u64::from(size) + 1) & Self::LOW;
        Self((u64::from(size) << Self::FRACTION) | inverse)
    }

    #[inline]
    fn size(self) -> u32 {
        (self.0 >> Self::FRACTION) as u32
    }

    #[inline]
    fn of(self, index: u64) -> usize {
        let size = self.0 >> Self::FRACTION;
        if index <= u64::from(u32::MAX) {
            let low = (self.0 & Self::LOW).wrapping_mul(index) & Self::LOW;
            ((low * size) >> Self::FRACTION) as usize
        } else {
            (index % size) as usize
        }
    }
}

impl CountWindow {
    pub(crate) fn new(size: u32, track_slow: bool) -> Self {
        let size = size.clamp(1, MAX_WINDOW);
        Self {
            slots: Slots::new(size),
            cursor: AtomicU64::new(0),
            failures: Ring::new(size),
            slow: track_slow.then(|| Box::new(Ring::new(size))),
        }
    }

    /// Records a call that neither failed nor was slow, and returns
    /// nothing: on the closed path a success cannot open the breaker, so
    /// nobody reads the tally. The same writes as `record(false, false)`.
    #[inline]
    pub(crate) fn record_success(&self) {
        let index = self.cursor.fetch_add(1, Ordering::Relaxed);
        let slot = self.slots.of(index);
        self.failures.clear_slot(slot);
        if let Some(ring) = &self.slow {
            ring.clear_slot(slot);
        }
    }

    pub(crate) fn record(&self, failed: bool, slow: bool) -> WindowTally {
        let index = self.cursor.fetch_add(1, Ordering::Relaxed);
        let slot = self.slots.of(index);
        let failures = self.failures.put(slot, failed);
        let slow = self.slow.as_ref().map_or(0, |ring| ring.put(slot, slow));
        WindowTally {
            calls: (index + 1).min(u64::from(self.slots.size())) as u32,
            failures: self.clamp(failures),
            slow: self.clamp(slow),
        }
    }

    fn clamp(&self, count: i64) -> u32 {
        count.clamp(0, i64::from(self.slots.size())) as u32
    }

    pub(crate) fn tally(&self) -> WindowTally {
        WindowTally {
            calls: self
                .cursor
                .load(Ordering::Relaxed)
                .min(u64::from(self.slots.size())) as u32,
            failures: self.clamp(self.failures.count()),
            slow: self.clamp(self.slow.as_ref().map_or(0, |ring| ring.count())),
        }
    }

    /// Empties the window. Calls recorded concurrently may land on either
    /// side of the reset; the counts always equal the set bits once they
    /// settle.
    pub(crate) fn reset(&self) {
        self.cursor.store(0, Ordering::Relaxed);
        self.failures.clear();
        if let Some(slow) = &self.slow {
            slow.clear();
        }
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.failures.heap_bytes()
            + self
                .slow
                .as_ref()
                .map_or(0, |ring| std::mem::size_of::<Ring>() + ring.heap_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_is_taken_over_the_last_size_calls_only() {
        let window = CountWindow::new(4, false);
        for _ in 0..4 {
            window.record(true, false);
        }
        assert_eq!(
            window.tally(),
            WindowTally {
                calls: 4,
                failures: 4,
                slow: 0
            }
        );
        // Four successes push every failure out of the window.
        for expected in [3, 2, 1, 0] {
            assert_eq!(window.record(false, false).failures, expected);
        }
        assert_eq!(window.tally().rate(), 0.0);
    }

    #[test]
    fn calls_count_up_to_the_size_then_stay() {
        let window = CountWindow::new(3, false);
        assert_eq!(window.record(false, false).calls, 1);
        assert_eq!(window.record(true, false).calls, 2);
        assert_eq!(window.record(false, false).calls, 3);
        assert_eq!(window.record(false, false).calls, 3);
    }

    #[test]
    fn reset_forgets_everything() {
        let window = CountWindow::new(100, false);
        for i in 0..150 {
            window.record(i % 3 == 0, false);
        }
        window.reset();
        assert_eq!(window.tally(), WindowTally::default());
        assert_eq!(
            window.record(true, false),
            WindowTally {
                calls: 1,
                failures: 1,
                slow: 0
            }
        );
    }

    #[test]
    fn slow_calls_slide_out_like_failures() {
        let window = CountWindow::new(3, true);
        assert_eq!(window.record(false, true).slow, 1);
        assert_eq!(window.record(true, true).slow, 2);
        let tally = window.record(false, false);
        assert_eq!((tally.calls, tally.failures, tally.slow), (3, 1, 2));
        assert_eq!(window.record(false, false).slow, 1);
        window.reset();
        assert_eq!(window.tally(), WindowTally::default());
        // Two words of bits each, and the slow calls' ring out of line.
        assert_eq!(
            CountWindow::new(100, true).heap_bytes(),
            32 + std::mem::size_of::<Ring>()
        );
    }

    #[test]
    fn slots_match_the_remainder_for_every_size() {
        let indexes = (0..1_000u64)
            .chain([
                u64::from(u32::MAX) - 1,
                u64::from(u32::MAX),
                u64::from(u32::MAX) + 1,
                u64::MAX,
            ])
            .chain((0..64).map(|shift| 1u64 << shift))
            .chain((0..64).map(|shift| (1u64 << shift) - 1));
        let indexes: Vec<u64> = indexes.collect();
        // A fixed pseudo-random walk over the 32-bit range as well.
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let indexes: Vec<u64> = indexes
            .into_iter()
            .chain((0..2_000).map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state >> 32
            }))
            .collect();
        for size in (1..=300).chain([1_000, 4_095, 4_096, 4_097, MAX_WINDOW - 1, MAX_WINDOW]) {
            let slots = Slots::new(size);
            assert_eq!(slots.size(), size);
            for &index in &indexes {
                assert_eq!(
                    slots.of(index) as u64,
                    index % u64::from(size),
                    "{index} % {size}"
                );
            }
        }
    }

    #[test]
    fn a_success_writes_what_record_writes() {
        let (plain, fast) = (CountWindow::new(5, true), CountWindow::new(5, true));
        let pattern = [(true, true), (false, true), (true, false), (false, false)];
        for round in 0..12 {
            let (failed, slow) = pattern[round % pattern.len()];
            plain.record(failed, slow);
            fast.record(failed, slow);
            // Every third call is a plain success on both.
            if round % 3 == 0 {
                plain.record(false, false);
                fast.record_success();
            }
            assert_eq!(plain.tally(), fast.tally(), "after round {round}");
        }
    }

    #[test]
    fn a_window_of_100_calls_takes_two_words() {
        assert_eq!(CountWindow::new(100, false).heap_bytes(), 16);
    }
}
