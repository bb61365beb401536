//! What a statement's rows hold: the one description that both the statement's select list
//! (`statement`) and the unpivot into the standard table (`compute::assemble`) follow.
//!
//! A statement returns one wide row per group: the state index, the period and entity when
//! requested, the slice and segment values, and one value column per metric (and, for some
//! options, the window a row belongs to and metrics' numerators and denominators).

use chrono::NaiveDateTime;

use crate::period::{Comparison, TimeUnit};
use crate::result::DerivedColumn;
use crate::sql::rollup::Total;
use crate::sql::tree::Alias;

/// What a statement's wide rows mean.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    /// `all_time`, `monthly`, ...
    pub period_type: String,
    /// The period unit, when the rows have a period column.
    pub unit: Option<TimeUnit>,
    /// For `all_time` with a window: its ends as given.
    pub window: Option<(String, String)>,
    /// Whether the rows have an entity column.
    pub by_entity: bool,
    /// `(slice_type, segment_name)` of each state, by state index.
    pub states: Vec<(String, String)>,
    /// `(metric_name, metric_format)` of each metric column.
    pub metrics: Vec<(String, Option<String>)>,
    /// Whether the rows say which window they belong to (`all_time` with a comparison).
    pub window_key: bool,
    /// The metrics whose numerator and denominator have columns of their own.
    pub parts: Vec<usize>,
    /// The metrics whose rows are counted (filtered metrics sharing a statement with metrics
    /// of other filters): a row holds such a metric only when its count is above 0.
    pub counts: Vec<usize>,
    /// What to derive from the rows, when the request asks for it.
    pub derive: Option<Derivation>,
}

/// How a metric's values over periods combine (see `single_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Combine {
    /// A single `SUM` or `COUNT`: values add up.
    Total,
    /// A single `COUNT(DISTINCT)`: 0 over no rows, but values do not add up.
    Distinct,
    /// A single `SUM`/`COUNT` over another: numerators and denominators add up.
    RatioOfTotals,
    /// Anything else.
    Other,
}

impl Combine {
    /// How a metric with this numerator (and denominator) combines.
    pub(crate) fn of(numerator: Option<Total>, denominator: Option<Option<Total>>) -> Combine {
        match (numerator, denominator) {
            (Some(Total::Additive), None) => Combine::Total,
            (Some(Total::Distinct), None) => Combine::Distinct,
            (Some(Total::Additive), Some(Some(Total::Additive))) => Combine::RatioOfTotals,
            _ => Combine::Other,
        }
    }
}

/// The range a range row's value is over (see [`Ranged`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum RangeKind {
    /// The last `rolling` periods up to the row's.
    Rolling,
    /// The window's periods up to the row's.
    Cumulative,
}

/// How the statement gives a metric's rolling and cumulative values, for metrics whose values
/// over a range are not sums of their period values (distinct counts, quantiles, ...). The
/// statement returns them as extra rows, in the states after the real ones (see
/// [`Derivation::range_state`]), with the number of a period in the [`Alias::End`] column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ranged {
    /// Changes of a distinct count at period numbers: its value over the range ending at a
    /// period is the sum of the changes up to that period.
    Changes,
    /// The value over the range ending at the period.
    Values,
}

/// Rows and columns derived from a statement's rows: filled gaps, comparisons, shares, running
/// and rolling totals (computed by `compute::derive`).
#[derive(Debug, Clone)]
pub(crate) struct Derivation {
    /// The columns added after the standard 11, in order.
    pub columns: Vec<DerivedColumn>,
    /// The window's periods: the first one's start and the last one's end (with a period).
    pub periods: Option<(NaiveDateTime, NaiveDateTime)>,
    /// Give every period of the window a row.
    pub fill_gaps: bool,
    /// What rows are compared with.
    pub compare: Option<Comparison>,
    /// The number of periods of a rolling total.
    pub rolling: Option<u32>,
    /// For each state, the state whose rows divide its values for `share_of_total`, and
    /// whether that state has the segment (`None`: the overall baseline, divided by itself).
    pub divisors: Vec<Option<(usize, bool)>>,
    /// How each metric's values combine.
    pub combine: Vec<Combine>,
    /// For each metric, how the statement gives its values over ranges, when it does.
    pub ranges: Vec<Option<Ranged>>,
    /// The numbers of the window's first and last periods (with a period).
    pub numbers: Option<(i64, i64)>,
    /// Whether to order the rows.
    pub sort: bool,
}

impl Derivation {
    /// Whether the statement returns range rows.
    pub(crate) fn has_ranges(&self) -> bool {
        self.ranges.iter().any(Option::is_some)
    }

    /// The state of the range rows of `kind` for the rows of `state`, of `states` states.
    pub(crate) fn range_state(states: usize, state: usize, kind: RangeKind) -> usize {
        let block = match kind {
            RangeKind::Rolling => 1,
            RangeKind::Cumulative => 2,
        };
        state + states * block
    }

    /// The state of a rolling distinct count's +1 changes for the rows of `state`, of `states`
    /// states: the changes at a period, whose sum is the period's own distinct count (see
    /// [`Derivation::counted_by_changes`]). They are rolling changes too.
    pub(crate) fn period_count_state(states: usize, state: usize) -> usize {
        state + states * 3
    }

    /// Whether metric `i`'s period values are the sums of its +1 rolling changes at each
    /// period rather than an aggregate of the period's rows: a distinct count with a rolling
    /// value lists each value's periods anyway, and counting them again per period would
    /// read the rows twice.
    pub(crate) fn counted_by_changes(&self, i: usize) -> bool {
        self.rolling.is_some() && self.ranges[i] == Some(Ranged::Changes)
    }
}

/// The columns of wide rows (a statement's, or those derived from them), and where each is:
/// made in one place, so the statement's select list and the readers of its rows agree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Columns {
    /// The columns' names, in order.
    pub names: Vec<Alias>,
    /// The state index (an integer): which slice × segment state the row belongs to.
    pub state: usize,
    /// The period's start, as a timestamp.
    pub period: Option<usize>,
    /// The window a row belongs to (0: the request's, 1: the one compared with).
    pub window: Option<usize>,
    /// The entity, as text.
    pub entity: Option<usize>,
    /// The slice value, as text.
    pub slice_value: usize,
    /// The segment value, as text.
    pub segment_value: usize,
    /// The value of each metric.
    pub metrics: Vec<usize>,
    /// The numerator and denominator of each metric, as doubles, for those that have them.
    pub parts: Vec<Option<(usize, usize)>>,
    /// For metrics whose rows are counted ([`Layout::counts`]), the count's column: a row
    /// holds the metric when it is above 0.
    pub counts: Vec<Option<usize>>,
    /// The derived columns of each metric.
    pub derived: Vec<Vec<(DerivedColumn, usize)>>,
    /// The number of the last period of a range row's range ([`Ranged`]); NULL in other rows.
    pub end: Option<usize>,
}

/// What [`Columns`] are made of.
struct ColumnsOf<'a> {
    period: bool,
    window: bool,
    entity: bool,
    metrics: usize,
    parts: &'a [usize],
    counts: &'a [usize],
    derived: &'a [DerivedColumn],
    end: bool,
}

impl Columns {
    fn of(of: ColumnsOf) -> Columns {
        let mut names = Vec::new();
        let mut push = |alias: Alias| {
            names.push(alias);
            names.len() - 1
        };
        let state = push(Alias::State);
        let period = of.period.then(|| push(Alias::Period));
        let window = of.window.then(|| push(Alias::Window));
        let entity = of.entity.then(|| push(Alias::Entity));
        let slice_value = push(Alias::SliceValue);
        let segment_value = push(Alias::SegmentValue);
        let metrics = (0..of.metrics).map(|i| push(Alias::Metric(i))).collect();
        let mut parts = vec![None; of.metrics];
        for &i in of.parts {
            parts[i] = Some((push(Alias::Numerator(i)), push(Alias::Denominator(i))));
        }
        let mut counts = vec![None; of.metrics];
        for &i in of.counts {
            counts[i] = Some(push(Alias::Count(i)));
        }
        let derived = (0..of.metrics)
            .map(|i| {
                of.derived
                    .iter()
                    .map(|&c| (c, push(Alias::Derived(i, c))))
                    .collect()
            })
            .collect();
        let end = of.end.then(|| push(Alias::End));
        Columns {
            names,
            state,
            period,
            window,
            entity,
            slice_value,
            segment_value,
            metrics,
            parts,
            counts,
            derived,
            end,
        }
    }
}

impl Layout {
    /// The statement's columns: the state, the period, window and entity when the rows have
    /// them, the labels, each metric's value, then the numerators and denominators of the
    /// metrics that carry them, then the counts of the metrics whose rows are counted, then
    /// the end of a range row's range when there are range rows.
    pub(crate) fn columns(&self) -> Columns {
        Columns::of(ColumnsOf {
            period: self.unit.is_some(),
            window: self.window_key,
            entity: self.by_entity,
            metrics: self.metrics.len(),
            parts: &self.parts,
            counts: &self.counts,
            derived: &[],
            end: self.derive.as_ref().is_some_and(Derivation::has_ranges),
        })
    }

    /// The columns of the rows `compute::derive` makes from the statement's: the state, period,
    /// entity and labels, each metric's value, whether a row holds each counted metric, then
    /// each metric's derived columns.
    pub(crate) fn derived_columns(&self) -> Columns {
        Columns::of(ColumnsOf {
            period: self.unit.is_some(),
            window: false,
            entity: self.by_entity,
            metrics: self.metrics.len(),
            parts: &[],
            counts: &self.counts,
            derived: self.derived(),
            end: false,
        })
    }

    /// The state whose one row every statement returns, whatever rows its metrics' filters
    /// hold for: the overall baseline, when rows are grouped by nothing else (no period, entity
    /// or window), as an aggregate over no rows still gives a row.
    pub(crate) fn always_held(&self) -> Option<u32> {
        if self.unit.is_some() || self.by_entity || self.window_key {
            return None;
        }
        let baseline = self
            .states
            .iter()
            .position(|(slice, segment)| slice == "none" && segment == "none")?;
        u32::try_from(baseline).ok()
    }

    /// The derived columns added after the standard 11.
    pub(crate) fn derived(&self) -> &[DerivedColumn] {
        self.derive.as_ref().map_or(&[], |d| &d.columns)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn optional_columns_come_between_the_state_and_the_values() {
        let mut layout = Layout {
            period_type: "all_time".into(),
            unit: None,
            window: None,
            by_entity: false,
            states: Vec::new(),
            metrics: vec![("a".into(), None), ("b".into(), None)],
            window_key: false,
            parts: Vec::new(),
            counts: Vec::new(),
            derive: None,
        };
        let columns = layout.columns();
        assert_eq!(
            (columns.slice_value, columns.metrics[1], columns.period),
            (1, 4, None)
        );
        layout.unit = Some(TimeUnit::Month);
        layout.by_entity = true;
        let names: Vec<String> = layout
            .columns()
            .names
            .iter()
            .map(Alias::to_string)
            .collect();
        assert_eq!(
            names,
            [
                "__state",
                "__period",
                "entity_id",
                "slice_value",
                "segment_value",
                "__m0",
                "__m1"
            ]
        );
        layout.parts = vec![1];
        let columns = layout.columns();
        let names: Vec<String> = columns.names.iter().map(Alias::to_string).collect();
        assert_eq!(names[names.len() - 2..], ["__n1", "__d1"]);
        assert_eq!(columns.parts, [None, Some((7, 8))]);
    }
}
