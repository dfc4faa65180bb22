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
//! #[circuit_breaker(name = "payments", threshold = 5, open_for = 60s)]
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
//!
//! # Observability
//!
//! Always there: [`health`] (healthy / degraded / unhealthy per policy and
//! overall, and health-aware choice among [`health::Replicas`]), [`http`]
//! (the HTTP response for any error), [`events`], per-breaker
//! [`CircuitBreaker::on_state_change`] callbacks, and `resil` tracing events
//! for rejections, retries and transitions. Behind cargo features, all off
//! by default because each adds dependencies or a per-call cost (none adds
//! a cost that was not opted into):
//!
//! - `metrics`: `resil::metrics`, every policy's counters, gauges and
//!   histograms through the `metrics` facade.
//! - `tower`: `resil::tower`, layers that put a registered policy in front of
//!   any `tower::Service`.
//! - `axum`: axum's `IntoResponse` for [`Error`] and [`http::ErrorResponse`].
//! - `chaos`: `resil::chaos`, fault injection.
//! - `spans`: a `resil.attempt` tracing span around every attempt, naming
//!   the stack's policies and the attempt number (a few nanoseconds a call,
//!   even with no subscriber).
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
