//! 2, 4 and 8 threads calling through one shared, named circuit breaker and
//! one shared bulkhead, against peers doing the same work: the
//! consecutive-failure breaker against failsafe's consecutive-failures
//! policy, the 100-call failure-rate window against recloser's 100-call
//! ring, the bulkhead against `tokio::sync::Semaphore`.
//!
//! Each sample starts the threads behind a barrier; every thread makes
//! `iters` calls and the slowest thread's time is reported, so the numbers
//! read as nanoseconds per call per thread. The machine the README quotes
//! has two cores: at 4 and 8 threads the threads also take turns on them,
//! which inflates every variant, bare included, alike.

#[allow(dead_code)]
mod common;

use std::hint::black_box;
use std::sync::Barrier;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion};
use failsafe::futures::CircuitBreaker as _;

use common::{
    BenchError, CONSECUTIVE_FAILSAFE, WINDOWED_RECLOSER, block_on, configured,
    consecutive_failsafe, windowed_recloser, work,
};

const THREADS: [usize; 3] = [2, 4, 8];

#[resil::circuit_breaker(name = "bench-contended")]
async fn through_breaker(input: u64) -> Result<u64, BenchError> {
    work(input).await
}

#[resil::bulkhead(name = "bench-contended", max = 64)]
async fn through_bulkhead(input: u64) -> Result<u64, BenchError> {
    work(input).await
}

#[resil::circuit_breaker(name = "bench-contended-window", failure_rate = 0.5, window = 100)]
async fn through_windowed_breaker(input: u64) -> Result<u64, BenchError> {
    work(input).await
}

#[resil::circuit_breaker(name = "bench-contended-both", failure_rate = 0.5, window = 100)]
#[resil::bulkhead(name = "bench-contended", max = 64)]
async fn through_both(input: u64) -> Result<u64, BenchError> {
    work(input).await
}

/// Runs `call` `iters` times on each of `threads` threads at once; returns
/// the slowest thread's time.
fn on_threads(threads: usize, iters: u64, call: &(impl Fn() + Sync)) -> Duration {
    let barrier = Barrier::new(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    barrier.wait();
                    let start = Instant::now();
                    for _ in 0..iters {
                        call();
                    }
                    start.elapsed()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| handle.join().expect("bench thread panicked"))
            .max()
            .unwrap_or_default()
    })
}

fn bench_threads(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    call: &(impl Fn() + Sync),
) {
    for threads in THREADS {
        group.bench_with_input(BenchmarkId::new(name, threads), &threads, |b, &threads| {
            b.iter_custom(|iters| on_threads(threads, iters, call))
        });
    }
}

fn bare() {
    black_box(block_on(work(black_box(1)))).ok();
}

fn breaker(c: &mut Criterion) {
    let mut group = c.benchmark_group("contention-breaker");
    bench_threads(&mut group, "bare", &bare);

    configured(
        "contention-breaker",
        "resil",
        "#[circuit_breaker] default: 5 consecutive failures",
    );
    bench_threads(&mut group, "resil", &|| {
        black_box(block_on(through_breaker(black_box(1)))).ok();
    });

    configured("contention-breaker", "failsafe", CONSECUTIVE_FAILSAFE);
    let failsafe = consecutive_failsafe();
    bench_threads(&mut group, "failsafe", &|| {
        black_box(block_on(failsafe.call(work(black_box(1))))).ok();
    });
    group.finish();
}

fn breaker_window(c: &mut Criterion) {
    let mut group = c.benchmark_group("contention-breaker-window");
    bench_threads(&mut group, "bare", &bare);

    configured(
        "contention-breaker-window",
        "resil",
        "failure_rate = 0.5, window = 100",
    );
    bench_threads(&mut group, "resil", &|| {
        black_box(block_on(through_windowed_breaker(black_box(1)))).ok();
    });

    configured("contention-breaker-window", "recloser", WINDOWED_RECLOSER);
    let recloser = windowed_recloser();
    bench_threads(&mut group, "recloser", &|| {
        black_box(block_on(recloser.call(work(black_box(1))))).ok();
    });
    group.finish();
}

fn bulkhead(c: &mut Criterion) {
    let mut group = c.benchmark_group("contention-bulkhead");
    bench_threads(&mut group, "bare", &bare);

    configured("contention-bulkhead", "resil", "#[bulkhead] max = 64");
    bench_threads(&mut group, "resil", &|| {
        black_box(block_on(through_bulkhead(black_box(1)))).ok();
    });

    configured(
        "contention-bulkhead",
        "tokio-semaphore",
        "Semaphore::new(64)",
    );
    let semaphore = tokio::sync::Semaphore::new(64);
    bench_threads(&mut group, "tokio-semaphore", &|| {
        let result = block_on(async {
            let _permit = semaphore.acquire().await.expect("never closed");
            work(black_box(1)).await
        });
        black_box(result).ok();
    });
    group.finish();
}

fn both(c: &mut Criterion) {
    let mut group = c.benchmark_group("contention-breaker+bulkhead");
    bench_threads(&mut group, "bare", &bare);

    configured(
        "contention-breaker+bulkhead",
        "resil",
        "breaker failure_rate = 0.5, window = 100; bulkhead max = 64",
    );
    bench_threads(&mut group, "resil", &|| {
        black_box(block_on(through_both(black_box(1)))).ok();
    });

    configured(
        "contention-breaker+bulkhead",
        "recloser+semaphore",
        "Recloser closed_len(100) error_rate(0.5) around Semaphore::new(64)",
    );
    let recloser = windowed_recloser();
    let semaphore = tokio::sync::Semaphore::new(64);
    bench_threads(&mut group, "recloser+semaphore", &|| {
        let result = block_on(recloser.call(async {
            let _permit = semaphore.acquire().await.expect("never closed");
            work(black_box(1)).await
        }));
        black_box(result).ok();
    });
    group.finish();
}

fn main() {
    let mut criterion = common::config();
    breaker(&mut criterion);
    breaker_window(&mut criterion);
    bulkhead(&mut criterion);
    both(&mut criterion);
    criterion.final_summary();
}
