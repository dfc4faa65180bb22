//! HTTP: the tower layers in a real axum server on loopback, called by a
//! real HTTP client; the same layers around a tower-based client; and the
//! response every error maps to.

use std::error::Error as StdError;
use std::future::pending;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::error_handling::HandleErrorLayer;
use axum::http::{HeaderMap, Request, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use resil::http::ErrorResponse;
use resil::tower::{BulkheadLayer, CircuitBreakerLayer, RetryLayer};
use resil::{BulkheadConfig, CircuitBreakerConfig, RetryConfig, registry};
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::{Notify, mpsc};
use tower::{Service, ServiceBuilder, ServiceExt};

type HttpClient = Client<HttpConnector, Empty<Bytes>>;

fn client() -> HttpClient {
    Client::builder(TokioExecutor::new()).build_http()
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    json: Value,
}

async fn get_json(client: &HttpClient, addr: SocketAddr, path: &str) -> Reply {
    let uri: Uri = format!("http://{addr}{path}").parse().unwrap();
    let response = tokio::time::timeout(Duration::from_secs(10), client.get(uri))
        .await
        .expect("the server answers")
        .expect("a response");
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let json = serde_json::from_slice(&body).unwrap_or(Value::Null);
    Reply {
        status,
        headers,
        json,
    }
}

async fn serve(router: Router) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    addr
}

/// `Retry-After` for a breaker with `left` to wait: the rejection's own
/// rounding (whole seconds, up, at least 1).
fn whole_seconds(left: Duration) -> u64 {
    resil::Error::CircuitOpen {
        policy: "any".into(),
        retry_after: left,
    }
    .retry_after_secs()
    .expect("an open breaker's rejection has a retry_after")
}

#[tokio::test]
async fn the_breaker_layer_opens_on_server_errors_and_answers_503_with_retry_after() {
    let breaker = registry()
        .register_circuit_breaker(
            "http-route",
            CircuitBreakerConfig::DEFAULT
                .threshold(3)
                .open_for(Duration::from_secs(30)),
        )
        .unwrap();
    let down = Arc::new(AtomicBool::new(false));
    let handled = Arc::new(AtomicU32::new(0));
    let handler = {
        let (down, handled) = (Arc::clone(&down), Arc::clone(&handled));
        move || async move {
            handled.fetch_add(1, Ordering::SeqCst);
            if down.load(Ordering::SeqCst) {
                (StatusCode::INTERNAL_SERVER_ERROR, "upstream broke").into_response()
            } else {
                "fine".into_response()
            }
        }
    };
    let router = Router::new().route(
        "/orders",
        get(handler).layer(
            ServiceBuilder::new()
                .layer(HandleErrorLayer::new(resil::http::handle_error))
                .layer(
                    CircuitBreakerLayer::named("http-route")
                        .unwrap()
                        .failure_if(|response: &Response| response.status().is_server_error()),
                ),
        ),
    );
    let addr = serve(router).await;
    let client = client();

    assert_eq!(
        get_json(&client, addr, "/orders").await.status,
        StatusCode::OK
    );
    down.store(true, Ordering::SeqCst);
    for _ in 0..3 {
        let reply = get_json(&client, addr, "/orders").await;
        assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    }
    assert_eq!(breaker.state(), resil::CircuitState::Open);

    // Real time passes while the request travels, so the breaker's own
    // remaining open time, read just before and just after, bounds the
    // `retry_after` its rejection carried; the header is that, in whole
    // seconds rounded up.
    let open_for = || {
        Duration::from_millis(
            breaker
                .snapshot()
                .half_open_in_ms
                .expect("still open: the timeout is 30s"),
        )
    };
    let most = open_for() + Duration::from_millis(1);
    let reply = get_json(&client, addr, "/orders").await;
    let least = open_for();
    assert!(most <= Duration::from_secs(30) + Duration::from_millis(1));
    let header = reply.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse::<u64>()
        .unwrap();
    let expected = whole_seconds(least)..=whole_seconds(most);
    assert!(
        expected.contains(&header),
        "Retry-After {header}, but the breaker had {least:?} to {most:?} left"
    );
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(reply.headers["content-type"], "application/json");
    assert_eq!(reply.json["error"], "circuit_open");
    assert_eq!(reply.json["policy"], "http-route");
    assert_eq!(reply.json["retry_after"], header);
    let message = reply.json["message"].as_str().unwrap();
    assert!(
        message.starts_with("circuit breaker `http-route` is open; retry after "),
        "{message}"
    );
    assert_eq!(
        handled.load(Ordering::SeqCst),
        4,
        "the rejected request never reached the handler"
    );
    let snapshot = breaker.snapshot();
    assert_eq!(
        (snapshot.successes, snapshot.failures, snapshot.rejected),
        (1, 3, 1)
    );
}

#[tokio::test]
async fn the_bulkhead_layer_answers_429_when_full_and_frees_the_slot_after_the_response() {
    registry()
        .register_bulkhead("http-bulkhead", BulkheadConfig::DEFAULT.max_concurrent(1))
        .unwrap();
    let release = Arc::new(Notify::new());
    let (entered_tx, mut entered) = mpsc::unbounded_channel();
    let handler = {
        let release = Arc::clone(&release);
        move || async move {
            let _ = entered_tx.send(());
            release.notified().await;
            "done"
        }
    };
    let router = Router::new().route(
        "/slow",
        get(handler).layer(
            ServiceBuilder::new()
                .layer(HandleErrorLayer::new(resil::http::handle_error))
                .layer(BulkheadLayer::named("http-bulkhead").unwrap()),
        ),
    );
    let addr = serve(router).await;
    let client = client();

    let first = tokio::spawn({
        let client = client.clone();
        async move { get_json(&client, addr, "/slow").await.status }
    });
    entered.recv().await.unwrap();
    let reply = get_json(&client, addr, "/slow").await;
    assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(reply.headers.get("retry-after").is_none());
    assert_eq!(
        reply.json,
        json!({
            "error": "bulkhead_full",
            "message": "bulkhead `http-bulkhead` is full (1 running, queue of 0)",
            "policy": "http-bulkhead",
            "retry_after": null,
        })
    );

    release.notify_one();
    assert_eq!(first.await.unwrap(), StatusCode::OK);
    let bulkhead = registry().bulkhead("http-bulkhead").unwrap();
    assert_eq!(bulkhead.in_flight(), 0);
    let second = tokio::spawn({
        let client = client.clone();
        async move { get_json(&client, addr, "/slow").await.status }
    });
    entered.recv().await.unwrap();
    release.notify_one();
    assert_eq!(second.await.unwrap(), StatusCode::OK);
}

#[tokio::test]
async fn a_tower_client_behind_the_breaker_maps_network_failures_to_502_then_503() {
    registry()
        .register_circuit_breaker(
            "http-client",
            CircuitBreakerConfig::DEFAULT
                .threshold(2)
                .open_for(Duration::from_secs(10)),
        )
        .unwrap();
    // A port bound for the whole test but never listened on: connections
    // to it are refused, and no other test can take it meanwhile.
    let reserved = TcpSocket::new_v4().unwrap();
    reserved.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = reserved.local_addr().unwrap();

    let mut service = ServiceBuilder::new()
        .layer(CircuitBreakerLayer::named("http-client").unwrap())
        .service(client());
    let request = || {
        Request::get(format!("http://{addr}/"))
            .body(Empty::<Bytes>::new())
            .unwrap()
    };
    for _ in 0..2 {
        let error = service
            .ready()
            .await
            .unwrap()
            .call(request())
            .await
            .unwrap_err();
        let response = ErrorResponse::from_any_error(&*error);
        assert_eq!(response.status, 502, "{error:?}");
        assert_eq!(response.body.error, "network_error");
        assert_eq!(response.body.policy, None);
    }
    let error = service
        .ready()
        .await
        .unwrap()
        .call(request())
        .await
        .unwrap_err();
    let response = ErrorResponse::from_any_error(&*error);
    assert_eq!(response.status, 503);
    // The header is the rejection's own `retry_after`, which real time has
    // already shortened from the configured 10s.
    let Some(resil::Error::CircuitOpen { retry_after, .. }) = error.downcast_ref::<resil::Error>()
    else {
        panic!("not a breaker rejection: {error:?}");
    };
    assert!(*retry_after <= Duration::from_secs(10), "{retry_after:?}");
    assert_eq!(
        response.retry_after_header(),
        Some(whole_seconds(*retry_after).to_string())
    );
    assert_eq!(response.body.policy.as_deref(), Some("http-client"));
    drop(reserved);
}

fn unavailable<B>(response: &axum::http::Response<B>) -> bool {
    response.status() == StatusCode::SERVICE_UNAVAILABLE
}

#[tokio::test]
async fn a_retry_layer_around_a_client_retries_503s_and_stops_at_an_open_breaker() {
    let retry = registry()
        .register_retry(
            "http-retry",
            RetryConfig::DEFAULT
                .max_attempts(3)
                .initial(Duration::from_millis(1))
                .jitter(resil::Jitter::None),
        )
        .unwrap();
    registry()
        .register_circuit_breaker(
            "http-retry-breaker",
            CircuitBreakerConfig::DEFAULT.threshold(1),
        )
        .unwrap();
    // The upstream answers 503 twice per round, then 200.
    let calls = Arc::new(AtomicU32::new(0));
    let handler = {
        let calls = Arc::clone(&calls);
        move || async move {
            match calls.fetch_add(1, Ordering::SeqCst) % 3 {
                0 | 1 => StatusCode::SERVICE_UNAVAILABLE,
                _ => StatusCode::OK,
            }
        }
    };
    let addr = serve(Router::new().route("/", get(handler))).await;
    let request = || {
        Request::get(format!("http://{addr}/"))
            .body(Empty::<Bytes>::new())
            .unwrap()
    };

    let mut retried = ServiceBuilder::new()
        .layer(
            RetryLayer::named("http-retry")
                .unwrap()
                .retry_if(unavailable),
        )
        .service(client());
    let response = retried
        .ready()
        .await
        .unwrap()
        .call(request())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    let stats = retry.snapshot();
    assert_eq!((stats.retries, stats.succeeded_after_retry), (2, 1));

    // With a breaker inside, the first 503 opens it and the retry stops at
    // its rejection instead of hammering the upstream.
    let mut guarded = ServiceBuilder::new()
        .layer(
            RetryLayer::named("http-retry")
                .unwrap()
                .retry_if(unavailable),
        )
        .layer(
            CircuitBreakerLayer::named("http-retry-breaker")
                .unwrap()
                .failure_if(unavailable),
        )
        .service(client());
    let error = guarded
        .ready()
        .await
        .unwrap()
        .call(request())
        .await
        .unwrap_err();
    assert!(
        matches!(
            error.downcast_ref::<resil::Error>(),
            Some(resil::Error::CircuitOpen { .. })
        ),
        "{error:?}"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 4, "one attempt reached it");
}

/// Status, `Retry-After` and JSON body of axum's response for `error`.
async fn respond(error: impl IntoResponse) -> (u16, Option<String>, Value) {
    let response = error.into_response();
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    assert_eq!(response.headers()["content-type"], "application/json");
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, retry_after, serde_json::from_slice(&body).unwrap())
}

#[derive(Debug, thiserror::Error)]
enum CallError {
    #[error("the call failed")]
    Policy(#[source] resil::Error),
    #[error("the upstream answered nonsense")]
    Nonsense,
}

#[tokio::test]
async fn every_error_maps_to_its_status_retry_after_and_json_body() {
    let open = resil::Error::CircuitOpen {
        policy: "payments".into(),
        retry_after: Duration::from_millis(29_001),
    };
    assert_eq!(
        respond(open.clone()).await,
        (
            503,
            Some("30".to_owned()),
            json!({
                "error": "circuit_open",
                "message": "circuit breaker `payments` is open; retry after 29001ms",
                "policy": "payments",
                "retry_after": 30,
            })
        )
    );
    // Half-open with every trial slot taken: no wait is known, ask for 1s.
    let busy = resil::Error::CircuitOpen {
        policy: "payments".into(),
        retry_after: Duration::ZERO,
    };
    let (status, retry_after, body) = respond(busy).await;
    assert_eq!((status, retry_after.as_deref()), (503, Some("1")));
    assert_eq!(body["retry_after"], 1);

    let full = resil::Error::BulkheadFull {
        policy: "search".into(),
        max_concurrent: 4,
        queue: 2,
    };
    assert_eq!(
        respond(full).await,
        (
            429,
            None,
            json!({
                "error": "bulkhead_full",
                "message": "bulkhead `search` is full (4 running, queue of 2)",
                "policy": "search",
                "retry_after": null,
            })
        )
    );

    let limited = resil::Error::RateLimited {
        policy: "api".into(),
        retry_after: Duration::from_millis(1_500),
    };
    let (status, retry_after, body) = respond(limited).await;
    assert_eq!((status, retry_after.as_deref()), (429, Some("2")));
    assert_eq!(body["error"], "rate_limited");
    assert_eq!(body["retry_after"], 2);

    let timeout = resil::Error::Timeout {
        policy: "search".into(),
        after: Duration::from_millis(250),
    };
    assert_eq!(
        respond(timeout).await,
        (
            504,
            None,
            json!({
                "error": "timeout",
                "message": "`search` timed out after 250ms",
                "policy": "search",
                "retry_after": null,
            })
        )
    );

    // Any error of a dependency call.
    let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
    let (status, retry_after, body) = respond(ErrorResponse::from_any_error(&refused)).await;
    assert_eq!((status, retry_after), (502, None));
    assert_eq!(body["error"], "network_error");
    assert_eq!(body["policy"], Value::Null);

    let timed_out = std::io::Error::from(std::io::ErrorKind::TimedOut);
    assert_eq!(ErrorResponse::from_any_error(&timed_out).status, 504);
    let elapsed = tokio::time::timeout(Duration::ZERO, pending::<()>())
        .await
        .unwrap_err();
    assert_eq!(ErrorResponse::from_any_error(&elapsed).status, 504);

    let nonsense = ErrorResponse::from_any_error(&CallError::Nonsense);
    assert_eq!((nonsense.status, nonsense.body.error), (502, "bad_gateway"));
    assert_eq!(nonsense.body.message, "the upstream answered nonsense");

    // A resil error anywhere in the chain decides, boxed or not.
    let wrapped = CallError::Policy(open.clone());
    let from_chain = ErrorResponse::from_any_error(&wrapped);
    assert_eq!(from_chain, ErrorResponse::from_error(&open));
    let boxed: Box<dyn StdError + Send + Sync> = Box::new(open.clone());
    assert_eq!(ErrorResponse::from_any_error(&*boxed).status, 503);
    assert_eq!(resil::http::handle_error(boxed).await.status, 503);
}
