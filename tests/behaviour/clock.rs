//! Paused test clocks drive every open breaker, whatever real time does and
//! whatever other runtimes in the process do (the coarse-clock shortcut of
//! the open path is only for deadlines set on the real clock).

use std::time::{Duration, Instant as StdInstant};

use resil::{CircuitBreaker, CircuitBreakerConfig, CircuitState};
use tokio::time::{Instant, advance};

/// Long enough that the coarse clock could settle a rejection (its margin
/// is 50 ms), short because each round waits for real time to catch up
/// with the paused clock, which the round moved this far ahead.
const OPEN_FOR: Duration = Duration::from_millis(80);
const ROUNDS: u32 = 20;

fn breaker(name: &'static str, open_for: Duration) -> CircuitBreaker {
    CircuitBreaker::new(
        name,
        CircuitBreakerConfig::DEFAULT
            .threshold(1)
            .success_threshold(1)
            .open_for(open_for),
    )
    .unwrap()
}

/// Opens `breaker` with one failure, checks it rejects, lets `open_for`
/// pass on the test's clock and checks the next call is a trial that closes
/// it again.
async fn open_then_wait_out(breaker: &CircuitBreaker, round: u32, wait: impl AsyncFnOnce()) {
    breaker.try_acquire().unwrap().failure();
    assert_eq!(breaker.state(), CircuitState::Open, "round {round}");
    let rejected = breaker.try_acquire().expect_err("an open breaker rejects");
    assert!(
        rejected
            .retry_after()
            .is_some_and(|wait| wait <= breaker.config().open_for),
        "{rejected:?}"
    );
    wait().await;
    let trial = breaker.try_acquire().unwrap_or_else(|error| {
        panic!("round {round}: still open after its timeout on the test's clock: {error}")
    });
    assert!(trial.is_trial());
    trial.success();
    assert_eq!(breaker.state(), CircuitState::Closed, "round {round}");
}

/// Moves the paused clock level with real time, a few microseconds ahead
/// (or, when it is already ahead, leaves it), and waits until real time
/// has nearly caught up: the moment at which a single bracketed reading
/// could take the paused clock for the real one.
async fn level_with_real_time(round: u32) {
    let lead = Duration::from_micros(u64::from(5 + round % 30));
    let behind = StdInstant::now().saturating_duration_since(Instant::now().into_std());
    if !behind.is_zero() {
        advance(behind + lead).await;
    }
    let target = Instant::now().into_std();
    let nearly = target - Duration::from_micros(1);
    if let Some(far) = nearly.checked_duration_since(StdInstant::now() + Duration::from_millis(1)) {
        std::thread::sleep(far);
    }
    while StdInstant::now() < nearly {
        std::hint::spin_loop();
    }
}

#[tokio::test(start_paused = true)]
async fn a_paused_clock_level_with_real_time_still_drives_an_open_breaker() {
    let breaker = breaker("clock-level-with-real-time", OPEN_FOR);
    // Reads the clock now, as earlier calls of a real test would (its
    // retries' backoffs, here a snapshot): the clock's epoch then lies
    // behind real time, where the paused clock is about to meet it.
    let _ = breaker.snapshot();
    for round in 0..ROUNDS {
        level_with_real_time(round).await;
        open_then_wait_out(&breaker, round, async || advance(OPEN_FOR).await).await;
    }
}

#[test]
fn paused_and_real_runtimes_in_one_process_each_keep_their_own_clock() {
    // Real time: a breaker opened for 120 ms (far enough for the coarse
    // clock to settle its first rejection) admits its trial once that much
    // real time has passed. (The one test here that must
    // wait in real time: it checks the real clock.)
    let real = std::thread::spawn(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_time()
            .build()
            .unwrap();
        runtime.block_on(async {
            let open_for = Duration::from_millis(120);
            let breaker = breaker("clock-real-runtime", open_for);
            for round in 0..10 {
                open_then_wait_out(&breaker, round, async || {
                    tokio::time::sleep(open_for + Duration::from_millis(1)).await;
                })
                .await;
            }
        });
    });
    // Paused time, at the same moment, in the same process: `advance`
    // alone reopens the way, round after round.
    let paused = std::thread::spawn(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        runtime.block_on(async {
            let breaker = breaker("clock-paused-runtime", OPEN_FOR);
            for round in 0..ROUNDS {
                level_with_real_time(round).await;
                open_then_wait_out(&breaker, round, async || advance(OPEN_FOR).await).await;
            }
        });
    });
    real.join().expect("real-time runtime");
    paused.join().expect("paused runtime");
}

#[tokio::test(start_paused = true)]
async fn a_time_window_left_idle_for_years_still_opens_the_breaker() {
    // Issue 16, defect 2: a 1 s window built, then idle for about 2.12
    // years, stopped counting failures.
    const YEAR: Duration = Duration::from_secs(365 * 24 * 3600);
    let config = CircuitBreakerConfig::DEFAULT
        .failure_rate(0.5)
        .time_window(Duration::from_secs(1))
        .min_calls(2)
        .threshold(u32::MAX);
    let breaker = CircuitBreaker::new("clock-idle-time-window", config).unwrap();
    advance(YEAR * 2 + YEAR / 8).await;
    for _ in 0..2 {
        breaker.try_acquire().unwrap().failure();
    }
    assert_eq!(breaker.state(), CircuitState::Open);
}
