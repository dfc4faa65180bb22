//! Retry rules: attempt counts, each backoff and jitter kind, max_delay,
//! retry_if, rejections, and the last error coming back unchanged.

use std::sync::Mutex;
use std::time::Duration;

use resil::{circuit_breaker, registry, retry};
use tokio::time::Instant;

use crate::{Calls, Outcome, TestError};

const MS: Duration = Duration::from_millis(1);

/// Records when each attempt started, relative to the first.
struct Starts(Mutex<Vec<Instant>>);

impl Starts {
    const fn new() -> Self {
        Self(Mutex::new(Vec::new()))
    }

    fn mark(&self) {
        self.0.lock().unwrap().push(Instant::now());
    }

    /// The waits between consecutive attempts.
    fn gaps(&self) -> Vec<Duration> {
        let starts = self.0.lock().unwrap();
        starts.windows(2).map(|w| w[1] - w[0]).collect()
    }
}

#[tokio::test(start_paused = true)]
async fn max_counts_every_attempt_and_the_last_error_comes_back_unchanged() {
    static CALLS: Calls = Calls::new();
    #[retry(name = "rt-max", max = 4, jitter = none)]
    async fn call() -> Result<u32, TestError> {
        Err(TestError::Upstream(CALLS.hit()))
    }

    assert_eq!(call().await, Err(TestError::Upstream(4)));
    assert_eq!(CALLS.get(), 4);
    let s = registry().retry("rt-max").unwrap().snapshot();
    assert_eq!((s.calls, s.failed, s.exhausted, s.retries), (1, 1, 1, 3));
}

#[tokio::test(start_paused = true)]
async fn a_success_ends_the_attempts() {
    static CALLS: Calls = Calls::new();
    #[retry(name = "rt-success", max = 5)]
    async fn call() -> Result<u32, TestError> {
        let n = CALLS.hit();
        if n < 3 {
            Err(TestError::Upstream(n))
        } else {
            Ok(n)
        }
    }

    assert_eq!(call().await, Ok(3));
    assert_eq!(CALLS.get(), 3);
    let s = registry().retry("rt-success").unwrap().snapshot();
    assert_eq!((s.succeeded_after_retry, s.retries, s.failed), (1, 2, 0));
}

#[tokio::test(start_paused = true)]
async fn max_one_means_no_retry() {
    static CALLS: Calls = Calls::new();
    #[retry(max = 1)]
    async fn call() -> Result<u32, TestError> {
        Err(TestError::Upstream(CALLS.hit()))
    }
    assert_eq!(call().await, Err(TestError::Upstream(1)));
    assert_eq!(CALLS.get(), 1);
}

macro_rules! schedule_test {
    ($test:ident, $name:tt, [$($arg:tt)*], $expected:expr) => {
        #[tokio::test(start_paused = true)]
        async fn $test() {
            static STARTS: Starts = Starts::new();
            #[retry(name = $name, $($arg)*)]
            async fn call() -> Result<u32, TestError> {
                STARTS.mark();
                Err(TestError::Upstream(0))
            }
            let _ = call().await;
            let expected: Vec<Duration> = $expected.iter().map(|&ms: &u64| MS * ms as u32).collect();
            assert_eq!(STARTS.gaps(), expected);
        }
    };
}

schedule_test!(
    exponential_backoff_doubles,
    "rt-exp",
    [
        max = 5,
        backoff = exponential,
        initial = 100ms,
        jitter = none
    ],
    [100, 200, 400, 800]
);
schedule_test!(
    exponential_backoff_uses_the_multiplier,
    "rt-mult",
    [
        max = 4,
        backoff = exponential,
        initial = 10ms,
        multiplier = 3.0,
        jitter = none
    ],
    [10, 30, 90]
);
schedule_test!(
    linear_backoff_adds_initial,
    "rt-linear",
    [max = 5, backoff = linear, initial = 50ms, jitter = none],
    [50, 100, 150, 200]
);
schedule_test!(
    fibonacci_backoff_follows_the_sequence,
    "rt-fib",
    [max = 6, backoff = fibonacci, initial = 10ms, jitter = none],
    [10, 10, 20, 30, 50]
);
schedule_test!(
    constant_backoff_never_grows,
    "rt-const",
    [max = 4, backoff = constant, initial = 70ms, jitter = none],
    [70, 70, 70]
);
schedule_test!(
    max_delay_caps_the_wait,
    "rt-cap",
    [max = 6, initial = 100ms, max_delay = 300ms, jitter = none],
    [100, 200, 300, 300, 300]
);

macro_rules! jitter_test {
    ($test:ident, $jitter:ident, |$gap:ident, $base:ident, $prev:ident| $check:expr) => {
        #[tokio::test(start_paused = true)]
        async fn $test() {
            static STARTS: Starts = Starts::new();
            #[retry(max = 6, initial = 100ms, max_delay = 1s, jitter = $jitter)]
            async fn call() -> Result<u32, TestError> {
                STARTS.mark();
                Err(TestError::Upstream(0))
            }
            for _ in 0..20 {
                STARTS.0.lock().unwrap().clear();
                let _ = call().await;
                let mut $prev = Duration::ZERO;
                for (i, $gap) in STARTS.gaps().into_iter().enumerate() {
                    let $base = (MS * 100 * 2u32.pow(i as u32)).min(Duration::from_secs(1));
                    assert!(
                        $check,
                        "attempt {}: wait {:?} (base {:?}, previous {:?})",
                        i + 1,
                        $gap,
                        $base,
                        $prev
                    );
                    assert!(
                        $gap <= Duration::from_secs(1),
                        "above max_delay: {:?}",
                        $gap
                    );
                    $prev = $gap;
                }
            }
        }
    };
}

jitter_test!(
    full_jitter_waits_between_zero_and_the_backoff,
    full,
    |gap, base, _prev| gap <= base
);
jitter_test!(
    equal_jitter_waits_at_least_half_the_backoff,
    equal,
    |gap, base, _prev| gap >= base / 2 && gap <= base
);
jitter_test!(
    decorrelated_jitter_stays_between_initial_and_three_times_the_last_wait,
    decorrelated,
    |gap, _base, prev| {
        gap >= MS * 100 && gap <= (prev.max(MS * 100) * 3).min(Duration::from_secs(1))
    }
);

#[tokio::test(start_paused = true)]
async fn full_jitter_actually_varies_the_wait() {
    static STARTS: Starts = Starts::new();
    #[retry(max = 2, initial = 1s, max_delay = 1s, jitter = full)]
    async fn call() -> Result<u32, TestError> {
        STARTS.mark();
        Err(TestError::Upstream(0))
    }
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..10 {
        STARTS.0.lock().unwrap().clear();
        let _ = call().await;
        seen.insert(STARTS.gaps()[0]);
    }
    assert!(seen.len() > 1, "ten jittered waits were all {seen:?}");
}

#[tokio::test(start_paused = true)]
async fn retry_if_picks_what_is_retried() {
    static CALLS: Calls = Calls::new();
    fn transient(error: &TestError) -> bool {
        matches!(error, TestError::Upstream(_))
    }
    #[retry(name = "rt-if", max = 5, retry_if = transient)]
    async fn call(outcome: Outcome) -> Result<u32, TestError> {
        CALLS.hit();
        outcome.into_result(0)
    }

    assert_eq!(call(Outcome::Invalid).await, Err(TestError::Validation));
    assert_eq!(CALLS.get(), 1, "a non-retryable error returns at once");
    assert_eq!(call(Outcome::Fail).await, Err(TestError::Upstream(0)));
    assert_eq!(CALLS.get(), 6);
}

#[tokio::test(start_paused = true)]
async fn rejections_of_inner_policies_are_not_retried_by_default() {
    static CALLS: Calls = Calls::new();
    #[retry(name = "rt-reject", max = 3)]
    #[circuit_breaker(name = "rt-reject-cb", threshold = 1)]
    async fn call() -> Result<u32, TestError> {
        Err(TestError::Upstream(CALLS.hit()))
    }

    // The first attempt failed and opened the breaker; the second was
    // rejected, and that rejection, the last error, is returned as it is
    // instead of being retried.
    let first = call().await;
    assert!(
        matches!(
            first,
            Err(TestError::Resil(resil::Error::CircuitOpen { .. }))
        ),
        "{first:?}"
    );
    assert_eq!(CALLS.get(), 1);
    let s = registry().retry("rt-reject").unwrap().snapshot();
    assert_eq!(s.retries, 1);
    let rejected = call().await;
    assert!(matches!(
        rejected,
        Err(TestError::Resil(resil::Error::CircuitOpen { .. }))
    ));
    assert_eq!(registry().retry("rt-reject").unwrap().snapshot().retries, 1);
}

#[tokio::test(start_paused = true)]
async fn retry_rejections_opts_in_to_retrying_them() {
    static CALLS: Calls = Calls::new();
    #[retry(max = 3, initial = 2s, max_delay = 2s, jitter = none, retry_rejections = true)]
    #[circuit_breaker(name = "rt-reject-opt-cb", threshold = 1, timeout = 3s, success_threshold = 1)]
    async fn call() -> Result<u32, TestError> {
        match CALLS.hit() {
            1 => Err(TestError::Upstream(1)),
            n => Ok(n),
        }
    }

    // Attempt 1 fails and opens the breaker (3s); attempt 2 at 2s is
    // rejected; attempt 3 at 4s is the trial and succeeds.
    assert_eq!(call().await, Ok(2));
    assert_eq!(CALLS.get(), 2);
}

#[tokio::test(start_paused = true)]
async fn owned_borrowed_and_mut_self_arguments_survive_every_attempt() {
    struct Client {
        attempts: Vec<String>,
    }
    impl Client {
        #[retry(max = 3, initial = 1ms, jitter = none)]
        async fn send(&mut self, path: &str, body: String, id: u64) -> Result<usize, TestError> {
            self.attempts.push(format!("{path}:{body}:{id}"));
            if self.attempts.len() < 3 {
                return Err(TestError::Upstream(self.attempts.len() as u32));
            }
            let consumed: String = body; // moves the owned argument
            Ok(consumed.len())
        }
    }

    let mut client = Client {
        attempts: Vec::new(),
    };
    assert_eq!(client.send("/v1", "hello".to_owned(), 7).await, Ok(5));
    assert_eq!(client.attempts, vec!["/v1:hello:7"; 3]);
}

#[tokio::test(start_paused = true)]
async fn max_elapsed_schedules_no_wait_that_would_end_past_it() {
    static STARTS: Starts = Starts::new();
    #[retry(name = "rt-elapsed", max = 10, backoff = constant, initial = 100ms, jitter = none,
            max_elapsed = 350ms)]
    async fn call() -> Result<u32, TestError> {
        STARTS.mark();
        Err(TestError::Upstream(0))
    }

    let started = Instant::now();
    assert_eq!(call().await, Err(TestError::Upstream(0)));
    // Attempts at 0, 100, 200 and 300ms; a fifth would start at 400ms.
    assert_eq!(STARTS.gaps(), [MS * 100; 3]);
    assert_eq!(started.elapsed(), MS * 300, "no wait was scheduled past it");
    let s = registry().retry("rt-elapsed").unwrap().snapshot();
    assert_eq!(
        (s.failed, s.exhausted, s.deadline_reached, s.retries),
        (1, 0, 1, 3)
    );
}

#[tokio::test(start_paused = true)]
async fn max_elapsed_counts_the_time_attempts_take() {
    static CALLS: Calls = Calls::new();
    #[retry(max = 10, backoff = constant, initial = 10ms, jitter = none, max_elapsed = 400ms)]
    async fn call() -> Result<u32, TestError> {
        tokio::time::sleep(MS * 200).await;
        Err(TestError::Upstream(CALLS.hit()))
    }

    let started = Instant::now();
    // 0-200ms, wait, 210-410ms: past the deadline, so no third attempt.
    assert_eq!(call().await, Err(TestError::Upstream(2)));
    assert_eq!(started.elapsed(), MS * 410);
}

/// A server's `Retry-After`, as the body's error carries it.
fn server_retry_after(error: &TestError) -> Option<Duration> {
    match error {
        TestError::Upstream(seconds) => Some(Duration::from_secs(u64::from(*seconds))),
        _ => None,
    }
}

#[tokio::test(start_paused = true)]
async fn an_errors_retry_after_overrides_a_shorter_backoff_even_past_max_delay() {
    static STARTS: Starts = Starts::new();
    static CALLS: Calls = Calls::new();
    #[retry(max = 4, initial = 10ms, max_delay = 1s, jitter = none,
            retry_after = server_retry_after)]
    async fn call() -> Result<u32, TestError> {
        STARTS.mark();
        match CALLS.hit() {
            // "come back in 3s", then "in 0s", then success.
            1 => Err(TestError::Upstream(3)),
            2 => Err(TestError::Upstream(0)),
            n => Ok(n),
        }
    }

    assert_eq!(call().await, Ok(3));
    // 3s honoured beyond max_delay; a 0s hint does not shorten the 20ms backoff.
    assert_eq!(STARTS.gaps(), [Duration::from_secs(3), MS * 20]);
}

#[tokio::test(start_paused = true)]
async fn a_retry_after_that_would_end_past_max_elapsed_ends_the_retries() {
    static CALLS: Calls = Calls::new();
    #[retry(name = "rt-after-deadline", max = 5, initial = 10ms, max_elapsed = 2s,
            retry_after = server_retry_after)]
    async fn call() -> Result<u32, TestError> {
        CALLS.hit();
        Err(TestError::Upstream(5))
    }

    let started = Instant::now();
    // The caller gets the error, which still says when to come back.
    assert_eq!(call().await, Err(TestError::Upstream(5)));
    assert_eq!(CALLS.get(), 1);
    assert_eq!(started.elapsed(), Duration::ZERO);
    let s = registry().retry("rt-after-deadline").unwrap().snapshot();
    assert_eq!(s.deadline_reached, 1);
}

#[tokio::test(start_paused = true)]
async fn a_rejections_retry_after_is_honoured() {
    static CALLS: Calls = Calls::new();
    #[retry(max = 3, initial = 1ms, jitter = none, retry_rejections = true)]
    #[resil::rate_limit(name = "rt-limited", rate = 1, per = 2s)]
    async fn call() -> Result<u32, TestError> {
        Ok(CALLS.hit())
    }

    assert_eq!(call().await, Ok(1));
    let started = Instant::now();
    // Rate limited for 2s: the retry waits that long rather than 1ms.
    assert_eq!(call().await, Ok(2));
    assert_eq!(started.elapsed(), Duration::from_secs(2));
}
