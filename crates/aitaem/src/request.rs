//! What to compute: metrics, slices, a segment, a time window, a period and an entity column,
//! and the checks that make a request computable before anything runs.

use crate::error::{Error, Result};
use crate::period::{PeriodType, TimeWindow};
use crate::spec::{MetricSpec, SegmentSpec, SliceSpec, SpecCache};
use crate::sql::Ident;

/// A request for metrics, built step by step.
///
/// ```
/// use aitaem::{ComputeRequest, PeriodType};
/// let request = ComputeRequest::new(["revenue", "ctr"])
///     .slices(["country", "device"])
///     .segment("platform_group")
///     .time_window("2024-01-01", "2025-01-01")
///     .period(PeriodType::Monthly);
/// assert_eq!(request.metrics, ["revenue", "ctr"]);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ComputeRequest {
    /// Metric names.
    pub metrics: Vec<String>,
    /// Slice names (each adds a breakdown; the `none`/`all` baseline is always included).
    pub slices: Vec<String>,
    /// A segment name.
    pub segment: Option<String>,
    /// The fact-table column to join the segment on (default: the segment's `entity_id`).
    pub join_key: Option<String>,
    /// `(start, end)`, end exclusive.
    pub time_window: Option<(String, String)>,
    /// The period grouping.
    pub period: PeriodType,
    /// A column to break every metric down by.
    pub by_entity: Option<String>,
    /// Order the rows (by metric, slice and segment state in request order, period, entity,
    /// slice value and segment value). Off by default: ordering a large result costs time.
    pub sort: bool,
}

impl ComputeRequest {
    /// A request for these metrics, all time, no breakdowns.
    pub fn new<S: Into<String>>(metrics: impl IntoIterator<Item = S>) -> Self {
        ComputeRequest {
            metrics: metrics.into_iter().map(Into::into).collect(),
            ..ComputeRequest::default()
        }
    }

    /// Breaks the metrics down by these slices.
    pub fn slices<S: Into<String>>(mut self, slices: impl IntoIterator<Item = S>) -> Self {
        self.slices = slices.into_iter().map(Into::into).collect();
        self
    }

    /// Adds a segment, joined on its `entity_id`.
    pub fn segment(mut self, name: impl Into<String>) -> Self {
        self.segment = Some(name.into());
        self
    }

    /// Joins the segment on this fact-table column instead (it must be in the segment's
    /// `join_keys` when that list is not empty).
    pub fn join_key(mut self, column: impl Into<String>) -> Self {
        self.join_key = Some(column.into());
        self
    }

    /// Keeps rows with `start <= timestamp < end`.
    pub fn time_window(mut self, start: impl Into<String>, end: impl Into<String>) -> Self {
        self.time_window = Some((start.into(), end.into()));
        self
    }

    /// Groups rows by period.
    pub fn period(mut self, period: PeriodType) -> Self {
        self.period = period;
        self
    }

    /// Breaks every metric down by an entity column.
    pub fn by_entity(mut self, column: impl Into<String>) -> Self {
        self.by_entity = Some(column.into());
        self
    }

    /// Orders the rows (see [`ComputeRequest::sort`](#structfield.sort)).
    pub fn sorted(mut self, sort: bool) -> Self {
        self.sort = sort;
        self
    }

    /// Checks the request against the specs: every name exists, and the window, period,
    /// entity and join key fit every metric. Nothing runs.
    pub(crate) fn check<'s>(&self, specs: &'s SpecCache) -> Result<CheckedRequest<'s>> {
        if self.metrics.is_empty() {
            return Err(Error::query_build(
                "no metrics requested; name at least one metric",
            ));
        }
        let metrics = unique(&self.metrics)
            .map(|name| specs.metric(name))
            .collect::<Result<Vec<_>>>()?;
        let slices = unique(&self.slices)
            .map(|name| specs.slice(name))
            .collect::<Result<Vec<_>>>()?;
        let mut components = Vec::new();
        for slice in &slices {
            match &slice.kind {
                crate::spec::SliceKind::CrossProduct(parts) => {
                    let parts = parts
                        .iter()
                        .map(|p| specs.slice(p))
                        .collect::<Result<Vec<_>>>()?;
                    components.push(parts);
                }
                _ => components.push(vec![*slice]),
            }
        }

        let segment = match &self.segment {
            Some(name) => {
                let spec = specs.segment(name)?;
                let join_key = self.checked_join_key(spec)?;
                Some(SegmentRequest { spec, join_key })
            }
            None => {
                if self.join_key.is_some() {
                    return Err(Error::query_build(
                        "a join key was given without a segment; name the segment too (`--segment NAME=JOIN_KEY`)",
                    ));
                }
                None
            }
        };

        let window = match &self.time_window {
            Some((start, end)) => Some(TimeWindow::parse(start, end)?),
            None => None,
        };
        if self.period != PeriodType::AllTime && window.is_none() {
            return Err(Error::query_build(format!(
                "period `{}` needs a time window; give one (e.g. `--time-window 2024-01-01,2025-01-01`)",
                self.period
            )));
        }
        if window.is_some() {
            let lacking: Vec<String> = metrics
                .iter()
                .filter(|m| m.timestamp_col.is_none())
                .map(|m| format!("`{}`", m.name))
                .collect();
            if !lacking.is_empty() {
                let what = if self.period == PeriodType::AllTime {
                    "a time window".to_string()
                } else {
                    format!("period `{}`", self.period)
                };
                return Err(Error::query_build(format!(
                    "{what} needs a `timestamp_col` on every metric, and {} has none; add `timestamp_col` to the metric spec, or leave the metric out",
                    lacking.join(", ")
                )));
            }
        }

        let by_entity = match &self.by_entity {
            Some(column) => {
                let ident = Ident::parse(column).map_err(Error::query_build)?;
                let undeclared: Vec<String> = metrics
                    .iter()
                    .filter(|m| {
                        !m.entities
                            .as_ref()
                            .is_some_and(|es| es.iter().any(|e| e.name == ident.name))
                    })
                    .map(|m| format!("`{}`", m.name))
                    .collect();
                if !undeclared.is_empty() {
                    return Err(Error::query_build(format!(
                        "by_entity `{column}` is not declared in the `entities` of {}; add it there to allow this breakdown",
                        undeclared.join(", ")
                    )));
                }
                let declared = metrics[0]
                    .entities
                    .as_ref()
                    .and_then(|es| es.iter().find(|e| e.name == ident.name))
                    .cloned();
                Some(declared.unwrap_or(ident))
            }
            None => None,
        };

        Ok(CheckedRequest {
            metrics,
            slices: slices.into_iter().zip(components).collect(),
            segment,
            window,
            period: self.period,
            by_entity,
            sort: self.sort,
        })
    }

    fn checked_join_key(&self, segment: &SegmentSpec) -> Result<Ident> {
        let Some(key) = &self.join_key else {
            return Ok(segment.entity_id.clone());
        };
        let ident = Ident::parse(key).map_err(Error::query_build)?;
        if !segment.join_keys.is_empty() && !segment.join_keys.iter().any(|k| k.name == ident.name)
        {
            let allowed: Vec<String> = segment.join_keys.iter().map(|k| format!("`{k}`")).collect();
            return Err(Error::query_build(format!(
                "join key `{key}` is not allowed for segment `{}`; its join_keys are {}",
                segment.name,
                allowed.join(", ")
            )));
        }
        Ok(ident)
    }
}

fn unique(names: &[String]) -> impl Iterator<Item = &String> {
    names
        .iter()
        .enumerate()
        .filter(|(i, n)| !names[..*i].contains(n))
        .map(|(_, n)| n)
}

/// A segment to compute, with the fact-table column it joins on.
#[derive(Debug, Clone)]
pub(crate) struct SegmentRequest<'s> {
    /// The segment.
    pub spec: &'s SegmentSpec,
    /// The fact-table column joined to the segment's `entity_id`.
    pub join_key: Ident,
}

/// A request whose names are resolved and whose options fit every metric.
#[derive(Debug, Clone)]
pub(crate) struct CheckedRequest<'s> {
    /// The metrics, in request order, without repeats.
    pub metrics: Vec<&'s MetricSpec>,
    /// The slices in request order, each with its leaf components (itself for a leaf slice).
    pub slices: Vec<(&'s SliceSpec, Vec<&'s SliceSpec>)>,
    /// The segment.
    pub segment: Option<SegmentRequest<'s>>,
    /// The window.
    pub window: Option<TimeWindow>,
    /// The period grouping.
    pub period: PeriodType,
    /// The entity column.
    pub by_entity: Option<Ident>,
    /// Whether to order the rows.
    pub sort: bool,
}
