//! Backends: the databases statements run on.
//!
//! Each backend is one folder (`duckdb/`, `postgres/`, `bigquery/`, `spark/`) with everything that is its
//! own: how its source URIs read, its settings in `connections.yaml`, its SQL dialect (with the
//! rewrite of spec fragments), how its errors read, and its client (a connection) behind a cargo
//! feature of the same name. It reaches the rest of the library through one driver in one table
//! of drivers, as sqlx's `Any` driver picks a database by URL scheme: [`backends`] lists them. A build without a backend's feature still reads its URIs and settings and plans
//! its statements, and says in words that it cannot run them.
//!
//! Connections are synchronous: a compute runs each statement on its own thread, DuckDB is a
//! synchronous library, and network backends drive their asynchronous clients on a shared
//! runtime (see `docs/development.md`).

pub mod bigquery;
pub mod duckdb;
pub mod postgres;
#[cfg(any(feature = "postgres", feature = "bigquery", feature = "spark"))]
mod runtime;
pub mod spark;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use arrow::record_batch::RecordBatch;

use crate::cancel::Cancel;
use crate::catalog::{Column, Table};
use crate::config::paths::PathResolver;
use crate::config::{AccessMode, BackendConfig, SettingsReader};
use crate::error::{BackendError, Error, Result};
use crate::source::{Source, SourceUri};
use crate::sql::Dialect;

/// Every backend, in the order `connections.yaml` documents them: the one list a new backend
/// joins.
const DRIVERS: &[BackendKind] = &[
    BackendKind::DUCKDB,
    BackendKind::POSTGRES,
    BackendKind::BIGQUERY,
    BackendKind::SPARK,
];

/// What a backend is to the rest of the library: its names, its source URIs, its settings, its
/// dialect, and how to connect to it.
pub(crate) trait Driver: Send + Sync {
    /// The name in source URIs and `connections.yaml`: `postgres`.
    fn name(&self) -> &'static str;

    /// Other names a source URI may start with: `postgresql`.
    fn aliases(&self) -> &'static [&'static str] {
        &[]
    }

    /// The product's name, for messages: `PostgreSQL`.
    fn title(&self) -> &'static str;

    /// Parses what follows `name://` in a source URI; the error says what is wrong and which
    /// forms are accepted.
    fn parse_source(&self, rest: &str) -> std::result::Result<Source, String>;

    /// A source's database part and table part, as the original library's
    /// `ConnectionManager.parse_source_uri` splits a URI (empty when the connection decides).
    fn database_and_table(&self, source: &Source) -> (String, String);

    /// Reads the backend's block of `connections.yaml` (or the same settings from a program);
    /// problems are recorded in `block`, and `None` is returned when there are any.
    fn settings(&self, block: &mut SettingsReader) -> Option<BackendConfig>;

    /// What to add to `connections.yaml` for this backend, for errors about a missing
    /// connection.
    fn how_to_configure(&self) -> &'static str;

    /// Its SQL dialect.
    fn dialect(&self) -> &'static dyn Dialect;

    /// Whether it runs inside this process (opening it costs no round trip to a server).
    fn is_embedded(&self) -> bool {
        false
    }

    /// The settings of a connection for a source that needs no configuration (files that
    /// DuckDB reads), or `None`: the source needs a configured connection.
    fn implicit(&self, source: &Source) -> Option<BackendConfig> {
        let _ = source;
        None
    }

    /// Opens a connection with these settings (which are this backend's).
    fn open(
        &self,
        config: &BackendConfig,
        paths: &PathResolver,
        opening: Opening,
    ) -> Result<Arc<dyn Backend>>;
}

/// A kind of backend: DuckDB, PostgreSQL, BigQuery, Spark. [`backends`] lists them all.
///
/// ```
/// use aitaem::backend::BackendKind;
/// let kind = BackendKind::from_name("postgresql").unwrap();
/// assert_eq!(kind, BackendKind::POSTGRES);
/// assert_eq!((kind.name(), kind.title()), ("postgres", "PostgreSQL"));
/// assert!(BackendKind::DUCKDB.is_embedded());
/// assert_eq!(BackendKind::BIGQUERY.quote("a`b"), r"`a\`b`");
/// ```
#[derive(Clone, Copy)]
pub struct BackendKind(&'static dyn Driver);

impl BackendKind {
    /// The name used in URIs and in `connections.yaml`: `duckdb`, `postgres`, `bigquery`, `spark`.
    pub fn name(self) -> &'static str {
        self.0.name()
    }

    /// The product's name, for messages: `DuckDB`, `PostgreSQL`, `BigQuery`, `Spark`.
    pub fn title(self) -> &'static str {
        self.0.title()
    }

    /// The backend of a name used in URIs and `connections.yaml` (in any case), or one of its
    /// aliases (`postgresql`).
    pub fn from_name(name: &str) -> Option<BackendKind> {
        let name = name.to_ascii_lowercase();
        backends().find(|b| b.name() == name || b.0.aliases().contains(&name.as_str()))
    }

    /// Whether the backend runs inside this process (DuckDB).
    pub fn is_embedded(self) -> bool {
        self.0.is_embedded()
    }

    /// A name (a table, schema or column) quoted for this backend's SQL, exactly as given.
    pub fn quote(self, name: &str) -> String {
        self.0.dialect().quote(name)
    }

    pub(crate) fn driver(self) -> &'static dyn Driver {
        self.0
    }

    pub(crate) fn dialect(self) -> &'static dyn Dialect {
        self.0.dialect()
    }

    /// The position in [`backends`].
    fn index(self) -> usize {
        DRIVERS
            .iter()
            .position(|b| b.name() == self.name())
            .unwrap_or(usize::MAX)
    }
}

/// Every backend, in the order `connections.yaml` documents them.
pub fn backends() -> impl Iterator<Item = BackendKind> {
    DRIVERS.iter().copied()
}

/// The backends' names, as a sentence: `duckdb, postgres, bigquery and spark`.
pub(crate) fn names() -> String {
    let names: Vec<&str> = backends().map(BackendKind::name).collect();
    match names.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        _ => names.join(""),
    }
}

impl PartialEq for BackendKind {
    fn eq(&self, other: &Self) -> bool {
        self.name() == other.name()
    }
}

impl Eq for BackendKind {}

impl std::hash::Hash for BackendKind {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.name().hash(state);
    }
}

impl PartialOrd for BackendKind {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for BackendKind {
    /// In the order of [`backends`].
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.index().cmp(&other.index())
    }
}

impl fmt::Debug for BackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BackendKind({})", self.name())
    }
}

impl fmt::Display for BackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What every backend's connection provides.
pub(crate) trait Backend: Send + Sync {
    /// How a source is read in a `FROM` clause of this backend, after checking that the table
    /// or file exists.
    fn table(&self, source: &SourceUri) -> Result<Table>;

    /// Runs one read-only statement, stopped (as cancelled) when `cancel` is. A statement the
    /// backend rejects gives an error with the position in `sql` it points at and the name it
    /// does not know, where the backend says.
    fn query(
        &self,
        sql: &str,
        cancel: &Cancel,
    ) -> std::result::Result<Vec<RecordBatch>, BackendError>;

    /// The backend's query plan of a statement, as text.
    fn explain(&self, sql: &str) -> std::result::Result<String, BackendError>;

    /// Stops the statements running now, from another thread; they fail with a
    /// [`BackendErrorKind::Cancelled`](crate::error::BackendErrorKind::Cancelled) error.
    /// Backends that cannot stop a statement let it finish.
    fn interrupt(&self) {}

    /// The bytes a statement would process, for backends that bill by bytes read (a dry run,
    /// which costs nothing); `None` for the others.
    fn estimate(&self, sql: &str) -> Option<std::result::Result<u64, BackendError>> {
        let _ = sql;
        None
    }

    /// The backend's tables and views, as source URIs.
    fn list_tables(&self) -> Result<Vec<String>>;

    /// The columns of a source.
    fn describe(&self, source: &SourceUri) -> Result<Vec<Column>>;
}

/// How a connection is opened.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Opening {
    /// The most the caller needs: read-only callers open read-only whatever the settings say.
    pub access: AccessMode,
    /// How long to wait for a database another process is writing.
    pub lock_wait: Duration,
}

/// Opens the backend that `config` describes. `paths` resolves relative file paths.
pub(crate) fn connect(
    config: &BackendConfig,
    paths: &PathResolver,
    opening: Opening,
) -> Result<Arc<dyn Backend>> {
    config.backend().driver().open(config, paths, opening)
}

/// The 1-based character position of a place in `sql` given by its line and column (both
/// 1-based, the column counted in characters), as backends that report places so say them.
#[cfg_attr(
    not(any(feature = "duckdb", feature = "bigquery", feature = "spark")),
    allow(dead_code)
)]
pub(crate) fn char_position(sql: &str, line: usize, column: usize) -> Option<u32> {
    let mut lines = sql.split('\n');
    let before: usize = lines
        .by_ref()
        .take(line.checked_sub(1)?)
        .map(|l| l.chars().count() + 1)
        .sum();
    let here = lines.next()?;
    (column >= 1 && column <= here.chars().count() + 1)
        .then(|| u32::try_from(before + column).ok())
        .flatten()
}

/// The error for a backend this build was compiled without (its cargo feature has its name).
#[cfg_attr(
    all(
        feature = "duckdb",
        feature = "postgres",
        feature = "bigquery",
        feature = "spark"
    ),
    allow(dead_code)
)]
pub(crate) fn not_built(backend: BackendKind) -> Error {
    Error::UnsupportedBackend {
        backend: backend.to_string(),
        message: format!(
            "this build of aitaem has no {} support; build it with the `{}` feature",
            backend.title(),
            backend.name()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_backend_left_out_of_the_build_says_so() {
        let err = not_built(BackendKind::BIGQUERY);
        assert_eq!(err.kind(), crate::ErrorKind::UnsupportedBackend);
        assert_eq!(
            err.to_string(),
            "this build of aitaem has no BigQuery support; build it with the `bigquery` feature"
        );
    }

    #[test]
    fn backends_are_named_ordered_and_found_by_any_of_their_names() {
        assert_eq!(names(), "duckdb, postgres, bigquery and spark");
        assert!(BackendKind::DUCKDB < BackendKind::POSTGRES);
        assert!(BackendKind::POSTGRES < BackendKind::BIGQUERY);
        assert!(BackendKind::BIGQUERY < BackendKind::SPARK);
        assert_eq!(
            BackendKind::from_name("databricks"),
            Some(BackendKind::SPARK)
        );
        assert_eq!(
            BackendKind::from_name("BigQuery"),
            Some(BackendKind::BIGQUERY)
        );
        assert_eq!(BackendKind::from_name("mysql"), None);
    }
}
