use std::fmt;

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
    pub(super) fn new(bulkhead: &'a Bulkhead) -> Self {
        Self { bulkhead }
    }
}

impl Drop for BulkheadPermit<'_> {
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
