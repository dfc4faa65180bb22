//! [`CircuitBreakerLayer`]: a circuit breaker in front of a
//! `tower::Service`. The service's future holds an owned permit and
//! settles it with the response (or the error), as the classifier says.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use pin_project_lite::pin_project;
use tower::{Layer, Service};

use super::{BoxError, Timing, is_rejection};
use crate::circuit_breaker::{CircuitBreaker, OwnedCircuitPermit};
use crate::error::{ConfigError, Error};
use crate::registry::registry;

/// Which successful responses a [`CircuitBreakerLayer`] counts as failures.
///
/// Implemented by [`ErrorsOnly`] (none: only errors are failures) and by
/// any `Fn(&Response) -> bool + Clone`, which
/// [`CircuitBreakerLayer::failure_if`] takes.
///
/// ```
/// use resil::tower::{ErrorsOnly, ResponseClassifier};
/// assert!(!ErrorsOnly.is_failure(&500_u16));
/// let server_errors = |status: &u16| *status >= 500;
/// assert!(server_errors.is_failure(&503));
/// ```
pub trait ResponseClassifier<Response> {
    /// Whether `response` means the dependency failed.
    fn is_failure(&self, response: &Response) -> bool;
}

/// The default [`ResponseClassifier`]: every response is a success; only
/// errors are failures.
///
/// ```
/// let layer = resil::tower::CircuitBreakerLayer::new(std::sync::Arc::new(
///     resil::CircuitBreaker::new("errors-only-doc", Default::default()).unwrap(),
/// ));
/// let _: &resil::tower::CircuitBreakerLayer<resil::tower::ErrorsOnly> = &layer;
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct ErrorsOnly;

impl<Response> ResponseClassifier<Response> for ErrorsOnly {
    fn is_failure(&self, _: &Response) -> bool {
        false
    }
}

impl<Response, F> ResponseClassifier<Response> for F
where
    F: Fn(&Response) -> bool,
{
    fn is_failure(&self, response: &Response) -> bool {
        self(response)
    }
}

/// A [`tower::Layer`] that puts a [`CircuitBreaker`] in front of a service.
///
/// See the [module docs](super) for an example with `ServiceBuilder`.
///
/// ```
/// let layer = resil::tower::CircuitBreakerLayer::named("no-such-breaker");
/// assert!(layer.is_err(), "a name the registry does not know is an error, not a panic");
/// ```
#[derive(Clone)]
pub struct CircuitBreakerLayer<C = ErrorsOnly> {
    breaker: Arc<CircuitBreaker>,
    classifier: C,
}

impl CircuitBreakerLayer {
    /// A layer over `breaker`; share it with `#[circuit_breaker]` functions
    /// by taking it from [`registry()`](crate::registry).
    pub fn new(breaker: Arc<CircuitBreaker>) -> Self {
        Self {
            breaker,
            classifier: ErrorsOnly,
        }
    }

    /// A layer over the breaker registered as `name`.
    pub fn named(name: &str) -> Result<Self, ConfigError> {
        registry().circuit_breaker(name).map(Self::new)
    }
}

impl<C> CircuitBreakerLayer<C> {
    /// Also counts the responses for which `is_failure` returns true as
    /// failures, e.g. `|r: &http::Response<_>| r.status().is_server_error()`.
    pub fn failure_if<F>(self, is_failure: F) -> CircuitBreakerLayer<F> {
        CircuitBreakerLayer {
            breaker: self.breaker,
            classifier: is_failure,
        }
    }

    /// The breaker.
    pub fn breaker(&self) -> &Arc<CircuitBreaker> {
        &self.breaker
    }
}

impl<S, C: Clone> Layer<S> for CircuitBreakerLayer<C> {
    type Service = CircuitBreakerService<S, C>;

    fn layer(&self, inner: S) -> Self::Service {
        CircuitBreakerService {
            inner,
            breaker: Arc::clone(&self.breaker),
            classifier: self.classifier.clone(),
        }
    }
}

impl<C> fmt::Debug for CircuitBreakerLayer<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CircuitBreakerLayer")
            .field("breaker", self.breaker.name())
            .finish_non_exhaustive()
    }
}

/// The service a [`CircuitBreakerLayer`] makes.
///
/// ```
/// use std::convert::Infallible;
/// use tower::{Layer, Service, ServiceExt};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let breaker = std::sync::Arc::new(resil::CircuitBreaker::new("cb-service-doc", Default::default()).unwrap());
/// let mut service = resil::tower::CircuitBreakerLayer::new(breaker.clone())
///     .layer(tower::service_fn(|x: u32| async move { Ok::<_, Infallible>(x + 1) }));
/// assert_eq!(service.ready().await.unwrap().call(1).await.unwrap(), 2);
/// assert_eq!(breaker.snapshot().successes, 1);
/// # }
/// ```
#[derive(Clone)]
pub struct CircuitBreakerService<S, C = ErrorsOnly> {
    inner: S,
    breaker: Arc<CircuitBreaker>,
    classifier: C,
}

impl<S, C, Request> Service<Request> for CircuitBreakerService<S, C>
where
    S: Service<Request>,
    S::Error: Into<BoxError>,
    C: ResponseClassifier<S::Response> + Clone,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = CircuitBreakerFuture<S::Future, C>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // The breaker's verdict comes from `call`: an open breaker must
        // answer at once, not park the caller in `poll_ready`.
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let started = Timing::start();
        let state = match self.breaker.try_acquire() {
            Ok(permit) => {
                let permit = permit.into_owned(Arc::clone(&self.breaker));
                State::Running {
                    future: self.inner.call(request),
                    permit: Some(permit),
                }
            }
            Err(rejection) => {
                started.end(self.breaker.name(), "rejected");
                State::Rejected {
                    error: Some(rejection),
                }
            }
        };
        CircuitBreakerFuture {
            state,
            breaker: Arc::clone(&self.breaker),
            classifier: self.classifier.clone(),
            started,
        }
    }
}

impl<S: fmt::Debug, C> fmt::Debug for CircuitBreakerService<S, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CircuitBreakerService")
            .field("inner", &self.inner)
            .field("breaker", self.breaker.name())
            .finish_non_exhaustive()
    }
}

pin_project! {
    /// The future of a [`CircuitBreakerService`] call.
    pub struct CircuitBreakerFuture<F, C> {
        #[pin]
        state: State<F>,
        breaker: Arc<CircuitBreaker>,
        classifier: C,
        started: Timing,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F> {
        Running {
            #[pin]
            future: F,
            permit: Option<OwnedCircuitPermit>,
        },
        Rejected {
            error: Option<Error>,
        },
    }
}

impl<F, C, Response, E> Future for CircuitBreakerFuture<F, C>
where
    F: Future<Output = Result<Response, E>>,
    E: Into<BoxError>,
    C: ResponseClassifier<Response>,
{
    type Output = Result<Response, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let (future, permit) = match this.state.project() {
            // No permit: it finished, and is polled again (a contract
            // breach by the caller, answered without a panic).
            StateProj::Running { permit, .. } if permit.is_none() => return Poll::Pending,
            StateProj::Running { future, permit } => (future, permit),
            StateProj::Rejected { error } => {
                return match error.take() {
                    Some(error) => Poll::Ready(Err(Box::new(error))),
                    None => Poll::Pending,
                };
            }
        };
        let result = ready!(future.poll(cx)).map_err(Into::into);
        let Some(permit) = permit.take() else {
            return Poll::Pending;
        };
        let outcome = match &result {
            Ok(response) if this.classifier.is_failure(response) => {
                permit.failure();
                "failure"
            }
            Ok(_) => {
                permit.success();
                "success"
            }
            Err(error) if is_rejection(error) => {
                permit.release();
                "rejected"
            }
            Err(_) => {
                permit.failure();
                "failure"
            }
        };
        this.started.end(this.breaker.name(), outcome);
        Poll::Ready(result)
    }
}

impl<F, C> fmt::Debug for CircuitBreakerFuture<F, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CircuitBreakerFuture")
            .field("breaker", self.breaker.name())
            .finish_non_exhaustive()
    }
}
