//! The messages name the limits the constants hold, and every violation
//! names a key of its policy.

extern crate std;

use std::format;
use std::string::ToString;
use std::time::Duration;

use crate::{bulkhead, circuit_breaker, keyed, rate_limit, retry, timeout};

#[test]
fn messages_name_the_limits() {
    let too_many = circuit_breaker::window(circuit_breaker::MAX_WINDOW + 1).unwrap_err();
    assert_eq!(
        too_many.message,
        format!("must be at most {}", circuit_breaker::MAX_WINDOW)
    );
    let too_many = circuit_breaker::half_open_max(circuit_breaker::MAX_TRIALS + 1).unwrap_err();
    assert_eq!(
        too_many.message,
        format!("must be at most {}", circuit_breaker::MAX_TRIALS)
    );
    for rule in [bulkhead::max_concurrent, bulkhead::queue] {
        let too_many = rule(bulkhead::MAX_SLOTS + 1).unwrap_err();
        assert_eq!(
            too_many.message,
            format!("must be at most {}", bulkhead::MAX_SLOTS)
        );
        assert_eq!(rule(bulkhead::MAX_SLOTS), Ok(()));
    }
    let short = circuit_breaker::time_window(Some(
        circuit_breaker::MIN_TIME_WINDOW - Duration::from_nanos(1),
    ))
    .unwrap_err();
    assert_eq!(short.message, "must be at least 1s");
    assert_eq!(circuit_breaker::MIN_TIME_WINDOW, Duration::from_secs(1));
}

#[test]
fn sentences_name_the_policy_and_the_key() {
    let violation = retry::max_attempts(0).unwrap_err();
    assert_eq!(violation.key, retry::MAX_ATTEMPTS);
    assert_eq!(
        violation.sentence,
        "retry: `max_attempts` must be at least 1"
    );
    assert_eq!(violation.to_string(), violation.sentence);
    let violation = circuit_breaker::failure_rate(Some(f64::NAN)).unwrap_err();
    assert_eq!(
        violation.sentence,
        "circuit breaker: `failure_rate` must be in (0, 1]"
    );
}

#[test]
fn every_violation_names_its_key() {
    let ms = Duration::from_millis;
    let cases = [
        (retry::max_attempts(0), retry::MAX_ATTEMPTS),
        (retry::initial(Duration::ZERO), retry::INITIAL),
        (retry::max_delay(ms(1), ms(2)), retry::MAX_DELAY),
        (retry::multiplier(f64::INFINITY), retry::MULTIPLIER),
        (retry::max_elapsed(Some(Duration::ZERO)), retry::MAX_ELAPSED),
        (circuit_breaker::threshold(0), circuit_breaker::THRESHOLD),
        (
            circuit_breaker::failure_rate(Some(0.0)),
            circuit_breaker::FAILURE_RATE,
        ),
        (
            circuit_breaker::slow_rate(Some(1.5)),
            circuit_breaker::SLOW_RATE,
        ),
        (circuit_breaker::window(0), circuit_breaker::WINDOW),
        (
            circuit_breaker::time_window(Some(ms(999))),
            circuit_breaker::TIME_WINDOW,
        ),
        (circuit_breaker::min_calls(0), circuit_breaker::MIN_CALLS),
        (
            circuit_breaker::min_calls_in_window(11, 10, false),
            circuit_breaker::MIN_CALLS,
        ),
        (
            circuit_breaker::open_for(Duration::ZERO),
            circuit_breaker::OPEN_FOR,
        ),
        (
            circuit_breaker::half_open_max(0),
            circuit_breaker::HALF_OPEN_MAX,
        ),
        (
            circuit_breaker::success_threshold(0),
            circuit_breaker::SUCCESS_THRESHOLD,
        ),
        (
            circuit_breaker::slow_call(Some(Duration::ZERO)),
            circuit_breaker::SLOW_CALL,
        ),
        (
            circuit_breaker::slow_rate_needs_slow_call(true, false),
            circuit_breaker::SLOW_RATE,
        ),
        (bulkhead::max_concurrent(0), bulkhead::MAX_CONCURRENT),
        (bulkhead::queue(u32::MAX), bulkhead::QUEUE),
        (bulkhead::wait(Duration::ZERO, 1), bulkhead::WAIT),
        (timeout::duration(Duration::ZERO), timeout::DURATION),
        (rate_limit::rate(0), rate_limit::RATE),
        (rate_limit::per(Duration::ZERO), rate_limit::PER),
        (
            rate_limit::rate_per(2, Duration::from_nanos(1)),
            rate_limit::RATE,
        ),
        (rate_limit::burst(Some(0)), rate_limit::BURST),
        (keyed::max_keys(0), keyed::MAX_KEYS),
        (keyed::key_ttl(Some(Duration::ZERO)), keyed::KEY_TTL),
    ];
    for (result, key) in cases {
        let violation = result.unwrap_err();
        assert_eq!(violation.key, key);
        assert!(
            violation
                .sentence
                .ends_with(&format!("`{key}` {}", violation.message)),
            "{violation:?}"
        );
    }
}

#[test]
fn defaults_pass_their_rules() {
    assert_eq!(retry::max_attempts(retry::DEFAULT_MAX_ATTEMPTS), Ok(()));
    assert_eq!(retry::initial(retry::DEFAULT_INITIAL), Ok(()));
    assert_eq!(
        retry::max_delay(retry::DEFAULT_MAX_DELAY, retry::DEFAULT_INITIAL),
        Ok(())
    );
    assert_eq!(retry::multiplier(retry::DEFAULT_MULTIPLIER), Ok(()));
    assert_eq!(
        circuit_breaker::threshold(circuit_breaker::DEFAULT_THRESHOLD),
        Ok(())
    );
    assert_eq!(
        circuit_breaker::window(circuit_breaker::DEFAULT_WINDOW),
        Ok(())
    );
    assert_eq!(
        circuit_breaker::open_for(circuit_breaker::DEFAULT_OPEN_FOR),
        Ok(())
    );
    assert_eq!(
        circuit_breaker::half_open_max(circuit_breaker::DEFAULT_HALF_OPEN_MAX),
        Ok(())
    );
    assert_eq!(
        circuit_breaker::success_threshold(circuit_breaker::DEFAULT_SUCCESS_THRESHOLD),
        Ok(())
    );
    assert_eq!(
        bulkhead::max_concurrent(bulkhead::DEFAULT_MAX_CONCURRENT),
        Ok(())
    );
    assert_eq!(bulkhead::queue(bulkhead::DEFAULT_QUEUE), Ok(()));
    assert_eq!(
        bulkhead::wait(bulkhead::DEFAULT_WAIT, bulkhead::DEFAULT_QUEUE),
        Ok(())
    );
    assert_eq!(timeout::duration(timeout::DEFAULT_DURATION), Ok(()));
    assert_eq!(rate_limit::rate(rate_limit::DEFAULT_RATE), Ok(()));
    assert_eq!(rate_limit::per(rate_limit::DEFAULT_PER), Ok(()));
    assert_eq!(keyed::max_keys(keyed::DEFAULT_MAX_KEYS), Ok(()));
}
