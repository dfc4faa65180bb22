//! What happens when: the run's length, the load, and the schedule of the
//! inventory outage and the reviews slowdown, in a normal and a short
//! (CI) version.
//!
//! The policies' own settings are in the attributes in `gateway.rs`, fixed
//! at compile time, so both versions use the same breaker timeout (2s) and
//! the short one only compresses the schedule around it.

use std::ops::Range;
use std::time::Duration;

/// The schedule of one run, as offsets from its start.
#[derive(Debug, Clone)]
pub(crate) struct Scenario {
    /// How long the load generator runs.
    pub(crate) run_for: Duration,
    /// Concurrent client tasks in the load generator.
    pub(crate) clients: usize,
    /// The inventory upstream answers 503 at once during this window.
    pub(crate) inventory_outage: Range<Duration>,
    /// The reviews upstream answers every call after `slow_latency` during
    /// this window.
    pub(crate) reviews_slowdown: Range<Duration>,
    /// How slow reviews is during its slowdown.
    pub(crate) slow_latency: Duration,
    /// Whether this is the short version.
    pub(crate) short: bool,
}

impl Scenario {
    /// About 45 seconds: a 10-second outage, then a 10-second slowdown.
    pub(crate) fn normal() -> Self {
        Self {
            run_for: secs(45.0),
            clients: 24,
            inventory_outage: secs(8.0)..secs(18.0),
            reviews_slowdown: secs(26.0)..secs(36.0),
            slow_latency: Duration::from_millis(500),
            short: false,
        }
    }

    /// About 12 seconds: long enough for the breaker (2s timeout) to open,
    /// fail a probe, and close after the outage.
    pub(crate) fn short() -> Self {
        Self {
            run_for: secs(12.0),
            clients: 24,
            inventory_outage: secs(1.5)..secs(4.5),
            reviews_slowdown: secs(7.5)..secs(10.5),
            slow_latency: Duration::from_millis(500),
            short: true,
        }
    }

    /// `--short` or `RESIL_DEMO_SHORT=1` (any value but empty or `0`) picks
    /// the short version.
    pub(crate) fn from_env() -> Self {
        let flag = std::env::args().skip(1).any(|arg| arg == "--short");
        let env = std::env::var("RESIL_DEMO_SHORT").is_ok_and(|v| !v.is_empty() && v != "0");
        if flag || env {
            Self::short()
        } else {
            Self::normal()
        }
    }

    /// What the upstreams are doing at `at`, for the table's header.
    pub(crate) fn describe(&self, at: Duration) -> String {
        let inventory = if self.inventory_outage.contains(&at) {
            format!(
                "inventory DOWN until {}",
                seconds(self.inventory_outage.end)
            )
        } else if at < self.inventory_outage.start {
            format!("inventory down at {}", seconds(self.inventory_outage.start))
        } else {
            "inventory back".to_owned()
        };
        let reviews = if self.reviews_slowdown.contains(&at) {
            format!(
                "reviews SLOW ({}ms a call) until {}",
                self.slow_latency.as_millis(),
                seconds(self.reviews_slowdown.end)
            )
        } else if at < self.reviews_slowdown.start {
            format!("reviews slow at {}", seconds(self.reviews_slowdown.start))
        } else {
            "reviews fast again".to_owned()
        };
        format!("{inventory}; {reviews}; pricing flaky throughout")
    }
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

/// `12.5s`.
pub(crate) fn seconds(at: Duration) -> String {
    format!("{:.1}s", at.as_secs_f64())
}
