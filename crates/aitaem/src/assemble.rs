//! Turning a statement's wide rows into the standard long table.
//!
//! A statement returns one row per group: the state index, the period (a timestamp) and entity
//! when requested, the slice and segment values, and one value column per metric. Here each
//! metric becomes its own batch of the standard schema. The label columns are built once per
//! batch and shared by every metric's batch, so the unpivot copies no strings; labels that are
//! the same for every row (the period type, a window's ends, metric names) are built in Rust
//! rather than carried through the backend.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, Int32Array, StringArray, StringBuilder, new_null_array,
};
use arrow::compute::cast;
use arrow::datatypes::{DataType, TimeUnit as ArrowTimeUnit, TimestampMicrosecondType};
use arrow::record_batch::RecordBatch;
use chrono::DateTime;

use crate::request::step;
use crate::result::schema;
use crate::sql::TimeUnit;

/// What a statement's wide rows mean.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    /// `all_time`, `monthly`, ...
    pub period_type: String,
    /// The period unit, when the rows have a `__period` column.
    pub unit: Option<TimeUnit>,
    /// For `all_time` with a window: its ends as given.
    pub window: Option<(String, String)>,
    /// Whether the rows have an `entity_id` column.
    pub by_entity: bool,
    /// `(slice_type, segment_name)` of each state, by `__state`.
    pub states: Vec<(String, String)>,
    /// `(metric_name, metric_format)` of each `__m<i>` column.
    pub metrics: Vec<(String, Option<String>)>,
}

/// Column positions of the wide rows, in the order the statement selects them.
struct Columns {
    state: usize,
    period: Option<usize>,
    entity: Option<usize>,
    slice_value: usize,
    segment_value: usize,
    first_metric: usize,
}

impl Layout {
    fn columns(&self) -> Columns {
        let mut next = 1;
        let mut take = |present: bool| {
            present.then(|| {
                next += 1;
                next - 1
            })
        };
        let period = take(self.unit.is_some());
        let entity = take(self.by_entity);
        Columns {
            state: 0,
            period,
            entity,
            slice_value: next,
            segment_value: next + 1,
            first_metric: next + 2,
        }
    }

    /// The standard batches for a statement's wide batches: every batch of the first metric,
    /// then of the second, and so on.
    pub(crate) fn unpivot(&self, wide: &[RecordBatch]) -> Result<Vec<RecordBatch>, String> {
        let columns = self.columns();
        let expected = columns.first_metric + self.metrics.len();
        let mut labels = Vec::new();
        for batch in wide.iter().filter(|b| b.num_rows() > 0) {
            if batch.num_columns() != expected {
                return Err(format!(
                    "the statement returned {} columns instead of {expected}",
                    batch.num_columns()
                ));
            }
            labels.push((batch, self.labels(batch, &columns)?));
        }
        let mut out = Vec::new();
        for (i, (name, format)) in self.metrics.iter().enumerate() {
            for (batch, shared) in &labels {
                let n = batch.num_rows();
                let value = as_type(batch.column(columns.first_metric + i), &DataType::Float64)?;
                let mut arrays: Vec<ArrayRef> = Vec::with_capacity(11);
                arrays.extend(shared[..4].iter().cloned());
                arrays.push(constant(Some(name), n));
                arrays.push(constant(format.as_deref(), n));
                arrays.extend(shared[4..].iter().cloned());
                arrays.push(value);
                out.push(RecordBatch::try_new(schema(), arrays).map_err(|e| e.to_string())?);
            }
        }
        Ok(out)
    }

    /// The label columns of one wide batch, in standard order without the metric columns:
    /// period_type, period_start_date, period_end_date, entity_id, slice_type, slice_value,
    /// segment_name, segment_value.
    fn labels(&self, batch: &RecordBatch, columns: &Columns) -> Result<Vec<ArrayRef>, String> {
        let n = batch.num_rows();
        let (start, end) = match (columns.period, &self.window) {
            (Some(index), _) => self.periods(batch.column(index))?,
            (None, Some((start, end))) => (constant(Some(start), n), constant(Some(end), n)),
            (None, None) => (constant(None, n), constant(None, n)),
        };
        let entity = match columns.entity {
            Some(index) => as_type(batch.column(index), &DataType::Utf8)?,
            None => constant(None, n),
        };
        let states =
            cast(batch.column(columns.state), &DataType::Int32).map_err(|e| e.to_string())?;
        let states: &Int32Array = states.as_primitive();
        let state_label = |pick: fn(&(String, String)) -> &str| -> Result<ArrayRef, String> {
            let values: Result<Vec<&str>, String> = states
                .values()
                .iter()
                .map(|&s| {
                    self.states
                        .get(s as usize)
                        .map(pick)
                        .ok_or_else(|| format!("unknown state {s}"))
                })
                .collect();
            Ok(Arc::new(StringArray::from(values?)) as ArrayRef)
        };
        Ok(vec![
            constant(Some(&self.period_type), n),
            start,
            end,
            entity,
            state_label(|s| &s.0)?,
            as_type(batch.column(columns.slice_value), &DataType::Utf8)?,
            state_label(|s| &s.1)?,
            as_type(batch.column(columns.segment_value), &DataType::Utf8)?,
        ])
    }

    /// Period starts and ends as `YYYY-MM-DD HH:MM:SS`, formatted once per distinct period.
    fn periods(&self, column: &ArrayRef) -> Result<(ArrayRef, ArrayRef), String> {
        let unit = self.unit.expect("a period column implies a unit");
        let micros = cast(
            column,
            &DataType::Timestamp(ArrowTimeUnit::Microsecond, None),
        )
        .map_err(|e| e.to_string())?;
        let micros = micros.as_primitive::<TimestampMicrosecondType>();
        let mut cache: HashMap<i64, (String, String)> = HashMap::new();
        let mut starts = StringBuilder::with_capacity(micros.len(), micros.len() * 19);
        let mut ends = StringBuilder::with_capacity(micros.len(), micros.len() * 19);
        for value in micros.iter() {
            let Some(value) = value else {
                starts.append_null();
                ends.append_null();
                continue;
            };
            let (start, end) = cache.entry(value).or_insert_with(|| {
                let start = DateTime::from_timestamp_micros(value)
                    .expect("a timestamp the backend returned")
                    .naive_utc();
                let fmt = |t: chrono::NaiveDateTime| t.format("%Y-%m-%d %H:%M:%S").to_string();
                (fmt(start), fmt(step(start, unit)))
            });
            starts.append_value(start);
            ends.append_value(end);
        }
        Ok((Arc::new(starts.finish()), Arc::new(ends.finish())))
    }
}

/// A column as the standard type (backends may return other string or number types).
fn as_type(column: &ArrayRef, to: &DataType) -> Result<ArrayRef, String> {
    if column.data_type() == to {
        Ok(column.clone())
    } else {
        cast(column, to).map_err(|e| e.to_string())
    }
}

/// A text column with the same value (or NULL) in every row.
fn constant(value: Option<&str>, n: usize) -> ArrayRef {
    match value {
        Some(v) => Arc::new(StringArray::from_iter_values(std::iter::repeat_n(v, n))),
        None => new_null_array(&DataType::Utf8, n),
    }
}
