//! The rate limiter against a reference model written as a leaky bucket:
//! a backlog of nanoseconds that drains at one nanosecond per nanosecond.
//! A call adds one `interval` to it; it may go at once while the backlog
//! leaves room for it within the burst (`backlog <= (burst - 1) *
//! interval`), and must otherwise wait until it does, if that is within
//! `wait`. The limiter keeps a theoretical arrival time instead (GCRA);
//! the two must agree on every admission, every wait, every `retry_after`
//! and every count, through reconfiguration, `reset`, and waiters that are
//! cancelled (a cancelled waiter hands its turn back only while no later
//! caller has taken a turn after it).

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use proptest::prelude::*;
use resil_runtime::{Error, RateLimiter, RateLimiterConfig};

use crate::{CASES, MS, check, paused_runtime};

const NANOS_PER_MS: u64 = 1_000_000;

#[derive(Debug)]
struct ModelWaiter {
    id: u64,
    /// When its turn comes, in the model's milliseconds: a sleep ends on
    /// the first whole millisecond at or after its deadline.
    ready_ms: u64,
    wait_ns: u64,
}

#[derive(Debug, Default)]
struct LimiterModel {
    interval_ns: u64,
    burst: u64,
    max_wait_ns: u64,
    now_ms: u64,
    /// Turns taken ahead of now, in nanoseconds of quota.
    backlog_ns: u64,
    waiters: Vec<ModelWaiter>,
    /// Reservations in the order they were made, since the backlog last
    /// moved for another reason: only the last one can hand its turn back.
    reservations: Vec<u64>,
    next_id: u64,
    admitted: u64,
    admitted_after_wait: u64,
    rejected: u64,
    wait_ns_total: u64,
}

enum Admission {
    Now,
    Wait(u64),
    Refused(Duration),
}

impl LimiterModel {
    fn new(config: &RateLimiterConfig) -> Self {
        let mut model = Self::default();
        model.configure(config);
        model
    }

    fn configure(&mut self, config: &RateLimiterConfig) {
        self.interval_ns = config.per.as_nanos() as u64 / u64::from(config.rate);
        self.burst = u64::from(config.burst.unwrap_or(config.rate));
        self.max_wait_ns = config.wait.as_nanos() as u64;
    }

    fn tolerance_ns(&self) -> u64 {
        (self.burst - 1) * self.interval_ns
    }

    fn advance(&mut self, ms: u64) {
        self.now_ms += ms;
        self.backlog_ns = self.backlog_ns.saturating_sub(ms * NANOS_PER_MS);
    }

    /// One call that may wait up to `max_wait_ns`.
    fn admit(&mut self, max_wait_ns: u64) -> Admission {
        let wait = self.backlog_ns.saturating_sub(self.tolerance_ns());
        if wait > max_wait_ns {
            self.rejected += 1;
            return Admission::Refused(Duration::from_nanos(wait));
        }
        self.backlog_ns += self.interval_ns;
        if wait == 0 {
            self.reservations.clear();
            self.admitted += 1;
            return Admission::Now;
        }
        let id = self.next_id;
        self.next_id += 1;
        self.reservations.push(id);
        self.waiters.push(ModelWaiter {
            id,
            ready_ms: self.now_ms + wait.div_ceil(NANOS_PER_MS),
            wait_ns: wait,
        });
        Admission::Wait(id)
    }

    /// Whether waiter `id`'s turn has come (then it is admitted).
    fn poll(&mut self, id: u64) -> bool {
        let position = self.waiters.iter().position(|w| w.id == id).unwrap();
        if self.now_ms < self.waiters[position].ready_ms {
            return false;
        }
        let waiter = self.waiters.remove(position);
        self.admitted += 1;
        self.admitted_after_wait += 1;
        self.wait_ns_total += waiter.wait_ns;
        true
    }

    fn cancel(&mut self, id: u64) {
        let position = self.waiters.iter().position(|w| w.id == id).unwrap();
        self.waiters.remove(position);
        if self.reservations.last() == Some(&id) {
            self.reservations.pop();
            self.backlog_ns = self.backlog_ns.saturating_sub(self.interval_ns);
        }
    }

    /// New settings: the backlog is re-spaced from the old interval to the
    /// new one (turns taken stay taken, at the new rate).
    fn reconfigure(&mut self, config: &RateLimiterConfig) {
        let old = self.interval_ns;
        self.configure(config);
        let new = self.interval_ns;
        if old != new && self.backlog_ns > 0 {
            self.backlog_ns =
                (u128::from(self.backlog_ns) * u128::from(new) / u128::from(old)) as u64;
            self.reservations.clear();
        }
    }

    fn reset(&mut self) {
        self.backlog_ns = 0;
        self.reservations.clear();
        self.admitted = 0;
        self.admitted_after_wait = 0;
        self.rejected = 0;
        self.wait_ns_total = 0;
    }

    /// Calls that could go at once now.
    fn available(&self) -> u32 {
        let mut calls = 0;
        let mut backlog = self.backlog_ns;
        while calls < self.burst && backlog <= self.tolerance_ns() {
            backlog += self.interval_ns;
            calls += 1;
        }
        calls as u32
    }

    fn check(&self, limiter: &RateLimiter, step: usize) {
        let view = limiter.snapshot();
        let context = format!("step {step}: model {self:?}\nreal {view:?}");
        assert_eq!(
            (view.admitted, view.admitted_after_wait, view.rejected),
            (self.admitted, self.admitted_after_wait, self.rejected),
            "{context}"
        );
        assert_eq!(view.calls, self.admitted + self.rejected, "{context}");
        assert_eq!(view.available, self.available(), "{context}");
        assert_eq!(
            view.total_wait_ms,
            self.wait_ns_total / NANOS_PER_MS,
            "{context}"
        );
    }
}

#[derive(Debug, Clone)]
enum LimiterOp {
    TryAcquire,
    Acquire,
    PollWaiters,
    Cancel(prop::sample::Index),
    Advance(u64),
    Reconfigure(RateLimiterConfig),
    Reset,
}

/// Intervals of whole milliseconds, so that every wait (and so every
/// sleep) the model predicts is exact; after a change of interval the
/// backlog is re-spaced to fractions of a millisecond, and the model
/// follows those too.
fn limiter_config() -> impl Strategy<Value = RateLimiterConfig> {
    (
        prop_oneof![Just(10u32), Just(25), Just(100)],
        1u32..=4,
        prop::option::of(1u32..=4),
        prop_oneof![Just(0u32), Just(30), Just(250)],
    )
        .prop_map(|(interval_ms, rate, burst, wait_ms)| RateLimiterConfig {
            rate,
            per: MS * interval_ms * rate,
            burst,
            wait: MS * wait_ms,
        })
}

fn limiter_op() -> impl Strategy<Value = LimiterOp> {
    prop_oneof![
        4 => Just(LimiterOp::TryAcquire),
        4 => Just(LimiterOp::Acquire),
        3 => Just(LimiterOp::PollWaiters),
        1 => any::<prop::sample::Index>().prop_map(LimiterOp::Cancel),
        3 => prop_oneof![0u64..=30, 50u64..=400].prop_map(LimiterOp::Advance),
        1 => limiter_config().prop_map(LimiterOp::Reconfigure),
        1 => Just(LimiterOp::Reset),
    ]
}

type Acquire<'a> = Pin<Box<dyn Future<Output = Result<(), Error>> + 'a>>;

fn retry_after(result: Result<(), Error>) -> Duration {
    match result {
        Err(Error::RateLimited { retry_after, .. }) => retry_after,
        other => panic!("expected a rate-limit rejection, got {other:?}"),
    }
}

fn run_limiter(config: RateLimiterConfig, ops: Vec<LimiterOp>) {
    paused_runtime().block_on(async {
        let limiter = RateLimiter::new("model-limiter", config).unwrap();
        let mut model = LimiterModel::new(&config);
        let mut pending: Vec<(u64, Acquire<'_>)> = Vec::new();
        for (step, op) in ops.into_iter().enumerate() {
            match op {
                LimiterOp::TryAcquire => match (limiter.try_acquire(), model.admit(0)) {
                    (Ok(()), Admission::Now) => {}
                    (real @ Err(_), Admission::Refused(expected)) => {
                        assert_eq!(retry_after(real), expected, "step {step}: retry_after")
                    }
                    (real, _) => panic!("step {step}: real {real:?}, model {model:?}"),
                },
                LimiterOp::Acquire => {
                    let mut future: Acquire<'_> = Box::pin(limiter.acquire());
                    let max_wait = model.max_wait_ns;
                    match (crate::poll_once(future.as_mut()), model.admit(max_wait)) {
                        (Poll::Ready(Ok(())), Admission::Now) => {}
                        (Poll::Pending, Admission::Wait(id)) => pending.push((id, future)),
                        (Poll::Ready(real @ Err(_)), Admission::Refused(expected)) => {
                            assert_eq!(retry_after(real), expected, "step {step}: retry_after")
                        }
                        (real, _) => panic!("step {step}: real {real:?}, model {model:?}"),
                    }
                }
                LimiterOp::PollWaiters => {
                    let mut still = Vec::new();
                    for (id, mut future) in pending.drain(..) {
                        match (crate::poll_once(future.as_mut()), model.poll(id)) {
                            (Poll::Ready(Ok(())), true) => {}
                            (Poll::Pending, false) => still.push((id, future)),
                            (real, expected) => panic!(
                                "step {step}: waiter {id}: real {real:?}, model ready {expected}, {model:?}"
                            ),
                        }
                    }
                    pending = still;
                }
                LimiterOp::Cancel(index) => {
                    if !pending.is_empty() {
                        let (id, future) = pending.remove(index.index(pending.len()));
                        drop(future);
                        model.cancel(id);
                    }
                }
                LimiterOp::Advance(ms) => {
                    tokio::time::advance(MS * ms as u32).await;
                    model.advance(ms);
                }
                LimiterOp::Reconfigure(config) => {
                    limiter.reconfigure(config).unwrap();
                    model.reconfigure(&config);
                    assert_eq!(limiter.config(), config, "step {step}");
                }
                LimiterOp::Reset => {
                    limiter.reset();
                    model.reset();
                }
            }
            model.check(&limiter, step);
        }
        // Every waiter still pending is admitted once its turn comes.
        let longest = model.waiters.iter().map(|w| w.ready_ms).max();
        if let Some(ready_ms) = longest {
            let ms = ready_ms.saturating_sub(model.now_ms);
            tokio::time::advance(MS * ms as u32).await;
            model.advance(ms);
            for (id, mut future) in pending.drain(..) {
                assert!(crate::poll_once(future.as_mut()).is_ready(), "waiter {id}");
                assert!(model.poll(id));
            }
            model.check(&limiter, usize::MAX);
        }
    });
}

/// The limiter agrees with the leaky-bucket model step by step: bursts,
/// waits and their order, `retry_after`, cancelled waits, reconfiguration
/// while callers wait, and `reset`.
#[test]
fn rate_limiter_matches_the_model() {
    check(
        file!(),
        CASES,
        (
            limiter_config(),
            prop::collection::vec(limiter_op(), 1..150),
        ),
        |(config, ops)| {
            run_limiter(config, ops);
            Ok(())
        },
    );
}

/// However calls arrive, no span of time admits more than a burst plus one
/// call per interval: checked on the admissions alone, without the model.
#[test]
fn no_span_admits_more_than_burst_plus_rate() {
    check(
        file!(),
        CASES,
        (limiter_config(), prop::collection::vec(0u64..=40, 1..200)),
        |(config, gaps)| {
            paused_runtime().block_on(async {
                let limiter = RateLimiter::new("model-limiter-span", config).unwrap();
                let interval = config.per / config.rate;
                let burst = u64::from(config.burst.unwrap_or(config.rate));
                let mut admitted_at = Vec::new();
                let mut now = Duration::ZERO;
                for gap in gaps {
                    tokio::time::advance(MS * gap as u32).await;
                    now += MS * gap as u32;
                    if limiter.try_acquire().is_ok() {
                        admitted_at.push(now);
                    }
                }
                for (i, &from) in admitted_at.iter().enumerate() {
                    for (j, &to) in admitted_at.iter().enumerate().skip(i) {
                        let calls = (j - i + 1) as u64;
                        let allowed = burst + ((to - from).as_nanos() / interval.as_nanos()) as u64;
                        prop_assert!(
                            calls <= allowed,
                            "{} calls admitted in {:?} ({:?})",
                            calls,
                            to - from,
                            config
                        );
                    }
                }
                Ok(())
            })
        },
    );
}
