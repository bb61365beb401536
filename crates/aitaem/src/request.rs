//! What to compute: metrics, slices, a segment, a time window, a period and an entity column,
//! and the checks that make a request computable before anything runs.

use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, Timelike};

use crate::error::{Error, Result};
use crate::spec::{MetricSpec, SegmentSpec, SliceSpec, SpecCache};
use crate::sql::{Ident, TimeUnit};

/// How rows are grouped in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum PeriodType {
    /// One group for the whole window (or all rows without a window).
    #[default]
    AllTime,
    /// Calendar hours.
    Hourly,
    /// Calendar days.
    Daily,
    /// ISO weeks, starting on Monday.
    Weekly,
    /// Calendar months.
    Monthly,
    /// Calendar years.
    Yearly,
}

impl PeriodType {
    /// Every period type, in order.
    pub const ALL: [PeriodType; 6] = [
        PeriodType::AllTime,
        PeriodType::Hourly,
        PeriodType::Daily,
        PeriodType::Weekly,
        PeriodType::Monthly,
        PeriodType::Yearly,
    ];

    /// The name used in results and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            PeriodType::AllTime => "all_time",
            PeriodType::Hourly => "hourly",
            PeriodType::Daily => "daily",
            PeriodType::Weekly => "weekly",
            PeriodType::Monthly => "monthly",
            PeriodType::Yearly => "yearly",
        }
    }

    /// The calendar unit of a period, `None` for `all_time`.
    pub fn unit(self) -> Option<TimeUnit> {
        match self {
            PeriodType::AllTime => None,
            PeriodType::Hourly => Some(TimeUnit::Hour),
            PeriodType::Daily => Some(TimeUnit::Day),
            PeriodType::Weekly => Some(TimeUnit::Week),
            PeriodType::Monthly => Some(TimeUnit::Month),
            PeriodType::Yearly => Some(TimeUnit::Year),
        }
    }
}

impl fmt::Display for PeriodType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for PeriodType {
    type Err = Error;

    /// ```
    /// use aitaem::request::PeriodType;
    /// assert_eq!("weekly".parse::<PeriodType>().unwrap(), PeriodType::Weekly);
    /// assert_eq!("quarterly".parse::<PeriodType>().unwrap_err().kind(), "QueryBuildError");
    /// ```
    fn from_str(text: &str) -> Result<PeriodType> {
        PeriodType::ALL
            .into_iter()
            .find(|p| p.as_str() == text)
            .ok_or_else(|| {
                let names: Vec<&str> = PeriodType::ALL.iter().map(|p| p.as_str()).collect();
                Error::query_build(format!(
                    "invalid period type `{text}`; use one of {}",
                    names.join(", ")
                ))
            })
    }
}

/// A time window: rows with `start <= timestamp < end`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeWindow {
    /// The start, as given.
    pub start_text: String,
    /// The end (exclusive), as given.
    pub end_text: String,
    /// The start as a timestamp (a date means midnight).
    pub start: NaiveDateTime,
    /// The end as a timestamp.
    pub end: NaiveDateTime,
}

impl TimeWindow {
    /// Parses a window from two dates (`2024-01-31`) or date-times (`2024-01-31 13:00`,
    /// `2024-01-31T13:00:00`); the end must be after the start.
    ///
    /// ```
    /// use aitaem::request::TimeWindow;
    /// let w = TimeWindow::parse("2024-02-28", "2024-03-01 06:30").unwrap();
    /// assert_eq!(w.end.to_string(), "2024-03-01 06:30:00");
    /// assert!(TimeWindow::parse("2024-03-01", "2024-02-01").is_err());
    /// ```
    pub fn parse(start: &str, end: &str) -> Result<TimeWindow> {
        let start_ts = parse_time(start)?;
        let end_ts = parse_time(end)?;
        if end_ts <= start_ts {
            return Err(Error::query_build(format!(
                "the time window ends ({end}) before it starts ({start}); the end must be later than the start (it is exclusive)"
            )));
        }
        Ok(TimeWindow {
            start_text: start.trim().to_string(),
            end_text: end.trim().to_string(),
            start: start_ts,
            end: end_ts,
        })
    }

    /// The whole periods covering the window: from the start of the period containing the
    /// window's start to the end of the period containing the last instant before its end.
    pub fn covering(&self, unit: TimeUnit) -> (NaiveDateTime, NaiveDateTime) {
        let first = truncate(self.start, unit);
        let last = truncate(self.end, unit);
        let end = if last == self.end {
            last
        } else {
            // Saturates at the end of time rather than failing for a window at its edge.
            step(last, unit).unwrap_or(NaiveDateTime::MAX)
        };
        (first, end)
    }
}

fn parse_time(text: &str) -> Result<NaiveDateTime> {
    let t = text.trim();
    if let Ok(date) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        return Ok(date.and_time(NaiveTime::MIN));
    }
    for format in [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(ts) = NaiveDateTime::parse_from_str(t, format) {
            return Ok(ts);
        }
    }
    Err(Error::query_build(format!(
        "cannot read `{text}` as a date or time; write `YYYY-MM-DD` or `YYYY-MM-DD HH:MM[:SS]` (no time zone)"
    )))
}

/// The start of the hour, day, ISO week (Monday), month or year containing `ts`.
pub(crate) fn truncate(ts: NaiveDateTime, unit: TimeUnit) -> NaiveDateTime {
    let date = ts.date();
    let day = |d: NaiveDate| d.and_time(NaiveTime::MIN);
    match unit {
        TimeUnit::Hour => day(date) + Duration::hours(i64::from(ts.hour())),
        TimeUnit::Day => day(date),
        TimeUnit::Week => {
            day(date - Duration::days(i64::from(date.weekday().num_days_from_monday())))
        }
        TimeUnit::Month => day(date.with_day(1).expect("day 1 exists")),
        TimeUnit::Year => {
            day(NaiveDate::from_ymd_opt(date.year(), 1, 1).expect("1 January exists"))
        }
    }
}

/// One period after `ts` (which is a period start).
pub(crate) fn step(ts: NaiveDateTime, unit: TimeUnit) -> Option<NaiveDateTime> {
    match unit {
        TimeUnit::Hour => ts.checked_add_signed(Duration::hours(1)),
        TimeUnit::Day => ts.checked_add_signed(Duration::days(1)),
        TimeUnit::Week => ts.checked_add_signed(Duration::days(7)),
        TimeUnit::Month => ts.checked_add_months(chrono::Months::new(1)),
        TimeUnit::Year => ts.checked_add_months(chrono::Months::new(12)),
    }
}

/// A request for metrics, built step by step.
///
/// ```
/// use aitaem::request::{ComputeRequest, PeriodType};
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
    pub fn check<'s>(&self, specs: &'s SpecCache) -> Result<CheckedRequest<'s>> {
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
pub struct SegmentRequest<'s> {
    /// The segment.
    pub spec: &'s SegmentSpec,
    /// The fact-table column joined to the segment's `entity_id`.
    pub join_key: Ident,
}

/// A request whose names are resolved and whose options fit every metric.
#[derive(Debug, Clone)]
pub struct CheckedRequest<'s> {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(text: &str) -> NaiveDateTime {
        parse_time(text).unwrap()
    }

    #[test]
    fn windows_are_covered_by_whole_periods() {
        let w = TimeWindow::parse("2024-01-15", "2024-03-10").unwrap();
        assert_eq!(
            w.covering(TimeUnit::Month),
            (ts("2024-01-01"), ts("2024-04-01"))
        );
        // 2024-05-17 is a Friday; its ISO week starts on Monday 13th.
        let w = TimeWindow::parse("2024-05-17", "2024-05-27").unwrap();
        assert_eq!(
            w.covering(TimeUnit::Week),
            (ts("2024-05-13"), ts("2024-05-27"))
        );
        let w = TimeWindow::parse("2024-02-28 22:30", "2024-03-01 01:00").unwrap();
        assert_eq!(
            w.covering(TimeUnit::Hour),
            (ts("2024-02-28 22:00"), ts("2024-03-01 01:00"))
        );
        let w = TimeWindow::parse("2023-12-31", "2024-01-02").unwrap();
        assert_eq!(
            w.covering(TimeUnit::Year),
            (ts("2023-01-01"), ts("2025-01-01"))
        );
        let w = TimeWindow::parse("2024-01-31", "2024-02-29").unwrap();
        assert_eq!(
            w.covering(TimeUnit::Month),
            (ts("2024-01-01"), ts("2024-03-01"))
        );
    }

    #[test]
    fn malformed_windows_are_query_build_errors() {
        for (start, end) in [
            ("2024-13-01", "2025-01-01"),
            ("yesterday", "today"),
            ("2024-01-02", "2024-01-01"),
            ("2024-01-01", "2024-01-01"),
            ("2024-01-01T00:00:00Z", "2024-02-01"),
        ] {
            let err = TimeWindow::parse(start, end).unwrap_err();
            assert_eq!(err.kind(), "QueryBuildError", "{start}..{end}");
        }
        assert_eq!(
            ts("2024-02-29T13:45:10.5").to_string(),
            "2024-02-29 13:45:10.500"
        );
    }
}
