//! Error kinds.
//!
//! Every fallible call returns [`Error`]. Its variants mirror the exception classes of the
//! original Python library, and [`Error::kind`] gives that class name (for example
//! `SpecValidationError`), so scripts and future Python bindings can tell them apart.
//! Each error says what went wrong and, where it can, what to change.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A position in a YAML file (1-based line and character column).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The file, or `None` for specs loaded from strings.
    pub file: Option<Arc<Path>>,
    /// 1-based line.
    pub line: u32,
    /// 1-based column, counted in characters.
    pub column: u32,
}

impl Location {
    /// A location without a line (the whole file, e.g. when it cannot be read).
    pub fn file(file: Option<Arc<Path>>) -> Self {
        Location {
            file,
            line: 0,
            column: 0,
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match &self.file {
            Some(path) => path.display().to_string(),
            None => "<string>".to_string(),
        };
        if self.line == 0 {
            write!(f, "{name}")
        } else {
            write!(f, "{name}:{}:{}", self.line, self.column)
        }
    }
}

/// One problem found while loading or validating a spec.
#[derive(Debug, Clone, PartialEq, Eq)]
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

/// The three kinds of spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SpecKind {
    /// A metric (`metric:`).
    Metric,
    /// A slice (`slice:`).
    Slice,
    /// A segment (`segment:`).
    Segment,
}

impl SpecKind {
    /// The YAML top-level key and the word users see: `metric`, `slice`, `segment`.
    pub fn as_str(self) -> &'static str {
        match self {
            SpecKind::Metric => "metric",
            SpecKind::Slice => "slice",
            SpecKind::Segment => "segment",
        }
    }
}

impl fmt::Display for SpecKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The library's error type. See the module documentation.
#[derive(Debug, thiserror::Error)]
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
    #[error("{message}")]
    QueryBuild {
        /// What is wrong and what to change.
        message: String,
    },
    /// The backend failed to run a statement.
    #[error("computing {} on {source_uri} failed: {message}", quote_list(.metrics))]
    QueryExecution {
        /// The metrics the failing statement computed.
        metrics: Vec<String>,
        /// The source the statement read.
        source_uri: String,
        /// The backend's message.
        message: String,
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
    #[error("{backend}: {message}")]
    Connection {
        /// The backend (`duckdb`, `postgres`, `bigquery`).
        backend: String,
        /// What failed.
        message: String,
    },
    /// No connection is configured for the backend a source needs.
    #[error("{message}")]
    ConnectionNotFound {
        /// The backend that has no connection.
        backend: String,
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
    /// A backend this build or this version does not support.
    #[error("{message}")]
    UnsupportedBackend {
        /// The backend name.
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
    /// The error's kind, named like the original library's exception class.
    ///
    /// ```
    /// let err = aitaem::Error::QueryBuild { message: "period `daily` needs a time window".into() };
    /// assert_eq!(err.kind(), "QueryBuildError");
    /// ```
    pub fn kind(&self) -> &'static str {
        match self {
            Error::SpecValidation(_) => "SpecValidationError",
            Error::SpecNotFound { .. } => "SpecNotFoundError",
            Error::QueryBuild { .. } => "QueryBuildError",
            Error::QueryExecution { .. } => "QueryExecutionError",
            Error::Configuration { .. } => "ConfigurationError",
            Error::Connection { .. } => "ConnectionError",
            Error::ConnectionNotFound { .. } => "ConnectionNotFoundError",
            Error::TableNotFound { .. } => "TableNotFoundError",
            Error::InvalidUri { .. } => "InvalidURIError",
            Error::UnsupportedBackend { .. } => "UnsupportedBackendError",
            Error::Io { .. } => "IOError",
            Error::Load { .. } => "LoadError",
            Error::Output { .. } => "OutputError",
        }
    }

    pub(crate) fn query_build(message: impl Into<String>) -> Self {
        Error::QueryBuild {
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
        assert_eq!(err.kind(), "SpecNotFoundError");
    }
}
