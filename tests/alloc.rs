//! The hot paths allocate nothing: a closed breaker's call, a bulkhead call
//! with free capacity, a retry whose first attempt succeeds, a rate limiter
//! call with spare quota, the whole stack through the macros, and an open
//! breaker's rejection. A counting
//! global allocator checks it, and `memory_footprint()` keeps a registered
//! breaker with a 100-call window within 256 bytes.
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

use resil::__private::{
    BulkheadSite, CircuitBreakerSite, RateLimiterSite, RetrySite, RetryStep, always, finish, lift,
    never,
};
use resil::{BulkheadConfig, CircuitBreakerConfig, CircuitState, RateLimiterConfig, RetryConfig};

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
    static PLAIN: CircuitBreakerSite =
        CircuitBreakerSite::new("alloc-closed", CircuitBreakerConfig::DEFAULT);
    static WINDOWED: CircuitBreakerSite = CircuitBreakerSite::new(
        "alloc-closed-window",
        CircuitBreakerConfig::DEFAULT.failure_rate(0.5).window(100),
    );
    for site in [&PLAIN, &WINDOWED] {
        assert_no_allocation("a closed breaker's call_site", || {
            let result =
                block_on(async { finish(site.get().call_site(lift(work(1)), never).await) });
            assert_eq!(result, Ok(1));
        });
        assert_no_allocation("a closed breaker's permit", || {
            let permit = site.get().try_acquire().expect("closed");
            permit.success();
        });
        assert_eq!(site.get().state(), CircuitState::Closed);
    }
}

#[test]
fn a_bulkhead_call_with_free_capacity_does_not_allocate() {
    static BULKHEAD: BulkheadSite = BulkheadSite::new("alloc-bulkhead", BulkheadConfig::DEFAULT);
    assert_no_allocation("a bulkhead's call_site", || {
        let result = block_on(async { finish(BULKHEAD.get().call_site(lift(work(2))).await) });
        assert_eq!(result, Ok(2));
    });
    assert_no_allocation("a bulkhead's permit", || {
        drop(BULKHEAD.get().try_acquire().expect("free capacity"));
    });
    assert_eq!(BULKHEAD.get().in_flight(), 0);
}

#[test]
fn a_retry_whose_first_attempt_succeeds_does_not_allocate() {
    static RETRY: RetrySite = RetrySite::new("alloc-retry", RetryConfig::DEFAULT.max_attempts(3));
    assert_no_allocation("a retry with no failure", || {
        let result = block_on(async {
            let result = {
                let mut run = RETRY.get().start();
                loop {
                    let attempt = lift(work(3)).await;
                    match run.next(attempt, always, |e| resil::__private::describe!(e)) {
                        RetryStep::Done(result) => break result,
                        RetryStep::Retry(delay) => resil::__private::sleep(delay).await,
                    }
                }
            };
            finish(result)
        });
        assert_eq!(result, Ok(3));
    });
}

#[test]
fn a_rate_limiter_call_with_spare_quota_does_not_allocate() {
    static LIMITER: RateLimiterSite = RateLimiterSite::new(
        "alloc-rate-limiter",
        RateLimiterConfig::DEFAULT
            .rate(u32::MAX)
            .per(Duration::from_secs(3600)),
    );
    assert_no_allocation("a rate limiter's call_site", || {
        let result = block_on(async { finish(LIMITER.get().call_site(lift(work(6))).await) });
        assert_eq!(result, Ok(6));
    });
    assert_no_allocation("a rate limiter's try_acquire", || {
        LIMITER.get().try_acquire().expect("spare quota");
    });
}

#[test]
fn a_slow_call_and_time_window_breaker_does_not_allocate() {
    static TIMED: CircuitBreakerSite = CircuitBreakerSite::new(
        "alloc-closed-timed",
        CircuitBreakerConfig::DEFAULT
            .failure_rate(0.5)
            .time_window(Duration::from_secs(60))
            .slow_call(Duration::from_secs(1)),
    );
    assert_no_allocation("a timed breaker's call_site", || {
        let result = block_on(async { finish(TIMED.get().call_site(lift(work(7)), never).await) });
        assert_eq!(result, Ok(7));
    });
    assert_eq!(TIMED.get().state(), CircuitState::Closed);
}

#[test]
fn the_macro_stack_does_not_allocate_when_nothing_fails() {
    #[resil::fallback(answer)]
    #[resil::retry(name = "alloc-stack", max = 3, max_elapsed = 10s)]
    #[resil::circuit_breaker(name = "alloc-stack", slow_call = 1s)]
    #[resil::rate_limit(name = "alloc-stack", rate = 4294967295, per = 1h)]
    #[resil::bulkhead(name = "alloc-stack")]
    async fn call(input: u64) -> Result<u64, AppError> {
        work(input).await
    }
    async fn answer(_input: u64, error: AppError) -> Result<u64, AppError> {
        Err(error)
    }

    assert_no_allocation("retry + circuit breaker + bulkhead", || {
        assert_eq!(block_on(call(4)), Ok(4));
    });
}

#[test]
fn an_open_breaker_rejects_without_allocating() {
    static OPEN: CircuitBreakerSite = CircuitBreakerSite::new(
        "alloc-open",
        CircuitBreakerConfig::DEFAULT
            .threshold(1)
            .timeout(Duration::from_secs(3600)),
    );
    let breaker = OPEN.get();
    let _ = block_on(breaker.call_site(lift(fail()), never));
    assert_eq!(breaker.state(), CircuitState::Open);

    assert_no_allocation("an open breaker's rejection", || {
        let result = block_on(async { finish(breaker.call_site(lift(work(5)), never).await) });
        assert!(matches!(
            result,
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
    // The slow calls' ring of bits comes on top: 16 bytes for 100 calls.
    assert!(bytes <= 256 + 16, "{bytes} bytes");
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
