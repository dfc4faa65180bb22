//! Keyed policies: one circuit breaker per distinct value of an argument
//! (`#[circuit_breaker(key = tenant)]`), so that one failing tenant or host
//! does not open the circuit for all the others.
//!
//! # How members are kept
//!
//! A keyed policy holds at most `max_keys` members (1,000 by default), in up
//! to 16 shards, each a `Mutex` around a hash map from the key's hash to its
//! members. A call takes one shard's lock for one map look-up (the only lock
//! on this path, held for a few nanoseconds and never across an `.await`),
//! compares the key's `Display` form with the member's without allocating,
//! and leaves with the member's `Arc`. Only a key seen for the first time
//! allocates: its member and its name, `name[key]`.
//!
//! When a new key finds its shard full, the least recently used member of
//! that shard makes room; with `key_ttl`, members idle longer than that are
//! dropped when a new key arrives in their shard. A dropped member's state
//! is forgotten: the key starts again with a closed breaker. Calls still
//! holding it finish on it.
//!
//! Keys are told apart by their hash and their `Display` form, which also
//! names the member in the registry and in errors. Hashes use a per-policy
//! random seed, so keys a client chooses cannot be made to collide.

use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::fmt::{self, Display, Write as _};
use std::hash::{BuildHasher, BuildHasherDefault, Hash, Hasher};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use super::{Entry, Tabled, build};
use crate::error::PolicyName;

/// The default `max_keys`.
pub const DEFAULT_MAX_KEYS: u32 = resil_rules::keyed::DEFAULT_MAX_KEYS;
const MAX_SHARDS: usize = 16;

/// How many members a keyed policy keeps, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct KeyOptions {
    pub(crate) max_keys: u32,
    pub(crate) ttl: Option<Duration>,
}

pub(crate) struct Keys<P: Tabled> {
    options: KeyOptions,
    seed: RandomState,
    shards: Box<[Mutex<Shard<P>>]>,
}

struct Shard<P> {
    capacity: usize,
    /// Counts look-ups, to order members by last use.
    clock: u64,
    len: usize,
    members: HashMap<u64, Vec<Member<P>>, BuildHasherDefault<Prehashed>>,
}

struct Member<P> {
    key: Box<str>,
    policy: Arc<P>,
    used: u64,
    /// Only kept with a `key_ttl`: reading the clock costs a call.
    last_used: Option<Instant>,
}

impl<P: Tabled> Keys<P> {
    pub(crate) fn new(options: KeyOptions) -> Self {
        let max_keys = options.max_keys.max(1) as usize;
        let shards = max_keys.div_ceil(64).clamp(1, MAX_SHARDS);
        let shards = (0..shards)
            .map(|i| {
                // Spread `max_keys` exactly: the first shards take the rest.
                let capacity = max_keys / shards + usize::from(i < max_keys % shards);
                Mutex::new(Shard {
                    capacity,
                    clock: 0,
                    len: 0,
                    members: HashMap::default(),
                })
            })
            .collect();
        Self {
            options,
            seed: RandomState::new(),
            shards,
        }
    }

    fn shard(&self, hash: u64) -> &Mutex<Shard<P>> {
        // The high half picks the shard; the map uses the whole hash.
        &self.shards[(hash >> 32) as usize % self.shards.len()]
    }

    /// The member for `key`, created with the entry's settings in force if
    /// it is new.
    pub(crate) fn member<K: Hash + Display + ?Sized>(&self, entry: &Entry<P>, key: &K) -> Arc<P> {
        let hash = self.seed.hash_one(key);
        let now = self.options.ttl.map(|_| Instant::now());
        if let Some(policy) = lock(self.shard(hash)).touch(hash, key, now) {
            return policy;
        }
        // A new key. The entry's lock first (as configuration changes take
        // it), so the member is built with the settings in force and no
        // change can miss it.
        let state = entry.lock();
        let mut shard = lock(self.shard(hash));
        if let Some(policy) = shard.touch(hash, key, now) {
            return policy;
        }
        if let (Some(ttl), Some(now)) = (self.options.ttl, now) {
            shard.drop_idle(now, ttl);
        }
        if shard.len >= shard.capacity {
            shard.drop_least_recently_used();
        }
        let name = format!("{}[{key}]", entry.name);
        let policy = build::<P>(PolicyName::from(name), state.effective);
        shard.clock += 1;
        let used = shard.clock;
        shard.len += 1;
        shard.members.entry(hash).or_default().push(Member {
            key: key.to_string().into_boxed_str(),
            policy: Arc::clone(&policy),
            used,
            last_used: now,
        });
        policy
    }

    /// Every member now.
    pub(crate) fn members(&self) -> Vec<Arc<P>> {
        let mut all = Vec::new();
        for shard in self.shards.iter() {
            let shard = lock(shard);
            all.extend(
                shard
                    .members
                    .values()
                    .flatten()
                    .map(|m| Arc::clone(&m.policy)),
            );
        }
        all
    }

    /// The member whose key displays as `key`.
    pub(crate) fn find(&self, key: &str) -> Option<Arc<P>> {
        self.shards.iter().find_map(|shard| {
            lock(shard)
                .members
                .values()
                .flatten()
                .find(|m| &*m.key == key)
                .map(|m| Arc::clone(&m.policy))
        })
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Critical sections insert or remove whole members: a panic cannot
    // leave one half-done.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl<P> Shard<P> {
    fn touch<K: Display + ?Sized>(
        &mut self,
        hash: u64,
        key: &K,
        now: Option<Instant>,
    ) -> Option<Arc<P>> {
        self.clock += 1;
        let clock = self.clock;
        let member = self
            .members
            .get_mut(&hash)?
            .iter_mut()
            .find(|m| displays_as(key, &m.key))?;
        member.used = clock;
        if now.is_some() {
            member.last_used = now;
        }
        Some(Arc::clone(&member.policy))
    }

    fn drop_idle(&mut self, now: Instant, ttl: Duration) {
        let mut dropped = 0;
        self.members.retain(|_, members| {
            members.retain(|m| {
                let keep = m
                    .last_used
                    .is_none_or(|used| now.saturating_duration_since(used) <= ttl);
                dropped += usize::from(!keep);
                keep
            });
            !members.is_empty()
        });
        self.len -= dropped;
    }

    fn drop_least_recently_used(&mut self) {
        let oldest = self
            .members
            .iter()
            .flat_map(|(hash, members)| members.iter().map(move |m| (m.used, *hash)))
            .min();
        if let Some((used, hash)) = oldest
            && let Some(members) = self.members.get_mut(&hash)
        {
            members.retain(|m| m.used != used);
            if members.is_empty() {
                self.members.remove(&hash);
            }
            self.len -= 1;
        }
    }
}

/// Whether `key` displays as exactly `name`, compared as it is formatted:
/// no allocation.
fn displays_as<K: Display + ?Sized>(key: &K, name: &str) -> bool {
    struct Compare<'a>(&'a str);
    impl fmt::Write for Compare<'_> {
        fn write_str(&mut self, s: &str) -> fmt::Result {
            match self.0.strip_prefix(s) {
                Some(rest) => {
                    self.0 = rest;
                    Ok(())
                }
                None => Err(fmt::Error),
            }
        }
    }
    let mut compare = Compare(name);
    write!(compare, "{key}").is_ok() && compare.0.is_empty()
}

/// The map's keys are already hashes.
#[derive(Default)]
struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*byte);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_comparison_needs_the_whole_name() {
        assert!(displays_as(&"tenant-7", "tenant-7"));
        assert!(displays_as(&7u32, "7"));
        assert!(!displays_as(&"tenant-7", "tenant-70"));
        assert!(!displays_as(&"tenant-70", "tenant-7"));
        assert!(!displays_as(&"", "x"));
    }

    #[test]
    fn max_keys_is_spread_exactly_over_the_shards() {
        for max_keys in [1, 2, 63, 64, 65, 1_000, 5_000] {
            let keys: Keys<crate::CircuitBreaker> = Keys::new(KeyOptions {
                max_keys,
                ttl: None,
            });
            let total: usize = keys.shards.iter().map(|s| lock(s).capacity).sum();
            assert_eq!(total, max_keys as usize);
            assert!(keys.shards.len() <= MAX_SHARDS);
        }
    }
}
