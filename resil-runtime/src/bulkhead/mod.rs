//! Bulkhead: caps how many calls run at once, with a bounded queue of
//! callers that wait a bounded time for a slot.
//!
//! # How the state is laid out
//!
//! One `AtomicU64` holds the running count (low 32 bits) and the waiting
//! count (high 32 bits). With free capacity and nobody waiting, taking a
//! slot is one CAS and giving it back is one `fetch_sub`: no lock and no
//! allocation. Only when callers queue does a `Mutex<VecDeque>` of waiters
//! come into play; a slot freed while someone waits is handed to the oldest
//! waiter (newcomers cannot overtake the queue: the fast path takes a slot
//! only while nobody waits).
//!
//! `tokio::sync::Semaphore` is not used because its release takes the
//! waiter-list lock on every call, even when nobody waits, and it has no
//! notion of a bounded queue; the state here keeps both counts in the word
//! the fast path already reads.

mod assess;
mod config;
#[cfg(feature = "chaos")]
mod fault;
mod permit;
mod queue;
mod reconfigure;
pub(crate) use reconfigure::ROUTE;
pub(crate) mod slots;

pub use config::BulkheadConfig;
pub(crate) use config::LiveBulkheadConfig;
pub use permit::BulkheadPermit;
#[cfg(feature = "tower")]
pub(crate) use permit::OwnedBulkheadPermit;
pub use slots::{Bulkhead, BulkheadSnapshot};
use slots::{WAITING_ONE, running, waiting};
