//! [`RetryLayer`]: a retry policy around a `tower::Service`, cloning the
//! request for each attempt and waiting the policy's backoff between them.
//! The decision is the policy's own (`RetryRun`), shared with the code the
//! macros generate.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use pin_project_lite::pin_project;
use tokio::time::{Instant, Sleep};
use tower::{Layer, Service};

use super::{BoxError, ErrorsOnly, ResponseClassifier};
use crate::error::{ConfigError, Error};
use crate::private::{Rejection, always, no_retry_after};
use crate::registry::registry;
use crate::retry::{Retry, RetryStep};

/// A [`tower::Layer`] that retries a service's failed calls with a
/// [`Retry`]'s attempts, backoff and jitter, and counts them in its
/// statistics (and metrics).
///
/// Every error is retried, and so is a response that
/// [`retry_if`](Self::retry_if) picks (a 503, say); when the attempts run
/// out the caller gets the last response or error unchanged. An inner
/// layer's rejection (an open breaker, a full bulkhead) ends the retries at
/// once unless the policy sets `retry_rejections`, as with `#[retry]`.
/// The request must be `Clone` (each attempt gets a copy) and so must the
/// service (the copy made ready by `poll_ready` serves the first attempt;
/// later attempts wait for its readiness again).
///
/// ```
/// use std::convert::Infallible;
/// use std::sync::atomic::{AtomicU32, Ordering};
/// use std::sync::Arc;
/// use resil::RetryConfig;
/// use resil::tower::RetryLayer;
/// use tower::{Service, ServiceBuilder, ServiceExt};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
/// let policy = resil::registry()
///     .register_retry("retry-layer-doc", RetryConfig::DEFAULT.max_attempts(3))
///     .unwrap();
/// let calls = Arc::new(AtomicU32::new(0));
/// let mut service = ServiceBuilder::new()
///     .layer(RetryLayer::new(policy.clone()).retry_if(|status: &u16| *status == 503))
///     .service_fn({
///         let calls = calls.clone();
///         move |_: ()| {
///             let call = calls.fetch_add(1, Ordering::SeqCst);
///             async move { Ok::<_, Infallible>(if call < 2 { 503 } else { 200 }) }
///         }
///     });
/// assert_eq!(service.ready().await.unwrap().call(()).await.unwrap(), 200);
/// assert_eq!(policy.snapshot().retries, 2);
/// # }
/// ```
#[derive(Clone)]
pub struct RetryLayer<C = ErrorsOnly> {
    policy: Arc<Retry>,
    classifier: C,
}

impl RetryLayer {
    /// A layer over `policy`; share it with `#[retry]` functions by taking
    /// it from [`registry()`](crate::registry).
    pub fn new(policy: Arc<Retry>) -> Self {
        Self {
            policy,
            classifier: ErrorsOnly,
        }
    }

    /// A layer over the retry policy registered as `name`.
    pub fn named(name: &str) -> Result<Self, ConfigError> {
        registry().retry(name).map(Self::new)
    }
}

impl<C> RetryLayer<C> {
    /// Also retries the responses for which `should_retry` returns true.
    pub fn retry_if<F>(self, should_retry: F) -> RetryLayer<F> {
        RetryLayer {
            policy: self.policy,
            classifier: should_retry,
        }
    }

    /// The retry policy.
    pub fn policy(&self) -> &Arc<Retry> {
        &self.policy
    }
}

impl<S, C: Clone> Layer<S> for RetryLayer<C> {
    type Service = RetryService<S, C>;

    fn layer(&self, inner: S) -> Self::Service {
        RetryService {
            inner,
            policy: Arc::clone(&self.policy),
            classifier: self.classifier.clone(),
        }
    }
}

impl<C> fmt::Debug for RetryLayer<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryLayer")
            .field("policy", self.policy.name())
            .finish_non_exhaustive()
    }
}

/// The service a [`RetryLayer`] makes.
#[derive(Clone)]
pub struct RetryService<S, C = ErrorsOnly> {
    inner: S,
    policy: Arc<Retry>,
    classifier: C,
}

impl<S, C, Request> Service<Request> for RetryService<S, C>
where
    S: Service<Request> + Clone,
    S::Error: Into<BoxError>,
    C: ResponseClassifier<S::Response> + Clone,
    Request: Clone,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = RetryFuture<S, Request, C>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        // The ready service makes the first attempt and stays with the
        // future for the others; a clone takes its place here.
        let ready = self.inner.clone();
        let mut service = std::mem::replace(&mut self.inner, ready);
        let future = service.call(request.clone());
        RetryFuture {
            state: State::Calling { future },
            service,
            request,
            policy: Arc::clone(&self.policy),
            classifier: self.classifier.clone(),
            attempt: 1,
            previous_delay: Duration::ZERO,
            deadline: self.policy.start().deadline(),
            done: false,
        }
    }
}

impl<S: fmt::Debug, C> fmt::Debug for RetryService<S, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryService")
            .field("inner", &self.inner)
            .field("policy", self.policy.name())
            .finish_non_exhaustive()
    }
}

/// What an attempt gave that may be retried.
enum Attempt<Response> {
    /// A response that the classifier wants retried.
    Response(Response),
    /// The service's own error.
    Error(BoxError),
}

pin_project! {
    /// The future of a [`RetryService`] call.
    pub struct RetryFuture<S, Request, C>
    where
        S: Service<Request>,
    {
        #[pin]
        state: State<S::Future>,
        service: S,
        request: Request,
        policy: Arc<Retry>,
        classifier: C,
        attempt: u32,
        previous_delay: Duration,
        deadline: Option<Instant>,
        done: bool,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F> {
        Calling {
            #[pin]
            future: F,
        },
        Sleeping {
            #[pin]
            sleep: Sleep,
        },
        Readying,
    }
}

impl<S, Request, C> Future for RetryFuture<S, Request, C>
where
    S: Service<Request>,
    S::Error: Into<BoxError>,
    C: ResponseClassifier<S::Response>,
    Request: Clone,
{
    type Output = Result<S::Response, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        if *this.done {
            // Polled again after it finished.
            return Poll::Pending;
        }
        loop {
            match this.state.as_mut().project() {
                StateProj::Calling { future } => {
                    let mut rejection = Rejection::new();
                    let result = match ready!(future.poll(cx)) {
                        Ok(response) if this.classifier.is_failure(&response) => {
                            Err(Attempt::Response(response))
                        }
                        Ok(response) => Ok(response),
                        Err(error) => Err(classify_error(error.into(), &mut rejection)),
                    };
                    let mut run =
                        this.policy
                            .resume(*this.attempt, *this.previous_delay, *this.deadline);
                    let step = run.next_after(result, rejection, always, no_retry_after, describe);
                    *this.attempt = run.attempt();
                    *this.previous_delay = run.previous_delay();
                    match step {
                        RetryStep::Done(result) => {
                            *this.done = true;
                            return Poll::Ready(match result {
                                Ok(response) | Err(Attempt::Response(response)) => Ok(response),
                                Err(Attempt::Error(error)) => Err(error),
                            });
                        }
                        RetryStep::Retry(delay) => this.state.set(State::Sleeping {
                            sleep: tokio::time::sleep(delay),
                        }),
                    }
                }
                StateProj::Sleeping { sleep } => {
                    ready!(sleep.poll(cx));
                    this.state.set(State::Readying);
                }
                StateProj::Readying => {
                    if let Err(error) = ready!(this.service.poll_ready(cx)) {
                        *this.done = true;
                        return Poll::Ready(Err(error.into()));
                    }
                    let future = this.service.call(this.request.clone());
                    this.state.set(State::Calling { future });
                }
            }
        }
    }
}

fn describe<Response>(attempt: &Attempt<Response>) -> Option<String> {
    Some(match attempt {
        Attempt::Response(_) => "a response the layer retries".to_owned(),
        Attempt::Error(error) => error.to_string(),
    })
}

/// A resil rejection from an inner layer is recorded in `rejection`, so
/// the policy's `retry_rejections` decides; anything else is the service's
/// own.
fn classify_error<Response>(error: BoxError, rejection: &mut Rejection) -> Attempt<Response> {
    if let Some(resil) = error.downcast_ref::<Error>()
        && resil.is_rejection()
    {
        *rejection = Rejection::of(resil);
    }
    Attempt::Error(error)
}

impl<S: Service<Request>, Request, C> fmt::Debug for RetryFuture<S, Request, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryFuture")
            .field("policy", self.policy.name())
            .field("attempt", &self.attempt)
            .finish_non_exhaustive()
    }
}
