//! Model checks of the lock-free state machines under every interleaving
//! loom explores (bounded by a preemption bound so each model stays small).
//!
//! Run with:
//!
//! ```text
//! RUSTFLAGS="--cfg loom -C debug-assertions" \
//!     cargo test --release -p resil-runtime --test loom
//! ```
//!
//! `-C debug-assertions` keeps the runtime's own `debug_assert!`s armed in
//! the release build, so loom also checks the invariants they state.
//!
//! Time: the breaker reads `tokio::time::Instant`. Its models use a timeout
//! of one nanosecond, which rounds to zero microseconds, so an open breaker's
//! deadline has always passed when the next call looks at it: every model
//! exercises the OPEN -> HALF_OPEN race without sleeping. The bulkhead's slow
//! path creates a `tokio::time::timeout`, so its models run inside a paused
//! current-thread runtime (entered, never driven): the wait's timer is
//! registered but never fires, and the futures are polled by hand with a
//! no-op waker.
#![cfg(loom)]

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::thread;
use resil_runtime::{
    Bulkhead, BulkheadConfig, BulkheadPermit, CircuitBreaker, CircuitBreakerConfig, CircuitState,
};

/// Explores every interleaving with at most `bound` preemptions.
fn check(bound: usize, model: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = Some(bound);
    }
    builder.check(model);
}

/// A deadline that has passed by the time anyone reads it.
const INSTANT: Duration = Duration::from_nanos(1);

fn breaker(config: CircuitBreakerConfig) -> Arc<CircuitBreaker> {
    Arc::new(CircuitBreaker::new("loom-breaker", config.timeout(INSTANT)).unwrap())
}

/// Opens the breaker with one failure (its threshold is 1).
fn open(breaker: &CircuitBreaker) {
    breaker.try_acquire().unwrap().failure();
    assert_eq!(breaker.state(), CircuitState::Open);
}

/// With nothing in flight and the deadline passed, a call must get in: the
/// breaker is never stuck in a state it cannot leave.
fn assert_admits(breaker: &CircuitBreaker) {
    let permit = breaker
        .try_acquire()
        .unwrap_or_else(|e| panic!("idle breaker refused a call in {:?}: {e}", breaker.state()));
    permit.release();
}

#[derive(Clone, Copy, Debug)]
enum Outcome {
    Success,
    Failure,
    Ignored,
    Cancel,
}

/// Takes a permit and settles it, checking that no more than
/// `half_open_max` trials are ever in flight at once. Returns whether the
/// call was admitted.
fn call(breaker: &CircuitBreaker, trials: &AtomicUsize, outcome: Outcome) -> bool {
    let Ok(permit) = breaker.try_acquire() else {
        return false;
    };
    let trial = permit.is_trial();
    if trial {
        let now = trials.fetch_add(1, Ordering::SeqCst) + 1;
        let max = breaker.config().half_open_max as usize;
        assert!(now <= max, "{now} trials in flight, half_open_max {max}");
        // Leave the count before the slot is given back, so that the next
        // trial cannot be counted while this one still is.
        trials.fetch_sub(1, Ordering::SeqCst);
    }
    match outcome {
        Outcome::Success => permit.success(),
        Outcome::Failure => permit.failure(),
        Outcome::Ignored => permit.ignored(),
        Outcome::Cancel => drop(permit),
    }
    true
}

fn spawn_calls(
    breaker: &Arc<CircuitBreaker>,
    trials: &Arc<AtomicUsize>,
    outcomes: &'static [Outcome],
) -> thread::JoinHandle<usize> {
    let breaker = Arc::clone(breaker);
    let trials = Arc::clone(trials);
    thread::spawn(move || {
        outcomes
            .iter()
            .filter(|&&outcome| call(&breaker, &trials, outcome))
            .count()
    })
}

// ---------------------------------------------------------------- breaker

/// Two threads both see the open deadline pass: exactly one becomes the
/// trial (half_open_max 1), the other is rejected or, once the trial has
/// closed the breaker, admitted as a plain call.
#[test]
fn deadline_race_admits_exactly_one_trial() {
    check(3, || {
        let breaker = breaker(
            CircuitBreakerConfig::DEFAULT
                .threshold(1)
                .half_open_max(1)
                .success_threshold(1),
        );
        open(&breaker);
        let trials_granted = Arc::new(AtomicUsize::new(0));
        let handles: Vec<_> = (0..2)
            .map(|_| {
                let breaker = Arc::clone(&breaker);
                let granted = Arc::clone(&trials_granted);
                thread::spawn(move || match breaker.try_acquire() {
                    Ok(permit) => {
                        if permit.is_trial() {
                            granted.fetch_add(1, Ordering::SeqCst);
                        }
                        permit.success();
                    }
                    Err(rejection) => {
                        assert!(matches!(
                            rejection,
                            resil_runtime::Error::CircuitOpen { .. }
                        ));
                    }
                })
            })
            .collect();
        for handle in handles {
            handle.join().unwrap();
        }
        assert_eq!(trials_granted.load(Ordering::SeqCst), 1);
        assert_eq!(breaker.state(), CircuitState::Closed);
        let view = breaker.snapshot();
        assert_eq!(view.successes + view.rejected, 2);
        assert_eq!(view.failures, 1);
    });
}

/// Concurrent trial successes close the breaker once enough arrive, and
/// the trial limit holds throughout.
#[test]
fn concurrent_trial_successes_close_the_breaker() {
    check(3, || {
        let breaker = breaker(
            CircuitBreakerConfig::DEFAULT
                .threshold(1)
                .half_open_max(2)
                .success_threshold(2),
        );
        open(&breaker);
        let trials = Arc::new(AtomicUsize::new(0));
        let a = spawn_calls(&breaker, &trials, &[Outcome::Success]);
        let b = spawn_calls(&breaker, &trials, &[Outcome::Success]);
        let admitted = a.join().unwrap() + b.join().unwrap();
        assert_eq!(admitted, 2, "two trial slots for two callers");
        assert_eq!(breaker.state(), CircuitState::Closed);
        assert_eq!(breaker.snapshot().successes, 2);
    });
}

/// A trial failure re-opens the breaker whatever the order; a success from
/// the period it ended cannot close it afterwards.
#[test]
fn a_failed_trial_wins_over_a_concurrent_success() {
    check(3, || {
        let breaker = breaker(
            CircuitBreakerConfig::DEFAULT
                .threshold(1)
                .half_open_max(2)
                .success_threshold(2),
        );
        open(&breaker);
        let trials = Arc::new(AtomicUsize::new(0));
        let ok = spawn_calls(&breaker, &trials, &[Outcome::Success]);
        let bad = spawn_calls(&breaker, &trials, &[Outcome::Failure]);
        let admitted = ok.join().unwrap() + bad.join().unwrap();
        assert_eq!(
            admitted, 2,
            "two trial slots (or a fresh period) for two callers"
        );
        let view = breaker.snapshot();
        assert_eq!((view.successes, view.failures, view.rejected), (1, 2, 0));
        // Success first: one of two successes, then the failure re-opens.
        // Failure first: the success belongs to the ended period (or to the
        // next one, where it is again only one of two). Never closed.
        assert_ne!(breaker.state(), CircuitState::Closed, "{view:?}");
        assert_admits(&breaker);
    });
}

/// Trial slots given back by cancelled calls and ignored errors are never
/// lost and never handed out twice; after any mix of outcomes, an idle
/// breaker admits the next call.
#[test]
fn trial_slots_are_never_lost_or_doubled() {
    const A: &[Outcome] = &[Outcome::Cancel, Outcome::Success];
    const B: &[Outcome] = &[Outcome::Ignored, Outcome::Failure];
    check(2, || {
        let breaker = breaker(
            CircuitBreakerConfig::DEFAULT
                .threshold(1)
                .half_open_max(1)
                .success_threshold(1),
        );
        open(&breaker);
        let trials = Arc::new(AtomicUsize::new(0));
        let a = spawn_calls(&breaker, &trials, A);
        let b = spawn_calls(&breaker, &trials, B);
        a.join().unwrap();
        b.join().unwrap();
        assert_eq!(trials.load(Ordering::SeqCst), 0);
        assert_admits(&breaker);
    });
}

/// Three callers against two trial slots: never more than two trials at
/// once, and the breaker ends in a state it can leave.
#[test]
fn three_callers_never_exceed_two_trials() {
    const CANCEL_THEN_SUCCEED: &[Outcome] = &[Outcome::Cancel, Outcome::Success];
    const SUCCEED: &[Outcome] = &[Outcome::Success];
    const FAIL: &[Outcome] = &[Outcome::Failure];
    check(2, || {
        let breaker = breaker(
            CircuitBreakerConfig::DEFAULT
                .threshold(1)
                .half_open_max(2)
                .success_threshold(3),
        );
        open(&breaker);
        let trials = Arc::new(AtomicUsize::new(0));
        let handles = [
            spawn_calls(&breaker, &trials, CANCEL_THEN_SUCCEED),
            spawn_calls(&breaker, &trials, SUCCEED),
            spawn_calls(&breaker, &trials, FAIL),
        ];
        let admitted: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
        let view = breaker.snapshot();
        assert_eq!(admitted as u64 + view.rejected, 4);
        assert_eq!(trials.load(Ordering::SeqCst), 0);
        assert_admits(&breaker);
    });
}

/// Concurrent failures in the closed state open the breaker exactly when
/// the streak reaches the threshold; a success in between may break it.
#[test]
fn closed_failures_and_successes_race() {
    const FAIL: &[Outcome] = &[Outcome::Failure];
    const MIXED: &[Outcome] = &[Outcome::Success, Outcome::Failure];
    check(2, || {
        let breaker = Arc::new(
            CircuitBreaker::new(
                "loom-closed",
                CircuitBreakerConfig::DEFAULT
                    .threshold(2)
                    .timeout(Duration::from_secs(3600)),
            )
            .unwrap(),
        );
        let trials = Arc::new(AtomicUsize::new(0));
        let a = spawn_calls(&breaker, &trials, FAIL);
        let b = spawn_calls(&breaker, &trials, MIXED);
        let admitted = a.join().unwrap() + b.join().unwrap();
        let view = breaker.snapshot();
        assert_eq!(view.calls, 3);
        assert_eq!(admitted as u64, view.successes + view.failures);
        assert_eq!(view.failures, 2, "both failures ran: the first cannot open");
        // Open only if the two failures were consecutive; otherwise the
        // streak stands at one.
        match breaker.state() {
            CircuitState::Open => assert_eq!(view.consecutive_failures, 0),
            CircuitState::Closed => assert_eq!(view.consecutive_failures, 1),
            other => panic!("unexpected state {other:?}"),
        }
    });
}

/// `force_open` racing a closing trial: the operator's word wins.
#[test]
fn force_open_wins_over_a_concurrent_trial() {
    check(3, || {
        let breaker = breaker(
            CircuitBreakerConfig::DEFAULT
                .threshold(1)
                .half_open_max(1)
                .success_threshold(1),
        );
        open(&breaker);
        let trials = Arc::new(AtomicUsize::new(0));
        let caller = spawn_calls(&breaker, &trials, &[Outcome::Success]);
        let operator = {
            let breaker = Arc::clone(&breaker);
            thread::spawn(move || breaker.force_open())
        };
        caller.join().unwrap();
        operator.join().unwrap();
        assert_eq!(breaker.state(), CircuitState::ForcedOpen);
        breaker.reset();
        assert_admits(&breaker);
    });
}

// --------------------------------------------------------------- bulkhead

/// Builds a paused runtime once per test and enters it, so that the
/// bulkhead's slow path can create its timeout. The clock never moves.
fn in_runtime(model: impl FnOnce()) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    let _entered = runtime.enter();
    model();
}

fn bulkhead(max_concurrent: u32, queue: u32) -> Arc<Bulkhead> {
    Arc::new(
        Bulkhead::new(
            "loom-bulkhead",
            BulkheadConfig::DEFAULT
                .max_concurrent(max_concurrent)
                .queue(queue)
                .wait(Duration::from_secs(60)),
        )
        .unwrap(),
    )
}

type Acquire<'a> =
    Pin<Box<dyn Future<Output = Result<BulkheadPermit<'a>, resil_runtime::Error>> + 'a>>;

fn poll_once<'a>(
    future: &mut Acquire<'a>,
) -> Poll<Result<BulkheadPermit<'a>, resil_runtime::Error>> {
    future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
}

/// A caller that queues and keeps polling until it is admitted, then
/// leaves at once.
fn spawn_patient_waiter(bulkhead: &Arc<Bulkhead>) -> thread::JoinHandle<()> {
    let bulkhead = Arc::clone(bulkhead);
    thread::spawn(move || {
        let mut acquire: Acquire<'_> = Box::pin(bulkhead.acquire());
        loop {
            match poll_once(&mut acquire) {
                Poll::Ready(permit) => break drop(permit.expect("queued, not refused")),
                Poll::Pending => thread::yield_now(),
            }
        }
    })
}

fn assert_idle(bulkhead: &Bulkhead) {
    let view = bulkhead.snapshot();
    assert_eq!((view.in_flight, view.queued), (0, 0), "{view:?}");
    assert_eq!(view.available, bulkhead.config().max_concurrent);
    // And the slots really are there.
    let held: Vec<_> = (0..bulkhead.config().max_concurrent)
        .map(|_| bulkhead.try_acquire().expect("a free slot"))
        .collect();
    drop(held);
}

/// The fast path never lets more than `max_concurrent` run at once.
#[test]
fn fast_path_never_oversubscribes() {
    in_runtime(|| {
        check(3, || {
            let bulkhead = bulkhead(1, 0);
            let running = Arc::new(AtomicUsize::new(0));
            let handles: Vec<_> = (0..2)
                .map(|_| {
                    let bulkhead = Arc::clone(&bulkhead);
                    let running = Arc::clone(&running);
                    thread::spawn(move || {
                        if let Ok(permit) = bulkhead.try_acquire() {
                            assert_eq!(running.fetch_add(1, Ordering::SeqCst), 0);
                            running.fetch_sub(1, Ordering::SeqCst);
                            drop(permit);
                        }
                    })
                })
                .collect();
            for handle in handles {
                handle.join().unwrap();
            }
            let view = bulkhead.snapshot();
            assert_eq!(view.admitted + view.rejected, 2);
            assert!(view.admitted >= 1);
            assert_idle(&bulkhead);
        });
    });
}

/// A slot released while someone waits goes to the waiter: the waiter is
/// admitted and nothing is lost, whichever runs first.
#[test]
fn release_hands_the_slot_to_a_waiter() {
    in_runtime(|| {
        check(3, || {
            let bulkhead = bulkhead(1, 1);
            let held = bulkhead.try_acquire().unwrap();
            let waiter = spawn_patient_waiter(&bulkhead);
            drop(held);
            waiter.join().unwrap();
            assert_eq!(bulkhead.snapshot().admitted, 2);
            assert_idle(&bulkhead);
        });
    });
}

/// A waiter cancelled while the holder releases: either it left the queue
/// first (the slot goes back to the pool) or the slot was handed to it and
/// its drop passes it on. No slot is lost and no count is left behind.
#[test]
fn a_cancelled_waiter_never_loses_the_slot() {
    in_runtime(|| {
        check(3, || {
            let bulkhead = bulkhead(1, 1);
            let held = bulkhead.try_acquire().unwrap();
            let waiter = {
                let bulkhead = Arc::clone(&bulkhead);
                thread::spawn(move || {
                    let mut acquire: Acquire<'_> = Box::pin(bulkhead.acquire());
                    if let Poll::Ready(permit) = poll_once(&mut acquire) {
                        drop(permit.expect("queued, not refused"));
                    }
                    drop(acquire);
                })
            };
            drop(held);
            waiter.join().unwrap();
            assert_idle(&bulkhead);
        });
    });
}

/// Two waiters, one cancelled, one release: the slot reaches the waiter
/// that stays, exactly once.
#[test]
fn a_release_skips_a_cancelled_waiter() {
    in_runtime(|| {
        check(2, || {
            let bulkhead = bulkhead(1, 2);
            let held = bulkhead.try_acquire().unwrap();
            let patient = spawn_patient_waiter(&bulkhead);
            let impatient = {
                let bulkhead = Arc::clone(&bulkhead);
                thread::spawn(move || {
                    let mut acquire: Acquire<'_> = Box::pin(bulkhead.acquire());
                    if let Poll::Ready(permit) = poll_once(&mut acquire) {
                        drop(permit.expect("queued, not refused"));
                    }
                })
            };
            drop(held);
            patient.join().unwrap();
            impatient.join().unwrap();
            assert_idle(&bulkhead);
        });
    });
}

/// Two slots, one queue place, and every kind of caller at once: a holder
/// releasing, a caller that never waits, one that waits its turn and one
/// that gives up. Never more than two run; at the end all is free.
#[test]
fn mixed_callers_never_oversubscribe_or_leak() {
    in_runtime(|| {
        check(2, || {
            let bulkhead = bulkhead(2, 1);
            let running = Arc::new(AtomicUsize::new(0));
            let held = bulkhead.try_acquire().unwrap();
            running.fetch_add(1, Ordering::SeqCst);
            let enter = |running: &AtomicUsize| {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                assert!(now <= 2, "{now} calls running in a bulkhead of 2");
                running.fetch_sub(1, Ordering::SeqCst);
            };
            let eager = {
                let (bulkhead, running) = (Arc::clone(&bulkhead), Arc::clone(&running));
                thread::spawn(move || {
                    if let Ok(permit) = bulkhead.try_acquire() {
                        enter(&running);
                        drop(permit);
                    }
                })
            };
            let patient = {
                let (bulkhead, running) = (Arc::clone(&bulkhead), Arc::clone(&running));
                thread::spawn(move || {
                    let mut acquire: Acquire<'_> = Box::pin(bulkhead.acquire());
                    loop {
                        match poll_once(&mut acquire) {
                            Poll::Ready(Ok(permit)) => {
                                enter(&running);
                                break drop(permit);
                            }
                            Poll::Ready(Err(_full)) => break,
                            Poll::Pending => thread::yield_now(),
                        }
                    }
                })
            };
            let impatient = {
                let (bulkhead, running) = (Arc::clone(&bulkhead), Arc::clone(&running));
                thread::spawn(move || {
                    let mut acquire: Acquire<'_> = Box::pin(bulkhead.acquire());
                    match poll_once(&mut acquire) {
                        Poll::Ready(Ok(permit)) => {
                            enter(&running);
                            drop(permit);
                            false
                        }
                        Poll::Ready(Err(_full)) => false,
                        // Cancelled while queued: counted neither admitted
                        // nor rejected.
                        Poll::Pending => true,
                    }
                })
            };
            running.fetch_sub(1, Ordering::SeqCst);
            drop(held);
            eager.join().unwrap();
            patient.join().unwrap();
            let gave_up = impatient.join().unwrap();
            let view = bulkhead.snapshot();
            assert_eq!(
                view.admitted + view.rejected + u64::from(gave_up),
                4,
                "{view:?}"
            );
            assert_idle(&bulkhead);
        });
    });
}
