//! The waiting side of the bulkhead: a queued caller's node and the future
//! that waits for a slot to be handed to it.

use crate::sync::AtomicBool;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};

use futures::task::AtomicWaker;

use super::{Bulkhead, BulkheadPermit, WAITING_ONE};

#[derive(Debug, Default)]
pub(super) struct Waiter {
    granted: AtomicBool,
    waker: AtomicWaker,
}

impl Waiter {
    /// Called with the slot already transferred to this waiter.
    pub(super) fn grant(&self) {
        self.granted.store(true, Ordering::Release);
        self.waker.wake();
    }
}

/// Waits for a slot. Dropped before it is granted one, it leaves the queue;
/// dropped after a slot was handed to it but before it returned the permit,
/// it passes the slot on, so no slot is ever lost.
pub(super) struct Wait<'a> {
    bulkhead: &'a Bulkhead,
    waiter: Arc<Waiter>,
    done: bool,
}

impl<'a> Wait<'a> {
    pub(super) fn new(bulkhead: &'a Bulkhead, waiter: Arc<Waiter>) -> Self {
        Self {
            bulkhead,
            waiter,
            done: false,
        }
    }
}

impl<'a> Future for Wait<'a> {
    type Output = BulkheadPermit<'a>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.waiter.waker.register(cx.waker());
        if self.waiter.granted.load(Ordering::Acquire) {
            self.done = true;
            Poll::Ready(BulkheadPermit::new(self.bulkhead))
        } else {
            Poll::Pending
        }
    }
}

impl Drop for Wait<'_> {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let mut waiters = self.bulkhead.lock_waiters();
        if let Some(position) = waiters.iter().position(|w| Arc::ptr_eq(w, &self.waiter)) {
            waiters.remove(position);
            self.bulkhead.state.fetch_sub(WAITING_ONE, Ordering::AcqRel);
            return;
        }
        drop(waiters);
        // Not in the queue any more, so a release popped us and handed us its
        // slot: the hand-over (pop and count) happens under the lock we just
        // held, but `granted` is set only after that lock is released, so it
        // may still read false here. Pass the slot on.
        self.bulkhead.release();
    }
}
