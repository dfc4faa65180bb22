//! Bulkhead rules: the concurrency cap, the bounded queue and its wait,
//! FIFO hand-off, and slots coming back however a call ends.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use resil::{bulkhead, registry};
use tokio::sync::Semaphore;

use crate::{Calls, TestError, settle};

fn full(result: &Result<u32, TestError>, name: &str) -> bool {
    matches!(result, Err(TestError::Resil(resil::Error::BulkheadFull { policy, .. })) if policy == name)
}

fn occupancy(name: &str) -> (u32, u32) {
    let bulkhead = registry().bulkhead(name).unwrap();
    (bulkhead.in_flight(), bulkhead.queued())
}

#[tokio::test(start_paused = true)]
async fn at_most_max_calls_run_and_the_rest_are_rejected_at_once() {
    static CALLS: Calls = Calls::new();
    #[bulkhead(name = "bh-cap", max = 2)]
    async fn call(gate: Arc<Semaphore>) -> Result<u32, TestError> {
        let n = CALLS.hit();
        gate.acquire().await.unwrap().forget();
        Ok(n)
    }

    let gate = Arc::new(Semaphore::new(0));
    let running: Vec<_> = (0..2).map(|_| tokio::spawn(call(gate.clone()))).collect();
    settle().await;
    assert_eq!(occupancy("bh-cap"), (2, 0));

    let started = tokio::time::Instant::now();
    let rejected = call(gate.clone()).await;
    assert!(full(&rejected, "bh-cap"), "{rejected:?}");
    assert_eq!(
        started.elapsed(),
        Duration::ZERO,
        "no queue means no waiting"
    );
    assert_eq!(CALLS.get(), 2);
    match rejected {
        Err(TestError::Resil(error)) => assert_eq!(error.http_status(), 429),
        other => panic!("{other:?}"),
    }

    gate.add_permits(2);
    for task in running {
        assert!(task.await.unwrap().is_ok());
    }
    assert_eq!(occupancy("bh-cap"), (0, 0));
    assert!(call(Arc::new(Semaphore::new(1))).await.is_ok());
}

#[tokio::test(start_paused = true)]
async fn queued_calls_wait_for_a_slot_and_run_in_arrival_order() {
    static ORDER: Mutex<Vec<u32>> = Mutex::new(Vec::new());
    #[bulkhead(name = "bh-fifo", max = 1, queue = 3, wait = 10s)]
    async fn call(id: u32, gate: Arc<Semaphore>) -> Result<u32, TestError> {
        ORDER.lock().unwrap().push(id);
        gate.acquire().await.unwrap().forget();
        Ok(id)
    }

    let gate = Arc::new(Semaphore::new(0));
    let mut tasks = Vec::new();
    for id in 0..4 {
        tasks.push(tokio::spawn(call(id, gate.clone())));
        settle().await;
    }
    assert_eq!(occupancy("bh-fifo"), (1, 3));
    // A fifth caller finds the queue full.
    assert!(full(&call(9, gate.clone()).await, "bh-fifo"));

    for released in 1..=4 {
        gate.add_permits(1);
        settle().await;
        assert_eq!(ORDER.lock().unwrap().len(), (released + 1).min(4) as usize);
    }
    for (id, task) in tasks.into_iter().enumerate() {
        assert_eq!(task.await.unwrap(), Ok(id as u32));
    }
    assert_eq!(*ORDER.lock().unwrap(), vec![0, 1, 2, 3]);
    let snapshot = registry().bulkhead("bh-fifo").unwrap().snapshot();
    assert_eq!(
        (
            snapshot.admitted,
            snapshot.admitted_after_wait,
            snapshot.rejected
        ),
        (4, 3, 1)
    );
}

#[tokio::test(start_paused = true)]
async fn a_queued_call_is_rejected_when_its_wait_runs_out() {
    #[bulkhead(name = "bh-wait", max = 1, queue = 1, wait = 2s)]
    async fn call(gate: Arc<Semaphore>) -> Result<u32, TestError> {
        gate.acquire().await.unwrap().forget();
        Ok(1)
    }

    let gate = Arc::new(Semaphore::new(0));
    let holder = tokio::spawn(call(gate.clone()));
    settle().await;
    let started = tokio::time::Instant::now();
    let waited = call(gate.clone()).await;
    assert!(full(&waited, "bh-wait"), "{waited:?}");
    assert_eq!(started.elapsed(), Duration::from_secs(2));
    assert_eq!(
        occupancy("bh-wait"),
        (1, 0),
        "the expired waiter left the queue"
    );
    let snapshot = registry().bulkhead("bh-wait").unwrap().snapshot();
    assert_eq!((snapshot.rejected, snapshot.timed_out), (1, 1));
    gate.add_permits(1);
    assert!(holder.await.unwrap().is_ok());
    assert_eq!(occupancy("bh-wait"), (0, 0));
}

#[tokio::test(start_paused = true)]
async fn cancelled_calls_give_back_their_slot_or_their_place_in_the_queue() {
    #[bulkhead(name = "bh-cancel", max = 1, queue = 1, wait = 60s)]
    async fn call(gate: Arc<Semaphore>) -> Result<u32, TestError> {
        gate.acquire().await.unwrap().forget();
        Ok(1)
    }

    let stuck = Arc::new(Semaphore::new(0));
    let running = tokio::spawn(call(stuck.clone()));
    settle().await;
    let queued = tokio::spawn(call(stuck.clone()));
    settle().await;
    assert_eq!(occupancy("bh-cancel"), (1, 1));

    queued.abort();
    settle().await;
    assert_eq!(occupancy("bh-cancel"), (1, 0));
    running.abort();
    settle().await;
    assert_eq!(occupancy("bh-cancel"), (0, 0));
    assert_eq!(call(Arc::new(Semaphore::new(1))).await, Ok(1));
}

#[tokio::test(start_paused = true)]
async fn a_slot_freed_while_callers_wait_goes_to_a_waiter_not_a_newcomer() {
    #[bulkhead(name = "bh-handoff", max = 1, queue = 1, wait = 60s)]
    async fn call(gate: Arc<Semaphore>) -> Result<u32, TestError> {
        gate.acquire().await.unwrap().forget();
        Ok(1)
    }

    let gate = Arc::new(Semaphore::new(0));
    let first = tokio::spawn(call(gate.clone()));
    settle().await;
    let waiter = tokio::spawn(call(gate.clone()));
    settle().await;
    gate.add_permits(1); // `first` finishes; its slot passes to `waiter`.
    assert!(first.await.unwrap().is_ok());
    // The slot is taken by the waiter even before it is polled again, so a
    // newcomer must queue rather than overtake.
    let bulkhead = registry().bulkhead("bh-handoff").unwrap();
    assert_eq!(bulkhead.in_flight(), 1);
    assert!(bulkhead.try_acquire().is_err());
    gate.add_permits(1);
    assert!(waiter.await.unwrap().is_ok());
    assert_eq!(occupancy("bh-handoff"), (0, 0));
}

#[tokio::test(start_paused = true)]
async fn a_panicking_call_gives_its_slot_back() {
    #[bulkhead(name = "bh-panic", max = 1)]
    async fn call(panic: bool) -> Result<u32, TestError> {
        assert!(!panic, "body exploded");
        Ok(1)
    }

    let payload = tokio::spawn(call(true)).await.unwrap_err().into_panic();
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"body exploded"));
    assert_eq!(occupancy("bh-panic"), (0, 0));
    assert_eq!(call(false).await, Ok(1));
}
