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
    Array, ArrayRef, AsArray, BooleanArray, StringArray, UInt32Array, new_null_array,
};
use arrow::compute::{cast, filter_record_batch, take};
use arrow::datatypes::{
    DataType, Float64Type, TimeUnit as ArrowTimeUnit, TimestampMicrosecondType, UInt32Type,
};
use arrow::record_batch::RecordBatch;

use crate::error::{Error, Result};
use crate::period::{TimeUnit, period_bounds};
use crate::plan::{Columns, Layout};
use crate::result::schema_with;

impl Layout {
    /// The standard batches (with the derived columns, if any) for wide batches with these
    /// columns (a statement's, or those derived from them): every batch of the first metric,
    /// then of the second, and so on.
    pub(crate) fn unpivot(
        &self,
        wide: &[RecordBatch],
        columns: &Columns,
    ) -> Result<Vec<RecordBatch>> {
        let expected = columns.names.len();
        let schema = schema_with(self.derived());
        let mut constants = Constants::default();
        let mut labels = Vec::new();
        for batch in wide.iter().filter(|b| b.num_rows() > 0) {
            if batch.num_columns() != expected {
                return Err(Error::internal(format!(
                    "the statement returned {} columns instead of {expected}",
                    batch.num_columns()
                )));
            }
            labels.push((batch, self.labels(batch, columns, &mut constants)?));
        }
        let mut out = Vec::new();
        for (i, (name, format)) in self.metrics.iter().enumerate() {
            for (batch, shared) in &labels {
                let n = batch.num_rows();
                let value = as_type(batch.column(columns.metrics[i]), &DataType::Float64)?;
                let mut arrays: Vec<ArrayRef> = Vec::with_capacity(schema.fields().len());
                arrays.extend(shared[..4].iter().cloned());
                arrays.push(constants.get(Some(name), n));
                arrays.push(constants.get(format.as_deref(), n));
                arrays.extend(shared[4..].iter().cloned());
                arrays.push(value);
                for &(_, at) in &columns.derived[i] {
                    arrays.push(batch.column(at).clone());
                }
                let metric = RecordBatch::try_new(schema.clone(), arrays).map_err(internal)?;
                out.push(match columns.counts[i] {
                    // Only the rows that hold the metric.
                    Some(at) => {
                        let counts = as_type(batch.column(at), &DataType::Float64)?;
                        let states = as_type(batch.column(columns.state), &DataType::UInt32)?;
                        let always = self.always_held();
                        let held: BooleanArray = counts
                            .as_primitive::<Float64Type>()
                            .iter()
                            .zip(states.as_primitive::<UInt32Type>().iter())
                            .map(|(c, s)| Some(c.is_some_and(|c| c > 0.0) || s == always))
                            .collect();
                        filter_record_batch(&metric, &held).map_err(internal)?
                    }
                    None => metric,
                });
            }
        }
        Ok(out)
    }

    /// The label columns of one wide batch, in standard order without the metric columns:
    /// period_type, period_start_date, period_end_date, entity_id, slice_type, slice_value,
    /// segment_name, segment_value.
    fn labels(
        &self,
        batch: &RecordBatch,
        columns: &Columns,
        constants: &mut Constants,
    ) -> Result<Vec<ArrayRef>> {
        let n = batch.num_rows();
        let (start, end) = match (columns.period.zip(self.unit), &self.window) {
            (Some((index, unit)), _) => periods(batch.column(index), unit)?,
            (None, Some((start, end))) => {
                (constants.get(Some(start), n), constants.get(Some(end), n))
            }
            (None, None) => (constants.get(None, n), constants.get(None, n)),
        };
        let entity = match columns.entity {
            Some(index) => as_type(batch.column(index), &DataType::Utf8)?,
            None => constants.get(None, n),
        };
        let states = cast(batch.column(columns.state), &DataType::UInt32).map_err(internal)?;
        let states: &UInt32Array = states.as_primitive();
        if let Some(s) = states
            .iter()
            .flatten()
            .find(|&s| s as usize >= self.states.len())
        {
            return Err(Error::internal(format!("unknown state {s}")));
        }
        let state_label = |pick: fn(&(String, String)) -> &str| -> Result<ArrayRef> {
            let names = StringArray::from_iter_values(self.states.iter().map(pick));
            take(&names, states, None).map_err(internal)
        };
        Ok(vec![
            constants.get(Some(&self.period_type), n),
            start,
            end,
            entity,
            state_label(|s| &s.0)?,
            as_type(batch.column(columns.slice_value), &DataType::Utf8)?,
            state_label(|s| &s.1)?,
            as_type(batch.column(columns.segment_value), &DataType::Utf8)?,
        ])
    }
}

/// Period starts and ends as `YYYY-MM-DD HH:MM:SS`, formatted once per distinct period.
fn periods(column: &ArrayRef, unit: TimeUnit) -> Result<(ArrayRef, ArrayRef)> {
    let micros = cast(
        column,
        &DataType::Timestamp(ArrowTimeUnit::Microsecond, None),
    )
    .map_err(internal)?;
    let micros = micros.as_primitive::<TimestampMicrosecondType>();
    let mut distinct: HashMap<i64, u32> = HashMap::new();
    let (mut starts, mut ends) = (Vec::new(), Vec::new());
    let mut indices = Vec::with_capacity(micros.len());
    for value in micros.iter() {
        let Some(value) = value else {
            indices.push(None);
            continue;
        };
        let index = match distinct.get(&value) {
            Some(&index) => index,
            None => {
                let (start, end) = period_bounds(value, unit).map_err(Error::internal)?;
                starts.push(start);
                ends.push(end);
                let index = (starts.len() - 1) as u32;
                distinct.insert(value, index);
                index
            }
        };
        indices.push(Some(index));
    }
    let indices = UInt32Array::from(indices);
    let pick = |labels: Vec<String>| take(&StringArray::from(labels), &indices, None);
    Ok((
        pick(starts).map_err(internal)?,
        pick(ends).map_err(internal)?,
    ))
}

/// Text columns with the same value (or NULL) in every row, built once per value and length:
/// most batches have the same number of rows, so they share one array.
#[derive(Default)]
struct Constants {
    built: HashMap<(Option<String>, usize), ArrayRef>,
}

impl Constants {
    fn get(&mut self, value: Option<&str>, n: usize) -> ArrayRef {
        self.built
            .entry((value.map(str::to_string), n))
            .or_insert_with(|| match value {
                Some(v) => Arc::new(StringArray::from_iter_values(std::iter::repeat_n(v, n))),
                None => new_null_array(&DataType::Utf8, n),
            })
            .clone()
    }
}

/// A column as the standard type (backends may return other string or number types).
pub(super) fn as_type(column: &ArrayRef, to: &DataType) -> Result<ArrayRef> {
    if column.data_type() == to {
        Ok(column.clone())
    } else {
        cast(column, to).map_err(internal)
    }
}

/// An engine fault (an Arrow operation that should not fail) as an error.
pub(super) fn internal(err: impl std::fmt::Display) -> Error {
    Error::internal(err.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Float64Array, Int32Array, TimestampMicrosecondArray};

    fn text(batch: &RecordBatch, column: &str) -> Vec<Option<String>> {
        batch
            .column_by_name(column)
            .unwrap()
            .as_string::<i32>()
            .iter()
            .map(|v| v.map(str::to_string))
            .collect()
    }

    /// 2024-01-01 and 2024-02-01 in microseconds since the epoch.
    const JAN: i64 = 1_704_067_200_000_000;
    const FEB: i64 = 1_706_745_600_000_000;

    fn wide(states: Vec<i32>, periods: Vec<Option<i64>>, values: Vec<f64>) -> RecordBatch {
        let n = states.len();
        let columns: Vec<ArrayRef> = vec![
            Arc::new(Int32Array::from(states)),
            Arc::new(TimestampMicrosecondArray::from(periods)),
            Arc::new(StringArray::from_iter_values(
                (0..n).map(|i| format!("u{i}")),
            )),
            Arc::new(StringArray::from_iter_values(std::iter::repeat_n("NL", n))),
            Arc::new(StringArray::from_iter_values(std::iter::repeat_n("all", n))),
            Arc::new(Float64Array::from(values.clone())),
            Arc::new(Float64Array::from_iter_values(
                values.iter().map(|v| v * 10.0),
            )),
        ];
        RecordBatch::try_from_iter(
            [
                "__state",
                "__period",
                "entity_id",
                "slice_value",
                "segment_value",
                "__m0",
                "__m1",
            ]
            .into_iter()
            .zip(columns),
        )
        .unwrap()
    }

    /// Monthly, by entity, two metrics (`revenue` in USD and `ctr`), one state per slice type.
    fn monthly_by_entity(slice_types: &[&str]) -> Layout {
        Layout {
            period_type: "monthly".into(),
            unit: Some(TimeUnit::Month),
            window: None,
            by_entity: true,
            states: slice_types
                .iter()
                .map(|t| (t.to_string(), "none".to_string()))
                .collect(),
            metrics: vec![
                ("revenue".into(), Some("currency:USD".into())),
                ("ctr".into(), None),
            ],
            window_key: false,
            parts: Vec::new(),
            counts: Vec::new(),
            derive: None,
        }
    }

    #[test]
    fn every_metric_gets_the_labels_of_every_batch() {
        let layout = monthly_by_entity(&["country", "none"]);
        let batches = [
            wide(vec![0, 1], vec![Some(JAN), Some(FEB)], vec![1.0, 2.0]),
            wide(vec![1, 0], vec![Some(FEB), None], vec![3.0, 4.0]),
        ];
        let out = layout.unpivot(&batches, &layout.columns()).unwrap();
        assert_eq!(out.len(), 4);
        let all = arrow::compute::concat_batches(&crate::result::schema(), &out).unwrap();
        let s = |v: &str| Some(v.to_string());
        assert_eq!(
            text(&all, "metric_name"),
            [
                s("revenue"),
                s("revenue"),
                s("revenue"),
                s("revenue"),
                s("ctr"),
                s("ctr"),
                s("ctr"),
                s("ctr")
            ]
        );
        assert_eq!(
            text(&all, "metric_format")[..5],
            [
                s("currency:USD"),
                s("currency:USD"),
                s("currency:USD"),
                s("currency:USD"),
                None
            ]
        );
        assert_eq!(
            text(&all, "slice_type")[..4],
            [s("country"), s("none"), s("none"), s("country")]
        );
        assert_eq!(
            text(&all, "period_start_date")[..4],
            [
                s("2024-01-01 00:00:00"),
                s("2024-02-01 00:00:00"),
                s("2024-02-01 00:00:00"),
                None
            ]
        );
        assert_eq!(
            text(&all, "period_end_date")[..4],
            [
                s("2024-02-01 00:00:00"),
                s("2024-03-01 00:00:00"),
                s("2024-03-01 00:00:00"),
                None
            ]
        );
        assert_eq!(text(&all, "entity_id")[4..6], [s("u0"), s("u1")]);
        assert_eq!(text(&all, "period_type")[7], s("monthly"));
        let values: Vec<f64> = all
            .column_by_name("metric_value")
            .unwrap()
            .as_primitive::<arrow::datatypes::Float64Type>()
            .values()
            .to_vec();
        assert_eq!(values, [1.0, 2.0, 3.0, 4.0, 10.0, 20.0, 30.0, 40.0]);
    }

    #[test]
    fn an_unknown_state_is_an_error() {
        let layout = monthly_by_entity(&["none"]);
        let err = layout
            .unpivot(
                &[wide(vec![0, 3], vec![Some(JAN), Some(JAN)], vec![1.0, 2.0])],
                &layout.columns(),
            )
            .unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::Internal);
        assert!(err.to_string().ends_with("unknown state 3"), "{err}");
    }

    #[test]
    fn a_period_beyond_the_calendar_is_an_error_not_a_panic() {
        let layout = monthly_by_entity(&["none"]);
        let err = layout
            .unpivot(
                &[wide(vec![0], vec![Some(i64::MAX)], vec![1.0])],
                &layout.columns(),
            )
            .unwrap_err();
        assert!(err.to_string().contains("out of range"), "{err}");
    }
}
