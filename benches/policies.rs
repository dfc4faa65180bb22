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

use common::{BenchError, block_on, fail, work};

#[resil::circuit_breaker(name = "bench-breaker")]
async fn through_breaker(input: u64) -> Result<u64, BenchError> {
    work(input).await
}

#[resil::circuit_breaker(name = "bench-breaker-window", failure_rate = 0.5, window = 100)]
async fn through_windowed_breaker(input: u64) -> Result<u64, BenchError> {
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
#[resil::circuit_breaker(name = "bench-stack")]
#[resil::bulkhead(name = "bench-stack")]
async fn through_stack(input: u64) -> Result<u64, BenchError> {
    work(input).await
}

fn breaker(c: &mut Criterion) {
    let mut group = c.benchmark_group("breaker");
    group.bench_function("bare", |b| b.iter(|| block_on(work(black_box(1)))));

    group.bench_function("resil", |b| {
        b.iter(|| block_on(through_breaker(black_box(1))))
    });
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
    group.bench_function("resil-window100", |b| {
        b.iter(|| block_on(through_windowed_breaker(black_box(1))))
    });

    let recloser = recloser::AsyncRecloser::from(recloser::Recloser::default());
    group.bench_function("recloser", |b| {
        b.iter(|| block_on(recloser.call(work(black_box(1)))))
    });

    let failsafe = failsafe::Config::new().build();
    group.bench_function("failsafe", |b| {
        b.iter(|| block_on(failsafe.call(work(black_box(1)))))
    });

    let layer = tower_resilience::circuitbreaker::CircuitBreakerLayer::builder()
        .build()
        .expect("default tower-resilience breaker");
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

    let semaphore = tokio::sync::Semaphore::new(10);
    group.bench_function("tokio-semaphore", |b| {
        b.iter(|| {
            block_on(async {
                let _permit = semaphore.acquire().await.expect("never closed");
                work(black_box(1)).await
            })
        })
    });

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

    group.bench_function("resil", |b| {
        b.iter(|| block_on(through_retry(black_box(1))))
    });

    group.bench_function("backon", |b| {
        use backon::Retryable as _;
        b.iter(|| {
            block_on(
                (|| work(black_box(1)))
                    .retry(backon::ExponentialBuilder::default().with_max_times(2)),
            )
        })
    });

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
    group.bench_function("resil", |b| {
        b.iter(|| block_on(through_stack(black_box(1))))
    });

    // The same three policies composed from peers: backon around recloser
    // around a semaphore.
    let recloser = recloser::AsyncRecloser::from(recloser::Recloser::default());
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
    group.bench_function("resil", |b| {
        b.iter(|| block_on(through_open_breaker(black_box(1), false)))
    });
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
    group.bench_function("recloser", |b| {
        b.iter(|| block_on(recloser.call(work(black_box(1)))))
    });

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
    bulkhead(&mut criterion);
    retry(&mut criterion);
    stack(&mut criterion);
    open(&mut criterion);
    criterion.final_summary();
}
