//! The breaker's windows under concurrent outcomes: the time window's
//! epoch-tagged counters (one compare-and-swap each), the count window
//! with `failure_rate`, and slow calls, each with the breaker's decision
//! to open taken on what the window holds.

use std::sync::Arc;
use std::time::Duration;

use loom::thread;
use resil_runtime::{CircuitBreaker, CircuitBreakerConfig, CircuitPermit, CircuitState};

use crate::{check, check_long, in_runtime, paused_runtime};

/// Branches a time-window model may take (see `check_long`).
const TIME_WINDOW_BRANCHES: usize = 20_000;

fn breaker(config: CircuitBreakerConfig) -> Arc<CircuitBreaker> {
    Arc::new(
        CircuitBreaker::new(
            "loom-window",
            config
                .threshold(u32::MAX)
                .open_for(Duration::from_secs(3600)),
        )
        .unwrap(),
    )
}

/// Settles `permit` on a thread of its own: `failed` or succeeded.
fn settle_on_a_thread(permit: CircuitPermit<'static>, failed: bool) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        if failed {
            permit.failure()
        } else {
            permit.success()
        }
    })
}

/// Leaks the breaker so that its permits can move to other threads; one
/// small breaker per execution.
fn leak(breaker: Arc<CircuitBreaker>) -> &'static CircuitBreaker {
    let leaked: &'static Arc<CircuitBreaker> = Box::leak(Box::new(breaker));
    leaked
}

/// Two failures recorded at once in one slice of a time window: neither
/// count is lost (the slice's counter is one CAS-moved word), so the
/// second to record sees a rate of 1 over 2 calls and opens the breaker.
#[test]
fn time_window_counts_racing_failures_and_opens() {
    in_runtime(|| {
        check_long(1, TIME_WINDOW_BRANCHES, || {
            let breaker = leak(breaker(
                CircuitBreakerConfig::DEFAULT
                    .failure_rate(1.0)
                    .time_window(Duration::from_secs(64))
                    .min_calls(2),
            ));
            let (a, b) = (
                breaker.try_acquire().unwrap(),
                breaker.try_acquire().unwrap(),
            );
            let (a, b) = (settle_on_a_thread(a, true), settle_on_a_thread(b, true));
            a.join().unwrap();
            b.join().unwrap();
            let view = breaker.snapshot();
            assert_eq!((view.window_calls, view.failures), (Some(2), 2), "{view:?}");
            assert_eq!(view.state, CircuitState::Open, "{view:?}");
        });
    });
}

/// A failure and a success at once in a time window with `failure_rate`
/// 0.5 and `min_calls` 2: both are counted whatever the order; the breaker
/// opens exactly when the failure is recorded second (a success cannot
/// open it unless slow).
#[test]
fn time_window_failure_and_success_race() {
    in_runtime(|| {
        check_long(1, TIME_WINDOW_BRANCHES, || {
            let breaker = leak(breaker(
                CircuitBreakerConfig::DEFAULT
                    .failure_rate(0.5)
                    .time_window(Duration::from_secs(64))
                    .min_calls(2),
            ));
            let (a, b) = (
                breaker.try_acquire().unwrap(),
                breaker.try_acquire().unwrap(),
            );
            let (a, b) = (settle_on_a_thread(a, true), settle_on_a_thread(b, false));
            a.join().unwrap();
            b.join().unwrap();
            let view = breaker.snapshot();
            assert_eq!(view.window_calls, Some(2), "{view:?}");
            assert_eq!(view.failure_rate, Some(0.5), "{view:?}");
            assert!(
                matches!(view.state, CircuitState::Open | CircuitState::Closed),
                "{view:?}"
            );
        });
    });
}

/// The count window with `failure_rate`: two failures at once in a window
/// of two open the breaker, and `reset` racing them leaves it closed or,
/// if both failures land after the reset, open; never a window that
/// counts a call twice.
#[test]
fn count_window_failures_race_a_reset() {
    check(2, || {
        let breaker = leak(breaker(
            CircuitBreakerConfig::DEFAULT
                .failure_rate(1.0)
                .window(2)
                .min_calls(2),
        ));
        let (a, b) = (
            breaker.try_acquire().unwrap(),
            breaker.try_acquire().unwrap(),
        );
        let (a, b) = (settle_on_a_thread(a, true), settle_on_a_thread(b, true));
        breaker.reset();
        a.join().unwrap();
        b.join().unwrap();
        let view = breaker.snapshot();
        assert!(view.window_calls.unwrap() <= 2, "{view:?}");
        // Both permits are from before the reset: whatever they record,
        // they cannot open the fresh breaker.
        assert_eq!(view.state, CircuitState::Closed, "{view:?}");
    });
}

/// Slow calls: two calls that both took longer than `slow_call` settle at
/// once; both are counted slow, and the window holds two slow calls of
/// two. A `reset` racing them keeps the breaker closed: slow successes
/// from before a reset cannot open the fresh breaker.
///
/// Without the reset the breaker opens, but possibly one outcome late:
/// each outcome judges the count window as of its own slot (the calls up
/// to its index, the bits set so far), so when the later slot's outcome
/// counts before the earlier slot's bit is set, neither sees two slow
/// calls of two. Loom finds that interleaving; the next outcome then
/// opens the breaker, which is what this model checks. (Closing that gap
/// would cost every windowed outcome another atomic load.)
#[test]
fn slow_successes_open_the_breaker_unless_reset() {
    let runtime = Arc::new(paused_runtime());
    let _entered = runtime.enter();
    for reset in [false, true] {
        let runtime = Arc::clone(&runtime);
        check(2, move || {
            let breaker = leak(breaker(
                CircuitBreakerConfig::DEFAULT
                    .slow_call(Duration::from_millis(1))
                    .window(2)
                    .min_calls(2),
            ));
            let (a, b) = (
                breaker.try_acquire().unwrap(),
                breaker.try_acquire().unwrap(),
            );
            runtime.block_on(tokio::time::advance(Duration::from_millis(5)));
            let (a, b) = (settle_on_a_thread(a, false), settle_on_a_thread(b, false));
            if reset {
                breaker.reset();
            }
            a.join().unwrap();
            b.join().unwrap();
            let view = breaker.snapshot();
            if reset {
                assert_eq!(view.state, CircuitState::Closed, "{view:?}");
            } else {
                assert_eq!(view.slow_calls, 2, "{view:?}");
                assert_eq!(view.slow_call_rate, Some(1.0), "{view:?}");
                if view.state == CircuitState::Closed {
                    let late = breaker.try_acquire().unwrap();
                    runtime.block_on(tokio::time::advance(Duration::from_millis(5)));
                    late.success();
                }
                assert_eq!(breaker.state(), CircuitState::Open, "{view:?}");
            }
        });
    }
}
