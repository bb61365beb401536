//! The HTTP endpoints: what each answers, and what every request goes through (the token,
//! the log line, the counters).

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::{Body, Bytes, HttpBody};
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State as Shared};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};

use crate::body::ComputeBody;
use crate::error::ApiError;
use crate::response::{self, Form};
use crate::state::{State, same_secret};
use crate::telemetry::Served;
use crate::{openapi, ops};

/// The metrics a compute asked for, for its log line.
#[derive(Clone)]
struct Requested(Vec<String>);

pub(crate) fn router(state: Arc<State>) -> Router {
    Router::new()
        .route("/healthz", get(health))
        .route("/v1/metrics", get(list_metrics))
        .route("/v1/slices", get(list_slices))
        .route("/v1/segments", get(list_segments))
        .route("/v1/scan", post(scan))
        .route("/v1/compute", post(compute))
        .route("/v1/sql", post(sql))
        .route("/metrics", get(prometheus))
        .route("/v1/openapi.json", get(openapi_document))
        .nest_service("/mcp", mcp_service(&state))
        .merge(crate::explorer::routes())
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .layer(DefaultBodyLimit::max(state.options.body_limit))
        .with_state(state)
}

/// MCP over streamable HTTP, one session per client, sharing the project and the gate. Hosts
/// are checked against DNS rebinding on loopback; beyond it the token guards the server.
fn mcp_service(
    state: &Arc<State>,
) -> StreamableHttpService<crate::mcp::Metrics, LocalSessionManager> {
    let mut config =
        StreamableHttpServerConfig::default().with_cancellation_token(state.stopping.child_token());
    if !state.options.listen.ip().is_loopback() {
        config = config.disable_allowed_hosts();
    }
    let shared = state.clone();
    StreamableHttpService::new(
        move || Ok(crate::mcp::Metrics::new(shared.clone())),
        LocalSessionManager::default().into(),
        config,
    )
}

/// Checks the token (every path but `/healthz` and the explorer's files), answers, then counts and logs the request.
async fn observe(Shared(state): Shared<Arc<State>>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().to_string();
    let endpoint = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |p| p.as_str())
        .to_string();
    let response = match &state.options.token {
        Some(token) if !open(&endpoint) && !authorized(request.headers(), token) => {
            let mut denied = ApiError::new(
                StatusCode::UNAUTHORIZED,
                "Unauthorized",
                "this server needs `Authorization: Bearer TOKEN`",
            )
            .into_response();
            denied.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
            denied
        }
        _ => next.run(request).await,
    };
    let requested = response.extensions().get::<Requested>().cloned();
    state.telemetry.served(&Served {
        method: &method,
        endpoint: &endpoint,
        status: response.status().as_u16(),
        took: started.elapsed(),
        bytes: response.body().size_hint().exact(),
        metrics: requested.as_ref().map(|r| r.0.as_slice()),
    });
    response
}

/// Whether an endpoint answers without the token: the health check, and the explorer's files
/// (which hold no data).
fn open(endpoint: &str) -> bool {
    endpoint == "/healthz" || crate::explorer::ASSETS.contains(&endpoint)
}

/// Whether the request carries the token.
fn authorized(headers: &HeaderMap, token: &str) -> bool {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|given| same_secret(given, token))
}

/// The request body, or 413 beyond the limit.
fn body(bytes: Result<Bytes, BytesRejection>) -> Result<ComputeBody, ApiError> {
    let bytes = bytes.map_err(|e| {
        ApiError::new(
            e.status(),
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                "PayloadTooLarge"
            } else {
                "BadRequest"
            },
            e.body_text(),
        )
    })?;
    ComputeBody::parse(&bytes)
}

async fn health(Shared(state): Shared<Arc<State>>) -> axum::Json<Value> {
    let loaded = state.loaded();
    let specs = &loaded.specs;
    axum::Json(json!({
        "status": "ok",
        "specs": {
            "metrics": specs.metrics().count(),
            "slices": specs.slices().count(),
            "segments": specs.segments().count(),
        },
        "reload_error": state.reload_error(),
    }))
}

async fn list_metrics(Shared(state): Shared<Arc<State>>) -> axum::Json<Value> {
    axum::Json(ops::list(&state, "metrics"))
}

async fn list_slices(Shared(state): Shared<Arc<State>>) -> axum::Json<Value> {
    axum::Json(ops::list(&state, "slices"))
}

async fn list_segments(Shared(state): Shared<Arc<State>>) -> axum::Json<Value> {
    axum::Json(ops::list(&state, "segments"))
}

async fn scan(Shared(state): Shared<Arc<State>>) -> Result<axum::Json<Value>, ApiError> {
    Ok(axum::Json(ops::scan(&state, None).await?))
}

async fn compute(
    Shared(state): Shared<Arc<State>>,
    headers: HeaderMap,
    bytes: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let request = body(bytes)?.request()?;
    let metrics = request.metrics().to_vec();
    let form = Form::accepted(&headers);
    let result = ops::compute(&state, request).await?;
    let mut response = response::encode(&result, form)?;
    response.extensions_mut().insert(Requested(metrics));
    Ok(response)
}

async fn sql(
    Shared(state): Shared<Arc<State>>,
    bytes: Result<Bytes, BytesRejection>,
) -> Result<axum::Json<Value>, ApiError> {
    Ok(axum::Json(ops::sql(&state, body(bytes)?).await?))
}

async fn prometheus(Shared(state): Shared<Arc<State>>) -> Response {
    let text = state.telemetry.prometheus(
        state.gate.waiting(),
        state.gate.running(state.options.max_concurrent),
    );
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        Body::from(text),
    )
        .into_response()
}

async fn openapi_document() -> axum::Json<Value> {
    axum::Json(openapi::document())
}

async fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "NotFound",
        "no such endpoint; GET /v1/openapi.json lists them",
    )
}
