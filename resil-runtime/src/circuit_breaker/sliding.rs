//! The sliding window of recent calls a breaker with `failure_rate` or
//! `slow_call` keeps: a count window (`window.rs`) or a time window
//! (`time_window.rs`), behind one type so that the state machine records
//! and tallies without caring which; and the clock reading an outcome
//! shares between them.

use super::CircuitBreakerConfig;
use super::time_window::TimeWindow;
use super::window::{CountWindow, WindowTally};
use crate::clock;

/// The sliding window of recent calls.
#[derive(Debug)]
pub(super) enum Window {
    Count(CountWindow),
    Time(TimeWindow),
}

impl Window {
    pub(super) fn new(config: &CircuitBreakerConfig) -> Self {
        match config.time_window {
            Some(length) => Window::Time(TimeWindow::new(length)),
            None => Window::Count(CountWindow::new(config.window, config.slow_call.is_some())),
        }
    }

    /// Records a call; returns what the window holds if `evaluate`, or
    /// always for a count window, where it costs nothing more.
    pub(super) fn record(
        &self,
        now: &Now,
        failed: bool,
        slow: bool,
        evaluate: bool,
    ) -> Option<WindowTally> {
        match self {
            Window::Count(window) => Some(window.record(failed, slow)),
            Window::Time(window) => {
                let now = now.get();
                window.record(now, failed, slow);
                evaluate.then(|| window.tally(now))
            }
        }
    }

    pub(super) fn tally(&self) -> WindowTally {
        match self {
            Window::Count(window) => window.tally(),
            Window::Time(window) => window.tally(clock::now_nanos()),
        }
    }

    pub(super) fn reset(&self) {
        match self {
            Window::Count(window) => window.reset(),
            Window::Time(window) => window.reset(clock::now_nanos()),
        }
    }

    pub(super) fn heap_bytes(&self) -> usize {
        match self {
            Window::Count(window) => window.heap_bytes(),
            Window::Time(window) => window.heap_bytes(),
        }
    }
}

/// The clock, read at most once per outcome and only if needed.
pub(super) struct Now(std::cell::Cell<Option<i64>>);

impl Now {
    pub(super) fn new() -> Self {
        Self(std::cell::Cell::new(None))
    }

    pub(super) fn get(&self) -> i64 {
        match self.0.get() {
            Some(now) => now,
            None => {
                let now = clock::now_nanos();
                self.0.set(Some(now));
                now
            }
        }
    }
}
