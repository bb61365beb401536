//! DuckDB, embedded: database files, in-memory databases, and CSV, Parquet and JSON files read
//! directly. Its client (`client`) and loading CSV files into a database (`load`) need the
//! `duckdb` feature.
//!
//! Source URIs: `duckdb://DATABASE/[SCHEMA.]TABLE` (`duckdb:///abs/path.db/t` for an absolute
//! path; `duckdb://t` or `duckdb://:memory:/t` for the configured database), and files by their
//! extension: `duckdb://data/events.csv`, `duckdb://logs/*.parquet`.
//!
//! ```yaml
//! duckdb:
//!   path: data/analytics.db      # required: a file, or ":memory:"
//!   read_only: false             # default false
//! ```

#[cfg(feature = "duckdb")]
pub(crate) mod client;
mod dialect;
#[cfg(feature = "duckdb")]
pub(crate) mod load;

use std::any::Any;
use std::sync::Arc;

use super::{Backend, BackendKind, Driver, Opening};
use crate::config::paths::PathResolver;
use crate::config::{AccessMode, BackendConfig, Settings, SettingsReader};
use crate::error::Result;
use crate::source::{FileFormat, FileSource, Source, TableName, split_table};
use crate::sql::Dialect;

impl BackendKind {
    /// Embedded DuckDB (also for CSV, Parquet and JSON files).
    pub const DUCKDB: BackendKind = BackendKind(&DuckDbDriver);
}

/// The dialect's one instance.
pub(crate) const DIALECT: &dialect::DuckDbDialect = &dialect::DuckDbDialect;

/// DuckDB connection settings.
///
/// ```
/// use aitaem::backend::duckdb::DuckDbConfig;
/// use aitaem::config::AccessMode;
/// let config = DuckDbConfig::new("analytics.db").read_only(true);
/// assert_eq!((config.path(), config.access()), ("analytics.db", AccessMode::ReadOnly));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DuckDbConfig {
    path: String,
    access: AccessMode,
}

impl DuckDbConfig {
    /// Settings for a database file (or `:memory:`), opened read-write.
    pub fn new(path: impl Into<String>) -> Self {
        DuckDbConfig {
            path: path.into(),
            access: AccessMode::ReadWrite,
        }
    }

    /// The same settings, opened read-only (`read_only: true` in `connections.yaml`) or not.
    pub fn read_only(mut self, read_only: bool) -> Self {
        self.access = if read_only {
            AccessMode::ReadOnly
        } else {
            AccessMode::ReadWrite
        };
        self
    }

    /// A database file, or `:memory:`. Relative paths resolve as described in
    /// [`ConnectionManager`](crate::ConnectionManager).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// How the database is opened.
    pub fn access(&self) -> AccessMode {
        self.access
    }
}

impl Settings for DuckDbConfig {
    fn backend(&self) -> BackendKind {
        BackendKind::DUCKDB
    }

    fn local_file(&self) -> Option<&str> {
        (self.path != ":memory:").then_some(self.path.as_str())
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn same(&self, other: &dyn Settings) -> bool {
        other.as_any().downcast_ref() == Some(self)
    }
}

impl From<DuckDbConfig> for BackendConfig {
    fn from(config: DuckDbConfig) -> Self {
        BackendConfig::new(config)
    }
}

struct DuckDbDriver;

impl Driver for DuckDbDriver {
    fn name(&self) -> &'static str {
        "duckdb"
    }

    fn title(&self) -> &'static str {
        "DuckDB"
    }

    fn parse_source(&self, rest: &str) -> std::result::Result<Source, String> {
        if rest.is_empty() {
            return Err("the table is missing: use `duckdb://database.db/table`".into());
        }
        let file_path = rest.strip_prefix(":memory:/").unwrap_or(rest);
        if let Some(format) = FileFormat::of_path(file_path) {
            return Ok(Source::File(FileSource::new(file_path, format)));
        }
        if file_path.contains('*') {
            return Err(
                "a glob must end in a file extension DuckDB reads: .csv, .tsv, .parquet, .json, .jsonl or .ndjson"
                    .into(),
            );
        }
        let (database, table) = match rest.rsplit_once('/') {
            Some((db, table)) => (db, table),
            None => ("", rest),
        };
        let catalog = match database {
            "" | ":memory:" => None,
            path => Some(path.to_string()),
        };
        let (schema, table) = split_table(table, "duckdb://database.db/schema.table")?;
        Ok(Source::Table(TableName::new(catalog, schema, table)))
    }

    fn database_and_table(&self, source: &Source) -> (String, String) {
        match source {
            Source::Table(table) => (
                table.catalog().unwrap_or_default().to_string(),
                table.qualified(),
            ),
            Source::File(file) => (String::new(), file.path().to_string()),
        }
    }

    fn settings(&self, block: &mut SettingsReader) -> Option<BackendConfig> {
        if !block.fields(&["path", "read_only"], &["path"]) {
            return None;
        }
        let path = block.text("path");
        let read_only = block.boolean("read_only").unwrap_or(false);
        Some(DuckDbConfig::new(path?).read_only(read_only).into())
    }

    fn how_to_configure(&self) -> &'static str {
        "add `duckdb:` with a `path:` to connections.yaml"
    }

    fn dialect(&self) -> &'static dyn Dialect {
        DIALECT
    }

    fn is_embedded(&self) -> bool {
        true
    }

    /// Files are read by an in-memory DuckDB when no DuckDB connection is configured.
    fn implicit(&self, source: &Source) -> Option<BackendConfig> {
        matches!(source, Source::File(_)).then(|| DuckDbConfig::new(":memory:").into())
    }

    fn open(
        &self,
        config: &BackendConfig,
        paths: &PathResolver,
        opening: Opening,
    ) -> Result<Arc<dyn Backend>> {
        let settings: &DuckDbConfig = config.get().expect("DuckDB settings");
        #[cfg(feature = "duckdb")]
        return Ok(Arc::new(client::DuckDb::open(
            &settings.path,
            opening.access.min(settings.access),
            opening.lock_wait,
            paths.clone(),
        )?));
        #[cfg(not(feature = "duckdb"))]
        {
            let _ = (settings, paths, opening);
            Err(super::not_built(BackendKind::DUCKDB))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::SourceUri;

    fn parse(uri: &str) -> Source {
        SourceUri::parse(uri)
            .unwrap_or_else(|e| panic!("{uri}: {e}"))
            .source()
            .clone()
    }

    fn table(db: Option<&str>, schema: Option<&str>, table: &str) -> Source {
        Source::Table(TableName::new(
            db.map(str::to_string),
            schema.map(str::to_string),
            table,
        ))
    }

    fn file(path: &str, format: FileFormat) -> Source {
        Source::File(FileSource::new(path, format))
    }

    #[test]
    fn uri_forms() {
        assert_eq!(
            parse("duckdb://analytics.db/events"),
            table(Some("analytics.db"), None, "events")
        );
        assert_eq!(
            parse("duckdb://:memory:/events"),
            table(None, None, "events")
        );
        assert_eq!(parse("duckdb://events"), table(None, None, "events"));
        assert_eq!(
            parse("duckdb:///abs/path/to/db/events"),
            table(Some("/abs/path/to/db"), None, "events")
        );
        assert_eq!(
            parse("duckdb://data/a.duckdb/sales.orders"),
            table(Some("data/a.duckdb"), Some("sales"), "orders")
        );
        assert_eq!(
            parse("duckdb://db.duckdb/My Table"),
            table(Some("db.duckdb"), None, "My Table")
        );
        assert_eq!(
            parse("duckdb://:memory:/data/ev.CSV"),
            file("data/ev.CSV", FileFormat::Csv)
        );
        assert_eq!(
            parse("duckdb:///abs/ev.parquet"),
            file("/abs/ev.parquet", FileFormat::Parquet)
        );
        assert_eq!(
            parse("duckdb://logs/*.jsonl.gz"),
            file("logs/*.jsonl.gz", FileFormat::Json)
        );
    }

    #[test]
    fn malformed_uris_say_what_is_wrong() {
        for (uri, fragment) in [
            ("duckdb://", "missing"),
            ("duckdb://db/a.b.c", "not a table name"),
            ("duckdb://db/", "not a table name"),
            ("duckdb://logs/*", "glob"),
        ] {
            let err = SourceUri::parse(uri).unwrap_err().to_string();
            assert!(err.contains(fragment), "{uri}: {err}");
        }
    }
}
