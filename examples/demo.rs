//! The main demo: a flaky inventory service behind `#[retry]`,
//! `#[circuit_breaker]` and `#[bulkhead]`, in three acts, printed as it
//! happens. It ends by itself in about ten seconds.
//!
//! 1. Flaky: every third call to the service fails; retries hide it.
//! 2. Outage: the service is down for three seconds; the breaker opens,
//!    rejects calls at once instead of piling onto it, probes it with a
//!    trial call after its timeout, and closes when the service is back.
//! 3. Overload: the service slows down and 20 callers arrive at once; the
//!    bulkhead runs 4, queues 4 for at most 200ms, and sheds the rest.
//! 4. Chaos: latency injected into the named policy at run time with
//!    `resil::chaos`, then cleared (with `--features chaos`).
//!
//! ```text
//! cargo run --example demo
//! ```

use std::sync::atomic::{AtomicU8, AtomicU32, Ordering};
use std::time::Duration;

use resil::events::{self, EventKind};
use resil::{CircuitState, bulkhead, circuit_breaker, registry, retry};
use tokio::time::{Instant, sleep};

#[derive(Debug, thiserror::Error)]
enum StockError {
    #[error(transparent)]
    Resil(#[from] resil::Error),
    #[error("inventory service answered 500")]
    Upstream,
}

const HEALTHY: u8 = 0;
const FLAKY: u8 = 1;
const DOWN: u8 = 2;
const SLOW: u8 = 3;

static MODE: AtomicU8 = AtomicU8::new(FLAKY);
static SERVICE_CALLS: AtomicU32 = AtomicU32::new(0);

/// The dependency: a stand-in for an HTTP call.
async fn inventory_service(item: u32) -> Result<u32, StockError> {
    let n = SERVICE_CALLS.fetch_add(1, Ordering::SeqCst);
    let mode = MODE.load(Ordering::SeqCst);
    sleep(Duration::from_millis(if mode == SLOW { 500 } else { 20 })).await;
    match mode {
        FLAKY if n.is_multiple_of(3) => Err(StockError::Upstream),
        DOWN => Err(StockError::Upstream),
        _ => Ok(item * 7),
    }
}

#[retry(name = "inventory", max = 3, backoff = exponential, initial = 50ms, max_delay = 400ms, jitter = equal)]
#[circuit_breaker(name = "inventory", threshold = 5, open_for = 1s, success_threshold = 2)]
#[bulkhead(name = "inventory", max = 4, queue = 4, wait = 200ms)]
async fn stock_level(item: u32) -> Result<u32, StockError> {
    inventory_service(item).await
}

fn describe(result: &Result<u32, StockError>) -> String {
    match result {
        Ok(stock) => format!("ok, {stock} in stock"),
        Err(StockError::Resil(rejection)) => format!("rejected: {rejection}"),
        Err(error) => format!("failed: {error}"),
    }
}

/// Act 4, with the `chaos` feature: latency injected at run time.
#[cfg(feature = "chaos")]
async fn chaos_act(stamp: &impl Fn() -> String) {
    println!("\n== act 4: chaos: an operator injects 300ms of latency at run time ==");
    resil::chaos::inject(
        "inventory",
        resil::chaos::Fault::Latency(Duration::from_millis(300)),
    )
    .expect("a valid fault");
    let before = Instant::now();
    let result = stock_level(300).await;
    println!(
        "{}   with the fault: {} in {}ms",
        stamp(),
        describe(&result),
        before.elapsed().as_millis()
    );
    resil::chaos::clear("inventory");
    let before = Instant::now();
    let result = stock_level(301).await;
    println!(
        "{}   fault cleared:  {} in {}ms",
        stamp(),
        describe(&result),
        before.elapsed().as_millis()
    );
}

#[cfg(not(feature = "chaos"))]
async fn chaos_act(_stamp: &impl Fn() -> String) {
    println!("\n(act 4, fault injection, runs with `--features chaos`)");
}

#[tokio::main]
async fn main() {
    let started = Instant::now();
    let stamp = move || format!("{:>6.2}s", started.elapsed().as_secs_f64());

    // Print what the policies do as they do it.
    let mut feed = events::subscribe();
    tokio::spawn(async move {
        while let Ok(event) = feed.recv().await {
            let line = match event.kind {
                EventKind::StateChanged { from, to } => {
                    format!("breaker {}: {from} -> {to}", event.policy)
                }
                EventKind::Retry { attempt, delay } => format!(
                    "retry {}: attempt {attempt} failed, next in {}ms",
                    event.policy,
                    delay.as_millis()
                ),
                EventKind::RetriesExhausted { attempts } => {
                    format!("retry {}: gave up after {attempts} attempts", event.policy)
                }
                _ => continue,
            };
            println!("{}   [event] {line}", stamp());
        }
    });

    println!("== act 1: a flaky service (every third call fails) ==");
    for item in 1..=6 {
        let result = stock_level(item).await;
        println!("{}   item {item}: {}", stamp(), describe(&result));
    }

    println!("\n== act 2: an outage of 3 seconds ==");
    MODE.store(DOWN, Ordering::SeqCst);
    let outage_ends = Instant::now() + Duration::from_secs(3);
    let mut item = 100;
    let mut recovered = false;
    while started.elapsed() < Duration::from_secs(20) {
        if MODE.load(Ordering::SeqCst) == DOWN && Instant::now() >= outage_ends {
            MODE.store(HEALTHY, Ordering::SeqCst);
            println!("{}   -- the service is back --", stamp());
        }
        let before = SERVICE_CALLS.load(Ordering::SeqCst);
        let result = stock_level(item).await;
        let reached = SERVICE_CALLS.load(Ordering::SeqCst) - before;
        println!(
            "{}   item {item}: {} (service called {reached}x)",
            stamp(),
            describe(&result)
        );
        item += 1;
        let state = registry().circuit_breaker("inventory").unwrap().state();
        if MODE.load(Ordering::SeqCst) == HEALTHY && state == CircuitState::Closed {
            recovered = true;
            break;
        }
        sleep(Duration::from_millis(250)).await;
    }

    println!("\n== act 3: overload (service slows to 500ms, 20 callers at once) ==");
    MODE.store(SLOW, Ordering::SeqCst);
    let callers: Vec<_> = (0..20)
        .map(|i| tokio::spawn(stock_level(200 + i)))
        .collect();
    let (mut served, mut shed) = (0, 0);
    for caller in callers {
        match caller.await.expect("caller panicked") {
            Ok(_) => served += 1,
            Err(StockError::Resil(resil::Error::BulkheadFull { .. })) => shed += 1,
            Err(other) => println!("{}   unexpected: {other}", stamp()),
        }
    }
    println!("{}   served {served}, shed {shed}", stamp());

    MODE.store(HEALTHY, Ordering::SeqCst);
    chaos_act(&stamp).await;

    println!("\n== summary ==");
    let snapshot = registry().snapshot();
    let breaker = registry().circuit_breaker("inventory").unwrap().snapshot();
    let bulkhead = registry().bulkhead("inventory").unwrap().snapshot();
    let retries = registry().retry("inventory").unwrap().snapshot();
    println!(
        "breaker:  {} now; {} successes, {} failures, {} rejected while open",
        breaker.state, breaker.successes, breaker.failures, breaker.rejected
    );
    println!(
        "bulkhead: {} admitted ({} after queueing), {} shed ({} after waiting); {} in flight",
        bulkhead.admitted,
        bulkhead.admitted_after_wait,
        bulkhead.rejected,
        bulkhead.timed_out,
        bulkhead.in_flight
    );
    println!(
        "retry:    {} calls, {} recovered by retrying, {} retries, {} gave up",
        retries.calls, retries.succeeded_after_retry, retries.retries, retries.exhausted
    );
    println!(
        "\nthe registry's snapshot, as a /health endpoint would serve it:\n{}",
        serde_json::to_string_pretty(&snapshot.circuit_breakers).unwrap()
    );
    let ok = recovered && shed > 0 && breaker.rejected > 0 && retries.succeeded_after_retry > 0;
    println!(
        "\n{}",
        if ok {
            "demo complete: retries hid the flakiness, the breaker opened and recovered, the bulkhead shed load"
        } else {
            "demo finished, but not every act showed what it should"
        }
    );
    if !ok {
        std::process::exit(1);
    }
}
