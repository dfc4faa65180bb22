//! A counter for hot paths that a thread bumps without a locked
//! instruction.
//!
//! A shared `AtomicU64::fetch_add` is a locked read-modify-write: about
//! 5 ns on one thread here, and under contention its cache line bounces
//! between cores. Every thread instead owns a block of slots, one per live
//! counter; only the owning thread writes its slot, with a relaxed load
//! and store that compile to plain moves, so a bump is a thread-local load,
//! two dependent loads and a store (about 1 ns). Reading a counter sums its
//! slot across every block. Reads are rare (snapshots), writes are every
//! call, so that trade is the right one.
//!
//! # Layout
//!
//! A counter is an index. A block is a table of [`MAX_CHUNKS`] pointers to
//! lazily allocated chunks of [`CHUNK`] slots; a counter's slot is chunk
//! `index / CHUNK`, offset `index % CHUNK`. A thread finds its block
//! through a `const` thread-local pointer (no lazy-initialisation check on
//! the way), and gives the block back when it exits: the next new thread
//! takes it over, counts and all, so there are only as many blocks as
//! threads ever ran at once, and no count is lost. A dropped counter zeroes
//! its slot in every block and returns its index for reuse, so memory is
//! bounded by the number of live counters, not by how many ever existed
//! (keyed policies come and go). A thread that bumps while its
//! thread-locals are being torn down, and counters past
//! `MAX_CHUNKS * CHUNK` indexes, use the counter's shared atomic.
//!
//! Under `--cfg loom` every counter is the shared atomic: the models are
//! about the state machines, not the statistics.

use std::sync::atomic::Ordering;

use crate::sync::AtomicU64;

/// A monotonically increasing count, cheap to bump from any thread.
///
/// Two words: the slot index and the shared atomic. What [`reset`]
/// subtracts is kept by the slot registry, not here: counters sit in every
/// policy, resets are rare.
///
/// [`reset`]: Self::reset
#[derive(Debug)]
pub(crate) struct Counter {
    /// The slot index, or [`NO_SLOT`].
    #[cfg(not(loom))]
    index: u32,
    shared: AtomicU64,
    #[cfg(loom)]
    baseline: AtomicU64,
}

#[cfg(not(loom))]
const NO_SLOT: u32 = u32::MAX;

impl Default for Counter {
    fn default() -> Self {
        Self::new()
    }
}

impl Counter {
    pub(crate) fn new() -> Self {
        Self {
            #[cfg(not(loom))]
            index: slots::allocate().unwrap_or(NO_SLOT),
            shared: AtomicU64::new(0),
            #[cfg(loom)]
            baseline: AtomicU64::new(0),
        }
    }

    #[inline]
    pub(crate) fn increment(&self) {
        #[cfg(not(loom))]
        if self.index != NO_SLOT && slots::bump(self.index) {
            return;
        }
        self.shared.fetch_add(1, Ordering::Relaxed);
    }

    fn total(&self) -> u64 {
        // (A counter without a slot is rare: past half a million live ones.)
        #[cfg(not(loom))]
        let local = if self.index == NO_SLOT {
            0
        } else {
            slots::sum(self.index)
        };
        #[cfg(loom)]
        let local = 0u64;
        local.wrapping_add(self.shared.load(Ordering::Relaxed))
    }

    /// The count since the last [`reset`](Self::reset).
    pub(crate) fn get(&self) -> u64 {
        self.total().wrapping_sub(self.baseline())
    }

    /// Starts counting from zero. Increments racing with the reset land on
    /// either side of it.
    pub(crate) fn reset(&self) {
        #[cfg(not(loom))]
        if self.index == NO_SLOT {
            self.shared.store(0, Ordering::Relaxed);
        } else {
            slots::set_baseline(self.index, self.total());
        }
        #[cfg(loom)]
        self.baseline.store(self.total(), Ordering::Relaxed);
    }

    fn baseline(&self) -> u64 {
        #[cfg(not(loom))]
        return if self.index == NO_SLOT {
            0
        } else {
            slots::baseline(self.index)
        };
        #[cfg(loom)]
        return self.baseline.load(Ordering::Relaxed);
    }
}

#[cfg(not(loom))]
impl Drop for Counter {
    fn drop(&mut self) {
        if self.index != NO_SLOT {
            slots::release(self.index);
        }
    }
}

#[cfg(not(loom))]
mod slots {
    use std::cell::Cell;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};

    pub(super) const CHUNK: usize = 512;
    pub(super) const MAX_CHUNKS: usize = 1024;

    type Chunk = [AtomicU64; CHUNK];

    /// One thread's slots. Leaked: blocks are reused, never freed, and
    /// there are only as many as threads ever ran at once.
    struct Block {
        chunks: [OnceLock<Box<Chunk>>; MAX_CHUNKS],
    }

    impl Block {
        fn new() -> Self {
            Self {
                chunks: [const { OnceLock::new() }; MAX_CHUNKS],
            }
        }

        #[inline]
        fn existing(&self, index: usize) -> Option<&AtomicU64> {
            self.chunks[index / CHUNK]
                .get()
                .map(|chunk| &chunk[index % CHUNK])
        }

        /// The slot, its chunk allocated if need be (only the owning
        /// thread allocates, so the `OnceLock` never contends).
        fn slot(&self, index: usize) -> &AtomicU64 {
            let chunk = self.chunks[index / CHUNK]
                .get_or_init(|| Box::new([const { AtomicU64::new(0) }; CHUNK]));
            &chunk[index % CHUNK]
        }
    }

    struct Slots {
        /// Every block ever made, owned by a thread or idle.
        blocks: Vec<&'static Block>,
        /// What each reset counter's reading subtracts, by index.
        baselines: Vec<u64>,
        /// Blocks whose thread exited, for the next thread to take over.
        idle: Vec<&'static Block>,
        free: Vec<u32>,
        next: u32,
    }

    static SLOTS: Mutex<Slots> = Mutex::new(Slots {
        blocks: Vec::new(),
        baselines: Vec::new(),
        idle: Vec::new(),
        free: Vec::new(),
        next: 0,
    });

    thread_local! {
        /// This thread's block, if it has one. `const` and without a
        /// destructor: reading it is one thread-local load, valid at any
        /// time, even while the thread's locals are torn down.
        static MINE: Cell<Option<&'static Block>> = const { Cell::new(None) };
        /// Gives the block back when the thread exits.
        static LEASE: Lease = const { Lease };
    }

    struct Lease;

    impl Drop for Lease {
        fn drop(&mut self) {
            if let Some(block) = MINE.take() {
                lock().idle.push(block);
            }
        }
    }

    fn lock() -> MutexGuard<'static, Slots> {
        // Every critical section is a push, a pop or a sum: a panic cannot
        // leave the lists half-changed.
        SLOTS.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(super) fn allocate() -> Option<u32> {
        let mut slots = lock();
        if let Some(index) = slots.free.pop() {
            return Some(index);
        }
        ((slots.next as usize) < CHUNK * MAX_CHUNKS).then(|| {
            slots.next += 1;
            slots.next - 1
        })
    }

    pub(super) fn release(index: u32) {
        let mut slots = lock();
        // The counter is gone, so no thread is writing this slot any more.
        for block in &slots.blocks {
            if let Some(slot) = block.existing(index as usize) {
                slot.store(0, Ordering::Relaxed);
            }
        }
        if let Some(baseline) = slots.baselines.get_mut(index as usize) {
            *baseline = 0;
        }
        slots.free.push(index);
    }

    pub(super) fn baseline(index: u32) -> u64 {
        lock().baselines.get(index as usize).copied().unwrap_or(0)
    }

    pub(super) fn set_baseline(index: u32, baseline: u64) {
        let mut slots = lock();
        let index = index as usize;
        if slots.baselines.len() <= index {
            slots.baselines.resize(index + 1, 0);
        }
        slots.baselines[index] = baseline;
    }

    /// Adds one to this thread's slot; false if the thread is exiting and
    /// has no block.
    #[inline]
    pub(super) fn bump(index: u32) -> bool {
        let index = index as usize;
        if let Some(block) = MINE.get()
            && let Some(slot) = block.existing(index)
        {
            add_one(slot);
            return true;
        }
        bump_cold(index)
    }

    /// Only the owning thread writes a slot: no read-modify-write needed.
    #[inline]
    fn add_one(slot: &AtomicU64) {
        slot.store(
            slot.load(Ordering::Relaxed).wrapping_add(1),
            Ordering::Relaxed,
        );
    }

    #[cold]
    #[inline(never)]
    fn bump_cold(index: usize) -> bool {
        let block = match MINE.get() {
            Some(block) => block,
            None => {
                // Registering the lease fails once the thread's locals are
                // being torn down: then the caller counts on the shared
                // atomic.
                if LEASE.try_with(|_| ()).is_err() {
                    return false;
                }
                let mut slots = lock();
                let block = match slots.idle.pop() {
                    Some(idle) => idle,
                    None => {
                        let fresh: &'static Block = Box::leak(Box::new(Block::new()));
                        slots.blocks.push(fresh);
                        fresh
                    }
                };
                drop(slots);
                MINE.set(Some(block));
                block
            }
        };
        add_one(block.slot(index));
        true
    }

    pub(super) fn sum(index: u32) -> u64 {
        lock()
            .blocks
            .iter()
            .filter_map(|block| block.existing(index as usize))
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
    fn an_exited_threads_counts_stay() {
        let counter = Counter::new();
        for _ in 0..8 {
            std::thread::scope(|scope| {
                scope.spawn(|| {
                    for _ in 0..100 {
                        counter.increment();
                    }
                });
            });
        }
        assert_eq!(counter.get(), 800);
    }

    /// The real design under contention, since loom cannot check it: loom
    /// runs its model threads on one OS thread, so a `std::thread_local!`
    /// block would be shared by every model thread (and `loom::thread_local!`
    /// has no `const`, destructor-free form, no `try_with` during teardown,
    /// and no `OnceLock`), while the design's correctness rests on exactly
    /// those: each slot written by its one owning thread with a plain load
    /// and store, blocks handed from exiting threads to new ones. So this
    /// runs it for real: many threads at once, some exiting early so their
    /// blocks are taken over mid-run, counters created and dropped beside
    /// them, a reader summing all along; every total must come out exact.
    #[test]
    fn exact_totals_under_contention_with_threads_coming_and_going() {
        const THREADS: u64 = 16;
        const ROUNDS: u64 = 4;
        const BUMPS: u64 = 5_000;
        let counters: Vec<Counter> = (0..3).map(|_| Counter::new()).collect();
        let done = std::sync::atomic::AtomicBool::new(false);
        std::thread::scope(|scope| {
            // A reader all along: a sum never goes backwards nor past the
            // final total.
            scope.spawn(|| {
                let mut last = 0;
                while !done.load(Ordering::Acquire) {
                    let now = counters[0].get();
                    assert!(now >= last, "a reading went back from {last} to {now}");
                    assert!(now <= THREADS * ROUNDS * BUMPS, "{now}");
                    last = now;
                    std::thread::yield_now();
                }
            });
            let workers: Vec<_> = (0..THREADS)
                .map(|t| {
                    let counters = &counters;
                    scope.spawn(move || {
                        // Each round on a fresh thread: the one before it
                        // has exited and left its block to be taken over.
                        for _ in 0..ROUNDS {
                            std::thread::scope(|inner| {
                                inner.spawn(|| {
                                    let churn = Counter::new();
                                    for i in 0..BUMPS {
                                        counters[0].increment();
                                        if i % 2 == 0 {
                                            counters[1].increment();
                                        }
                                        if t % 4 == 0 {
                                            counters[2].increment();
                                        }
                                        churn.increment();
                                    }
                                    assert_eq!(churn.get(), BUMPS);
                                });
                            });
                        }
                    })
                })
                .collect();
            for worker in workers {
                worker.join().unwrap();
            }
            done.store(true, Ordering::Release);
        });
        assert_eq!(counters[0].get(), THREADS * ROUNDS * BUMPS);
        assert_eq!(counters[1].get(), THREADS * ROUNDS * BUMPS / 2);
        assert_eq!(counters[2].get(), THREADS / 4 * ROUNDS * BUMPS);
        // A reset while nothing runs starts every count from zero exactly.
        counters[0].reset();
        assert_eq!(counters[0].get(), 0);
        assert_eq!(counters[1].get(), THREADS * ROUNDS * BUMPS / 2);
    }

    /// Bumps racing a reset land on one side of it or the other: none is
    /// lost and none counted twice, so the count after the reset lies
    /// between what was added after the reset returned and everything.
    #[test]
    fn a_reset_racing_bumps_loses_and_doubles_nothing() {
        const THREADS: u64 = 8;
        const BUMPS: u64 = 20_000;
        let counter = Counter::new();
        let after = std::sync::atomic::AtomicU64::new(0);
        let reset_done = std::sync::atomic::AtomicBool::new(false);
        std::thread::scope(|scope| {
            for _ in 0..THREADS {
                scope.spawn(|| {
                    for _ in 0..BUMPS {
                        // Read before the bump: a bump seen as after the
                        // reset certainly started after it returned.
                        let late = reset_done.load(Ordering::Acquire);
                        counter.increment();
                        if late {
                            after.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                });
            }
            scope.spawn(|| {
                while counter.get() < THREADS * BUMPS / 4 {
                    std::thread::yield_now();
                }
                counter.reset();
                reset_done.store(true, Ordering::Release);
            });
        });
        let count = counter.get();
        let after = after.load(Ordering::Relaxed);
        assert!(
            (after..=THREADS * BUMPS).contains(&count),
            "{count} counted after the reset; {after} bumps certainly after it"
        );
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
