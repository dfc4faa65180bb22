//! Reliability: what holds however a call ends.
//!
//! - **Cancellation at every await point**: a protected future is polled k
//!   times and dropped, for every k until it completes; after each drop the
//!   policies' permits and counters are back where they began.
//! - **Panics in the body**: counted as failures, permits released, the
//!   panic reaches the caller unchanged.
//! - **Misuse at run time**: unknown names and invalid configurations are
//!   errors, never panics, and change nothing.
//! - **Fault injection** (`--features chaos`): `resil::chaos` behaves as
//!   documented.
//! - **Soak**: 8 tasks on a multi-thread runtime through a stacked retry,
//!   breaker and bulkhead, with faults (`--features chaos`) and
//!   cancellations; every call is accounted for exactly (each outcome kind,
//!   each body started, finished or dropped, each policy counter against
//!   what callers and bodies saw) and nothing is left held. No check is
//!   statistical: which calls are cancelled before their first poll is fixed
//!   by their index. Without `chaos` (the default build) it runs the same
//!   load with no injected faults. `soak_short` (10k calls)
//!   runs by default; `soak_long` (200k) is `#[ignore]`d:
//!   `cargo test --release --features chaos --test reliability -- --ignored soak_long`.
//!   `RESIL_SOAK_CALLS=n` overrides the short soak's size.

use std::future::Future;
use std::panic::{self, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::Once;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use resil::__private::{BreakerEntry, BulkheadEntry, Rejection, RetryStepping, never};
use resil::{
    Bulkhead, BulkheadConfig, CircuitBreaker, CircuitBreakerConfig, CircuitState, ConfigError,
    Jitter, PolicyKind, Retry, RetryConfig, RetryStep, bulkhead, circuit_breaker, registry, retry,
};
use tokio::time::advance;

const MS: Duration = Duration::from_millis(1);

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
enum AppError {
    #[error(transparent)]
    Resil(#[from] resil::Error),
    #[error("upstream failed")]
    Upstream,
}

/// Serialises the tests that inject faults or reset shared policies, so that
/// `chaos::clear_all` and the soak's resets cannot disturb another test.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Lets spawned tasks run without moving the paused clock.
async fn settle() {
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
}

// ========================================================= cancellation

/// Polls the inner future at most `polls` times, then drops it: `None` if it
/// was cancelled that way, `Some(output)` if it finished first.
struct CancelAfter<F> {
    inner: Option<Pin<Box<F>>>,
    polls: usize,
}

fn cancel_after<F: Future>(polls: usize, future: F) -> CancelAfter<F> {
    CancelAfter {
        inner: Some(Box::pin(future)),
        polls,
    }
}

impl<F: Future> Future for CancelAfter<F> {
    type Output = Option<F::Output>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        if this.polls == 0 {
            this.inner = None;
            return Poll::Ready(None);
        }
        this.polls -= 1;
        let inner = this.inner.as_mut().expect("polled after completion");
        match inner.as_mut().poll(cx) {
            Poll::Ready(output) => {
                this.inner = None;
                Poll::Ready(Some(output))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

/// The upper bound on polls any protected call here needs; a harness that
/// reaches it means a call never finishes.
const MAX_POLLS: usize = 200;

/// Counts what the body did, so policies' counters can be checked against
/// it.
#[derive(Debug, Default)]
struct Body {
    started: AtomicU32,
    ok: AtomicU32,
    failed: AtomicU32,
}

impl Body {
    const fn new() -> Self {
        Self {
            started: AtomicU32::new(0),
            ok: AtomicU32::new(0),
            failed: AtomicU32::new(0),
        }
    }

    fn reset(&self) {
        for counter in [&self.started, &self.ok, &self.failed] {
            counter.store(0, Ordering::SeqCst);
        }
    }

    /// A body with three await points that fails its first attempt of
    /// every call when `fail_first` says so.
    async fn run(&self, fail_first: &AtomicU32) -> Result<u32, AppError> {
        self.started.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(5 * MS).await;
        tokio::task::yield_now().await;
        tokio::time::sleep(MS).await;
        if fail_first
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            self.failed.fetch_add(1, Ordering::SeqCst);
            Err(AppError::Upstream)
        } else {
            self.ok.fetch_add(1, Ordering::SeqCst);
            Ok(7)
        }
    }
}

/// One attempt through a breaker and a bulkhead, written out as the macros
/// generate it: a refusal leaves the permits unsettled and comes back with
/// its record.
async fn guarded<T>(
    breaker: &CircuitBreaker,
    bulkhead: &Bulkhead,
    body: impl Future<Output = Result<T, AppError>>,
) -> (Result<T, AppError>, Rejection) {
    let permit = match BreakerEntry::try_enter(breaker) {
        Some(permit) => Ok(permit),
        None => BreakerEntry::enter_slow(breaker).await,
    };
    let permit = match permit {
        Ok(permit) => permit,
        Err(refusal) => {
            let error = BreakerEntry::refusal_error(breaker, refusal);
            return (Err(error.clone().into()), Rejection::of(&error));
        }
    };
    let slot = match BulkheadEntry::try_enter(bulkhead) {
        Some(slot) => Ok(slot),
        None => BulkheadEntry::enter_slow(bulkhead).await,
    };
    let slot = match slot {
        Ok(slot) => slot,
        Err(refusal) => return (Err(refusal.clone().into()), Rejection::of(&refusal)),
    };
    let result = body.await;
    drop(slot);
    resil::__private::settle(permit, &result, never);
    (result, Rejection::new())
}

/// The stack the macros generate, written out against the runtime API:
/// retry around breaker around bulkhead around the body.
async fn direct_stack(
    retry: &Retry,
    breaker: &CircuitBreaker,
    bulkhead: &Bulkhead,
    body: &Body,
    fail_first: &AtomicU32,
) -> Result<u32, AppError> {
    let mut run = retry.start();
    loop {
        let (attempt, rejection) = guarded(breaker, bulkhead, body.run(fail_first)).await;
        match RetryStepping::next_after(
            &mut run,
            attempt,
            rejection,
            |_: &AppError| true,
            resil::__private::no_retry_after,
            |_| None,
        ) {
            RetryStep::Done(result) => return result,
            RetryStep::Retry(delay) => tokio::time::sleep(delay).await,
        }
    }
}

/// Holds the only slot of `bulkhead` for `hold`, so the next call queues.
fn occupy(bulkhead: Arc<Bulkhead>, hold: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let permit = bulkhead.acquire().await.expect("a free slot");
        tokio::time::sleep(hold).await;
        drop(permit);
    })
}

fn assert_bulkhead_idle(bulkhead: &Bulkhead, context: &str) {
    let view = bulkhead.snapshot();
    assert_eq!(
        (view.in_flight, view.queued, view.available),
        (0, 0, bulkhead.config().max_concurrent),
        "{context}: {view:?}"
    );
}

/// The breaker must admit the next call: no trial slot was kept by a
/// cancelled call. (Its timeout has passed when this is called.)
fn assert_breaker_admits(breaker: &CircuitBreaker, context: &str) {
    match breaker.try_acquire() {
        Ok(permit) => permit.release(),
        Err(error) => panic!(
            "{context}: the breaker refused an idle call in {:?}: {error}",
            breaker.state()
        ),
    }
}

#[tokio::test(start_paused = true)]
async fn the_runtime_stack_is_cancellation_safe_at_every_poll() {
    let name = "rel-cancel-direct";
    let retry = registry()
        .register_retry(
            name,
            RetryConfig::DEFAULT
                .max_attempts(3)
                .initial(2 * MS)
                .jitter(Jitter::None),
        )
        .unwrap();
    let breaker = registry()
        .register_circuit_breaker(name, CircuitBreakerConfig::DEFAULT.threshold(3))
        .unwrap();
    let bulkhead = registry()
        .register_bulkhead(
            name,
            BulkheadConfig::DEFAULT
                .max_concurrent(1)
                .queue(1)
                .wait(Duration::from_secs(1)),
        )
        .unwrap();
    let body = Body::new();
    let fail_first = AtomicU32::new(0);

    let mut completed_at = None;
    for k in 0..MAX_POLLS {
        breaker.reset();
        bulkhead.reset();
        retry.reset();
        body.reset();
        fail_first.store(1, Ordering::SeqCst);
        // Someone else holds the slot for a moment: the first attempt waits
        // in the queue, so the wait is one of the await points too.
        let holder = occupy(Arc::clone(&bulkhead), 3 * MS);
        settle().await;

        let outcome = cancel_after(
            k,
            direct_stack(&retry, &breaker, &bulkhead, &body, &fail_first),
        )
        .await;
        holder.await.unwrap();

        let context = format!("dropped after {k} polls");
        assert_bulkhead_idle(&bulkhead, &context);
        // Back through the registry, as a health endpoint would see it.
        let b = registry().circuit_breaker(name).unwrap().snapshot();
        let started = body.started.load(Ordering::SeqCst);
        let finished = body.ok.load(Ordering::SeqCst) + body.failed.load(Ordering::SeqCst);
        assert_eq!(
            b.successes + b.failures,
            u64::from(finished),
            "{context}: the breaker counts exactly the attempts that finished: {b:?}"
        );
        assert!(started <= finished + 1, "{context}");
        assert_eq!(b.state, CircuitState::Closed, "{context}");
        assert_eq!(b.rejected + b.ignored, 0, "{context}");
        let view = bulkhead.snapshot();
        assert_eq!(
            view.admitted,
            u64::from(started) + 1,
            "{context}: the holder and each attempt that started: {view:?}"
        );
        let r = retry.snapshot();
        match outcome {
            Some(result) => {
                assert_eq!(result, Ok(7));
                assert_eq!((r.calls, r.succeeded_after_retry, r.retries), (1, 1, 1));
                completed_at = Some(k);
                break;
            }
            None => assert_eq!(r.calls, 0, "{context}: a cancelled call is not counted"),
        }
    }
    let polls = completed_at.expect("the call never completed");
    assert!(polls >= 5, "too few await points exercised: {polls}");
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_half_open_trial_frees_its_slot_at_every_poll() {
    let timeout = 50 * MS;
    let breaker = CircuitBreaker::new(
        "rel-cancel-trial",
        CircuitBreakerConfig::DEFAULT
            .threshold(1)
            .half_open_max(1)
            .success_threshold(1)
            .open_for(timeout),
    )
    .unwrap();
    let bulkhead = Bulkhead::new("rel-cancel-trial", BulkheadConfig::DEFAULT).unwrap();
    let body = Body::new();
    let no_failures = AtomicU32::new(0);

    for k in 0..MAX_POLLS {
        breaker.reset();
        breaker.try_acquire().unwrap().failure();
        advance(timeout).await;

        let call = guarded(&breaker, &bulkhead, body.run(&no_failures));
        let outcome = cancel_after(k, call).await;
        let context = format!("trial dropped after {k} polls");
        assert_bulkhead_idle(&bulkhead, &context);
        if let Some((result, _)) = outcome {
            assert!(result.is_ok(), "{context}");
            assert_eq!(breaker.state(), CircuitState::Closed, "{context}");
            return;
        }
        // Still open (never polled) or half-open with the slot given back.
        assert_ne!(breaker.state(), CircuitState::Closed, "{context}");
        let trial = breaker.try_acquire().unwrap_or_else(|e| {
            panic!("{context}: the cancelled trial kept its slot: {e}");
        });
        assert!(trial.is_trial(), "{context}");
        trial.release();
    }
    panic!("the trial never completed");
}

mod stacked {
    use super::*;

    pub(super) static BODY: Body = Body::new();
    pub(super) static FAIL_FIRST: AtomicU32 = AtomicU32::new(0);

    #[retry(name = "rel-cancel-macro", max = 3, initial = 2ms, jitter = none)]
    #[circuit_breaker(
        name = "rel-cancel-macro",
        threshold = 5,
        timeout = 50ms,
        half_open_max = 1,
        success_threshold = 1
    )]
    #[bulkhead(name = "rel-cancel-macro", max = 1, queue = 2, wait = 1s)]
    pub(super) async fn guarded() -> Result<u32, AppError> {
        BODY.run(&FAIL_FIRST).await
    }
}

#[tokio::test(start_paused = true)]
async fn the_attribute_stack_is_cancellation_safe_at_every_poll() {
    let name = "rel-cancel-macro";
    // First use registers the policies.
    stacked::FAIL_FIRST.store(0, Ordering::SeqCst);
    assert_eq!(stacked::guarded().await, Ok(7));
    let breaker = registry().circuit_breaker(name).unwrap();
    let bulkhead = registry().bulkhead(name).unwrap();
    let retry = registry().retry(name).unwrap();

    for half_open in [false, true] {
        let mut done = false;
        for k in 0..MAX_POLLS {
            breaker.reset();
            bulkhead.reset();
            retry.reset();
            stacked::BODY.reset();
            if half_open {
                // Open it and let the timeout pass: the call is the trial.
                for _ in 0..5 {
                    breaker.try_acquire().unwrap().failure();
                }
                advance(50 * MS).await;
                stacked::FAIL_FIRST.store(0, Ordering::SeqCst);
            } else {
                stacked::FAIL_FIRST.store(1, Ordering::SeqCst);
            }
            let holder = occupy(Arc::clone(&bulkhead), 3 * MS);
            settle().await;
            let outcome = cancel_after(k, stacked::guarded()).await;
            holder.await.unwrap();

            let context = format!("half_open={half_open}, dropped after {k} polls");
            assert_bulkhead_idle(&bulkhead, &context);
            let body = &stacked::BODY;
            let finished = body.ok.load(Ordering::SeqCst) + body.failed.load(Ordering::SeqCst);
            let b = breaker.snapshot();
            let seeded = if half_open { 5 } else { 0 };
            assert_eq!(
                b.successes + b.failures,
                u64::from(finished) + seeded,
                "{context}: {b:?}"
            );
            if outcome.is_none() {
                assert_eq!(retry.snapshot().calls, 0, "{context}");
                advance(50 * MS).await;
                assert_breaker_admits(&breaker, &context);
            } else {
                assert_eq!(outcome, Some(Ok(7)), "{context}");
                assert_eq!(breaker.state(), CircuitState::Closed, "{context}");
                assert_eq!(retry.snapshot().calls, 1, "{context}");
                done = true;
                break;
            }
        }
        assert!(done, "half_open={half_open}: the call never completed");
    }
}

// ================================================================ panics

/// The payload the bodies below panic with; the hook keeps it off stderr.
#[derive(Debug, PartialEq)]
struct Boom(u32);

fn quiet_booms() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let default = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if !info.payload().is::<Boom>() {
                default(info);
            }
        }));
    });
}

mod panicking {
    use super::*;

    pub(super) static RUNS: AtomicU32 = AtomicU32::new(0);

    #[retry(name = "rel-panic", max = 3, initial = 1ms)]
    #[circuit_breaker(name = "rel-panic", threshold = 2, timeout = 50ms, success_threshold = 1)]
    #[bulkhead(name = "rel-panic", max = 1)]
    pub(super) async fn explode(code: u32) -> Result<u32, AppError> {
        RUNS.fetch_add(1, Ordering::SeqCst);
        tokio::task::yield_now().await;
        if code != 0 {
            panic::panic_any(Boom(code));
        }
        Ok(0)
    }
}

#[tokio::test(start_paused = true)]
async fn a_panicking_body_is_a_failure_and_its_panic_reaches_the_caller() {
    quiet_booms();
    let name = "rel-panic";
    assert_eq!(panicking::explode(0).await, Ok(0));
    let breaker = registry().circuit_breaker(name).unwrap();
    let bulkhead = registry().bulkhead(name).unwrap();
    let retry = registry().retry(name).unwrap();
    breaker.reset();
    retry.reset();
    panicking::RUNS.store(0, Ordering::SeqCst);

    // Through a spawned task: the JoinHandle carries the original payload.
    let joined = tokio::spawn(panicking::explode(41)).await;
    let payload = joined.unwrap_err().into_panic();
    assert_eq!(payload.downcast_ref::<Boom>(), Some(&Boom(41)));
    assert_eq!(
        panicking::RUNS.load(Ordering::SeqCst),
        1,
        "a panic is not retried"
    );
    assert_eq!(breaker.snapshot().failures, 1);
    assert_bulkhead_idle(&bulkhead, "after a panic in a task");
    assert_eq!(retry.snapshot().calls, 0, "the retry never saw an outcome");

    // A second panic reaches the threshold: panics open the breaker.
    let joined = tokio::spawn(panicking::explode(42)).await;
    assert_eq!(
        joined.unwrap_err().into_panic().downcast_ref::<Boom>(),
        Some(&Boom(42))
    );
    assert_eq!(breaker.state(), CircuitState::Open);

    // A panicking half-open trial opens it again and gives its slot back.
    advance(50 * MS).await;
    let joined = tokio::spawn(panicking::explode(43)).await;
    assert!(joined.unwrap_err().is_panic());
    assert_eq!(breaker.state(), CircuitState::Open);
    assert_eq!(breaker.snapshot().failures, 3);
    advance(50 * MS).await;
    assert_eq!(panicking::explode(0).await, Ok(0), "the next trial gets in");
    assert_eq!(breaker.state(), CircuitState::Closed);
    assert_bulkhead_idle(&bulkhead, "after the trials");
}

/// A body that panics with `Boom(code)` after one await point.
async fn boom(code: u32) -> Result<(), AppError> {
    tokio::task::yield_now().await;
    panic::panic_any(Boom(code))
}

#[test]
fn a_panic_unwinding_through_block_on_is_a_failure_too() {
    quiet_booms();
    let breaker = CircuitBreaker::new("rel-panic-block-on", CircuitBreakerConfig::DEFAULT).unwrap();
    let bulkhead = Bulkhead::new("rel-panic-block-on", BulkheadConfig::DEFAULT).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let unwound = panic::catch_unwind(AssertUnwindSafe(|| {
        runtime.block_on(guarded(&breaker, &bulkhead, boom(7)))
    }));
    let payload = unwound.expect_err("the panic propagates");
    assert_eq!(payload.downcast_ref::<Boom>(), Some(&Boom(7)));
    let view = breaker.snapshot();
    assert_eq!((view.failures, view.successes, view.ignored), (1, 0, 0));
    assert_bulkhead_idle(&bulkhead, "after unwinding through block_on");
}

/// A combinator that catches the panic inside `poll` and keeps the future
/// alive (`FutureExt::catch_unwind`) still sees it counted: a panicking
/// `async fn` drops its live locals (the permits) while unwinding.
#[tokio::test(start_paused = true)]
async fn a_panic_caught_inside_poll_is_still_a_failure() {
    use futures::FutureExt;
    quiet_booms();
    let breaker = CircuitBreaker::new("rel-panic-caught", CircuitBreakerConfig::DEFAULT).unwrap();
    let bulkhead = Bulkhead::new("rel-panic-caught", BulkheadConfig::DEFAULT).unwrap();
    let caught = AssertUnwindSafe(guarded(&breaker, &bulkhead, boom(9)))
        .catch_unwind()
        .await;
    let payload = caught.expect_err("the panic is caught");
    assert_eq!(payload.downcast_ref::<Boom>(), Some(&Boom(9)));
    assert_eq!(breaker.snapshot().failures, 1);
    assert_bulkhead_idle(&bulkhead, "after a caught panic");
}

// ================================================================ misuse

#[test]
fn looking_up_an_unknown_name_is_an_error_not_a_panic() {
    let unknown = "rel-no-such-policy";
    let is_unknown = |result: Result<(), ConfigError>, kind: PolicyKind| match result {
        Err(ConfigError::UnknownPolicy {
            kind: got, name, ..
        }) => {
            assert_eq!((got, name.as_str()), (kind, unknown));
        }
        other => panic!("{kind:?}: {other:?}"),
    };
    is_unknown(
        registry().circuit_breaker(unknown).map(drop),
        PolicyKind::CircuitBreaker,
    );
    is_unknown(registry().bulkhead(unknown).map(drop), PolicyKind::Bulkhead);
    is_unknown(registry().retry(unknown).map(drop), PolicyKind::Retry);
    for kind in [
        PolicyKind::CircuitBreaker,
        PolicyKind::Bulkhead,
        PolicyKind::Retry,
        PolicyKind::RateLimiter,
        PolicyKind::Timeout,
    ] {
        is_unknown(registry().reset(kind, unknown), kind);
    }
    is_unknown(registry().force_open(unknown), PolicyKind::CircuitBreaker);
    is_unknown(registry().force_closed(unknown), PolicyKind::CircuitBreaker);
    assert!(
        !registry().policies().iter().any(|id| id.name == unknown),
        "a failed look-up registers nothing"
    );
}

#[test]
fn an_invalid_configuration_is_refused_whole() {
    fn refused<T: std::fmt::Debug>(result: Result<T, ConfigError>, key: &str) {
        match result {
            Err(ConfigError::InvalidValue { key: got, .. }) => assert_eq!(got, key),
            other => panic!("{key}: {other:?}"),
        }
    }
    let name = "rel-invalid";
    refused(
        registry()
            .register_circuit_breaker(name, CircuitBreakerConfig::DEFAULT.threshold(0).window(5)),
        "threshold",
    );
    refused(
        registry()
            .register_circuit_breaker(name, CircuitBreakerConfig::DEFAULT.window(5).min_calls(6)),
        "min_calls",
    );
    refused(
        registry().register_bulkhead(name, BulkheadConfig::DEFAULT.max_concurrent(0)),
        "max_concurrent",
    );
    refused(
        registry().register_bulkhead(name, BulkheadConfig::DEFAULT.queue(4).wait(Duration::ZERO)),
        "wait",
    );
    refused(
        registry().register_retry(name, RetryConfig::DEFAULT.max_attempts(0)),
        "max_attempts",
    );
    refused(
        registry().register_retry(name, RetryConfig::DEFAULT.multiplier(f64::NAN)),
        "multiplier",
    );
    assert!(registry().circuit_breaker(name).is_err());
    assert!(registry().bulkhead(name).is_err());
    assert!(registry().retry(name).is_err());
    assert!(!registry().policies().iter().any(|id| id.name == name));
    assert!(
        !registry()
            .conflicts()
            .iter()
            .any(|c| c.to_string().contains(name))
    );

    // A valid registration afterwards works, and a conflicting one later
    // changes nothing.
    let config = CircuitBreakerConfig::DEFAULT.threshold(4);
    let first = registry().register_circuit_breaker(name, config).unwrap();
    match registry().register_circuit_breaker(name, config.threshold(9)) {
        Err(ConfigError::Conflict { .. }) => {}
        other => panic!("{other:?}"),
    }
    assert_eq!(registry().circuit_breaker(name).unwrap().config(), config);
    assert!(Arc::ptr_eq(
        &first,
        &registry().circuit_breaker(name).unwrap()
    ));
}

// ================================================================= chaos

#[cfg(feature = "chaos")]
mod chaos {
    use super::*;
    use resil::chaos::{self, Fault};
    use tokio::time::Instant;

    fn injected(result: &Result<u32, AppError>) -> bool {
        matches!(result, Err(AppError::Resil(error)) if chaos::is_injected(error))
    }

    pub(super) static OUTAGE_RUNS: AtomicU32 = AtomicU32::new(0);

    #[circuit_breaker(name = "rel-chaos-outage", threshold = 3, timeout = 100ms, success_threshold = 1)]
    #[bulkhead(name = "rel-chaos-outage", max = 2)]
    async fn outage_call() -> Result<u32, AppError> {
        OUTAGE_RUNS.fetch_add(1, Ordering::SeqCst);
        Ok(1)
    }

    #[tokio::test(start_paused = true)]
    async fn an_outage_opens_the_breaker_and_clearing_it_heals() {
        let _serial = SERIAL.lock().await;
        let name = "rel-chaos-outage";
        chaos::inject(name, Fault::Outage).unwrap();
        for _ in 0..3 {
            let result = outage_call().await;
            assert!(injected(&result), "{result:?}");
        }
        assert_eq!(OUTAGE_RUNS.load(Ordering::SeqCst), 0, "the body never ran");
        let breaker = registry().circuit_breaker(name).unwrap();
        let bulkhead = registry().bulkhead(name).unwrap();
        assert_eq!(breaker.state(), CircuitState::Open);
        assert_eq!(breaker.snapshot().failures, 3);
        assert_eq!(
            bulkhead.snapshot().admitted,
            0,
            "refused before the bulkhead"
        );
        assert!(matches!(
            outage_call().await,
            Err(AppError::Resil(resil::Error::CircuitOpen { .. }))
        ));
        assert_eq!(breaker.snapshot().rejected, 1);

        // The half-open trial meets the outage too.
        advance(100 * MS).await;
        assert!(injected(&outage_call().await));
        assert_eq!(breaker.state(), CircuitState::Open);
        assert_eq!(breaker.snapshot().failures, 4);

        chaos::clear(name);
        assert!(chaos::faults(name).is_empty());
        advance(100 * MS).await;
        assert_eq!(outage_call().await, Ok(1));
        assert_eq!(breaker.state(), CircuitState::Closed);
        assert_eq!(OUTAGE_RUNS.load(Ordering::SeqCst), 1);
        assert_bulkhead_idle(&bulkhead, "after the outage");
    }

    pub(super) static RATE_RUNS: AtomicU32 = AtomicU32::new(0);

    #[circuit_breaker(name = "rel-chaos-rate", threshold = 1000)]
    #[bulkhead(name = "rel-chaos-rate", max = 4)]
    async fn rate_call() -> Result<u32, AppError> {
        RATE_RUNS.fetch_add(1, Ordering::SeqCst);
        Ok(1)
    }

    #[tokio::test(start_paused = true)]
    async fn an_error_rate_fails_about_that_share_and_each_is_a_breaker_failure() {
        let _serial = SERIAL.lock().await;
        let name = "rel-chaos-rate";
        assert_eq!(rate_call().await, Ok(1));
        let breaker = registry().circuit_breaker(name).unwrap();
        breaker.reset();
        // Held closed: the breaker counts every failure but never opens.
        breaker.force_closed();
        RATE_RUNS.store(0, Ordering::SeqCst);
        registry().bulkhead(name).unwrap().reset();

        chaos::inject(name, Fault::Error { rate: 0.3 }).unwrap();
        let mut failed = 0;
        for _ in 0..2000 {
            let result = rate_call().await;
            if injected(&result) {
                failed += 1;
            } else {
                assert_eq!(result, Ok(1));
            }
        }
        chaos::clear(name);
        // Expected 600, standard deviation about 20.
        assert!((480..=720).contains(&failed), "{failed} of 2000 failed");
        let view = breaker.snapshot();
        assert_eq!(view.failures, failed);
        assert_eq!(view.successes, 2000 - failed);
        assert_eq!(u64::from(RATE_RUNS.load(Ordering::SeqCst)), 2000 - failed);
        assert_eq!(
            registry().bulkhead(name).unwrap().snapshot().admitted,
            2000 - failed,
            "an error acts once, at the breaker"
        );
    }

    pub(super) static SLOW_RUNS: AtomicU32 = AtomicU32::new(0);

    #[circuit_breaker(name = "rel-chaos-slow")]
    #[bulkhead(name = "rel-chaos-slow", max = 1)]
    async fn slow_call() -> Result<u32, AppError> {
        SLOW_RUNS.fetch_add(1, Ordering::SeqCst);
        Ok(1)
    }

    #[tokio::test(start_paused = true)]
    async fn latency_holds_the_bulkhead_slot_and_acts_once() {
        let _serial = SERIAL.lock().await;
        let name = "rel-chaos-slow";
        chaos::inject(name, Fault::Latency(40 * MS)).unwrap();
        let started = Instant::now();
        let first = tokio::spawn(slow_call());
        settle().await;
        let bulkhead = registry().bulkhead(name).unwrap();
        assert_eq!(
            bulkhead.in_flight(),
            1,
            "the delay is spent inside the slot"
        );
        assert_eq!(SLOW_RUNS.load(Ordering::SeqCst), 0);
        assert!(matches!(
            slow_call().await,
            Err(AppError::Resil(resil::Error::BulkheadFull { .. }))
        ));
        assert_eq!(first.await.unwrap(), Ok(1));
        assert_eq!(started.elapsed(), 40 * MS, "delayed once, not per layer");
        chaos::clear(name);
        let started = Instant::now();
        assert_eq!(slow_call().await, Ok(1));
        assert_eq!(started.elapsed(), Duration::ZERO);
        assert_bulkhead_idle(&bulkhead, "after the latency");
    }

    #[circuit_breaker(name = "rel-chaos-breaker-only", half_open_max = 1, threshold = 1, timeout = 10ms)]
    async fn breaker_only() -> Result<u32, AppError> {
        Ok(2)
    }

    #[tokio::test(start_paused = true)]
    async fn latency_on_a_lone_breaker_is_spent_inside_the_permit() {
        let _serial = SERIAL.lock().await;
        let name = "rel-chaos-breaker-only";
        assert_eq!(breaker_only().await, Ok(2));
        let breaker = registry().circuit_breaker(name).unwrap();
        breaker.try_acquire().unwrap().failure();
        advance(10 * MS).await;
        chaos::inject(name, Fault::Latency(30 * MS)).unwrap();
        let started = Instant::now();
        let trial = tokio::spawn(breaker_only());
        settle().await;
        assert_eq!(breaker.state(), CircuitState::HalfOpen);
        assert!(
            breaker.try_acquire().is_err(),
            "the delayed trial holds the only slot"
        );
        assert_eq!(trial.await.unwrap(), Ok(2));
        assert_eq!(started.elapsed(), 30 * MS);
        chaos::clear(name);
    }

    pub(super) static LONE_RUNS: AtomicU32 = AtomicU32::new(0);

    #[bulkhead(name = "rel-chaos-bulkhead-only", max = 1)]
    async fn bulkhead_only() -> Result<u32, AppError> {
        LONE_RUNS.fetch_add(1, Ordering::SeqCst);
        Ok(3)
    }

    #[tokio::test(start_paused = true)]
    async fn errors_on_a_lone_bulkhead_refuse_before_taking_a_slot() {
        let _serial = SERIAL.lock().await;
        // Injected before the policy exists: applies from its first call.
        let name = "rel-chaos-bulkhead-only";
        chaos::inject(name, Fault::Outage).unwrap();
        let result = bulkhead_only().await;
        assert!(injected(&result), "{result:?}");
        assert_eq!(LONE_RUNS.load(Ordering::SeqCst), 0);
        let bulkhead = registry().bulkhead(name).unwrap();
        assert_eq!(bulkhead.snapshot().admitted, 0);
        assert_bulkhead_idle(&bulkhead, "after an injected refusal");
        chaos::clear(name);
        assert_eq!(bulkhead_only().await, Ok(3));
    }

    pub(super) static RETRIED_RUNS: AtomicU32 = AtomicU32::new(0);

    #[retry(name = "rel-chaos-retry", max = 4, initial = 1ms, retry_rejections = true)]
    #[circuit_breaker(name = "rel-chaos-retry", threshold = 10)]
    async fn retried() -> Result<u32, AppError> {
        RETRIED_RUNS.fetch_add(1, Ordering::SeqCst);
        Ok(4)
    }

    #[tokio::test(start_paused = true)]
    async fn a_retry_retries_injected_errors_only_when_told_to() {
        let _serial = SERIAL.lock().await;
        let name = "rel-chaos-retry";
        chaos::inject(name, Fault::Outage).unwrap();
        assert!(injected(&retried().await));
        let view = registry().circuit_breaker(name).unwrap().snapshot();
        assert_eq!(
            view.failures, 4,
            "retry_rejections = true: every attempt tried"
        );
        assert_eq!(registry().retry(name).unwrap().snapshot().exhausted, 1);
        assert_eq!(RETRIED_RUNS.load(Ordering::SeqCst), 0);
        chaos::clear(name);
        assert_eq!(retried().await, Ok(4));
    }

    #[tokio::test]
    async fn faults_replace_their_own_kind_and_clear_removes_them_all() {
        let _serial = SERIAL.lock().await;
        let name = "rel-chaos-list";
        chaos::inject(name, Fault::Error { rate: 0.2 }).unwrap();
        chaos::inject(name, Fault::Error { rate: 0.5 }).unwrap();
        chaos::inject(name, Fault::Latency(MS)).unwrap();
        assert_eq!(
            chaos::faults(name),
            [Fault::Error { rate: 0.5 }, Fault::Latency(MS)]
        );
        for bad in [-0.1, 1.5, f64::NAN, f64::INFINITY] {
            assert!(
                matches!(
                    chaos::inject(name, Fault::Error { rate: bad }),
                    Err(ConfigError::InvalidValue { key: "rate", .. })
                ),
                "{bad}"
            );
        }
        assert_eq!(
            chaos::faults(name).len(),
            2,
            "a refused fault changes nothing"
        );
        chaos::inject("rel-chaos-list-other", Fault::Outage).unwrap();
        chaos::clear(name);
        assert!(chaos::faults(name).is_empty());
        assert_eq!(chaos::faults("rel-chaos-list-other"), [Fault::Outage]);
        chaos::clear_all();
        assert!(chaos::faults("rel-chaos-list-other").is_empty());
    }
}

// ================================================================== soak

mod soak {
    use super::*;

    pub(super) const NAME: &str = "rel-soak";
    pub(super) static BODY_STARTED: AtomicU64 = AtomicU64::new(0);
    pub(super) static BODY_OK: AtomicU64 = AtomicU64::new(0);
    pub(super) static BODY_FAILED: AtomicU64 = AtomicU64::new(0);
    /// Bodies dropped before they finished (their call was cancelled).
    pub(super) static BODY_DROPPED: AtomicU64 = AtomicU64::new(0);

    /// Counts the body as dropped unless it is disarmed on the way out.
    struct Unfinished;

    impl Drop for Unfinished {
        fn drop(&mut self) {
            BODY_DROPPED.fetch_add(1, Ordering::Relaxed);
        }
    }
    static DICE: AtomicU64 = AtomicU64::new(0x9E37_79B9_7F4A_7C15);

    /// A cheap shared pseudo-random number (splitmix64).
    pub(super) fn roll() -> u64 {
        let mut z = DICE.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    #[retry(name = "rel-soak", max = 3, initial = 1ms, max_delay = 2ms)]
    #[circuit_breaker(
        name = "rel-soak",
        threshold = 4,
        timeout = 5ms,
        half_open_max = 2,
        success_threshold = 2
    )]
    #[bulkhead(name = "rel-soak", max = 4, queue = 8, wait = 2ms)]
    pub(super) async fn call() -> Result<u64, AppError> {
        BODY_STARTED.fetch_add(1, Ordering::Relaxed);
        let unfinished = Unfinished;
        let dice = roll();
        let result = match dice % 32 {
            0..=3 => {
                tokio::task::yield_now().await;
                BODY_FAILED.fetch_add(1, Ordering::Relaxed);
                Err(AppError::Upstream)
            }
            4 => {
                tokio::time::sleep(MS).await;
                BODY_OK.fetch_add(1, Ordering::Relaxed);
                Ok(dice)
            }
            _ => {
                tokio::task::yield_now().await;
                BODY_OK.fetch_add(1, Ordering::Relaxed);
                Ok(dice)
            }
        };
        std::mem::forget(unfinished);
        result
    }
}

/// What the callers saw.
#[derive(Debug, Default)]
struct Tally {
    issued: AtomicU64,
    ok: AtomicU64,
    failed: AtomicU64,
    injected: AtomicU64,
    circuit_open: AtomicU64,
    bulkhead_full: AtomicU64,
    cancelled: AtomicU64,
    /// Dropped before their first poll: a number fixed by the plan below.
    unpolled: AtomicU64,
}

async fn soak(total: u64) {
    let _serial = SERIAL.lock().await;
    const TASKS: u64 = 8;
    // Register, then start from zero.
    let _ = soak::call().await;
    for kind in [
        PolicyKind::CircuitBreaker,
        PolicyKind::Bulkhead,
        PolicyKind::Retry,
    ] {
        registry().reset(kind, soak::NAME).unwrap();
    }
    for counter in [
        &soak::BODY_STARTED,
        &soak::BODY_OK,
        &soak::BODY_FAILED,
        &soak::BODY_DROPPED,
    ] {
        counter.store(0, Ordering::SeqCst);
    }
    let tally = Arc::new(Tally::default());
    let footprint = registry()
        .circuit_breaker(soak::NAME)
        .unwrap()
        .memory_footprint();

    #[cfg(feature = "chaos")]
    let chaos_monkey = tokio::spawn(async {
        use resil::chaos::{self, Fault};
        // Cycle through the faults until the callers are done: a few
        // milliseconds of each, then a healthy spell.
        for round in 0u64.. {
            let (fault, lasts) = match round % 4 {
                0 => (Fault::Error { rate: 0.05 }, 5 * MS),
                1 => (Fault::Latency(MS), 5 * MS),
                2 => (Fault::Outage, 2 * MS),
                _ => {
                    tokio::time::sleep(10 * MS).await;
                    continue;
                }
            };
            chaos::inject(soak::NAME, fault).unwrap();
            tokio::time::sleep(lasts).await;
            chaos::clear(soak::NAME);
        }
    });

    let workers: Vec<_> = (0..TASKS)
        .map(|task| {
            let tally = Arc::clone(&tally);
            let calls = total / TASKS + u64::from(task < total % TASKS);
            tokio::spawn(async move {
                for call in 0..calls {
                    tally.issued.fetch_add(1, Ordering::Relaxed);
                    let dice = soak::roll();
                    // How the caller ends the call is fixed by its index, so
                    // how many are dropped unpolled is known exactly.
                    let outcome = match call % 20 {
                        // Dropped before its first poll.
                        0 => {
                            tally.unpolled.fetch_add(1, Ordering::Relaxed);
                            cancel_after(0, soak::call()).await
                        }
                        // Dropped after a few polls, unless it finished.
                        1 => cancel_after(1 + (dice >> 8) as usize % 5, soak::call()).await,
                        // Dropped when a short deadline runs out.
                        2 => tokio::time::timeout(MS, soak::call()).await.ok(),
                        _ => Some(soak::call().await),
                    };
                    if let Some(Err(AppError::Resil(resil::Error::CircuitOpen { .. }))) = &outcome {
                        // Back off as a real client would, instead of spinning
                        // through rejections while the breaker is open.
                        tokio::time::sleep(MS).await;
                    }
                    let counter = match &outcome {
                        None => &tally.cancelled,
                        Some(Ok(_)) => &tally.ok,
                        Some(Err(AppError::Upstream)) => &tally.failed,
                        Some(Err(AppError::Resil(error))) => match error {
                            resil::Error::CircuitOpen { .. } => &tally.circuit_open,
                            resil::Error::BulkheadFull { .. } => &tally.bulkhead_full,
                            #[cfg(feature = "chaos")]
                            e if resil::chaos::is_injected(e) => &tally.injected,
                            other => panic!("unexpected rejection {other:?}"),
                        },
                    };
                    counter.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();

    let all = futures::future::join_all(workers);
    let joined = tokio::time::timeout(Duration::from_secs(120), all)
        .await
        .expect("a soak task is stuck");
    for result in joined {
        result.expect("a soak task panicked");
    }
    #[cfg(feature = "chaos")]
    {
        chaos_monkey.abort();
        let _ = chaos_monkey.await;
        resil::chaos::clear(soak::NAME);
    }

    let t = &*tally;
    let get = |c: &AtomicU64| c.load(Ordering::SeqCst);
    let (ok, failed, injected) = (get(&t.ok), get(&t.failed), get(&t.injected));
    let (open, full, cancelled) = (
        get(&t.circuit_open),
        get(&t.bulkhead_full),
        get(&t.cancelled),
    );
    let summary = format!(
        "issued {}, ok {ok}, failed {failed}, injected {injected}, circuit open {open}, \
         bulkhead full {full}, cancelled {cancelled}",
        get(&t.issued)
    );
    eprintln!("soak: {summary}");

    // Every call is accounted for: calls = successes + failures + rejections
    // (+ the ones the caller itself cancelled).
    assert_eq!(get(&t.issued), total, "{summary}");
    assert_eq!(
        ok + failed + injected + open + full + cancelled,
        total,
        "{summary}"
    );
    // Each task drops its calls 0, 20, 40, ... before their first poll.
    let unpolled: u64 = (0..TASKS)
        .map(|task| {
            let calls = total / TASKS + u64::from(task < total % TASKS);
            calls.div_ceil(20)
        })
        .sum();
    assert_eq!(get(&t.unpolled), unpolled, "{summary}");
    assert!(cancelled >= unpolled, "{summary}");
    // Every body that started either finished or was dropped mid-way, and a
    // finished success reaches its caller in the same poll: no success is
    // lost to a cancellation.
    let (started, body_ok, body_failed, body_dropped) = (
        get(&soak::BODY_STARTED),
        get(&soak::BODY_OK),
        get(&soak::BODY_FAILED),
        get(&soak::BODY_DROPPED),
    );
    let bodies = format!(
        "{summary}\nbodies: started {started}, ok {body_ok}, failed {body_failed}, \
         dropped {body_dropped}"
    );
    assert_eq!(started, body_ok + body_failed + body_dropped, "{bodies}");
    assert_eq!(ok, body_ok, "{bodies}");

    let breaker = registry().circuit_breaker(soak::NAME).unwrap();
    let bulkhead = registry().bulkhead(soak::NAME).unwrap();
    let retry = registry().retry(soak::NAME).unwrap();
    let (b, h, r) = (breaker.snapshot(), bulkhead.snapshot(), retry.snapshot());
    let detail = format!("{summary}\nbreaker {b:?}\nbulkhead {h:?}\nretry {r:?}");

    // Nothing left held, and memory did not grow.
    assert_eq!((h.in_flight, h.queued, h.available), (0, 0, 4), "{detail}");
    assert_eq!(breaker.memory_footprint(), footprint, "{detail}");
    // The policies' counters agree with the callers and the body.
    assert_eq!(b.successes, get(&soak::BODY_OK), "{detail}");
    assert_eq!(b.failures, get(&soak::BODY_FAILED) + injected, "{detail}");
    assert_eq!(b.rejected, open, "{detail}");
    assert_eq!(b.ignored, 0, "{detail}");
    assert_eq!(h.rejected, full, "{detail}");
    if cfg!(feature = "chaos") {
        // Injected latency is spent inside the slot, before the body, and a
        // cancellation can land there.
        assert!(h.admitted >= get(&soak::BODY_STARTED), "{detail}");
        assert!(
            h.admitted <= get(&soak::BODY_STARTED) + cancelled,
            "{detail}"
        );
    } else {
        assert_eq!(h.admitted, get(&soak::BODY_STARTED), "{detail}");
    }
    assert_eq!(r.calls, total - cancelled, "{detail}");
    assert_eq!(r.succeeded_first + r.succeeded_after_retry, ok, "{detail}");
    assert_eq!(r.failed, failed + injected + open + full, "{detail}");
    // And the breaker is not stuck: once its timeout passes it lets a call
    // through whatever state the soak left it in, and closes again.
    tokio::time::sleep(10 * MS).await;
    assert_breaker_admits(&breaker, &detail);
    for _ in 0..50 {
        if breaker.state() == CircuitState::Closed {
            break;
        }
        let _ = soak::call().await;
        tokio::time::sleep(6 * MS).await;
    }
    assert_eq!(breaker.state(), CircuitState::Closed, "{detail}");
}

fn soak_calls(default: u64) -> u64 {
    std::env::var("RESIL_SOAK_CALLS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(default)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn soak_short() {
    soak(soak_calls(10_000)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "long soak: run with --ignored (release build recommended)"]
async fn soak_long() {
    soak(200_000).await;
}
