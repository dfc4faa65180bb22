//! Every rule's first rejected value, one function each: the other side
//! of `tests/behaviour/rules.rs`, which reads the errors below and checks
//! that configuration and declared policies reject the same values.

#[derive(Debug)]
pub enum MyError {
    Resil(resil::Error),
}

impl From<resil::Error> for MyError {
    fn from(error: resil::Error) -> Self {
        Self::Resil(error)
    }
}

#[resil::retry(max = 0)]
async fn case_0() -> Result<(), MyError> {
    Ok(())
}

#[resil::retry(initial = 0ns)]
async fn case_1() -> Result<(), MyError> {
    Ok(())
}

#[resil::retry(initial = 100ms, max_delay = 99ms)]
async fn case_2() -> Result<(), MyError> {
    Ok(())
}

#[resil::retry(multiplier = 0.99)]
async fn case_3() -> Result<(), MyError> {
    Ok(())
}

#[resil::retry(max_elapsed = 0s)]
async fn case_4() -> Result<(), MyError> {
    Ok(())
}

#[resil::circuit_breaker(threshold = 0)]
async fn case_5() -> Result<(), MyError> {
    Ok(())
}

#[resil::circuit_breaker(failure_rate = 0.0)]
async fn case_6() -> Result<(), MyError> {
    Ok(())
}

#[resil::circuit_breaker(failure_rate = 1.0000001)]
async fn case_7() -> Result<(), MyError> {
    Ok(())
}

#[resil::circuit_breaker(failure_rate = 0.5, window = 0)]
async fn case_8() -> Result<(), MyError> {
    Ok(())
}

#[resil::circuit_breaker(failure_rate = 0.5, window = 8193)]
async fn case_9() -> Result<(), MyError> {
    Ok(())
}

#[resil::circuit_breaker(failure_rate = 0.5, window = 999ms)]
async fn case_10() -> Result<(), MyError> {
    Ok(())
}

#[resil::circuit_breaker(failure_rate = 0.5, min_calls = 0)]
async fn case_11() -> Result<(), MyError> {
    Ok(())
}

#[resil::circuit_breaker(failure_rate = 0.5, min_calls = 11)]
async fn case_12() -> Result<(), MyError> {
    Ok(())
}

#[resil::circuit_breaker(open_for = 0s)]
async fn case_13() -> Result<(), MyError> {
    Ok(())
}

#[resil::circuit_breaker(half_open_max = 0)]
async fn case_14() -> Result<(), MyError> {
    Ok(())
}

#[resil::circuit_breaker(half_open_max = 65536)]
async fn case_15() -> Result<(), MyError> {
    Ok(())
}

#[resil::circuit_breaker(success_threshold = 0)]
async fn case_16() -> Result<(), MyError> {
    Ok(())
}

#[resil::circuit_breaker(success_threshold = 65536)]
async fn case_17() -> Result<(), MyError> {
    Ok(())
}

#[resil::circuit_breaker(slow_call = 0s)]
async fn case_18() -> Result<(), MyError> {
    Ok(())
}

#[resil::circuit_breaker(slow_call = 1s, slow_rate = 0.0)]
async fn case_19() -> Result<(), MyError> {
    Ok(())
}

#[resil::circuit_breaker(slow_call = 1s, slow_rate = 1.5)]
async fn case_20() -> Result<(), MyError> {
    Ok(())
}

#[resil::circuit_breaker(slow_rate = 0.5)]
async fn case_21() -> Result<(), MyError> {
    Ok(())
}

#[resil::circuit_breaker(key = tenant, max_keys = 0)]
async fn case_22(tenant: &str) -> Result<(), MyError> {
    let _ = tenant;
    Ok(())
}

#[resil::circuit_breaker(key = tenant, key_ttl = 0s)]
async fn case_23(tenant: &str) -> Result<(), MyError> {
    let _ = tenant;
    Ok(())
}

#[resil::bulkhead(max = 0)]
async fn case_24() -> Result<(), MyError> {
    Ok(())
}

#[resil::bulkhead(max = 2147483648)]
async fn case_25() -> Result<(), MyError> {
    Ok(())
}

#[resil::bulkhead(queue = 2147483648)]
async fn case_26() -> Result<(), MyError> {
    Ok(())
}

#[resil::bulkhead(queue = 1, wait = 0s)]
async fn case_27() -> Result<(), MyError> {
    Ok(())
}

#[resil::timeout(0s)]
async fn case_28() -> Result<(), MyError> {
    Ok(())
}

#[resil::rate_limit(rate = 0)]
async fn case_29() -> Result<(), MyError> {
    Ok(())
}

#[resil::rate_limit(rate = 1, per = 0s)]
async fn case_30() -> Result<(), MyError> {
    Ok(())
}

#[resil::rate_limit(rate = 1001, per = 1us)]
async fn case_31() -> Result<(), MyError> {
    Ok(())
}

#[resil::rate_limit(rate = 1, burst = 0)]
async fn case_32() -> Result<(), MyError> {
    Ok(())
}

fn main() {}
