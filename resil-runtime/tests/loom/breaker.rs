//! The breaker's state word: the OPEN -> HALF_OPEN race, trial slots,
//! failure streaks, operators' overrides, and `reset` and `reconfigure`
//! racing permits in flight.

use std::sync::Arc;
use std::time::Duration;

use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::thread;
use resil_runtime::{CircuitBreaker, CircuitBreakerConfig, CircuitState};

use crate::check;

/// A deadline that has passed by the time anyone reads it.
pub(crate) const INSTANT: Duration = Duration::from_nanos(1);

pub(crate) fn breaker(config: CircuitBreakerConfig) -> Arc<CircuitBreaker> {
    Arc::new(CircuitBreaker::new("loom-breaker", config.open_for(INSTANT)).unwrap())
}

/// Opens the breaker with one failure (its threshold is 1).
pub(crate) fn open(breaker: &CircuitBreaker) {
    breaker.try_acquire().unwrap().failure();
    assert_eq!(breaker.state(), CircuitState::Open);
}

/// With nothing in flight and the deadline passed, a call must get in: the
/// breaker is never stuck in a state it cannot leave.
pub(crate) fn assert_admits(breaker: &CircuitBreaker) {
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
                    .open_for(Duration::from_secs(3600)),
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

/// `reset` racing the failure of a permit issued before it: either the
/// failure opens the breaker and the reset closes it again, or the reset
/// comes first and the failure, from the period the reset ended, cannot
/// open the fresh breaker. Closed either way, and admitting.
#[test]
fn reset_racing_an_in_flight_failure_leaves_it_closed() {
    check(3, || {
        let breaker = breaker(CircuitBreakerConfig::DEFAULT.threshold(1));
        let permit = breaker.try_acquire().unwrap();
        let operator = {
            let breaker = Arc::clone(&breaker);
            thread::spawn(move || breaker.reset())
        };
        permit.failure();
        operator.join().unwrap();
        assert_eq!(breaker.state(), CircuitState::Closed);
        let view = breaker.snapshot();
        assert!(view.failures <= 1, "{view:?}");
        assert_eq!(view.consecutive_failures, 0, "{view:?}");
        assert_admits(&breaker);
    });
}

/// `reset` racing a half-open trial's outcome: a trial from the period the
/// reset ended neither closes nor re-opens what follows, nor frees a slot
/// it does not hold.
#[test]
fn reset_racing_an_in_flight_trial() {
    const OUTCOMES: [Outcome; 3] = [Outcome::Success, Outcome::Failure, Outcome::Cancel];
    for outcome in OUTCOMES {
        check(3, move || {
            let breaker = breaker(
                CircuitBreakerConfig::DEFAULT
                    .threshold(1)
                    .half_open_max(1)
                    .success_threshold(1),
            );
            open(&breaker);
            let trial = breaker.try_acquire().unwrap();
            assert!(trial.is_trial());
            let operator = {
                let breaker = Arc::clone(&breaker);
                thread::spawn(move || breaker.reset())
            };
            match outcome {
                Outcome::Success => trial.success(),
                Outcome::Failure => trial.failure(),
                _ => drop(trial),
            }
            operator.join().unwrap();
            assert_eq!(breaker.state(), CircuitState::Closed, "{outcome:?}");
            assert_admits(&breaker);
        });
    }
}

/// `reconfigure` lowering `half_open_max` while trial callers race for
/// slots: never more trials at once than the larger of the two limits,
/// and an idle breaker admits again afterwards.
#[test]
fn reconfigure_racing_trial_callers() {
    check(2, || {
        let breaker = breaker(
            CircuitBreakerConfig::DEFAULT
                .threshold(1)
                .half_open_max(2)
                .success_threshold(2),
        );
        open(&breaker);
        let trials = Arc::new(AtomicUsize::new(0));
        let callers: Vec<_> = [Outcome::Success, Outcome::Cancel]
            .into_iter()
            .map(|outcome| {
                let (breaker, trials) = (Arc::clone(&breaker), Arc::clone(&trials));
                thread::spawn(move || {
                    let Ok(permit) = breaker.try_acquire() else {
                        return;
                    };
                    if permit.is_trial() {
                        let now = trials.fetch_add(1, Ordering::SeqCst) + 1;
                        assert!(now <= 2, "{now} trials in flight, limits 2 then 1");
                        trials.fetch_sub(1, Ordering::SeqCst);
                    }
                    match outcome {
                        Outcome::Success => permit.success(),
                        _ => drop(permit),
                    }
                })
            })
            .collect();
        let lowered = breaker.config().half_open_max(1);
        breaker.reconfigure(lowered).unwrap();
        for caller in callers {
            caller.join().unwrap();
        }
        assert_eq!(breaker.config(), lowered);
        assert_eq!(trials.load(Ordering::SeqCst), 0);
        assert_admits(&breaker);
    });
}
