//! Derived metrics: each evaluated row by row from its inputs' results, after the statements
//! ran (no statement of its own), and the result cut to the requested metrics, in request order.
//!
//! A derived metric's rows are the rows of its inputs, matched on period, entity, slice and
//! segment; an input without a row there is NULL. Its `comparison_value`, `cumulative_value`
//! and `rolling_value` are its expression over the inputs' own; `delta` and `delta_pct` follow
//! from its value and comparison value; `share_of_total` is NULL (a share of an expression has
//! no total to divide by).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Float64Array, StringArray};
use arrow::datatypes::Float64Type;
use arrow::record_batch::RecordBatch;

use super::assemble::internal;
use crate::error::Result;
use crate::plan::{DerivedPlan, Plan};
use crate::result::{COLUMNS, DerivedColumn};

/// Positions of standard columns ([`COLUMNS`]).
const METRIC_NAME: usize = 4;
const METRIC_FORMAT: usize = 5;
const VALUE: usize = 10;
/// The columns rows are matched on: period start, entity, slice type and value, segment name
/// and value.
const MATCHED: [usize; 6] = [1, 3, 6, 7, 8, 9];

/// The values a derived metric's expression is evaluated over: the value, then the derived
/// columns that combine through expressions.
fn evaluated(derived: &[DerivedColumn]) -> Vec<(usize, DerivedColumn)> {
    derived
        .iter()
        .enumerate()
        .filter(|(_, c)| {
            matches!(
                c,
                DerivedColumn::ComparisonValue
                    | DerivedColumn::CumulativeValue
                    | DerivedColumn::RollingValue
            )
        })
        .map(|(i, c)| (COLUMNS.len() + i, *c))
        .collect()
}

/// The result: the statements' batches with the derived metrics added, cut to the requested
/// metrics, in request order. `failed` names the metrics whose statements failed; a derived
/// metric that reads one is left out too.
pub(crate) fn finish(
    plan: &Plan,
    batches: Vec<RecordBatch>,
    failed: &HashSet<String>,
) -> Result<Vec<RecordBatch>> {
    let mut by_metric: HashMap<String, Vec<RecordBatch>> = HashMap::new();
    for batch in batches.into_iter().filter(|b| b.num_rows() > 0) {
        let name = batch
            .column(METRIC_NAME)
            .as_string::<i32>()
            .value(0)
            .to_string();
        by_metric.entry(name).or_default().push(batch);
    }
    let mut failed = failed.clone();
    for derived in &plan.derived {
        let inputs = derived.expression.inputs();
        if inputs.iter().any(|i| failed.contains(*i)) {
            failed.insert(derived.name.clone());
            continue;
        }
        if let Some(batch) = evaluate(derived, &inputs, &by_metric)? {
            by_metric.insert(derived.name.clone(), vec![batch]);
        }
    }
    Ok(plan
        .requested
        .iter()
        .filter_map(|name| by_metric.remove(name))
        .flatten()
        .collect())
}

/// One input's rows: where each matched row is, and its values.
struct Rows<'a> {
    batches: &'a [RecordBatch],
    at: HashMap<usize, (usize, usize)>,
}

/// A derived metric's rows, or `None` when no input has any.
fn evaluate(
    derived: &DerivedPlan,
    inputs: &[&str],
    by_metric: &HashMap<String, Vec<RecordBatch>>,
) -> Result<Option<RecordBatch>> {
    let Some(schema) = inputs
        .iter()
        .find_map(|i| by_metric.get(*i).and_then(|b| b.first()))
        .map(RecordBatch::schema)
    else {
        return Ok(None);
    };
    let derived_columns: Vec<DerivedColumn> = schema.fields()[COLUMNS.len()..]
        .iter()
        .filter_map(|f| {
            DerivedColumn::ALL
                .into_iter()
                .find(|c| c.name() == f.name())
        })
        .collect();
    let columns = evaluated(&derived_columns);

    // Every matched row, in order of first appearance over the inputs; where each input has it.
    let mut keys: HashMap<Vec<Option<&str>>, usize> = HashMap::new();
    let mut first: Vec<(usize, usize, usize)> = Vec::new();
    let mut rows: Vec<Rows> = Vec::new();
    for (n, input) in inputs.iter().enumerate() {
        let batches = by_metric.get(*input).map_or(&[][..], Vec::as_slice);
        let mut at = HashMap::new();
        for (b, batch) in batches.iter().enumerate() {
            let text: Vec<&StringArray> = MATCHED
                .iter()
                .map(|&c| batch.column(c).as_string::<i32>())
                .collect();
            for row in 0..batch.num_rows() {
                let key: Vec<Option<&str>> = text
                    .iter()
                    .map(|t| (!t.is_null(row)).then(|| t.value(row)))
                    .collect();
                let next = keys.len();
                let id = *keys.entry(key).or_insert(next);
                if id == next {
                    first.push((n, b, row));
                }
                at.insert(id, (b, row));
            }
        }
        rows.push(Rows { batches, at });
    }

    let value_of = |rows: &Rows, id: usize, column: usize| -> Option<f64> {
        let &(b, row) = rows.at.get(&id)?;
        let values = rows.batches[b].column(column).as_primitive::<Float64Type>();
        (!values.is_null(row)).then(|| values.value(row))
    };
    let eval = |id: usize, column: usize| {
        derived.expression.eval(&mut |name| {
            let n = inputs.iter().position(|i| *i == name)?;
            value_of(&rows[n], id, column)
        })
    };
    let count = first.len();
    let value: Vec<Option<f64>> = (0..count).map(|id| eval(id, VALUE)).collect();
    let mut extra: HashMap<DerivedColumn, Vec<Option<f64>>> = columns
        .iter()
        .map(|&(column, c)| (c, (0..count).map(|id| eval(id, column)).collect()))
        .collect();
    if let Some(compared) = extra.get(&DerivedColumn::ComparisonValue).cloned() {
        let delta: Vec<Option<f64>> = value
            .iter()
            .zip(&compared)
            .map(|(v, c)| Some((*v)? - (*c)?))
            .collect();
        let pct = delta
            .iter()
            .zip(&compared)
            .map(|(d, c)| match (d, c) {
                (Some(d), Some(c)) if *c != 0.0 => Some(d / c),
                _ => None,
            })
            .collect();
        extra.insert(DerivedColumn::Delta, delta);
        extra.insert(DerivedColumn::DeltaPct, pct);
    }

    let text = |column: usize| -> ArrayRef {
        let values: Vec<Option<&str>> = first
            .iter()
            .map(|&(n, b, row)| {
                let array = rows[n].batches[b].column(column).as_string::<i32>();
                (!array.is_null(row)).then(|| array.value(row))
            })
            .collect();
        Arc::new(StringArray::from(values))
    };
    let mut arrays: Vec<ArrayRef> = Vec::with_capacity(schema.fields().len());
    for column in 0..COLUMNS.len() {
        arrays.push(match column {
            METRIC_NAME => Arc::new(StringArray::from(vec![derived.name.as_str(); count])),
            METRIC_FORMAT => Arc::new(StringArray::from(vec![derived.format.as_deref(); count])),
            VALUE => Arc::new(Float64Array::from(value.clone())),
            _ => text(column),
        });
    }
    for column in &derived_columns {
        let values = extra.remove(column).unwrap_or_else(|| vec![None; count]);
        arrays.push(Arc::new(Float64Array::from(values)));
    }
    RecordBatch::try_new(schema, arrays)
        .map(Some)
        .map_err(internal)
}
