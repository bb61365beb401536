//! Errors.
//!
//! Every fallible call returns [`Error`]. Its variants mirror the exception classes of the
//! original Python library, and [`Error::kind`] tells them apart ([`ErrorKind::name`] gives the
//! class name, for example `SpecValidationError`). Each error says what went wrong and, where it
//! can, what to change. Failures inside a backend (a refused connection, a rejected statement, a
//! timeout) carry a [`BackendError`], which keeps the driver's own error as its source.

use std::fmt;
use std::path::PathBuf;

use crate::backend::BackendKind;
use crate::period::{Comparison, PeriodType, WeekStart};
use crate::spec::SpecKind;
use crate::yaml::Location;

/// One problem found while loading or validating a spec.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SpecIssue {
    /// Where the problem is.
    pub location: Location,
    /// The field it concerns, e.g. `numerator` or `values[1].where`.
    pub field: String,
    /// What is wrong.
    pub message: String,
    /// What to change, when there is something specific to say.
    pub help: Option<String>,
}

impl fmt::Display for SpecIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.location)?;
        if !self.field.is_empty() {
            write!(f, "{}: ", self.field)?;
        }
        write!(f, "{}", self.message)?;
        if let Some(help) = &self.help {
            write!(f, " ({help})")?;
        }
        Ok(())
    }
}

/// Every problem found in a set of specs; loading reports all of them at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecValidationError {
    /// The problems, in file order.
    pub issues: Vec<SpecIssue>,
}

impl fmt::Display for SpecValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, issue) in self.issues.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{issue}")?;
        }
        Ok(())
    }
}

impl std::error::Error for SpecValidationError {}

/// The library's error type. See the module documentation.
///
/// New variants may be added (it is `#[non_exhaustive]`); match on [`Error::kind`] for the
/// class of an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Specs that are malformed or invalid (with file, line and column).
    #[error("{0}")]
    SpecValidation(SpecValidationError),
    /// A metric, slice or segment name that is not in the cache.
    #[error("no {kind} named `{name}`{}", suggest(.suggestions))]
    SpecNotFound {
        /// What was looked up.
        kind: SpecKind,
        /// The name asked for.
        name: String,
        /// Known names close to it.
        suggestions: Vec<String>,
    },
    /// Compute arguments that cannot be satisfied, or specs that do not fit together.
    #[error(transparent)]
    QueryBuild(Box<RequestError>),
    /// The backend failed to run a statement.
    #[error("computing {} on {source_uri} failed: {source}", quote_list(.metrics))]
    QueryExecution {
        /// The metrics the failing statement computed.
        metrics: Vec<String>,
        /// The source the statement read.
        source_uri: String,
        /// What the backend said.
        source: BackendError,
        /// Where in the specs the backend's complaint points, when it names a column that a
        /// metric, slice or segment of the statement uses.
        location: Option<Location>,
    },
    /// A bad `connections.yaml`, an unset `${VAR}`, or bad connection arguments.
    #[error("{}{message}", .location.as_ref().map(|l| format!("{l}: ")).unwrap_or_default())]
    Configuration {
        /// Where in the connections file, when known.
        location: Option<Location>,
        /// What is wrong and what to change.
        message: String,
    },
    /// A connection could not be opened or used.
    #[error("{backend}: {source}")]
    Connection {
        /// The backend.
        backend: BackendKind,
        /// What failed.
        source: BackendError,
    },
    /// No connection is configured for the backend a source needs.
    #[error("{message}")]
    ConnectionNotFound {
        /// The backend that has no connection.
        backend: BackendKind,
        /// Which spec needed it and how to configure it.
        message: String,
    },
    /// A source's table (or file) does not exist.
    #[error("{source_uri}: {message}")]
    TableNotFound {
        /// The source URI.
        source_uri: String,
        /// What was looked for.
        message: String,
    },
    /// A malformed source URI.
    #[error("invalid source URI `{uri}`: {message}")]
    InvalidUri {
        /// The URI as given.
        uri: String,
        /// What is wrong and the accepted forms.
        message: String,
    },
    /// A backend this build does not support.
    #[error("{message}")]
    UnsupportedBackend {
        /// The backend name as written.
        backend: String,
        /// Why and what to do instead.
        message: String,
    },
    /// Reading or writing a file failed.
    #[error("{}: {source}", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// Loading files into a database failed; the database is unchanged.
    #[error("{}: {message}", .path.display())]
    Load {
        /// The file (or database) concerned.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// Writing a result failed.
    #[error("writing the result failed: {message}")]
    Output {
        /// What failed.
        message: String,
    },
    /// A fault of aitaem itself, not of the request, the specs or a backend: please report it.
    #[error("internal error (a fault of aitaem; please report it): {message}")]
    Internal {
        /// What went wrong.
        message: String,
    },
}

/// The class of an [`Error`], named like the original library's exception classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Invalid specs.
    SpecValidation,
    /// An unknown metric, slice or segment.
    SpecNotFound,
    /// A request that cannot be computed as asked.
    QueryBuild,
    /// A statement failed on its backend.
    QueryExecution,
    /// A bad connections file or connection settings.
    Configuration,
    /// A connection could not be opened or used.
    Connection,
    /// No connection for a source's backend.
    ConnectionNotFound,
    /// A missing table or file.
    TableNotFound,
    /// A malformed source URI.
    InvalidUri,
    /// A backend this build does not support.
    UnsupportedBackend,
    /// A file could not be read or written.
    Io,
    /// Loading files into a database failed.
    Load,
    /// Writing a result failed.
    Output,
    /// A fault of aitaem itself.
    Internal,
}

impl ErrorKind {
    /// The class name: `SpecValidationError`, `QueryBuildError`, ...
    ///
    /// ```
    /// assert_eq!(aitaem::ErrorKind::InvalidUri.name(), "InvalidURIError");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::SpecValidation => "SpecValidationError",
            ErrorKind::SpecNotFound => "SpecNotFoundError",
            ErrorKind::QueryBuild => "QueryBuildError",
            ErrorKind::QueryExecution => "QueryExecutionError",
            ErrorKind::Configuration => "ConfigurationError",
            ErrorKind::Connection => "ConnectionError",
            ErrorKind::ConnectionNotFound => "ConnectionNotFoundError",
            ErrorKind::TableNotFound => "TableNotFoundError",
            ErrorKind::InvalidUri => "InvalidURIError",
            ErrorKind::UnsupportedBackend => "UnsupportedBackendError",
            ErrorKind::Io => "IOError",
            ErrorKind::Load => "LoadError",
            ErrorKind::Output => "OutputError",
            ErrorKind::Internal => "InternalError",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A failure inside a backend: what happened, in the backend's words, and what kind of failure
/// it is.
///
/// ```
/// use aitaem::error::{BackendError, BackendErrorKind};
/// let err = BackendError::new(BackendErrorKind::Rejected, "column \"clicks\" does not exist")
///     .with_sqlstate("42703");
/// assert_eq!(err.to_string(), "column \"clicks\" does not exist (SQLSTATE 42703)");
/// assert!(!err.is_retryable());
/// ```
#[derive(Debug)]
pub struct BackendError(Box<BackendErrorInner>);

#[derive(Debug)]
struct BackendErrorInner {
    kind: BackendErrorKind,
    message: String,
    /// The code, and whether it is a SQLSTATE (or a service's reason).
    code: Option<(String, bool)>,
    position: Option<u32>,
    unknown_name: Option<String>,
    retryable: bool,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

/// What kind of failure a [`BackendError`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BackendErrorKind {
    /// The server cannot be reached, or the connection broke.
    Connection,
    /// The credentials were refused.
    Authentication,
    /// A connection or statement took longer than allowed.
    Timeout,
    /// A database, schema, table or file does not exist.
    NotFound,
    /// The backend refused the statement (a syntax error, a missing column, a type error).
    Rejected,
    /// A quota or rate limit was reached.
    Quota,
    /// The statement was stopped on request (an interrupt).
    Cancelled,
    /// Anything else.
    Other,
}

impl BackendError {
    /// An error of a kind, with the backend's message. Timeouts and connection failures are
    /// retryable by default; see [`BackendError::retryable`].
    pub fn new(kind: BackendErrorKind, message: impl Into<String>) -> Self {
        BackendError(Box::new(BackendErrorInner {
            kind,
            message: message.into(),
            code: None,
            position: None,
            unknown_name: None,
            retryable: false,
            source: None,
        }))
    }

    /// The SQLSTATE of a SQL database's error.
    pub fn with_sqlstate(mut self, code: impl Into<String>) -> Self {
        self.0.code = Some((code.into(), true));
        self
    }

    /// A service's reason for an error (`invalidQuery`, `HTTP 403`).
    pub fn with_reason(mut self, reason: impl Into<String>) -> Self {
        self.0.code = Some((reason.into(), false));
        self
    }

    /// The 1-based character position in the statement that the backend points at.
    pub fn with_position(mut self, position: u32) -> Self {
        self.0.position = Some(position);
        self
    }

    /// The name (a column, a function) the backend says it does not know.
    pub fn with_unknown_name(mut self, name: impl Into<String>) -> Self {
        self.0.unknown_name = Some(name.into());
        self
    }

    /// Whether running the same statement again may succeed.
    pub fn retryable(mut self, retryable: bool) -> Self {
        self.0.retryable = retryable;
        self
    }

    /// The driver's own error.
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.0.source = Some(Box::new(source));
        self
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> BackendErrorKind {
        self.0.kind
    }

    /// The backend's message.
    pub fn message(&self) -> &str {
        &self.0.message
    }

    /// The backend's error code (a SQLSTATE, or a service's reason), when it gave one.
    pub fn code(&self) -> Option<&str> {
        self.0.code.as_ref().map(|(code, _)| code.as_str())
    }

    /// The same error with another message (the code, kind and source are kept).
    #[cfg_attr(
        not(any(feature = "postgres", feature = "bigquery", feature = "spark")),
        allow(dead_code)
    )]
    pub(crate) fn reworded(mut self, message: String) -> Self {
        self.0.message = message;
        self
    }

    /// The position in the statement the backend points at, when it gave one.
    pub fn position(&self) -> Option<u32> {
        self.0.position
    }

    /// The name the backend says it does not know, when it said one.
    pub fn unknown_name(&self) -> Option<&str> {
        self.0.unknown_name.as_deref()
    }

    /// Whether running the same statement again may succeed (a rate limit, a lost connection).
    pub fn is_retryable(&self) -> bool {
        self.0.retryable
    }
}

impl fmt::Display for BackendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.message)?;
        match &self.0.code {
            Some((code, true)) => write!(f, " (SQLSTATE {code})")?,
            Some((reason, false)) => write!(f, " ({reason})")?,
            None => {}
        }
        Ok(())
    }
}

impl std::error::Error for BackendError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0
            .source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// Why a request cannot be computed as asked: a problem of the request itself, or of the specs
/// it names not fitting together. Each says what to change.
///
/// ```
/// use aitaem::error::RequestError;
/// use aitaem::PeriodType;
/// let problem = RequestError::PeriodNeedsWindow { period: PeriodType::Daily };
/// assert_eq!(
///     problem.to_string(),
///     "period `daily` requires time_window; give one (e.g. `--time-window 2024-01-01,2025-01-01`)"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RequestError {
    /// No metric was named.
    NoMetrics,
    /// A join key was given without a segment.
    JoinKeyWithoutSegment,
    /// The join key is not one of the segment's `join_keys`.
    JoinKeyNotAllowed {
        /// The join key given.
        key: String,
        /// The segment.
        segment: String,
        /// Its `join_keys`.
        allowed: Vec<String>,
    },
    /// A column name (an entity or join key) that is not one.
    InvalidName {
        /// Why.
        reason: String,
    },
    /// A period other than `all_time` without a time window.
    PeriodNeedsWindow {
        /// The period.
        period: PeriodType,
    },
    /// A window or period for metrics without a `timestamp_col`.
    NoTimestamp {
        /// The period asked for (`all_time`: a window).
        period: PeriodType,
        /// The metrics without one.
        metrics: Vec<String>,
    },
    /// A `by_entity` column that metrics do not declare in their `entities`.
    EntityNotDeclared {
        /// The column.
        column: String,
        /// The metrics that do not declare it.
        metrics: Vec<String>,
    },
    /// A week start for a period other than weekly.
    WeekStartNeedsWeekly {
        /// The week start.
        week_start: WeekStart,
        /// The period.
        period: PeriodType,
    },
    /// An option (`fill_gaps`, `cumulative`, `rolling`) that needs a period.
    NeedsPeriod {
        /// The option.
        option: &'static str,
    },
    /// `rolling` over no periods.
    RollingNeedsPeriods,
    /// A comparison without a time window.
    CompareNeedsWindow {
        /// The comparison.
        comparison: Comparison,
    },
    /// Comparisons or rolling values reach before the calendar's first year.
    BeforeCalendar,
    /// A segment whose dimension table is on another backend than a metric's table.
    SegmentOnAnotherBackend {
        /// The segment.
        segment: String,
        /// Its source.
        segment_source: String,
        /// Its backend.
        segment_backend: BackendKind,
        /// The metric.
        metric: String,
        /// Its source.
        metric_source: String,
        /// Its backend.
        metric_backend: BackendKind,
    },
    /// A spec's fragment that cannot be written in its backend's SQL.
    NotWritable {
        /// The spec (and value) it belongs to: "metric `ctr`".
        owner: String,
        /// The fragment as written.
        fragment: String,
        /// The backend.
        backend: BackendKind,
        /// Why.
        reason: String,
    },
    /// A request filter (`where`) that is not one SQL predicate.
    InvalidFilter {
        /// The filter as given.
        filter: String,
        /// Why.
        reason: String,
    },
    /// A request filter that reads a column a metric's source lacks.
    FilterColumnMissing {
        /// The filter as given.
        filter: String,
        /// The column.
        column: String,
        /// The metric.
        metric: String,
        /// Its source.
        source: String,
    },
    /// A result larger than the engine makes (filled gaps, periods).
    TooLarge {
        /// What and how to make it smaller.
        reason: String,
    },
    /// A period type that is not one.
    InvalidPeriod {
        /// As given.
        given: String,
    },
    /// A week start that is not one.
    InvalidWeekStart {
        /// As given.
        given: String,
    },
    /// A comparison that is not one.
    InvalidComparison {
        /// As given.
        given: String,
    },
    /// A time that cannot be read.
    InvalidTime {
        /// As given.
        given: String,
    },
    /// A time window that ends before it starts.
    EmptyWindow {
        /// Its start, as given.
        start: String,
        /// Its end, as given.
        end: String,
    },
    /// A number of rolling periods out of range.
    InvalidRolling {
        /// As given.
        given: i64,
    },
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let quoted = |names: &[String]| {
            let names: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
            names.join(", ")
        };
        match self {
            RequestError::NoMetrics => f.write_str("no metrics requested; name at least one metric"),
            RequestError::JoinKeyWithoutSegment => f.write_str(
                "a join key was given without a segment; name the segment too (`--segment NAME=JOIN_KEY`)",
            ),
            RequestError::JoinKeyNotAllowed {
                key,
                segment,
                allowed,
            } => write!(
                f,
                "join key `{key}` is not allowed for segment `{segment}`; its join_keys are {}",
                quoted(allowed)
            ),
            RequestError::InvalidName { reason } => f.write_str(reason),
            RequestError::PeriodNeedsWindow { period } => write!(
                f,
                "period `{period}` requires time_window; give one (e.g. `--time-window 2024-01-01,2025-01-01`)"
            ),
            RequestError::NoTimestamp { period, metrics } => {
                let what = if *period == PeriodType::AllTime {
                    "a time window".to_string()
                } else {
                    format!("period `{period}`")
                };
                write!(
                    f,
                    "{what} needs a `timestamp_col` on every metric, and {} has none; add `timestamp_col` to the metric spec, or leave the metric out",
                    quoted(metrics)
                )
            }
            RequestError::EntityNotDeclared { column, metrics } => write!(
                f,
                "by_entity='{column}' is not declared in the `entities` of {}; add it there to allow this breakdown",
                quoted(metrics)
            ),
            RequestError::WeekStartNeedsWeekly { week_start, period } => write!(
                f,
                "week start `{week_start}` applies to weekly periods, and the period is `{period}`; use `--period weekly` or leave the week start out"
            ),
            RequestError::NeedsPeriod { option } => write!(
                f,
                "{option} needs a period other than all_time; give one (e.g. `--period monthly`) with a time window"
            ),
            RequestError::RollingNeedsPeriods => f.write_str(
                "rolling needs at least 1 period (the row's own); give a number such as 3",
            ),
            RequestError::CompareNeedsWindow { comparison } => write!(
                f,
                "compare `{comparison}` needs a time window to compare; give one (e.g. `--time-window 2024-01-01,2025-01-01`)"
            ),
            RequestError::BeforeCalendar => write!(
                f,
                "the periods compared with or rolled over reach before the year {}; use a later window",
                chrono::NaiveDateTime::MIN.format("%Y")
            ),
            RequestError::SegmentOnAnotherBackend {
                segment,
                segment_source,
                segment_backend,
                metric,
                metric_source,
                metric_backend,
            } => write!(
                f,
                "segment `{segment}` reads `{segment_source}` ({segment_backend}), but metric `{metric}` reads `{metric_source}` ({metric_backend}); a segment's dimension table must be on the same backend as the metric's table"
            ),
            RequestError::NotWritable {
                owner,
                fragment,
                backend,
                reason,
            } => write!(
                f,
                "{owner}: `{fragment}` cannot be written for {}: {reason}",
                backend.title()
            ),
            RequestError::InvalidFilter { filter, reason } => {
                write!(f, "filter `{filter}` is not a row predicate: {reason}")
            }
            RequestError::FilterColumnMissing {
                filter,
                column,
                metric,
                source,
            } => write!(
                f,
                "filter `{filter}` reads column `{column}`, which metric `{metric}`'s source `{source}` lacks; filter on its columns, or compute the metric separately"
            ),
            RequestError::TooLarge { reason } => f.write_str(reason),
            RequestError::InvalidPeriod { given } => {
                let names: Vec<&str> = PeriodType::ALL.iter().map(|p| p.as_str()).collect();
                write!(
                    f,
                    "invalid period type `{given}`; use one of {}",
                    names.join(", ")
                )
            }
            RequestError::InvalidWeekStart { given } => write!(
                f,
                "invalid week start `{given}`; use monday, sunday or saturday"
            ),
            RequestError::InvalidComparison { given } => write!(
                f,
                "invalid comparison `{given}`; use previous_period or previous_year"
            ),
            RequestError::InvalidTime { given } => write!(
                f,
                "cannot read `{given}` as a date or time; write `YYYY-MM-DD` or `YYYY-MM-DD HH:MM[:SS]` (no time zone)"
            ),
            RequestError::EmptyWindow { start, end } => write!(
                f,
                "the time window ends ({end}) before it starts ({start}); the end must be later than the start (it is exclusive)"
            ),
            RequestError::InvalidRolling { given } => write!(
                f,
                "rolling needs a number of periods from 1 to {}, got {given}",
                u32::MAX
            ),
        }
    }
}

impl std::error::Error for RequestError {}

impl From<RequestError> for Error {
    fn from(problem: RequestError) -> Self {
        Error::QueryBuild(Box::new(problem))
    }
}

fn suggest(suggestions: &[String]) -> String {
    if suggestions.is_empty() {
        String::new()
    } else {
        format!("; did you mean {}?", quote_list(suggestions))
    }
}

fn quote_list(names: &[String]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    match quoted.len() {
        0 => String::new(),
        1 => quoted[0].clone(),
        n => format!("{} or {}", quoted[..n - 1].join(", "), quoted[n - 1]),
    }
}

impl Error {
    /// The error's class.
    ///
    /// ```
    /// use aitaem::error::RequestError;
    /// let err = aitaem::Error::from(RequestError::NoMetrics);
    /// assert_eq!(err.kind(), aitaem::ErrorKind::QueryBuild);
    /// assert_eq!(err.kind().name(), "QueryBuildError");
    /// ```
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::SpecValidation(_) => ErrorKind::SpecValidation,
            Error::SpecNotFound { .. } => ErrorKind::SpecNotFound,
            Error::QueryBuild(_) => ErrorKind::QueryBuild,
            Error::QueryExecution { .. } => ErrorKind::QueryExecution,
            Error::Configuration { .. } => ErrorKind::Configuration,
            Error::Connection { .. } => ErrorKind::Connection,
            Error::ConnectionNotFound { .. } => ErrorKind::ConnectionNotFound,
            Error::TableNotFound { .. } => ErrorKind::TableNotFound,
            Error::InvalidUri { .. } => ErrorKind::InvalidUri,
            Error::UnsupportedBackend { .. } => ErrorKind::UnsupportedBackend,
            Error::Io { .. } => ErrorKind::Io,
            Error::Load { .. } => ErrorKind::Load,
            Error::Output { .. } => ErrorKind::Output,
            Error::Internal { .. } => ErrorKind::Internal,
        }
    }

    /// The backend's error behind a failed connection or statement.
    pub fn backend_error(&self) -> Option<&BackendError> {
        match self {
            Error::QueryExecution { source, .. } | Error::Connection { source, .. } => Some(source),
            _ => None,
        }
    }

    /// A connection error of a backend.
    pub(crate) fn connection(backend: BackendKind, source: BackendError) -> Self {
        Error::Connection { backend, source }
    }

    /// A fault of the library itself.
    pub(crate) fn internal(message: impl Into<String>) -> Self {
        Error::Internal {
            message: message.into(),
        }
    }

    pub(crate) fn config(location: Option<Location>, message: impl Into<String>) -> Self {
        Error::Configuration {
            location,
            message: message.into(),
        }
    }
}

impl From<SpecValidationError> for Error {
    fn from(err: SpecValidationError) -> Self {
        Error::SpecValidation(err)
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Names from `known` that are close to `name` (for "did you mean" hints), best first.
pub(crate) fn close_names<'a>(name: &str, known: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let lower = name.to_lowercase();
    let mut scored: Vec<(f64, &str)> = known
        .into_iter()
        .map(|k| {
            let k_lower = k.to_lowercase();
            let mut score = strsim::jaro_winkler(&lower, &k_lower);
            if k_lower.contains(&lower) || lower.contains(&k_lower) {
                score = score.max(0.9);
            }
            (score, k)
        })
        .filter(|(score, _)| *score >= 0.8)
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(b.1)));
    scored
        .into_iter()
        .take(3)
        .map(|(_, k)| k.to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_names_ranks_typos_first() {
        let known = ["revenue_total", "revenue_avg", "ctr", "roas"];
        assert_eq!(close_names("revenue_totl", known)[0], "revenue_total");
        assert!(close_names("xyz", known).is_empty());
    }

    #[test]
    fn not_found_message_lists_suggestions() {
        let err = Error::SpecNotFound {
            kind: SpecKind::Metric,
            name: "revenu".into(),
            suggestions: vec!["revenue_total".into(), "revenue_avg".into()],
        };
        assert_eq!(
            err.to_string(),
            "no metric named `revenu`; did you mean `revenue_total` or `revenue_avg`?"
        );
        assert_eq!(err.kind(), ErrorKind::SpecNotFound);
    }
}
