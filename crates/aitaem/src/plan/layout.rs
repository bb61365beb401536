//! What a statement's rows hold: the one description that both the statement's select list
//! (`statement`) and the unpivot into the standard table (`compute::assemble`) follow.
//!
//! A statement returns one wide row per group: the state index, the period and entity when
//! requested, the slice and segment values, and one value column per metric.

use crate::period::TimeUnit;

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
}

/// A column of the wide rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WideColumn {
    /// The state index (an integer): which slice × segment state the row belongs to.
    State,
    /// The period's start, as a timestamp.
    Period,
    /// The entity, as text.
    Entity,
    /// The slice value, as text.
    SliceValue,
    /// The segment value, as text.
    SegmentValue,
    /// The value of metric *i*.
    Metric(usize),
}

impl WideColumn {
    /// The column's name in the statement.
    pub(crate) fn name(self) -> String {
        match self {
            WideColumn::State => "__state".into(),
            WideColumn::Period => "__period".into(),
            WideColumn::Entity => "entity_id".into(),
            WideColumn::SliceValue => "slice_value".into(),
            WideColumn::SegmentValue => "segment_value".into(),
            WideColumn::Metric(i) => format!("__m{i}"),
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
        if self.by_entity {
            columns.push(WideColumn::Entity);
        }
        columns.extend([WideColumn::SliceValue, WideColumn::SegmentValue]);
        columns.extend((0..self.metrics.len()).map(WideColumn::Metric));
        columns
    }

    /// Where a column is in the wide rows, if they have it.
    pub(crate) fn position(&self, column: WideColumn) -> Option<usize> {
        self.columns().iter().position(|c| *c == column)
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
        };
        assert_eq!(layout.position(WideColumn::SliceValue), Some(1));
        assert_eq!(layout.position(WideColumn::Metric(1)), Some(4));
        assert_eq!(layout.position(WideColumn::Period), None);
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
    }
}
