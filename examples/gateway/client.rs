//! A small HTTP/1 client over hyper-util's pooled client, shared by the
//! gateway (to call its upstreams), the load generator (to call the
//! gateway) and the final scrape of `/health` and `/metrics`.
//!
//! hyper-util rather than reqwest: axum already brings hyper in, and the
//! demo needs no TLS, redirects or URL parsing, so this keeps the build
//! light.

use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, Uri};
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// A pooled HTTP client; cheap to clone.
#[derive(Clone, Debug)]
pub(crate) struct HttpClient {
    inner: Client<HttpConnector, Empty<Bytes>>,
    timeout: Duration,
}

/// A whole response, body read.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

/// Why a request got no response.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RequestError {
    /// Kept as the source so `resil::http` answers it with 504.
    #[error("no response within {0:?}")]
    TimedOut(Duration, #[source] tokio::time::error::Elapsed),
    #[error("{0}")]
    Transport(String),
}

impl HttpClient {
    /// A client that gives up on a request (body included) after `timeout`.
    pub(crate) fn new(timeout: Duration) -> Self {
        Self {
            inner: Client::builder(TokioExecutor::new()).build_http(),
            timeout,
        }
    }

    /// `GET url`, with the whole body.
    pub(crate) async fn get(&self, url: &str) -> Result<Reply, RequestError> {
        let uri: Uri = url
            .parse()
            .map_err(|e| RequestError::Transport(format!("bad url {url}: {e}")))?;
        let exchange = async {
            let response = self
                .inner
                .get(uri)
                .await
                .map_err(|e| RequestError::Transport(e.to_string()))?;
            let (parts, body) = response.into_parts();
            let body = body
                .collect()
                .await
                .map_err(|e| RequestError::Transport(e.to_string()))?
                .to_bytes();
            Ok(Reply {
                status: parts.status,
                headers: parts.headers,
                body,
            })
        };
        tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|elapsed| RequestError::TimedOut(self.timeout, elapsed))?
    }
}
