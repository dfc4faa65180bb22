//! Named, shared state: one policy per name, default names, conflicting
//! declarations, look-ups, the JSON snapshot and events.

use std::time::Duration;

use resil::{CircuitState, PolicyKind, bulkhead, circuit_breaker, registry, retry};

use crate::{Outcome, TestError};

#[circuit_breaker(name = "shared-backend", threshold = 2)]
async fn read_path(outcome: Outcome) -> Result<u32, TestError> {
    outcome.into_result(1)
}

#[circuit_breaker(name = "shared-backend", threshold = 2)]
async fn write_path(outcome: Outcome) -> Result<u32, TestError> {
    outcome.into_result(2)
}

#[tokio::test(start_paused = true)]
async fn functions_that_name_one_breaker_share_it() {
    let _ = read_path(Outcome::Fail).await;
    let _ = write_path(Outcome::Fail).await;
    assert_eq!(
        registry()
            .circuit_breaker("shared-backend")
            .unwrap()
            .state(),
        CircuitState::Open
    );
    assert!(matches!(
        read_path(Outcome::Ok).await,
        Err(TestError::Resil(resil::Error::CircuitOpen { .. }))
    ));
    assert!(matches!(
        write_path(Outcome::Ok).await,
        Err(TestError::Resil(resil::Error::CircuitOpen { .. }))
    ));
}

#[tokio::test]
async fn an_unnamed_policy_is_named_by_module_path_and_function() {
    #[retry(max = 2)]
    #[circuit_breaker]
    #[bulkhead(max = 3)]
    async fn lookup_widget() -> Result<u32, TestError> {
        Ok(1)
    }

    assert_eq!(lookup_widget().await, Ok(1));
    let name = "behaviour::registry::lookup_widget";
    assert!(registry().circuit_breaker(name).is_ok());
    assert_eq!(
        registry().bulkhead(name).unwrap().config().max_concurrent,
        3
    );
    assert_eq!(registry().retry(name).unwrap().config().max_attempts, 2);
    let ids = registry().policies();
    for kind in [
        PolicyKind::CircuitBreaker,
        PolicyKind::Bulkhead,
        PolicyKind::Retry,
    ] {
        assert!(
            ids.iter().any(|id| id.kind == kind && id.name == name),
            "{kind:?} missing from {ids:?}"
        );
    }
}

#[tokio::test]
async fn one_name_with_two_settings_is_reported_not_merged() {
    #[bulkhead(name = "conflicted", max = 4)]
    async fn first() -> Result<u32, TestError> {
        Ok(1)
    }
    #[bulkhead(name = "conflicted", max = 8)]
    async fn second() -> Result<u32, TestError> {
        Ok(2)
    }

    assert_eq!(first().await, Ok(1));
    assert_eq!(second().await, Ok(2));
    let conflict = registry()
        .conflicts()
        .into_iter()
        .find(|c| matches!(c, resil::ConfigError::Conflict { name, .. } if name == "conflicted"))
        .expect("the conflict is recorded");
    let message = conflict.to_string();
    assert!(
        message.contains("bulkhead `conflicted` is declared twice"),
        "{message}"
    );
    assert!(
        message.contains("max_concurrent: 4") && message.contains("max_concurrent: 8"),
        "{message}"
    );
    // The one declared first stays in force. Both are declared at start-up,
    // in the order the linker lists them, so the conflict record says which
    // came first; the registry must hold exactly that one.
    let resil::ConfigError::Conflict {
        in_force, ignored, ..
    } = &conflict
    else {
        unreachable!("matched above")
    };
    let declared = |text: &str| {
        if text.contains("max_concurrent: 4,") {
            4
        } else if text.contains("max_concurrent: 8,") {
            8
        } else {
            panic!("neither 4 nor 8 in {text}")
        }
    };
    let (kept, other) = (declared(in_force), declared(ignored));
    assert_ne!(kept, other, "{message}");
    let max = || {
        registry()
            .bulkhead("conflicted")
            .unwrap()
            .config()
            .max_concurrent
    };
    assert_eq!(max(), kept, "{message}");
    // Both functions share that one bulkhead: holding `kept` permits from
    // it leaves none for either.
    let bulkhead = registry().bulkhead("conflicted").unwrap();
    let held: Vec<_> = (0..kept)
        .map(|_| bulkhead.try_acquire().expect("free capacity"))
        .collect();
    assert!(matches!(
        first().await,
        Err(TestError::Resil(resil::Error::BulkheadFull { .. }))
    ));
    assert!(matches!(
        second().await,
        Err(TestError::Resil(resil::Error::BulkheadFull { .. }))
    ));
    drop(held);
    // Registering the other settings explicitly is an error that changes nothing.
    let explicit = registry().register_bulkhead(
        "conflicted",
        resil::BulkheadConfig::DEFAULT.max_concurrent(other),
    );
    assert!(matches!(explicit, Err(resil::ConfigError::Conflict { .. })));
    assert_eq!(max(), kept);
}

#[test]
fn unknown_names_and_invalid_settings_are_errors_not_panics() {
    let unknown = registry().retry("no-such-retry").unwrap_err();
    assert!(
        unknown
            .to_string()
            .contains("no retry named `no-such-retry`"),
        "{unknown}"
    );
    assert!(registry().force_closed("no-such-breaker").is_err());
    assert!(
        registry()
            .reset(PolicyKind::Bulkhead, "no-such-bulkhead")
            .is_err()
    );

    let invalid = registry()
        .register_circuit_breaker(
            "never-registered",
            resil::CircuitBreakerConfig::DEFAULT.failure_rate(2.0),
        )
        .unwrap_err();
    assert_eq!(
        invalid.to_string(),
        "circuit breaker `never-registered`: `failure_rate` must be in (0, 1], not 2"
    );
    assert!(
        registry().circuit_breaker("never-registered").is_err(),
        "nothing half-registered"
    );
}

#[tokio::test(start_paused = true)]
async fn the_snapshot_serializes_every_policy_for_a_health_endpoint() {
    #[retry(name = "snap-api", max = 2, initial = 1ms)]
    #[circuit_breaker(name = "snap-api", threshold = 1)]
    #[bulkhead(name = "snap-api", max = 5)]
    async fn call(outcome: Outcome) -> Result<u32, TestError> {
        outcome.into_result(0)
    }

    let _ = call(Outcome::Fail).await;
    let json = serde_json::to_value(registry().snapshot()).unwrap();
    let find = |kind: &str| {
        json[kind]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "snap-api")
            .cloned()
            .unwrap_or_else(|| panic!("snap-api missing from {kind}"))
    };
    let breaker = find("circuit_breakers");
    assert_eq!(breaker["state"], "open");
    assert_eq!(breaker["failures"], 1);
    assert_eq!(breaker["rejected"], 1);
    assert_eq!(breaker["config"]["open_for"], "1m");
    // Opened by the first attempt; the retry's jittered wait (at most 1ms)
    // passed before the second attempt was rejected.
    let half_open_in = breaker["half_open_in_ms"].as_u64().unwrap();
    assert!((59_999..=60_000).contains(&half_open_in), "{half_open_in}");
    let bulkhead = find("bulkheads");
    assert_eq!(bulkhead["in_flight"], 0);
    assert_eq!(bulkhead["config"]["max_concurrent"], 5);
    let retry = find("retries");
    assert_eq!(retry["retries"], 1);
    assert_eq!(retry["config"]["backoff"], "exponential");
}

#[tokio::test(start_paused = true)]
async fn state_changes_rejections_and_retries_are_published_as_events() {
    use resil::events::EventKind;
    use tokio::sync::broadcast::error::TryRecvError;

    #[retry(name = "evented", max = 2, initial = 1ms, jitter = none)]
    #[circuit_breaker(name = "evented", threshold = 1)]
    async fn call() -> Result<u32, TestError> {
        Err(TestError::Upstream(0))
    }

    // The event channel is shared with every test running at the same time
    // and keeps the last 1,024 events. If they pushed ours out (`Lagged`),
    // the round is void: start again from a closed breaker until one round
    // sees every event.
    for _round in 0..20 {
        registry()
            .reset(PolicyKind::CircuitBreaker, "evented")
            .unwrap();
        let mut events = resil::events::subscribe();
        let _ = call().await;
        let mut seen = Vec::new();
        let mut lagged = false;
        loop {
            match events.try_recv() {
                Ok(event) if event.policy == "evented" => {
                    seen.push((event.policy_kind, event.kind));
                }
                Ok(_) => {}
                Err(TryRecvError::Lagged(_)) => lagged = true,
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Closed) => panic!("the event channel closed"),
            }
        }
        if lagged {
            continue;
        }
        // Exactly these, in this order: the first attempt's failure opens
        // the breaker, the retry waits 1ms, the second attempt is rejected.
        // A rejection is not retried by default, so the retry ends there
        // without a `RetriesExhausted`.
        let [opened, retried, rejected] = &seen[..] else {
            panic!("expected 3 events, saw {seen:?}");
        };
        assert_eq!(
            opened,
            &(
                PolicyKind::CircuitBreaker,
                EventKind::StateChanged {
                    from: CircuitState::Closed,
                    to: CircuitState::Open
                }
            ),
            "{seen:?}"
        );
        assert_eq!(
            retried,
            &(
                PolicyKind::Retry,
                EventKind::Retry {
                    attempt: 1,
                    delay: Duration::from_millis(1)
                }
            ),
            "{seen:?}"
        );
        assert!(
            matches!(
                rejected,
                (
                    PolicyKind::CircuitBreaker,
                    EventKind::Rejected {
                        error: resil::Error::CircuitOpen { .. }
                    }
                )
            ),
            "{seen:?}"
        );
        return;
    }
    panic!("20 rounds in a row lost events to other tests' traffic");
}

#[tokio::test]
async fn unnamed_functions_of_one_path_each_get_a_policy_of_their_own() {
    mod a {
        #[resil::circuit_breaker(threshold = 1)]
        pub(crate) async fn same_name() -> Result<u32, crate::TestError> {
            Err(crate::TestError::Upstream(1))
        }
    }
    mod b {
        #[resil::circuit_breaker(threshold = 1)]
        pub(crate) async fn same_name() -> Result<u32, crate::TestError> {
            Ok(2)
        }
    }
    // Inner fns of one name in two test functions share a module path.
    async fn first() -> Result<u32, TestError> {
        #[circuit_breaker(threshold = 1)]
        async fn twin() -> Result<u32, TestError> {
            Err(TestError::Upstream(1))
        }
        twin().await
    }
    async fn second() -> Result<u32, TestError> {
        #[circuit_breaker(threshold = 1)]
        async fn twin() -> Result<u32, TestError> {
            Ok(2)
        }
        twin().await
    }

    let _ = a::same_name().await;
    assert_eq!(
        b::same_name().await,
        Ok(2),
        "different modules, different breakers"
    );
    let _ = first().await;
    assert_eq!(
        second().await,
        Ok(2),
        "one failing twin must not open the other's breaker"
    );
    // Both twins are registered at start-up, in the order the linker lists
    // them: one is `twin`, the other `twin#2`, and only the failing one opened.
    let path = "behaviour::registry::twin";
    let mut states = [
        registry().circuit_breaker(path).unwrap().state(),
        registry()
            .circuit_breaker(&format!("{path}#2"))
            .unwrap()
            .state(),
    ];
    states.sort_by_key(|state| state.as_str());
    assert_eq!(states, [CircuitState::Closed, CircuitState::Open]);
    assert!(
        registry()
            .conflicts()
            .iter()
            .all(|c| !c.to_string().contains("twin"))
    );
}
