//! The API gateway: an axum server whose routes call the upstreams through
//! functions annotated with `#[retry]`, `#[circuit_breaker]` and
//! `#[bulkhead]`, and which answers failures as `resil::http` maps them.
//!
//! | route | answers |
//! | --- | --- |
//! | `GET /{inventory,pricing,reviews}/{sku}` | the upstream's JSON; 503 + `Retry-After` while its breaker is open; 429 when its bulkhead is full; 502 when the upstream failed, 504 when it did not answer |
//! | `GET /health` | every policy's state, health and counters (`resil::registry().snapshot()`); 503 when every breaker is open |
//! | `GET /metrics` | the same in Prometheus text format (`resil::metrics::record()`) |

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::PrometheusHandle;
use resil::health::Status;
use resil::http::ErrorResponse;
use resil::{bulkhead, circuit_breaker, retry};
use serde_json::Value;
use tokio::net::TcpListener;

use crate::client::{HttpClient, RequestError};

/// Why a call to an upstream gave no answer.
///
/// Each variant keeps its cause as `source()`, which is how
/// `ErrorResponse::from_any_error` finds a rejection or a time-out in it.
#[derive(Debug, thiserror::Error)]
pub(crate) enum UpstreamError {
    /// A policy refused the call: an open breaker or a full bulkhead.
    #[error("{0}")]
    Resil(#[from] resil::Error),
    #[error("upstream answered {0}")]
    Status(StatusCode),
    #[error("upstream unreachable: {0}")]
    Request(#[from] RequestError),
    #[error("upstream sent bad JSON: {0}")]
    Body(String),
}

impl UpstreamError {
    /// Errors worth another attempt: server errors and lost requests. A 4xx
    /// would fail the same way again.
    pub(crate) fn is_transient(&self) -> bool {
        match self {
            Self::Status(status) => status.is_server_error(),
            Self::Request(_) => true,
            Self::Resil(_) | Self::Body(_) => false,
        }
    }
}

/// Where the upstreams are, and the client that calls them.
#[derive(Debug)]
pub(crate) struct Upstreams {
    pub(crate) client: HttpClient,
    pub(crate) inventory: String,
    pub(crate) pricing: String,
    pub(crate) reviews: String,
}

impl Upstreams {
    async fn item(&self, base: &str, sku: u32) -> Result<Value, UpstreamError> {
        let reply = self.client.get(&format!("{base}/items/{sku}")).await?;
        if !reply.status.is_success() {
            return Err(UpstreamError::Status(reply.status));
        }
        serde_json::from_slice(&reply.body).map_err(|e| UpstreamError::Body(e.to_string()))
    }
}

// The policies. Retry is outermost, so every attempt goes through the
// breaker (an outage opens it within a few requests) and then the bulkhead
// (attempts hold a slot only while they run, not while backing off).
// A breaker timeout of 2s means a few failed probes during a long outage
// and a quick recovery after it.

/// Inventory: its outage is what the breaker is for.
#[retry(name = "inventory", max = 3, backoff = exponential, initial = 20ms, max_delay = 200ms, jitter = full, retry_if = UpstreamError::is_transient)]
#[circuit_breaker(name = "inventory", threshold = 5, open_for = 2s, success_threshold = 2)]
#[bulkhead(name = "inventory", max = 8, queue = 8, wait = 100ms)]
pub(crate) async fn inventory(upstreams: &Upstreams, sku: u32) -> Result<Value, UpstreamError> {
    upstreams.item(&upstreams.inventory, sku).await
}

/// Pricing fails often but briefly: retries hide it. Its breaker tolerates
/// a longer streak, since 8% errors make five in a row likely over a run.
#[retry(name = "pricing", max = 3, backoff = exponential, initial = 10ms, max_delay = 100ms, jitter = full, retry_if = UpstreamError::is_transient)]
#[circuit_breaker(name = "pricing", threshold = 10, open_for = 2s, success_threshold = 2)]
#[bulkhead(name = "pricing", max = 8, queue = 8, wait = 100ms)]
pub(crate) async fn pricing(upstreams: &Upstreams, sku: u32) -> Result<Value, UpstreamError> {
    upstreams.item(&upstreams.pricing, sku).await
}

/// Reviews slows down: the bulkhead keeps it to 8 calls running and 4
/// waiting at most 100ms, and sheds the rest at once, so slow reviews cannot
/// tie up the gateway's callers. 8 is about twice what the load needs when
/// reviews is fast, so it sheds only when reviews is slow.
#[retry(name = "reviews", max = 2, backoff = constant, initial = 20ms, jitter = full, retry_if = UpstreamError::is_transient)]
#[circuit_breaker(name = "reviews", threshold = 5, open_for = 2s, success_threshold = 2)]
#[bulkhead(name = "reviews", max = 8, queue = 4, wait = 100ms)]
pub(crate) async fn reviews(upstreams: &Upstreams, sku: u32) -> Result<Value, UpstreamError> {
    upstreams.item(&upstreams.reviews, sku).await
}

struct Gateway {
    upstreams: Upstreams,
    prometheus: PrometheusHandle,
}

/// Starts the gateway on a free loopback port and returns its base URL.
pub(crate) async fn spawn(
    upstreams: Upstreams,
    prometheus: PrometheusHandle,
) -> io::Result<String> {
    let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
    let base_url = format!("http://{}", listener.local_addr()?);
    let state = Arc::new(Gateway {
        upstreams,
        prometheus,
    });
    let app = Router::new()
        .route("/inventory/{sku}", get(inventory_route))
        .route("/pricing/{sku}", get(pricing_route))
        .route("/reviews/{sku}", get(reviews_route))
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .with_state(state);
    tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, app).await {
            eprintln!("gateway stopped: {error}");
        }
    });
    Ok(base_url)
}

async fn inventory_route(State(gw): State<Arc<Gateway>>, Path(sku): Path<u32>) -> Response {
    answer(inventory(&gw.upstreams, sku).await)
}

async fn pricing_route(State(gw): State<Arc<Gateway>>, Path(sku): Path<u32>) -> Response {
    answer(pricing(&gw.upstreams, sku).await)
}

async fn reviews_route(State(gw): State<Arc<Gateway>>, Path(sku): Path<u32>) -> Response {
    answer(reviews(&gw.upstreams, sku).await)
}

/// The upstream's JSON, or the error as resil maps it: 503 + `Retry-After`
/// (whole seconds, rounded up) for an open breaker, 429 for a full
/// bulkhead, 504 for a time-out, 502 for anything else, each with a JSON
/// body naming the policy.
fn answer(result: Result<Value, UpstreamError>) -> Response {
    match result {
        Ok(body) => Json(body).into_response(),
        Err(error) => ErrorResponse::from_any_error(&error).into_response(),
    }
}

async fn health() -> (StatusCode, Json<resil::Snapshot>) {
    let snapshot = resil::registry().snapshot();
    // As `HealthReport::http_status`: a degraded gateway still serves, so
    // only "every breaker open" takes it out of a load balancer.
    let status = if snapshot.status == Status::Unhealthy {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    (status, Json(snapshot))
}

async fn metrics(State(gw): State<Arc<Gateway>>) -> impl IntoResponse {
    // Counts the policies keep in their own atomics reach the recorder only
    // here, at scrape time, so no call pays for metrics.
    resil::metrics::record();
    gw.prometheus.run_upkeep();
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        gw.prometheus.render(),
    )
}
