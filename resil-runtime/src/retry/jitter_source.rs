//! Where retry jitter draws its randomness: the thread's generator, or a
//! seeded sequence of the policy's own so that a test run can be replayed.

use std::sync::atomic::Ordering;

use crate::sync::{AtomicBool, AtomicU64};

/// Where a policy's jitter draws its randomness from: the thread's
/// unseeded generator (the default), or, once a test called
/// [`Retry::seed_jitter`], a SplitMix64 sequence of the policy's own,
/// so that a run can be replayed from its seed.
///
/// The seeded sequence is one atomic word moved by `fetch_add`: no lock,
/// no allocation, and concurrent draws each get a distinct number. Only a
/// failed attempt with jitter draws; a call that succeeds never looks here.
#[derive(Debug, Default)]
pub(super) struct JitterSource {
    seeded: AtomicBool,
    state: AtomicU64,
}

/// SplitMix64's increment (the golden ratio in 64 bits).
const GOLDEN_GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;

impl JitterSource {
    pub(super) fn seed(&self, seed: u64) {
        self.state.store(seed, Ordering::Relaxed);
        self.seeded.store(true, Ordering::Release);
    }

    /// A number in `0..=span`.
    #[inline]
    pub(super) fn up_to(&self, span: u64) -> u64 {
        if !self.seeded.load(Ordering::Acquire) {
            return rand::random_range(0..=span);
        }
        let mut z = self
            .state
            .fetch_add(GOLDEN_GAMMA, Ordering::Relaxed)
            .wrapping_add(GOLDEN_GAMMA);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        // Scaled by multiplication rather than `%`: no division, and the
        // bias (under 2^-64 per value) is far below anything a test sees.
        ((u128::from(z) * (u128::from(span) + 1)) >> 64) as u64
    }
}
