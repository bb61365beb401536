//! What the server does, whatever the protocol asking: computes, scans, plans and listings,
//! each within the gate and the timeout.

use std::sync::Arc;

use aitaem::{ComputeRequest, ComputeResult, MetricCompute};
use serde_json::{Value, json};

use crate::body::ComputeBody;
use crate::describe;
use crate::error::ApiError;
use crate::state::{State, blocking};

/// Computes a request.
pub(crate) async fn compute(
    state: &Arc<State>,
    request: ComputeRequest,
) -> Result<ComputeResult, ApiError> {
    blocking(state, move |loaded, cancel| {
        MetricCompute::new(&loaded.specs, &loaded.connections).compute_cancellable(&request, cancel)
    })
    .await?
    .map_err(|e| ApiError::engine(&e))
}

/// Which slices and segments fit which metrics (all, or one metric's).
pub(crate) async fn scan(state: &Arc<State>, metric: Option<String>) -> Result<Value, ApiError> {
    let scanned = blocking(state, |loaded, _| {
        MetricCompute::new(&loaded.specs, &loaded.connections).scan()
    })
    .await?
    .map_err(|e| ApiError::engine(&e))?;
    let results: Vec<Value> = scanned
        .entries
        .iter()
        .filter(|e| metric.as_ref().is_none_or(|m| *m == e.metric_name))
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
    Ok(json!({ "results": results }))
}

/// The statements a request would run (with the backend's plans and byte estimates when the
/// body asks), and the derived metrics computed from their results.
pub(crate) async fn sql(state: &Arc<State>, body: ComputeBody) -> Result<Value, ApiError> {
    let (explain, estimate) = (body.explain, body.estimate);
    let request = body.request()?;
    blocking(state, move |loaded, _| -> Result<Value, aitaem::Error> {
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
    .map_err(|e| ApiError::engine(&e))
}

/// Every spec of a kind (`metrics`, `slices` or `segments`).
pub(crate) fn list(state: &State, kind: &str) -> Value {
    describe::all(&state.loaded().specs, kind)
}

/// One spec by name, whatever its kind: `{"kind": ..., "spec": ...}`, or 404 with the metric
/// lookup's suggestions.
pub(crate) fn describe(state: &State, name: &str) -> Result<Value, ApiError> {
    let loaded = state.loaded();
    let specs = &loaded.specs;
    let missing = match specs.metric(name) {
        Ok(metric) => return Ok(json!({"kind": "metric", "spec": describe::metric(metric)})),
        Err(err) => err,
    };
    if let Ok(slice) = specs.slice(name) {
        return Ok(json!({"kind": "slice", "spec": describe::slice(slice)}));
    }
    if let Ok(segment) = specs.segment(name) {
        return Ok(json!({"kind": "segment", "spec": describe::segment(segment)}));
    }
    Err(ApiError::engine(&missing))
}
