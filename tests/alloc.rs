//! The hot paths allocate nothing: a closed breaker's call, a bulkhead call
//! with free capacity, a retry whose first attempt succeeds, a rate limiter
//! call with spare quota, the whole stack through the macros (every
//! attribute, a timeout both around and inside the retry), and an open
//! breaker's rejection. A counting
//! global allocator checks it, and `memory_footprint()` keeps a registered
//! breaker with a 100-call window within 256 bytes, unchanged (and with no
//! allocation) over 100,000 calls.
//!
//! Allocations are counted per thread (each test runs on its own), after a
//! warm-up on that thread, so the call sites' one-time registration and the
//! thread's first use of thread-locals are not counted. Futures are polled
//! with a no-op waker, so no executor allocates either.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use resil::{CircuitBreakerConfig, CircuitState};

struct CountingAllocator;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

fn count_one() {
    // `try_with`: the allocator may run while the thread's locals are torn down.
    let _ = ALLOCATIONS.try_with(|count| count.set(count.get() + 1));
}

// SAFETY: every method forwards to `System` unchanged; counting touches only
// a const-initialised thread-local `Cell`, which never allocates.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count_one();
        // SAFETY: the caller's contract is passed on as is.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count_one();
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count_one();
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// Allocations `run` made on this thread.
fn allocations_in(mut run: impl FnMut()) -> u64 {
    let before = ALLOCATIONS.with(Cell::get);
    run();
    ALLOCATIONS.with(Cell::get) - before
}

/// Runs `call` a few times to warm up, then asserts that 1,000 more calls
/// allocate nothing.
fn assert_no_allocation(what: &str, mut call: impl FnMut()) {
    for _ in 0..10 {
        call();
    }
    let allocations = allocations_in(|| {
        for _ in 0..1_000 {
            call();
        }
    });
    assert_eq!(
        allocations, 0,
        "{what} allocated {allocations} times in 1,000 calls"
    );
}

/// Polls `future` to completion with a no-op waker.
fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
    }
}

#[derive(Debug, PartialEq)]
enum AppError {
    Resil(resil::Error),
    Upstream,
}

impl From<resil::Error> for AppError {
    fn from(error: resil::Error) -> Self {
        Self::Resil(error)
    }
}

async fn work(input: u64) -> Result<u64, AppError> {
    Ok(black_box(input))
}

async fn fail() -> Result<u64, AppError> {
    Err(AppError::Upstream)
}

#[test]
fn the_counter_sees_an_allocation() {
    assert_eq!(allocations_in(|| drop(black_box(Box::new(1_u64)))), 1);
}

#[test]
fn a_closed_breaker_call_does_not_allocate() {
    #[resil::circuit_breaker(name = "alloc-closed")]
    async fn plain(input: u64) -> Result<u64, AppError> {
        work(input).await
    }
    #[resil::circuit_breaker(name = "alloc-closed-window", failure_rate = 0.5, window = 100)]
    async fn windowed(input: u64) -> Result<u64, AppError> {
        work(input).await
    }
    assert_no_allocation("a call through a closed breaker", || {
        assert_eq!(block_on(plain(1)), Ok(1));
    });
    assert_no_allocation("a call through a closed breaker with a window", || {
        assert_eq!(block_on(windowed(1)), Ok(1));
    });
    for name in ["alloc-closed", "alloc-closed-window"] {
        let breaker = resil::registry().circuit_breaker(name).expect("registered");
        assert_no_allocation("a closed breaker's permit", || {
            let permit = breaker.try_acquire().expect("closed");
            permit.success();
        });
        assert_eq!(breaker.state(), CircuitState::Closed);
    }
}

#[test]
fn a_bulkhead_call_with_free_capacity_does_not_allocate() {
    #[resil::bulkhead(name = "alloc-bulkhead")]
    async fn call(input: u64) -> Result<u64, AppError> {
        work(input).await
    }
    assert_no_allocation("a call through a bulkhead", || {
        assert_eq!(block_on(call(2)), Ok(2));
    });
    let bulkhead = resil::registry()
        .bulkhead("alloc-bulkhead")
        .expect("registered");
    assert_no_allocation("a bulkhead's permit", || {
        drop(bulkhead.try_acquire().expect("free capacity"));
    });
    assert_eq!(bulkhead.in_flight(), 0);
}

#[test]
fn a_retry_whose_first_attempt_succeeds_does_not_allocate() {
    #[resil::retry(name = "alloc-retry", max = 3)]
    async fn call(input: u64) -> Result<u64, AppError> {
        work(input).await
    }
    assert_no_allocation("a retry with no failure", || {
        assert_eq!(block_on(call(3)), Ok(3));
    });
}

#[test]
fn a_rate_limiter_call_with_spare_quota_does_not_allocate() {
    #[resil::rate_limit(name = "alloc-rate-limiter", rate = 4294967295, per = 1h)]
    async fn call(input: u64) -> Result<u64, AppError> {
        work(input).await
    }
    assert_no_allocation("a call through a rate limiter", || {
        assert_eq!(block_on(call(6)), Ok(6));
    });
    let limiter = resil::registry()
        .rate_limiter("alloc-rate-limiter")
        .expect("registered");
    assert_no_allocation("a rate limiter's try_acquire", || {
        limiter.try_acquire().expect("spare quota");
    });
}

#[test]
fn a_slow_call_and_time_window_breaker_does_not_allocate() {
    #[resil::circuit_breaker(name = "alloc-closed-timed", failure_rate = 0.5, window = 60s, slow_call = 1s)]
    async fn call(input: u64) -> Result<u64, AppError> {
        work(input).await
    }
    assert_no_allocation("a call through a timed breaker", || {
        assert_eq!(block_on(call(7)), Ok(7));
    });
    let breaker = resil::registry()
        .circuit_breaker("alloc-closed-timed")
        .expect("registered");
    assert_eq!(breaker.state(), CircuitState::Closed);
}

#[test]
fn the_whole_macro_stack_does_not_allocate_when_nothing_fails() {
    #[resil::fallback(answer)]
    #[resil::timeout(duration = 10s, name = "alloc-stack-total")]
    #[resil::retry(name = "alloc-stack", max = 3, max_elapsed = 10s)]
    #[resil::circuit_breaker(name = "alloc-stack", slow_call = 1s)]
    #[resil::rate_limit(name = "alloc-stack", rate = 4294967295, per = 1h)]
    #[resil::bulkhead(name = "alloc-stack")]
    #[resil::timeout(duration = 1s, name = "alloc-stack-attempt")]
    async fn call(input: u64) -> Result<u64, AppError> {
        work(input).await
    }
    async fn answer(_input: u64, error: AppError) -> Result<u64, AppError> {
        Err(error)
    }

    // A timeout arms tokio's timer, so the calls run inside a runtime's
    // context (entered on this thread, polled by the no-op waker as above);
    // building the runtime is set-up, not part of the calls.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a runtime");
    let _context = runtime.enter();
    assert_no_allocation(
        "fallback + timeout + retry + circuit breaker + rate limiter + bulkhead + timeout",
        || {
            assert_eq!(block_on(call(4)), Ok(4));
        },
    );
    for name in ["alloc-stack-total", "alloc-stack-attempt"] {
        let snapshot = resil::registry()
            .timeout(name)
            .expect("registered")
            .snapshot();
        assert_eq!((snapshot.calls, snapshot.timeouts), (1_010, 0), "{name}");
    }
}

#[test]
fn an_open_breaker_rejects_without_allocating() {
    #[resil::circuit_breaker(name = "alloc-open", threshold = 1, timeout = 3600s)]
    async fn call(input: u64, failing: bool) -> Result<u64, AppError> {
        if failing {
            fail().await
        } else {
            work(input).await
        }
    }
    let _ = block_on(call(0, true));
    let breaker = resil::registry()
        .circuit_breaker("alloc-open")
        .expect("registered");
    assert_eq!(breaker.state(), CircuitState::Open);

    assert_no_allocation("an open breaker's rejection", || {
        assert!(matches!(
            block_on(call(5, false)),
            Err(AppError::Resil(resil::Error::CircuitOpen { .. }))
        ));
    });
    assert_no_allocation("an open breaker's try_acquire", || {
        assert!(breaker.try_acquire().is_err());
    });
    assert_eq!(breaker.state(), CircuitState::Open);
}

#[test]
fn a_registered_breaker_with_a_100_call_window_fits_in_256_bytes() {
    let breaker = resil::registry()
        .register_circuit_breaker(
            "alloc-footprint",
            CircuitBreakerConfig::DEFAULT.failure_rate(0.5).window(100),
        )
        .expect("valid config");
    let bytes = breaker.memory_footprint();
    println!("a registered breaker with a 100-call window: {bytes} bytes");
    assert!(bytes <= 256, "{bytes} bytes");
    let slow = resil::registry()
        .register_circuit_breaker(
            "alloc-footprint-slow",
            CircuitBreakerConfig::DEFAULT
                .failure_rate(0.5)
                .window(100)
                .slow_call(Duration::from_secs(1)),
        )
        .expect("valid config");
    let bytes = slow.memory_footprint();
    println!("with slow calls too: {bytes} bytes");
    // The slow calls' ring comes on top, out of line: its 24-byte header
    // and 16 bytes of bits for 100 calls.
    assert!(bytes <= 256 + 24 + 16, "{bytes} bytes");
    let timed = resil::registry()
        .register_circuit_breaker(
            "alloc-footprint-time",
            CircuitBreakerConfig::DEFAULT
                .failure_rate(0.5)
                .time_window(Duration::from_secs(60)),
        )
        .expect("valid config");
    let bytes = timed.memory_footprint();
    println!("with a 60s time window: {bytes} bytes");
    assert!(bytes <= 256 + 1536, "{bytes} bytes");
}

#[test]
fn a_breakers_memory_does_not_grow_over_100_000_calls() {
    let configs = [
        (
            "alloc-grow-count",
            CircuitBreakerConfig::DEFAULT.window(100),
        ),
        (
            "alloc-grow-slow",
            CircuitBreakerConfig::DEFAULT
                .window(100)
                .slow_call(Duration::from_secs(1)),
        ),
        (
            "alloc-grow-time",
            CircuitBreakerConfig::DEFAULT.time_window(Duration::from_secs(60)),
        ),
    ];
    for (name, config) in configs {
        // One failure in four stays under the 50% that would open it.
        let breaker = resil::registry()
            .register_circuit_breaker(name, config.failure_rate(0.5).threshold(u32::MAX))
            .expect("valid config");
        let footprint = breaker.memory_footprint();
        let mut call = 0_u64;
        let mut settle_one = || {
            let permit = breaker.try_acquire().expect("closed");
            if call.is_multiple_of(4) {
                permit.failure();
            } else {
                permit.success();
            }
            call += 1;
        };
        // A warm-up, as above: the first failure's log call site and the
        // thread's locals are set up once.
        for _ in 0..100 {
            settle_one();
        }
        let allocations = allocations_in(|| {
            for _ in 0..100_000 {
                settle_one();
            }
        });
        assert_eq!(allocations, 0, "{name}: 100,000 calls allocated");
        assert_eq!(breaker.memory_footprint(), footprint, "{name}");
        assert_eq!(breaker.state(), CircuitState::Closed, "{name}");
        let snapshot = breaker.snapshot();
        assert_eq!(
            (snapshot.successes, snapshot.failures),
            (75_075, 25_025),
            "{name}"
        );
    }
}
