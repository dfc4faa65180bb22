//! Policies declared once in code and named by path from attributes: shared
//! state, a base configuration to inherit from, and start-up registration
//! through the link-time list (also for `static`s inside function bodies
//! and generic functions).

use std::sync::Arc;
use std::time::Duration;

use resil::config::Layer;
use resil::{
    BulkheadConfig, CircuitBreakerConfig, CircuitState, DeclaredBulkhead, DeclaredCircuitBreaker,
    DeclaredRetry, PolicyKind, RetryConfig, bulkhead, circuit_breaker, registry, retry,
};
use tokio::sync::Semaphore;

use crate::{Calls, Outcome, TestError, settle};

/// Settings several declarations share and override.
const BASE: CircuitBreakerConfig = CircuitBreakerConfig::DEFAULT
    .open_for(Duration::from_secs(30))
    .success_threshold(1);

/// The policies of this module, declared in one place.
mod policies {
    use super::*;

    resil::policy! {
        /// Shared by `charge` and `refund`.
        pub(crate) static PAYMENTS: DeclaredCircuitBreaker =
            DeclaredCircuitBreaker::new("decl-payments", BASE.threshold(2));
        pub(crate) static LEDGER: DeclaredCircuitBreaker =
            DeclaredCircuitBreaker::new("decl-ledger", BASE.threshold(4));
        pub(crate) static RENDER: DeclaredBulkhead =
            DeclaredBulkhead::new("decl-render", BulkheadConfig::DEFAULT.max_concurrent(1));
        pub(crate) static FETCH: DeclaredRetry = DeclaredRetry::new(
            "decl-fetch",
            RetryConfig::DEFAULT
                .max_attempts(3)
                .initial(Duration::from_millis(10))
                .jitter(resil::Jitter::None),
        );
        /// Used by no attribute: `policy!` alone makes it known.
        pub(crate) static UNUSED: DeclaredBulkhead =
            DeclaredBulkhead::new("decl-unused", BulkheadConfig::DEFAULT.queue(3));
        /// Declared with settings an inline attribute of the same name
        /// contradicts: the declaration wins.
        pub(crate) static CONTESTED: DeclaredCircuitBreaker =
            DeclaredCircuitBreaker::new("decl-contested", CircuitBreakerConfig::DEFAULT.threshold(2));
    }
}

use policies::{CONTESTED, FETCH, LEDGER, PAYMENTS, RENDER};

#[circuit_breaker(PAYMENTS)]
async fn charge(outcome: Outcome) -> Result<u32, TestError> {
    outcome.into_result(1)
}

#[circuit_breaker(policies::PAYMENTS)]
async fn refund(outcome: Outcome) -> Result<u32, TestError> {
    outcome.into_result(2)
}

#[tokio::test(start_paused = true)]
async fn a_declared_policy_is_shared_by_every_function_that_names_it() {
    assert_eq!(charge(Outcome::Ok).await, Ok(1));
    let _ = charge(Outcome::Fail).await;
    let _ = refund(Outcome::Fail).await;
    // Two failures, one through each function: the shared breaker opened.
    assert_eq!(PAYMENTS.get().state(), CircuitState::Open);
    assert!(matches!(
        charge(Outcome::Ok).await,
        Err(TestError::Resil(resil::Error::CircuitOpen { policy, .. })) if policy == "decl-payments"
    ));
    assert!(matches!(
        refund(Outcome::Ok).await,
        Err(TestError::Resil(_))
    ));
    // The same breaker the registry holds under the declared name.
    let registered = registry().circuit_breaker("decl-payments").unwrap();
    assert!(std::ptr::eq(&*registered, PAYMENTS.get()));
    assert_eq!(registered.snapshot().rejected, 2);

    // The base's timeout, inherited: half-open after 30s, and the base's
    // `success_threshold` of 1 closes it on one trial.
    tokio::time::advance(Duration::from_secs(30)).await;
    assert_eq!(refund(Outcome::Ok).await, Ok(2));
    assert_eq!(PAYMENTS.get().state(), CircuitState::Closed);
}

#[test]
fn declarations_inherit_a_base_and_override_it() {
    assert_eq!(PAYMENTS.config(), BASE.threshold(2));
    assert_eq!(LEDGER.config(), BASE.threshold(4));
    assert_eq!(LEDGER.config().open_for, Duration::from_secs(30));
    assert_eq!(LEDGER.name(), "decl-ledger");
}

#[tokio::test(start_paused = true)]
async fn bulkheads_and_retries_are_declared_the_same_way() {
    static TRIES: Calls = Calls::new();

    #[bulkhead(RENDER)]
    async fn render(gate: Arc<Semaphore>) -> Result<u32, TestError> {
        gate.acquire().await.unwrap().forget();
        Ok(1)
    }

    #[retry(FETCH, retry_if = crate::is_validation)]
    async fn fetch() -> Result<u32, TestError> {
        TRIES.hit();
        Err(TestError::Validation)
    }

    let gate = Arc::new(Semaphore::new(0));
    let running = tokio::spawn(render(gate.clone()));
    settle().await;
    assert!(matches!(
        render(gate.clone()).await,
        Err(TestError::Resil(resil::Error::BulkheadFull {
            max_concurrent: 1,
            ..
        }))
    ));
    gate.add_permits(1);
    assert_eq!(running.await.unwrap(), Ok(1));

    // `retry_if` is the function's own and sits next to the path.
    assert_eq!(fetch().await, Err(TestError::Validation));
    assert_eq!(TRIES.get(), 3);
    assert_eq!(
        registry().retry("decl-fetch").unwrap().snapshot().exhausted,
        1
    );
}

// Sites that nothing calls in this test binary: inside a function body, and
// inside a generic function never instantiated.
#[allow(dead_code)]
async fn never_called() -> Result<u32, TestError> {
    #[bulkhead(name = "decl-inner-site", max = 7)]
    async fn inner() -> Result<u32, TestError> {
        Ok(1)
    }
    inner().await
}

#[allow(dead_code)]
#[retry(name = "decl-generic-site", max = 4)]
async fn generic_never_called<T: Clone + Send>(value: T) -> Result<T, TestError> {
    Ok(value)
}

/// An unnamed site of this file, so the check below does not lean on a
/// function some other test file happens to declare.
#[allow(dead_code)]
#[circuit_breaker(threshold = 3)]
#[bulkhead(max = 2)]
async fn unnamed_never_called() -> Result<u32, TestError> {
    Ok(1)
}

#[test]
fn every_policy_is_known_before_its_first_call() {
    let ids = registry().policies();
    let has =
        |kind: PolicyKind, name: &str| ids.iter().any(|id| id.kind == kind && id.name == name);
    assert!(has(PolicyKind::Bulkhead, "decl-unused"), "{ids:?}");
    assert!(has(PolicyKind::Bulkhead, "decl-inner-site"), "{ids:?}");
    assert!(has(PolicyKind::Retry, "decl-generic-site"), "{ids:?}");
    assert!(has(PolicyKind::CircuitBreaker, "decl-ledger"), "{ids:?}");
    // Unnamed sites too, under their function's path.
    let unnamed = "behaviour::declared::unnamed_never_called";
    assert!(has(PolicyKind::CircuitBreaker, unnamed), "{ids:?}");
    assert!(has(PolicyKind::Bulkhead, unnamed), "{ids:?}");

    // Their settings, before anything built them.
    let configuration = registry().configuration();
    let unused = configuration
        .iter()
        .find(|p| p.name == "decl-unused")
        .unwrap();
    let queue = unused.settings.iter().find(|s| s.key == "queue").unwrap();
    assert_eq!(
        (queue.value.to_string(), queue.layer),
        ("3".to_owned(), Layer::Code)
    );
    let inner = configuration
        .iter()
        .find(|p| p.name == "decl-inner-site")
        .unwrap();
    assert!(inner.to_string().contains("max_concurrent = 7"), "{inner}");
    // Listing built nothing.
    let snapshot = registry().snapshot();
    assert!(snapshot.bulkheads.iter().all(|b| b.name != "decl-unused"));
}

#[tokio::test]
async fn a_declaration_beats_an_inline_attribute_of_the_same_name() {
    #[circuit_breaker(name = "decl-contested", threshold = 9)]
    async fn inline() -> Result<u32, TestError> {
        Err(TestError::Upstream(0))
    }

    for _ in 0..2 {
        let _ = inline().await;
    }
    // The declaration's threshold of 2 is in force, whatever the order in
    // which the linker listed the two.
    assert_eq!(CONTESTED.get().state(), CircuitState::Open);
    assert_eq!(CONTESTED.get().config().threshold, 2);
    let conflict = registry()
        .conflicts()
        .into_iter()
        .find(|c| c.to_string().contains("decl-contested"))
        .expect("the conflict is reported");
    assert!(conflict.to_string().contains("threshold: 9"), "{conflict}");
}

#[tokio::test]
async fn a_path_keeps_the_functions_own_ignore() {
    resil::policy! {
        static STRICT: DeclaredCircuitBreaker =
            DeclaredCircuitBreaker::new("decl-strict", CircuitBreakerConfig::DEFAULT.threshold(1));
    }

    #[circuit_breaker(STRICT, ignore = crate::is_validation)]
    async fn validate(outcome: Outcome) -> Result<u32, TestError> {
        outcome.into_result(0)
    }

    for _ in 0..3 {
        assert_eq!(validate(Outcome::Invalid).await, Err(TestError::Validation));
    }
    assert_eq!(STRICT.get().state(), CircuitState::Closed);
    assert_eq!(STRICT.get().snapshot().ignored, 3);
}
