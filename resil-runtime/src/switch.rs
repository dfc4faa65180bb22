//! Switching a whole kind of policy off: its calls pass straight through.
//!
//! One `AtomicBool` per kind, read with a `Relaxed` load where a call
//! enters the policy. The layers that set it (file, environment, run time)
//! are kept in the registry, so that the highest one wins.

use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::PolicyKind;

static CIRCUIT_BREAKERS: AtomicBool = AtomicBool::new(true);
static BULKHEADS: AtomicBool = AtomicBool::new(true);
static RETRIES: AtomicBool = AtomicBool::new(true);

fn flag(kind: PolicyKind) -> Option<&'static AtomicBool> {
    match kind {
        PolicyKind::CircuitBreaker => Some(&CIRCUIT_BREAKERS),
        PolicyKind::Bulkhead => Some(&BULKHEADS),
        PolicyKind::Retry => Some(&RETRIES),
        _ => None,
    }
}

/// Whether `kind` can be switched off.
pub(crate) fn switchable(kind: PolicyKind) -> bool {
    flag(kind).is_some()
}

pub(crate) fn set(kind: PolicyKind, enabled: bool) {
    if let Some(flag) = flag(kind) {
        flag.store(enabled, Ordering::Relaxed);
    }
}

/// Whether policies of `kind` act (kinds without a switch always do).
pub(crate) fn enabled(kind: PolicyKind) -> bool {
    flag(kind).is_none_or(|flag| flag.load(Ordering::Relaxed))
}

#[inline(always)]
pub(crate) fn circuit_breakers() -> bool {
    CIRCUIT_BREAKERS.load(Ordering::Relaxed)
}

#[inline(always)]
pub(crate) fn bulkheads() -> bool {
    BULKHEADS.load(Ordering::Relaxed)
}

#[inline(always)]
pub(crate) fn retries() -> bool {
    RETRIES.load(Ordering::Relaxed)
}
