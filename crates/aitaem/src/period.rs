//! Periods: the calendar units results are grouped by, time windows, and the arithmetic on
//! them (truncating a time to the start of its period, stepping to the next period, the whole
//! periods that cover a window).

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, Timelike};

use crate::error::{Error, Result};

/// A calendar unit for time truncation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimeUnit {
    /// An hour.
    Hour,
    /// A day.
    Day,
    /// An ISO week (starting on Monday).
    Week,
    /// A calendar month.
    Month,
    /// A calendar year.
    Year,
}

impl TimeUnit {
    pub(crate) fn word(self) -> &'static str {
        match self {
            TimeUnit::Hour => "hour",
            TimeUnit::Day => "day",
            TimeUnit::Week => "week",
            TimeUnit::Month => "month",
            TimeUnit::Year => "year",
        }
    }
}

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
    /// use aitaem::PeriodType;
    /// assert_eq!("weekly".parse::<PeriodType>().unwrap(), PeriodType::Weekly);
    /// assert_eq!("quarterly".parse::<PeriodType>().unwrap_err().kind(), aitaem::ErrorKind::QueryBuild);
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
    /// use aitaem::TimeWindow;
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

/// A period's start and end as `YYYY-MM-DD HH:MM:SS`, from its start in microseconds.
pub(crate) fn period_bounds(micros: i64, unit: TimeUnit) -> Result<(String, String), String> {
    let start = DateTime::from_timestamp_micros(micros)
        .map(|t| t.naive_utc())
        .ok_or_else(|| format!("the period starting {micros} µs after 1970 is out of range"))?;
    let end = step(start, unit)
        .ok_or_else(|| format!("the period starting {start} has no representable end"))?;
    let fmt = |t: chrono::NaiveDateTime| t.format("%Y-%m-%d %H:%M:%S").to_string();
    Ok((fmt(start), fmt(end)))
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
            assert_eq!(err.kind(), crate::ErrorKind::QueryBuild, "{start}..{end}");
        }
        assert_eq!(
            ts("2024-02-29T13:45:10.5").to_string(),
            "2024-02-29 13:45:10.500"
        );
    }
}
