//! The time-based sliding window behind `window = 60s`: the calls, failures
//! and slow calls of the last `window`, as resilience4j's TIME_BASED window
//! keeps them, in a ring of 64 buckets each `window / 64` wide.
//!
//! Each bucket has three counters (calls, failures, slow calls), and each
//! counter is one `AtomicU64` that holds the bucket's epoch (which
//! `window / 64` slice of time it counts, its low 40 bits) next to its
//! count:
//!
//! ```text
//!  63                       24 23             0
//! +---------------------------+----------------+
//! |           epoch           |     count      |
//! +---------------------------+----------------+
//! ```
//!
//! Forty bits of epoch wrap after 2^40 slices: 544 years for the shortest
//! window (1 s, slices of 15.6 ms). With 32 bits they wrapped after 2.12
//! years, and a counter left idle that long read as one from the future, so
//! the window stopped counting. A count saturates at 2^24 - 1 (16.7 million
//! calls in one slice).
//!
//! Recording adds one to the counter if it holds the current epoch, and
//! otherwise replaces it with (current epoch, 1), in one compare-and-swap:
//! a bucket left over from an earlier turn of the ring is reset by the
//! first call that lands in it, and no count is ever lost or added to the
//! wrong slice. Reading sums the counters whose epoch is one of the last 64,
//! so the window slides by `window / 64` at a time: by under a second for
//! windows up to 64s. Its size is fixed: 64 × 3 × 8 = 1536 bytes, whatever
//! the window's length and the traffic.

use crate::sync::AtomicU64;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::window::WindowTally;

/// Buckets in the ring.
pub(crate) const BUCKETS: usize = 64;

#[derive(Debug)]
pub(crate) struct TimeWindow {
    /// Width of one bucket in nanoseconds.
    width: i64,
    buckets: Box<[Bucket]>,
}

#[derive(Debug, Default)]
struct Bucket {
    calls: AtomicU64,
    failures: AtomicU64,
    slow: AtomicU64,
}

const COUNT_BITS: u32 = 24;
const COUNT_MASK: u64 = (1 << COUNT_BITS) - 1;
const EPOCH_MASK: u64 = (1 << (64 - COUNT_BITS)) - 1;

fn epoch_of(word: u64) -> u64 {
    word >> COUNT_BITS
}

fn count_of(word: u64) -> u32 {
    (word & COUNT_MASK) as u32
}

fn pack(epoch: u64, count: u32) -> u64 {
    ((epoch & EPOCH_MASK) << COUNT_BITS) | (u64::from(count) & COUNT_MASK)
}

/// How many slices `epoch` lies behind `current` (both 40-bit); negative if
/// ahead.
fn age(current: u64, epoch: u64) -> i64 {
    // Sign-extends the 40-bit difference.
    ((current.wrapping_sub(epoch) << COUNT_BITS) as i64) >> COUNT_BITS
}

impl TimeWindow {
    pub(crate) fn new(length: Duration) -> Self {
        let nanos = crate::clock::saturating_nanos(length);
        let window = Self {
            width: (nanos / BUCKETS as i64).max(1),
            buckets: (0..BUCKETS).map(|_| Bucket::default()).collect(),
        };
        window.reset(crate::clock::now_nanos());
        window
    }

    fn epoch(&self, now_nanos: i64) -> u64 {
        now_nanos.div_euclid(self.width) as u64 & EPOCH_MASK
    }

    /// Records one call made at `now_nanos` (see `clock::now_nanos`).
    pub(crate) fn record(&self, now_nanos: i64, failed: bool, slow: bool) {
        let epoch = self.epoch(now_nanos);
        let bucket = &self.buckets[epoch as usize % BUCKETS];
        add(&bucket.calls, epoch);
        if failed {
            add(&bucket.failures, epoch);
        }
        if slow {
            add(&bucket.slow, epoch);
        }
    }

    /// The calls of the last 64 slices, as of `now_nanos`.
    pub(crate) fn tally(&self, now_nanos: i64) -> WindowTally {
        let current = self.epoch(now_nanos);
        let sum = |counter: fn(&Bucket) -> &AtomicU64| -> u32 {
            let total: u64 = self
                .buckets
                .iter()
                .map(|bucket| counter(bucket).load(Ordering::Acquire))
                .filter(|&word| (0..BUCKETS as i64).contains(&age(current, epoch_of(word))))
                .map(|word| u64::from(count_of(word)))
                .sum();
            u32::try_from(total).unwrap_or(u32::MAX)
        };
        WindowTally {
            calls: sum(|b| &b.calls),
            failures: sum(|b| &b.failures),
            slow: sum(|b| &b.slow),
        }
    }

    /// Empties the window as of `now_nanos`: every counter is marked one
    /// turn of the ring old. A call recorded at the same moment may survive
    /// it; none is counted twice.
    pub(crate) fn reset(&self, now_nanos: i64) {
        let stale = pack(self.epoch(now_nanos).wrapping_sub(BUCKETS as u64), 0);
        for bucket in self.buckets.iter() {
            for counter in [&bucket.calls, &bucket.failures, &bucket.slow] {
                counter.store(stale, Ordering::Release);
            }
        }
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.buckets.len() * std::mem::size_of::<Bucket>()
    }
}

/// How far ahead a counter's slice may be and still be taken for a newer
/// one rather than a very old one seen through the epoch's wrap-around.
const AHEAD: i64 = 1 << 24;

/// Adds one to `counter` for `epoch`, resetting a counter that still holds
/// an older slice; a counter already on a newer slice (this call was
/// delayed by a whole turn of the ring) is left alone.
fn add(counter: &AtomicU64, epoch: u64) {
    let mut word = counter.load(Ordering::Relaxed);
    loop {
        let next = match age(epoch, epoch_of(word)) {
            0 => pack(
                epoch,
                count_of(word).saturating_add(1).min(COUNT_MASK as u32),
            ),
            age if age < 0 && age > -AHEAD => return,
            _ => pack(epoch, 1),
        };
        if next == word {
            return;
        }
        match counter.compare_exchange_weak(word, next, Ordering::AcqRel, Ordering::Relaxed) {
            Ok(_) => return,
            Err(actual) => word = actual,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: i64 = 1_000_000_000;

    #[test]
    fn counts_what_the_last_window_holds() {
        let window = TimeWindow::new(Duration::from_secs(64));
        for t in 0..10 {
            window.record(t * SECOND, t % 2 == 0, t == 3);
        }
        let tally = window.tally(9 * SECOND);
        assert_eq!((tally.calls, tally.failures, tally.slow), (10, 5, 1));
        // 60s later the first calls (t = 0..5) have left the window.
        let tally = window.tally(69 * SECOND);
        assert_eq!((tally.calls, tally.failures, tally.slow), (4, 2, 0));
        assert_eq!(window.tally(200 * SECOND).calls, 0);
    }

    #[test]
    fn a_bucket_from_an_earlier_turn_is_reset_by_its_next_call() {
        let window = TimeWindow::new(Duration::from_secs(64));
        window.record(0, true, true);
        window.record(64 * SECOND, false, false);
        let tally = window.tally(64 * SECOND);
        assert_eq!((tally.calls, tally.failures, tally.slow), (1, 0, 0));
    }

    #[test]
    fn a_late_call_does_not_clobber_a_newer_slice() {
        let window = TimeWindow::new(Duration::from_secs(64));
        window.record(64 * SECOND, true, false);
        window.record(0, false, false);
        let tally = window.tally(64 * SECOND);
        assert_eq!((tally.calls, tally.failures), (1, 1));
    }

    #[test]
    fn reset_forgets_everything_and_works_before_the_clock_epoch() {
        let window = TimeWindow::new(Duration::from_secs(10));
        for t in -20..0 {
            window.record(t * SECOND / 10, true, false);
        }
        assert_eq!(window.tally(0).calls, 20);
        window.reset(0);
        assert_eq!(window.tally(0), WindowTally::default());
        window.record(0, true, false);
        assert_eq!(window.tally(0).failures, 1);
    }

    #[test]
    fn a_counter_untouched_for_half_the_epochs_range_is_still_reset() {
        let window = TimeWindow::new(Duration::from_secs(64));
        window.record(0, true, false);
        let far = (1_i64 << 31) * SECOND + 5 * 64 * SECOND;
        window.record(far, false, false);
        let tally = window.tally(far);
        assert_eq!((tally.calls, tally.failures), (1, 0));
    }

    #[test]
    fn a_window_idle_for_years_still_counts() {
        // A 1 s window's slices are 15.6 ms: with 32-bit epochs, a counter
        // left idle for 2.12 years read as one from the future and every
        // later call was dropped.
        let window = TimeWindow::new(Duration::from_secs(1));
        window.reset(0);
        const YEAR: i64 = 365 * 24 * 3600 * SECOND;
        for years in [2, 3, 10, 100] {
            let now = years * YEAR + YEAR / 8;
            window.record(now, true, false);
            window.record(now, false, false);
            let tally = window.tally(now);
            assert_eq!((tally.calls, tally.failures), (2, 1), "{years} years");
        }
    }

    #[test]
    fn counts_saturate_instead_of_spilling_into_the_epoch() {
        let window = TimeWindow::new(Duration::from_secs(64));
        let counter = &window.buckets[0].calls;
        counter.store(pack(0, COUNT_MASK as u32), Ordering::Relaxed);
        add(counter, 0);
        assert_eq!(
            (
                epoch_of(counter.load(Ordering::Relaxed)),
                count_of(counter.load(Ordering::Relaxed))
            ),
            (0, COUNT_MASK as u32)
        );
    }

    #[test]
    fn its_size_is_fixed() {
        assert_eq!(TimeWindow::new(Duration::from_secs(60)).heap_bytes(), 1536);
        assert_eq!(
            TimeWindow::new(Duration::from_secs(3600)).heap_bytes(),
            1536
        );
    }
}
