//! Stacked attributes nest top-down: the first listed is the outermost.

use std::sync::Arc;
use std::time::Duration;

use resil::{CircuitState, bulkhead, circuit_breaker, fallback, registry, retry, timeout};
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

/// A refusal below a timeout comes out of the timeout's future still
/// marked as one: the breaker above counts nothing.
#[tokio::test(start_paused = true)]
async fn a_refusal_below_a_timeout_is_still_nobodys_failure() {
    #[circuit_breaker(name = "stack-bh-timeout", threshold = 1)]
    #[timeout(5s)]
    #[bulkhead(name = "stack-bh-timeout", max = 1)]
    async fn call(gate: Arc<Semaphore>) -> Result<u32, TestError> {
        gate.acquire().await.unwrap().forget();
        Ok(1)
    }

    let gate = Arc::new(Semaphore::new(0));
    let holder = tokio::spawn(call(gate.clone()));
    settle().await;
    let rejected = call(gate.clone()).await;
    assert!(
        matches!(
            rejected,
            Err(TestError::Resil(resil::Error::BulkheadFull { .. }))
        ),
        "{rejected:?}"
    );
    let breaker = registry().circuit_breaker("stack-bh-timeout").unwrap();
    assert_eq!(breaker.state(), CircuitState::Closed);
    let view = breaker.snapshot();
    assert_eq!((view.failures, view.successes, view.ignored), (0, 0, 0));
    gate.add_permits(1);
    assert_eq!(holder.await.unwrap(), Ok(1));
    assert_eq!(breaker.snapshot().successes, 1);
}

/// ... and a retry above sees it as a refusal: not retried unless
/// `retry_rejections`, and a fallback `on = rejections` answers it.
#[tokio::test(start_paused = true)]
async fn a_refusal_below_a_timeout_reaches_the_retry_and_the_fallback_as_one() {
    static CALLS: Calls = Calls::new();
    #[fallback(refused, on = rejections)]
    #[retry(name = "stack-bh-timeout-retry", max = 3, initial = 1ms, jitter = none)]
    #[timeout(5s)]
    #[bulkhead(name = "stack-bh-timeout-retry", max = 1)]
    async fn call(gate: Arc<Semaphore>) -> Result<u32, TestError> {
        CALLS.hit();
        gate.acquire().await.unwrap().forget();
        Ok(1)
    }
    async fn refused(_gate: Arc<Semaphore>, error: TestError) -> Result<u32, TestError> {
        assert!(
            matches!(error, TestError::Resil(resil::Error::BulkheadFull { .. })),
            "{error:?}"
        );
        Ok(99)
    }

    let gate = Arc::new(Semaphore::new(0));
    let holder = tokio::spawn(call(gate.clone()));
    settle().await;
    assert_eq!(CALLS.get(), 1);
    assert_eq!(call(gate.clone()).await, Ok(99), "the fallback answered");
    assert_eq!(CALLS.get(), 1, "the refused call never reached the body");
    let retry = registry()
        .retry("stack-bh-timeout-retry")
        .unwrap()
        .snapshot();
    assert_eq!(retry.retries, 0, "a refusal is not retried by default");
    gate.add_permits(1);
    assert_eq!(holder.await.unwrap(), Ok(1));
}
