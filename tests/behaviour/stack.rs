//! Stacked attributes nest top-down: the first listed is the outermost.

use std::sync::Arc;
use std::time::Duration;

use resil::{CircuitState, bulkhead, circuit_breaker, registry, retry};
use tokio::sync::Semaphore;

use crate::{Calls, TestError, settle};

#[tokio::test(start_paused = true)]
async fn each_retry_attempt_passes_through_the_breaker_and_the_bulkhead() {
    static CALLS: Calls = Calls::new();
    #[retry(name = "stack-order", max = 3, initial = 1ms, jitter = none)]
    #[circuit_breaker(name = "stack-order", threshold = 10)]
    #[bulkhead(name = "stack-order", max = 1)]
    async fn call() -> Result<u32, TestError> {
        Err(TestError::Upstream(CALLS.hit()))
    }

    assert_eq!(call().await, Err(TestError::Upstream(3)));
    let breaker = registry()
        .circuit_breaker("stack-order")
        .unwrap()
        .snapshot();
    assert_eq!(breaker.failures, 3, "the breaker saw every attempt");
    let bulkhead = registry().bulkhead("stack-order").unwrap().snapshot();
    assert_eq!(bulkhead.admitted, 3, "the bulkhead admitted every attempt");
}

#[tokio::test(start_paused = true)]
async fn a_breaker_outside_the_retry_sees_one_call() {
    static CALLS: Calls = Calls::new();
    #[circuit_breaker(name = "stack-outer", threshold = 10)]
    #[retry(max = 3, initial = 1ms)]
    async fn call() -> Result<u32, TestError> {
        Err(TestError::Upstream(CALLS.hit()))
    }

    assert_eq!(call().await, Err(TestError::Upstream(3)));
    assert_eq!(
        registry()
            .circuit_breaker("stack-outer")
            .unwrap()
            .snapshot()
            .failures,
        1
    );
}

#[tokio::test(start_paused = true)]
async fn a_full_bulkhead_inside_a_breaker_is_not_a_breaker_failure() {
    #[circuit_breaker(name = "stack-bh", threshold = 1)]
    #[bulkhead(name = "stack-bh", max = 1)]
    async fn call(gate: Arc<Semaphore>) -> Result<u32, TestError> {
        gate.acquire().await.unwrap().forget();
        Ok(1)
    }

    let gate = Arc::new(Semaphore::new(0));
    let holder = tokio::spawn(call(gate.clone()));
    settle().await;
    let rejected = call(gate.clone()).await;
    assert!(matches!(
        rejected,
        Err(TestError::Resil(resil::Error::BulkheadFull { .. }))
    ));
    assert_eq!(
        registry().circuit_breaker("stack-bh").unwrap().state(),
        CircuitState::Closed
    );
    gate.add_permits(1);
    assert_eq!(holder.await.unwrap(), Ok(1));
}

#[tokio::test(start_paused = true)]
async fn the_breaker_opening_mid_retry_stops_the_retries() {
    static CALLS: Calls = Calls::new();
    #[retry(name = "stack-trip", max = 10, initial = 10ms, jitter = none)]
    #[circuit_breaker(name = "stack-trip", threshold = 2, timeout = 1s)]
    async fn call() -> Result<u32, TestError> {
        Err(TestError::Upstream(CALLS.hit()))
    }

    let started = tokio::time::Instant::now();
    let result = call().await;
    assert!(
        matches!(
            result,
            Err(TestError::Resil(resil::Error::CircuitOpen { .. }))
        ),
        "{result:?}"
    );
    assert_eq!(CALLS.get(), 2);
    assert_eq!(
        started.elapsed(),
        Duration::from_millis(30),
        "two backoffs, then the rejection ends it"
    );
}
