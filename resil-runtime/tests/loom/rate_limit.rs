//! The rate limiter's TAT: one word moved by compare-and-swap, by callers
//! taking turns, waiters reserving and handing turns back, `reset` and
//! `reconfigure`. The clock is frozen (see `in_runtime`), so a turn once
//! taken stays taken for the whole model.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use loom::thread;
use resil_runtime::{Error, RateLimiter, RateLimiterConfig};

use crate::{check, in_runtime, poll_once};

const HOUR: Duration = Duration::from_secs(3600);

/// One turn an hour, bursts of `burst`, waits of up to `wait`.
fn limiter(burst: u32, wait: Duration) -> Arc<RateLimiter> {
    Arc::new(
        RateLimiter::new(
            "loom-limiter",
            RateLimiterConfig::DEFAULT
                .rate(1)
                .per(HOUR)
                .burst(burst)
                .wait(wait),
        )
        .unwrap(),
    )
}

fn retry_after(result: Result<(), Error>) -> Duration {
    match result {
        Err(Error::RateLimited { retry_after, .. }) => retry_after,
        other => panic!("expected a rejection, got {other:?}"),
    }
}

type Acquire<'a> = Pin<Box<dyn Future<Output = Result<(), Error>> + 'a>>;

/// Callers racing for a burst of two: exactly two get in, whatever the
/// order of their compare-and-swaps, and the counts say so.
#[test]
fn racing_callers_never_exceed_the_burst() {
    in_runtime(|| {
        check(3, || {
            let limiter = limiter(2, Duration::ZERO);
            let callers: Vec<_> = (0..3)
                .map(|_| {
                    let limiter = Arc::clone(&limiter);
                    thread::spawn(move || limiter.try_acquire().is_ok())
                })
                .collect();
            let admitted = callers
                .into_iter()
                .map(|caller| caller.join().unwrap())
                .filter(|&ok| ok)
                .count();
            assert_eq!(admitted, 2);
            let view = limiter.snapshot();
            assert_eq!((view.admitted, view.rejected, view.available), (2, 1, 0));
        });
    });
}

/// A waiter that reserves a turn and is cancelled, racing a caller that
/// takes a turn: the cancelled turn comes back only if no one took one
/// after it, so the next caller waits exactly one or two hours, never
/// less (one call too many) and never more than the turns really taken.
#[test]
fn a_cancelled_wait_races_a_caller() {
    in_runtime(|| {
        check(3, || {
            let limiter = limiter(1, 10 * HOUR);
            limiter.try_acquire().unwrap();
            let waiter = {
                let limiter = Arc::clone(&limiter);
                thread::spawn(move || {
                    let mut acquire: Acquire<'_> = Box::pin(limiter.acquire());
                    assert!(poll_once(acquire.as_mut()).is_pending());
                })
            };
            let caller = {
                let limiter = Arc::clone(&limiter);
                thread::spawn(move || {
                    let mut acquire: Acquire<'_> = Box::pin(limiter.acquire());
                    let pending = poll_once(acquire.as_mut()).is_pending();
                    // Keep the reservation: the turn is this caller's.
                    std::mem::forget(acquire);
                    pending
                })
            };
            waiter.join().unwrap();
            assert!(caller.join().unwrap(), "the caller waits its turn");
            let next = retry_after(limiter.try_acquire());
            assert!(
                next == 2 * HOUR || next == 3 * HOUR,
                "the next turn is {next:?} away"
            );
        });
    });
}

/// `reset` racing a waiter that is cancelled, and a caller after the
/// reset that takes two turns (the second reserved): a wait reserved
/// before the reset must not hand back the later caller's reservation,
/// even though it stored the very same TAT. Every turn held since the
/// reset (the caller's two, and the waiter's if it got in at once after
/// the reset) pushes the next turn an hour further out.
#[test]
fn reset_racing_a_cancelled_wait_gives_back_no_later_turn() {
    in_runtime(|| {
        check(2, || {
            let limiter = limiter(1, 10 * HOUR);
            limiter.try_acquire().unwrap();
            let waiter = {
                let limiter = Arc::clone(&limiter);
                thread::spawn(move || {
                    let mut acquire: Acquire<'_> = Box::pin(limiter.acquire());
                    // Admitted at once only after the reset; a pending
                    // wait is cancelled here.
                    poll_once(acquire.as_mut()).is_ready()
                })
            };
            let operator = {
                let limiter = Arc::clone(&limiter);
                thread::spawn(move || {
                    limiter.reset();
                    for _ in 0..2 {
                        let mut acquire: Acquire<'_> = Box::pin(limiter.acquire());
                        let _ = poll_once(acquire.as_mut());
                        // Keep the turn, whether taken or reserved.
                        std::mem::forget(acquire);
                    }
                })
            };
            let waiter_holds = u32::from(waiter.join().unwrap());
            operator.join().unwrap();
            let next = retry_after(limiter.try_acquire());
            assert!(
                next >= HOUR * (2 + waiter_holds),
                "a turn taken after the reset was given back: next turn in {next:?}"
            );
        });
    });
}

/// `reconfigure` raising the burst while callers race: each caller's turn
/// is judged under the old settings or the new, never a mix that lets
/// more through than the new burst allows.
#[test]
fn reconfigure_racing_callers() {
    in_runtime(|| {
        check(2, || {
            let limiter = limiter(1, Duration::ZERO);
            let callers: Vec<_> = (0..2)
                .map(|_| {
                    let limiter = Arc::clone(&limiter);
                    thread::spawn(move || limiter.try_acquire().is_ok())
                })
                .collect();
            limiter.reconfigure(limiter.config().burst(2)).unwrap();
            let admitted = callers
                .into_iter()
                .map(|caller| caller.join().unwrap())
                .filter(|&ok| ok)
                .count();
            assert!((1..=2).contains(&admitted), "{admitted} admitted");
            // What is left is what the new burst leaves.
            let left = 2 - admitted;
            assert_eq!(limiter.snapshot().available as usize, left);
        });
    });
}
