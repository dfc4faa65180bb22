//! The live settings' sequence lock (`live.rs`), as the policies use it:
//! `reconfigure` stores a whole configuration field by field while
//! `config()` and the hot path read. Loom sees its atomics and fences
//! (they come from `crate::sync`), so a missing fence or a too-weak
//! ordering shows up here as a torn read, which a stress loop on x86 could
//! never show.

use std::sync::Arc;
use std::time::Duration;

use loom::thread;
use resil_runtime::{Bulkhead, BulkheadConfig};

use crate::{check, in_runtime};

/// Settings whose fields all say `n`, so that a read that mixes two
/// stores is seen at once. (A bulkhead's three fields: enough to tear,
/// few enough for loom to explore every interleaving quickly.)
fn uniform(n: u32) -> BulkheadConfig {
    BulkheadConfig::DEFAULT
        .max_concurrent(n)
        .queue(n)
        .wait(Duration::from_millis(u64::from(n)))
}

fn assert_whole(config: &BulkheadConfig) -> u32 {
    let n = config.max_concurrent;
    assert_eq!(config, &uniform(n), "a read mixed two stores");
    n
}

/// A reader never sees half a store: every `config()` is the old settings
/// or the new, whole.
#[test]
fn a_reader_never_sees_half_a_store() {
    in_runtime(|| {
        check(3, || {
            let bulkhead = Arc::new(Bulkhead::new("loom-live", uniform(2)).unwrap());
            let writer = {
                let bulkhead = Arc::clone(&bulkhead);
                thread::spawn(move || bulkhead.reconfigure(uniform(3)).unwrap())
            };
            let seen = assert_whole(&bulkhead.config());
            assert!(seen == 2 || seen == 3);
            writer.join().unwrap();
            // Once the store is done, every reader sees it.
            assert_eq!(assert_whole(&bulkhead.config()), 3);
        });
    });
}

/// Two writers at once: they take turns, and what is left is one of the
/// two configurations whole, as a reader in the middle also sees.
#[test]
fn concurrent_stores_take_turns() {
    in_runtime(|| {
        check(2, || {
            let bulkhead = Arc::new(Bulkhead::new("loom-live-two", uniform(2)).unwrap());
            let writers: Vec<_> = [3, 4]
                .into_iter()
                .map(|n| {
                    let bulkhead = Arc::clone(&bulkhead);
                    thread::spawn(move || bulkhead.reconfigure(uniform(n)).unwrap())
                })
                .collect();
            assert_whole(&bulkhead.config());
            for writer in writers {
                writer.join().unwrap();
            }
            let last = assert_whole(&bulkhead.config());
            assert!(last == 3 || last == 4);
        });
    });
}
