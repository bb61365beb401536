//! Rows and columns derived from a statement's wide rows: filled gaps, comparisons with an
//! earlier period, shares of the total, running and rolling totals.
//!
//! The statement reads the window and the earlier periods these need in its one scan; here its
//! rows are put in series (one per state, entity, slice value and segment value), and each value
//! is found by looking at the series' other periods. The rows outside the window are dropped.
//! Doing this on the engine's side of the result makes the answers the same on every backend.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Float64Array, StringArray, TimestampMicrosecondArray,
    UInt32Array,
};
use arrow::compute::kernels::boolean::not;
use arrow::compute::{concat_batches, filter_record_batch, take};
use arrow::datatypes::{DataType, Int64Type, TimeUnit as ArrowTimeUnit, TimestampMicrosecondType};
use arrow::record_batch::RecordBatch;
use chrono::NaiveDateTime;

use super::assemble::{as_type, internal};
use crate::error::{Error, RequestError, Result};
use crate::period::{self, from_micros, ordinal};
use crate::plan::{Columns, Combine, Derivation, Layout, RangeKind, Ranged};
use crate::result::DerivedColumn;

/// At most this many rows may be added by filling gaps.
const MAX_FILLED_ROWS: usize = 50_000_000;

/// One series: a state, an entity, a slice value and a segment value.
type SeriesKey<'a> = (u32, Option<&'a str>, &'a str, &'a str);

/// The statement's rows, by column.
struct Input<'a> {
    states: Vec<u32>,
    /// Each row's period number (`period::ordinal`), or window (0: the request's, -1: the one
    /// compared with), or 0.
    ordinals: Vec<i64>,
    entity: Option<&'a StringArray>,
    slice_value: &'a StringArray,
    segment_value: &'a StringArray,
    values: Vec<&'a Float64Array>,
    /// Numerator and denominator columns, by metric (for ratios of totals).
    parts: Vec<Option<(&'a Float64Array, &'a Float64Array)>>,
    /// The row counts of metrics whose rows are counted (see `Layout::counts`).
    counts: Vec<Option<&'a Float64Array>>,
    /// The state whose rows hold every metric (see `Layout::always_held`).
    always_held: Option<u32>,
}

impl Input<'_> {
    /// Whether a statement row holds metric `i` (a counted metric's count is above 0).
    fn holds(&self, i: usize, row: usize) -> bool {
        self.counts[i].is_none_or(|c| value(c, row).is_some_and(|c| c > 0.0))
            || self.always_held == Some(self.states[row])
    }

    fn key(&self, row: usize) -> SeriesKey<'_> {
        series_key(
            &self.states,
            self.entity,
            (self.slice_value, self.segment_value),
            row,
        )
    }
}

/// The series of a statement row.
fn series_key<'a>(
    states: &[u32],
    entity: Option<&'a StringArray>,
    (slice_value, segment_value): (&'a StringArray, &'a StringArray),
    row: usize,
) -> SeriesKey<'a> {
    (
        states[row],
        entity.and_then(|e| (!e.is_null(row)).then(|| e.value(row))),
        slice_value.value(row),
        segment_value.value(row),
    )
}

/// A row of the result: its series, period number, and the statement's row (`None`: filled).
#[derive(Clone, Copy)]
struct Row {
    series: u32,
    ordinal: i64,
    source: Option<usize>,
}

fn value(column: &Float64Array, row: usize) -> Option<f64> {
    (!column.is_null(row)).then(|| column.value(row))
}

/// `a / b`, NULL when either is NULL or `b` is 0.
fn divide(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) if b != 0.0 => Some(a / b),
        _ => None,
    }
}

/// The derived wide rows (columns: [`Layout::derived_columns`]) of a statement's wide rows.
pub(crate) fn derive(
    layout: &Layout,
    derivation: &Derivation,
    wide: &[RecordBatch],
) -> Result<RecordBatch> {
    let columns = layout.columns();
    let Some(first) = wide.first() else {
        return empty(&layout.derived_columns());
    };
    let batch = concat_batches(&first.schema(), wide).map_err(internal)?;
    if batch.num_columns() != columns.names.len() {
        return Err(Error::internal(format!(
            "the statement returned {} columns instead of {}",
            batch.num_columns(),
            columns.names.len()
        )));
    }
    let (batch, ranges) = RangeRows::split(layout, &columns, batch)?;
    let column = |at: usize, ty: &DataType| as_type(batch.column(at), ty);

    let n = batch.num_rows();
    let states = column(columns.state, &DataType::UInt32)?;
    let states: Vec<u32> = states
        .as_primitive::<arrow::datatypes::UInt32Type>()
        .values()
        .to_vec();
    let ordinals: Vec<i64> = if let Some((at, unit)) = columns.period.zip(layout.unit) {
        let periods = column(at, &DataType::Timestamp(ArrowTimeUnit::Microsecond, None))?;
        let periods = periods.as_primitive::<TimestampMicrosecondType>();
        (0..n)
            .map(|row| {
                if periods.is_null(row) {
                    return Err(Error::internal("a row without a period"));
                }
                let start = from_micros(periods.value(row)).map_err(Error::internal)?;
                Ok(ordinal(start, unit))
            })
            .collect::<Result<_>>()?
    } else if let Some(at) = columns.window {
        let windows = column(at, &DataType::Int64)?;
        windows
            .as_primitive::<Int64Type>()
            .values()
            .iter()
            .map(|w| -w)
            .collect()
    } else {
        vec![0; n]
    };
    let text = |at| column(at, &DataType::Utf8);
    let entity = columns.entity.map(text).transpose()?;
    let slice_value = text(columns.slice_value)?;
    let segment_value = text(columns.segment_value)?;
    let floats = |at| column(at, &DataType::Float64);
    let labels = (
        slice_value.as_string::<i32>(),
        segment_value.as_string::<i32>(),
    );
    let values: Vec<ArrayRef> = columns
        .metrics
        .iter()
        .enumerate()
        .map(|(i, &at)| {
            if !derivation.counted_by_changes(i) {
                return floats(at);
            }
            let entity = entity.as_ref().map(|e| e.as_string::<i32>());
            let counts = (0..n).map(|row| {
                let key = series_key(&states, entity, labels, row);
                ranges.period_count(key, i, ordinals[row])
            });
            Ok(Arc::new(Float64Array::from_iter_values(counts)) as ArrayRef)
        })
        .collect::<Result<_>>()?;
    let parts: Vec<Option<(ArrayRef, ArrayRef)>> = columns
        .parts
        .iter()
        .map(|p| {
            p.map(|(n, d)| Ok::<_, Error>((floats(n)?, floats(d)?)))
                .transpose()
        })
        .collect::<Result<_>>()?;
    let counts: Vec<Option<ArrayRef>> = columns
        .counts
        .iter()
        .map(|c| c.map(floats).transpose())
        .collect::<Result<_>>()?;
    let input = Input {
        states,
        ordinals,
        entity: entity.as_ref().map(|e| e.as_string::<i32>()),
        slice_value: labels.0,
        segment_value: labels.1,
        values: values.iter().map(|v| v.as_primitive()).collect(),
        parts: parts
            .iter()
            .map(|p| {
                p.as_ref()
                    .map(|(a, b)| (a.as_primitive(), b.as_primitive()))
            })
            .collect(),
        counts: counts
            .iter()
            .map(|c| c.as_ref().map(|c| c.as_primitive()))
            .collect(),
        always_held: layout.always_held(),
    };
    Derived::new(layout, derivation, &input)?.batch(layout, &input, &ranges)
}

/// The statement's range rows (see [`Ranged`]), by range and series: the number of the last
/// period of each range and each metric's value over it, in period order.
#[derive(Default)]
struct RangeRows {
    series: HashMap<(RangeKind, OwnedSeriesKey), Vec<RangeEnd>>,
    /// The +1 changes of rolling distinct counts by series, at each period: the period's own
    /// distinct count (see [`Derivation::counted_by_changes`]).
    counts: HashMap<OwnedSeriesKey, Vec<RangeEnd>>,
}

/// The number of the last period of a range, and each metric's value over the range.
type RangeEnd = (i64, Vec<Option<f64>>);

/// A [`SeriesKey`] that owns its labels.
type OwnedSeriesKey = (u32, Option<String>, String, String);

fn owned(key: SeriesKey) -> OwnedSeriesKey {
    (
        key.0,
        key.1.map(str::to_string),
        key.2.to_string(),
        key.3.to_string(),
    )
}

impl RangeRows {
    /// Splits the range rows off a statement's rows (those of the real states).
    fn split(
        layout: &Layout,
        columns: &Columns,
        batch: RecordBatch,
    ) -> Result<(RecordBatch, RangeRows)> {
        let states = as_type(batch.column(columns.state), &DataType::UInt32)?;
        let states = states.as_primitive::<arrow::datatypes::UInt32Type>();
        let real = layout.states.len();
        let Some(beyond) = states.values().iter().find(|&&s| s as usize >= real) else {
            return Ok((batch, RangeRows::default()));
        };
        let Some(end) = columns.end else {
            return Err(Error::internal(format!("unknown state {beyond}")));
        };
        let is_real =
            BooleanArray::from_iter(states.values().iter().map(|&s| Some((s as usize) < real)));
        let ranged =
            filter_record_batch(&batch, &not(&is_real).map_err(internal)?).map_err(internal)?;
        let batch = filter_record_batch(&batch, &is_real).map_err(internal)?;

        let column = |at: usize, ty: &DataType| as_type(ranged.column(at), ty);
        let states = column(columns.state, &DataType::UInt32)?;
        let states = states.as_primitive::<arrow::datatypes::UInt32Type>();
        let ends = column(end, &DataType::Int64)?;
        let ends = ends.as_primitive::<Int64Type>();
        let entity = columns
            .entity
            .map(|at| column(at, &DataType::Utf8))
            .transpose()?;
        let entity = entity.as_ref().map(|e| e.as_string::<i32>());
        let slice_value = column(columns.slice_value, &DataType::Utf8)?;
        let segment_value = column(columns.segment_value, &DataType::Utf8)?;
        let (slice_value, segment_value) = (
            slice_value.as_string::<i32>(),
            segment_value.as_string::<i32>(),
        );
        let values: Vec<ArrayRef> = columns
            .metrics
            .iter()
            .map(|&at| column(at, &DataType::Float64))
            .collect::<Result<_>>()?;
        let values: Vec<&Float64Array> = values.iter().map(|v| v.as_primitive()).collect();

        let mut rows = RangeRows::default();
        for row in 0..ranged.num_rows() {
            let state = states.value(row) as usize;
            let (kind, counted) = match state / real {
                1 => (RangeKind::Rolling, false),
                2 => (RangeKind::Cumulative, false),
                3 => (RangeKind::Rolling, true),
                _ => return Err(Error::internal(format!("unknown state {state}"))),
            };
            if ends.is_null(row) {
                return Err(Error::internal("a range row without its range's end"));
            }
            let key = (
                (state % real) as u32,
                entity.and_then(|e| (!e.is_null(row)).then(|| e.value(row).to_string())),
                slice_value.value(row).to_string(),
                segment_value.value(row).to_string(),
            );
            let metrics: Vec<Option<f64>> = values.iter().map(|v| value(v, row)).collect();
            if counted {
                rows.counts
                    .entry(key.clone())
                    .or_default()
                    .push((ends.value(row), metrics.clone()));
            }
            rows.series
                .entry((kind, key))
                .or_default()
                .push((ends.value(row), metrics));
        }
        rows.counts.values_mut().for_each(merge_ends);
        for series in rows.series.values_mut() {
            merge_ends(series);
            // Changes become running totals.
            for (i, ranged) in layout.derive.iter().flat_map(|d| &d.ranges).enumerate() {
                if *ranged == Some(Ranged::Changes) {
                    let mut total = 0.0;
                    for (_, metrics) in series.iter_mut() {
                        total += metrics[i].unwrap_or(0.0);
                        metrics[i] = Some(total);
                    }
                }
            }
        }
        Ok((batch, rows))
    }

    /// Metric `i`'s distinct count in period `ordinal` of a series, from its +1 rolling
    /// changes there (0 without any).
    fn period_count(&self, key: SeriesKey, i: usize, ordinal: i64) -> f64 {
        let key = owned(key);
        self.counts
            .get(&key)
            .and_then(|series| {
                let at = series
                    .binary_search_by_key(&ordinal, |(end, _)| *end)
                    .ok()?;
                series[at].1[i]
            })
            .unwrap_or(0.0)
    }

    /// Metric `i`'s value over the range of `kind` ending at period `ordinal` of a series.
    fn value(
        &self,
        kind: RangeKind,
        key: SeriesKey,
        i: usize,
        ranged: Ranged,
        ordinal: i64,
    ) -> Option<f64> {
        let key = owned(key);
        let Some(series) = self.series.get(&(kind, key)) else {
            return match ranged {
                Ranged::Changes => Some(0.0),
                Ranged::Values => None,
            };
        };
        let at = series.partition_point(|(end, _)| *end <= ordinal);
        match ranged {
            // The running total up to the period.
            Ranged::Changes => Some(
                at.checked_sub(1)
                    .and_then(|at| series[at].1[i])
                    .unwrap_or(0.0),
            ),
            Ranged::Values => at
                .checked_sub(1)
                .filter(|&at| series[at].0 == ordinal)
                .and_then(|at| series[at].1[i]),
        }
    }
}

/// Sorts a series' entries by end and merges those with the same end (the branches of
/// different metrics, and the two halves of rolling changes, give rows of their own) by adding
/// their values.
fn merge_ends(series: &mut Vec<RangeEnd>) {
    series.sort_by_key(|(end, _)| *end);
    series.dedup_by(|(end, later), (kept_end, kept)| {
        let same = end == kept_end;
        if same {
            for (k, l) in kept.iter_mut().zip(later.iter()) {
                *k = match (*k, *l) {
                    (Some(a), Some(b)) => Some(a + b),
                    (a, b) => a.or(b),
                };
            }
        }
        same
    });
}

/// The result's periods: their numbers and starts (one window for `all_time`).
struct Periods {
    first: i64,
    starts: Vec<Option<NaiveDateTime>>,
}

impl Periods {
    fn of(layout: &Layout, derivation: &Derivation) -> Result<Periods> {
        let (Some(unit), Some((first, end))) = (layout.unit, derivation.periods) else {
            return Ok(Periods {
                first: 0,
                starts: vec![None],
            });
        };
        let mut starts = Vec::new();
        let mut start = first;
        while start < end {
            starts.push(Some(start));
            if starts.len() > MAX_FILLED_ROWS {
                return Err(RequestError::TooLarge {
                    reason: format!(
                        "the window has more than {MAX_FILLED_ROWS} periods; use a longer period or a shorter window"
                    ),
                }
                .into());
            }
            match period::step(start, unit) {
                Some(next) => start = next,
                None => break,
            }
        }
        Ok(Periods {
            first: ordinal(first, unit),
            starts,
        })
    }

    fn contains(&self, ordinal: i64) -> bool {
        ordinal >= self.first && ordinal < self.first + self.starts.len() as i64
    }

    fn start(&self, ordinal: i64) -> Option<NaiveDateTime> {
        let index = usize::try_from(ordinal - self.first).ok()?;
        self.starts.get(index).copied().flatten()
    }
}

/// The result's rows and the lookups the derived values need.
struct Derived<'a> {
    derivation: &'a Derivation,
    periods: Periods,
    /// Each series' key and first statement row.
    series: Vec<(SeriesKey<'a>, usize)>,
    series_ids: HashMap<SeriesKey<'a>, u32>,
    /// The statement's rows by series and period.
    real: HashMap<(u32, i64), usize>,
    /// Each series' statement rows, in period order.
    by_series: Vec<Vec<usize>>,
    rows: Vec<Row>,
    /// The result's rows by series and period.
    index: HashMap<(u32, i64), usize>,
}

impl<'a> Derived<'a> {
    fn new(
        layout: &Layout,
        derivation: &'a Derivation,
        input: &'a Input<'a>,
    ) -> Result<Derived<'a>> {
        let periods = Periods::of(layout, derivation)?;
        let mut series: Vec<(SeriesKey, usize)> = Vec::new();
        let mut series_ids: HashMap<SeriesKey, u32> = HashMap::new();
        let mut real = HashMap::new();
        let mut by_series: Vec<Vec<usize>> = Vec::new();
        let mut rows = Vec::new();
        for row in 0..input.states.len() {
            let key = input.key(row);
            let id = *series_ids.entry(key).or_insert_with(|| {
                series.push((key, row));
                by_series.push(Vec::new());
                (series.len() - 1) as u32
            });
            let ordinal = input.ordinals[row];
            if real.insert((id, ordinal), row).is_some() {
                return Err(Error::internal(format!(
                    "two rows for the same group ({key:?})"
                )));
            }
            by_series[id as usize].push(row);
            if periods.contains(ordinal) {
                rows.push(Row {
                    series: id,
                    ordinal,
                    source: Some(row),
                });
            }
        }
        for rows in &mut by_series {
            rows.sort_by_key(|&r| input.ordinals[r]);
        }
        if derivation.fill_gaps {
            let mut present = vec![0usize; series.len()];
            for row in &rows {
                present[row.series as usize] += 1;
            }
            let count = periods.starts.len();
            let added: usize = present.iter().filter(|&&p| p > 0).map(|p| count - p).sum();
            if added > MAX_FILLED_ROWS {
                return Err(RequestError::TooLarge {
                    reason: format!(
                        "filling gaps would add {added} rows (more than {MAX_FILLED_ROWS}); use a longer period or a shorter window"
                    ),
                }
                .into());
            }
            for (id, _) in present.iter().enumerate().filter(|(_, p)| **p > 0) {
                for k in 0..count as i64 {
                    let ordinal = periods.first + k;
                    if !real.contains_key(&(id as u32, ordinal)) {
                        rows.push(Row {
                            series: id as u32,
                            ordinal,
                            source: None,
                        });
                    }
                }
            }
        }
        if derivation.sort {
            rows.sort_by(|a, b| {
                let (ka, kb) = (series[a.series as usize].0, series[b.series as usize].0);
                (ka.0, a.ordinal)
                    .cmp(&(kb.0, b.ordinal))
                    // NULL entities last, as SQL orders them.
                    .then_with(|| (ka.1.is_none(), ka.1).cmp(&(kb.1.is_none(), kb.1)))
                    .then_with(|| (ka.2, ka.3).cmp(&(kb.2, kb.3)))
            });
        }
        let index = rows
            .iter()
            .enumerate()
            .map(|(i, r)| ((r.series, r.ordinal), i))
            .collect();
        Ok(Derived {
            derivation,
            periods,
            series,
            series_ids,
            real,
            by_series,
            rows,
            index,
        })
    }

    /// The result's values of metric `i`: the statement's, and for filled rows 0 or NULL.
    fn values(&self, input: &Input, i: usize) -> Vec<Option<f64>> {
        let filled = match self.derivation.combine[i] {
            Combine::Total | Combine::Distinct => Some(0.0),
            Combine::RatioOfTotals | Combine::Other => None,
        };
        self.rows
            .iter()
            .map(|r| match r.source {
                Some(row) if input.holds(i, row) => value(input.values[i], row),
                _ => filled,
            })
            .collect()
    }

    /// Whether each result row holds metric `i`: a statement row that holds it, or a filled
    /// one (also a statement row that does not hold it) in a series with a row that does. Only
    /// counted metrics have rows that do not.
    fn held(&self, input: &Input, i: usize) -> Vec<f64> {
        let holds = |r: &Row| r.source.is_some_and(|row| input.holds(i, row));
        let mut series_holds = vec![false; self.series.len()];
        if self.derivation.fill_gaps {
            for r in self.rows.iter().filter(|r| holds(r)) {
                series_holds[r.series as usize] = true;
            }
        }
        self.rows
            .iter()
            .map(|r| f64::from(u8::from(holds(r) || series_holds[r.series as usize])))
            .collect()
    }

    /// The number of the period a row's period is compared with.
    fn compared_with(&self, layout: &Layout, ordinal: i64) -> Option<i64> {
        let comparison = self.derivation.compare?;
        match (layout.unit, self.periods.start(ordinal)) {
            (Some(unit), Some(start)) => comparison
                .shift(start, Some(unit), chrono::Duration::zero())
                .map(|t| period::ordinal(t, unit)),
            // All time: the window compared with.
            _ => Some(-1),
        }
    }

    /// For each result row, the sum of metric `i` over the series' statement rows whose periods
    /// are in `[from(ordinal), ordinal]`: a sum of values for totals, a ratio of summed
    /// numerators and denominators for ratios of totals, NULL for other metrics. Periods
    /// without rows and NULL values count as 0.
    fn totals(&self, input: &Input, i: usize, from: impl Fn(i64) -> i64) -> Vec<Option<f64>> {
        let combine = self.derivation.combine[i];
        let add = |rows: &[usize]| -> Option<f64> {
            match (combine, input.parts[i]) {
                (Combine::Total, _) => {
                    Some(rows.iter().filter_map(|&r| value(input.values[i], r)).sum())
                }
                (Combine::RatioOfTotals, Some((num, den))) => {
                    let sum = |c: &Float64Array| rows.iter().filter_map(|&r| value(c, r)).sum();
                    divide(Some(sum(num)), Some(sum(den)))
                }
                _ => None,
            }
        };
        if !matches!(combine, Combine::Total | Combine::RatioOfTotals) {
            return vec![None; self.rows.len()];
        }
        self.rows
            .iter()
            .map(|r| {
                let series = &self.by_series[r.series as usize];
                let ordinal_of = |row: &usize| input.ordinals[*row];
                let lo = series.partition_point(|row| ordinal_of(row) < from(r.ordinal));
                let hi = series.partition_point(|row| ordinal_of(row) <= r.ordinal);
                add(&series[lo..hi])
            })
            .collect()
    }

    /// For each result row, the value of metric `i` of the row that divides it for
    /// `share_of_total`.
    fn divisors(&self, values: &[Option<f64>]) -> Vec<Option<f64>> {
        self.rows
            .iter()
            .enumerate()
            .map(|(at, r)| {
                let key = self.series[r.series as usize].0;
                match self.derivation.divisors[key.0 as usize] {
                    None => values[at],
                    Some((state, with_segment)) => {
                        let segment = if with_segment { key.3 } else { "all" };
                        let id = self
                            .series_ids
                            .get(&(state as u32, key.1, "all", segment))?;
                        self.index.get(&(*id, r.ordinal)).and_then(|&i| values[i])
                    }
                }
            })
            .collect()
    }

    /// For each result row, metric `i`'s value over the range of `kind` ending at its period,
    /// from the statement's range rows.
    fn over_ranges(
        &self,
        ranges: &RangeRows,
        kind: RangeKind,
        i: usize,
        ranged: Ranged,
    ) -> Vec<Option<f64>> {
        self.rows
            .iter()
            .map(|r| ranges.value(kind, self.series[r.series as usize].0, i, ranged, r.ordinal))
            .collect()
    }

    /// The derived rows as a batch with the columns of [`Layout::derived_columns`].
    fn batch(&self, layout: &Layout, input: &Input, ranges: &RangeRows) -> Result<RecordBatch> {
        let columns = layout.derived_columns();
        let mut arrays: Vec<Option<ArrayRef>> = vec![None; columns.names.len()];
        for i in 0..layout.metrics.len() {
            let values = self.values(input, i);
            let mut derived: HashMap<DerivedColumn, Vec<Option<f64>>> = HashMap::new();
            for &column in &self.derivation.columns {
                match column {
                    DerivedColumn::ComparisonValue => {
                        let compared: Vec<Option<f64>> = self
                            .rows
                            .iter()
                            .map(|r| {
                                let ordinal = self.compared_with(layout, r.ordinal)?;
                                let row = *self.real.get(&(r.series, ordinal))?;
                                input
                                    .holds(i, row)
                                    .then(|| value(input.values[i], row))
                                    .flatten()
                            })
                            .collect();
                        let delta: Vec<Option<f64>> = values
                            .iter()
                            .zip(&compared)
                            .map(|(v, c)| Some((*v)? - (*c)?))
                            .collect();
                        let pct = delta.iter().zip(&compared).map(|(d, c)| divide(*d, *c));
                        derived.insert(DerivedColumn::DeltaPct, pct.collect());
                        derived.insert(DerivedColumn::Delta, delta);
                        derived.insert(DerivedColumn::ComparisonValue, compared);
                    }
                    DerivedColumn::Delta | DerivedColumn::DeltaPct => {}
                    DerivedColumn::ShareOfTotal => {
                        let share = match self.derivation.combine[i] {
                            Combine::Total | Combine::Distinct => self
                                .divisors(&values)
                                .iter()
                                .zip(&values)
                                .map(|(d, v)| divide(*v, *d))
                                .collect(),
                            _ => vec![None; self.rows.len()],
                        };
                        derived.insert(column, share);
                    }
                    DerivedColumn::CumulativeValue => {
                        let first = self.periods.first;
                        let values = match self.derivation.ranges[i] {
                            Some(r) => self.over_ranges(ranges, RangeKind::Cumulative, i, r),
                            None => self.totals(input, i, |_| first),
                        };
                        derived.insert(column, values);
                    }
                    DerivedColumn::RollingValue => {
                        let n = i64::from(self.derivation.rolling.unwrap_or(1));
                        let values = match self.derivation.ranges[i] {
                            Some(r) => self.over_ranges(ranges, RangeKind::Rolling, i, r),
                            None => self.totals(input, i, |o| o - n + 1),
                        };
                        derived.insert(column, values);
                    }
                }
            }
            for &(column, at) in &columns.derived[i] {
                let values = derived.remove(&column).unwrap_or_default();
                arrays[at] = Some(Arc::new(Float64Array::from(values)));
            }
            arrays[columns.metrics[i]] = Some(Arc::new(Float64Array::from(values)));
            if let Some(at) = columns.counts[i] {
                arrays[at] = Some(Arc::new(Float64Array::from(self.held(input, i))));
            }
        }

        // Labels come from the statement's row, or the series' first row for filled rows.
        let sources = UInt32Array::from_iter_values(
            self.rows
                .iter()
                .map(|r| r.source.unwrap_or(self.series[r.series as usize].1) as u32),
        );
        let labels = |array: &StringArray| take(array, &sources, None).map_err(internal);
        arrays[columns.state] = Some(Arc::new(UInt32Array::from_iter_values(
            self.rows.iter().map(|r| self.series[r.series as usize].0.0),
        )));
        if let Some(at) = columns.period {
            let starts = self
                .rows
                .iter()
                .map(|r| {
                    let start = self.periods.start(r.ordinal).ok_or_else(|| {
                        Error::internal("a result row outside the window's periods")
                    })?;
                    Ok(start.and_utc().timestamp_micros())
                })
                .collect::<Result<Vec<i64>>>()?;
            arrays[at] = Some(Arc::new(TimestampMicrosecondArray::from(starts)));
        }
        if let (Some(at), Some(entity)) = (columns.entity, input.entity) {
            arrays[at] = Some(labels(entity)?);
        }
        arrays[columns.slice_value] = Some(labels(input.slice_value)?);
        arrays[columns.segment_value] = Some(labels(input.segment_value)?);
        let named = columns
            .names
            .iter()
            .zip(arrays)
            .map(|(name, array)| {
                let array = array.ok_or_else(|| Error::internal(format!("no column {name}")))?;
                Ok((name.to_string(), array))
            })
            .collect::<Result<Vec<_>>>()?;
        RecordBatch::try_from_iter(named).map_err(internal)
    }
}

/// No rows, with the derived columns.
fn empty(columns: &Columns) -> Result<RecordBatch> {
    let mut types = vec![DataType::Float64; columns.names.len()];
    types[columns.state] = DataType::UInt32;
    if let Some(at) = columns.period {
        types[at] = DataType::Timestamp(ArrowTimeUnit::Microsecond, None);
    }
    for at in columns
        .entity
        .into_iter()
        .chain([columns.slice_value, columns.segment_value])
    {
        types[at] = DataType::Utf8;
    }
    let arrays = columns
        .names
        .iter()
        .zip(types)
        .map(|(name, ty)| (name.to_string(), arrow::array::new_empty_array(&ty)));
    RecordBatch::try_from_iter(arrays).map_err(internal)
}
