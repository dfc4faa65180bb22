//! How healthy a bulkhead judges itself from its snapshot: degraded while
//! the next call would wait or be refused (the rule in the
//! [`health`](crate::health) module docs). Here, beside the counts it
//! reads, so that the bulkhead reports its health without importing the
//! health report.

use super::BulkheadSnapshot;
use crate::status::{Assessment, Status};

pub(crate) fn assess_bulkhead(snapshot: &BulkheadSnapshot) -> Assessment {
    let config = &snapshot.config;
    let capacity = u64::from(config.max_concurrent) + u64::from(config.queue);
    let used = u64::from(snapshot.in_flight) + u64::from(snapshot.queued);
    let occupancy = if capacity == 0 {
        0.0
    } else {
        (used as f64 / capacity as f64).min(1.0)
    };
    let full = snapshot.in_flight >= config.max_concurrent;
    let status = if full && (snapshot.queued > 0 || config.queue == 0) {
        Status::Degraded
    } else {
        Status::Healthy
    };
    Assessment {
        status,
        score: 1.0 - 0.5 * occupancy,
    }
}
