//! The main demo: an API gateway in front of three flaky HTTP services,
//! protected by `#[retry]`, `#[circuit_breaker]` and `#[bulkhead]`, under
//! load, all on loopback and all real HTTP.
//!
//! ```text
//! cargo run --release --example gateway              # about 45s
//! cargo run --release --example gateway -- --short   # about 12s (or RESIL_DEMO_SHORT=1)
//! ```
//!
//! - **pricing** fails 8% of calls and has latency spikes: retries hide it.
//! - **inventory** goes down for a while: its breaker opens, the gateway
//!   answers 503 + `Retry-After` at once instead of piling onto it, probes
//!   it every 2s, and closes when it is back.
//! - **reviews** slows to 500ms a call: its bulkhead runs 8 calls, queues 4
//!   for at most 100ms and answers 429 to the rest, so callers are never
//!   stuck behind it.
//!
//! A table of every policy's state and counters and the load generator's
//! view of each route is printed every second; `/health` and `/metrics`
//! are served throughout and scraped once at the end. The summary checks
//! that each of the above happened and the demo exits non-zero if not.
//!
//! Modules: `scenario` (the schedule), `upstream` (the flaky services),
//! `gateway` (the annotated calls and the HTTP mapping), `client` (the HTTP
//! client), `load` (the load generator), `watch` (breaker transitions and
//! bulkhead peaks), `table` (the live table), `summary` (the checks).

mod client;
mod gateway;
mod load;
mod scenario;
mod summary;
mod table;
mod upstream;
mod watch;

use std::error::Error;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use metrics_exporter_prometheus::PrometheusBuilder;
use metrics_util::MetricKindMask;
use tokio::time::Instant;

use crate::client::HttpClient;
use crate::gateway::Upstreams;
use crate::load::Recorder;
use crate::scenario::{Scenario, seconds};
use crate::upstream::Behaviour;

#[tokio::main]
async fn main() -> Result<ExitCode, Box<dyn Error>> {
    let scenario = Scenario::from_env();
    let started = Instant::now();
    let watch = watch::start(SystemTime::now());
    // Series nobody updates for five minutes leave the exporter: a keyed
    // policy's evicted members stop being updated by `resil::metrics::record`.
    let prometheus = PrometheusBuilder::new()
        .idle_timeout(MetricKindMask::ALL, Some(Duration::from_secs(300)))
        .install_recorder()?;

    let ms = Duration::from_millis;
    let upstreams = [
        upstream::spawn(
            Behaviour {
                error_rate: 0.01,
                outage: Some(scenario.inventory_outage.clone()),
                ..Behaviour::steady("inventory", ms(10))
            },
            started,
        )
        .await?,
        upstream::spawn(
            Behaviour {
                error_rate: 0.08,
                spike_rate: 0.05,
                spike_latency: ms(250),
                ..Behaviour::steady("pricing", ms(10))
            },
            started,
        )
        .await?,
        upstream::spawn(
            Behaviour {
                error_rate: 0.01,
                slowdown: Some(scenario.reviews_slowdown.clone()),
                slow_latency: scenario.slow_latency,
                ..Behaviour::steady("reviews", ms(20))
            },
            started,
        )
        .await?,
    ];
    let [inventory, pricing, reviews] = &upstreams;
    let gateway = gateway::spawn(
        Upstreams {
            // Longer than any upstream answer, so only a lost request
            // times out.
            client: HttpClient::new(Duration::from_secs(2)),
            inventory: inventory.base_url.clone(),
            pricing: pricing.base_url.clone(),
            reviews: reviews.base_url.clone(),
        },
        prometheus,
    )
    .await?;

    let banner = format!(
        "resil gateway demo{}: {} of load from {} clients\n\
         \x20 upstreams: inventory {}, pricing {}, reviews {}\n\
         \x20 gateway:   {gateway}  (try {gateway}/health and {gateway}/metrics while it runs)\n\
         \x20 schedule:  inventory down {}-{}, reviews slow {}-{}\n\n{}",
        if scenario.short { " (short)" } else { "" },
        seconds(scenario.run_for),
        scenario.clients,
        inventory.base_url,
        pricing.base_url,
        reviews.base_url,
        seconds(scenario.inventory_outage.start),
        seconds(scenario.inventory_outage.end),
        seconds(scenario.reviews_slowdown.start),
        seconds(scenario.reviews_slowdown.end),
        table::LEGEND
    );
    println!("{banner}");

    let until = started + scenario.run_for;
    let recorder = Arc::new(Recorder::default());
    let load = tokio::spawn(load::run(
        gateway.clone(),
        scenario.clients,
        started,
        until,
        Arc::clone(&recorder),
    ));
    table::run(&scenario, &banner, started, until, &recorder, &watch).await;
    load.await?;

    let scrape = summary::scrape(&gateway).await;
    let snapshot = resil::registry().snapshot();
    let passed = summary::report(&summary::Run {
        scenario: &scenario,
        elapsed: started.elapsed(),
        recorder: &recorder,
        watch: &watch,
        snapshot: &snapshot,
        upstreams: &upstreams,
        scrape: &scrape,
    });
    Ok(if passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
