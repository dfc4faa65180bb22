//! Settings that can change while calls run, read on the hot path with one
//! plain atomic load per field.
//!
//! Each policy keeps its settings in a `Live*Config`: one `AtomicU64` per
//! field (durations as nanoseconds, rates as `f64` bits, `None` as a value
//! no valid setting takes) and a version counter. A hot path that needs one
//! setting calls its getter: a `Relaxed` load, which on x86-64 and AArch64
//! is the same instruction as reading a plain `u64`. No lock, no pointer
//! chase, no reference count.
//!
//! [`reconfigure`](crate::Registry::reconfigure) stores a whole, validated
//! configuration field by field inside a sequence lock: the version is odd
//! while a store is under way, and [`load`](LiveCircuitBreakerConfig::load)
//! (snapshots, `config()`) retries until it reads every field under one
//! even version, so it never sees half of a change. A call that reads
//! single fields while a change lands may see some fields old and some new;
//! each of them is a value that passed validation.
//!
//! Durations longer than `u64::MAX` nanoseconds (about 584 years) are kept
//! as that.
//!
//! The atomics and fences come from `crate::sync`, so under `--cfg loom`
//! the model checker sees the sequence lock as it really is (see the live
//! settings models in `tests/loom/`).
//!
//! Adding a field to a policy's configuration: add it to the policy's
//! `live_config!` list below (the compiler points here until you do).

use std::marker::PhantomData;
use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::bulkhead::BulkheadConfig;
use crate::circuit_breaker::CircuitBreakerConfig;
use crate::rate_limit::RateLimiterConfig;
use crate::retry::{Backoff, Jitter, RetryConfig};
use crate::sync::{AtomicU64, fence, spin_loop};
use crate::timeout::TimeoutConfig;

/// A value that fits in the 64 bits of one atomic.
pub(crate) trait Bits: Copy {
    fn to_bits(self) -> u64;
    fn from_bits(bits: u64) -> Self;
}

impl Bits for u32 {
    fn to_bits(self) -> u64 {
        u64::from(self)
    }
    fn from_bits(bits: u64) -> Self {
        bits as u32
    }
}

impl Bits for bool {
    fn to_bits(self) -> u64 {
        u64::from(self)
    }
    fn from_bits(bits: u64) -> Self {
        bits != 0
    }
}

impl Bits for f64 {
    fn to_bits(self) -> u64 {
        f64::to_bits(self)
    }
    fn from_bits(bits: u64) -> Self {
        f64::from_bits(bits)
    }
}

impl Bits for Duration {
    fn to_bits(self) -> u64 {
        u64::try_from(self.as_nanos()).unwrap_or(u64::MAX)
    }
    fn from_bits(bits: u64) -> Self {
        Duration::from_nanos(bits)
    }
}

/// `None` is `u64::MAX`: a NaN pattern for rates (which validation rejects)
/// and more than any count or kept duration.
const NONE: u64 = u64::MAX;

impl Bits for Option<u32> {
    fn to_bits(self) -> u64 {
        self.map_or(NONE, u64::from)
    }
    fn from_bits(bits: u64) -> Self {
        (bits != NONE).then_some(bits as u32)
    }
}

impl Bits for Option<f64> {
    fn to_bits(self) -> u64 {
        self.map_or(NONE, f64::to_bits)
    }
    fn from_bits(bits: u64) -> Self {
        (bits != NONE).then(|| f64::from_bits(bits))
    }
}

impl Bits for Option<Duration> {
    fn to_bits(self) -> u64 {
        self.map_or(NONE, |d| Bits::to_bits(d).min(NONE - 1))
    }
    fn from_bits(bits: u64) -> Self {
        (bits != NONE).then(|| Duration::from_nanos(bits))
    }
}

impl Bits for Backoff {
    fn to_bits(self) -> u64 {
        match self {
            Backoff::Exponential => 0,
            Backoff::Linear => 1,
            Backoff::Fibonacci => 2,
            Backoff::Constant => 3,
        }
    }
    fn from_bits(bits: u64) -> Self {
        match bits {
            1 => Backoff::Linear,
            2 => Backoff::Fibonacci,
            3 => Backoff::Constant,
            _ => Backoff::Exponential,
        }
    }
}

impl Bits for Jitter {
    fn to_bits(self) -> u64 {
        match self {
            Jitter::None => 0,
            Jitter::Full => 1,
            Jitter::Equal => 2,
            Jitter::Decorrelated => 3,
        }
    }
    fn from_bits(bits: u64) -> Self {
        match bits {
            0 => Jitter::None,
            2 => Jitter::Equal,
            3 => Jitter::Decorrelated,
            _ => Jitter::Full,
        }
    }
}

/// One setting in one atomic.
pub(crate) struct Live<T> {
    bits: AtomicU64,
    kind: PhantomData<fn() -> T>,
}

impl<T: Bits> Live<T> {
    fn new(value: T) -> Self {
        Self {
            bits: AtomicU64::new(value.to_bits()),
            kind: PhantomData,
        }
    }

    #[inline(always)]
    fn get(&self) -> T {
        T::from_bits(self.bits.load(Ordering::Relaxed))
    }

    fn set(&self, value: T) {
        self.bits.store(value.to_bits(), Ordering::Relaxed);
    }
}

/// The sequence lock's version: odd while a store is under way.
struct Version(AtomicU64);

impl Version {
    /// Runs `read` until it ran under one even version.
    fn read<C>(&self, read: impl Fn() -> C) -> C {
        loop {
            let before = self.0.load(Ordering::Acquire);
            if before & 1 == 0 {
                let value = read();
                fence(Ordering::Acquire);
                if self.0.load(Ordering::Relaxed) == before {
                    return value;
                }
            }
            spin_loop();
        }
    }

    /// Runs `write` with the version odd; concurrent writers wait their turn.
    fn write(&self, write: impl FnOnce()) {
        let mut version = self.0.load(Ordering::Relaxed);
        loop {
            if version & 1 == 1 {
                spin_loop();
                version = self.0.load(Ordering::Relaxed);
                continue;
            }
            match self.0.compare_exchange_weak(
                version,
                version + 1,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => break,
                Err(actual) => version = actual,
            }
        }
        fence(Ordering::Release);
        write();
        self.0.store(version + 2, Ordering::Release);
    }
}

macro_rules! live_config {
    ($(#[$meta:meta])* $live:ident for $config:ident { $($field:ident: $ty:ty,)* }) => {
        $(#[$meta])*
        pub(crate) struct $live {
            version: Version,
            $($field: Live<$ty>,)*
        }

        #[allow(dead_code)]
        impl $live {
            pub(crate) fn new(config: &$config) -> Self {
                Self {
                    version: Version(AtomicU64::new(0)),
                    $($field: Live::new(config.$field),)*
                }
            }

            /// Every field, as one configuration that was stored whole.
            pub(crate) fn load(&self) -> $config {
                self.version.read(|| $config {
                    $($field: self.$field.get(),)*
                })
            }

            /// Replaces every field. The caller validated `config`.
            pub(crate) fn store(&self, config: &$config) {
                self.version.write(|| {
                    $(self.$field.set(config.$field);)*
                });
            }

            $(
                #[inline(always)]
                pub(crate) fn $field(&self) -> $ty {
                    self.$field.get()
                }
            )*
        }

        impl std::fmt::Debug for $live {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                std::fmt::Debug::fmt(&self.load(), f)
            }
        }
    };
}

live_config! {
    /// A circuit breaker's settings.
    LiveCircuitBreakerConfig for CircuitBreakerConfig {
        threshold: u32,
        failure_rate: Option<f64>,
        window: u32,
        time_window: Option<Duration>,
        min_calls: Option<u32>,
        timeout: Duration,
        half_open_max: u32,
        success_threshold: u32,
        slow_call: Option<Duration>,
        slow_rate: Option<f64>,
    }
}

impl LiveCircuitBreakerConfig {
    /// [`CircuitBreakerConfig::effective_min_calls`] of the live settings.
    #[inline]
    pub(crate) fn effective_min_calls(&self) -> u32 {
        self.min_calls().unwrap_or_else(|| self.window())
    }
}

live_config! {
    /// A bulkhead's settings.
    LiveBulkheadConfig for BulkheadConfig {
        max_concurrent: u32,
        queue: u32,
        wait: Duration,
    }
}

live_config! {
    /// A retry policy's settings.
    LiveRetryConfig for RetryConfig {
        max_attempts: u32,
        backoff: Backoff,
        initial: Duration,
        max_delay: Duration,
        multiplier: f64,
        jitter: Jitter,
        retry_rejections: bool,
        max_elapsed: Option<Duration>,
    }
}

live_config! {
    /// A timeout's settings.
    LiveTimeoutConfig for TimeoutConfig {
        duration: Duration,
    }
}

live_config! {
    /// A rate limiter's settings. The limiter also keeps the nanosecond
    /// figures its hot path uses, derived from these, in atomics of its own.
    LiveRateLimiterConfig for RateLimiterConfig {
        rate: u32,
        per: Duration,
        burst: Option<u32>,
        wait: Duration,
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn every_field_round_trips() {
        let breaker = CircuitBreakerConfig::DEFAULT
            .threshold(7)
            .failure_rate(0.25)
            .window(40)
            .min_calls(20)
            .timeout(Duration::from_millis(1500))
            .half_open_max(3)
            .success_threshold(4);
        assert_eq!(LiveCircuitBreakerConfig::new(&breaker).load(), breaker);
        let defaults = LiveCircuitBreakerConfig::new(&CircuitBreakerConfig::DEFAULT);
        assert_eq!(defaults.load(), CircuitBreakerConfig::DEFAULT);
        defaults.store(&breaker);
        assert_eq!(defaults.load(), breaker);
        assert_eq!(defaults.effective_min_calls(), 20);

        for backoff in [
            Backoff::Exponential,
            Backoff::Linear,
            Backoff::Fibonacci,
            Backoff::Constant,
        ] {
            for jitter in [
                Jitter::None,
                Jitter::Full,
                Jitter::Equal,
                Jitter::Decorrelated,
            ] {
                let retry = RetryConfig::DEFAULT
                    .backoff(backoff)
                    .jitter(jitter)
                    .multiplier(1.5)
                    .retry_rejections(true);
                assert_eq!(LiveRetryConfig::new(&retry).load(), retry);
            }
        }
        let bulkhead = BulkheadConfig::DEFAULT.max_concurrent(3).queue(9);
        assert_eq!(LiveBulkheadConfig::new(&bulkhead).load(), bulkhead);
    }

    #[test]
    fn none_and_huge_durations() {
        assert_eq!(
            <Option<f64> as Bits>::from_bits(None::<f64>.to_bits()),
            None
        );
        assert_eq!(
            <Option<u32> as Bits>::from_bits(Some(0u32).to_bits()),
            Some(0)
        );
        let huge = Duration::MAX;
        assert_eq!(
            <Duration as Bits>::from_bits(huge.to_bits()),
            Duration::from_nanos(u64::MAX)
        );
        assert!(<Option<Duration> as Bits>::from_bits(Some(huge).to_bits()).is_some());
    }

    #[test]
    fn readers_never_see_half_a_store() {
        let a = BulkheadConfig::DEFAULT.max_concurrent(1).queue(1);
        let b = BulkheadConfig::DEFAULT.max_concurrent(2).queue(2);
        let live = LiveBulkheadConfig::new(&a);
        std::thread::scope(|scope| {
            scope.spawn(|| {
                for i in 0..20_000 {
                    live.store(if i % 2 == 0 { &b } else { &a });
                }
            });
            for _ in 0..20_000 {
                let seen = live.load();
                assert_eq!(seen.max_concurrent, seen.queue, "{seen:?}");
            }
        });
    }
}
