//! [`BulkheadLayer`]: a bulkhead in front of a `tower::Service`. The
//! service's future holds an owned slot until the response is ready.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use pin_project_lite::pin_project;
use tower::{Layer, Service};

use super::BoxError;
use crate::bulkhead::{Bulkhead, OwnedBulkheadPermit};
use crate::error::{ConfigError, Error};
use crate::registry::registry;

/// A [`tower::Layer`] that runs a service's calls in a [`Bulkhead`]'s slots.
///
/// A call with a free slot starts at once (no lock, no allocation, as with
/// `#[bulkhead]`); a call that finds every slot taken waits in the
/// bulkhead's queue for at most its `wait`, or is refused with
/// [`Error::BulkheadFull`] when the queue is full too. The slot is held
/// until the response future finishes or is dropped.
///
/// ```
/// let layer = resil::tower::BulkheadLayer::new(std::sync::Arc::new(
///     resil::Bulkhead::new("bulkhead-layer-doc", Default::default()).unwrap(),
/// ));
/// assert_eq!(layer.bulkhead().name().as_str(), "bulkhead-layer-doc");
/// ```
#[derive(Clone)]
pub struct BulkheadLayer {
    bulkhead: Arc<Bulkhead>,
}

impl BulkheadLayer {
    /// A layer over `bulkhead`; share it with `#[bulkhead]` functions by
    /// taking it from [`registry()`](crate::registry).
    pub fn new(bulkhead: Arc<Bulkhead>) -> Self {
        Self { bulkhead }
    }

    /// A layer over the bulkhead registered as `name`.
    pub fn named(name: &str) -> Result<Self, ConfigError> {
        registry().bulkhead(name).map(Self::new)
    }

    /// The bulkhead.
    pub fn bulkhead(&self) -> &Arc<Bulkhead> {
        &self.bulkhead
    }
}

impl<S> Layer<S> for BulkheadLayer {
    type Service = BulkheadService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        BulkheadService {
            inner,
            bulkhead: Arc::clone(&self.bulkhead),
        }
    }
}

impl fmt::Debug for BulkheadLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BulkheadLayer")
            .field("bulkhead", self.bulkhead.name())
            .finish()
    }
}

/// The service a [`BulkheadLayer`] makes.
///
/// ```
/// use std::convert::Infallible;
/// use tower::{Layer, Service, ServiceExt};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let bulkhead = std::sync::Arc::new(resil::Bulkhead::new("bh-service-doc", Default::default()).unwrap());
/// let mut service = resil::tower::BulkheadLayer::new(bulkhead.clone())
///     .layer(tower::service_fn(|x: u32| async move { Ok::<_, Infallible>(x * 2) }));
/// assert_eq!(service.ready().await.unwrap().call(21).await.unwrap(), 42);
/// assert_eq!(bulkhead.snapshot().admitted, 1);
/// # }
/// ```
#[derive(Clone)]
pub struct BulkheadService<S> {
    inner: S,
    bulkhead: Arc<Bulkhead>,
}

impl<S, Request> Service<Request> for BulkheadService<S>
where
    S: Service<Request> + Clone,
    S::Error: Into<BoxError>,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = BulkheadFuture<S, Request>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // Slots are taken in `call`: a full bulkhead refuses (or queues) a
        // call, it does not hold back readiness.
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        // Without a queue a call either gets a slot now or is refused now.
        let now = if self.bulkhead.config().queue == 0 {
            self.bulkhead.try_acquire().map(Some)
        } else {
            Ok(self.bulkhead.try_acquire_fast())
        };
        let state = match now {
            Ok(Some(permit)) => State::Running {
                future: self.inner.call(request),
                permit: Some(permit.into_owned(Arc::clone(&self.bulkhead))),
            },
            Err(error) => State::Rejected { error: Some(error) },
            Ok(None) => {
                // The slow path: wait in the queue (boxed: this path already
                // allocates its queue node). The service made ready by
                // `poll_ready` goes with the request; a clone takes its place.
                let ready = self.inner.clone();
                let service = std::mem::replace(&mut self.inner, ready);
                State::Queued {
                    wait: Box::pin(Arc::clone(&self.bulkhead).acquire_owned()),
                    call: Some((service, request)),
                }
            }
        };
        BulkheadFuture { state }
    }
}

impl<S: fmt::Debug> fmt::Debug for BulkheadService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BulkheadService")
            .field("inner", &self.inner)
            .field("bulkhead", self.bulkhead.name())
            .finish()
    }
}

type Wait = Pin<Box<dyn Future<Output = Result<OwnedBulkheadPermit, Error>> + Send>>;

pin_project! {
    /// The future of a [`BulkheadService`] call.
    pub struct BulkheadFuture<S, Request>
    where
        S: Service<Request>,
    {
        #[pin]
        state: State<S, Request>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<S, Request>
    where
        S: Service<Request>,
    {
        Queued {
            wait: Wait,
            call: Option<(S, Request)>,
        },
        Running {
            #[pin]
            future: S::Future,
            permit: Option<OwnedBulkheadPermit>,
        },
        Rejected {
            error: Option<Error>,
        },
    }
}

impl<S, Request> Future for BulkheadFuture<S, Request>
where
    S: Service<Request>,
    S::Error: Into<BoxError>,
{
    type Output = Result<S::Response, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut state = self.project().state;
        loop {
            match state.as_mut().project() {
                StateProj::Queued { wait, call } => {
                    if call.is_none() {
                        // Polled again after it finished.
                        return Poll::Pending;
                    }
                    let granted = ready!(wait.as_mut().poll(cx));
                    let Some((mut service, request)) = call.take() else {
                        return Poll::Pending;
                    };
                    match granted {
                        Ok(permit) => state.set(State::Running {
                            future: service.call(request),
                            permit: Some(permit),
                        }),
                        Err(error) => return Poll::Ready(Err(Box::new(error))),
                    }
                }
                StateProj::Running { future, permit } => {
                    if permit.is_none() {
                        return Poll::Pending;
                    }
                    let result = ready!(future.poll(cx));
                    // The slot is free as soon as the response is in.
                    permit.take();
                    return Poll::Ready(result.map_err(Into::into));
                }
                StateProj::Rejected { error } => {
                    return match error.take() {
                        Some(error) => Poll::Ready(Err(Box::new(error))),
                        None => Poll::Pending,
                    };
                }
            }
        }
    }
}

impl<S: Service<Request>, Request> fmt::Debug for BulkheadFuture<S, Request> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BulkheadFuture").finish_non_exhaustive()
    }
}
