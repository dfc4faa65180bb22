//! What a call holds while it runs in a bulkhead: a slot
//! ([`BulkheadPermit`]), given back when dropped however the call ends, and
//! its owned form for the tower layer.

use std::fmt;
#[cfg(feature = "tower")]
use std::sync::Arc;

use super::Bulkhead;

/// A slot in a [`Bulkhead`], given back when dropped (also when the call
/// panics or its future is dropped).
///
/// ```
/// let bulkhead = resil::Bulkhead::new("permit-doc-bh", Default::default()).unwrap();
/// let slot = bulkhead.try_acquire().unwrap();
/// assert_eq!(bulkhead.in_flight(), 1);
/// drop(slot);
/// assert_eq!(bulkhead.in_flight(), 0);
/// ```
#[must_use = "the slot is given back as soon as the permit is dropped"]
pub struct BulkheadPermit<'a> {
    bulkhead: &'a Bulkhead,
}

impl<'a> BulkheadPermit<'a> {
    #[inline]
    pub(super) fn new(bulkhead: &'a Bulkhead) -> Self {
        Self { bulkhead }
    }

    /// The same slot, holding its bulkhead by `Arc` so that it can live in a
    /// future that outlives the borrow. `bulkhead` must be the bulkhead this
    /// permit came from.
    #[cfg(feature = "tower")]
    pub(crate) fn into_owned(self, bulkhead: Arc<Bulkhead>) -> OwnedBulkheadPermit {
        debug_assert!(std::ptr::eq(self.bulkhead, &*bulkhead));
        // The slot moves to the owned permit, which gives it back.
        std::mem::forget(self);
        OwnedBulkheadPermit { bulkhead }
    }
}

/// A [`BulkheadPermit`] that owns its bulkhead, for futures that must be
/// `'static` (the `tower` layer's).
#[cfg(feature = "tower")]
pub(crate) struct OwnedBulkheadPermit {
    bulkhead: Arc<Bulkhead>,
}

#[cfg(feature = "tower")]
impl Drop for OwnedBulkheadPermit {
    fn drop(&mut self) {
        self.bulkhead.release();
    }
}

#[cfg(feature = "tower")]
impl fmt::Debug for OwnedBulkheadPermit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedBulkheadPermit")
            .field("bulkhead", self.bulkhead.name())
            .finish()
    }
}

impl Drop for BulkheadPermit<'_> {
    #[inline]
    fn drop(&mut self) {
        self.bulkhead.release();
    }
}

impl fmt::Debug for BulkheadPermit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BulkheadPermit")
            .field("bulkhead", self.bulkhead.name())
            .finish()
    }
}
