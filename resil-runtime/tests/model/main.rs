//! Property tests: random sequences of operations applied both to a policy
//! and to a small, sequential reference model written here from the
//! documented behaviour. States, admissions, rejections and counters must
//! agree after every step.
//!
//! Time is a paused tokio clock, moved only by `tokio::time::advance`, so
//! deadlines and waits are exact. Case counts are kept moderate (see
//! `CASES`); raise them locally with `PROPTEST_CASES=...`.

use std::collections::VecDeque;
use std::future::Future;
use std::panic::{self, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::Once;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use proptest::prelude::*;
use resil_runtime::{
    Backoff, Bulkhead, BulkheadConfig, BulkheadPermit, CircuitBreaker, CircuitBreakerConfig,
    CircuitPermit, CircuitState, Error, Jitter, RetryConfig, RetryPolicy, RetryStep,
};

const CASES: u32 = 256;

/// Moderate case counts (`PROPTEST_CASES` overrides them), and no
/// regression files written into the tree.
fn config(cases: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(cases);
    ProptestConfig {
        failure_persistence: None,
        ..ProptestConfig::with_cases(cases)
    }
}
const MS: Duration = Duration::from_millis(1);

fn paused_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap()
}

/// The payload of the panics the models raise on purpose; the hook below
/// keeps them off the test output.
struct ModelPanic;

fn quiet_model_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let default = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if !info.payload().is::<ModelPanic>() {
                default(info);
            }
        }));
    });
}

// ======================================================= circuit breaker

/// The reference breaker: the documented state machine, sequential and
/// spelled out, with `u64` generations and a `VecDeque` window.
#[derive(Debug, Clone, Copy, PartialEq)]
enum ModelState {
    Closed { failures: u32 },
    Open { deadline_ms: u64 },
    HalfOpen { in_flight: u32, successes: u32 },
    ForcedOpen,
    ForcedClosed,
}

#[derive(Debug, Clone, Copy)]
struct ModelPermit {
    generation: u64,
    trial: bool,
}

#[derive(Debug)]
struct BreakerModel {
    config: CircuitBreakerConfig,
    state: ModelState,
    generation: u64,
    window: VecDeque<bool>,
    now_ms: u64,
    successes: u64,
    failures: u64,
    ignored: u64,
    rejected: u64,
}

impl BreakerModel {
    fn new(config: CircuitBreakerConfig) -> Self {
        Self {
            config,
            state: ModelState::Closed { failures: 0 },
            generation: 0,
            window: VecDeque::new(),
            now_ms: 0,
            successes: 0,
            failures: 0,
            ignored: 0,
            rejected: 0,
        }
    }

    fn timeout_ms(&self) -> u64 {
        self.config.timeout.as_millis() as u64
    }

    fn go(&mut self, to: ModelState) {
        self.state = to;
        self.generation += 1;
    }

    /// Admits (with the permit's generation and trial flag) or rejects
    /// (with the `retry_after` the rejection carries).
    fn acquire(&mut self) -> Result<ModelPermit, Duration> {
        let result = match self.state {
            ModelState::Closed { .. } | ModelState::ForcedClosed => Ok(false),
            ModelState::Open { deadline_ms } if self.now_ms < deadline_ms => {
                Err(MS * (deadline_ms - self.now_ms) as u32)
            }
            ModelState::Open { .. } => {
                self.go(ModelState::HalfOpen {
                    in_flight: 1,
                    successes: 0,
                });
                Ok(true)
            }
            ModelState::HalfOpen {
                in_flight,
                successes,
            } => {
                if in_flight >= self.config.half_open_max {
                    Err(Duration::ZERO)
                } else {
                    self.state = ModelState::HalfOpen {
                        in_flight: in_flight + 1,
                        successes,
                    };
                    Ok(true)
                }
            }
            ModelState::ForcedOpen => Err(self.config.timeout),
        };
        match result {
            Ok(trial) => Ok(ModelPermit {
                generation: self.generation,
                trial,
            }),
            Err(retry_after) => {
                self.rejected += 1;
                Err(retry_after)
            }
        }
    }

    /// Records one call in the rate window; `(calls, failures)` after it.
    fn record(&mut self, failed: bool) -> Option<(u32, u32)> {
        self.config.failure_rate?;
        self.window.push_back(failed);
        if self.window.len() > self.config.window as usize {
            self.window.pop_front();
        }
        let failures = self.window.iter().filter(|&&f| f).count() as u32;
        Some((self.window.len() as u32, failures))
    }

    fn rate(&self) -> Option<f64> {
        self.config.failure_rate?;
        let failures = self.window.iter().filter(|&&f| f).count();
        Some(if self.window.is_empty() {
            0.0
        } else {
            failures as f64 / self.window.len() as f64
        })
    }

    fn current_period(&self, permit: ModelPermit) -> bool {
        permit.trial && permit.generation == self.generation
    }

    fn success(&mut self, permit: ModelPermit) {
        self.successes += 1;
        self.record(false);
        match self.state {
            ModelState::Closed { .. } => self.state = ModelState::Closed { failures: 0 },
            ModelState::HalfOpen {
                in_flight,
                successes,
            } if self.current_period(permit) => {
                if successes + 1 >= self.config.success_threshold {
                    self.go(ModelState::Closed { failures: 0 });
                    self.window.clear();
                } else {
                    self.state = ModelState::HalfOpen {
                        in_flight: in_flight.saturating_sub(1),
                        successes: successes + 1,
                    };
                }
            }
            _ => {}
        }
    }

    fn failure(&mut self, permit: ModelPermit) {
        self.failures += 1;
        let rate_reached = match (self.record(true), self.config.failure_rate) {
            (Some((calls, failures)), Some(limit)) => {
                calls >= self.config.effective_min_calls()
                    && f64::from(failures) / f64::from(calls) >= limit
            }
            _ => false,
        };
        let open = ModelState::Open {
            deadline_ms: self.now_ms + self.timeout_ms(),
        };
        match self.state {
            // Only a call from the current closed period extends the streak:
            // a slow call from before the breaker last opened cannot re-open
            // it (nor can a trial that finished after its period closed).
            ModelState::Closed { failures } if permit.generation == self.generation => {
                if failures + 1 >= self.config.threshold || rate_reached {
                    self.go(open);
                } else {
                    self.state = ModelState::Closed {
                        failures: failures + 1,
                    };
                }
            }
            ModelState::HalfOpen { .. } if self.current_period(permit) => self.go(open),
            _ => {}
        }
    }

    /// An ignored error, an inner rejection or a cancellation: only the
    /// trial slot matters.
    fn release(&mut self, permit: ModelPermit, ignored: bool) {
        if ignored {
            self.ignored += 1;
        }
        if let ModelState::HalfOpen {
            in_flight,
            successes,
        } = self.state
            && self.current_period(permit)
            && in_flight > 0
        {
            self.state = ModelState::HalfOpen {
                in_flight: in_flight - 1,
                successes,
            };
        }
    }

    fn set(&mut self, to: ModelState) {
        self.go(to);
        self.window.clear();
    }

    fn reset(&mut self) {
        self.set(ModelState::Closed { failures: 0 });
        self.successes = 0;
        self.failures = 0;
        self.ignored = 0;
        self.rejected = 0;
    }

    fn public_state(&self) -> CircuitState {
        match self.state {
            ModelState::Closed { .. } => CircuitState::Closed,
            ModelState::Open { .. } => CircuitState::Open,
            ModelState::HalfOpen { .. } => CircuitState::HalfOpen,
            ModelState::ForcedOpen => CircuitState::ForcedOpen,
            ModelState::ForcedClosed => CircuitState::ForcedClosed,
        }
    }

    fn check(&self, breaker: &CircuitBreaker, step: usize) {
        let view = breaker.snapshot();
        let context = format!("step {step}: model {self:?}\nreal {view:?}");
        assert_eq!(view.state, self.public_state(), "{context}");
        assert_eq!(
            (view.successes, view.failures, view.ignored, view.rejected),
            (self.successes, self.failures, self.ignored, self.rejected),
            "{context}"
        );
        assert_eq!(
            view.calls,
            self.successes + self.failures + self.ignored + self.rejected,
            "{context}"
        );
        let streak = match self.state {
            ModelState::Closed { failures } => failures,
            _ => 0,
        };
        assert_eq!(view.consecutive_failures, streak, "{context}");
        assert_eq!(
            view.window_calls,
            self.config.failure_rate.map(|_| self.window.len() as u32),
            "{context}"
        );
        assert_eq!(view.failure_rate, self.rate(), "{context}");
        let half_open_in = match self.state {
            ModelState::Open { deadline_ms } => Some(deadline_ms.saturating_sub(self.now_ms)),
            _ => None,
        };
        assert_eq!(view.half_open_in_ms, half_open_in, "{context}");
    }
}

#[derive(Debug, Clone, Copy)]
enum Outcome {
    Success,
    Failure,
    Ignored,
    /// An inner policy refused the call: `release`.
    Released,
    /// The future was dropped: the permit is dropped unsettled.
    Cancelled,
    /// The body panicked: the permit is dropped while unwinding.
    Panicked,
}

#[derive(Debug, Clone)]
enum BreakerOp {
    Acquire,
    Settle(prop::sample::Index, Outcome),
    Advance(u64),
    ForceOpen,
    ForceClosed,
    Reset,
}

fn outcome() -> impl Strategy<Value = Outcome> {
    prop_oneof![
        4 => Just(Outcome::Success),
        4 => Just(Outcome::Failure),
        1 => Just(Outcome::Ignored),
        1 => Just(Outcome::Released),
        1 => Just(Outcome::Cancelled),
        1 => Just(Outcome::Panicked),
    ]
}

fn breaker_op() -> impl Strategy<Value = BreakerOp> {
    prop_oneof![
        6 => Just(BreakerOp::Acquire),
        6 => (any::<prop::sample::Index>(), outcome()).prop_map(|(i, o)| BreakerOp::Settle(i, o)),
        3 => prop_oneof![(0u64..=50), (100u64..=500)].prop_map(BreakerOp::Advance),
        1 => prop_oneof![
            Just(BreakerOp::ForceOpen),
            Just(BreakerOp::ForceClosed),
            Just(BreakerOp::Reset),
        ],
    ]
}

fn breaker_config() -> impl Strategy<Value = CircuitBreakerConfig> {
    (
        1u32..=5,
        prop::option::of(prop_oneof![Just(0.25), Just(0.5), Just(0.75), Just(1.0)]),
        1u32..=8,
        any::<prop::sample::Index>(),
        any::<bool>(),
        1u64..=3,
        1u32..=3,
        1u32..=3,
    )
        .prop_map(
            |(threshold, rate, window, min, explicit_min, timeout, half_open_max, success)| {
                let mut config = CircuitBreakerConfig::DEFAULT
                    .threshold(threshold)
                    .window(window)
                    .timeout(MS * 100 * timeout as u32)
                    .half_open_max(half_open_max)
                    .success_threshold(success);
                if let Some(rate) = rate {
                    config = config.failure_rate(rate);
                }
                if explicit_min {
                    config = config.min_calls(1 + min.index(window as usize) as u32);
                }
                config
            },
        )
}

fn settle(permit: CircuitPermit<'_>, outcome: Outcome) {
    match outcome {
        Outcome::Success => permit.success(),
        Outcome::Failure => permit.failure(),
        Outcome::Ignored => permit.ignored(),
        Outcome::Released => permit.release(),
        Outcome::Cancelled => drop(permit),
        Outcome::Panicked => {
            let unwound = panic::catch_unwind(AssertUnwindSafe(move || {
                let _permit = permit;
                panic::panic_any(ModelPanic);
            }));
            assert!(unwound.is_err_and(|payload| payload.is::<ModelPanic>()));
        }
    }
}

fn run_breaker(config: CircuitBreakerConfig, ops: Vec<BreakerOp>) {
    quiet_model_panics();
    paused_runtime().block_on(async {
        let breaker = CircuitBreaker::new("model-breaker", config).unwrap();
        let mut model = BreakerModel::new(config);
        let mut held: Vec<(CircuitPermit<'_>, ModelPermit)> = Vec::new();
        for (step, op) in ops.into_iter().enumerate() {
            match op {
                BreakerOp::Acquire => match (breaker.try_acquire(), model.acquire()) {
                    (Ok(permit), Ok(expected)) => {
                        assert_eq!(permit.is_trial(), expected.trial, "step {step}");
                        held.push((permit, expected));
                    }
                    (Err(Error::CircuitOpen { retry_after, .. }), Err(expected)) => {
                        assert_eq!(retry_after, expected, "step {step}: retry_after");
                    }
                    (real, expected) => {
                        panic!("step {step}: real {real:?}, model {expected:?}, {model:?}")
                    }
                },
                BreakerOp::Settle(index, outcome) => {
                    if held.is_empty() {
                        continue;
                    }
                    let (permit, expected) = held.remove(index.index(held.len()));
                    settle(permit, outcome);
                    match outcome {
                        Outcome::Success => model.success(expected),
                        Outcome::Failure | Outcome::Panicked => model.failure(expected),
                        Outcome::Ignored => model.release(expected, true),
                        Outcome::Released | Outcome::Cancelled => model.release(expected, false),
                    }
                }
                BreakerOp::Advance(ms) => {
                    tokio::time::advance(MS * ms as u32).await;
                    model.now_ms += ms;
                }
                BreakerOp::ForceOpen => {
                    breaker.force_open();
                    model.set(ModelState::ForcedOpen);
                }
                BreakerOp::ForceClosed => {
                    breaker.force_closed();
                    model.set(ModelState::ForcedClosed);
                }
                BreakerOp::Reset => {
                    breaker.reset();
                    model.reset();
                }
            }
            model.check(&breaker, step);
        }
        // Whatever happened, settling everything still held and waiting out
        // the timeout leaves a breaker that admits a call.
        for (permit, _) in held.drain(..) {
            permit.release();
        }
        tokio::time::advance(config.timeout).await;
        if !matches!(breaker.state(), CircuitState::ForcedOpen) {
            breaker
                .try_acquire()
                .expect("an idle breaker past its timeout admits a call")
                .release();
        }
    });
}

proptest! {
    #![proptest_config(config(CASES))]

    /// The breaker agrees with the reference model step by step.
    #[test]
    fn circuit_breaker_matches_the_model(
        config in breaker_config(),
        ops in prop::collection::vec(breaker_op(), 1..200),
    ) {
        run_breaker(config, ops);
    }
}

/// Outcomes that arrive after their period ended change no later period:
/// the generation each permit carries is checked by every outcome.
mod stale_outcomes {
    use super::*;

    const TIMEOUT: Duration = Duration::from_millis(100);

    /// Threshold 1, two trial slots, one success closes; the breaker is
    /// opened once and is past its timeout.
    fn opened() -> CircuitBreaker {
        let breaker = CircuitBreaker::new(
            "stale",
            CircuitBreakerConfig::DEFAULT
                .threshold(1)
                .half_open_max(2)
                .success_threshold(1)
                .timeout(TIMEOUT),
        )
        .unwrap();
        breaker.try_acquire().unwrap().failure();
        breaker
    }

    /// Leaves `breaker` half-open in a *new* period with one trial in flight,
    /// and returns that trial and a trial of the ended period.
    async fn two_periods(breaker: &CircuitBreaker) -> (CircuitPermit<'_>, CircuitPermit<'_>) {
        tokio::time::advance(TIMEOUT).await;
        let old = breaker.try_acquire().unwrap();
        let failing = breaker.try_acquire().unwrap();
        assert!(old.is_trial() && failing.is_trial());
        failing.failure();
        assert_eq!(breaker.state(), CircuitState::Open);
        tokio::time::advance(TIMEOUT).await;
        let current = breaker.try_acquire().unwrap();
        assert!(current.is_trial());
        assert_eq!(breaker.state(), CircuitState::HalfOpen);
        (old, current)
    }

    #[tokio::test(start_paused = true)]
    async fn an_old_trial_success_does_not_close() {
        let breaker = opened();
        let (old, _current) = two_periods(&breaker).await;
        old.success();
        assert_eq!(breaker.state(), CircuitState::HalfOpen);
    }

    #[tokio::test(start_paused = true)]
    async fn an_old_trial_failure_does_not_reopen() {
        let breaker = opened();
        let (old, _current) = two_periods(&breaker).await;
        old.failure();
        assert_eq!(breaker.state(), CircuitState::HalfOpen);
    }

    #[tokio::test(start_paused = true)]
    async fn an_old_trial_release_frees_no_slot_of_the_new_period() {
        let breaker = opened();
        let (old, _current) = two_periods(&breaker).await;
        old.release();
        let second = breaker.try_acquire().expect("the new period's second slot");
        assert!(
            breaker.try_acquire().is_err(),
            "a slot of the old period was given back to the new one"
        );
        second.release();
    }

    /// The documented case: "a slow call from before the breaker opened"
    /// cannot re-open it once it has closed again.
    #[tokio::test(start_paused = true)]
    async fn a_slow_call_from_before_the_opening_does_not_reopen() {
        let breaker = CircuitBreaker::new(
            "stale-slow",
            CircuitBreakerConfig::DEFAULT
                .threshold(1)
                .success_threshold(1)
                .timeout(TIMEOUT),
        )
        .unwrap();
        let slow = breaker.try_acquire().unwrap();
        breaker.try_acquire().unwrap().failure();
        tokio::time::advance(TIMEOUT).await;
        breaker.try_acquire().unwrap().success();
        assert_eq!(breaker.state(), CircuitState::Closed);
        slow.failure();
        assert_eq!(breaker.state(), CircuitState::Closed);
        assert_eq!(breaker.snapshot().failures, 2, "still counted as a failure");
    }

    /// Likewise a trial still in flight when another trial closed the
    /// breaker.
    #[tokio::test(start_paused = true)]
    async fn a_trial_that_outlives_its_period_does_not_reopen() {
        let breaker = opened();
        tokio::time::advance(TIMEOUT).await;
        let closing = breaker.try_acquire().unwrap();
        let late = breaker.try_acquire().unwrap();
        closing.success();
        assert_eq!(breaker.state(), CircuitState::Closed);
        late.failure();
        assert_eq!(breaker.state(), CircuitState::Closed);
    }
}

proptest! {
    #![proptest_config(config(32))]

    /// Memory is fixed by the configuration: one bit per window slot, and
    /// no call, however many, grows it.
    #[test]
    fn breaker_memory_is_bounded_by_its_configuration(
        window in 1u32..=8192,
        outcomes in prop::collection::vec(any::<bool>(), 0..300),
    ) {
        let breaker = CircuitBreaker::new(
            "model-memory",
            CircuitBreakerConfig::DEFAULT.failure_rate(0.5).window(window).threshold(u32::MAX),
        )
        .unwrap();
        let expected = std::mem::size_of::<CircuitBreaker>() + window.div_ceil(64) as usize * 8;
        prop_assert_eq!(breaker.memory_footprint(), expected);
        prop_assert!(expected <= std::mem::size_of::<CircuitBreaker>() + 1024);
        breaker.force_closed();
        for failed in outcomes {
            let permit = breaker.try_acquire().unwrap();
            if failed { permit.failure() } else { permit.success() }
        }
        prop_assert_eq!(breaker.memory_footprint(), expected);
    }
}

// ============================================================== bulkhead

#[derive(Debug, Clone)]
enum BulkheadOp {
    TryAcquire,
    Acquire,
    Release(prop::sample::Index),
    PollWaiters,
    Cancel(prop::sample::Index),
    Advance(u64),
}

fn bulkhead_op() -> impl Strategy<Value = BulkheadOp> {
    prop_oneof![
        3 => Just(BulkheadOp::TryAcquire),
        5 => Just(BulkheadOp::Acquire),
        5 => any::<prop::sample::Index>().prop_map(BulkheadOp::Release),
        3 => Just(BulkheadOp::PollWaiters),
        1 => any::<prop::sample::Index>().prop_map(BulkheadOp::Cancel),
        2 => (0u64..=300).prop_map(BulkheadOp::Advance),
    ]
}

fn bulkhead_config() -> impl Strategy<Value = BulkheadConfig> {
    (1u32..=3, 0u32..=3, 1u64..=4).prop_map(|(max, queue, wait)| {
        BulkheadConfig::DEFAULT
            .max_concurrent(max)
            .queue(queue)
            .wait(MS * 50 * wait as u32)
    })
}

#[derive(Debug)]
struct ModelWaiter {
    id: u64,
    since_ms: u64,
    granted: bool,
}

/// The reference bulkhead: a running count and a FIFO of waiters; a slot
/// freed while someone waits goes to the oldest waiter.
#[derive(Debug, Default)]
struct BulkheadModel {
    max: u32,
    queue: u32,
    wait_ms: u64,
    now_ms: u64,
    running: u32,
    /// Waiters still in the queue (not granted).
    queued: VecDeque<u64>,
    /// Every pending future, in creation order.
    waiters: Vec<ModelWaiter>,
    next_id: u64,
    admitted: u64,
    admitted_after_wait: u64,
    rejected: u64,
    timed_out: u64,
    wait_ms_total: u64,
}

enum Admission {
    Now,
    Queued(u64),
    Refused,
}

impl BulkheadModel {
    fn new(config: BulkheadConfig) -> Self {
        Self {
            max: config.max_concurrent,
            queue: config.queue,
            wait_ms: config.wait.as_millis() as u64,
            ..Self::default()
        }
    }

    fn try_acquire(&mut self) -> bool {
        if self.queued.is_empty() && self.running < self.max {
            self.running += 1;
            self.admitted += 1;
            true
        } else {
            self.rejected += 1;
            false
        }
    }

    fn acquire(&mut self) -> Admission {
        if self.queued.is_empty() && self.running < self.max {
            self.running += 1;
            self.admitted += 1;
            Admission::Now
        } else if (self.queued.len() as u32) < self.queue {
            let id = self.next_id;
            self.next_id += 1;
            self.queued.push_back(id);
            self.waiters.push(ModelWaiter {
                id,
                since_ms: self.now_ms,
                granted: false,
            });
            Admission::Queued(id)
        } else {
            self.rejected += 1;
            Admission::Refused
        }
    }

    /// A slot comes free: to the oldest waiter, else back to the pool.
    fn release(&mut self) {
        match self.queued.pop_front() {
            Some(id) => {
                let waiter = self.waiters.iter_mut().find(|w| w.id == id).unwrap();
                waiter.granted = true;
            }
            None => self.running -= 1,
        }
    }

    /// What polling waiter `id` gives: `Some(true)` admitted, `Some(false)`
    /// timed out, `None` still waiting.
    fn poll(&mut self, id: u64) -> Option<bool> {
        let position = self.waiters.iter().position(|w| w.id == id).unwrap();
        let waiter = &self.waiters[position];
        let waited = self.now_ms - waiter.since_ms;
        if waiter.granted {
            self.waiters.remove(position);
            self.admitted += 1;
            self.admitted_after_wait += 1;
            self.wait_ms_total += waited;
            Some(true)
        } else if waited >= self.wait_ms {
            self.waiters.remove(position);
            self.queued.retain(|&q| q != id);
            self.rejected += 1;
            self.timed_out += 1;
            self.wait_ms_total += waited;
            Some(false)
        } else {
            None
        }
    }

    fn cancel(&mut self, id: u64) {
        let position = self.waiters.iter().position(|w| w.id == id).unwrap();
        let waiter = self.waiters.remove(position);
        if waiter.granted {
            // Handed a slot it never used: it passes the slot on.
            self.release();
        } else {
            self.queued.retain(|&q| q != id);
        }
    }

    fn check(&self, bulkhead: &Bulkhead, step: usize) {
        let view = bulkhead.snapshot();
        let context = format!("step {step}: model {self:?}\nreal {view:?}");
        assert_eq!(view.in_flight, self.running, "{context}");
        assert_eq!(view.queued as usize, self.queued.len(), "{context}");
        assert!(view.queued <= self.queue, "the queue is bounded: {context}");
        assert_eq!(view.available, self.max - self.running, "{context}");
        assert_eq!(
            (
                view.admitted,
                view.admitted_after_wait,
                view.rejected,
                view.timed_out
            ),
            (
                self.admitted,
                self.admitted_after_wait,
                self.rejected,
                self.timed_out
            ),
            "{context}"
        );
        assert_eq!(view.calls, self.admitted + self.rejected, "{context}");
        assert_eq!(view.total_wait_ms, self.wait_ms_total, "{context}");
    }
}

type Acquire<'a> = Pin<Box<dyn Future<Output = Result<BulkheadPermit<'a>, Error>> + 'a>>;

fn poll_once<'a>(future: &mut Acquire<'a>) -> Poll<Result<BulkheadPermit<'a>, Error>> {
    future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
}

fn run_bulkhead(config: BulkheadConfig, ops: Vec<BulkheadOp>) {
    paused_runtime().block_on(async {
        let bulkhead = Bulkhead::new("model-bulkhead", config).unwrap();
        let mut model = BulkheadModel::new(config);
        let mut held: Vec<BulkheadPermit<'_>> = Vec::new();
        let mut pending: Vec<(u64, Acquire<'_>)> = Vec::new();
        for (step, op) in ops.into_iter().enumerate() {
            match op {
                BulkheadOp::TryAcquire => {
                    let real = bulkhead.try_acquire();
                    assert_eq!(real.is_ok(), model.try_acquire(), "step {step}");
                    held.extend(real.ok());
                }
                BulkheadOp::Acquire => {
                    let mut future: Acquire<'_> = Box::pin(bulkhead.acquire());
                    match (poll_once(&mut future), model.acquire()) {
                        (Poll::Ready(Ok(permit)), Admission::Now) => held.push(permit),
                        (Poll::Pending, Admission::Queued(id)) => pending.push((id, future)),
                        (Poll::Ready(Err(Error::BulkheadFull { .. })), Admission::Refused) => {}
                        (real, _) => panic!("step {step}: real {:?}, model {model:?}", real.map(|r| r.is_ok())),
                    }
                }
                BulkheadOp::Release(index) => {
                    if !held.is_empty() {
                        drop(held.swap_remove(index.index(held.len())));
                        model.release();
                    }
                }
                BulkheadOp::PollWaiters => {
                    let mut still = Vec::new();
                    for (id, mut future) in pending.drain(..) {
                        match (poll_once(&mut future), model.poll(id)) {
                            (Poll::Ready(Ok(permit)), Some(true)) => held.push(permit),
                            (Poll::Ready(Err(Error::BulkheadFull { .. })), Some(false)) => {}
                            (Poll::Pending, None) => still.push((id, future)),
                            (real, expected) => panic!(
                                "step {step}: waiter {id}: real {:?}, model {expected:?}, {model:?}",
                                real.map(|r| r.is_ok())
                            ),
                        }
                    }
                    pending = still;
                }
                BulkheadOp::Cancel(index) => {
                    if !pending.is_empty() {
                        let (id, future) = pending.remove(index.index(pending.len()));
                        drop(future);
                        model.cancel(id);
                    }
                }
                BulkheadOp::Advance(ms) => {
                    tokio::time::advance(MS * ms as u32).await;
                    model.now_ms += ms;
                }
            }
            model.check(&bulkhead, step);
        }
        // Give everything back: nothing may be left running or queued.
        drop(pending);
        drop(held);
        let view = bulkhead.snapshot();
        assert_eq!((view.in_flight, view.queued), (0, 0), "{view:?}");
    });
}

proptest! {
    #![proptest_config(config(CASES))]

    /// The bulkhead agrees with the reference model step by step, waits
    /// and their timeouts included.
    #[test]
    fn bulkhead_matches_the_model(
        config in bulkhead_config(),
        ops in prop::collection::vec(bulkhead_op(), 1..120),
    ) {
        run_bulkhead(config, ops);
    }
}

// ================================================================= retry

fn retry_config() -> impl Strategy<Value = RetryConfig> {
    (
        1u32..=8,
        prop_oneof![
            Just(Backoff::Exponential),
            Just(Backoff::Linear),
            Just(Backoff::Fibonacci),
            Just(Backoff::Constant),
        ],
        prop_oneof![
            Just(Jitter::None),
            Just(Jitter::Full),
            Just(Jitter::Equal),
            Just(Jitter::Decorrelated),
        ],
        1u64..=200,
        1u64..=50,
        1.0f64..=4.0,
    )
        .prop_map(|(max, backoff, jitter, initial, spread, multiplier)| {
            RetryConfig::DEFAULT
                .max_attempts(max)
                .backoff(backoff)
                .jitter(jitter)
                .initial(MS * initial as u32)
                .max_delay(MS * (initial * spread) as u32)
                .multiplier(multiplier)
        })
}

/// The documented wait after failed attempt `n` before jitter, in seconds.
fn model_base_seconds(config: &RetryConfig, n: u32) -> f64 {
    let initial = config.initial.as_secs_f64();
    let raw = match config.backoff {
        Backoff::Exponential => initial * config.multiplier.powf(f64::from(n) - 1.0),
        Backoff::Linear => initial * f64::from(n),
        Backoff::Fibonacci => {
            let (mut a, mut b) = (1.0_f64, 1.0_f64);
            for _ in 1..n {
                (a, b) = (b, a + b);
            }
            initial * a
        }
        Backoff::Constant => initial,
    };
    raw.min(config.max_delay.as_secs_f64())
}

fn check_schedule(config: RetryConfig) {
    let policy = RetryPolicy::new("model-retry", config).unwrap();
    let mut run = policy.start();
    let mut delays = Vec::new();
    loop {
        let failed: Result<(), ()> = Err(());
        match run.next(failed, |_| true, |_| None) {
            RetryStep::Retry(delay) => delays.push(delay),
            RetryStep::Done(result) => {
                assert!(result.is_err());
                break;
            }
        }
        assert!(delays.len() < 64, "the schedule never ends");
    }
    assert_eq!(delays.len() as u32, config.max_attempts - 1, "{config:?}");

    let mut previous = Duration::ZERO;
    for (i, &delay) in delays.iter().enumerate() {
        let n = i as u32 + 1;
        let base = config.base_delay(n);
        let model = model_base_seconds(&config, n);
        assert!(
            (base.as_secs_f64() - model).abs() <= 1e-6,
            "{config:?}: base after attempt {n} is {base:?}, documented {model}s"
        );
        assert!(
            delay <= config.max_delay,
            "{config:?}: {delay:?} above max_delay"
        );
        let (low, high) = match config.jitter {
            Jitter::None => (base, base),
            Jitter::Full => (Duration::ZERO, base),
            Jitter::Equal => (base / 2, base),
            Jitter::Decorrelated => (
                config.initial,
                (previous.max(config.initial) * 3).min(config.max_delay),
            ),
        };
        assert!(
            low <= delay && delay <= high,
            "{config:?}: delay {delay:?} after attempt {n} outside [{low:?}, {high:?}]"
        );
        previous = delay;
    }

    let view = policy.snapshot();
    assert_eq!(
        (view.calls, view.failed, view.exhausted, view.retries),
        (1, 1, 1, u64::from(config.max_attempts - 1))
    );
}

proptest! {
    #![proptest_config(config(CASES))]

    /// Every wait lies within its jitter kind's bounds and under
    /// `max_delay`, the base follows the documented backoff, and a call
    /// that keeps failing makes exactly `max_attempts` attempts.
    #[test]
    fn retry_schedule_respects_its_bounds(config in retry_config()) {
        check_schedule(config);
    }

    /// A call that succeeds at attempt `k` stops there and is counted once.
    #[test]
    fn retry_stops_at_the_first_success(config in retry_config(), k in 1u32..=8) {
        let k = k.min(config.max_attempts);
        let policy = RetryPolicy::new("model-retry-ok", config).unwrap();
        let mut run = policy.start();
        let mut attempts = 0;
        loop {
            attempts += 1;
            let result: Result<u32, ()> = if attempts == k { Ok(attempts) } else { Err(()) };
            match run.next(result, |_| true, |_| None) {
                RetryStep::Retry(_) => {}
                RetryStep::Done(result) => {
                    prop_assert_eq!(result.unwrap(), k);
                    break;
                }
            }
        }
        let view = policy.snapshot();
        prop_assert_eq!(view.calls, 1);
        prop_assert_eq!(view.retries, u64::from(k - 1));
        prop_assert_eq!((view.succeeded_first, view.succeeded_after_retry), if k == 1 { (1, 0) } else { (0, 1) });
    }

    /// Exponential backoff never shrinks as attempts grow, however many
    /// there are, and always stays within `[initial, max_delay]`.
    #[test]
    fn exponential_base_never_shrinks(
        config in retry_config(),
        a in any::<u32>(),
        b in any::<u32>(),
    ) {
        let config = config.backoff(Backoff::Exponential);
        let (low, high) = (a.min(b).max(1), a.max(b).max(1));
        let (early, late) = (config.base_delay(low), config.base_delay(high));
        prop_assert!(early <= late, "{config:?}: attempt {low} waits {early:?}, attempt {high} {late:?}");
        prop_assert!(config.initial <= early && late <= config.max_delay);
    }
}
