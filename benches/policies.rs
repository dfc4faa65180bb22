//! Single-thread cost of each policy around a trivial `async fn`, bare and
//! protected, resil against its peers, in one run:
//!
//! - `breaker`: a closed circuit breaker (resil, recloser, failsafe,
//!   tower-resilience);
//! - `bulkhead`: a bulkhead with free capacity (resil,
//!   `tokio::sync::Semaphore`, tower's `ConcurrencyLimit`);
//! - `retry`: a retry whose first attempt succeeds (resil, backon, tower's
//!   `Retry`, tokio-retry2, tryhard);
//! - `stack`: retry + circuit breaker + bulkhead, hand-expanded exactly as
//!   the macros generate it and through the macros themselves;
//! - `open`: how fast an open breaker rejects a call.
//!
//! resil's variants are functions annotated with `#[circuit_breaker]`,
//! `#[bulkhead]` and `#[retry]`: what a user's call costs, generated code
//! included. The `resil-permit` variants take the policy's permit by hand,
//! for comparison. Every variant is polled by the same no-op-waker
//! executor.
//!
//! Before the benches run, this binary prints each policy's memory
//! footprint (`resil-footprint:` lines), which `scripts/bench-table.sh`
//! adds to its table.

#[allow(dead_code)]
mod common;

use std::hint::black_box;
use std::time::Duration;

use criterion::Criterion;
use failsafe::futures::CircuitBreaker as _;
use resil::{CircuitBreakerConfig, CircuitState};
use tower::{Layer as _, Service as _, ServiceExt as _};

use common::{
    BenchError, CONSECUTIVE_FAILSAFE, WINDOWED_RECLOSER, block_on, configured,
    consecutive_failsafe, fail, windowed_recloser, work,
};

#[resil::circuit_breaker(name = "bench-breaker")]
async fn through_breaker(input: u64) -> Result<u64, BenchError> {
    work(input).await
}

#[resil::circuit_breaker(name = "bench-breaker-window", failure_rate = 0.5, window = 100)]
async fn through_windowed_breaker(input: u64) -> Result<u64, BenchError> {
    work(input).await
}

#[resil::circuit_breaker(name = "bench-breaker-time-window", failure_rate = 0.5, window = 60s)]
async fn through_time_windowed_breaker(input: u64) -> Result<u64, BenchError> {
    work(input).await
}

#[resil::bulkhead(name = "bench-bulkhead")]
async fn through_bulkhead(input: u64) -> Result<u64, BenchError> {
    work(input).await
}

#[resil::retry(name = "bench-retry", max = 3)]
async fn through_retry(input: u64) -> Result<u64, BenchError> {
    work(input).await
}

#[resil::circuit_breaker(name = "bench-open", threshold = 1, timeout = 3600s)]
async fn through_open_breaker(input: u64, failing: bool) -> Result<u64, BenchError> {
    if failing {
        fail(input).await
    } else {
        work(input).await
    }
}

#[resil::retry(name = "bench-stack", max = 3)]
#[resil::circuit_breaker(name = "bench-stack", failure_rate = 0.5, window = 100)]
#[resil::bulkhead(name = "bench-stack")]
async fn through_stack(input: u64) -> Result<u64, BenchError> {
    work(input).await
}

/// Consecutive failures: resil's default breaker against the peers' modes
/// that trip on a streak and keep no window.
fn breaker(c: &mut Criterion) {
    let mut group = c.benchmark_group("breaker");
    group.bench_function("bare", |b| b.iter(|| block_on(work(black_box(1)))));

    configured(
        "breaker",
        "resil",
        "#[circuit_breaker] default: 5 consecutive failures, 60 s open",
    );
    group.bench_function("resil", |b| {
        b.iter(|| block_on(through_breaker(black_box(1))))
    });
    configured(
        "breaker",
        "resil-permit",
        "the same breaker, permit taken by hand",
    );
    group.bench_function("resil-permit", |b| {
        let breaker = resil::registry()
            .circuit_breaker("bench-breaker")
            .expect("registered by the first call");
        b.iter(|| {
            block_on(async {
                let permit = breaker.try_acquire()?;
                let result = work(black_box(1)).await;
                permit.success();
                result
            })
        })
    });

    // failsafe's `Config::new()` is not this mode: it ORs a success-rate time
    // window with the streak. Only the streak here.
    configured("breaker", "failsafe", CONSECUTIVE_FAILSAFE);
    let failsafe = consecutive_failsafe();
    group.bench_function("failsafe", |b| {
        b.iter(|| block_on(failsafe.call(work(black_box(1)))))
    });

    configured(
        "breaker",
        "tower-resilience",
        "consecutive_failures(5), 60 s open",
    );
    let layer = tower_resilience::circuitbreaker::CircuitBreakerLayer::builder()
        .consecutive_failures(5)
        .wait_duration_in_open(Duration::from_secs(60))
        .build()
        .expect("valid tower-resilience breaker");
    let mut service = layer.layer(tower::service_fn(work));
    group.bench_function("tower-resilience", |b| {
        b.iter(|| {
            block_on(async {
                service
                    .ready()
                    .await
                    .expect("closed breaker is ready")
                    .call(black_box(1))
                    .await
            })
        })
    });
    group.finish();
}

/// A failure rate over the last 100 calls: resil's count window against
/// recloser's ring and tower-resilience's count-based window, all at 0.5.
fn breaker_window(c: &mut Criterion) {
    let mut group = c.benchmark_group("breaker-window");
    group.bench_function("bare", |b| b.iter(|| block_on(work(black_box(1)))));

    configured(
        "breaker-window",
        "resil",
        "failure_rate = 0.5, window = 100 (rate from 100 calls on)",
    );
    group.bench_function("resil", |b| {
        b.iter(|| block_on(through_windowed_breaker(black_box(1))))
    });

    configured(
        "breaker-window",
        "recloser",
        &format!("{WINDOWED_RECLOSER} (= default)"),
    );
    let recloser = windowed_recloser();
    group.bench_function("recloser", |b| {
        b.iter(|| block_on(recloser.call(work(black_box(1)))))
    });

    configured(
        "breaker-window",
        "tower-resilience",
        "CountBased, sliding_window_size(100), failure_rate_threshold(0.5)",
    );
    let layer = tower_resilience::circuitbreaker::CircuitBreakerLayer::builder()
        .sliding_window_type(tower_resilience::circuitbreaker::SlidingWindowType::CountBased)
        .sliding_window_size(100)
        .failure_rate_threshold(0.5)
        .build()
        .expect("valid tower-resilience breaker");
    let mut service = layer.layer(tower::service_fn(work));
    group.bench_function("tower-resilience", |b| {
        b.iter(|| {
            block_on(async {
                service
                    .ready()
                    .await
                    .expect("closed breaker is ready")
                    .call(black_box(1))
                    .await
            })
        })
    });
    group.finish();
}

/// A failure rate over the last 60 seconds: resil's time window against
/// tower-resilience's time-based window (recloser and failsafe have none
/// with a rate threshold).
fn breaker_time_window(c: &mut Criterion) {
    let mut group = c.benchmark_group("breaker-time-window");
    group.bench_function("bare", |b| b.iter(|| block_on(work(black_box(1)))));

    configured(
        "breaker-time-window",
        "resil",
        "failure_rate = 0.5, window = 60s (rate from 10 calls on)",
    );
    group.bench_function("resil", |b| {
        b.iter(|| block_on(through_time_windowed_breaker(black_box(1))))
    });

    configured(
        "breaker-time-window",
        "tower-resilience",
        "TimeBased, sliding_window_duration(60 s), failure_rate_threshold(0.5), minimum_number_of_calls(10)",
    );
    let layer = tower_resilience::circuitbreaker::CircuitBreakerLayer::builder()
        .sliding_window_type(tower_resilience::circuitbreaker::SlidingWindowType::TimeBased)
        .sliding_window_duration(Duration::from_secs(60))
        .failure_rate_threshold(0.5)
        .minimum_number_of_calls(10)
        .build()
        .expect("valid tower-resilience breaker");
    let mut service = layer.layer(tower::service_fn(work));
    group.bench_function("tower-resilience", |b| {
        b.iter(|| {
            block_on(async {
                service
                    .ready()
                    .await
                    .expect("closed breaker is ready")
                    .call(black_box(1))
                    .await
            })
        })
    });
    group.finish();
}

fn bulkhead(c: &mut Criterion) {
    let mut group = c.benchmark_group("bulkhead");
    group.bench_function("bare", |b| b.iter(|| block_on(work(black_box(1)))));

    configured(
        "bulkhead",
        "resil",
        "#[bulkhead] default: 10 concurrent, no queue",
    );
    group.bench_function("resil", |b| {
        b.iter(|| block_on(through_bulkhead(black_box(1))))
    });
    group.bench_function("resil-permit", |b| {
        let bulkhead = resil::registry()
            .bulkhead("bench-bulkhead")
            .expect("registered by the first call");
        b.iter(|| {
            block_on(async {
                let _slot = bulkhead.try_acquire()?;
                work(black_box(1)).await
            })
        })
    });

    configured(
        "bulkhead",
        "tokio-semaphore",
        "Semaphore::new(10), acquire().await",
    );
    let semaphore = tokio::sync::Semaphore::new(10);
    group.bench_function("tokio-semaphore", |b| {
        b.iter(|| {
            block_on(async {
                let _permit = semaphore.acquire().await.expect("never closed");
                work(black_box(1)).await
            })
        })
    });

    configured(
        "bulkhead",
        "tower-concurrency-limit",
        "ConcurrencyLimit::new(_, 10)",
    );
    let mut limit = tower::limit::ConcurrencyLimit::new(tower::service_fn(work), 10);
    group.bench_function("tower-concurrency-limit", |b| {
        b.iter(|| {
            block_on(async {
                limit
                    .ready()
                    .await
                    .expect("free capacity")
                    .call(black_box(1))
                    .await
            })
        })
    });
    group.finish();
}

/// tower's `Retry` policy: up to `0` more attempts, no backoff needed since
/// nothing fails.
#[derive(Clone)]
struct Attempts(usize);

impl<Req: Clone, Res, E> tower::retry::Policy<Req, Res, E> for Attempts {
    type Future = std::future::Ready<()>;

    fn retry(&mut self, _: &mut Req, result: &mut Result<Res, E>) -> Option<Self::Future> {
        match result {
            Ok(_) => None,
            Err(_) if self.0 > 0 => {
                self.0 -= 1;
                Some(std::future::ready(()))
            }
            Err(_) => None,
        }
    }

    fn clone_request(&mut self, req: &Req) -> Option<Req> {
        Some(req.clone())
    }
}

fn retry(c: &mut Criterion) {
    let mut group = c.benchmark_group("retry");
    group.bench_function("bare", |b| b.iter(|| block_on(work(black_box(1)))));

    configured("retry", "resil", "max = 3 attempts, default backoff");
    group.bench_function("resil", |b| {
        b.iter(|| block_on(through_retry(black_box(1))))
    });

    configured(
        "retry",
        "backon",
        "ExponentialBuilder::default().with_max_times(2)",
    );
    group.bench_function("backon", |b| {
        use backon::Retryable as _;
        b.iter(|| {
            block_on(
                (|| work(black_box(1)))
                    .retry(backon::ExponentialBuilder::default().with_max_times(2)),
            )
        })
    });

    configured(
        "retry",
        "tower-retry",
        "Retry with a policy of 2 more attempts",
    );
    let mut service = tower::retry::Retry::new(Attempts(2), tower::service_fn(work));
    group.bench_function("tower-retry", |b| {
        b.iter(|| {
            block_on(async {
                service
                    .ready()
                    .await
                    .expect("always ready")
                    .call(black_box(1))
                    .await
            })
        })
    });

    configured(
        "retry",
        "tokio-retry2",
        "ExponentialBackoff::from_millis(100).take(2)",
    );
    group.bench_function("tokio-retry2", |b| {
        use tokio_retry2::strategy::ExponentialBackoff;
        use tokio_retry2::{Retry, RetryError};
        b.iter(|| {
            block_on(Retry::spawn(
                ExponentialBackoff::from_millis(100).take(2),
                || async { work(black_box(1)).await.map_err(RetryError::transient) },
            ))
        })
    });

    configured("retry", "tryhard", "retry_fn(_).retries(2)");
    group.bench_function("tryhard", |b| {
        b.iter(|| block_on(tryhard::retry_fn(|| work(black_box(1))).retries(2)))
    });
    group.finish();
}

fn stack(c: &mut Criterion) {
    let mut group = c.benchmark_group("stack");
    group.bench_function("bare", |b| b.iter(|| block_on(work(black_box(1)))));
    // The macros registered all three policies under the name they were given.
    assert_eq!(block_on(through_stack(7)), Ok(7));
    let registry = resil::registry();
    assert!(registry.retry("bench-stack").is_ok());
    assert!(registry.circuit_breaker("bench-stack").is_ok());
    assert!(registry.bulkhead("bench-stack").is_ok());
    configured(
        "stack",
        "resil",
        "retry max = 3; breaker failure_rate = 0.5, window = 100; bulkhead max = 10",
    );
    group.bench_function("resil", |b| {
        b.iter(|| block_on(through_stack(black_box(1))))
    });

    // The same three policies composed from peers: backon around recloser
    // around a semaphore, each configured as resil's are.
    configured(
        "stack",
        "backon+recloser+semaphore",
        "ExponentialBuilder max_times(2); Recloser closed_len(100) error_rate(0.5); Semaphore(10)",
    );
    let recloser = windowed_recloser();
    let semaphore = tokio::sync::Semaphore::new(10);
    group.bench_function("backon+recloser+semaphore", |b| {
        use backon::Retryable as _;
        b.iter(|| {
            block_on(
                (|| {
                    recloser.call(async {
                        let _permit = semaphore.acquire().await.expect("never closed");
                        work(black_box(1)).await
                    })
                })
                .retry(backon::ExponentialBuilder::default().with_max_times(2)),
            )
        })
    });
    group.finish();
}

fn open(c: &mut Criterion) {
    let mut group = c.benchmark_group("open");

    let _ = block_on(through_open_breaker(0, true));
    let breaker = resil::registry()
        .circuit_breaker("bench-open")
        .expect("registered by the first call");
    assert_eq!(breaker.state(), CircuitState::Open);
    configured("open", "resil", "threshold = 1, timeout = 3600s, tripped");
    group.bench_function("resil", |b| {
        b.iter(|| block_on(through_open_breaker(black_box(1), false)))
    });
    configured(
        "open",
        "resil-try-acquire",
        "the same breaker, try_acquire alone",
    );
    group.bench_function("resil-try-acquire", |b| {
        b.iter(|| black_box(breaker.try_acquire()).is_err())
    });

    let recloser = recloser::AsyncRecloser::from(
        recloser::Recloser::custom()
            .closed_len(1)
            .open_wait(Duration::from_secs(3600))
            .build(),
    );
    for _ in 0..2 {
        let _ = block_on(recloser.call(fail(0)));
    }
    assert!(matches!(
        block_on(recloser.call(work(1))),
        Err(recloser::Error::Rejected)
    ));
    configured(
        "open",
        "recloser",
        "closed_len(1), open_wait(3600 s), tripped",
    );
    group.bench_function("recloser", |b| {
        b.iter(|| block_on(recloser.call(work(black_box(1)))))
    });

    configured(
        "open",
        "failsafe",
        "consecutive_failures(1, constant(3600 s)), tripped",
    );
    let failsafe = failsafe::Config::new()
        .failure_policy(failsafe::failure_policy::consecutive_failures(
            1,
            failsafe::backoff::constant(Duration::from_secs(3600)),
        ))
        .build();
    let _ = block_on(failsafe.call(fail(0)));
    assert!(matches!(
        block_on(failsafe.call(work(1))),
        Err(failsafe::Error::Rejected)
    ));
    group.bench_function("failsafe", |b| {
        b.iter(|| block_on(failsafe.call(work(black_box(1)))))
    });
    group.finish();
}

/// Bytes each kind of policy occupies; the table script reads these lines.
fn print_footprints() {
    let window = resil::CircuitBreaker::new(
        "footprint-window",
        CircuitBreakerConfig::DEFAULT.failure_rate(0.5).window(100),
    )
    .expect("valid config");
    let plain = resil::CircuitBreaker::new("footprint", CircuitBreakerConfig::DEFAULT)
        .expect("valid config");
    println!(
        "resil-footprint: circuit breaker, 100-call window + failure_rate = {} bytes",
        window.memory_footprint()
    );
    println!(
        "resil-footprint: circuit breaker, consecutive failures only = {} bytes",
        plain.memory_footprint()
    );
    println!(
        "resil-footprint: bulkhead (no queued callers) = {} bytes",
        std::mem::size_of::<resil::Bulkhead>()
    );
    println!(
        "resil-footprint: retry policy = {} bytes",
        std::mem::size_of::<resil::Retry>()
    );
}

fn main() {
    print_footprints();
    let mut criterion = common::config();
    breaker(&mut criterion);
    breaker_window(&mut criterion);
    breaker_time_window(&mut criterion);
    bulkhead(&mut criterion);
    retry(&mut criterion);
    stack(&mut criterion);
    open(&mut criterion);
    criterion.final_summary();
}
