//! The bulkhead against a reference model: a running count and a FIFO of
//! waiters, waits and their timeouts included.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::task::Poll;

use proptest::prelude::*;
use resil_runtime::{Bulkhead, BulkheadConfig, BulkheadPermit, Error};

use crate::{CASES, MS, check, paused_runtime};

#[derive(Debug, Clone)]
enum BulkheadOp {
    TryAcquire,
    Acquire,
    Release(prop::sample::Index),
    PollWaiters,
    Cancel(prop::sample::Index),
    Advance(u64),
}

fn bulkhead_op() -> impl Strategy<Value = BulkheadOp> {
    prop_oneof![
        3 => Just(BulkheadOp::TryAcquire),
        5 => Just(BulkheadOp::Acquire),
        5 => any::<prop::sample::Index>().prop_map(BulkheadOp::Release),
        3 => Just(BulkheadOp::PollWaiters),
        1 => any::<prop::sample::Index>().prop_map(BulkheadOp::Cancel),
        2 => (0u64..=300).prop_map(BulkheadOp::Advance),
    ]
}

fn bulkhead_config() -> impl Strategy<Value = BulkheadConfig> {
    (1u32..=3, 0u32..=3, 1u64..=4).prop_map(|(max, queue, wait)| {
        BulkheadConfig::DEFAULT
            .max_concurrent(max)
            .queue(queue)
            .wait(MS * 50 * wait as u32)
    })
}

#[derive(Debug)]
struct ModelWaiter {
    id: u64,
    since_ms: u64,
    granted: bool,
}

/// The reference bulkhead: a running count and a FIFO of waiters; a slot
/// freed while someone waits goes to the oldest waiter.
#[derive(Debug, Default)]
struct BulkheadModel {
    max: u32,
    queue: u32,
    wait_ms: u64,
    now_ms: u64,
    running: u32,
    /// Waiters still in the queue (not granted).
    queued: VecDeque<u64>,
    /// Every pending future, in creation order.
    waiters: Vec<ModelWaiter>,
    next_id: u64,
    admitted: u64,
    admitted_after_wait: u64,
    rejected: u64,
    timed_out: u64,
    wait_ms_total: u64,
}

enum Admission {
    Now,
    Queued(u64),
    Refused,
}

impl BulkheadModel {
    fn new(config: BulkheadConfig) -> Self {
        Self {
            max: config.max_concurrent,
            queue: config.queue,
            wait_ms: config.wait.as_millis() as u64,
            ..Self::default()
        }
    }

    fn try_acquire(&mut self) -> bool {
        if self.queued.is_empty() && self.running < self.max {
            self.running += 1;
            self.admitted += 1;
            true
        } else {
            self.rejected += 1;
            false
        }
    }

    fn acquire(&mut self) -> Admission {
        if self.queued.is_empty() && self.running < self.max {
            self.running += 1;
            self.admitted += 1;
            Admission::Now
        } else if (self.queued.len() as u32) < self.queue {
            let id = self.next_id;
            self.next_id += 1;
            self.queued.push_back(id);
            self.waiters.push(ModelWaiter {
                id,
                since_ms: self.now_ms,
                granted: false,
            });
            Admission::Queued(id)
        } else {
            self.rejected += 1;
            Admission::Refused
        }
    }

    /// A slot comes free: to the oldest waiter, else back to the pool.
    fn release(&mut self) {
        match self.queued.pop_front() {
            Some(id) => {
                let waiter = self.waiters.iter_mut().find(|w| w.id == id).unwrap();
                waiter.granted = true;
            }
            None => self.running -= 1,
        }
    }

    /// What polling waiter `id` gives: `Some(true)` admitted, `Some(false)`
    /// timed out, `None` still waiting.
    fn poll(&mut self, id: u64) -> Option<bool> {
        let position = self.waiters.iter().position(|w| w.id == id).unwrap();
        let waiter = &self.waiters[position];
        let waited = self.now_ms - waiter.since_ms;
        if waiter.granted {
            self.waiters.remove(position);
            self.admitted += 1;
            self.admitted_after_wait += 1;
            self.wait_ms_total += waited;
            Some(true)
        } else if waited >= self.wait_ms {
            self.waiters.remove(position);
            self.queued.retain(|&q| q != id);
            self.rejected += 1;
            self.timed_out += 1;
            self.wait_ms_total += waited;
            Some(false)
        } else {
            None
        }
    }

    fn cancel(&mut self, id: u64) {
        let position = self.waiters.iter().position(|w| w.id == id).unwrap();
        let waiter = self.waiters.remove(position);
        if waiter.granted {
            // Handed a slot it never used: it passes the slot on.
            self.release();
        } else {
            self.queued.retain(|&q| q != id);
        }
    }

    fn check(&self, bulkhead: &Bulkhead, step: usize) {
        let view = bulkhead.snapshot();
        let context = format!("step {step}: model {self:?}\nreal {view:?}");
        assert_eq!(view.in_flight, self.running, "{context}");
        assert_eq!(view.queued as usize, self.queued.len(), "{context}");
        assert!(view.queued <= self.queue, "the queue is bounded: {context}");
        assert_eq!(view.available, self.max - self.running, "{context}");
        assert_eq!(
            (
                view.admitted,
                view.admitted_after_wait,
                view.rejected,
                view.timed_out
            ),
            (
                self.admitted,
                self.admitted_after_wait,
                self.rejected,
                self.timed_out
            ),
            "{context}"
        );
        assert_eq!(view.calls, self.admitted + self.rejected, "{context}");
        assert_eq!(view.total_wait_ms, self.wait_ms_total, "{context}");
    }
}

type Acquire<'a> = Pin<Box<dyn Future<Output = Result<BulkheadPermit<'a>, Error>> + 'a>>;

fn poll_once<'a>(future: &mut Acquire<'a>) -> Poll<Result<BulkheadPermit<'a>, Error>> {
    crate::poll_once(future.as_mut())
}

fn run_bulkhead(config: BulkheadConfig, ops: Vec<BulkheadOp>) {
    paused_runtime().block_on(async {
        let bulkhead = Bulkhead::new("model-bulkhead", config).unwrap();
        let mut model = BulkheadModel::new(config);
        let mut held: Vec<BulkheadPermit<'_>> = Vec::new();
        let mut pending: Vec<(u64, Acquire<'_>)> = Vec::new();
        for (step, op) in ops.into_iter().enumerate() {
            match op {
                BulkheadOp::TryAcquire => {
                    let real = bulkhead.try_acquire();
                    assert_eq!(real.is_ok(), model.try_acquire(), "step {step}");
                    held.extend(real.ok());
                }
                BulkheadOp::Acquire => {
                    let mut future: Acquire<'_> = Box::pin(bulkhead.acquire());
                    match (poll_once(&mut future), model.acquire()) {
                        (Poll::Ready(Ok(permit)), Admission::Now) => held.push(permit),
                        (Poll::Pending, Admission::Queued(id)) => pending.push((id, future)),
                        (Poll::Ready(Err(Error::BulkheadFull { .. })), Admission::Refused) => {}
                        (real, _) => panic!("step {step}: real {:?}, model {model:?}", real.map(|r| r.is_ok())),
                    }
                }
                BulkheadOp::Release(index) => {
                    if !held.is_empty() {
                        drop(held.swap_remove(index.index(held.len())));
                        model.release();
                    }
                }
                BulkheadOp::PollWaiters => {
                    let mut still = Vec::new();
                    for (id, mut future) in pending.drain(..) {
                        match (poll_once(&mut future), model.poll(id)) {
                            (Poll::Ready(Ok(permit)), Some(true)) => held.push(permit),
                            (Poll::Ready(Err(Error::BulkheadFull { .. })), Some(false)) => {}
                            (Poll::Pending, None) => still.push((id, future)),
                            (real, expected) => panic!(
                                "step {step}: waiter {id}: real {:?}, model {expected:?}, {model:?}",
                                real.map(|r| r.is_ok())
                            ),
                        }
                    }
                    pending = still;
                }
                BulkheadOp::Cancel(index) => {
                    if !pending.is_empty() {
                        let (id, future) = pending.remove(index.index(pending.len()));
                        drop(future);
                        model.cancel(id);
                    }
                }
                BulkheadOp::Advance(ms) => {
                    tokio::time::advance(MS * ms as u32).await;
                    model.now_ms += ms;
                }
            }
            model.check(&bulkhead, step);
        }
        // Give everything back: nothing may be left running or queued.
        drop(pending);
        drop(held);
        let view = bulkhead.snapshot();
        assert_eq!((view.in_flight, view.queued), (0, 0), "{view:?}");
    });
}

/// The bulkhead agrees with the reference model step by step, waits and
/// their timeouts included.
#[test]
fn bulkhead_matches_the_model() {
    check(
        file!(),
        CASES,
        (
            bulkhead_config(),
            prop::collection::vec(bulkhead_op(), 1..120),
        ),
        |(config, ops)| {
            run_bulkhead(config, ops);
            Ok(())
        },
    );
}
