//! The HTTP endpoints: what each answers, and what every request goes through (the token,
//! the log line, the counters).

use std::sync::Arc;
use std::time::Instant;

use aitaem::MetricCompute;
use axum::Router;
use axum::body::{Body, Bytes, HttpBody};
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State as Shared};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use crate::body::ComputeBody;
use crate::error::ApiError;
use crate::gate::Gate;
use crate::response::{self, Form};
use crate::telemetry::{Served, Telemetry};
use crate::{Loaded, ServeOptions, describe, openapi};

/// What every request shares.
pub(crate) struct State {
    loaded: Arc<Loaded>,
    pub options: ServeOptions,
    gate: Gate,
    telemetry: Telemetry,
}

impl State {
    pub fn new(loaded: Loaded, options: ServeOptions) -> State {
        State {
            loaded: Arc::new(loaded),
            gate: Gate::new(options.max_concurrent, options.max_queued),
            options,
            telemetry: Telemetry::default(),
        }
    }
}

impl State {
    /// Interrupts the statements still running and waits up to `patience` for their computes
    /// to end.
    pub fn stop_computes(&self, patience: std::time::Duration) {
        let deadline = Instant::now() + patience;
        while self.gate.running(self.options.max_concurrent) > 0 && Instant::now() < deadline {
            self.loaded.connections.interrupt();
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}

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
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .layer(DefaultBodyLimit::max(state.options.body_limit))
        .with_state(state)
}

/// Checks the token (every path but `/healthz`), answers, then counts and logs the request.
async fn observe(Shared(state): Shared<Arc<State>>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().to_string();
    let endpoint = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |p| p.as_str())
        .to_string();
    let response = match &state.options.token {
        Some(token) if endpoint != "/healthz" && !authorized(request.headers(), token) => {
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

/// Whether the request carries the token, compared in constant time.
fn authorized(headers: &HeaderMap, token: &str) -> bool {
    let Some(given) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    else {
        return false;
    };
    let (a, b) = (given.as_bytes(), token.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Runs `work` on a thread of its own when the gate gives it a turn, within the request's
/// timeout (waiting included).
async fn blocking<T: Send + 'static>(
    state: &Arc<State>,
    work: impl FnOnce(&Loaded) -> T + Send + 'static,
) -> Result<T, ApiError> {
    let run = async {
        let turn = state.gate.enter().await?;
        let loaded = state.loaded.clone();
        let (done, answer) = tokio::sync::oneshot::channel();
        std::thread::Builder::new()
            .name("aitaem-compute".into())
            .spawn(move || {
                let _turn = turn;
                let _ = done.send(work(&loaded));
            })
            .map_err(|e| {
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Unavailable",
                    format!("cannot start a compute: {e}"),
                )
            })?;
        answer.await.map_err(|_| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalError",
                "the compute stopped without an answer",
            )
        })
    };
    match tokio::time::timeout(state.options.timeout, run).await {
        Ok(answer) => answer,
        Err(_) => Err(ApiError::new(
            StatusCode::GATEWAY_TIMEOUT,
            "Timeout",
            format!(
                "no answer within {} s (the server's --timeout)",
                state.options.timeout.as_secs_f64()
            ),
        )),
    }
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
    let specs = &state.loaded.specs;
    axum::Json(json!({
        "status": "ok",
        "specs": {
            "metrics": specs.metrics().count(),
            "slices": specs.slices().count(),
            "segments": specs.segments().count(),
        },
    }))
}

async fn list_metrics(Shared(state): Shared<Arc<State>>) -> axum::Json<Value> {
    axum::Json(describe::all(&state.loaded.specs, "metrics"))
}

async fn list_slices(Shared(state): Shared<Arc<State>>) -> axum::Json<Value> {
    axum::Json(describe::all(&state.loaded.specs, "slices"))
}

async fn list_segments(Shared(state): Shared<Arc<State>>) -> axum::Json<Value> {
    axum::Json(describe::all(&state.loaded.specs, "segments"))
}

async fn scan(Shared(state): Shared<Arc<State>>) -> Result<axum::Json<Value>, ApiError> {
    let scanned = blocking(&state, |loaded| {
        MetricCompute::new(&loaded.specs, &loaded.connections).scan()
    })
    .await?
    .map_err(|e| ApiError::engine(&e))?;
    let results: Vec<Value> = scanned
        .entries
        .iter()
        .map(|e| {
            json!({
                "metric": e.metric_name,
                "spec": e.spec_name,
                "spec_type": e.spec_type.as_str(),
                "compatible": e.compatible,
                "valid_join_keys": e.valid_join_keys,
                "missing_columns": e.missing_columns,
                "reason": e.reason,
            })
        })
        .collect();
    Ok(axum::Json(json!({ "results": results })))
}

async fn compute(
    Shared(state): Shared<Arc<State>>,
    headers: HeaderMap,
    bytes: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let request = body(bytes)?.request()?;
    let metrics = request.metrics().to_vec();
    let form = Form::accepted(&headers);
    let result = blocking(&state, move |loaded| {
        MetricCompute::new(&loaded.specs, &loaded.connections).compute(&request)
    })
    .await?
    .map_err(|e| ApiError::engine(&e))?;
    let mut response = response::encode(&result, form)?;
    response.extensions_mut().insert(Requested(metrics));
    Ok(response)
}

async fn sql(
    Shared(state): Shared<Arc<State>>,
    bytes: Result<Bytes, BytesRejection>,
) -> Result<axum::Json<Value>, ApiError> {
    let body = body(bytes)?;
    let (explain, estimate) = (body.explain, body.estimate);
    let request = body.request()?;
    let answer = blocking(&state, move |loaded| -> Result<Value, aitaem::Error> {
        let compute = MetricCompute::new(&loaded.specs, &loaded.connections);
        let plan = compute.plan(&request)?;
        let mut statements = Vec::new();
        for statement in plan.statements() {
            let mut out = json!({
                "source": statement.source().to_string(),
                "backend": statement.backend().to_string(),
                "metrics": statement.metrics(),
                "sql": statement.sql(),
            });
            if explain {
                out["explain"] = json!(compute.explain(statement)?);
            }
            if estimate {
                out["estimated_bytes"] = json!(compute.estimate(statement)?);
            }
            statements.push(out);
        }
        let derived: Vec<Value> = plan
            .derived_metrics()
            .map(|(name, formula)| json!({"name": name, "expression": formula.to_string()}))
            .collect();
        Ok(json!({
            "statements": statements,
            "derived_metrics": derived,
            "notices": plan.notices(),
        }))
    })
    .await?
    .map_err(|e| ApiError::engine(&e))?;
    Ok(axum::Json(answer))
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
