//! The load generator: a fixed number of client tasks, each sending one
//! request at a time to a random gateway route with a short pause between
//! requests, until the run's deadline. Every answer is recorded with its
//! time, status class and latency, so the table and the summary can ask
//! what happened on any route in any window.

use std::ops::Range;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::http::{StatusCode, header};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::client::HttpClient;

/// The gateway routes the clients call, in table order.
pub(crate) const ROUTES: [&str; 3] = ["inventory", "pricing", "reviews"];

/// How an answer is classed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// 2xx.
    Ok,
    /// 503 with `Retry-After`: an open breaker.
    Open,
    /// 429: a full bulkhead.
    Shed,
    /// Anything else: 502/504 after the retries, or no answer at all.
    Failed,
}

/// One answer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sample {
    /// When it arrived, from the demo's start.
    pub(crate) at: Duration,
    pub(crate) latency: Duration,
    pub(crate) outcome: Outcome,
}

/// Every answer so far, per route.
#[derive(Debug, Default)]
pub(crate) struct Recorder {
    routes: [Mutex<Vec<Sample>>; ROUTES.len()],
}

impl Recorder {
    fn push(&self, route: usize, sample: Sample) {
        self.routes[route]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(sample);
    }

    /// The stats of `route`'s answers that arrived in `window`.
    pub(crate) fn stats(&self, route: &str, window: Range<Duration>) -> Stats {
        let index = ROUTES
            .iter()
            .position(|r| *r == route)
            .expect("one of ROUTES");
        let samples = self.routes[index]
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        Stats::of(samples.iter().filter(|s| window.contains(&s.at)))
    }
}

/// Counts and latency percentiles of a set of answers.
#[derive(Debug, Clone, Default)]
pub(crate) struct Stats {
    pub(crate) requests: usize,
    pub(crate) ok: usize,
    pub(crate) open: usize,
    pub(crate) shed: usize,
    pub(crate) failed: usize,
    pub(crate) p50: Duration,
    pub(crate) p99: Duration,
    pub(crate) max: Duration,
}

impl Stats {
    fn of<'a>(samples: impl Iterator<Item = &'a Sample>) -> Self {
        let mut stats = Self::default();
        let mut latencies = Vec::new();
        for sample in samples {
            stats.requests += 1;
            match sample.outcome {
                Outcome::Ok => stats.ok += 1,
                Outcome::Open => stats.open += 1,
                Outcome::Shed => stats.shed += 1,
                Outcome::Failed => stats.failed += 1,
            }
            latencies.push(sample.latency);
        }
        latencies.sort_unstable();
        let at = |q: f64| {
            // Nearest rank: the smallest latency that q of the answers beat
            // or matched.
            let rank = ((q * latencies.len() as f64).ceil() as usize).max(1);
            latencies.get(rank - 1).copied().unwrap_or_default()
        };
        stats.p50 = at(0.50);
        stats.p99 = at(0.99);
        stats.max = latencies.last().copied().unwrap_or_default();
        stats
    }
}

/// Runs `clients` client tasks against `gateway` until `until`, recording
/// every answer; returns when the last one has finished.
pub(crate) async fn run(
    gateway: String,
    clients: usize,
    started: Instant,
    until: Instant,
    recorder: Arc<Recorder>,
) {
    // Longer than any answer the gateway should give (a slow reviews call
    // plus its queue wait), so a stuck request is recorded, not waited on.
    let client = HttpClient::new(Duration::from_secs(3));
    let mut tasks = JoinSet::new();
    for _ in 0..clients {
        let (client, gateway, recorder) = (client.clone(), gateway.clone(), Arc::clone(&recorder));
        tasks.spawn(async move {
            while Instant::now() < until {
                let route = rand::random_range(0..ROUTES.len());
                let sku: u32 = rand::random_range(1..10_000);
                let url = format!("{gateway}/{}/{sku}", ROUTES[route]);
                let sent = Instant::now();
                let outcome = match client.get(&url).await {
                    Ok(reply) if reply.status.is_success() => Outcome::Ok,
                    Ok(reply) if reply.status == StatusCode::TOO_MANY_REQUESTS => Outcome::Shed,
                    Ok(reply)
                        if reply.status == StatusCode::SERVICE_UNAVAILABLE
                            && reply.headers.contains_key(header::RETRY_AFTER) =>
                    {
                        Outcome::Open
                    }
                    Ok(_) | Err(_) => Outcome::Failed,
                };
                let now = Instant::now();
                recorder.push(
                    route,
                    Sample {
                        at: now - started,
                        latency: now - sent,
                        outcome,
                    },
                );
                // A real client does not hammer in a tight loop; the pause
                // also keeps the demo's CPU use modest on a small machine.
                let pause = rand::random_range(10..40);
                tokio::time::sleep(Duration::from_millis(pause)).await;
            }
        });
    }
    while let Some(finished) = tasks.join_next().await {
        finished.expect("a load generator task panicked");
    }
}
