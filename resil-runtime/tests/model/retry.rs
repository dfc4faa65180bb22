//! The retry schedule against the documented backoff and jitter bounds.
//! Jitter draws from a seed that is part of the generated input
//! (`Retry::seed_jitter`), so a failing case replays exactly.

use std::time::Duration;

use proptest::prelude::*;
use resil_runtime::{Backoff, Jitter, Retry, RetryConfig, RetryStep};

use crate::{CASES, MS, check};

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

/// The waits a call that keeps failing is given.
fn schedule(policy: &Retry) -> Vec<Duration> {
    let mut run = policy.start();
    let mut delays = Vec::new();
    loop {
        let failed: Result<(), ()> = Err(());
        match run.next(failed, |_| true, |_| None) {
            RetryStep::Retry(delay) => delays.push(delay),
            RetryStep::Done(result) => {
                assert!(result.is_err());
                return delays;
            }
        }
        assert!(delays.len() < 64, "the schedule never ends");
    }
}

fn check_schedule(config: RetryConfig, seed: u64) {
    let policy = Retry::new("model-retry", config).unwrap();
    policy.seed_jitter(seed);
    let delays = schedule(&policy);
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

/// Every wait lies within its jitter kind's bounds and under `max_delay`,
/// the base follows the documented backoff, and a call that keeps failing
/// makes exactly `max_attempts` attempts.
#[test]
fn retry_schedule_respects_its_bounds() {
    check(
        file!(),
        CASES,
        (retry_config(), any::<u64>()),
        |(config, seed)| {
            check_schedule(config, seed);
            Ok(())
        },
    );
}

/// The same jitter seed gives the same waits, so a failure replays: two
/// policies seeded alike agree wait for wait, and re-seeding a policy
/// starts its sequence over.
#[test]
fn a_jitter_seed_replays_its_schedule() {
    check(
        file!(),
        CASES,
        (retry_config(), any::<u64>()),
        |(config, seed)| {
            let (a, b) = (
                Retry::new("model-retry-seed-a", config).unwrap(),
                Retry::new("model-retry-seed-b", config).unwrap(),
            );
            a.seed_jitter(seed);
            b.seed_jitter(seed);
            let first = schedule(&a);
            prop_assert_eq!(&first, &schedule(&b));
            a.seed_jitter(seed);
            prop_assert_eq!(&first, &schedule(&a));
            Ok(())
        },
    );
}

/// Seeded full jitter still spreads its waits over the whole range: of 64
/// draws from any seed, some fall in each half of `[0, base]` (all in one
/// half has odds of 2^-63 for a uniform draw).
#[test]
fn seeded_full_jitter_covers_its_range() {
    check(file!(), CASES, any::<u64>(), |seed| {
        let config = RetryConfig::DEFAULT
            .backoff(Backoff::Constant)
            .jitter(Jitter::Full)
            .initial(Duration::from_secs(1))
            .max_delay(Duration::from_secs(1));
        let policy = Retry::new("model-retry-spread", config).unwrap();
        policy.seed_jitter(seed);
        let draws: Vec<_> = (0..64).map(|_| policy.delay(1, Duration::ZERO)).collect();
        let low = draws
            .iter()
            .filter(|d| **d < Duration::from_millis(500))
            .count();
        prop_assert!(
            low > 0 && low < 64,
            "{} of 64 draws below half: {:?}",
            low,
            draws
        );
        Ok(())
    });
}

/// A call that succeeds at attempt `k` stops there and is counted once.
#[test]
fn retry_stops_at_the_first_success() {
    check(
        file!(),
        CASES,
        (retry_config(), 1u32..=8, any::<u64>()),
        |(config, k, seed)| {
            let k = k.min(config.max_attempts);
            let policy = Retry::new("model-retry-ok", config).unwrap();
            policy.seed_jitter(seed);
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
            prop_assert_eq!(
                (view.succeeded_first, view.succeeded_after_retry),
                if k == 1 { (1, 0) } else { (0, 1) }
            );
            Ok(())
        },
    );
}

/// Exponential backoff never shrinks as attempts grow, however many there
/// are, and always stays within `[initial, max_delay]`.
#[test]
fn exponential_base_never_shrinks() {
    check(
        file!(),
        CASES,
        (retry_config(), any::<u32>(), any::<u32>()),
        |(config, a, b)| {
            let config = config.backoff(Backoff::Exponential);
            let (low, high) = (a.min(b).max(1), a.max(b).max(1));
            let (early, late) = (config.base_delay(low), config.base_delay(high));
            prop_assert!(
                early <= late,
                "{:?}: attempt {} waits {:?}, attempt {} {:?}",
                config,
                low,
                early,
                high,
                late
            );
            prop_assert!(config.initial <= early && late <= config.max_delay);
            Ok(())
        },
    );
}
