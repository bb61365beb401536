//! A compute's result in the form the client accepts: JSON (default), CSV, an Arrow IPC
//! stream, Parquet, or the table for people (the explorer's view).

use aitaem::ComputeResult;
use aitaem::arrow::array::{Array, AsArray};
use aitaem::arrow::datatypes::DataType;
use aitaem::result::OutputFormat;
use aitaem::result::readable::{Pivot, Readable};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::error::ApiError;

/// The media type of an Arrow IPC stream.
pub(crate) const ARROW_STREAM: &str = "application/vnd.apache.arrow.stream";

/// The media type of a Parquet file.
pub(crate) const PARQUET: &str = "application/vnd.apache.parquet";

/// The media type of the table for people, as JSON.
pub(crate) const TABLE: &str = "application/vnd.aitaem.table+json";

/// The forms of a result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Form {
    Json,
    Csv,
    Arrow,
    Parquet,
    Table,
}

impl Form {
    /// The form the `Accept` header asks for (JSON unless it names CSV, Arrow, Parquet or the
    /// table).
    pub fn accepted(headers: &HeaderMap) -> Form {
        let accept = headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if accept.contains(ARROW_STREAM) {
            Form::Arrow
        } else if accept.contains(PARQUET) {
            Form::Parquet
        } else if accept.contains(TABLE) {
            Form::Table
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

/// The table for people (a row per period × slice value × segment value × entity, a column per
/// metric and derived column, values formatted as the command line's table formats them), with
/// each row's labels and each cell's number, for charts and sorting:
/// `{"caption", "header", "numeric", "rows", "values", "labels", "metrics", "period_type",
/// "warnings", "notices"}`. `metrics[i].columns` are the header's columns of metric `i`: its
/// value, then its derived columns (`derived` names them).
fn to_table(result: &ComputeResult) -> Value {
    let pivot = Pivot::of(result.batches());
    let table = Readable::from_pivot(&pivot);
    let per_metric = 1 + pivot.derived.len();
    let first = table.header.len() - pivot.metrics.len() * per_metric;
    let number = |v: Option<f64>| {
        v.and_then(serde_json::Number::from_f64)
            .map_or(Value::Null, Value::Number)
    };
    let values: Vec<Value> = (0..pivot.rows.len())
        .map(|row| {
            let mut cells = vec![Value::Null; first];
            for metric in 0..pivot.metrics.len() {
                cells.extend((0..per_metric).map(|c| number(pivot.value(row, metric, c))));
            }
            Value::Array(cells)
        })
        .collect();
    let labels: Vec<Value> = pivot
        .rows
        .iter()
        .map(|r| json!({"period": r.period, "entity": r.entity, "slice": r.slice, "segment": r.segment}))
        .collect();
    let metrics: Vec<Value> = pivot
        .metrics
        .iter()
        .enumerate()
        .map(|(i, (name, format))| {
            let at = first + i * per_metric;
            json!({"name": name, "format": format, "columns": (at..at + per_metric).collect::<Vec<_>>()})
        })
        .collect();
    json!({
        "caption": table.caption,
        "header": table.header,
        "numeric": table.numeric,
        "rows": table.rows,
        "values": values,
        "labels": labels,
        "metrics": metrics,
        "derived": pivot.derived.iter().map(|d| d.name()).collect::<Vec<_>>(),
        "period_type": pivot.period_type,
        "warnings": warnings(result),
        "notices": result.notices(),
    })
}

/// The response for a result in `form`. CSV, Arrow and Parquet carry warnings and notices in
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
        Form::Table => {
            let mut response = axum::Json(to_table(result)).into_response();
            response
                .headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static(TABLE));
            return Ok(response);
        }
        Form::Parquet => {
            let mut out = Vec::new();
            aitaem::result::write(result.batches(), OutputFormat::Parquet, &mut out)
                .map_err(|e| internal(e.to_string()))?;
            (PARQUET, out)
        }
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
