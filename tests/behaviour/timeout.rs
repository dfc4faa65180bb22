//! Timeout rules: the call is cancelled after the duration and fails with
//! `Error::Timeout`; below a retry it bounds each attempt, above it the
//! whole; a breaker above counts it as a failure.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use resil::{CircuitState, PolicyKind, circuit_breaker, registry, retry, timeout};
use tokio::time::{Instant, sleep};

use crate::{Calls, TestError};

const MS: Duration = Duration::from_millis(1);

fn is_timeout(result: &Result<u32, TestError>, name: &str, limit: Duration) -> bool {
    matches!(
        result,
        Err(TestError::Resil(resil::Error::Timeout { policy, after })) if policy == name && *after == limit
    )
}

#[tokio::test(start_paused = true)]
async fn a_slow_call_is_cancelled_after_the_duration() {
    static FINISHED: AtomicBool = AtomicBool::new(false);
    #[timeout(duration = 100ms, name = "to-basic")]
    async fn call(delay: Duration) -> Result<u32, TestError> {
        sleep(delay).await;
        FINISHED.store(true, Ordering::SeqCst);
        Ok(1)
    }

    assert_eq!(call(MS * 99).await, Ok(1));
    FINISHED.store(false, Ordering::SeqCst);

    let started = Instant::now();
    let result = call(Duration::from_secs(5)).await;
    assert!(is_timeout(&result, "to-basic", MS * 100), "{result:?}");
    assert_eq!(started.elapsed(), MS * 100, "it gave up at the limit");
    // The body was dropped: it never got past its sleep.
    sleep(Duration::from_secs(10)).await;
    assert!(!FINISHED.load(Ordering::SeqCst));

    let snapshot = registry().timeout("to-basic").unwrap().snapshot();
    assert_eq!((snapshot.calls, snapshot.timeouts), (2, 1));
    assert_eq!(snapshot.config.duration, MS * 100);
    if let Err(TestError::Resil(error)) = result {
        assert_eq!(error.http_status(), 504);
        assert_eq!(error.kind(), PolicyKind::Timeout);
    }
}

#[tokio::test(start_paused = true)]
async fn the_duration_may_be_written_alone() {
    #[timeout(2s)]
    async fn written_alone() -> Result<u32, TestError> {
        sleep(Duration::from_secs(3)).await;
        Ok(1)
    }

    let started = Instant::now();
    assert!(matches!(
        written_alone().await,
        Err(TestError::Resil(resil::Error::Timeout { after, .. })) if after == Duration::from_secs(2)
    ));
    assert_eq!(started.elapsed(), Duration::from_secs(2));
    // Every unnamed timeout in this file has a function name of its own, so
    // the name below is this function's policy and no other.
    let name = "behaviour::timeout::written_alone";
    assert!(
        registry()
            .policies()
            .iter()
            .any(|id| id.kind == PolicyKind::Timeout && id.name == name),
        "{:?}",
        registry().policies()
    );
    let snapshot = registry().timeout(name).unwrap().snapshot();
    assert_eq!(snapshot.config.duration, Duration::from_secs(2));
    assert_eq!((snapshot.calls, snapshot.timeouts), (1, 1));
}

#[tokio::test(start_paused = true)]
async fn below_a_retry_it_bounds_each_attempt() {
    static CALLS: Calls = Calls::new();
    #[retry(name = "to-each", max = 3, initial = 10ms, jitter = none)]
    #[timeout(100ms)]
    async fn each_attempt_bounded() -> Result<u32, TestError> {
        let n = CALLS.hit();
        if n < 3 {
            sleep(Duration::from_secs(60)).await;
        }
        Ok(n)
    }

    let started = Instant::now();
    assert_eq!(each_attempt_bounded().await, Ok(3));
    // 100ms cut, 10ms wait, 100ms cut, 20ms wait, then the quick third try.
    assert_eq!(started.elapsed(), MS * 230);
    assert_eq!(registry().retry("to-each").unwrap().snapshot().retries, 2);
}

#[tokio::test(start_paused = true)]
async fn above_a_retry_it_bounds_every_attempt_and_wait_together() {
    static CALLS: Calls = Calls::new();
    #[timeout(250ms)]
    #[retry(max = 10, backoff = constant, initial = 100ms, jitter = none)]
    async fn all_attempts_bounded() -> Result<u32, TestError> {
        Err(TestError::Upstream(CALLS.hit()))
    }

    let started = Instant::now();
    let result = all_attempts_bounded().await;
    assert!(
        matches!(result, Err(TestError::Resil(resil::Error::Timeout { .. }))),
        "{result:?}"
    );
    assert_eq!(started.elapsed(), MS * 250);
    assert_eq!(CALLS.get(), 3, "attempts at 0, 100 and 200ms");
}

#[tokio::test(start_paused = true)]
async fn a_breaker_above_counts_a_timeout_as_a_failure() {
    #[circuit_breaker(name = "to-breaker", threshold = 2)]
    #[timeout(50ms)]
    async fn under_a_breaker(delay: Duration) -> Result<u32, TestError> {
        sleep(delay).await;
        Ok(1)
    }

    assert!(under_a_breaker(Duration::from_secs(1)).await.is_err());
    assert_eq!(
        registry().circuit_breaker("to-breaker").unwrap().state(),
        CircuitState::Closed
    );
    assert!(under_a_breaker(Duration::from_secs(1)).await.is_err());
    let breaker = registry().circuit_breaker("to-breaker").unwrap();
    assert_eq!(breaker.state(), CircuitState::Open);
    assert_eq!(breaker.snapshot().failures, 2);
    assert!(matches!(
        under_a_breaker(MS).await,
        Err(TestError::Resil(resil::Error::CircuitOpen { .. }))
    ));
}

#[tokio::test(start_paused = true)]
async fn retry_if_sees_the_timeout_as_the_functions_own_error() {
    static CALLS: Calls = Calls::new();
    fn only_timeouts(error: &TestError) -> bool {
        matches!(error, TestError::Resil(resil::Error::Timeout { .. }))
    }
    #[retry(max = 5, initial = 1ms, retry_if = only_timeouts)]
    #[timeout(10ms)]
    async fn retried_on_timeout() -> Result<u32, TestError> {
        let n = CALLS.hit();
        if n == 1 {
            sleep(Duration::from_secs(1)).await;
        }
        Err(TestError::Upstream(n))
    }

    // The timeout is retried; the upstream error that follows is not.
    assert_eq!(retried_on_timeout().await, Err(TestError::Upstream(2)));
}
