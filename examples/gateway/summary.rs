//! The end of the run: one scrape of the gateway's own `/health` and
//! `/metrics`, then a summary of what each policy did, with the numbers
//! from the registry's snapshot and the load generator, and a check of each
//! claim. The demo exits non-zero if any check fails, so CI notices when it
//! stops showing what it says it shows.

use std::ops::Range;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::http::StatusCode;
use resil::{CircuitState, Snapshot};
use serde_json::Value;

use crate::client::HttpClient;
use crate::load::{ROUTES, Recorder, Stats};
use crate::scenario::{Scenario, seconds};
use crate::table::{millis, state_label};
use crate::upstream::Upstream;
use crate::watch::{Transition, Watch};

/// What `/health` and `/metrics` answered.
#[derive(Debug)]
pub(crate) struct Scrape {
    pub(crate) health: Result<(StatusCode, Value), String>,
    pub(crate) metrics: Result<(StatusCode, String), String>,
}

/// Fetches the gateway's `/health` and `/metrics` once.
pub(crate) async fn scrape(gateway: &str) -> Scrape {
    let client = HttpClient::new(Duration::from_secs(5));
    let health = match client.get(&format!("{gateway}/health")).await {
        Ok(reply) => serde_json::from_slice(&reply.body)
            .map(|json| (reply.status, json))
            .map_err(|e| format!("not JSON: {e}")),
        Err(e) => Err(e.to_string()),
    };
    let metrics = match client.get(&format!("{gateway}/metrics")).await {
        Ok(reply) => Ok((
            reply.status,
            String::from_utf8_lossy(&reply.body).into_owned(),
        )),
        Err(e) => Err(e.to_string()),
    };
    Scrape { health, metrics }
}

/// Everything the summary reads.
#[derive(Debug)]
pub(crate) struct Run<'a> {
    pub(crate) scenario: &'a Scenario,
    pub(crate) elapsed: Duration,
    pub(crate) recorder: &'a Recorder,
    pub(crate) watch: &'a Watch,
    pub(crate) snapshot: &'a Snapshot,
    pub(crate) upstreams: &'a [Upstream],
    pub(crate) scrape: &'a Scrape,
}

/// Prints the summary; true if every check passed.
pub(crate) fn report(run: &Run<'_>) -> bool {
    let mut checks = Checks::default();
    let whole_run = Duration::ZERO..Duration::MAX;
    let totals: Vec<Stats> = ROUTES
        .iter()
        .map(|route| run.recorder.stats(route, whole_run.clone()))
        .collect();

    println!(
        "\n== summary: {} run, {} clients, {} requests through the gateway ==\n",
        seconds(run.elapsed),
        run.scenario.clients,
        totals.iter().map(|s| s.requests).sum::<usize>()
    );
    println!(
        "{:<10} {:>6} {:>6} {:>6} {:>6} {:>6} {:>7} {:>7} {:>7}",
        "route", "reqs", "2xx", "503", "429", "err", "p50", "p99", "max"
    );
    for (name, s) in ROUTES.iter().zip(&totals) {
        println!(
            "{:<10} {:>6} {:>6} {:>6} {:>6} {:>6} {:>7} {:>7} {:>7}",
            name,
            s.requests,
            s.ok,
            s.open,
            s.shed,
            s.failed,
            millis(s.p50),
            millis(s.p99),
            millis(s.max)
        );
    }

    outage(run, &mut checks);
    slowdown(run, &mut checks);
    flakiness(run, &mut checks);
    endpoints(run, &mut checks);

    let missed = run.watch.missed_events.load(Ordering::Relaxed);
    if missed > 0 {
        println!("\n(the event watcher fell behind and missed {missed} events)");
    }
    checks.verdict()
}

fn outage(run: &Run<'_>, checks: &mut Checks) {
    let window = run.scenario.inventory_outage.clone();
    println!(
        "\ninventory: down (503 at once) from {} to {}",
        seconds(window.start),
        seconds(window.end)
    );
    let transitions: Vec<_> = run
        .watch
        .transitions()
        .into_iter()
        .filter(|t| t.policy == "inventory")
        .collect();
    println!("  breaker: {}", or_none(&story(&transitions)));

    let during = run.recorder.stats("inventory", window.clone());
    let upstream = run
        .upstreams
        .iter()
        .find(|u| u.behaviour.name == "inventory");
    let reached = upstream.map_or(0, |u| u.traffic.while_down.load(Ordering::Relaxed));
    println!(
        "  while it was down the gateway answered {} inventory requests:\n    {} at once with 503 + Retry-After \
         (p99 {}), {} with an error after retrying;\n    only {} attempts reached the upstream",
        during.requests,
        during.open,
        millis(during.p99),
        during.failed,
        reached
    );
    if let Some(b) = find(&run.snapshot.circuit_breakers, "inventory", |b| &b.name) {
        println!(
            "  registry: {} calls, {} failed, {} rejected while open; now {}",
            b.calls,
            b.failures,
            b.rejected,
            state_label(b.state)
        );
    }

    let opened = transitions
        .iter()
        .find(|t| t.to == CircuitState::Open && in_window(t.at, &window));
    checks.check(
        opened.is_some(),
        match opened {
            Some(t) => format!(
                "the inventory breaker opened during the outage (at {})",
                seconds(t.at)
            ),
            None => "the inventory breaker opened during the outage".to_owned(),
        },
    );
    let closed = transitions
        .iter()
        .find(|t| t.to == CircuitState::Closed && t.at >= window.end);
    let closed_now = find(&run.snapshot.circuit_breakers, "inventory", |b| &b.name)
        .is_some_and(|b| b.state == CircuitState::Closed);
    checks.check(
        closed.is_some() && closed_now,
        match closed {
            Some(t) => format!(
                "it closed after the outage ended (at {}, {} after) and is closed now",
                seconds(t.at),
                millis(t.at - window.end)
            ),
            None => "it closed after the outage ended and is closed now".to_owned(),
        },
    );
    checks.check(
        during.open > 0,
        "the gateway answered 503 + Retry-After while the breaker was open",
    );
}

/// A breaker's transitions told briefly: a long outage is a run of failed
/// trial calls, one per timeout, which read better as one list.
fn story(transitions: &[Transition]) -> String {
    let mut parts = Vec::new();
    let mut failed_trials = Vec::new();
    let flush = |parts: &mut Vec<String>, failed: &mut Vec<String>| {
        if !failed.is_empty() {
            parts.push(format!("trial calls failed at {}", failed.join(", ")));
            failed.clear();
        }
    };
    for t in transitions {
        match (t.from, t.to) {
            // The trial call's outcome is in the transition out of half-open.
            (CircuitState::Open, CircuitState::HalfOpen) => {}
            (CircuitState::HalfOpen, CircuitState::Open) => failed_trials.push(seconds(t.at)),
            (_, to) => {
                flush(&mut parts, &mut failed_trials);
                let verb = match to {
                    CircuitState::Open => "opened",
                    CircuitState::Closed => "closed",
                    _ => to.as_str(),
                };
                parts.push(format!("{verb} at {}", seconds(t.at)));
            }
        }
    }
    flush(&mut parts, &mut failed_trials);
    parts.join("; ")
}

fn slowdown(run: &Run<'_>, checks: &mut Checks) {
    let window = run.scenario.reviews_slowdown.clone();
    println!(
        "\nreviews: every call took {} from {} to {}",
        millis(run.scenario.slow_latency),
        seconds(window.start),
        seconds(window.end)
    );
    let Some(bulkhead) = find(&run.snapshot.bulkheads, "reviews", |b| &b.name) else {
        checks.check(false, "the reviews bulkhead was used");
        return;
    };
    let (max, queue) = (bulkhead.config.max_concurrent, bulkhead.config.queue);
    let peak = run.watch.peak("reviews");
    println!(
        "  bulkhead (max {max}, queue {queue}, wait {}): at most {} running and {} queued;\n    \
         {} calls shed over the whole run ({} of them after waiting in the queue)",
        millis(bulkhead.config.wait),
        peak.running,
        peak.queued,
        bulkhead.rejected,
        bulkhead.timed_out
    );
    let during = run.recorder.stats("reviews", window.clone());
    println!(
        "  reviews answers meanwhile: {} ok, {} shed with 429; p50 {}, p99 {}, max {}",
        during.ok,
        during.shed,
        millis(during.p50),
        millis(during.p99),
        millis(during.max)
    );
    let pricing = run.recorder.stats("pricing", window.clone());
    let pricing_before = run.recorder.stats("pricing", Duration::ZERO..window.start);
    println!(
        "  pricing meanwhile: p50 {}, p99 {} (before: p50 {}, p99 {}); shed callers went on elsewhere",
        millis(pricing.p50),
        millis(pricing.p99),
        millis(pricing_before.p50),
        millis(pricing_before.p99)
    );
    checks.check(
        during.shed > 0 && bulkhead.rejected > 0,
        format!(
            "the reviews bulkhead shed load during the slowdown ({} requests answered 429)",
            during.shed
        ),
    );
    checks.check(
        peak.running <= max && peak.queued <= queue,
        format!("it never ran more than {max} calls or queued more than {queue}: the queue stayed bounded"),
    );
}

fn flakiness(run: &Run<'_>, checks: &mut Checks) {
    let Some(pricing) = run.upstreams.iter().find(|u| u.behaviour.name == "pricing") else {
        return;
    };
    let b = &pricing.behaviour;
    println!(
        "\npricing: {:.0}% of calls fail, {:.0}% take {}",
        b.error_rate * 100.0,
        b.spike_rate * 100.0,
        millis(b.spike_latency)
    );
    let Some(retry) = find(&run.snapshot.retries, "pricing", |r| &r.name) else {
        checks.check(false, "the pricing retry policy was used");
        return;
    };
    println!(
        "  retry: {} calls, {} succeeded at once, {} recovered by retrying, {} gave up after {} attempts",
        retry.calls,
        retry.succeeded_first,
        retry.succeeded_after_retry,
        retry.exhausted,
        retry.config.max_attempts
    );
    checks.check(
        retry.succeeded_after_retry > 0,
        format!(
            "retries turned {} pricing failures into successes",
            retry.succeeded_after_retry
        ),
    );
}

fn endpoints(run: &Run<'_>, checks: &mut Checks) {
    println!("\nthe gateway's own endpoints, scraped at the end:");
    let health_ok = match &run.scrape.health {
        Ok((status, json)) => {
            let breakers: Vec<String> = json["circuit_breakers"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|b| format!("{} {}", text(&b["name"]), text(&b["state"])))
                .collect();
            println!(
                "  GET /health  -> {status}: {} (score {:.2}); circuit breakers {}",
                text(&json["status"]),
                json["score"].as_f64().unwrap_or(f64::NAN),
                or_none(&breakers.join(", "))
            );
            *status == StatusCode::OK && breakers.len() >= ROUTES.len()
        }
        Err(e) => {
            println!("  GET /health  -> failed: {e}");
            false
        }
    };
    let metrics_ok = match &run.scrape.metrics {
        Ok((status, body)) => {
            let samples: Vec<&str> = body
                .lines()
                .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
                .collect();
            println!(
                "  GET /metrics -> {status}: {} samples{}",
                samples.len(),
                if samples.is_empty() {
                    ""
                } else {
                    ", for example:"
                }
            );
            for line in pick_examples(&samples) {
                println!("      {line}");
            }
            // What `resil::metrics::record()` publishes at scrape time.
            *status == StatusCode::OK
                && body.contains("circuit_breaker_calls_total{")
                && body.contains("bulkhead_rejected_total{")
        }
        Err(e) => {
            println!("  GET /metrics -> failed: {e}");
            false
        }
    };
    checks.check(health_ok, "/health served every breaker's state as JSON");
    checks.check(
        metrics_ok,
        "/metrics served every policy's counters in Prometheus text format",
    );
}

/// A few lines that tell this run's story, rather than the first few,
/// which would all be one metric.
fn pick_examples<'a>(samples: &[&'a str]) -> Vec<&'a str> {
    const WANTED: [&[&str]; 5] = [
        &["circuit_breaker_state{", "\"inventory\""],
        &[
            "circuit_breaker_transitions_total{",
            "\"inventory\"",
            "to=\"open\"",
        ],
        &[
            "circuit_breaker_calls_total{",
            "\"inventory\"",
            "\"rejected\"",
        ],
        &[
            "resil_retry_attempts_total{",
            "\"pricing\"",
            "attempt=\"2\"",
        ],
        &["bulkhead_rejected_total{", "\"reviews\""],
    ];
    let mut picked: Vec<&str> = WANTED
        .iter()
        .filter_map(|parts| {
            samples
                .iter()
                .copied()
                .find(|line| parts.iter().all(|part| line.contains(part)))
        })
        .collect();
    if picked.is_empty() {
        picked.extend(samples.iter().take(5));
    }
    picked
}

fn find<'a, T>(
    items: &'a [T],
    name: &str,
    name_of: impl Fn(&T) -> &resil::PolicyName,
) -> Option<&'a T> {
    items.iter().find(|item| name_of(item) == name)
}

fn in_window(at: Duration, window: &Range<Duration>) -> bool {
    window.contains(&at)
}

fn text(value: &Value) -> &str {
    value.as_str().unwrap_or("?")
}

fn or_none(s: &str) -> &str {
    if s.is_empty() { "none" } else { s }
}

/// The claims the summary makes, each marked as it is checked.
#[derive(Debug, Default)]
struct Checks {
    passed: usize,
    failed: usize,
}

impl Checks {
    fn check(&mut self, ok: bool, claim: impl AsRef<str>) {
        if ok {
            self.passed += 1;
        } else {
            self.failed += 1;
        }
        println!(
            "  [{}] {}",
            if ok { "ok" } else { "FAILED" },
            claim.as_ref()
        );
    }

    fn verdict(&self) -> bool {
        if self.failed == 0 {
            println!("\nall {} checks passed", self.passed);
        } else {
            println!(
                "\n{} of {} checks FAILED: the demo did not show what it should",
                self.failed,
                self.passed + self.failed
            );
        }
        self.failed == 0
    }
}
