//! A compute's result in the form the client accepts: JSON (default), CSV or an Arrow IPC
//! stream.

use aitaem::ComputeResult;
use aitaem::arrow::array::{Array, AsArray};
use aitaem::arrow::datatypes::DataType;
use aitaem::result::OutputFormat;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::error::ApiError;

/// The media type of an Arrow IPC stream.
pub(crate) const ARROW_STREAM: &str = "application/vnd.apache.arrow.stream";

/// The forms of a result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Form {
    Json,
    Csv,
    Arrow,
}

impl Form {
    /// The form the `Accept` header asks for (JSON unless it names CSV or Arrow).
    pub fn accepted(headers: &HeaderMap) -> Form {
        let accept = headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if accept.contains(ARROW_STREAM) {
            Form::Arrow
        } else if accept.contains("text/csv") {
            Form::Csv
        } else {
            Form::Json
        }
    }
}

/// A failed source in a partial result, or a notice, as JSON.
fn warnings(result: &ComputeResult) -> Vec<Value> {
    result
        .warnings()
        .iter()
        .map(|w| json!({"kind": w.kind().name(), "message": w.to_string()}))
        .collect()
}

/// The result as `{"columns", "rows", "warnings", "notices"}`: rows are arrays in column
/// order, numbers as JSON numbers and NULL as null.
fn to_json(result: &ComputeResult) -> Value {
    let columns: Vec<&str> = result
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().as_str())
        .collect();
    let mut rows = Vec::with_capacity(result.num_rows());
    for batch in result.batches() {
        for row in 0..batch.num_rows() {
            let cells: Vec<Value> = batch
                .columns()
                .iter()
                .map(|column| {
                    if column.is_null(row) {
                        return Value::Null;
                    }
                    match column.data_type() {
                        DataType::Float64 => {
                            let v = column
                                .as_primitive::<aitaem::arrow::datatypes::Float64Type>()
                                .value(row);
                            serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number)
                        }
                        DataType::Utf8 => {
                            Value::String(column.as_string::<i32>().value(row).into())
                        }
                        _ => Value::Null,
                    }
                })
                .collect();
            rows.push(Value::Array(cells));
        }
    }
    json!({
        "columns": columns,
        "rows": rows,
        "warnings": warnings(result),
        "notices": result.notices(),
    })
}

/// The response for a result in `form`. CSV and Arrow carry warnings and notices in
/// `aitaem-warning` and `aitaem-notice` headers (one per message).
pub(crate) fn encode(result: &ComputeResult, form: Form) -> Result<Response, ApiError> {
    let internal = |e: String| {
        ApiError::new(
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            "OutputError",
            e,
        )
    };
    let (media, body) = match form {
        Form::Json => return Ok(axum::Json(to_json(result)).into_response()),
        Form::Csv => {
            let mut out = Vec::new();
            aitaem::result::write(result.batches(), OutputFormat::Csv, &mut out)
                .map_err(|e| internal(e.to_string()))?;
            ("text/csv; charset=utf-8", out)
        }
        Form::Arrow => {
            let mut out = Vec::new();
            let mut writer = arrow_ipc::writer::StreamWriter::try_new(&mut out, result.schema())
                .map_err(|e| internal(e.to_string()))?;
            for batch in result.batches() {
                writer.write(batch).map_err(|e| internal(e.to_string()))?;
            }
            writer.finish().map_err(|e| internal(e.to_string()))?;
            drop(writer);
            (ARROW_STREAM, out)
        }
    };
    let mut response = ([(header::CONTENT_TYPE, media)], body).into_response();
    let headers = response.headers_mut();
    for warning in result.warnings() {
        if let Ok(value) = HeaderValue::from_str(&one_line(&warning.to_string())) {
            headers.append("aitaem-warning", value);
        }
    }
    for notice in result.notices() {
        if let Ok(value) = HeaderValue::from_str(&one_line(notice)) {
            headers.append("aitaem-notice", value);
        }
    }
    Ok(response)
}

/// A message on one line of visible ASCII (header values cannot hold more).
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .collect()
}
