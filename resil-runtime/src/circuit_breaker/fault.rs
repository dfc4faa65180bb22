//! The breaker's step of fault injection (feature `chaos`): what
//! [`crate::chaos`] injected into this breaker's name, acted on where the
//! breaker's cold entry calls it. The breaker owns this step, rather than
//! the chaos module reaching into the breaker, so that fault injection
//! stays a hook below the policies.

use std::time::Duration;

use super::{CircuitBreaker, Refusal};
use crate::chaos;

/// The chaos step of a circuit breaker's entry: an injected failure
/// (which the breaker counts, and the caller sees as a rejection), or the
/// latency to add once the call holds its permit. The latency is added
/// here only when no bulkhead of the same name adds it.
pub(crate) fn at_circuit_breaker(breaker: &CircuitBreaker) -> Result<Option<Duration>, Refusal> {
    let Some(point) = chaos::lookup(breaker.name().as_str()) else {
        return Ok(None);
    };
    if point.faults.fails_now() {
        return Err(match breaker.acquire_or_refuse() {
            Ok(permit) => {
                permit.failure();
                Refusal::INJECTED
            }
            Err(refusal) => refusal,
        });
    }
    Ok(point.faults.latency.filter(|_| !point.bulkhead))
}
