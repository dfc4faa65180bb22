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
