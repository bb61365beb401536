//! What planning learns about sources: which backend reads a source, how the backend names it in
//! SQL, and which columns it has.
//!
//! [`ConnectionManager`](crate::ConnectionManager) answers from the live backends; a plan can
//! also be built against any other catalog, with no database at all (see [`crate::plan::plan`]).

use std::path::PathBuf;

use crate::backend::BackendKind;
use crate::error::Result;
use crate::source::SourceUri;

/// Where planning learns about sources.
///
/// ```
/// use aitaem::catalog::{Catalog, Column, Table};
/// use aitaem::backend::BackendKind;
/// use aitaem::source::SourceUri;
///
/// /// Every source is a PostgreSQL table of its own name.
/// struct Tables;
/// impl Catalog for Tables {
///     fn table(&self, source: &SourceUri) -> aitaem::Result<Table> {
///         let name = source.as_str().rsplit('/').next().unwrap();
///         Ok(Table::new(BackendKind::POSTGRES, BackendKind::POSTGRES.quote(name)))
///     }
///     fn columns(&self, _source: &SourceUri) -> aitaem::Result<Vec<Column>> {
///         Ok(Vec::new())
///     }
/// }
/// let source = SourceUri::parse("postgres://public/events").unwrap();
/// assert_eq!(Tables.table(&source).unwrap().relation(), "\"events\"");
/// ```
pub trait Catalog {
    /// The backend that reads `source` and the SQL that names it there; an error when the
    /// source does not exist or no backend can read it.
    fn table(&self, source: &SourceUri) -> Result<Table>;

    /// The columns of a source, with the backend's type names.
    fn columns(&self, source: &SourceUri) -> Result<Vec<Column>>;
}

/// A source as a statement reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    backend: BackendKind,
    relation: String,
    file: Option<PathBuf>,
    notice: Option<String>,
    columns: Option<Vec<Column>>,
}

impl Table {
    /// A table on `backend`, read in a `FROM` clause as `relation` (a quoted name, or a call
    /// of a file reader).
    pub fn new(backend: BackendKind, relation: impl Into<String>) -> Table {
        Table {
            backend,
            relation: relation.into(),
            file: None,
            notice: None,
            columns: None,
        }
    }

    /// The same table, read from a local file (see [`Table::file`]).
    pub fn with_file(mut self, file: PathBuf) -> Table {
        self.file = Some(file);
        self
    }

    /// The same table, with something the user should know about how it was found.
    pub fn with_notice(mut self, notice: impl Into<String>) -> Table {
        self.notice = Some(notice.into());
        self
    }

    /// The same table, with the columns its lookup learned (so that planning does not ask the
    /// backend for them again).
    pub fn with_columns(mut self, columns: Vec<Column>) -> Table {
        self.columns = Some(columns);
        self
    }

    /// The backend it lives on (a statement that reads it is written in its dialect).
    pub fn backend(&self) -> BackendKind {
        self.backend
    }

    /// The SQL that reads it in a `FROM` clause.
    pub fn relation(&self) -> &str {
        &self.relation
    }

    /// The local file it is read from, as an absolute path: a CSV, Parquet or JSON file (or a
    /// glob of them), or the database file that holds the table; `None` on a server.
    pub fn file(&self) -> Option<&std::path::Path> {
        self.file.as_deref()
    }

    /// Something the user should know about how the source was found (printed as a warning).
    pub fn notice(&self) -> Option<&str> {
        self.notice.as_deref()
    }

    /// Its columns, when looking it up learned them (else [`Catalog::columns`] tells).
    pub fn columns(&self) -> Option<&[Column]> {
        self.columns.as_deref()
    }
}

/// A column of a table, as the backend reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Column {
    /// The column name.
    pub name: String,
    /// The backend's type name, e.g. `BIGINT` or `TIMESTAMP`.
    pub data_type: String,
}

impl Column {
    /// A column of a name and a type.
    pub fn new(name: impl Into<String>, data_type: impl Into<String>) -> Column {
        Column {
            name: name.into(),
            data_type: data_type.into(),
        }
    }
}
