//! Backends: where statements run.
//!
//! Each backend resolves source URIs to relations in its SQL, runs read-only statements and
//! returns Arrow record batches, and lists and describes its tables.

pub(crate) mod duckdb;

use arrow::record_batch::RecordBatch;

use crate::error::Result;
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
    /// Which backend this is.
    fn kind(&self) -> BackendKind;

    /// The SQL that reads a source in a `FROM` clause (a quoted table name, or a file reader),
    /// after checking that the table or file exists.
    fn relation(&self, source: &SourceUri) -> Result<String>;

    /// Runs one read-only statement. The error is the backend's own message.
    fn query(&self, sql: &str) -> std::result::Result<Vec<RecordBatch>, String>;

    /// Explains a statement: the backend's query plan as text.
    fn explain(&self, sql: &str) -> std::result::Result<String, String>;

    /// The backend's tables and views, as source URIs.
    fn list_tables(&self) -> Result<Vec<String>>;

    /// The columns of a source.
    fn describe(&self, source: &SourceUri) -> Result<Vec<Column>>;
}
