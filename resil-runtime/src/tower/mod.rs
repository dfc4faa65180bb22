//! `tower` layers that put a named policy in front of any
//! `tower::Service`: an axum or hyper route, or a
//! tower-based client. Only with the `tower` feature.
//!
//! Each layer holds the policy itself (an `Arc` from the
//! [`registry()`](crate::registry), or found by name), so a route, a client
//! and `#[circuit_breaker]` functions that name the same policy share one
//! state, one set of counters and one health.
//!
//! - [`CircuitBreakerLayer`]: rejects at once while the breaker is open.
//!   An error from the service is a failure, and so is a response that
//!   [`failure_if`](CircuitBreakerLayer::failure_if) says is one (a 5xx,
//!   say); an inner layer's rejection (a full bulkhead) counts as neither.
//! - [`BulkheadLayer`]: caps calls in flight, with the bulkhead's queue and
//!   wait.
//! - [`RetryLayer`]: retries errors, and the responses
//!   [`retry_if`](RetryLayer::retry_if) picks, with the policy's backoff;
//!   the request must be `Clone`.
//!
//! Readiness is the inner service's: a layer never holds `poll_ready`
//! pending for its policy, so an open breaker or a full bulkhead is an
//! error from `call`'s future, at once. The services' error type is
//! [`BoxError`]: the inner service's error, or a boxed
//! [`resil::Error`](crate::Error) that
//! [`ErrorResponse::from_any_error`](crate::http::ErrorResponse::from_any_error)
//! (or, with axum, [`handle_error`](crate::http::handle_error) in a
//! `HandleErrorLayer`) turns into a 503 with `Retry-After` or a 429.
//!
//! ```
//! use std::convert::Infallible;
//! use resil::tower::{BulkheadLayer, CircuitBreakerLayer};
//! use resil::{BulkheadConfig, CircuitBreakerConfig};
//! use tower::{Service, ServiceBuilder, ServiceExt};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), tower::BoxError> {
//! let registry = resil::registry();
//! registry.register_circuit_breaker("tower-doc", CircuitBreakerConfig::DEFAULT.threshold(1))?;
//! registry.register_bulkhead("tower-doc", BulkheadConfig::DEFAULT.max_concurrent(4))?;
//!
//! let mut service = ServiceBuilder::new()
//!     .layer(CircuitBreakerLayer::named("tower-doc")?.failure_if(|status: &u16| *status >= 500))
//!     .layer(BulkheadLayer::named("tower-doc")?)
//!     .service_fn(|status: u16| async move { Ok::<_, Infallible>(status) });
//!
//! assert_eq!(service.ready().await?.call(200).await?, 200);
//! assert_eq!(service.ready().await?.call(500).await?, 500); // a failure: opens it
//! let rejected = service.ready().await?.call(200).await.unwrap_err();
//! let rejected = rejected.downcast_ref::<resil::Error>().unwrap();
//! assert_eq!(rejected.http_status(), 503);
//! # Ok(()) }
//! ```

mod bulkhead;
mod circuit_breaker;
mod retry;

pub use ::tower::BoxError;
pub use bulkhead::{BulkheadFuture, BulkheadLayer, BulkheadService};
pub use circuit_breaker::{
    CircuitBreakerFuture, CircuitBreakerLayer, CircuitBreakerService, ErrorsOnly,
    ResponseClassifier,
};
pub use retry::{RetryFuture, RetryLayer, RetryService};

/// When a call through a breaker started, if call timing is on (and the
/// `metrics` feature is); nothing at all without the feature.
#[derive(Debug, Clone, Copy)]
struct Timing {
    #[cfg(feature = "metrics")]
    started: Option<tokio::time::Instant>,
}

impl Timing {
    fn start() -> Self {
        Self {
            #[cfg(feature = "metrics")]
            started: crate::meter::timing_start(),
        }
    }

    #[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
    fn end(self, policy: &crate::PolicyName, outcome: &'static str) {
        #[cfg(feature = "metrics")]
        if let Some(started) = self.started {
            crate::meter::call_duration(policy, outcome, started.elapsed());
        }
    }
}

/// Whether a service's error is another policy's refusal (the dependency
/// was not called), which a breaker counts as neither success nor failure.
fn is_rejection(error: &BoxError) -> bool {
    error
        .downcast_ref::<crate::Error>()
        .is_some_and(crate::Error::is_rejection)
}
