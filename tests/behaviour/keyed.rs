//! Keyed circuit breakers: one breaker per value of an argument, bounded in
//! number, idle keys evicted, each visible in the registry as `name[key]`.

use std::time::Duration;

use resil::{CircuitState, PolicyKind, circuit_breaker, registry, retry};

use crate::{Outcome, TestError};

fn state(name: &str) -> CircuitState {
    registry().circuit_breaker(name).unwrap().state()
}

#[circuit_breaker(name = "keyed-tenants", key = tenant, threshold = 2, timeout = 10s)]
async fn for_tenant(tenant: &str, outcome: Outcome) -> Result<u32, TestError> {
    outcome.into_result(0)
}

#[tokio::test(start_paused = true)]
async fn one_failing_key_does_not_open_the_circuit_for_the_others() {
    for _ in 0..2 {
        let _ = for_tenant("bad", Outcome::Fail).await;
    }
    assert!(matches!(
        for_tenant("bad", Outcome::Ok).await,
        Err(TestError::Resil(resil::Error::CircuitOpen { policy, .. })) if policy == "keyed-tenants[bad]"
    ));
    // Other tenants are untouched, even one failing once.
    assert_eq!(for_tenant("good", Outcome::Ok).await, Ok(0));
    let _ = for_tenant("shaky", Outcome::Fail).await;
    assert_eq!(for_tenant("shaky", Outcome::Ok).await, Ok(0));
    assert_eq!(state("keyed-tenants[bad]"), CircuitState::Open);
    assert_eq!(state("keyed-tenants[good]"), CircuitState::Closed);

    // Each key's breaker recovers on its own timer.
    tokio::time::advance(Duration::from_secs(10)).await;
    for _ in 0..2 {
        assert_eq!(for_tenant("bad", Outcome::Ok).await, Ok(0));
    }
    assert_eq!(state("keyed-tenants[bad]"), CircuitState::Closed);
}

#[tokio::test]
async fn keyed_breakers_appear_in_the_registry_and_the_snapshot() {
    #[circuit_breaker(name = "keyed-listed", key = account, threshold = 1)]
    async fn call(account: u64) -> Result<u32, TestError> {
        Err(TestError::Upstream(account as u32))
    }

    let _ = call(7).await;
    let _ = call(8).await;
    let ids = registry().policies();
    for name in ["keyed-listed", "keyed-listed[7]", "keyed-listed[8]"] {
        assert!(
            ids.iter()
                .any(|id| id.kind == PolicyKind::CircuitBreaker && id.name == name),
            "{name} missing from {ids:?}"
        );
    }
    let json = serde_json::to_value(registry().snapshot()).unwrap();
    let breakers = json["circuit_breakers"].as_array().unwrap();
    let seven = breakers
        .iter()
        .find(|b| b["name"] == "keyed-listed[7]")
        .expect("the key's breaker is in the snapshot");
    assert_eq!(seven["state"], "open");
    assert_eq!(seven["failures"], 1);
    // The group itself is no breaker: asking for it lists its keys.
    let error = registry().circuit_breaker("keyed-listed").unwrap_err();
    assert!(error.to_string().contains("keyed-listed[7]"), "{error}");
    assert!(registry().circuit_breaker("keyed-listed[9]").is_err());
}

#[tokio::test]
async fn at_most_max_keys_breakers_are_kept_and_the_least_recently_used_goes() {
    #[circuit_breaker(name = "keyed-bounded", key = host, threshold = 1, max_keys = 2)]
    async fn call(host: String, outcome: Outcome) -> Result<u32, TestError> {
        outcome.into_result(0)
    }

    let _ = call("a".into(), Outcome::Fail).await;
    let _ = call("b".into(), Outcome::Ok).await;
    // `a` is used again, so `b` is now the least recently used.
    assert!(call("a".into(), Outcome::Ok).await.is_err());
    let _ = call("c".into(), Outcome::Ok).await;
    let members = |registry: &resil::Registry| {
        let mut names: Vec<String> = registry
            .policies()
            .into_iter()
            .filter(|id| id.name.starts_with("keyed-bounded["))
            .map(|id| id.name)
            .collect();
        names.sort();
        names
    };
    assert_eq!(
        members(registry()),
        ["keyed-bounded[a]", "keyed-bounded[c]"]
    );
    // `a` kept its state: still open.
    assert_eq!(state("keyed-bounded[a]"), CircuitState::Open);
}

#[tokio::test(start_paused = true)]
async fn keys_idle_longer_than_key_ttl_are_dropped() {
    #[circuit_breaker(name = "keyed-ttl", key = host, threshold = 1, max_keys = 10, key_ttl = 1m)]
    async fn call(host: &'static str, outcome: Outcome) -> Result<u32, TestError> {
        outcome.into_result(0)
    }

    let _ = call("idle", Outcome::Fail).await;
    let _ = call("busy", Outcome::Ok).await;
    tokio::time::advance(Duration::from_secs(45)).await;
    let _ = call("busy", Outcome::Ok).await;
    tokio::time::advance(Duration::from_secs(30)).await;
    // A new key arrives: `idle` was unused for 75s and goes, `busy` for 30s
    // and stays.
    let _ = call("new", Outcome::Ok).await;
    assert!(registry().circuit_breaker("keyed-ttl[idle]").is_err());
    assert!(registry().circuit_breaker("keyed-ttl[busy]").is_ok());
    // Back after eviction, `idle` starts again with a closed breaker.
    assert_eq!(call("idle", Outcome::Ok).await, Ok(0));
    assert_eq!(state("keyed-ttl[idle]"), CircuitState::Closed);
}

#[tokio::test]
async fn reconfiguring_a_keyed_breaker_changes_every_key() {
    #[circuit_breaker(name = "keyed-reconfigured", key = id, threshold = 3)]
    async fn call(id: u32) -> Result<u32, TestError> {
        Err(TestError::Upstream(id))
    }

    let _ = call(1).await;
    registry()
        .reconfigure_circuit_breaker("keyed-reconfigured", |c| c.threshold(2))
        .unwrap();
    // The existing key's streak of 1 is kept; one more failure reaches 2.
    let _ = call(1).await;
    assert_eq!(state("keyed-reconfigured[1]"), CircuitState::Open);
    // A new key starts with the new settings.
    let _ = call(2).await;
    assert_eq!(
        registry()
            .circuit_breaker("keyed-reconfigured[2]")
            .unwrap()
            .config()
            .threshold,
        2
    );
}

#[tokio::test(start_paused = true)]
async fn a_keyed_breaker_under_a_retry_sees_each_attempt_with_its_key() {
    #[retry(max = 3, initial = 1ms)]
    #[circuit_breaker(name = "keyed-retried", key = tenant, threshold = 2)]
    async fn call(tenant: String) -> Result<u32, TestError> {
        Err(TestError::Upstream(tenant.len() as u32))
    }

    // Two attempts open the key's breaker; the third is rejected.
    assert!(matches!(
        call("t1".to_owned()).await,
        Err(TestError::Resil(resil::Error::CircuitOpen { .. }))
    ));
    assert_eq!(state("keyed-retried[t1]"), CircuitState::Open);
    assert!(matches!(
        call("t2".to_owned()).await,
        Err(TestError::Resil(resil::Error::CircuitOpen { policy, .. })) if policy == "keyed-retried[t2]"
    ));
}

// ---- at real sizes -----------------------------------------------------------
//
// A keyed policy spreads `max_keys` over up to 16 shards (one per 64 keys),
// and least-recently-used eviction and `key_ttl` removal happen within the
// shard a new key lands in. Which shard that is depends on a per-policy
// random seed, so the checks below hold whatever the seed is; where one
// relies on thousands of keys reaching every shard, it says so.

/// The names of `policy`'s members now (`policy[key]`), sorted.
fn members(policy: &str) -> Vec<String> {
    let prefix = format!("{policy}[");
    let mut names: Vec<String> = registry()
        .policies()
        .into_iter()
        .filter(|id| id.kind == PolicyKind::CircuitBreaker && id.name.starts_with(&prefix))
        .map(|id| id.name)
        .collect();
    names.sort();
    names
}

fn member(policy: &str, key: u32) -> Option<CircuitState> {
    registry()
        .circuit_breaker(&format!("{policy}[{key}]"))
        .ok()
        .map(|breaker| breaker.state())
}

#[tokio::test]
async fn in_one_shard_the_least_recently_used_of_a_thousand_keys_goes_first() {
    // 64 keys: one shard, so recency is exact across every key.
    #[circuit_breaker(name = "keyed-lru-exact", key = id, threshold = 1, max_keys = 64)]
    async fn call(id: u32, outcome: Outcome) -> Result<u32, TestError> {
        outcome.into_result(id)
    }

    const PINNED: u32 = 0;
    let _ = call(PINNED, Outcome::Fail).await;
    for id in 1..=1_000 {
        assert_eq!(call(id, Outcome::Ok).await, Ok(id));
        if id % 10 == 0 {
            // Used again, so never the least recently used.
            let _ = call(PINNED, Outcome::Ok).await;
        }
        if id % 100 == 0 {
            assert_eq!(members("keyed-lru-exact").len(), 64);
        }
    }
    // Left: the pinned key, with its state (still open), and exactly the 63
    // keys used last.
    let mut expected: Vec<String> = std::iter::once(PINNED)
        .chain(938..=1_000)
        .map(|id| format!("keyed-lru-exact[{id}]"))
        .collect();
    expected.sort();
    assert_eq!(members("keyed-lru-exact"), expected);
    assert_eq!(member("keyed-lru-exact", PINNED), Some(CircuitState::Open));
}

#[tokio::test]
async fn thousands_of_keys_over_16_shards_keep_max_keys_and_the_recently_used() {
    #[circuit_breaker(name = "keyed-sharded", key = id, threshold = 1, max_keys = 1024)]
    async fn call(id: u32, outcome: Outcome) -> Result<u32, TestError> {
        outcome.into_result(id)
    }

    const MAX: usize = 1_024;
    // Hot keys, opened so that a member rebuilt after eviction (closed)
    // would show. At most 32 of them share a shard of 64.
    const HOT: std::ops::Range<u32> = 0..32;
    const COLD: std::ops::Range<u32> = 1_000..6_000;
    for id in HOT {
        let _ = call(id, Outcome::Fail).await;
    }
    for id in COLD {
        assert_eq!(call(id, Outcome::Ok).await, Ok(id));
        // Between two touches of the hot keys at most 16 new keys arrive in
        // a shard, which holds at least 16 members used longer ago than
        // any hot key: the hot keys are never its least recently used.
        if id % 16 == 15 {
            for hot in HOT {
                let _ = call(hot, Outcome::Ok).await;
            }
        }
        if id % 250 == 0 {
            let len = members("keyed-sharded").len();
            assert!(len <= MAX, "{len} members after key {id}");
        }
    }
    let left = members("keyed-sharded");
    // 5,032 keys over 16 shards: every shard is full (that one of them saw
    // fewer than 64 keys has odds below 1e-40).
    assert_eq!(left.len(), MAX);
    for id in HOT {
        assert_eq!(
            member("keyed-sharded", id),
            Some(CircuitState::Open),
            "hot key {id} was evicted or rebuilt"
        );
    }
    // The 16 keys used last are in any shard's newest 16: kept.
    for id in COLD.end - 16..COLD.end {
        assert_eq!(member("keyed-sharded", id), Some(CircuitState::Closed));
    }
    // Nothing is listed twice.
    let mut unique = left.clone();
    unique.dedup();
    assert_eq!(unique.len(), left.len());
}

#[tokio::test(start_paused = true)]
async fn keys_idle_past_key_ttl_leave_every_shard_and_busy_ones_stay() {
    #[circuit_breaker(
        name = "keyed-ttl-sharded",
        key = id,
        threshold = 1,
        timeout = 1h,
        max_keys = 4096,
        key_ttl = 1m
    )]
    async fn call(id: u32, outcome: Outcome) -> Result<u32, TestError> {
        outcome.into_result(id)
    }

    const IDLE: std::ops::Range<u32> = 0..400;
    const BUSY: std::ops::Range<u32> = 400..500;
    const NEW: std::ops::Range<u32> = 10_000..11_000;
    for id in IDLE.start..BUSY.end {
        let _ = call(id, Outcome::Fail).await;
    }
    assert_eq!(members("keyed-ttl-sharded").len(), 500);
    tokio::time::advance(Duration::from_secs(45)).await;
    for id in BUSY {
        let _ = call(id, Outcome::Ok).await;
    }
    tokio::time::advance(Duration::from_secs(30)).await;
    // Idle for 75s now, busy for 30s. Idle members leave a shard when a new
    // key arrives in it; 1,000 new keys reach all 16 shards (odds of
    // missing one are below 1e-26), and 256 members fit in each, so nothing
    // is evicted for room.
    for id in NEW {
        assert_eq!(call(id, Outcome::Ok).await, Ok(id));
    }
    assert_eq!(
        members("keyed-ttl-sharded").len(),
        BUSY.len() + NEW.len(),
        "exactly the idle keys went"
    );
    for id in IDLE {
        assert_eq!(member("keyed-ttl-sharded", id), None, "idle key {id}");
    }
    for id in BUSY {
        assert_eq!(
            member("keyed-ttl-sharded", id),
            Some(CircuitState::Open),
            "busy key {id} kept its state"
        );
    }
    // Back after removal, an idle key starts again with a closed breaker.
    assert_eq!(call(IDLE.start, Outcome::Ok).await, Ok(IDLE.start));
    assert_eq!(
        member("keyed-ttl-sharded", IDLE.start),
        Some(CircuitState::Closed)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_callers_share_one_member_per_key_and_lose_no_call() {
    #[circuit_breaker(name = "keyed-concurrent", key = id, threshold = 1_000_000, max_keys = 1024)]
    async fn call(id: u32, outcome: Outcome) -> Result<u32, TestError> {
        outcome.into_result(id)
    }

    // 256 keys in 16 shards of 64: none is evicted, so every call must be
    // counted by the one member of its key.
    const TASKS: u64 = 8;
    const KEYS: u32 = 256;
    const ROUNDS: u64 = 20;
    let start = std::sync::Arc::new(tokio::sync::Barrier::new(TASKS as usize));
    let tasks: Vec<_> = (0..TASKS)
        .map(|task| {
            let start = std::sync::Arc::clone(&start);
            tokio::spawn(async move {
                start.wait().await;
                for round in 0..ROUNDS {
                    // Each task walks the keys from its own offset, so new
                    // keys are raced for from the first round on.
                    for i in 0..KEYS {
                        let id = (i + (task * 31 + round) as u32) % KEYS;
                        let outcome = if (task + round) % 4 == 0 {
                            Outcome::Fail
                        } else {
                            Outcome::Ok
                        };
                        let _ = call(id, outcome).await;
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }

    let left = members("keyed-concurrent");
    assert_eq!(left.len(), KEYS as usize, "one member per key: {left:?}");
    // Per key: 2 of the 8 tasks fail in each round (`(task + round) % 4`
    // is 0 for two tasks), the other 6 succeed.
    for id in 0..KEYS {
        let snapshot = registry()
            .circuit_breaker(&format!("keyed-concurrent[{id}]"))
            .unwrap()
            .snapshot();
        assert_eq!(
            (snapshot.successes, snapshot.failures),
            (6 * ROUNDS, 2 * ROUNDS),
            "key {id}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_churn_never_holds_more_than_max_keys() {
    #[circuit_breaker(name = "keyed-churn", key = id, threshold = 1_000_000, max_keys = 1024)]
    async fn call(id: u32) -> Result<u32, TestError> {
        Ok(id)
    }

    const MAX: usize = 1_024;
    const TASKS: u32 = 8;
    const PER_TASK: u32 = 1_000;
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    // Counts the members while the callers run: the bound holds at every
    // moment, not only at the end.
    let watcher = {
        let done = std::sync::Arc::clone(&done);
        tokio::spawn(async move {
            let mut samples = 0;
            while !done.load(std::sync::atomic::Ordering::SeqCst) {
                let len = members("keyed-churn").len();
                assert!(len <= MAX, "{len} members");
                samples += 1;
                tokio::task::yield_now().await;
            }
            samples
        })
    };
    let start = std::sync::Arc::new(tokio::sync::Barrier::new(TASKS as usize));
    let tasks: Vec<_> = (0..TASKS)
        .map(|task| {
            let start = std::sync::Arc::clone(&start);
            tokio::spawn(async move {
                start.wait().await;
                for i in 0..PER_TASK {
                    // Half the keys are shared with the next task, half
                    // this task's own.
                    let id = if i % 2 == 0 {
                        (task * PER_TASK + i) % (TASKS * PER_TASK)
                    } else {
                        ((task + 1) * PER_TASK + i - 1) % (TASKS * PER_TASK)
                    };
                    assert_eq!(call(id).await, Ok(id));
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let samples = watcher.await.unwrap();
    assert!(samples > 0);

    let left = members("keyed-churn");
    let mut unique = left.clone();
    unique.dedup();
    assert_eq!(unique.len(), left.len(), "a key has two members");
    // 4,000 distinct keys over 16 shards: every shard full (odds otherwise
    // below 1e-40).
    assert_eq!(left.len(), MAX);
}
