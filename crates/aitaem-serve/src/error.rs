//! The server's errors: those that stop it from starting ([`ServeError`]), and those a request
//! gets as a status and a JSON body ([`ApiError`]).

use std::net::SocketAddr;

use aitaem::{Error, ErrorKind};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Why the server could not start or stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// The project did not load.
    #[error(transparent)]
    Project(#[from] Error),
    /// The address could not be bound.
    #[error("cannot listen on {address}: {source}")]
    Bind {
        address: SocketAddr,
        source: std::io::Error,
    },
    /// A non-loopback address without a token.
    #[error(
        "listening on {0}, which is not a loopback address, needs a token (--token-file or AITAEM_TOKEN)"
    )]
    TokenRequired(SocketAddr),
    /// The TLS certificate or key could not be used.
    #[error("TLS: {0}")]
    Tls(String),
    /// The MCP session could not start or failed.
    #[error("MCP: {0}")]
    Mcp(String),
    /// The runtime or the listener failed.
    #[error("the server failed: {0}")]
    Runtime(std::io::Error),
}

/// An error answered to a request: its status and `{"error": {"kind", "message", "location"}}`.
#[derive(Debug)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub kind: String,
    pub message: String,
    pub location: Option<String>,
    /// Seconds after which to try again (429).
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, kind: &str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            kind: kind.to_string(),
            message: message.into(),
            location: None,
            retry_after: None,
        }
    }

    /// A request body or parameter the server cannot read.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "BadRequest", message)
    }

    /// An engine error: 4xx for what the request named or asked wrongly, 5xx for the project,
    /// the server and the backends.
    pub fn engine(err: &Error) -> ApiError {
        let kind = err.kind();
        let status = match kind {
            ErrorKind::SpecNotFound => StatusCode::NOT_FOUND,
            ErrorKind::QueryBuild => StatusCode::BAD_REQUEST,
            ErrorKind::QueryExecution | ErrorKind::Connection => StatusCode::BAD_GATEWAY,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError {
            status,
            kind: kind.name().to_string(),
            message: err.to_string(),
            location: location(err),
            retry_after: None,
        }
    }

    /// The JSON body of the error.
    pub fn body(&self) -> serde_json::Value {
        serde_json::json!({
            "error": {
                "kind": self.kind,
                "message": self.message,
                "location": self.location,
            }
        })
    }
}

/// Where in the specs or configuration an error points, as `file:line:column`.
fn location(err: &Error) -> Option<String> {
    let location = match err {
        Error::Configuration { location, .. } | Error::QueryExecution { location, .. } => {
            location.as_ref()
        }
        Error::SpecValidation(invalid) => invalid.issues.first().map(|issue| &issue.location),
        _ => None,
    }?;
    Some(location.to_string())
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, axum::Json(self.body())).into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}
