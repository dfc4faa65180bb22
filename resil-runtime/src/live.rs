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
//! This module knows no policy: it holds the cell ([`Live`]), the
//! sequence lock and the [`live_config!`] macro that each policy invokes
//! next to its configuration (`circuit_breaker/config.rs`, ...) to declare
//! its own `Live*Config`. A policy whose setting has a type of its own
//! (the retry's `Backoff`) implements [`Bits`] for it there.
//!
//! The atomics and fences come from `crate::sync`, so under `--cfg loom`
//! the model checker sees the sequence lock as it really is (see the live
//! settings models in `tests/loom/`).
//!
//! Adding a field to a policy's configuration: add it to the policy's
//! `live_config!` list beside its `*Config` (the compiler points there
//! until you do).

use std::marker::PhantomData;
use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::sync::{AtomicU64, fence, spin_loop};

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

/// One setting in one atomic.
pub(crate) struct Live<T> {
    bits: AtomicU64,
    kind: PhantomData<fn() -> T>,
}

impl<T: Bits> Live<T> {
    pub(crate) fn new(value: T) -> Self {
        Self {
            bits: AtomicU64::new(value.to_bits()),
            kind: PhantomData,
        }
    }

    #[inline(always)]
    pub(crate) fn get(&self) -> T {
        T::from_bits(self.bits.load(Ordering::Relaxed))
    }

    pub(crate) fn set(&self, value: T) {
        self.bits.store(value.to_bits(), Ordering::Relaxed);
    }
}

/// The sequence lock's version: odd while a store is under way.
pub(crate) struct Version(AtomicU64);

impl Version {
    pub(crate) fn new() -> Self {
        Self(AtomicU64::new(0))
    }

    /// Runs `read` until it ran under one even version.
    pub(crate) fn read<C>(&self, read: impl Fn() -> C) -> C {
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
    pub(crate) fn write(&self, write: impl FnOnce()) {
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

/// Declares a policy's `Live*Config`: one [`Live`] cell per field of its
/// `*Config`, under one [`Version`], with `new`, `load`, `store` and one
/// getter per field.
macro_rules! live_config {
    ($(#[$meta:meta])* $live:ident for $config:ident { $($field:ident: $ty:ty,)* }) => {
        $(#[$meta])*
        pub(crate) struct $live {
            version: $crate::live::Version,
            $($field: $crate::live::Live<$ty>,)*
        }

        #[allow(dead_code)]
        impl $live {
            pub(crate) fn new(config: &$config) -> Self {
                Self {
                    version: $crate::live::Version::new(),
                    $($field: $crate::live::Live::new(config.$field),)*
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

pub(crate) use live_config;

#[cfg(test)]
#[cfg(not(loom))]
mod tests {
    // Each policy's own cell is tested beside it (`*/config.rs`): this
    // module knows no policy.
    use super::*;

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
}
