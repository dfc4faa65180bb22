//! The count-based sliding window behind `failure_rate`: one bit per recent
//! call (1 = failure) in a ring of `AtomicU64` words, and a running count of
//! the set bits.
//!
//! A call takes the next slot with one `fetch_add` on the cursor and flips
//! its bit; the failure count moves only when the bit changes. A success
//! whose slot already holds a success touches nothing else, so the common
//! case stays read-mostly. A window of 100 calls costs two words.

use crate::sync::{AtomicI64, AtomicU64};
use std::sync::atomic::Ordering;

/// The largest window: big enough for any count-based rate, small enough to
/// keep a breaker's memory predictable (1 KiB of bits).
pub(crate) const MAX_WINDOW: u32 = 8192;

#[derive(Debug)]
pub(crate) struct CountWindow {
    size: u32,
    cursor: AtomicU64,
    failures: AtomicI64,
    bits: Box<[AtomicU64]>,
}

/// What the window holds right after a call was recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WindowTally {
    pub(crate) calls: u32,
    pub(crate) failures: u32,
}

impl WindowTally {
    pub(crate) fn rate(self) -> f64 {
        if self.calls == 0 {
            0.0
        } else {
            f64::from(self.failures) / f64::from(self.calls)
        }
    }
}

impl CountWindow {
    pub(crate) fn new(size: u32) -> Self {
        let size = size.clamp(1, MAX_WINDOW);
        Self {
            size,
            cursor: AtomicU64::new(0),
            failures: AtomicI64::new(0),
            bits: (0..size.div_ceil(64)).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    pub(crate) fn record(&self, failed: bool) -> WindowTally {
        let index = self.cursor.fetch_add(1, Ordering::Relaxed);
        let slot = (index % u64::from(self.size)) as usize;
        let word = &self.bits[slot / 64];
        let mask = 1u64 << (slot % 64);
        let failures = if failed {
            if word.fetch_or(mask, Ordering::AcqRel) & mask == 0 {
                self.failures.fetch_add(1, Ordering::AcqRel) + 1
            } else {
                self.failures.load(Ordering::Acquire)
            }
        } else if word.load(Ordering::Relaxed) & mask != 0
            && word.fetch_and(!mask, Ordering::AcqRel) & mask != 0
        {
            self.failures.fetch_sub(1, Ordering::AcqRel) - 1
        } else {
            self.failures.load(Ordering::Acquire)
        };
        WindowTally {
            calls: (index + 1).min(u64::from(self.size)) as u32,
            failures: failures.clamp(0, i64::from(self.size)) as u32,
        }
    }

    pub(crate) fn tally(&self) -> WindowTally {
        WindowTally {
            calls: self
                .cursor
                .load(Ordering::Relaxed)
                .min(u64::from(self.size)) as u32,
            failures: self
                .failures
                .load(Ordering::Acquire)
                .clamp(0, i64::from(self.size)) as u32,
        }
    }

    /// Empties the window. Calls recorded concurrently may land on either
    /// side of the reset; the failure count always equals the set bits once
    /// they settle, because every bit cleared here is subtracted exactly once.
    pub(crate) fn reset(&self) {
        self.cursor.store(0, Ordering::Relaxed);
        for word in self.bits.iter() {
            let cleared = word.swap(0, Ordering::AcqRel);
            if cleared != 0 {
                self.failures
                    .fetch_sub(i64::from(cleared.count_ones()), Ordering::AcqRel);
            }
        }
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.bits.len() * std::mem::size_of::<AtomicU64>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_is_taken_over_the_last_size_calls_only() {
        let window = CountWindow::new(4);
        for _ in 0..4 {
            window.record(true);
        }
        assert_eq!(
            window.tally(),
            WindowTally {
                calls: 4,
                failures: 4
            }
        );
        // Four successes push every failure out of the window.
        for expected in [3, 2, 1, 0] {
            assert_eq!(window.record(false).failures, expected);
        }
        assert_eq!(window.tally().rate(), 0.0);
    }

    #[test]
    fn calls_count_up_to_the_size_then_stay() {
        let window = CountWindow::new(3);
        assert_eq!(window.record(false).calls, 1);
        assert_eq!(window.record(true).calls, 2);
        assert_eq!(window.record(false).calls, 3);
        assert_eq!(window.record(false).calls, 3);
    }

    #[test]
    fn reset_forgets_everything() {
        let window = CountWindow::new(100);
        for i in 0..150 {
            window.record(i % 3 == 0);
        }
        window.reset();
        assert_eq!(
            window.tally(),
            WindowTally {
                calls: 0,
                failures: 0
            }
        );
        assert_eq!(
            window.record(true),
            WindowTally {
                calls: 1,
                failures: 1
            }
        );
    }

    #[test]
    fn a_window_of_100_calls_takes_two_words() {
        assert_eq!(CountWindow::new(100).heap_bytes(), 16);
    }
}
