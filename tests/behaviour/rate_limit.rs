//! Rate limiter rules: a burst goes at once, then one call per interval;
//! over the limit a call waits up to `wait` for its turn or is rejected with
//! `RateLimited` and a `retry_after`; one name is one quota.

use std::time::Duration;

use resil::{PolicyKind, rate_limit, registry};
use tokio::time::{Instant, advance};

use crate::{Calls, TestError};

const MS: Duration = Duration::from_millis(1);

fn retry_after(result: &Result<u32, TestError>) -> Option<Duration> {
    match result {
        Err(TestError::Resil(error @ resil::Error::RateLimited { .. })) => error.retry_after(),
        _ => None,
    }
}

#[tokio::test(start_paused = true)]
async fn a_burst_goes_at_once_then_calls_are_rejected_with_retry_after() {
    static CALLS: Calls = Calls::new();
    #[rate_limit(name = "rl-burst", rate = 10, per = 1s, burst = 3)]
    async fn call() -> Result<u32, TestError> {
        Ok(CALLS.hit())
    }

    for n in 1..=3 {
        assert_eq!(call().await, Ok(n));
    }
    let rejected = call().await;
    assert_eq!(retry_after(&rejected), Some(MS * 100), "{rejected:?}");
    assert_eq!(CALLS.get(), 3, "a rejected call does not run the body");
    if let Err(TestError::Resil(error)) = &rejected {
        assert_eq!(error.http_status(), 429);
        assert_eq!(error.policy(), "rl-burst");
    }

    advance(MS * 40).await;
    assert_eq!(retry_after(&call().await), Some(MS * 60));
    advance(MS * 60).await;
    assert_eq!(call().await, Ok(4));
    // One interval buys one call, not a new burst.
    assert_eq!(retry_after(&call().await), Some(MS * 100));

    // A quiet spell refills the whole burst, and no more.
    advance(Duration::from_secs(10)).await;
    let limiter = registry().rate_limiter("rl-burst").unwrap();
    assert_eq!(limiter.available(), 3);
    for _ in 0..3 {
        assert!(call().await.is_ok());
    }
    assert!(retry_after(&call().await).is_some());
    let snapshot = limiter.snapshot();
    assert_eq!(
        (snapshot.admitted, snapshot.rejected, snapshot.calls),
        (7, 4, 11)
    );
}

#[tokio::test(start_paused = true)]
async fn the_burst_defaults_to_the_rate() {
    #[rate_limit(rate = 5, per = 1m)]
    async fn call() -> Result<u32, TestError> {
        Ok(1)
    }

    for _ in 0..5 {
        assert_eq!(call().await, Ok(1));
    }
    assert_eq!(retry_after(&call().await), Some(Duration::from_secs(12)));
}

#[tokio::test(start_paused = true)]
async fn a_call_waits_for_its_turn_up_to_the_bound() {
    #[rate_limit(name = "rl-wait", rate = 10, per = 1s, burst = 1, wait = 250ms)]
    async fn call(n: u32) -> Result<u32, TestError> {
        Ok(n)
    }

    let started = Instant::now();
    let timed = |n| async move {
        let result = call(n).await;
        (result, started.elapsed())
    };
    // Five callers at once: one goes, two wait 100ms and 200ms, and two
    // would wait 300ms or more, so they are rejected at once.
    let (a, b, c, d, e) = tokio::join!(timed(1), timed(2), timed(3), timed(4), timed(5));
    assert_eq!(a, (Ok(1), Duration::ZERO));
    assert_eq!(b, (Ok(2), MS * 100));
    assert_eq!(c, (Ok(3), MS * 200));
    assert_eq!(retry_after(&d.0), Some(MS * 300));
    assert_eq!(d.1, Duration::ZERO, "rejected without waiting");
    assert_eq!(retry_after(&e.0), Some(MS * 300));

    let snapshot = registry().rate_limiter("rl-wait").unwrap().snapshot();
    assert_eq!(snapshot.admitted_after_wait, 2);
    assert_eq!(snapshot.total_wait_ms, 300);
}

#[tokio::test(start_paused = true)]
async fn functions_that_name_one_rate_limiter_share_its_quota() {
    #[rate_limit(name = "rl-shared", rate = 2, per = 1s)]
    async fn read() -> Result<u32, TestError> {
        Ok(1)
    }
    #[rate_limit(name = "rl-shared", rate = 2, per = 1s)]
    async fn write() -> Result<u32, TestError> {
        Ok(2)
    }

    assert_eq!(read().await, Ok(1));
    assert_eq!(write().await, Ok(2));
    assert_eq!(retry_after(&read().await), Some(MS * 500));
    assert_eq!(retry_after(&write().await), Some(MS * 500));
    assert!(
        registry()
            .conflicts()
            .iter()
            .all(|c| !c.to_string().contains("rl-shared"))
    );
}

#[tokio::test(start_paused = true)]
async fn the_snapshot_and_the_policy_list_include_rate_limiters() {
    #[rate_limit(name = "rl-listed", rate = 3, per = 1s)]
    async fn call() -> Result<u32, TestError> {
        Ok(1)
    }

    assert_eq!(call().await, Ok(1));
    assert!(
        registry()
            .policies()
            .iter()
            .any(|id| id.kind == PolicyKind::RateLimiter && id.name == "rl-listed")
    );
    let json = serde_json::to_value(registry().snapshot()).unwrap();
    let listed = json["rate_limiters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "rl-listed")
        .expect("listed")
        .clone();
    assert_eq!(listed["admitted"], 1);
    assert_eq!(listed["available"], 2);
    assert_eq!(listed["config"]["per"], "1s");
}
