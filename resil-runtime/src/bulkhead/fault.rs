//! The bulkhead's step of fault injection (feature `chaos`): what
//! [`crate::chaos`] injected into this bulkhead's name, acted on where the
//! bulkhead's cold entry calls it. The bulkhead owns this step, rather
//! than the chaos module reaching into the bulkhead, so that fault
//! injection stays a hook below the policies.

use std::time::Duration;

use super::Bulkhead;
use crate::chaos;
use crate::error::Error;

/// The chaos step of a bulkhead's entry: an injected failure (only when no
/// circuit breaker of the same name injects it), or the latency to add once
/// the call holds its slot.
pub(crate) fn at_bulkhead(bulkhead: &Bulkhead) -> Result<Option<Duration>, Error> {
    let Some(point) = chaos::lookup(bulkhead.name().as_str()) else {
        return Ok(None);
    };
    let faults = point.faults;
    if (faults.outage || faults.error_rate.is_some()) && !point.breaker && faults.fails_now() {
        return Err(chaos::injected_error(bulkhead.name()));
    }
    Ok(faults.latency)
}
