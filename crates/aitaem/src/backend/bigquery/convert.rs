//! Query results, as the service pages them, into Arrow arrays by the result's schema: INT64,
//! NUMERIC and BIGNUMERIC (as float64, the standard table's type), FLOAT64, BOOL, STRING, DATE,
//! DATETIME and TIMESTAMP, NULLs included.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanBuilder, Date32Builder, Float64Builder, Int64Builder, StringBuilder,
    TimestampMicrosecondBuilder,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use arrow::record_batch::RecordBatch;
use chrono::{NaiveDate, NaiveDateTime};
use google_cloud_bigquery::query::Row;
use google_cloud_bigquery_v2::model::TableFieldSchema;
use serde_json::Value;

/// Rows per record batch.
const BATCH_ROWS: usize = 64 * 1024;

/// How one column's values are read.
enum Column {
    Int(Int64Builder),
    Float(Float64Builder),
    Bool(BooleanBuilder),
    Text(StringBuilder),
    Date(Date32Builder),
    DateTime(TimestampMicrosecondBuilder),
    Timestamp(TimestampMicrosecondBuilder),
}

impl Column {
    /// The reader and Arrow type for a column of the result's schema.
    fn for_field(field: &TableFieldSchema) -> Result<(Column, DataType), String> {
        if field.mode == "REPEATED" {
            return Err(format!(
                "column `{}` is an array, which aitaem cannot read",
                field.name
            ));
        }
        let micros =
            |tz: Option<&str>| DataType::Timestamp(TimeUnit::Microsecond, tz.map(Into::into));
        Ok(match field.r#type.as_str() {
            "INTEGER" | "INT64" => (Column::Int(Int64Builder::new()), DataType::Int64),
            "FLOAT" | "FLOAT64" | "NUMERIC" | "BIGNUMERIC" | "DECIMAL" | "BIGDECIMAL" => {
                (Column::Float(Float64Builder::new()), DataType::Float64)
            }
            "BOOLEAN" | "BOOL" => (Column::Bool(BooleanBuilder::new()), DataType::Boolean),
            "STRING" => (Column::Text(StringBuilder::new()), DataType::Utf8),
            "DATE" => (Column::Date(Date32Builder::new()), DataType::Date32),
            "DATETIME" => (
                Column::DateTime(TimestampMicrosecondBuilder::new()),
                micros(None),
            ),
            "TIMESTAMP" => (
                Column::Timestamp(TimestampMicrosecondBuilder::new().with_timezone("UTC")),
                micros(Some("UTC")),
            ),
            other => {
                return Err(format!(
                    "column `{}` has type {other}, which aitaem cannot read; cast it to STRING or a number",
                    field.name
                ));
            }
        })
    }

    /// Appends one value as the service wrote it in JSON (scalars come as strings).
    fn push(&mut self, value: &Value) -> Result<(), String> {
        let text = match value {
            Value::Null => None,
            Value::String(s) => Some(s.clone()),
            Value::Bool(b) => Some(b.to_string()),
            Value::Number(n) => Some(n.to_string()),
            other => return Err(format!("an unexpected value {other}")),
        };
        let unreadable = |what: &str, text: &str| format!("cannot read `{text}` as {what}");
        match (self, text.as_deref()) {
            (Column::Int(b), Some(t)) => {
                b.append_value(t.parse::<i64>().map_err(|_| unreadable("an INT64", t))?)
            }
            (Column::Float(b), Some(t)) => {
                b.append_value(float(t).ok_or_else(|| unreadable("a number", t))?)
            }
            (Column::Bool(b), Some(t)) => b.append_value(t.eq_ignore_ascii_case("true")),
            (Column::Text(b), Some(t)) => b.append_value(t),
            (Column::Date(b), Some(t)) => {
                let date = t
                    .get(..10)
                    .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
                    .ok_or_else(|| unreadable("a DATE", t))?;
                let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("a date");
                b.append_value((date - epoch).num_days() as i32)
            }
            (Column::DateTime(b), Some(t)) => b.append_value(
                datetime(t)
                    .ok_or_else(|| unreadable("a DATETIME", t))?
                    .and_utc()
                    .timestamp_micros(),
            ),
            (Column::Timestamp(b), Some(t)) => {
                b.append_value(timestamp(t).ok_or_else(|| unreadable("a TIMESTAMP", t))?)
            }
            (Column::Int(b), None) => b.append_null(),
            (Column::Float(b), None) => b.append_null(),
            (Column::Bool(b), None) => b.append_null(),
            (Column::Text(b), None) => b.append_null(),
            (Column::Date(b), None) => b.append_null(),
            (Column::DateTime(b) | Column::Timestamp(b), None) => b.append_null(),
        }
        Ok(())
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            Column::Int(b) => Arc::new(b.finish()),
            Column::Float(b) => Arc::new(b.finish()),
            Column::Bool(b) => Arc::new(b.finish()),
            Column::Text(b) => Arc::new(b.finish()),
            Column::Date(b) => Arc::new(b.finish()),
            Column::DateTime(b) | Column::Timestamp(b) => Arc::new(b.finish()),
        }
    }
}

/// A FLOAT64 or NUMERIC as written by the service (`1.5`, `NaN`, `Infinity`, `-Infinity`).
fn float(text: &str) -> Option<f64> {
    match text {
        "NaN" => Some(f64::NAN),
        "Infinity" => Some(f64::INFINITY),
        "-Infinity" => Some(f64::NEG_INFINITY),
        t => t.parse().ok(),
    }
}

/// A DATETIME (`2024-05-01T00:00:00`, with fractions of a second, or a space before the time).
fn datetime(text: &str) -> Option<NaiveDateTime> {
    ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"]
        .iter()
        .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())
        .or_else(|| {
            NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .ok()
                .map(|d| d.and_hms_opt(0, 0, 0).expect("midnight"))
        })
}

/// A TIMESTAMP in microseconds: the service writes microseconds since 1970 (or seconds, as a
/// float, in its older format, or a date-time with an offset).
fn timestamp(text: &str) -> Option<i64> {
    if let Ok(micros) = text.parse::<i64>() {
        return Some(micros);
    }
    if let Ok(seconds) = text.parse::<f64>() {
        return Some((seconds * 1e6).round() as i64);
    }
    chrono::DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.timestamp_micros())
        .or_else(|| datetime(text.trim_end_matches(" UTC")).map(|t| t.and_utc().timestamp_micros()))
}

/// Reads result rows into record batches.
pub(super) struct Reader {
    schema: SchemaRef,
    columns: Vec<Column>,
    rows: usize,
    batches: Vec<RecordBatch>,
}

impl Reader {
    /// A reader for a result's fields; an error names a column it cannot read.
    pub(super) fn new(fields: &[TableFieldSchema]) -> Result<Reader, String> {
        let mut arrow_fields = Vec::new();
        let mut columns = Vec::new();
        for field in fields {
            let (column, data_type) = Column::for_field(field)?;
            arrow_fields.push(Field::new(&field.name, data_type, true));
            columns.push(column);
        }
        Ok(Reader {
            schema: Arc::new(Schema::new(arrow_fields)),
            columns,
            rows: 0,
            batches: Vec::new(),
        })
    }

    /// Appends one row.
    pub(super) fn push(&mut self, row: &Row) -> Result<(), String> {
        for (i, column) in self.columns.iter_mut().enumerate() {
            let value: Value = row.get(i).map_err(|e| e.to_string())?;
            column
                .push(&value)
                .map_err(|m| format!("column {}: {m}", self.schema.field(i).name()))?;
        }
        self.rows += 1;
        if self.rows == BATCH_ROWS {
            self.flush()?;
        }
        Ok(())
    }

    /// The batches.
    pub(super) fn finish(mut self) -> Result<Vec<RecordBatch>, String> {
        if self.rows > 0 || self.batches.is_empty() {
            self.flush()?;
        }
        Ok(self.batches)
    }

    fn flush(&mut self) -> Result<(), String> {
        let arrays: Vec<ArrayRef> = self.columns.iter_mut().map(Column::finish).collect();
        self.batches
            .push(RecordBatch::try_new(self.schema.clone(), arrays).map_err(|e| e.to_string())?);
        self.rows = 0;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_as_the_service_writes_them() {
        assert_eq!(float("1.25"), Some(1.25));
        assert!(float("NaN").unwrap().is_nan());
        assert_eq!(float("-Infinity"), Some(f64::NEG_INFINITY));
        assert_eq!(float("123456789.123456789"), Some(123456789.12345679));
        assert_eq!(
            datetime("2024-02-29T23:59:59.5").unwrap().to_string(),
            "2024-02-29 23:59:59.500"
        );
        assert_eq!(
            datetime("2024-02-29 00:00:00").unwrap().to_string(),
            "2024-02-29 00:00:00"
        );
        assert_eq!(timestamp("1704067200000000"), Some(1_704_067_200_000_000));
        assert_eq!(timestamp("1.7040672E9"), Some(1_704_067_200_000_000));
        assert_eq!(
            timestamp("2024-01-01T02:00:00+02:00"),
            Some(1_704_067_200_000_000)
        );
        let mut date = Column::Date(Date32Builder::new());
        date.push(&Value::String("2024-02-29".into())).unwrap();
        date.push(&Value::Null).unwrap();
        assert!(date.push(&Value::String("29/02/2024".into())).is_err());
    }
}
