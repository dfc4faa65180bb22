//! One rule per setting, three checkers that agree on it.
//!
//! The attributes check their values at compile time, the configuration
//! loader checks documents (and the environment, and `reconfigure`) at run
//! time, and a declared policy's `const fn new` checks its settings at
//! compile time too. All three call the rules of `resil-rules`; this test
//! runs each rule's boundary values (just inside, just outside, and zero,
//! `NaN` or a missing partner where they matter) through each of them:
//!
//! - the attributes: a value they accept is written in `accepted` below
//!   and compiles; a value they reject is one function of
//!   `tests/ui/rule-boundaries.rs`, and its error is read from that file's
//!   `.stderr` (which the UI test compares with what rustc says);
//! - the loader: a TOML document applied to a registered policy;
//! - the declared policies (circuit breaker, bulkhead, retry): `new` called
//!   at run time, where its `const` check panics instead of failing the
//!   build.

use std::panic::catch_unwind;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use resil::config::{Overrides, Source};
use resil::{
    BulkheadConfig, CircuitBreakerConfig, DeclaredBulkhead, DeclaredCircuitBreaker, DeclaredRetry,
    RateLimiterConfig, RetryConfig, TimeoutConfig, registry,
};

use crate::TestError;

/// What the attributes say about each rejected value.
const ATTRIBUTE_ERRORS: &str = include_str!("../ui/rule-boundaries.stderr");

/// What the attribute does with a row's value.
#[derive(Clone, Copy)]
enum Attribute {
    /// Accepts it: the value is written in `accepted`.
    Accepts,
    /// Rejects it with this message.
    Rejects(&'static str),
    /// Cannot write it (`NaN`, or a number too large for the key): only
    /// the loader and the declared policy are compared.
    CannotWrite(bool),
}

impl Attribute {
    fn accepts(self) -> bool {
        match self {
            Attribute::Accepts => true,
            Attribute::Rejects(message) => {
                assert!(
                    ATTRIBUTE_ERRORS.contains(&format!("error: {message}\n")),
                    "tests/ui/rule-boundaries.stderr has no error `{message}`"
                );
                false
            }
            Attribute::CannotWrite(valid) => valid,
        }
    }
}

/// One boundary value: its settings as a document's table writes them, as
/// a configuration in code, and what the attribute does with it.
struct Row<C> {
    toml: &'static str,
    config: fn(C) -> C,
    attribute: Attribute,
}

fn row<C>(toml: &'static str, config: fn(C) -> C, attribute: Attribute) -> Row<C> {
    Row {
        toml,
        config,
        attribute,
    }
}

static NEXT: AtomicU32 = AtomicU32::new(0);

/// A policy name no other test uses.
fn fresh(kind: &str) -> String {
    format!("rules-{kind}-{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// Whether the loader takes `settings` for the policy `name` of `section`.
fn loads(section: &str, name: &str, settings: &str) -> bool {
    let document = format!("[{section}.\"{name}\"]\n{settings}\n");
    let overrides = Overrides::from_toml_str(&document, Source::named("rules.toml"))
        .unwrap_or_else(|error| panic!("{document}: {error}"));
    registry().apply(&overrides).is_ok()
}

/// Runs every row through the attribute's verdict, `load` and, for kinds
/// that can be declared, `declare`, and asserts that they agree.
fn agree<C: Copy>(
    rows: Vec<Row<C>>,
    default: C,
    load: impl Fn(&str, C) -> bool,
    declare: Option<fn(C) -> bool>,
) {
    let mut disagreements = Vec::new();
    for row in rows {
        let config = (row.config)(default);
        let attribute = row.attribute.accepts();
        let loader = load(row.toml, config);
        let declared = declare.map(|declare| declare(config));
        if loader != attribute || declared.is_some_and(|declared| declared != attribute) {
            disagreements.push(format!(
                "{}: attribute {attribute}, loader {loader}, declared {declared:?}",
                row.toml.replace('\n', ", ")
            ));
        }
    }
    assert!(
        disagreements.is_empty(),
        "the checkers disagree:\n{}",
        disagreements.join("\n")
    );
}

/// Whether `DeclaredX::new`'s `const` check passes, called at run time.
fn declares<C: std::panic::UnwindSafe, D>(new: fn(&'static str, C) -> D, config: C) -> bool {
    catch_unwind(move || {
        new("rules-declared", config);
    })
    .is_ok()
}

use Attribute::{Accepts, CannotWrite, Rejects};

#[test]
fn retry() {
    let rows: Vec<Row<RetryConfig>> = vec![
        row(
            "max_attempts = 0",
            |c| c.max_attempts(0),
            Rejects("`max` must be at least 1"),
        ),
        row("max_attempts = 1", |c| c.max_attempts(1), Accepts),
        row(
            "max_attempts = 4294967295",
            |c| c.max_attempts(u32::MAX),
            Accepts,
        ),
        row(
            "initial = \"0ns\"",
            |c| c.initial(Duration::ZERO),
            Rejects("`initial` must be greater than zero"),
        ),
        row(
            "initial = \"1ns\"",
            |c| c.initial(Duration::from_nanos(1)),
            Accepts,
        ),
        row(
            "initial = \"100ms\"\nmax_delay = \"99ms\"",
            |c| c.initial(ms(100)).max_delay(ms(99)),
            Rejects("`max_delay` (99ms) must be at least `initial` (100ms)"),
        ),
        row(
            "initial = \"100ms\"\nmax_delay = \"100ms\"",
            |c| c.initial(ms(100)).max_delay(ms(100)),
            Accepts,
        ),
        row(
            "multiplier = 0.99",
            |c| c.multiplier(0.99),
            Rejects("`multiplier` must be a finite number of at least 1.0, found `0.99`"),
        ),
        row("multiplier = 1.0", |c| c.multiplier(1.0), Accepts),
        row(
            "multiplier = nan",
            |c| c.multiplier(f64::NAN),
            CannotWrite(false),
        ),
        row(
            "multiplier = inf",
            |c| c.multiplier(f64::INFINITY),
            CannotWrite(false),
        ),
        row(
            "max_elapsed = \"0s\"",
            |c| c.max_elapsed(Duration::ZERO),
            Rejects("`max_elapsed` must be greater than zero"),
        ),
        row(
            "max_elapsed = \"1ns\"",
            |c| c.max_elapsed(Duration::from_nanos(1)),
            Accepts,
        ),
    ];
    let load = |toml: &str, _| {
        let name = fresh("retry");
        registry()
            .register_retry(name.clone(), RetryConfig::DEFAULT)
            .unwrap();
        loads("retry", &name, toml)
    };
    agree(
        rows,
        RetryConfig::DEFAULT,
        load,
        Some(|c| declares(DeclaredRetry::new, c)),
    );
}

#[test]
fn circuit_breaker() {
    let rows: Vec<Row<CircuitBreakerConfig>> = vec![
        row(
            "threshold = 0",
            |c| c.threshold(0),
            Rejects("`threshold` must be at least 1"),
        ),
        row("threshold = 1", |c| c.threshold(1), Accepts),
        row(
            "failure_rate = 0.0",
            |c| c.failure_rate(0.0),
            Rejects("`failure_rate` must be in (0, 1], found `0`"),
        ),
        row("failure_rate = 1e-9", |c| c.failure_rate(1e-9), Accepts),
        row("failure_rate = 1.0", |c| c.failure_rate(1.0), Accepts),
        row(
            "failure_rate = 1.0000001",
            |c| c.failure_rate(1.0000001),
            Rejects("`failure_rate` must be in (0, 1], found `1.0000001`"),
        ),
        row(
            "failure_rate = nan",
            |c| c.failure_rate(f64::NAN),
            CannotWrite(false),
        ),
        row(
            "failure_rate = 0.5\nwindow = 0",
            |c| c.failure_rate(0.5).window(0),
            Rejects("`window` must be at least 1"),
        ),
        row(
            "failure_rate = 0.5\nwindow = 1",
            |c| c.failure_rate(0.5).window(1),
            Accepts,
        ),
        row(
            "failure_rate = 0.5\nwindow = 8192",
            |c| c.failure_rate(0.5).window(8192),
            Accepts,
        ),
        row(
            "failure_rate = 0.5\nwindow = 8193",
            |c| c.failure_rate(0.5).window(8193),
            Rejects("`window` must be at most 8192"),
        ),
        row(
            "failure_rate = 0.5\ntime_window = \"999ms\"",
            |c| c.failure_rate(0.5).time_window(ms(999)),
            Rejects(
                "a time `window` must be at least 1s, found 999ms; for a window of calls write a \
                 plain count, like `window = 100`",
            ),
        ),
        row(
            "failure_rate = 0.5\ntime_window = \"1s\"",
            |c| c.failure_rate(0.5).time_window(ms(1000)),
            Accepts,
        ),
        row(
            "failure_rate = 0.5\nmin_calls = 0",
            |c| c.failure_rate(0.5).min_calls(0),
            Rejects("`min_calls` must be at least 1"),
        ),
        row(
            "failure_rate = 0.5\nmin_calls = 1",
            |c| c.failure_rate(0.5).min_calls(1),
            Accepts,
        ),
        row(
            "failure_rate = 0.5\nmin_calls = 10",
            |c| c.failure_rate(0.5).min_calls(10),
            Accepts,
        ),
        row(
            "failure_rate = 0.5\nmin_calls = 11",
            |c| c.failure_rate(0.5).min_calls(11),
            Rejects("`min_calls` (11) cannot exceed `window` (10, the default)"),
        ),
        row(
            "failure_rate = 0.5\ntime_window = \"1m\"\nmin_calls = 11",
            |c| c.failure_rate(0.5).time_window(ms(60_000)).min_calls(11),
            Accepts,
        ),
        row(
            "open_for = \"0s\"",
            |c| c.open_for(Duration::ZERO),
            Rejects("`open_for` must be greater than zero"),
        ),
        row(
            "open_for = \"1ns\"",
            |c| c.open_for(Duration::from_nanos(1)),
            Accepts,
        ),
        row(
            "half_open_max = 0",
            |c| c.half_open_max(0),
            Rejects("`half_open_max` must be at least 1"),
        ),
        row("half_open_max = 1", |c| c.half_open_max(1), Accepts),
        row("half_open_max = 65535", |c| c.half_open_max(65535), Accepts),
        row(
            "half_open_max = 65536",
            |c| c.half_open_max(65536),
            Rejects("`half_open_max` must be at most 65535"),
        ),
        row(
            "success_threshold = 0",
            |c| c.success_threshold(0),
            Rejects("`success_threshold` must be at least 1"),
        ),
        row("success_threshold = 1", |c| c.success_threshold(1), Accepts),
        row(
            "success_threshold = 65535",
            |c| c.success_threshold(65535),
            Accepts,
        ),
        row(
            "success_threshold = 65536",
            |c| c.success_threshold(65536),
            Rejects("`success_threshold` must be at most 65535"),
        ),
        row(
            "slow_call = \"0s\"",
            |c| c.slow_call(Duration::ZERO),
            Rejects("`slow_call` must be greater than zero"),
        ),
        row(
            "slow_call = \"1ns\"",
            |c| c.slow_call(Duration::from_nanos(1)),
            Accepts,
        ),
        row(
            "slow_call = \"1s\"\nslow_rate = 0.0",
            |c| c.slow_call(ms(1000)).slow_rate(0.0),
            Rejects("`slow_rate` must be in (0, 1], found `0`"),
        ),
        row(
            "slow_call = \"1s\"\nslow_rate = 1.0",
            |c| c.slow_call(ms(1000)).slow_rate(1.0),
            Accepts,
        ),
        row(
            "slow_call = \"1s\"\nslow_rate = 1.5",
            |c| c.slow_call(ms(1000)).slow_rate(1.5),
            Rejects("`slow_rate` must be in (0, 1], found `1.5`"),
        ),
        row(
            "slow_rate = 0.5",
            |c| c.slow_rate(0.5),
            Rejects(
                "`slow_rate` only applies with `slow_call`: set `slow_call = <duration>`, the time \
                 above which a call counts as slow",
            ),
        ),
    ];
    let load = |toml: &str, config: CircuitBreakerConfig| {
        // Built with the row's settings when they are valid, so that the
        // document changes nothing a running breaker cannot take (its
        // window); otherwise with the defaults, which the document's
        // invalid value is checked against first.
        let name = fresh("cb");
        let code = if config.validate("probe").is_ok() {
            config
        } else {
            CircuitBreakerConfig::DEFAULT
        };
        registry()
            .register_circuit_breaker(name.clone(), code)
            .unwrap();
        loads("circuit_breaker", &name, toml)
    };
    agree(
        rows,
        CircuitBreakerConfig::DEFAULT,
        load,
        Some(|c| declares(DeclaredCircuitBreaker::new, c)),
    );
}

#[test]
fn bulkhead() {
    let rows: Vec<Row<BulkheadConfig>> = vec![
        row(
            "max_concurrent = 0",
            |c| c.max_concurrent(0),
            Rejects("`max` must be at least 1"),
        ),
        row("max_concurrent = 1", |c| c.max_concurrent(1), Accepts),
        row(
            "max_concurrent = 2147483647",
            |c| c.max_concurrent(2_147_483_647),
            Accepts,
        ),
        row(
            "max_concurrent = 2147483648",
            |c| c.max_concurrent(2_147_483_648),
            Rejects("`max` must be at most 2147483647"),
        ),
        row("queue = 0", |c| c.queue(0), Accepts),
        row("queue = 2147483647", |c| c.queue(2_147_483_647), Accepts),
        row(
            "queue = 2147483648",
            |c| c.queue(2_147_483_648),
            Rejects("`queue` must be at most 2147483647"),
        ),
        row(
            "queue = 1\nwait = \"0s\"",
            |c| c.queue(1).wait(Duration::ZERO),
            Rejects("`wait` must be greater than zero when `queue` is set"),
        ),
        row(
            "queue = 1\nwait = \"1ns\"",
            |c| c.queue(1).wait(Duration::from_nanos(1)),
            Accepts,
        ),
    ];
    let load = |toml: &str, _| {
        let name = fresh("bulkhead");
        registry()
            .register_bulkhead(name.clone(), BulkheadConfig::DEFAULT)
            .unwrap();
        loads("bulkhead", &name, toml)
    };
    agree(
        rows,
        BulkheadConfig::DEFAULT,
        load,
        Some(|c| declares(DeclaredBulkhead::new, c)),
    );
}

#[test]
fn timeout() {
    let rows: Vec<Row<TimeoutConfig>> = vec![
        row(
            "duration = \"0s\"",
            |c| c.duration(Duration::ZERO),
            Rejects("`duration` must be greater than zero"),
        ),
        row(
            "duration = \"1ns\"",
            |c| c.duration(Duration::from_nanos(1)),
            Accepts,
        ),
    ];
    let load = |toml: &str, _| {
        let name = fresh("timeout");
        registry()
            .register_timeout(name.clone(), TimeoutConfig::DEFAULT)
            .unwrap();
        loads("timeout", &name, toml)
    };
    agree(rows, TimeoutConfig::DEFAULT, load, None);
}

#[test]
fn rate_limit() {
    let rows: Vec<Row<RateLimiterConfig>> = vec![
        row(
            "rate = 0",
            |c| c.rate(0),
            Rejects("`rate` must be at least 1"),
        ),
        row("rate = 1", |c| c.rate(1), Accepts),
        row(
            "rate = 1\nper = \"0s\"",
            |c| c.rate(1).per(Duration::ZERO),
            Rejects("`per` must be greater than zero"),
        ),
        row(
            "rate = 1\nper = \"1ns\"",
            |c| c.rate(1).per(Duration::from_nanos(1)),
            Accepts,
        ),
        row(
            "rate = 1001\nper = \"1us\"",
            |c| c.rate(1001).per(Duration::from_micros(1)),
            Rejects(
                "`rate` (1001) per 1µs is more than one call a nanosecond; lower `rate` or \
                 lengthen `per`",
            ),
        ),
        row(
            "rate = 1000\nper = \"1us\"",
            |c| c.rate(1000).per(Duration::from_micros(1)),
            Accepts,
        ),
        row(
            "rate = 1\nburst = 0",
            |c| c.rate(1).burst(0),
            Rejects("`burst` must be at least 1"),
        ),
        row("rate = 1\nburst = 1", |c| c.rate(1).burst(1), Accepts),
        row(
            "rate = 1\nwait = \"0s\"",
            |c| c.rate(1).wait(Duration::ZERO),
            Accepts,
        ),
    ];
    let load = |toml: &str, _| {
        let name = fresh("rate");
        registry()
            .register_rate_limiter(name.clone(), RateLimiterConfig::DEFAULT)
            .unwrap();
        loads("rate_limiter", &name, toml)
    };
    agree(rows, RateLimiterConfig::DEFAULT, load, None);
}

/// A keyed breaker's `max_keys` and `key_ttl` are attribute keys only: no
/// document or declaration sets them, so the attribute is compared with
/// the rule itself.
#[test]
fn keyed() {
    use resil_rules::keyed;
    assert!(!Rejects("`max_keys` must be at least 1").accepts());
    assert!(keyed::max_keys(0).is_err() && keyed::max_keys(1).is_ok());
    assert!(!Rejects("`key_ttl` must be greater than zero").accepts());
    assert!(keyed::key_ttl(Some(Duration::ZERO)).is_err());
    assert!(keyed::key_ttl(Some(Duration::from_nanos(1))).is_ok());
}

fn ms(millis: u64) -> Duration {
    Duration::from_millis(millis)
}

/// Each value the rows say the attributes accept, written in one: these
/// compile, and their first call registers the policy, whose settings the
/// runtime checks again.
mod accepted {
    use super::TestError;
    use resil::{bulkhead, circuit_breaker, rate_limit, retry, timeout};

    #[retry(max = 1, initial = 1ns, max_elapsed = 1ns)]
    async fn retry_low() -> Result<(), TestError> {
        Ok(())
    }
    #[retry(max = 4294967295, initial = 100ms, max_delay = 100ms, multiplier = 1.0)]
    async fn retry_high() -> Result<(), TestError> {
        Ok(())
    }
    #[circuit_breaker(threshold = 1, failure_rate = 1e-9, window = 1, min_calls = 1, timeout = 1ns)]
    async fn breaker_low() -> Result<(), TestError> {
        Ok(())
    }
    #[circuit_breaker(
        failure_rate = 1.0,
        window = 8192,
        half_open_max = 65535,
        success_threshold = 65535
    )]
    async fn breaker_high() -> Result<(), TestError> {
        Ok(())
    }
    #[circuit_breaker(
        failure_rate = 0.5,
        min_calls = 10,
        half_open_max = 1,
        success_threshold = 1
    )]
    async fn breaker_min_calls() -> Result<(), TestError> {
        Ok(())
    }
    #[circuit_breaker(failure_rate = 0.5, window = 1s)]
    async fn breaker_time_window() -> Result<(), TestError> {
        Ok(())
    }
    #[circuit_breaker(failure_rate = 0.5, window = 1m, min_calls = 11)]
    async fn breaker_time_window_min_calls() -> Result<(), TestError> {
        Ok(())
    }
    #[circuit_breaker(slow_call = 1ns)]
    async fn breaker_slow_call() -> Result<(), TestError> {
        Ok(())
    }
    #[circuit_breaker(slow_call = 1s, slow_rate = 1.0)]
    async fn breaker_slow_rate() -> Result<(), TestError> {
        Ok(())
    }
    #[circuit_breaker(key = tenant, max_keys = 1, key_ttl = 1ns)]
    async fn breaker_keyed(tenant: &str) -> Result<(), TestError> {
        let _ = tenant;
        Ok(())
    }
    #[bulkhead(max = 1, queue = 0)]
    async fn bulkhead_low() -> Result<(), TestError> {
        Ok(())
    }
    #[bulkhead(max = 2147483647, queue = 2147483647, wait = 1ns)]
    async fn bulkhead_high() -> Result<(), TestError> {
        Ok(())
    }
    #[bulkhead(queue = 1, wait = 1ns)]
    async fn bulkhead_wait() -> Result<(), TestError> {
        Ok(())
    }
    #[timeout(1ns)]
    async fn timeout_low() -> Result<(), TestError> {
        Ok(())
    }
    #[rate_limit(rate = 1, per = 1ns, burst = 1, wait = 0s)]
    async fn rate_low() -> Result<(), TestError> {
        Ok(())
    }
    #[rate_limit(rate = 1000, per = 1us)]
    async fn rate_per() -> Result<(), TestError> {
        Ok(())
    }

    /// Every function above runs: the settings the attributes accepted
    /// are the runtime's too, or the policy would not be built.
    #[tokio::test(flavor = "current_thread", start_paused = true)]
    async fn accepted_values_build_their_policies() {
        retry_low().await.unwrap();
        retry_high().await.unwrap();
        breaker_low().await.unwrap();
        breaker_high().await.unwrap();
        breaker_min_calls().await.unwrap();
        breaker_time_window().await.unwrap();
        breaker_time_window_min_calls().await.unwrap();
        breaker_slow_call().await.unwrap();
        breaker_slow_rate().await.unwrap();
        breaker_keyed("a").await.unwrap();
        bulkhead_low().await.unwrap();
        bulkhead_high().await.unwrap();
        bulkhead_wait().await.unwrap();
        rate_low().await.unwrap();
        rate_per().await.unwrap();
        // A 1ns limit runs out before the body's first poll ends, or not:
        // either way the policy was built from the attribute's settings.
        let _ = timeout_low().await;
    }
}
