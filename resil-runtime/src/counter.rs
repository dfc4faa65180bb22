//! A counter for hot paths that a thread bumps without a locked
//! instruction.
//!
//! A shared `AtomicU64::fetch_add` bounces its cache line between cores
//! when threads share a policy. Single-threaded it is the cheaper of the two
//! (about 5 ns against 9 here), so only the bulkhead, whose benchmarks under
//! contention gain the most, counts this way. Every thread owns a
//! block of slots, one per live counter; only the owning thread writes its
//! slot (a relaxed load and store, which compile to plain moves), and
//! reading a counter sums its slot across every thread's block. Reads are
//! rare (snapshots), writes are every call, so that trade is the right one.
//!
//! # Layout
//!
//! A counter is an index. Each thread's block is a table of lazily
//! allocated chunks of [`CHUNK`] slots; a counter's slot is chunk
//! `index / CHUNK`, offset `index % CHUNK`. Blocks stay registered after
//! their thread exits, so its counts are not lost. A dropped counter zeroes
//! its slot in every block and returns its index for reuse, so memory is
//! bounded by the number of live counters, not by how many ever existed
//! (keyed policies come and go). Indexes past [`MAX_CHUNKS`]` * CHUNK` fall
//! back to one shared atomic.
//!
//! Under `--cfg loom` every counter is the shared atomic: the models are
//! about the state machines, not the statistics.

use std::sync::atomic::Ordering;

use crate::sync::AtomicU64;

/// A monotonically increasing count, cheap to bump from any thread.
#[derive(Debug)]
pub(crate) struct Counter {
    #[cfg(not(loom))]
    index: Option<usize>,
    shared: AtomicU64,
    baseline: AtomicU64,
}

impl Default for Counter {
    fn default() -> Self {
        Self::new()
    }
}

impl Counter {
    pub(crate) fn new() -> Self {
        Self {
            #[cfg(not(loom))]
            index: slots::allocate(),
            shared: AtomicU64::new(0),
            baseline: AtomicU64::new(0),
        }
    }

    #[inline]
    pub(crate) fn increment(&self) {
        #[cfg(not(loom))]
        if let Some(index) = self.index
            && slots::bump(index)
        {
            return;
        }
        self.shared.fetch_add(1, Ordering::Relaxed);
    }

    fn total(&self) -> u64 {
        #[cfg(not(loom))]
        let local = self.index.map_or(0, slots::sum);
        #[cfg(loom)]
        let local = 0u64;
        local.wrapping_add(self.shared.load(Ordering::Relaxed))
    }

    /// The count since the last [`reset`](Self::reset).
    pub(crate) fn get(&self) -> u64 {
        self.total()
            .wrapping_sub(self.baseline.load(Ordering::Relaxed))
    }

    /// Starts counting from zero. Increments racing with the reset land on
    /// either side of it.
    pub(crate) fn reset(&self) {
        self.baseline.store(self.total(), Ordering::Relaxed);
    }
}

#[cfg(not(loom))]
impl Drop for Counter {
    fn drop(&mut self) {
        if let Some(index) = self.index {
            slots::release(index);
        }
    }
}

#[cfg(not(loom))]
mod slots {
    use std::cell::OnceCell;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::{Arc, Mutex, OnceLock, PoisonError};

    pub(super) const CHUNK: usize = 512;
    pub(super) const MAX_CHUNKS: usize = 1024;

    struct Block {
        chunks: Box<[OnceLock<Box<[AtomicU64]>>]>,
    }

    impl Block {
        fn new() -> Self {
            Self {
                chunks: (0..MAX_CHUNKS).map(|_| OnceLock::new()).collect(),
            }
        }

        fn slot(&self, index: usize) -> &AtomicU64 {
            let chunk = self.chunks[index / CHUNK]
                .get_or_init(|| (0..CHUNK).map(|_| AtomicU64::new(0)).collect());
            &chunk[index % CHUNK]
        }

        fn existing(&self, index: usize) -> Option<&AtomicU64> {
            self.chunks[index / CHUNK]
                .get()
                .map(|chunk| &chunk[index % CHUNK])
        }
    }

    struct Slots {
        blocks: Vec<Arc<Block>>,
        free: Vec<usize>,
        next: usize,
    }

    static SLOTS: Mutex<Slots> = Mutex::new(Slots {
        blocks: Vec::new(),
        free: Vec::new(),
        next: 0,
    });

    thread_local! {
        static MINE: OnceCell<Arc<Block>> = const { OnceCell::new() };
    }

    fn lock() -> std::sync::MutexGuard<'static, Slots> {
        SLOTS.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(super) fn allocate() -> Option<usize> {
        let mut slots = lock();
        if let Some(index) = slots.free.pop() {
            return Some(index);
        }
        (slots.next < CHUNK * MAX_CHUNKS).then(|| {
            slots.next += 1;
            slots.next - 1
        })
    }

    pub(super) fn release(index: usize) {
        let mut slots = lock();
        // The counter is gone, so no thread is writing this slot any more.
        for block in &slots.blocks {
            if let Some(slot) = block.existing(index) {
                slot.store(0, Ordering::Relaxed);
            }
        }
        slots.free.push(index);
    }

    /// Adds one to this thread's slot; false if the thread is exiting and
    /// has no block.
    #[inline]
    pub(super) fn bump(index: usize) -> bool {
        MINE.try_with(|mine| {
            let block = mine.get_or_init(|| {
                let block = Arc::new(Block::new());
                lock().blocks.push(Arc::clone(&block));
                block
            });
            let slot = block.slot(index);
            // Only this thread writes the slot: no read-modify-write needed.
            slot.store(
                slot.load(Ordering::Relaxed).wrapping_add(1),
                Ordering::Relaxed,
            );
        })
        .is_ok()
    }

    pub(super) fn sum(index: usize) -> u64 {
        lock()
            .blocks
            .iter()
            .filter_map(|block| block.existing(index))
            .fold(0, |sum, slot| {
                sum.wrapping_add(slot.load(Ordering::Relaxed))
            })
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn counts_from_every_thread() {
        let counter = Counter::new();
        std::thread::scope(|scope| {
            for _ in 0..4 {
                scope.spawn(|| {
                    for _ in 0..1000 {
                        counter.increment();
                    }
                });
            }
        });
        counter.increment();
        assert_eq!(counter.get(), 4001);
    }

    #[test]
    fn reset_starts_from_zero() {
        let counter = Counter::new();
        counter.increment();
        counter.increment();
        counter.reset();
        assert_eq!(counter.get(), 0);
        counter.increment();
        assert_eq!(counter.get(), 1);
    }

    #[test]
    fn a_reused_index_starts_from_zero() {
        let first = Counter::new();
        for _ in 0..10 {
            first.increment();
        }
        drop(first);
        let second = Counter::new();
        assert_eq!(second.get(), 0);
    }
}
