//! HTTP: the response a service gives when a policy refuses a call or a
//! dependency fails.
//!
//! | error | status | `Retry-After` | `error` code |
//! | --- | --- | --- | --- |
//! | [`Error::CircuitOpen`] | 503 | seconds until trial calls, at least 1 | `circuit_open` |
//! | [`Error::BulkheadFull`] | 429 | none | `bulkhead_full` |
//! | [`Error::RateLimited`] | 429 | seconds until quota, at least 1 | `rate_limited` |
//! | [`Error::Timeout`], or an I/O time-out | 504 | none | `timeout` |
//! | an I/O error (refused, reset, ...) | 502 | none | `network_error` |
//! | any other error of a dependency call | 502 | none | `bad_gateway` |
//!
//! The body is JSON:
//! `{"error": "circuit_open", "message": "...", "policy": "payments", "retry_after": 30}`
//! (`policy` and `retry_after` are `null` when they do not apply).
//!
//! This module is plain data and always available; with the `axum` feature,
//! [`ErrorResponse`] and [`Error`] implement axum's `IntoResponse`, and
//! [`handle_error`] plugs into `axum::error_handling::HandleErrorLayer`.
//!
//! ```
//! use std::time::Duration;
//! use resil::http::ErrorResponse;
//!
//! let open = resil::Error::CircuitOpen {
//!     policy: "payments".into(),
//!     retry_after: Duration::from_millis(29_500),
//! };
//! let response = ErrorResponse::from_error(&open);
//! assert_eq!(response.status, 503);
//! assert_eq!(response.retry_after_header().as_deref(), Some("30"));
//! assert_eq!(response.body.error, "circuit_open");
//! assert_eq!(response.body.policy.as_deref(), Some("payments"));
//!
//! let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
//! assert_eq!(ErrorResponse::from_any_error(&refused).status, 502);
//! ```

use std::error::Error as StdError;

use serde::Serialize;

use crate::error::Error;

/// Everything an HTTP response for an error needs: status, `Retry-After`
/// and JSON body.
///
/// Build it with [`from_error`](Self::from_error) for a [`resil::Error`](Error)
/// or [`from_any_error`](Self::from_any_error) for the error of any call to
/// a dependency (which finds a `resil::Error` anywhere in the `source()`
/// chain).
///
/// ```
/// let full = resil::Error::BulkheadFull { policy: "search".into(), max_concurrent: 4, queue: 0 };
/// let response = resil::http::ErrorResponse::from_error(&full);
/// assert_eq!((response.status, response.retry_after), (429, None));
/// let json = serde_json::to_value(&response.body).unwrap();
/// assert_eq!(json["retry_after"], serde_json::Value::Null);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ErrorResponse {
    /// The HTTP status code.
    pub status: u16,
    /// Seconds for the `Retry-After` header, if the client should wait.
    pub retry_after: Option<u64>,
    /// The JSON body.
    pub body: ErrorBody,
}

/// The JSON body of an [`ErrorResponse`].
///
/// ```
/// let timeout = resil::Error::Timeout {
///     policy: "search".into(),
///     after: std::time::Duration::from_millis(250),
/// };
/// let body = resil::http::ErrorResponse::from_error(&timeout).body;
/// assert_eq!(
///     serde_json::to_string(&body).unwrap(),
///     r#"{"error":"timeout","message":"`search` timed out after 250ms","policy":"search","retry_after":null}"#
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ErrorBody {
    /// A stable `snake_case` code: `circuit_open`, `bulkhead_full`,
    /// `rate_limited`, `timeout`, `network_error` or `bad_gateway`.
    pub error: &'static str,
    /// The error's message, for people.
    pub message: String,
    /// The policy that refused the call, if one did.
    pub policy: Option<String>,
    /// Seconds until a retry may succeed, as in the `Retry-After` header.
    pub retry_after: Option<u64>,
}

/// How far [`ErrorResponse::from_any_error`] follows `source()`: far
/// deeper than any real chain, and a bound for a cyclic one.
const MAX_CAUSES: usize = 64;

impl ErrorResponse {
    /// The response for a resil rejection or time-out.
    pub fn from_error(error: &Error) -> Self {
        let retry_after = error.retry_after_secs();
        Self {
            status: error.http_status(),
            retry_after,
            body: ErrorBody {
                error: error.code(),
                message: error.to_string(),
                policy: Some(error.policy().to_string()),
                retry_after,
            },
        }
    }

    /// The response for the error of a call to a dependency: a
    /// [`resil::Error`](Error) anywhere in its `source()` chain maps as in
    /// [`from_error`](Self::from_error); an I/O time-out (or tokio's
    /// `Elapsed`) is a 504; any other I/O error is a network failure, 502;
    /// anything else means the dependency failed, also 502.
    ///
    /// Takes `&(dyn Error + 'static)`, so a `tower::BoxError` passes as
    /// `&*error`.
    pub fn from_any_error(error: &(dyn StdError + 'static)) -> Self {
        let mut code = "bad_gateway";
        // Bounded: a `source()` chain can be a cycle (an error that names
        // itself, or two that name each other), and a response must come
        // back whatever the error looks like.
        let causes = std::iter::successors(Some(error), |current: &&(dyn StdError + 'static)| {
            (*current).source()
        });
        for current in causes.take(MAX_CAUSES) {
            if let Some(resil) = current.downcast_ref::<Error>() {
                return Self::from_error(resil);
            }
            if let Some(io) = current.downcast_ref::<std::io::Error>() {
                if io.kind() == std::io::ErrorKind::TimedOut {
                    return Self::plain(504, "timeout", error);
                }
                code = "network_error";
            }
            if current.is::<tokio::time::error::Elapsed>() {
                return Self::plain(504, "timeout", error);
            }
        }
        Self::plain(502, code, error)
    }

    fn plain(status: u16, code: &'static str, error: &dyn StdError) -> Self {
        Self {
            status,
            retry_after: None,
            body: ErrorBody {
                error: code,
                message: error.to_string(),
                policy: None,
                retry_after: None,
            },
        }
    }

    /// The `Retry-After` header's value, if there is one.
    pub fn retry_after_header(&self) -> Option<String> {
        self.retry_after.map(|secs| secs.to_string())
    }
}

impl From<&Error> for ErrorResponse {
    fn from(error: &Error) -> Self {
        Self::from_error(error)
    }
}

impl From<Error> for ErrorResponse {
    fn from(error: Error) -> Self {
        Self::from_error(&error)
    }
}

/// For `axum::error_handling::HandleErrorLayer`: turns the error of a
/// service behind one of `resil::tower`'s layers (a `tower::BoxError`) into
/// its response, as [`ErrorResponse::from_any_error`] does.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let error: Box<dyn std::error::Error + Send + Sync> = Box::new(resil::Error::CircuitOpen {
///     policy: "payments".into(),
///     retry_after: std::time::Duration::from_secs(5),
/// });
/// let response = resil::http::handle_error(error).await;
/// assert_eq!(response.status, 503);
/// # }
/// ```
pub async fn handle_error(error: Box<dyn StdError + Send + Sync>) -> ErrorResponse {
    ErrorResponse::from_any_error(&*error)
}

#[cfg(feature = "axum")]
mod axum_response {
    use ::axum::body::Body;
    use ::axum::http::{HeaderValue, StatusCode, header};
    use ::axum::response::{IntoResponse, Response};

    use super::ErrorResponse;
    use crate::error::Error;

    impl IntoResponse for ErrorResponse {
        fn into_response(self) -> Response {
            // Serializing four plain fields cannot fail; an empty body would
            // still carry the status.
            let body = serde_json::to_vec(&self.body).unwrap_or_default();
            let mut response = Response::new(Body::from(body));
            *response.status_mut() =
                StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let headers = response.headers_mut();
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            if let Some(secs) = self.retry_after {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
            }
            response
        }
    }

    /// 503 with `Retry-After` for an open circuit, 429 for a full bulkhead or
    /// rate limit, 504 for a timeout, with the JSON body of
    /// [`ErrorResponse`].
    impl IntoResponse for Error {
        fn into_response(self) -> Response {
            ErrorResponse::from_error(&self).into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use std::fmt;
    use std::time::Duration;

    use super::*;

    /// An error whose `source()` is itself: a cycle of one.
    #[derive(Debug)]
    struct OwnCause;

    impl fmt::Display for OwnCause {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("upstream said no")
        }
    }

    impl StdError for OwnCause {
        fn source(&self) -> Option<&(dyn StdError + 'static)> {
            Some(self)
        }
    }

    #[test]
    fn a_cyclic_source_chain_still_gets_a_response() {
        let response = ErrorResponse::from_any_error(&OwnCause);
        assert_eq!((response.status, response.body.error), (502, "bad_gateway"));
        assert_eq!(response.body.message, "upstream said no");
    }

    #[test]
    fn the_message_never_says_less_than_the_header() {
        let open = Error::CircuitOpen {
            policy: "http-zero-wait".into(),
            retry_after: Duration::ZERO,
        };
        let response = ErrorResponse::from_error(&open);
        assert_eq!(response.retry_after_header().as_deref(), Some("1"));
        assert_eq!(
            response.body.message,
            "circuit breaker `http-zero-wait` is open; retry after 1ms"
        );
        let saturated = Error::CircuitOpen {
            policy: "http-saturated".into(),
            retry_after: Duration::MAX,
        };
        assert_eq!(
            saturated.to_string(),
            "circuit breaker `http-saturated` is open; retry after over 100 years"
        );
    }
}
