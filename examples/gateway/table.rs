//! The live table, redrawn every second while the load runs: each policy's
//! state and counters from `resil::registry().snapshot()` beside what the
//! load generator saw on that route in the last second (see [`LEGEND`]).
//!
//! On a terminal each table replaces the last (ANSI clear); when stdout is
//! a pipe or a file (CI) the tables are printed one after another and only
//! the transitions new since the last table are listed, so the log reads
//! as a timeline.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use resil::{CircuitState, Snapshot};
use tokio::time::Instant;

use crate::load::{ROUTES, Recorder};
use crate::scenario::{Scenario, seconds};
use crate::watch::{Transition, Watch};

/// What the columns are, printed once above the tables.
pub(crate) const LEGEND: &str = "\
columns: the policy's breaker state, and the registry's counts since the start: breaker calls, failures
and rejections, retries, bulkhead slots running/max and queued/max, calls the bulkhead shed;
after the bar, the load generator's view of the route in the last second: answers by status, p50, p99
";

/// Prints a table every second until `until`; on a terminal, under
/// `banner`.
pub(crate) async fn run(
    scenario: &Scenario,
    banner: &str,
    started: Instant,
    until: Instant,
    recorder: &Recorder,
    watch: &Watch,
) {
    let tty = std::io::stdout().is_terminal();
    let mut shown_transitions = 0;
    let mut next = started + Duration::from_secs(1);
    while next <= until {
        tokio::time::sleep_until(next).await;
        let at = next - started;
        next += Duration::from_secs(1);
        let transitions = watch.transitions();
        let listed = if tty {
            // The screen is cleared each time: keep the last few in view.
            &transitions[transitions.len().saturating_sub(6)..]
        } else {
            &transitions[shown_transitions..]
        };
        let table = render(
            scenario,
            at,
            &resil::registry().snapshot(),
            recorder,
            listed,
        );
        shown_transitions = transitions.len();
        let mut out = std::io::stdout().lock();
        // Best effort: a closed stdout must not stop the demo.
        let _ = if tty {
            // Home, clear, and the banner again: its addresses stay in view.
            write!(out, "\x1b[H\x1b[2J{banner}\n{table}")
        } else {
            writeln!(out, "{table}")
        };
        let _ = out.flush();
    }
}

/// One table, as text.
pub(crate) fn render(
    scenario: &Scenario,
    at: Duration,
    snapshot: &Snapshot,
    recorder: &Recorder,
    transitions: &[Transition],
) -> String {
    let mut t = format!(
        "resil gateway  {} / {}  | {}\n",
        seconds(at),
        seconds(scenario.run_for),
        scenario.describe(at)
    );
    t += &format!(
        "{:<10} {:<9} {:>6} {:>5} {:>6} {:>7} {:>5} {:>5} {:>5} | {:>4} {:>4} {:>4} {:>4} {:>4} {:>6} {:>6}\n",
        "policy",
        "breaker",
        "calls",
        "fail",
        "reject",
        "retries",
        "run",
        "queue",
        "shed",
        "reqs",
        "2xx",
        "503",
        "429",
        "err",
        "p50",
        "p99",
    );
    for name in ROUTES {
        let breaker = snapshot.circuit_breakers.iter().find(|b| b.name == name);
        let bulkhead = snapshot.bulkheads.iter().find(|b| b.name == name);
        let retry = snapshot.retries.iter().find(|r| r.name == name);
        let last_second = recorder.stats(name, at.saturating_sub(Duration::from_secs(1))..at);
        let (state, calls, failures, rejected) = breaker.map_or(("-".to_owned(), 0, 0, 0), |b| {
            (state_label(b.state), b.calls, b.failures, b.rejected)
        });
        let (running, queued, shed) = bulkhead.map_or(("-".to_owned(), "-".to_owned(), 0), |b| {
            (
                format!("{}/{}", b.in_flight, b.config.max_concurrent),
                format!("{}/{}", b.queued, b.config.queue),
                b.rejected,
            )
        });
        t += &format!(
            "{:<10} {:<9} {:>6} {:>5} {:>6} {:>7} {:>5} {:>5} {:>5} | {:>4} {:>4} {:>4} {:>4} {:>4} {:>6} {:>6}\n",
            name,
            state,
            calls,
            failures,
            rejected,
            retry.map_or(0, |r| r.retries),
            running,
            queued,
            shed,
            last_second.requests,
            last_second.ok,
            last_second.open,
            last_second.shed,
            last_second.failed,
            millis(last_second.p50),
            millis(last_second.p99),
        );
    }
    for transition in transitions {
        t += &format!(
            "  {:>6}  breaker {}: {} -> {}\n",
            seconds(transition.at),
            transition.policy,
            transition.from,
            transition.to
        );
    }
    t
}

/// Open states in capitals, so they stand out.
pub(crate) fn state_label(state: CircuitState) -> String {
    match state {
        CircuitState::Closed | CircuitState::ForcedClosed => state.to_string(),
        _ => state.to_string().to_uppercase(),
    }
}

/// `0.8ms`, `12ms`, `1.25s`.
pub(crate) fn millis(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms < 10.0 {
        format!("{ms:.1}ms")
    } else if ms < 1000.0 {
        format!("{ms:.0}ms")
    } else {
        format!("{:.2}s", ms / 1000.0)
    }
}
