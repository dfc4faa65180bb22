//! The circuit breaker against a reference model: the documented state
//! machine, sequential and spelled out, with `u64` generations and plain
//! lists for its windows.
//!
//! The model covers both kinds of window (the last `window` calls, and the
//! calls of the last `time_window`, sliding by `time_window / 64`), slow
//! calls (`slow_call`, `slow_rate`), `reconfigure` while permits are out,
//! and `reset`, `force_open` and `force_closed` racing outcomes of permits
//! issued before them.

use std::collections::VecDeque;
use std::panic::{self, AssertUnwindSafe};
use std::time::Duration;

use proptest::prelude::*;
use resil_runtime::{CircuitBreaker, CircuitBreakerConfig, CircuitPermit, CircuitState, Error};

use crate::{CASES, MS, ModelPanic, check, paused_runtime, quiet_model_panics};

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
    /// When the call started, if it is timed (`slow_call` was set when the
    /// permit was issued).
    started_ms: Option<u64>,
}

/// One call in a window: (failed, slow).
type Call = (bool, bool);

/// The window of recent calls, of the kind the breaker was built with.
#[derive(Debug)]
enum ModelWindow {
    /// The last `size` calls; slow calls tracked only if `slow_call` was
    /// set when the breaker was built.
    Count {
        size: usize,
        track_slow: bool,
        calls: VecDeque<Call>,
    },
    /// Every call with the slice of time (`time_window / 64` wide) it was
    /// made in; a call counts while its slice is one of the last 64.
    Time {
        slice_ms: u64,
        calls: Vec<(u64, Call)>,
    },
}

/// What the window holds: (calls, failures, slow).
type Tally = (u32, u32, u32);

impl ModelWindow {
    fn new(config: &CircuitBreakerConfig) -> Option<Self> {
        if config.failure_rate.is_none() && config.slow_call.is_none() {
            return None;
        }
        Some(match config.time_window {
            Some(length) => ModelWindow::Time {
                slice_ms: length.as_millis() as u64 / 64,
                calls: Vec::new(),
            },
            None => ModelWindow::Count {
                size: config.window as usize,
                track_slow: config.slow_call.is_some(),
                calls: VecDeque::new(),
            },
        })
    }

    fn record(&mut self, now_ms: u64, call: Call) {
        match self {
            ModelWindow::Count { size, calls, .. } => {
                calls.push_back(call);
                if calls.len() > *size {
                    calls.pop_front();
                }
            }
            ModelWindow::Time { slice_ms, calls } => calls.push((now_ms / *slice_ms, call)),
        }
    }

    fn tally(&self, now_ms: u64) -> Tally {
        let count = |calls: &mut dyn Iterator<Item = Call>, track_slow: bool| {
            calls.fold((0, 0, 0), |(n, f, s), (failed, slow)| {
                (
                    n + 1,
                    f + u32::from(failed),
                    s + u32::from(slow && track_slow),
                )
            })
        };
        match self {
            ModelWindow::Count {
                calls, track_slow, ..
            } => count(&mut calls.iter().copied(), *track_slow),
            ModelWindow::Time { slice_ms, calls } => {
                let current = now_ms / *slice_ms;
                count(
                    &mut calls
                        .iter()
                        .filter(|(slice, _)| current - slice < 64)
                        .map(|(_, call)| *call),
                    true,
                )
            }
        }
    }

    fn clear(&mut self) {
        match self {
            ModelWindow::Count { calls, .. } => calls.clear(),
            ModelWindow::Time { calls, .. } => calls.clear(),
        }
    }
}

fn share(part: u32, calls: u32) -> f64 {
    if calls == 0 {
        0.0
    } else {
        f64::from(part) / f64::from(calls)
    }
}

#[derive(Debug)]
struct BreakerModel {
    /// The settings in force (changed by `reconfigure`).
    config: CircuitBreakerConfig,
    /// The settings it was built with: they fix the window.
    built: CircuitBreakerConfig,
    state: ModelState,
    generation: u64,
    window: Option<ModelWindow>,
    now_ms: u64,
    successes: u64,
    failures: u64,
    ignored: u64,
    rejected: u64,
    slow: u64,
}

impl BreakerModel {
    fn new(config: CircuitBreakerConfig) -> Self {
        Self {
            config,
            built: config,
            state: ModelState::Closed { failures: 0 },
            generation: 0,
            window: ModelWindow::new(&config),
            now_ms: 0,
            successes: 0,
            failures: 0,
            ignored: 0,
            rejected: 0,
            slow: 0,
        }
    }

    fn timeout_ms(&self) -> u64 {
        self.config.open_for.as_millis() as u64
    }

    fn go(&mut self, to: ModelState) {
        self.state = to;
        self.generation += 1;
    }

    fn open(&mut self) {
        self.go(ModelState::Open {
            deadline_ms: self.now_ms + self.timeout_ms(),
        });
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
            ModelState::ForcedOpen => Err(self.config.open_for),
        };
        match result {
            Ok(trial) => Ok(ModelPermit {
                generation: self.generation,
                trial,
                started_ms: self.config.slow_call.map(|_| self.now_ms),
            }),
            Err(retry_after) => {
                self.rejected += 1;
                Err(retry_after)
            }
        }
    }

    /// Whether the settled call was slow: timed when issued, and longer
    /// than the `slow_call` in force now.
    fn is_slow(&mut self, permit: ModelPermit) -> bool {
        let slow = match (permit.started_ms, self.config.slow_call) {
            (Some(started), Some(bound)) => MS * (self.now_ms - started) as u32 > bound,
            _ => false,
        };
        self.slow += u64::from(slow);
        slow
    }

    /// Records one call in the window; whether the rates in force now call
    /// for opening.
    fn record(&mut self, failed: bool, slow: bool) -> bool {
        let now = self.now_ms;
        let Some(window) = &mut self.window else {
            return false;
        };
        window.record(now, (failed, slow));
        let (calls, failures, slow) = window.tally(now);
        if calls < self.config.effective_min_calls() {
            return false;
        }
        let failing = self
            .config
            .failure_rate
            .is_some_and(|limit| share(failures, calls) >= limit);
        let too_slow = self.config.slow_call.is_some()
            && share(slow, calls) >= self.config.effective_slow_rate();
        failing || too_slow
    }

    fn current_period(&self, permit: ModelPermit) -> bool {
        permit.trial && permit.generation == self.generation
    }

    fn close(&mut self) {
        self.go(ModelState::Closed { failures: 0 });
        if let Some(window) = &mut self.window {
            window.clear();
        }
    }

    fn success(&mut self, permit: ModelPermit) {
        self.successes += 1;
        let slow = self.is_slow(permit);
        // Only a slow success can open, and only one of the current
        // closed period (like a failure: "a slow call from before the
        // breaker opened cannot re-open it").
        let rates_reached = self.record(false, slow) && slow;
        match self.state {
            ModelState::Closed { .. } if rates_reached && permit.generation == self.generation => {
                self.open()
            }
            ModelState::Closed { .. } => self.state = ModelState::Closed { failures: 0 },
            ModelState::HalfOpen { .. } if self.current_period(permit) && slow => self.open(),
            ModelState::HalfOpen {
                in_flight,
                successes,
            } if self.current_period(permit) => {
                if successes + 1 >= self.config.success_threshold {
                    self.close();
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
        let slow = self.is_slow(permit);
        let rates_reached = self.record(true, slow);
        match self.state {
            // Only a call from the current closed period extends the streak:
            // a slow call from before the breaker last opened cannot re-open
            // it (nor can a trial that finished after its period closed).
            ModelState::Closed { failures } if permit.generation == self.generation => {
                if failures + 1 >= self.config.threshold || rates_reached {
                    self.open();
                } else {
                    self.state = ModelState::Closed {
                        failures: failures + 1,
                    };
                }
            }
            ModelState::HalfOpen { .. } if self.current_period(permit) => self.open(),
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
        if let Some(window) = &mut self.window {
            window.clear();
        }
    }

    fn reset(&mut self) {
        self.set(ModelState::Closed { failures: 0 });
        self.successes = 0;
        self.failures = 0;
        self.ignored = 0;
        self.rejected = 0;
        self.slow = 0;
    }

    /// Whether `reconfigure(config)` is accepted: valid, and the window the
    /// breaker was built with fits it (its kind and size are fixed, and a
    /// breaker built without one cannot start keeping one).
    fn accepts(&self, config: &CircuitBreakerConfig) -> bool {
        let windowed = config.failure_rate.is_some() || config.slow_call.is_some();
        config.validate("model").is_ok()
            && match self.window {
                None => !windowed,
                Some(ModelWindow::Count {
                    size, track_slow, ..
                }) => {
                    config.time_window.is_none()
                        && config.window as usize == size
                        && config.slow_call.is_some() == track_slow
                }
                Some(ModelWindow::Time { .. }) => config.time_window == self.built.time_window,
            }
    }

    /// Settings change; state, streak, window, counters and an open
    /// deadline stay.
    fn reconfigure(&mut self, config: CircuitBreakerConfig) -> bool {
        let accepted = self.accepts(&config);
        if accepted {
            self.config = config;
        }
        accepted
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
        assert_eq!(view.config, self.config, "{context}");
        assert_eq!(
            (
                view.successes,
                view.failures,
                view.ignored,
                view.rejected,
                view.slow_calls
            ),
            (
                self.successes,
                self.failures,
                self.ignored,
                self.rejected,
                self.slow
            ),
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
        let (in_flight, successes) = match self.state {
            ModelState::HalfOpen {
                in_flight,
                successes,
            } => (Some(in_flight), Some(successes)),
            _ => (None, None),
        };
        assert_eq!(view.trial_calls_in_flight, in_flight, "{context}");
        assert_eq!(view.trial_successes, successes, "{context}");
        let tally = self.window.as_ref().map(|w| w.tally(self.now_ms));
        assert_eq!(view.window_calls, tally.map(|t| t.0), "{context}");
        assert_eq!(
            view.failure_rate,
            tally.map(|t| share(t.1, t.0)),
            "{context}"
        );
        assert_eq!(
            view.slow_call_rate,
            tally
                .filter(|_| self.config.slow_call.is_some())
                .map(|t| share(t.2, t.0)),
            "{context}"
        );
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

/// The settings a `Reconfigure` step tries; the model says whether the
/// breaker must accept them.
#[derive(Debug, Clone, Copy)]
struct Settings {
    threshold: u32,
    failure_rate: Option<f64>,
    min_calls: Option<prop::sample::Index>,
    timeout_ms: u32,
    half_open_max: u32,
    success_threshold: u32,
    slow_call_ms: Option<u32>,
    slow_rate: Option<f64>,
}

impl Settings {
    /// These settings over `built`'s window (`window`, `time_window`).
    fn over(self, built: &CircuitBreakerConfig) -> CircuitBreakerConfig {
        let mut config = CircuitBreakerConfig::DEFAULT
            .threshold(self.threshold)
            .window(built.window)
            .open_for(MS * self.timeout_ms)
            .half_open_max(self.half_open_max)
            .success_threshold(self.success_threshold);
        config.time_window = built.time_window;
        config.failure_rate = self.failure_rate;
        config.min_calls = self.min_calls.map(|min| {
            // Up to the count window's size, or a little past the default
            // with a time window (where it is not bounded by `window`).
            let most = if built.time_window.is_some() {
                12
            } else {
                built.window
            };
            1 + min.index(most as usize) as u32
        });
        config.slow_call = self.slow_call_ms.map(|ms| MS * ms);
        config.slow_rate = self.slow_rate.filter(|_| config.slow_call.is_some());
        config
    }
}

fn rate() -> impl Strategy<Value = f64> {
    prop_oneof![Just(0.25), Just(0.5), Just(0.75), Just(1.0)]
}

fn settings() -> impl Strategy<Value = Settings> {
    (
        1u32..=5,
        prop::option::of(rate()),
        prop::option::of(any::<prop::sample::Index>()),
        1u32..=3,
        1u32..=3,
        1u32..=3,
        prop::option::of(prop_oneof![Just(5u32), Just(30), Just(100)]),
        prop::option::of(rate()),
    )
        .prop_map(
            |(
                threshold,
                failure_rate,
                min_calls,
                timeout,
                half_open_max,
                success,
                slow,
                slow_rate,
            )| {
                Settings {
                    threshold,
                    failure_rate,
                    min_calls,
                    timeout_ms: 100 * timeout,
                    half_open_max,
                    success_threshold: success,
                    slow_call_ms: slow,
                    slow_rate,
                }
            },
        )
}

/// A breaker's settings: a count window of 1 to 8 calls, or a time window
/// of 64 slices of 16, 20 or 50ms (whole milliseconds, so that the model's
/// clock lands exactly on slice boundaries).
fn breaker_config() -> impl Strategy<Value = CircuitBreakerConfig> {
    (
        settings(),
        1u32..=8,
        prop::option::of(prop_oneof![Just(16u64), Just(20), Just(50)]),
    )
        .prop_map(|(settings, window, slice_ms)| {
            let mut shape = CircuitBreakerConfig::DEFAULT.window(window);
            shape.time_window = slice_ms.map(|ms| MS * (64 * ms) as u32);
            settings.over(&shape)
        })
}

#[derive(Debug, Clone)]
enum BreakerOp {
    Acquire,
    Settle(prop::sample::Index, Outcome),
    Advance(u64),
    ForceOpen,
    ForceClosed,
    Reset,
    Reconfigure(Settings),
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
        3 => prop_oneof![3 => 0u64..=50, 2 => 100u64..=500, 1 => 1000u64..=3500]
            .prop_map(BreakerOp::Advance),
        1 => prop_oneof![
            Just(BreakerOp::ForceOpen),
            Just(BreakerOp::ForceClosed),
            Just(BreakerOp::Reset),
        ],
        1 => settings().prop_map(BreakerOp::Reconfigure),
    ]
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

/// Moves the paused clock to the start of a time-window slice, so that the
/// model's slices (counted from its own zero) are the breaker's.
///
/// The breaker counts slices from a process-wide epoch that another test
/// may have set, at an instant no test can read. So a probe breaker with
/// the same window records one call, the clock moves on a millisecond at a
/// time, and the call leaves the probe's window exactly when a new slice
/// begins.
async fn align_to_a_slice(time_window: Duration) {
    let probe = CircuitBreaker::new(
        "model-breaker-probe",
        CircuitBreakerConfig::DEFAULT
            .failure_rate(1.0)
            .time_window(time_window)
            .threshold(u32::MAX),
    )
    .unwrap();
    probe.try_acquire().unwrap().success();
    let slice = time_window / 64;
    tokio::time::advance(time_window - slice).await;
    for _ in 0..=slice.as_millis() {
        if probe.snapshot().window_calls == Some(0) {
            return;
        }
        tokio::time::advance(MS).await;
    }
    panic!("the probe's call never left its window");
}

fn run_breaker(config: CircuitBreakerConfig, ops: Vec<BreakerOp>) {
    quiet_model_panics();
    paused_runtime().block_on(async {
        if let Some(length) = config.time_window {
            align_to_a_slice(length).await;
        }
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
                BreakerOp::Reconfigure(settings) => {
                    let candidate = settings.over(&model.built);
                    let accepted = breaker.reconfigure(candidate);
                    assert_eq!(
                        accepted.is_ok(),
                        model.reconfigure(candidate),
                        "step {step}: reconfigure to {candidate:?}: {accepted:?}"
                    );
                }
            }
            model.check(&breaker, step);
        }
        // Whatever happened, settling everything still held and waiting out
        // the timeout leaves a breaker that admits a call.
        for (permit, _) in held.drain(..) {
            permit.release();
        }
        // (An open breaker keeps the deadline it was given, whatever
        // `timeout` was configured since.)
        let open_for = match model.state {
            ModelState::Open { deadline_ms } => deadline_ms.saturating_sub(model.now_ms),
            _ => 0,
        };
        tokio::time::advance(MS * open_for.max(model.timeout_ms()) as u32).await;
        if !matches!(breaker.state(), CircuitState::ForcedOpen) {
            breaker
                .try_acquire()
                .expect("an idle breaker past its timeout admits a call")
                .release();
        }
    });
}

/// The breaker agrees with the reference model step by step: both kinds
/// of window, slow calls, settings changed and the breaker reset while
/// permits are out.
#[test]
fn circuit_breaker_matches_the_model() {
    check(
        file!(),
        CASES,
        (
            breaker_config(),
            prop::collection::vec(breaker_op(), 1..200),
        ),
        |(config, ops)| {
            run_breaker(config, ops);
            Ok(())
        },
    );
}

/// The time window on its own, with many more calls than a count window
/// holds: calls spread over several turns of the ring, slices that empty
/// and refill, calls that outlast `slow_call`, and the rates read at every
/// step.
#[test]
fn time_window_matches_the_model() {
    let ops = prop::collection::vec(
        prop_oneof![
            4 => Just(BreakerOp::Acquire),
            4 => (any::<prop::sample::Index>(), prop_oneof![Just(Outcome::Success), Just(Outcome::Failure)])
                .prop_map(|(i, o)| BreakerOp::Settle(i, o)),
            2 => (1u64..=40).prop_map(BreakerOp::Advance),
            1 => (200u64..=1500).prop_map(BreakerOp::Advance),
        ],
        1..300,
    );
    let config = (
        prop_oneof![Just(16u64), Just(20), Just(50)],
        rate(),
        1u32..=40,
        prop::option::of(prop_oneof![Just(5u32), Just(30), Just(100)]),
    )
        .prop_map(|(slice_ms, rate, min_calls, slow)| {
            let mut config = CircuitBreakerConfig::DEFAULT
                .failure_rate(rate)
                .time_window(MS * (64 * slice_ms) as u32)
                .min_calls(min_calls)
                .threshold(u32::MAX)
                .open_for(MS * 200)
                .success_threshold(1);
            config.slow_call = slow.map(|ms| MS * ms);
            config
        });
    check(file!(), CASES, (config, ops), |(config, ops)| {
        run_breaker(config, ops);
        Ok(())
    });
}

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
                .open_for(TIMEOUT),
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
                .open_for(TIMEOUT),
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

/// Memory is fixed by the configuration: one bit per window slot, and no
/// run of up to 300 calls grows it (`tests/alloc.rs` runs 100,000).
#[test]
fn breaker_memory_is_bounded_by_its_configuration() {
    check(
        file!(),
        32,
        (1u32..=8192, prop::collection::vec(any::<bool>(), 0..300)),
        |(window, outcomes)| {
            let breaker = CircuitBreaker::new(
                "model-memory",
                CircuitBreakerConfig::DEFAULT
                    .failure_rate(0.5)
                    .window(window)
                    .threshold(u32::MAX),
            )
            .unwrap();
            let expected = std::mem::size_of::<CircuitBreaker>() + window.div_ceil(64) as usize * 8;
            prop_assert_eq!(breaker.memory_footprint(), expected);
            prop_assert!(expected <= std::mem::size_of::<CircuitBreaker>() + 1024);
            breaker.force_closed();
            for failed in outcomes {
                let permit = breaker.try_acquire().unwrap();
                if failed {
                    permit.failure()
                } else {
                    permit.success()
                }
            }
            prop_assert_eq!(breaker.memory_footprint(), expected);
            Ok(())
        },
    );
}
