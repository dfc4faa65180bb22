//! Watches the policies while the demo runs, for the table and the summary:
//! every circuit breaker transition from resil's event feed, with its time,
//! and the peak running and queued counts of each bulkhead, sampled often
//! enough to catch a burst.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use resil::CircuitState;
use resil::events::EventKind;
use tokio::sync::broadcast::error::RecvError;

/// A breaker changed state.
#[derive(Debug, Clone)]
pub(crate) struct Transition {
    /// When, from the demo's start.
    pub(crate) at: Duration,
    pub(crate) policy: String,
    pub(crate) from: CircuitState,
    pub(crate) to: CircuitState,
}

/// The most a bulkhead held at once.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Peak {
    pub(crate) running: u32,
    pub(crate) queued: u32,
}

/// What the watchers saw so far.
#[derive(Debug, Default)]
pub(crate) struct Watch {
    transitions: Mutex<Vec<Transition>>,
    peaks: Mutex<BTreeMap<String, Peak>>,
    /// Events the feed dropped because this watcher fell behind.
    pub(crate) missed_events: AtomicU64,
}

impl Watch {
    /// Every transition so far, oldest first.
    pub(crate) fn transitions(&self) -> Vec<Transition> {
        self.transitions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The peak of bulkhead `name` so far.
    pub(crate) fn peak(&self, name: &str) -> Peak {
        self.peaks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(name)
            .copied()
            .unwrap_or_default()
    }
}

/// Starts watching; `started` is the demo's start, as wall-clock time
/// because that is how events are stamped.
pub(crate) fn start(started: SystemTime) -> Arc<Watch> {
    let watch = Arc::new(Watch::default());

    // Subscribe before any call is made, so no transition is missed.
    let mut feed = resil::events::subscribe();
    let events = Arc::clone(&watch);
    tokio::spawn(async move {
        loop {
            match feed.recv().await {
                Ok(event) => {
                    if let EventKind::StateChanged { from, to } = event.kind {
                        let at = event.at.duration_since(started).unwrap_or_default();
                        events
                            .transitions
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .push(Transition {
                                at,
                                policy: event.policy.to_string(),
                                from,
                                to,
                            });
                    }
                }
                // Rejections are events too, hundreds a second during the
                // outage; if this task ever falls behind, say so in the
                // summary rather than silently miss a transition.
                Err(RecvError::Lagged(n)) => {
                    events.missed_events.fetch_add(n, Ordering::Relaxed);
                }
                Err(RecvError::Closed) => break,
            }
        }
    });

    let sampler = Arc::clone(&watch);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(10));
        loop {
            tick.tick().await;
            let bulkheads = resil::registry().snapshot().bulkheads;
            let mut peaks = sampler.peaks.lock().unwrap_or_else(PoisonError::into_inner);
            for b in bulkheads {
                let peak = peaks.entry(b.name.to_string()).or_default();
                peak.running = peak.running.max(b.in_flight);
                peak.queued = peak.queued.max(b.queued);
            }
        }
    });

    watch
}
