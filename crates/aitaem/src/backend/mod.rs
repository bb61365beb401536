//! Backends: where statements run.
//!
//! Each backend is a module behind a cargo feature (`duckdb`, on by default; `postgres`;
//! `bigquery`) that implements [`Backend`] and is created from its connection settings by
//! [`connect`], the one place that maps settings to a backend. A build without a backend's
//! feature still parses its settings and says in words that it cannot run them.
//!
//! The trait is synchronous: a compute runs each statement on its own thread, DuckDB is a
//! synchronous library, and network backends drive their asynchronous clients on a shared
//! runtime (see `docs/development.md`).

#[cfg(feature = "bigquery")]
pub(crate) mod bigquery;
#[cfg(feature = "duckdb")]
pub(crate) mod duckdb;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(any(feature = "postgres", feature = "bigquery"))]
mod runtime;

use std::sync::Arc;
use std::time::Duration;

use arrow::record_batch::RecordBatch;

use crate::config::paths::PathResolver;
use crate::config::{AccessMode, BackendConfig};
use crate::error::{BackendError, Error, Result};
use crate::plan::Table;
use crate::source::{BackendKind, SourceUri};

/// A column of a table, as the backend reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// The column name.
    pub name: String,
    /// The backend's type name, e.g. `BIGINT` or `TIMESTAMP`.
    pub data_type: String,
}

/// What every backend provides.
pub(crate) trait Backend: Send + Sync {
    /// How a source is read in a `FROM` clause of this backend, after checking that the table
    /// or file exists.
    fn table(&self, source: &SourceUri) -> Result<Table>;

    /// Runs one read-only statement.
    fn query(&self, sql: &str) -> std::result::Result<Vec<RecordBatch>, BackendError>;

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
    match config {
        #[cfg(feature = "duckdb")]
        BackendConfig::DuckDb(settings) => Ok(Arc::new(duckdb::DuckDb::open(
            &settings.path,
            opening.access.min(settings.access),
            opening.lock_wait,
            paths.clone(),
        )?)),
        #[cfg(feature = "postgres")]
        BackendConfig::Postgres(settings) => {
            Ok(Arc::new(postgres::Postgres::open(settings, paths)?))
        }
        #[cfg(feature = "bigquery")]
        BackendConfig::BigQuery(settings) => {
            Ok(Arc::new(bigquery::BigQuery::open(settings, paths)?))
        }
        #[allow(unreachable_patterns)]
        other => {
            let _ = (paths, opening);
            Err(not_built(other.backend()))
        }
    }
}

/// The error for a backend this build was compiled without.
fn not_built(backend: BackendKind) -> Error {
    let (name, feature) = match backend {
        BackendKind::DuckDb => ("DuckDB", "duckdb"),
        BackendKind::Postgres => ("PostgreSQL", "postgres"),
        BackendKind::BigQuery => ("BigQuery", "bigquery"),
    };
    Error::UnsupportedBackend {
        backend: backend.to_string(),
        message: format!(
            "this build of aitaem has no {name} support; build it with the `{feature}` feature"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_backend_left_out_of_the_build_says_so() {
        let err = not_built(BackendKind::BigQuery);
        assert_eq!(err.kind(), crate::ErrorKind::UnsupportedBackend);
        assert_eq!(
            err.to_string(),
            "this build of aitaem has no BigQuery support; build it with the `bigquery` feature"
        );
    }
}
