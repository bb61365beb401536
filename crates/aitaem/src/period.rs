//! Periods: the calendar units results are grouped by, time windows, and the arithmetic on
//! them (truncating a time to the start of its period, stepping between periods, numbering them,
//! the whole periods that cover a window, the period a comparison looks at).

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, Timelike};

use crate::error::{Error, RequestError, Result};

/// The day weekly periods start on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum WeekStart {
    /// Monday, as ISO weeks do.
    #[default]
    Monday,
    /// Sunday.
    Sunday,
    /// Saturday.
    Saturday,
}

impl WeekStart {
    /// Every week start, in order.
    pub const ALL: [WeekStart; 3] = [WeekStart::Monday, WeekStart::Sunday, WeekStart::Saturday];

    /// The name used on the command line: `monday`, `sunday`, `saturday`.
    pub fn as_str(self) -> &'static str {
        match self {
            WeekStart::Monday => "monday",
            WeekStart::Sunday => "sunday",
            WeekStart::Saturday => "saturday",
        }
    }

    /// Days from Monday to the start day (Monday 0, Saturday 5, Sunday 6).
    pub(crate) fn days_from_monday(self) -> u32 {
        match self {
            WeekStart::Monday => 0,
            WeekStart::Sunday => 6,
            WeekStart::Saturday => 5,
        }
    }
}

impl fmt::Display for WeekStart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for WeekStart {
    type Err = Error;

    /// ```
    /// use aitaem::WeekStart;
    /// assert_eq!("Sunday".parse::<WeekStart>().unwrap(), WeekStart::Sunday);
    /// assert!("friday".parse::<WeekStart>().is_err());
    /// ```
    fn from_str(text: &str) -> Result<WeekStart> {
        WeekStart::ALL
            .into_iter()
            .find(|w| w.as_str().eq_ignore_ascii_case(text.trim()))
            .ok_or_else(|| {
                RequestError::InvalidWeekStart {
                    given: text.to_string(),
                }
                .into()
            })
    }
}

/// A calendar unit for time truncation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TimeUnit {
    /// An hour.
    Hour,
    /// A day.
    Day,
    /// A week of seven days from the given start day (Monday: an ISO week).
    Week(WeekStart),
    /// A calendar month.
    Month,
    /// A quarter: three months from 1 January, 1 April, 1 July or 1 October.
    Quarter,
    /// A calendar year.
    Year,
}

impl TimeUnit {
    /// The unit's name in `date_trunc` (weeks there start on Monday).
    pub(crate) fn word(self) -> &'static str {
        match self {
            TimeUnit::Hour => "hour",
            TimeUnit::Day => "day",
            TimeUnit::Week(_) => "week",
            TimeUnit::Month => "month",
            TimeUnit::Quarter => "quarter",
            TimeUnit::Year => "year",
        }
    }
}

/// What a period is compared with (see [`ComputeRequest::compare`](crate::ComputeRequest::compare)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Comparison {
    /// The period just before (for `all_time`, the window of the same length just before).
    PreviousPeriod,
    /// The period one calendar year earlier (52 weeks for weekly periods; 29 February compares
    /// with 28 February); for `all_time`, the window shifted one calendar year back.
    PreviousYear,
}

impl Comparison {
    /// The name used on the command line: `previous_period`, `previous_year`.
    pub fn as_str(self) -> &'static str {
        match self {
            Comparison::PreviousPeriod => "previous_period",
            Comparison::PreviousYear => "previous_year",
        }
    }

    /// The start of the period (or window) compared with the one starting at `start`, in
    /// periods of `unit` (`None`: a window of length `length`); `None` before the start of
    /// time.
    pub(crate) fn shift(
        self,
        start: NaiveDateTime,
        unit: Option<TimeUnit>,
        length: Duration,
    ) -> Option<NaiveDateTime> {
        match (self, unit) {
            (Comparison::PreviousPeriod, Some(unit)) => back(start, unit, 1),
            (Comparison::PreviousPeriod, None) => start.checked_sub_signed(length),
            (Comparison::PreviousYear, Some(TimeUnit::Week(_))) => {
                start.checked_sub_signed(Duration::weeks(52))
            }
            (Comparison::PreviousYear, _) => start.checked_sub_months(chrono::Months::new(12)),
        }
    }
}

impl fmt::Display for Comparison {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Comparison {
    type Err = Error;

    /// ```
    /// use aitaem::Comparison;
    /// assert_eq!("previous_year".parse::<Comparison>().unwrap(), Comparison::PreviousYear);
    /// assert!("last_week".parse::<Comparison>().is_err());
    /// ```
    fn from_str(text: &str) -> Result<Comparison> {
        [Comparison::PreviousPeriod, Comparison::PreviousYear]
            .into_iter()
            .find(|c| c.as_str() == text.trim())
            .ok_or_else(|| {
                RequestError::InvalidComparison {
                    given: text.to_string(),
                }
                .into()
            })
    }
}

/// How rows are grouped in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum PeriodType {
    /// One group for the whole window (or all rows without a window).
    #[default]
    AllTime,
    /// Calendar hours.
    Hourly,
    /// Calendar days.
    Daily,
    /// Weeks, starting on Monday unless asked otherwise
    /// ([`ComputeRequest::week_start`](crate::ComputeRequest::week_start)).
    Weekly,
    /// Calendar months.
    Monthly,
    /// Quarters, starting on 1 January, 1 April, 1 July and 1 October.
    Quarterly,
    /// Calendar years.
    Yearly,
}

impl PeriodType {
    /// Every period type, in order.
    pub const ALL: [PeriodType; 7] = [
        PeriodType::AllTime,
        PeriodType::Hourly,
        PeriodType::Daily,
        PeriodType::Weekly,
        PeriodType::Monthly,
        PeriodType::Quarterly,
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
            PeriodType::Quarterly => "quarterly",
            PeriodType::Yearly => "yearly",
        }
    }

    /// The calendar unit of a period (weeks starting on Monday), `None` for `all_time`.
    pub fn unit(self) -> Option<TimeUnit> {
        self.unit_with(WeekStart::Monday)
    }

    /// The calendar unit of a period, with weeks starting on `week_start`.
    pub fn unit_with(self, week_start: WeekStart) -> Option<TimeUnit> {
        match self {
            PeriodType::AllTime => None,
            PeriodType::Hourly => Some(TimeUnit::Hour),
            PeriodType::Daily => Some(TimeUnit::Day),
            PeriodType::Weekly => Some(TimeUnit::Week(week_start)),
            PeriodType::Monthly => Some(TimeUnit::Month),
            PeriodType::Quarterly => Some(TimeUnit::Quarter),
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
    /// assert_eq!("biweekly".parse::<PeriodType>().unwrap_err().kind(), aitaem::ErrorKind::QueryBuild);
    /// ```
    fn from_str(text: &str) -> Result<PeriodType> {
        PeriodType::ALL
            .into_iter()
            .find(|p| p.as_str() == text)
            .ok_or_else(|| {
                RequestError::InvalidPeriod {
                    given: text.to_string(),
                }
                .into()
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
            return Err(RequestError::EmptyWindow {
                start: start.to_string(),
                end: end.to_string(),
            }
            .into());
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
    Err(RequestError::InvalidTime {
        given: text.to_string(),
    }
    .into())
}

/// The start of the hour, day, week, month, quarter or year containing `ts`.
pub(crate) fn truncate(ts: NaiveDateTime, unit: TimeUnit) -> NaiveDateTime {
    let date = ts.date();
    let day = |d: NaiveDate| d.and_time(NaiveTime::MIN);
    match unit {
        TimeUnit::Hour => day(date) + Duration::hours(i64::from(ts.hour())),
        TimeUnit::Day => day(date),
        TimeUnit::Week(start) => {
            let since = (date.weekday().num_days_from_monday() + 7 - start.days_from_monday()) % 7;
            day(date - Duration::days(i64::from(since)))
        }
        TimeUnit::Month => day(date.with_day(1).expect("day 1 exists")),
        TimeUnit::Quarter => {
            let month = (date.month0() / 3) * 3 + 1;
            day(NaiveDate::from_ymd_opt(date.year(), month, 1).expect("a quarter's first day"))
        }
        TimeUnit::Year => {
            day(NaiveDate::from_ymd_opt(date.year(), 1, 1).expect("1 January exists"))
        }
    }
}

/// The length of a unit: a fixed duration, or a number of months.
enum Length {
    Fixed(Duration),
    Months(u32),
}

fn length(unit: TimeUnit) -> Length {
    match unit {
        TimeUnit::Hour => Length::Fixed(Duration::hours(1)),
        TimeUnit::Day => Length::Fixed(Duration::days(1)),
        TimeUnit::Week(_) => Length::Fixed(Duration::days(7)),
        TimeUnit::Month => Length::Months(1),
        TimeUnit::Quarter => Length::Months(3),
        TimeUnit::Year => Length::Months(12),
    }
}

/// One period after `ts` (which is a period start).
pub(crate) fn step(ts: NaiveDateTime, unit: TimeUnit) -> Option<NaiveDateTime> {
    match length(unit) {
        Length::Fixed(d) => ts.checked_add_signed(d),
        Length::Months(m) => ts.checked_add_months(chrono::Months::new(m)),
    }
}

/// `n` periods before `ts` (which is a period start).
pub(crate) fn back(ts: NaiveDateTime, unit: TimeUnit, n: u32) -> Option<NaiveDateTime> {
    match length(unit) {
        Length::Fixed(d) => ts.checked_sub_signed(d.checked_mul(i32::try_from(n).ok()?)?),
        Length::Months(m) => ts.checked_sub_months(chrono::Months::new(m.checked_mul(n)?)),
    }
}

/// The number of a period (from its start): consecutive periods have consecutive numbers.
pub(crate) fn ordinal(start: NaiveDateTime, unit: TimeUnit) -> i64 {
    let date = start.date();
    let months = i64::from(date.year()) * 12 + i64::from(date.month0());
    match unit {
        TimeUnit::Hour => start.and_utc().timestamp().div_euclid(3600),
        TimeUnit::Day => start.and_utc().timestamp().div_euclid(86_400),
        // Week starts are whole days a multiple of 7 apart.
        TimeUnit::Week(_) => start.and_utc().timestamp().div_euclid(86_400).div_euclid(7),
        TimeUnit::Month => months,
        TimeUnit::Quarter => months.div_euclid(3),
        TimeUnit::Year => i64::from(date.year()),
    }
}

/// A time from microseconds since 1970.
pub(crate) fn from_micros(micros: i64) -> Result<NaiveDateTime, String> {
    DateTime::from_timestamp_micros(micros)
        .map(|t| t.naive_utc())
        .ok_or_else(|| format!("the period starting {micros} µs after 1970 is out of range"))
}

/// A period's start and end as `YYYY-MM-DD HH:MM:SS`, from its start in microseconds.
pub(crate) fn period_bounds(micros: i64, unit: TimeUnit) -> Result<(String, String), String> {
    let start = from_micros(micros)?;
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
            w.covering(TimeUnit::Week(WeekStart::Monday)),
            (ts("2024-05-13"), ts("2024-05-27"))
        );
        // ... its Sunday week starts on the 12th, its Saturday week on the 11th.
        assert_eq!(
            w.covering(TimeUnit::Week(WeekStart::Sunday)),
            (ts("2024-05-12"), ts("2024-06-02"))
        );
        assert_eq!(
            w.covering(TimeUnit::Week(WeekStart::Saturday)),
            (ts("2024-05-11"), ts("2024-06-01"))
        );
        let w = TimeWindow::parse("2024-02-15", "2024-07-01").unwrap();
        assert_eq!(
            w.covering(TimeUnit::Quarter),
            (ts("2024-01-01"), ts("2024-07-01"))
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
    fn periods_are_numbered_consecutively_and_stepped_back() {
        let units = [
            (TimeUnit::Hour, "2024-02-29 23:00"),
            (TimeUnit::Day, "2024-02-29"),
            (TimeUnit::Week(WeekStart::Sunday), "2023-12-31"),
            (TimeUnit::Month, "2024-01-01"),
            (TimeUnit::Quarter, "2024-10-01"),
            (TimeUnit::Year, "1969-01-01"),
        ];
        for (unit, start) in units {
            let start = ts(start);
            assert_eq!(truncate(start, unit), start, "{unit:?}");
            let next = step(start, unit).unwrap();
            assert_eq!(ordinal(next, unit), ordinal(start, unit) + 1, "{unit:?}");
            assert_eq!(back(next, unit, 1), Some(start), "{unit:?}");
            assert_eq!(
                ordinal(back(start, unit, 5).unwrap(), unit),
                ordinal(start, unit) - 5,
                "{unit:?}"
            );
        }
        // 1969-12-28 was a Sunday: weeks before 1970 are numbered without a gap.
        let week = TimeUnit::Week(WeekStart::Sunday);
        assert_eq!(
            ordinal(ts("1970-01-04"), week) - ordinal(ts("1969-12-28"), week),
            1
        );
    }

    #[test]
    fn comparisons_look_a_period_or_a_year_back() {
        let year = Comparison::PreviousYear;
        let none = Duration::zero();
        // A leap day compares with 28 February; weeks with 52 weeks earlier (ISO week 53 of
        // 2020 starts on 28 December and compares with 30 December 2019).
        assert_eq!(
            year.shift(ts("2024-02-29"), Some(TimeUnit::Day), none),
            Some(ts("2023-02-28"))
        );
        assert_eq!(
            year.shift(
                ts("2020-12-28"),
                Some(TimeUnit::Week(WeekStart::Monday)),
                none
            ),
            Some(ts("2019-12-30"))
        );
        assert_eq!(
            year.shift(ts("2024-04-01"), Some(TimeUnit::Quarter), none),
            Some(ts("2023-04-01"))
        );
        let previous = Comparison::PreviousPeriod;
        assert_eq!(
            previous.shift(ts("2024-01-01"), Some(TimeUnit::Month), none),
            Some(ts("2023-12-01"))
        );
        // A window of 10 days compares with the 10 days before it.
        assert_eq!(
            previous.shift(ts("2024-03-05"), None, Duration::days(10)),
            Some(ts("2024-02-24"))
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
