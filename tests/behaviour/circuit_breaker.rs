//! Circuit breaker rules: thresholds, rate window, open/half-open timing,
//! trial limits, ignored errors, panics and cancellation.

use std::sync::Arc;
use std::time::Duration;

use resil::{CircuitState, circuit_breaker, registry};
use tokio::sync::Semaphore;
use tokio::time::advance;

use crate::{Calls, Outcome, TestError, settle};

fn state(name: &str) -> CircuitState {
    registry().circuit_breaker(name).unwrap().state()
}

fn is_open_rejection(result: &Result<u32, TestError>, name: &str) -> bool {
    matches!(result, Err(TestError::Resil(resil::Error::CircuitOpen { policy, .. })) if policy == name)
}

#[tokio::test(start_paused = true)]
async fn opens_after_threshold_consecutive_failures_and_rejects_without_running() {
    static CALLS: Calls = Calls::new();
    #[circuit_breaker(name = "cb-threshold", threshold = 3, timeout = 10s)]
    async fn call(outcome: Outcome) -> Result<u32, TestError> {
        outcome.into_result(CALLS.hit())
    }

    for _ in 0..2 {
        assert!(call(Outcome::Fail).await.is_err());
    }
    assert_eq!(state("cb-threshold"), CircuitState::Closed);
    assert_eq!(call(Outcome::Fail).await, Err(TestError::Upstream(3)));
    assert_eq!(state("cb-threshold"), CircuitState::Open);

    let rejected = call(Outcome::Ok).await;
    assert!(is_open_rejection(&rejected, "cb-threshold"), "{rejected:?}");
    assert_eq!(CALLS.get(), 3, "an open breaker must not run the body");
    match rejected {
        Err(TestError::Resil(error)) => {
            assert_eq!(error.retry_after(), Some(Duration::from_secs(10)));
            assert_eq!(error.http_status(), 503);
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn a_success_breaks_the_failure_streak() {
    #[circuit_breaker(name = "cb-streak", threshold = 3)]
    async fn call(outcome: Outcome) -> Result<u32, TestError> {
        outcome.into_result(0)
    }

    for outcome in [
        Outcome::Fail,
        Outcome::Fail,
        Outcome::Ok,
        Outcome::Fail,
        Outcome::Fail,
    ] {
        let _ = call(outcome).await;
    }
    assert_eq!(state("cb-streak"), CircuitState::Closed);
    let _ = call(Outcome::Fail).await;
    assert_eq!(state("cb-streak"), CircuitState::Open);
}

#[tokio::test(start_paused = true)]
async fn stays_open_until_the_timeout_then_lets_a_trial_through() {
    static CALLS: Calls = Calls::new();
    #[circuit_breaker(name = "cb-timeout", threshold = 1, timeout = 10s)]
    async fn call(outcome: Outcome) -> Result<u32, TestError> {
        outcome.into_result(CALLS.hit())
    }

    let _ = call(Outcome::Fail).await;
    advance(Duration::from_millis(4_000)).await;
    match call(Outcome::Ok).await {
        Err(TestError::Resil(error)) => {
            assert_eq!(error.retry_after(), Some(Duration::from_secs(6)))
        }
        other => panic!("expected a rejection, got {other:?}"),
    }
    advance(Duration::from_millis(5_999)).await;
    assert!(is_open_rejection(&call(Outcome::Ok).await, "cb-timeout"));
    advance(Duration::from_millis(1)).await;
    assert_eq!(call(Outcome::Ok).await, Ok(2));
    assert_eq!(state("cb-timeout"), CircuitState::HalfOpen);
}

#[tokio::test(start_paused = true)]
async fn success_threshold_trial_successes_close_it() {
    #[circuit_breaker(name = "cb-close", threshold = 1, timeout = 1s, success_threshold = 3)]
    async fn call(outcome: Outcome) -> Result<u32, TestError> {
        outcome.into_result(0)
    }

    let _ = call(Outcome::Fail).await;
    advance(Duration::from_secs(1)).await;
    for _ in 0..2 {
        assert!(call(Outcome::Ok).await.is_ok());
        assert_eq!(state("cb-close"), CircuitState::HalfOpen);
    }
    assert!(call(Outcome::Ok).await.is_ok());
    assert_eq!(state("cb-close"), CircuitState::Closed);
    // Closed again with a fresh streak: it takes `threshold` failures to open.
    let _ = call(Outcome::Fail).await;
    assert_eq!(state("cb-close"), CircuitState::Open);
}

#[tokio::test(start_paused = true)]
async fn a_failed_trial_reopens_and_restarts_the_timer() {
    #[circuit_breaker(name = "cb-reopen", threshold = 1, timeout = 10s)]
    async fn call(outcome: Outcome) -> Result<u32, TestError> {
        outcome.into_result(0)
    }

    let _ = call(Outcome::Fail).await;
    advance(Duration::from_secs(10)).await;
    assert_eq!(call(Outcome::Fail).await, Err(TestError::Upstream(0)));
    assert_eq!(state("cb-reopen"), CircuitState::Open);
    advance(Duration::from_millis(9_999)).await;
    assert!(is_open_rejection(&call(Outcome::Ok).await, "cb-reopen"));
    advance(Duration::from_millis(1)).await;
    assert!(call(Outcome::Ok).await.is_ok());
}

/// Real threads and real time: eight callers on four worker threads meet at
/// a barrier and race for the half-open breaker's two trial slots. Exactly
/// two get in (and stay in, held by a gate); the other six are rejected.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn half_open_lets_only_half_open_max_trials_run_at_once() {
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

    const CALLERS: usize = 8;
    static CALLS: Calls = Calls::new();
    #[circuit_breaker(name = "cb-trials", threshold = 1, timeout = 50ms, half_open_max = 2)]
    async fn call(gate: Arc<Semaphore>, outcome: Outcome) -> Result<u32, TestError> {
        let n = CALLS.hit();
        gate.acquire().await.unwrap().forget();
        outcome.into_result(n)
    }

    let _ = call(Arc::new(Semaphore::new(1)), Outcome::Fail).await;
    assert_eq!(state("cb-trials"), CircuitState::Open);
    tokio::time::sleep(Duration::from_millis(100)).await;

    let gate = Arc::new(Semaphore::new(0));
    let barrier = Arc::new(tokio::sync::Barrier::new(CALLERS));
    let rejected = Arc::new(AtomicUsize::new(0));
    let callers: Vec<_> = (0..CALLERS)
        .map(|_| {
            let (gate, barrier, rejected) = (gate.clone(), barrier.clone(), rejected.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                let result = call(gate, Outcome::Ok).await;
                if is_open_rejection(&result, "cb-trials") {
                    rejected.fetch_add(1, SeqCst);
                }
                result
            })
        })
        .collect();
    // The admitted trials wait at the gate; the rest come back at once.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    // Every caller either was rejected or started a trial (the first call
    // was the one that opened the breaker).
    let settled = || rejected.load(SeqCst) + CALLS.get() as usize > CALLERS;
    while !settled() {
        assert!(
            std::time::Instant::now() < deadline,
            "after 10s: {} rejected, {} trials started, of {CALLERS} callers",
            rejected.load(SeqCst),
            CALLS.get() - 1
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    assert_eq!(CALLS.get(), 1 + 2, "exactly two trials ran their body");
    assert_eq!(rejected.load(SeqCst), CALLERS - 2);
    assert_eq!(state("cb-trials"), CircuitState::HalfOpen);
    gate.add_permits(CALLERS);
    let mut admitted = 0;
    for caller in callers {
        let result = caller.await.unwrap();
        if !is_open_rejection(&result, "cb-trials") {
            assert!(result.is_ok(), "{result:?}");
            admitted += 1;
        }
    }
    assert_eq!(admitted, 2);
    assert_eq!(rejected.load(SeqCst), CALLERS - 2);
    assert_eq!(state("cb-trials"), CircuitState::Closed);
}

#[tokio::test(start_paused = true)]
async fn failure_rate_over_the_window_opens_once_min_calls_were_seen() {
    #[circuit_breaker(
        name = "cb-rate",
        threshold = 100,
        failure_rate = 0.5,
        window = 4,
        min_calls = 4
    )]
    async fn call(outcome: Outcome) -> Result<u32, TestError> {
        outcome.into_result(0)
    }

    // Three failures in three calls: 100%, but fewer than `min_calls`.
    for _ in 0..3 {
        let _ = call(Outcome::Fail).await;
    }
    assert_eq!(state("cb-rate"), CircuitState::Closed);
    // Fourth call succeeds: 3 of 4 failed, but a success never opens.
    let _ = call(Outcome::Ok).await;
    assert_eq!(state("cb-rate"), CircuitState::Closed);
    let _ = call(Outcome::Fail).await;
    assert_eq!(state("cb-rate"), CircuitState::Open);
}

#[tokio::test(start_paused = true)]
async fn the_rate_window_forgets_calls_older_than_its_size() {
    #[circuit_breaker(name = "cb-slide", threshold = 100, failure_rate = 0.5, window = 4)]
    async fn call(outcome: Outcome) -> Result<u32, TestError> {
        outcome.into_result(0)
    }

    use Outcome::{Fail, Ok};
    // Window after each call (newest last): the rate stays below 50% while
    // old failures slide out.
    for outcome in [Fail, Ok, Ok, Ok, Ok, Ok, Fail, Ok, Ok] {
        let _ = call(outcome).await;
        assert_eq!(state("cb-slide"), CircuitState::Closed);
    }
    // [Fail, Ok, Ok, Fail] = 50%.
    let _ = call(Fail).await;
    assert_eq!(state("cb-slide"), CircuitState::Open);
}

#[tokio::test(start_paused = true)]
async fn ignored_errors_do_not_count_as_failures() {
    #[circuit_breaker(name = "cb-ignore", threshold = 2, ignore = crate::is_validation)]
    async fn call(outcome: Outcome) -> Result<u32, TestError> {
        outcome.into_result(0)
    }

    for _ in 0..5 {
        assert_eq!(call(Outcome::Invalid).await, Err(TestError::Validation));
    }
    assert_eq!(state("cb-ignore"), CircuitState::Closed);
    let snapshot = registry().circuit_breaker("cb-ignore").unwrap().snapshot();
    assert_eq!((snapshot.ignored, snapshot.failures), (5, 0));
    // Ignored errors between two failures neither count nor break the run
    // of consecutive failures: the second failure opens the breaker.
    let _ = call(Outcome::Fail).await;
    for _ in 0..3 {
        assert_eq!(call(Outcome::Invalid).await, Err(TestError::Validation));
    }
    assert_eq!(state("cb-ignore"), CircuitState::Closed);
    let _ = call(Outcome::Fail).await;
    assert_eq!(state("cb-ignore"), CircuitState::Open);
    let snapshot = registry().circuit_breaker("cb-ignore").unwrap().snapshot();
    assert_eq!(
        (snapshot.ignored, snapshot.failures, snapshot.successes),
        (8, 2, 0)
    );
}

#[tokio::test(start_paused = true)]
async fn a_panicking_body_counts_as_a_failure_and_the_panic_propagates() {
    #[circuit_breaker(name = "cb-panic", threshold = 2)]
    async fn call(panic: bool) -> Result<u32, TestError> {
        if panic {
            panic!("body exploded");
        }
        Ok(1)
    }

    for _ in 0..2 {
        let joined = tokio::spawn(call(true)).await;
        let payload = joined.unwrap_err().into_panic();
        assert_eq!(payload.downcast_ref::<&str>(), Some(&"body exploded"));
    }
    assert_eq!(state("cb-panic"), CircuitState::Open);
    assert_eq!(
        registry()
            .circuit_breaker("cb-panic")
            .unwrap()
            .snapshot()
            .failures,
        2
    );
}

#[tokio::test(start_paused = true)]
async fn a_dropped_trial_gives_its_slot_back() {
    static CALLS: Calls = Calls::new();
    #[circuit_breaker(name = "cb-drop", threshold = 1, timeout = 1s)]
    async fn call(gate: Arc<Semaphore>, outcome: Outcome) -> Result<u32, TestError> {
        let n = CALLS.hit();
        gate.acquire().await.unwrap().forget();
        outcome.into_result(n)
    }

    let open_gate = Arc::new(Semaphore::new(100));
    let _ = call(open_gate.clone(), Outcome::Fail).await;
    advance(Duration::from_secs(1)).await;

    // The one trial hangs; the caller gives up on it.
    let hung = Arc::new(Semaphore::new(0));
    let timed_out = tokio::time::timeout(Duration::from_millis(50), call(hung, Outcome::Ok)).await;
    assert!(timed_out.is_err());
    assert_eq!(state("cb-drop"), CircuitState::HalfOpen);
    // The slot is free again: the next call is the trial, and it runs.
    assert_eq!(call(open_gate, Outcome::Ok).await, Ok(3));
    let snapshot = registry().circuit_breaker("cb-drop").unwrap().snapshot();
    assert_eq!(snapshot.failures, 1, "a cancelled call is not a failure");
}

#[tokio::test(start_paused = true)]
async fn a_late_result_from_before_the_breaker_opened_does_not_close_it() {
    #[circuit_breaker(name = "cb-late", threshold = 1, timeout = 1s, success_threshold = 1)]
    async fn call(gate: Arc<Semaphore>, outcome: Outcome) -> Result<u32, TestError> {
        gate.acquire().await.unwrap().forget();
        outcome.into_result(0)
    }

    let slow_gate = Arc::new(Semaphore::new(0));
    let slow = tokio::spawn(call(slow_gate.clone(), Outcome::Ok));
    settle().await;
    let _ = call(Arc::new(Semaphore::new(1)), Outcome::Fail).await;
    assert_eq!(state("cb-late"), CircuitState::Open);
    slow_gate.add_permits(1);
    assert!(slow.await.unwrap().is_ok());
    assert_eq!(
        state("cb-late"),
        CircuitState::Open,
        "only trials may close it"
    );
}

#[tokio::test(start_paused = true)]
async fn force_open_force_closed_and_reset() {
    static CALLS: Calls = Calls::new();
    #[circuit_breaker(name = "cb-force", threshold = 1)]
    async fn call(outcome: Outcome) -> Result<u32, TestError> {
        outcome.into_result(CALLS.hit())
    }

    // Known from start-up: it can be forced open before its first call.
    registry().force_open("cb-force").unwrap();
    assert!(is_open_rejection(&call(Outcome::Ok).await, "cb-force"));
    advance(Duration::from_secs(3600)).await;
    assert!(
        is_open_rejection(&call(Outcome::Ok).await, "cb-force"),
        "forced open ignores the timeout"
    );

    registry().force_closed("cb-force").unwrap();
    for _ in 0..5 {
        let _ = call(Outcome::Fail).await;
    }
    assert_eq!(state("cb-force"), CircuitState::ForcedClosed);

    registry()
        .reset(resil::PolicyKind::CircuitBreaker, "cb-force")
        .unwrap();
    assert_eq!(state("cb-force"), CircuitState::Closed);
    assert_eq!(
        registry()
            .circuit_breaker("cb-force")
            .unwrap()
            .snapshot()
            .calls,
        0
    );
    let _ = call(Outcome::Fail).await;
    assert_eq!(state("cb-force"), CircuitState::Open);
}

#[tokio::test(start_paused = true)]
async fn the_snapshot_counts_every_outcome() {
    #[circuit_breaker(name = "cb-counts", threshold = 3, ignore = crate::is_validation)]
    async fn call(outcome: Outcome) -> Result<u32, TestError> {
        outcome.into_result(0)
    }

    use Outcome::{Fail, Invalid, Ok};
    for outcome in [Ok, Ok, Invalid, Fail, Fail, Fail, Ok] {
        let _ = call(outcome).await;
    }
    let s = registry().circuit_breaker("cb-counts").unwrap().snapshot();
    assert_eq!(
        (s.successes, s.ignored, s.failures, s.rejected, s.calls),
        (2, 1, 3, 1, 7)
    );
    assert_eq!(s.state, CircuitState::Open);
    assert_eq!(s.half_open_in_ms, Some(60_000));
}

#[tokio::test(start_paused = true)]
async fn a_time_window_counts_the_calls_of_the_last_window_only() {
    #[circuit_breaker(name = "cb-time-window", failure_rate = 0.5, window = 64s, min_calls = 4,
                      threshold = 100)]
    async fn call(outcome: Outcome) -> Result<u32, TestError> {
        outcome.into_result(0)
    }

    // Three failures, spread out: not enough calls yet.
    for _ in 0..3 {
        let _ = call(Outcome::Fail).await;
        advance(Duration::from_secs(10)).await;
    }
    assert_eq!(state("cb-time-window"), CircuitState::Closed);
    // t = 30s. Two successes: 3 failed of 5, but the first failure (t = 0)
    // slides out of the window at t = 64s, so wait until then.
    let _ = call(Outcome::Ok).await;
    let _ = call(Outcome::Ok).await;
    advance(Duration::from_secs(35)).await;
    let window = registry()
        .circuit_breaker("cb-time-window")
        .unwrap()
        .snapshot();
    assert_eq!(
        window.window_calls,
        Some(4),
        "the call at t = 0 has left the window"
    );
    assert_eq!(window.failure_rate, Some(0.5));
    // t = 65s: 2 failed of 4 in the window. Two successes make it 2 of 6...
    let _ = call(Outcome::Ok).await;
    let _ = call(Outcome::Ok).await;
    assert_eq!(state("cb-time-window"), CircuitState::Closed);
    // ...and two more failures 4 of 8: half, so it opens.
    let _ = call(Outcome::Fail).await;
    assert_eq!(state("cb-time-window"), CircuitState::Closed, "3 of 7");
    let _ = call(Outcome::Fail).await;
    assert_eq!(state("cb-time-window"), CircuitState::Open);
}

#[tokio::test(start_paused = true)]
async fn failures_that_slid_out_of_the_time_window_do_not_open_it() {
    #[circuit_breaker(name = "cb-time-slide", failure_rate = 0.6, window = 10s, min_calls = 3,
                      threshold = 100)]
    async fn call(outcome: Outcome) -> Result<u32, TestError> {
        outcome.into_result(0)
    }

    let _ = call(Outcome::Fail).await;
    let _ = call(Outcome::Fail).await;
    // Long enough for both to leave the window.
    advance(Duration::from_secs(11)).await;
    let _ = call(Outcome::Ok).await;
    let _ = call(Outcome::Fail).await;
    let _ = call(Outcome::Ok).await;
    assert_eq!(state("cb-time-slide"), CircuitState::Closed, "1 of 3");
    // Without the slide it would be 3 of 5 = 0.6: the same calls, kept.
    let _ = call(Outcome::Fail).await;
    assert_eq!(state("cb-time-slide"), CircuitState::Closed, "2 of 4");
    let _ = call(Outcome::Fail).await;
    assert_eq!(state("cb-time-slide"), CircuitState::Open, "3 of 5");
}

#[tokio::test(start_paused = true)]
async fn slow_successes_open_the_breaker_at_slow_rate() {
    static CALLS: Calls = Calls::new();
    #[circuit_breaker(name = "cb-slow", slow_call = 2s, slow_rate = 0.5, window = 4)]
    async fn call(delay: Duration) -> Result<u32, TestError> {
        tokio::time::sleep(delay).await;
        Ok(CALLS.hit())
    }

    let quick = Duration::from_millis(100);
    let slow = Duration::from_millis(2_001);
    assert!(call(quick).await.is_ok());
    assert!(call(slow).await.is_ok());
    // Exactly the bound is not slower than it.
    assert!(call(Duration::from_secs(2)).await.is_ok());
    assert_eq!(state("cb-slow"), CircuitState::Closed);
    // The fourth call fills the window: 2 slow of 4.
    assert!(
        call(slow).await.is_ok(),
        "a slow call still returns its answer"
    );
    assert_eq!(state("cb-slow"), CircuitState::Open);
    let rejected = call(quick).await;
    assert!(is_open_rejection(&rejected, "cb-slow"), "{rejected:?}");
    let snapshot = registry().circuit_breaker("cb-slow").unwrap().snapshot();
    assert_eq!(
        (snapshot.successes, snapshot.failures, snapshot.slow_calls),
        (4, 0, 2)
    );
    assert_eq!(CALLS.get(), 4);
}

#[tokio::test(start_paused = true)]
async fn slow_calls_wait_for_min_calls_and_a_slow_trial_reopens() {
    #[circuit_breaker(name = "cb-slow-trial", slow_call = 1s, window = 60s, min_calls = 3,
                      timeout = 10s, success_threshold = 1)]
    async fn call(delay: Duration) -> Result<u32, TestError> {
        tokio::time::sleep(delay).await;
        Ok(0)
    }

    let slow = Duration::from_secs(2);
    // Every call slow (the default slow_rate is 1.0), but only the third
    // reaches min_calls.
    let _ = call(slow).await;
    let _ = call(slow).await;
    assert_eq!(state("cb-slow-trial"), CircuitState::Closed);
    let _ = call(slow).await;
    assert_eq!(state("cb-slow-trial"), CircuitState::Open);

    advance(Duration::from_secs(10)).await;
    // The trial answers, slowly: the dependency is not well yet.
    assert!(call(slow).await.is_ok());
    assert_eq!(state("cb-slow-trial"), CircuitState::Open);
    advance(Duration::from_secs(10)).await;
    assert!(call(Duration::from_millis(10)).await.is_ok());
    assert_eq!(state("cb-slow-trial"), CircuitState::Closed);
}

#[tokio::test(start_paused = true)]
async fn a_slow_failure_counts_as_slow_and_as_failed() {
    #[circuit_breaker(name = "cb-slow-fail", failure_rate = 1.0, slow_call = 1s, slow_rate = 1.0,
                      window = 2, threshold = 100)]
    async fn call(delay: Duration, outcome: Outcome) -> Result<u32, TestError> {
        tokio::time::sleep(delay).await;
        outcome.into_result(0)
    }

    let _ = call(Duration::from_secs(2), Outcome::Fail).await;
    let _ = call(Duration::from_secs(2), Outcome::Ok).await;
    let snapshot = registry()
        .circuit_breaker("cb-slow-fail")
        .unwrap()
        .snapshot();
    assert_eq!(snapshot.slow_call_rate, Some(1.0));
    assert_eq!(snapshot.failure_rate, Some(0.5));
    assert_eq!(
        state("cb-slow-fail"),
        CircuitState::Open,
        "every call in the window was slow"
    );
}
