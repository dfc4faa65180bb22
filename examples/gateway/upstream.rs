//! The flaky upstream services the gateway depends on: real axum servers on
//! loopback ports chosen by the OS, each failing in its own way.
//!
//! Every upstream serves `GET /items/{sku}` as JSON after its usual
//! latency, fails a share of requests with 500, and may have latency
//! spikes. On top of that the scenario gives inventory an outage (it
//! answers 503 at once, as a service behind a load balancer with no healthy
//! backend does) and reviews a slowdown (every call takes long but
//! succeeds: the case a bulkhead is for).

use std::io;
use std::net::SocketAddr;
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::time::Instant;

/// How one upstream misbehaves.
#[derive(Debug, Clone)]
pub(crate) struct Behaviour {
    /// The service's name, echoed in its answers.
    pub(crate) name: &'static str,
    /// The usual time to answer.
    pub(crate) latency: Duration,
    /// The share of requests answered with 500.
    pub(crate) error_rate: f64,
    /// The share of requests that take `spike_latency` instead.
    pub(crate) spike_rate: f64,
    /// How long a latency spike lasts.
    pub(crate) spike_latency: Duration,
    /// When the service is down (503 at once), from the demo's start.
    pub(crate) outage: Option<Range<Duration>>,
    /// When every request takes `slow_latency`, from the demo's start.
    pub(crate) slowdown: Option<Range<Duration>>,
    /// How long a request takes during the slowdown.
    pub(crate) slow_latency: Duration,
}

impl Behaviour {
    /// A service that answers in `latency` and never fails.
    pub(crate) fn steady(name: &'static str, latency: Duration) -> Self {
        Self {
            name,
            latency,
            error_rate: 0.0,
            spike_rate: 0.0,
            spike_latency: latency,
            outage: None,
            slowdown: None,
            slow_latency: latency,
        }
    }
}

/// What an upstream saw, for the summary: how much traffic reached it, and
/// how much of that arrived while it was down.
#[derive(Debug, Default)]
pub(crate) struct Traffic {
    pub(crate) requests: AtomicU64,
    pub(crate) while_down: AtomicU64,
}

/// A running upstream.
#[derive(Debug, Clone)]
pub(crate) struct Upstream {
    pub(crate) behaviour: Behaviour,
    /// `http://127.0.0.1:PORT`.
    pub(crate) base_url: String,
    pub(crate) traffic: Arc<Traffic>,
}

struct Service {
    behaviour: Behaviour,
    started: Instant,
    traffic: Arc<Traffic>,
}

/// Starts an upstream on a free loopback port; it serves until the process
/// ends. `started` is the demo's start, which the schedule counts from.
pub(crate) async fn spawn(behaviour: Behaviour, started: Instant) -> io::Result<Upstream> {
    let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
    let base_url = format!("http://{}", listener.local_addr()?);
    let traffic = Arc::new(Traffic::default());
    let service = Arc::new(Service {
        behaviour: behaviour.clone(),
        started,
        traffic: Arc::clone(&traffic),
    });
    let app = Router::new()
        .route("/items/{sku}", get(item))
        .with_state(service);
    tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, app).await {
            eprintln!("upstream stopped: {error}");
        }
    });
    Ok(Upstream {
        behaviour,
        base_url,
        traffic,
    })
}

async fn item(State(service): State<Arc<Service>>, Path(sku): Path<u32>) -> Response {
    let b = &service.behaviour;
    let now = service.started.elapsed();
    service.traffic.requests.fetch_add(1, Ordering::Relaxed);
    if b.outage.as_ref().is_some_and(|w| w.contains(&now)) {
        service.traffic.while_down.fetch_add(1, Ordering::Relaxed);
        return (StatusCode::SERVICE_UNAVAILABLE, "no healthy backend").into_response();
    }
    let latency = if b.slowdown.as_ref().is_some_and(|w| w.contains(&now)) {
        b.slow_latency
    } else if rand::random_bool(b.spike_rate) {
        b.spike_latency
    } else {
        b.latency
    };
    tokio::time::sleep(latency).await;
    if rand::random_bool(b.error_rate) {
        return (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response();
    }
    // A stand-in for real data: stable per SKU, so answers are checkable.
    let value = sku.wrapping_mul(2_654_435_761) % 100;
    Json(json!({ "service": b.name, "sku": sku, "value": value })).into_response()
}
