//! What to compute: metrics, slices, a segment, a time window, a period and an entity column,
//! and the checks that make a request computable before anything runs.

use chrono::NaiveDateTime;

use crate::error::{Error, RequestError, Result};
use crate::period::{self, Comparison, PeriodType, TimeUnit, TimeWindow, WeekStart};
use crate::result::DerivedColumn;
use crate::spec::{AggregateMetric, MetricKind, MetricSpec, SegmentSpec, SliceSpec, SpecCache};
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
/// assert_eq!(request.metrics(), ["revenue", "ctr"]);
/// assert_eq!(request.period_type(), PeriodType::Monthly);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ComputeRequest {
    metrics: Vec<String>,
    filters: Vec<String>,
    slices: Vec<String>,
    segment: Option<String>,
    join_key: Option<String>,
    time_window: Option<(String, String)>,
    period: PeriodType,
    by_entity: Option<String>,
    sort: bool,
    week_start: WeekStart,
    fill_gaps: bool,
    compare: Option<Comparison>,
    share: bool,
    cumulative: bool,
    rolling: Option<u32>,
}

impl ComputeRequest {
    /// A request for these metrics, all time, no breakdowns.
    pub fn new<S: Into<String>>(metrics: impl IntoIterator<Item = S>) -> Self {
        ComputeRequest {
            metrics: metrics.into_iter().map(Into::into).collect(),
            ..ComputeRequest::default()
        }
    }

    /// The metric names, as given.
    pub fn metrics(&self) -> &[String] {
        &self.metrics
    }

    /// The request's filters, as given.
    pub fn filters(&self) -> &[String] {
        &self.filters
    }

    /// The slice names, as given.
    pub fn slice_names(&self) -> &[String] {
        &self.slices
    }

    /// The segment's name.
    pub fn segment_name(&self) -> Option<&str> {
        self.segment.as_deref()
    }

    /// The time window, `(start, end)` as given.
    pub fn window(&self) -> Option<(&str, &str)> {
        self.time_window
            .as_ref()
            .map(|(start, end)| (start.as_str(), end.as_str()))
    }

    /// The period grouping.
    pub fn period_type(&self) -> PeriodType {
        self.period
    }

    /// Counts only the source rows for which `predicate` (SQL, over the sources' columns)
    /// holds, for every metric; repeatable, and all filters must hold. Every metric's source
    /// must have the columns a filter reads.
    ///
    /// ```
    /// use aitaem::ComputeRequest;
    /// let request = ComputeRequest::new(["revenue"])
    ///     .filter("country = 'MX'")
    ///     .filter("device_type <> 'tablet'");
    /// assert_eq!(request.filters(), ["country = 'MX'", "device_type <> 'tablet'"]);
    /// ```
    pub fn filter(mut self, predicate: impl Into<String>) -> Self {
        self.filters.push(predicate.into());
        self
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

    /// Orders the rows (by metric, slice and segment state in request order, period, entity,
    /// slice value and segment value). Off by default: ordering a large result costs time.
    pub fn sorted(mut self, sort: bool) -> Self {
        self.sort = sort;
        self
    }

    /// Starts weekly periods on this day (Monday by default, as ISO weeks do).
    pub fn week_start(mut self, day: WeekStart) -> Self {
        self.week_start = day;
        self
    }

    /// Gives every period of the window a row, for every metric × slice value × segment value
    /// (× entity) that has at least one row in the window. A filled row's value is 0 for a metric
    /// without denominator whose numerator is a single `SUM`, `COUNT` or `COUNT(DISTINCT)`, and
    /// NULL otherwise. Needs a time window and a period other than `all_time`.
    pub fn fill_gaps(mut self, fill: bool) -> Self {
        self.fill_gaps = fill;
        self
    }

    /// Adds `comparison_value`, `delta` and `delta_pct`: the same row in the previous period or
    /// the previous year ([`Comparison`]). Needs a time window. The periods compared with may lie
    /// before the window; they are read in the same scan.
    ///
    /// ```
    /// use aitaem::{ComputeRequest, Comparison, PeriodType};
    /// let request = ComputeRequest::new(["revenue"])
    ///     .time_window("2024-01-01", "2025-01-01")
    ///     .period(PeriodType::Monthly)
    ///     .compare(Comparison::PreviousYear)
    ///     .fill_gaps(true);
    /// let added: Vec<&str> = request.derived_columns().iter().map(|c| c.name()).collect();
    /// assert_eq!(added, ["comparison_value", "delta", "delta_pct"]);
    /// ```
    pub fn compare(mut self, comparison: Comparison) -> Self {
        self.compare = Some(comparison);
        self
    }

    /// Adds `share_of_total`: a sliced row's value divided by the slice's baseline row, a
    /// segmented baseline row's value divided by the overall baseline (1 for that row). For
    /// metrics without denominator whose numerator is a single `SUM` or `COUNT`; NULL for others.
    pub fn share(mut self, share: bool) -> Self {
        self.share = share;
        self
    }

    /// Adds `cumulative_value`: the running total from the window's first period up to the
    /// row's. Needs a period other than `all_time`.
    pub fn cumulative(mut self, cumulative: bool) -> Self {
        self.cumulative = cumulative;
        self
    }

    /// Adds `rolling_value`: the total over the last `periods` periods including the row's
    /// (reaching before the window, which the scan then covers). Needs a period other than
    /// `all_time`.
    pub fn rolling(mut self, periods: u32) -> Self {
        self.rolling = Some(periods);
        self
    }

    /// The columns this request adds after the standard 11, in order.
    pub fn derived_columns(&self) -> Vec<DerivedColumn> {
        let mut columns = Vec::new();
        if self.compare.is_some() {
            columns.extend([
                DerivedColumn::ComparisonValue,
                DerivedColumn::Delta,
                DerivedColumn::DeltaPct,
            ]);
        }
        if self.share {
            columns.push(DerivedColumn::ShareOfTotal);
        }
        if self.cumulative {
            columns.push(DerivedColumn::CumulativeValue);
        }
        if self.rolling.is_some() {
            columns.push(DerivedColumn::RollingValue);
        }
        columns
    }

    /// Checks the request against the specs: every name exists, and the window, period,
    /// entity and join key fit every metric. Nothing runs.
    pub(crate) fn check<'s>(&self, specs: &'s SpecCache) -> Result<CheckedRequest<'s>> {
        if self.metrics.is_empty() {
            return Err(RequestError::NoMetrics.into());
        }
        let requested = unique(&self.metrics)
            .map(|name| specs.metric(name))
            .collect::<Result<Vec<_>>>()?;
        let (metrics, derived_metrics) = computed(&requested, specs)?;
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
                    return Err(RequestError::JoinKeyWithoutSegment.into());
                }
                None
            }
        };

        let window = match &self.time_window {
            Some((start, end)) => Some(TimeWindow::parse(start, end)?),
            None => None,
        };
        self.check_time_options(window.is_some())?;
        if self.period != PeriodType::AllTime && window.is_none() {
            return Err(RequestError::PeriodNeedsWindow {
                period: self.period,
            }
            .into());
        }
        if window.is_some() {
            let lacking: Vec<String> = metrics
                .iter()
                .filter(|m| m.def.timestamp_col.is_none())
                .map(|m| m.spec.name.clone())
                .collect();
            if !lacking.is_empty() {
                return Err(RequestError::NoTimestamp {
                    period: self.period,
                    metrics: lacking,
                }
                .into());
            }
        }

        let by_entity = match &self.by_entity {
            Some(column) => {
                let ident = Ident::parse(column).map_err(invalid_name)?;
                let undeclared: Vec<String> = metrics
                    .iter()
                    .filter(|m| {
                        !m.def
                            .entities
                            .as_ref()
                            .is_some_and(|es| es.iter().any(|e| e.name == ident.name))
                    })
                    .map(|m| m.spec.name.clone())
                    .collect();
                if !undeclared.is_empty() {
                    return Err(RequestError::EntityNotDeclared {
                        column: column.clone(),
                        metrics: undeclared,
                    }
                    .into());
                }
                let declared = metrics[0]
                    .def
                    .entities
                    .as_ref()
                    .and_then(|es| es.iter().find(|e| e.name == ident.name))
                    .cloned();
                Some(declared.unwrap_or(ident))
            }
            None => None,
        };

        let unit = self.period.unit_with(self.week_start);
        let reach = match &window {
            Some(w) => Some(self.reach(w, unit)?),
            None => None,
        };
        Ok(CheckedRequest {
            requested,
            metrics,
            derived_metrics,
            filters: self.filters.clone(),
            slices: slices.into_iter().zip(components).collect(),
            segment,
            window,
            period: self.period,
            unit,
            by_entity,
            sort: self.sort,
            reach,
            derived: self.derived_columns(),
            fill_gaps: self.fill_gaps,
            compare: self.compare,
            cumulative: self.cumulative,
            rolling: self.rolling,
            refresh_from: None,
        })
    }

    /// The time options fit the window and period.
    fn check_time_options(&self, has_window: bool) -> Result<()> {
        let all_time = self.period == PeriodType::AllTime;
        let needs_period = |option: &'static str| Error::from(RequestError::NeedsPeriod { option });
        if self.week_start != WeekStart::Monday && self.period != PeriodType::Weekly {
            return Err(RequestError::WeekStartNeedsWeekly {
                week_start: self.week_start,
                period: self.period,
            }
            .into());
        }
        if self.fill_gaps && all_time {
            return Err(needs_period("fill_gaps"));
        }
        if self.cumulative && all_time {
            return Err(needs_period("cumulative"));
        }
        if let Some(n) = self.rolling {
            if all_time {
                return Err(needs_period("rolling"));
            }
            if n == 0 {
                return Err(RequestError::RollingNeedsPeriods.into());
            }
        }
        if let (Some(comparison), false) = (self.compare, has_window) {
            return Err(RequestError::CompareNeedsWindow { comparison }.into());
        }
        Ok(())
    }

    /// The times a statement reads for this window: the window's whole periods, and the
    /// earlier periods that comparisons and rolling values look at.
    fn reach(&self, window: &TimeWindow, unit: Option<TimeUnit>) -> Result<Reach> {
        let out_of_range = || Error::from(RequestError::BeforeCalendar);
        let Some(unit) = unit else {
            let current = (window.start, window.end);
            let Some(comparison) = self.compare else {
                return Ok(Reach {
                    ranges: vec![current],
                    comparison_window: None,
                });
            };
            let length = window.end - window.start;
            let shift = |t| comparison.shift(t, None, length).ok_or_else(out_of_range);
            let previous = (shift(window.start)?, shift(window.end)?);
            return Ok(Reach {
                ranges: merge(vec![previous, current]),
                comparison_window: Some(previous),
            });
        };
        let (first, end) = window.covering(unit);
        let mut start = first;
        if let Some(n) = self.rolling {
            start = period::back(first, unit, n - 1).ok_or_else(out_of_range)?;
        }
        let mut ranges = Vec::new();
        if let Some(comparison) = self.compare {
            let shift = |t| {
                comparison
                    .shift(t, Some(unit), chrono::Duration::zero())
                    .ok_or_else(out_of_range)
            };
            // The period compared with the last one ends where the comparison of `end` starts.
            ranges.push((shift(first)?, shift(end)?));
        }
        ranges.push((start, end));
        Ok(Reach {
            ranges: merge(ranges),
            comparison_window: None,
        })
    }

    fn checked_join_key(&self, segment: &SegmentSpec) -> Result<Ident> {
        let Some(key) = &self.join_key else {
            return Ok(segment.entity_id.clone());
        };
        let ident = Ident::parse(key).map_err(invalid_name)?;
        if !segment.join_keys.is_empty() && !segment.join_keys.iter().any(|k| k.name == ident.name)
        {
            return Err(RequestError::JoinKeyNotAllowed {
                key: key.clone(),
                segment: segment.name.clone(),
                allowed: segment.join_keys.iter().map(|k| k.to_string()).collect(),
            }
            .into());
        }
        Ok(ident)
    }
}

/// The aggregate metrics the statements compute for the requested metrics (the requested
/// aggregate metrics, then the inputs of the derived ones), and the derived metrics to evaluate,
/// each after the derived metrics it reads.
fn computed<'s>(
    requested: &[&'s MetricSpec],
    specs: &'s SpecCache,
) -> Result<(Vec<Aggregated<'s>>, Vec<&'s MetricSpec>)> {
    fn visit<'s>(
        metric: &'s MetricSpec,
        specs: &'s SpecCache,
        aggregates: &mut Vec<Aggregated<'s>>,
        derived: &mut Vec<&'s MetricSpec>,
        depth: usize,
    ) -> Result<()> {
        match &metric.kind {
            MetricKind::Aggregate(def) => {
                if !aggregates.iter().any(|a| a.spec.name == metric.name) {
                    aggregates.push(Aggregated { spec: metric, def });
                }
            }
            MetricKind::Derived(d) => {
                if derived.iter().any(|m| m.name == metric.name) {
                    return Ok(());
                }
                // The cache refuses cycles; this only bounds a cache built otherwise.
                if depth > specs.metrics().count() {
                    return Err(Error::internal(format!(
                        "derived metric `{}` depends on itself",
                        metric.name
                    )));
                }
                for input in d.expression.inputs() {
                    visit(specs.metric(input)?, specs, aggregates, derived, depth + 1)?;
                }
                derived.push(metric);
            }
        }
        Ok(())
    }
    let mut aggregates = Vec::new();
    let mut derived = Vec::new();
    for metric in requested.iter().filter(|m| m.aggregate().is_some()) {
        visit(metric, specs, &mut aggregates, &mut derived, 0)?;
    }
    for metric in requested.iter().filter(|m| m.aggregate().is_none()) {
        visit(metric, specs, &mut aggregates, &mut derived, 0)?;
    }
    Ok((aggregates, derived))
}

fn invalid_name(reason: String) -> Error {
    RequestError::InvalidName { reason }.into()
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

/// An aggregate metric the statements compute: its spec and its definition.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Aggregated<'s> {
    /// The spec (name, format).
    pub spec: &'s MetricSpec,
    /// How it aggregates.
    pub def: &'s AggregateMetric,
}

/// A request whose names are resolved and whose options fit every metric.
#[derive(Debug, Clone)]
pub(crate) struct CheckedRequest<'s> {
    /// The requested metrics, in request order, without repeats.
    pub requested: Vec<&'s MetricSpec>,
    /// The aggregate metrics the statements compute: the requested ones, then the inputs of
    /// the requested derived metrics.
    pub metrics: Vec<Aggregated<'s>>,
    /// The derived metrics to evaluate from the statements' results, each after the derived
    /// metrics it reads.
    pub derived_metrics: Vec<&'s MetricSpec>,
    /// The request's filters, as given (parsed for each statement's backend).
    pub filters: Vec<String>,
    /// The slices in request order, each with its leaf components (itself for a leaf slice).
    pub slices: Vec<(&'s SliceSpec, Vec<&'s SliceSpec>)>,
    /// The segment.
    pub segment: Option<SegmentRequest<'s>>,
    /// The window.
    pub window: Option<TimeWindow>,
    /// The period grouping.
    pub period: PeriodType,
    /// The period unit (weeks starting on the requested day); `None` for `all_time`.
    pub unit: Option<TimeUnit>,
    /// The entity column.
    pub by_entity: Option<Ident>,
    /// Whether to order the rows.
    pub sort: bool,
    /// What the statements read, with a window.
    pub reach: Option<Reach>,
    /// The columns added after the standard 11.
    pub derived: Vec<DerivedColumn>,
    /// See [`ComputeRequest::fill_gaps`].
    pub fill_gaps: bool,
    /// See [`ComputeRequest::compare`].
    pub compare: Option<Comparison>,
    /// See [`ComputeRequest::cumulative`].
    pub cumulative: bool,
    /// See [`ComputeRequest::rolling`].
    pub rolling: Option<u32>,
    /// Set by a refresh of the result store: an all-time request's populating statement reads
    /// the rows from this time on, and those without a time (see `plan::stored`).
    pub(crate) refresh_from: Option<NaiveDateTime>,
}

impl CheckedRequest<'_> {
    /// Whether any option adds columns or rows to what the statements return.
    pub fn derives(&self) -> bool {
        self.fill_gaps || !self.derived.is_empty()
    }
}

/// The times a statement reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Reach {
    /// Disjoint `[start, end)` ranges, in order: the window (in whole periods) with the earlier
    /// periods that comparisons and rolling values need.
    pub ranges: Vec<(NaiveDateTime, NaiveDateTime)>,
    /// For `all_time` with a comparison: the window compared with (it may overlap the window).
    pub comparison_window: Option<(NaiveDateTime, NaiveDateTime)>,
}

impl Reach {
    /// The start of a range without a lower bound.
    pub(crate) const OPEN_START: NaiveDateTime = NaiveDateTime::MIN;
    /// The end of a range without an upper bound. Only the result store's populating statements
    /// read such ranges, and rows without a time with them (see `plan::stored`).
    pub(crate) const OPEN_END: NaiveDateTime = NaiveDateTime::MAX;
}

/// Ranges merged where they overlap or touch, in order.
fn merge(mut ranges: Vec<(NaiveDateTime, NaiveDateTime)>) -> Vec<(NaiveDateTime, NaiveDateTime)> {
    ranges.sort();
    let mut merged: Vec<(NaiveDateTime, NaiveDateTime)> = Vec::new();
    for (start, end) in ranges {
        match merged.last_mut() {
            Some(last) if start <= last.1 => last.1 = last.1.max(end),
            _ => merged.push((start, end)),
        }
    }
    merged
}
