//! Start-up declarations: every call site's `static` and every
//! [`policy!`](crate::policy) declaration puts itself in one link-time list
//! (a `linkme` distributed slice), which the first [`registry()`](crate::registry())
//! walks. The list and its trait live with the registry they fill, so the
//! registry needs nothing from the call sites and declared policies above
//! it; they implement [`Declaration`].

use super::Registry;

/// Something that declares policies to the registry at start-up. Not a
/// public API.
#[doc(hidden)]
pub trait Declaration: Sync {
    /// Registers the policy (without building it).
    fn declare(&'static self, registry: &Registry);
    /// Lower ranks are declared first.
    fn rank(&self) -> u8 {
        1
    }
}

/// Every declaration in the program, gathered by the linker. Not a public
/// API.
#[doc(hidden)]
#[linkme::distributed_slice]
pub static DECLARATIONS: [&'static dyn Declaration];

pub(crate) fn declare_all(registry: &Registry) {
    let mut all: Vec<&'static dyn Declaration> = DECLARATIONS.iter().copied().collect();
    all.sort_by_key(|declaration| declaration.rank());
    for declaration in all {
        declaration.declare(registry);
    }
}
