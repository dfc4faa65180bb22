//! # resil
//!
//! Resilience policies for async Rust, written as attribute macros and checked
//! by the compiler:
//!
//! ```
//! use resil::{bulkhead, circuit_breaker, retry};
//!
//! #[derive(Debug, thiserror::Error)]
//! enum PayError {
//!     #[error(transparent)]
//!     Resil(#[from] resil::Error),
//!     #[error("upstream said {0}")]
//!     Upstream(u16),
//! }
//!
//! #[retry(max = 3, backoff = exponential, initial = 100ms)]
//! #[circuit_breaker(name = "payments", threshold = 5, timeout = 60s)]
//! #[bulkhead(name = "payments", max = 10, queue = 5)]
//! async fn charge(cents: u64) -> Result<u64, PayError> {
//!     if cents == 0 { return Err(PayError::Upstream(400)); }
//!     Ok(cents)
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! assert_eq!(charge(250).await.unwrap(), 250);
//! let breaker = resil::registry().circuit_breaker("payments").unwrap();
//! assert_eq!(breaker.state(), resil::CircuitState::Closed);
//! # }
//! ```
//!
//! Stacked attributes nest top-down: the first one listed is the outermost
//! layer, so above every retry attempt passes through the breaker and then the
//! bulkhead. Each policy's state lives in the global [`registry()`], shared by
//! every function that names the same policy.
#![warn(missing_docs)]
#![forbid(unsafe_code)]

#[doc(inline)]
pub use resil_macros::{bulkhead, circuit_breaker, fallback, rate_limit, retry, timeout};

pub use resil_runtime::*;

/// Support for the code the macros generate. Not a public API: it may change
/// in any release.
#[doc(hidden)]
pub mod __private {
    pub use resil_runtime::__private::*;
}
