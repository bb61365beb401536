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
    /// Whether to order the rows.
    pub sort: bool,
}

/// A column of the wide rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum WideColumn {
    /// The state index (an integer): which slice × segment state the row belongs to.
    State,
    /// The period's start, as a timestamp.
    Period,
    /// The window a row belongs to (0: the request's, 1: the one compared with).
    Window,
    /// The entity, as text.
    Entity,
    /// The slice value, as text.
    SliceValue,
    /// The segment value, as text.
    SegmentValue,
    /// The value of metric *i*.
    Metric(usize),
    /// The numerator of metric *i*, as a double.
    Numerator(usize),
    /// The denominator of metric *i*, as a double.
    Denominator(usize),
    /// A derived column of metric *i* (after `compute::derive`).
    Derived(usize, DerivedColumn),
}

impl WideColumn {
    /// The column's name in the statement.
    pub(crate) fn name(self) -> String {
        match self {
            WideColumn::State => "__state".into(),
            WideColumn::Period => "__period".into(),
            WideColumn::Window => "__window".into(),
            WideColumn::Entity => "entity_id".into(),
            WideColumn::SliceValue => "slice_value".into(),
            WideColumn::SegmentValue => "segment_value".into(),
            WideColumn::Metric(i) => format!("__m{i}"),
            WideColumn::Numerator(i) => format!("__n{i}"),
            WideColumn::Denominator(i) => format!("__d{i}"),
            WideColumn::Derived(i, column) => format!("__m{i}_{}", column.name()),
        }
    }
}

impl Layout {
    /// The wide columns, in the order the statement selects them.
    pub(crate) fn columns(&self) -> Vec<WideColumn> {
        let mut columns = vec![WideColumn::State];
        if self.unit.is_some() {
            columns.push(WideColumn::Period);
        }
        if self.window_key {
            columns.push(WideColumn::Window);
        }
        if self.by_entity {
            columns.push(WideColumn::Entity);
        }
        columns.extend([WideColumn::SliceValue, WideColumn::SegmentValue]);
        columns.extend((0..self.metrics.len()).map(WideColumn::Metric));
        for &i in &self.parts {
            columns.extend([WideColumn::Numerator(i), WideColumn::Denominator(i)]);
        }
        columns
    }

    /// The columns of the rows `compute::derive` makes from the statement's: the state, period,
    /// entity and labels, each metric's value, then each metric's derived columns.
    pub(crate) fn derived_columns(&self) -> Vec<WideColumn> {
        let mut columns = vec![WideColumn::State];
        if self.unit.is_some() {
            columns.push(WideColumn::Period);
        }
        if self.by_entity {
            columns.push(WideColumn::Entity);
        }
        columns.extend([WideColumn::SliceValue, WideColumn::SegmentValue]);
        columns.extend((0..self.metrics.len()).map(WideColumn::Metric));
        for i in 0..self.metrics.len() {
            columns.extend(self.derived().iter().map(|&c| WideColumn::Derived(i, c)));
        }
        columns
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
            derive: None,
        };
        let position = |layout: &Layout, column| layout.columns().iter().position(|c| *c == column);
        assert_eq!(position(&layout, WideColumn::SliceValue), Some(1));
        assert_eq!(position(&layout, WideColumn::Metric(1)), Some(4));
        assert_eq!(position(&layout, WideColumn::Period), None);
        layout.unit = Some(TimeUnit::Month);
        layout.by_entity = true;
        let names: Vec<String> = layout.columns().into_iter().map(WideColumn::name).collect();
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
        let names: Vec<String> = layout.columns().into_iter().map(WideColumn::name).collect();
        assert_eq!(names[names.len() - 2..], ["__n1", "__d1"]);
    }
}
