//! The bulkhead: its fast path, hand-over of a released slot to a waiter,
//! and waiters cancelled while the slot is handed to them.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::thread;
use resil_runtime::{Bulkhead, BulkheadConfig, BulkheadPermit};

use crate::{check, in_runtime};

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
    crate::poll_once(future.as_mut())
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
