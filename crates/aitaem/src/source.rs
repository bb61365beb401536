//! Source URIs: where a metric's fact table or a segment's dimension table lives.
//!
//! | form | meaning |
//! |---|---|
//! | `duckdb://analytics.db/events` | table `events` in the DuckDB database `analytics.db` |
//! | `duckdb://analytics.db/sales.orders` | table `orders` in schema `sales` |
//! | `duckdb:///abs/path/analytics.db/events` | a database at an absolute path |
//! | `duckdb://:memory:/events`, `duckdb://events` | table `events` in the configured DuckDB database |
//! | `duckdb://data/events.csv`, `duckdb:///abs/events.parquet`, `duckdb://logs/*.csv` | files read directly by DuckDB |
//! | `postgres://public/events`, `postgres:///events` | a PostgreSQL table (schema optional) |
//! | `bigquery://project.dataset.table`, `bigquery://project/dataset.table`, `bigquery://dataset.table` | a BigQuery table (the last in the connection's project) |
//!
//! A DuckDB URI's file forms are recognised by the extension of the last path segment (`.csv`,
//! `.tsv`, `.parquet`, `.json`, `.jsonl`, `.ndjson`, optionally followed by `.gz` or `.zst`) or by a
//! `*` glob. How relative paths resolve is described in `ConnectionManager`.

use std::fmt;

use crate::error::{Error, Result};

/// The backends a source can live on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BackendKind {
    /// Embedded DuckDB (also for CSV, Parquet and JSON files).
    DuckDb,
    /// PostgreSQL.
    Postgres,
    /// Google BigQuery.
    BigQuery,
}

impl BackendKind {
    /// All backends, in configuration-file order.
    pub const ALL: [BackendKind; 3] = [
        BackendKind::DuckDb,
        BackendKind::Postgres,
        BackendKind::BigQuery,
    ];

    /// The name used in URIs and in `connections.yaml`.
    pub fn as_str(self) -> &'static str {
        match self {
            BackendKind::DuckDb => "duckdb",
            BackendKind::Postgres => "postgres",
            BackendKind::BigQuery => "bigquery",
        }
    }

    /// The SQL dialect of the backend.
    pub fn dialect(self) -> crate::sql::Dialect {
        match self {
            BackendKind::DuckDb => crate::sql::Dialect::DuckDb,
            BackendKind::Postgres => crate::sql::Dialect::Postgres,
            BackendKind::BigQuery => crate::sql::Dialect::BigQuery,
        }
    }

    /// Parses a backend name as used in `connections.yaml` and URIs.
    pub fn from_name(name: &str) -> Option<BackendKind> {
        match name.to_ascii_lowercase().as_str() {
            "duckdb" => Some(BackendKind::DuckDb),
            "postgres" | "postgresql" => Some(BackendKind::Postgres),
            "bigquery" => Some(BackendKind::BigQuery),
            _ => None,
        }
    }
}

impl fmt::Display for BackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which DuckDB database a `duckdb://` table URI names.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum DuckDbDatabase {
    /// No path, or `:memory:`: the configured DuckDB connection's own database.
    Configured,
    /// A database file path as written (relative or absolute).
    Path(String),
}

/// File formats DuckDB reads directly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileFormat {
    /// CSV or TSV (types inferred like `read_csv_auto`).
    Csv,
    /// Parquet.
    Parquet,
    /// JSON or newline-delimited JSON.
    Json,
}

/// A parsed source URI.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Source {
    /// A table in a DuckDB database.
    DuckDbTable {
        /// The database.
        database: DuckDbDatabase,
        /// The schema, when qualified.
        schema: Option<String>,
        /// The table.
        table: String,
    },
    /// A file (or glob) read by DuckDB.
    DuckDbFile {
        /// The path as written.
        path: String,
        /// Its format.
        format: FileFormat,
    },
    /// A PostgreSQL table.
    Postgres {
        /// The schema; `None` uses the server's search path.
        schema: Option<String>,
        /// The table.
        table: String,
    },
    /// A BigQuery table.
    BigQuery {
        /// The project; `None` for the connection's.
        project: Option<String>,
        /// The dataset.
        dataset: String,
        /// The table.
        table: String,
    },
}

/// A source URI: the text as written and what it names.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SourceUri {
    /// The URI as written.
    pub uri: String,
    /// What it names.
    pub source: Source,
}

impl SourceUri {
    /// Parses and validates a source URI.
    ///
    /// ```
    /// use aitaem::source::{SourceUri, Source, BackendKind};
    /// let uri = SourceUri::parse("bigquery://my-project/analytics.events").unwrap();
    /// assert_eq!(uri.backend(), BackendKind::BigQuery);
    /// assert!(matches!(uri.source, Source::BigQuery { ref table, .. } if table == "events"));
    /// assert!(matches!(SourceUri::parse("bigquery://analytics.events").unwrap().source, Source::BigQuery { project: None, .. }));
    /// assert!(SourceUri::parse("bigquery://events").is_err());
    /// ```
    pub fn parse(uri: &str) -> Result<SourceUri> {
        let invalid = |message: String| Error::InvalidUri {
            uri: uri.to_string(),
            message,
        };
        let trimmed = uri.trim();
        if let Some(c) = trimmed.chars().find(|c| c.is_control()) {
            return Err(invalid(format!("contains the control character {c:?}")));
        }
        let Some((scheme, rest)) = trimmed.split_once("://") else {
            return Err(invalid(
                "a source URI starts with `duckdb://`, `postgres://` or `bigquery://`".into(),
            ));
        };
        let source = match BackendKind::from_name(scheme) {
            Some(BackendKind::DuckDb) => parse_duckdb(rest).map_err(invalid)?,
            Some(BackendKind::Postgres) => parse_postgres(rest).map_err(invalid)?,
            Some(BackendKind::BigQuery) => parse_bigquery(rest).map_err(invalid)?,
            None => {
                return Err(Error::UnsupportedBackend {
                    backend: scheme.to_string(),
                    message: format!(
                        "source `{uri}`: unsupported backend `{scheme}`; supported backends are duckdb, postgres and bigquery"
                    ),
                });
            }
        };
        Ok(SourceUri {
            uri: trimmed.to_string(),
            source,
        })
    }

    /// The connection that reads the source when none is configured for its backend: an
    /// in-memory DuckDB for files; `None` for tables, which need a configured connection.
    pub fn default_connection(&self) -> Option<crate::config::BackendConfig> {
        match self.source {
            Source::DuckDbFile { .. } => Some(crate::config::BackendConfig::DuckDb(
                crate::config::DuckDbConfig::new(":memory:"),
            )),
            _ => None,
        }
    }

    /// The backend the source lives on.
    pub fn backend(&self) -> BackendKind {
        match self.source {
            Source::DuckDbTable { .. } | Source::DuckDbFile { .. } => BackendKind::DuckDb,
            Source::Postgres { .. } => BackendKind::Postgres,
            Source::BigQuery { .. } => BackendKind::BigQuery,
        }
    }
}

impl fmt::Display for SourceUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.uri)
    }
}

fn file_format(path: &str) -> Option<FileFormat> {
    let name = path.rsplit('/').next().unwrap_or(path).to_ascii_lowercase();
    let name = name
        .strip_suffix(".gz")
        .or_else(|| name.strip_suffix(".zst"))
        .unwrap_or(&name);
    let ext = name.rsplit_once('.').map(|(_, ext)| ext)?;
    match ext {
        "csv" | "tsv" => Some(FileFormat::Csv),
        "parquet" => Some(FileFormat::Parquet),
        "json" | "jsonl" | "ndjson" => Some(FileFormat::Json),
        _ => None,
    }
}

fn parse_duckdb(rest: &str) -> Result<Source, String> {
    if rest.is_empty() {
        return Err("the table is missing: use `duckdb://database.db/table`".into());
    }
    let file_path = rest.strip_prefix(":memory:/").unwrap_or(rest);
    if let Some(format) = file_format(file_path) {
        return Ok(Source::DuckDbFile {
            path: file_path.to_string(),
            format,
        });
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
    let database = match database {
        "" | ":memory:" => DuckDbDatabase::Configured,
        path => DuckDbDatabase::Path(path.to_string()),
    };
    let (schema, table) = split_table(table, "duckdb://database.db/schema.table")?;
    Ok(Source::DuckDbTable {
        database,
        schema,
        table,
    })
}

/// Splits `table` or `schema.table`.
fn split_table(text: &str, example: &str) -> Result<(Option<String>, String), String> {
    let parts: Vec<&str> = text.split('.').collect();
    if parts.iter().any(|p| p.trim().is_empty()) || parts.len() > 2 {
        return Err(format!(
            "`{text}` is not a table name: write `table` or `schema.table` (e.g. `{example}`)"
        ));
    }
    Ok(match parts.as_slice() {
        [table] => (None, table.to_string()),
        [schema, table] => (Some(schema.to_string()), table.to_string()),
        _ => unreachable!("checked above"),
    })
}

fn parse_postgres(rest: &str) -> Result<Source, String> {
    let Some((schema, table)) = rest.split_once('/') else {
        return Err(
            "write `postgres://schema/table`, or `postgres:///table` for the server's default schema"
                .into(),
        );
    };
    if schema.contains('@') || schema.contains(':') {
        return Err(
            "this looks like a connection URL; a source names a table (`postgres://schema/table`), and the server is configured in connections.yaml"
                .into(),
        );
    }
    if table.is_empty() || table.contains('/') || table.contains('.') {
        return Err(format!(
            "`{table}` is not a table name: write `postgres://schema/table` or `postgres:///table`"
        ));
    }
    Ok(Source::Postgres {
        schema: (!schema.is_empty()).then(|| schema.to_string()),
        table: table.to_string(),
    })
}

fn parse_bigquery(rest: &str) -> Result<Source, String> {
    let form = "write `bigquery://project.dataset.table`, `bigquery://project/dataset.table`, or `bigquery://dataset.table` for the connection's project";
    let (project, dataset, table) = match rest.split_once('/') {
        Some((project, path)) => match path.split('.').collect::<Vec<_>>().as_slice() {
            [dataset, table] => (Some(project.to_string()), *dataset, *table),
            _ => return Err(format!("`{path}` must be `dataset.table`; {form}")),
        },
        None => {
            let parts: Vec<&str> = rest.split('.').collect();
            let n = parts.len();
            if n < 2 {
                return Err(format!(
                    "a BigQuery source names a dataset and a table, and optionally a project first; {form}"
                ));
            }
            let project = (n > 2).then(|| parts[..n - 2].join("."));
            (project, parts[n - 2], parts[n - 1])
        }
    };
    if project.as_deref() == Some("") || dataset.is_empty() || table.is_empty() {
        return Err(format!("empty project, dataset or table; {form}"));
    }
    if let Some(project) = &project
        && !project
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | ':' | '_'))
    {
        return Err(format!(
            "`{project}` is not a project ID (letters, digits, `-`, and `.`/`:` for domain-scoped projects)"
        ));
    }
    if !dataset
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        return Err(format!(
            "`{dataset}` is not a dataset name (letters, digits and `_`)"
        ));
    }
    if table.contains('`') || table.contains('/') {
        return Err(format!("`{table}` is not a table name"));
    }
    Ok(Source::BigQuery {
        project,
        dataset: dataset.to_string(),
        table: table.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(uri: &str) -> Source {
        SourceUri::parse(uri)
            .unwrap_or_else(|e| panic!("{uri}: {e}"))
            .source
    }

    fn table(db: DuckDbDatabase, schema: Option<&str>, table: &str) -> Source {
        Source::DuckDbTable {
            database: db,
            schema: schema.map(str::to_string),
            table: table.to_string(),
        }
    }

    #[test]
    fn duckdb_forms() {
        use DuckDbDatabase::*;
        assert_eq!(
            parse("duckdb://analytics.db/events"),
            table(Path("analytics.db".into()), None, "events")
        );
        assert_eq!(
            parse("duckdb://:memory:/events"),
            table(Configured, None, "events")
        );
        assert_eq!(parse("duckdb://events"), table(Configured, None, "events"));
        assert_eq!(
            parse("duckdb:///abs/path/to/db/events"),
            table(Path("/abs/path/to/db".into()), None, "events")
        );
        assert_eq!(
            parse("duckdb://data/a.duckdb/sales.orders"),
            table(Path("data/a.duckdb".into()), Some("sales"), "orders")
        );
        assert_eq!(
            parse("duckdb://db.duckdb/My Table"),
            table(Path("db.duckdb".into()), None, "My Table")
        );
        assert_eq!(
            parse("duckdb://:memory:/data/ev.CSV"),
            Source::DuckDbFile {
                path: "data/ev.CSV".into(),
                format: FileFormat::Csv
            }
        );
        assert_eq!(
            parse("duckdb:///abs/ev.parquet"),
            Source::DuckDbFile {
                path: "/abs/ev.parquet".into(),
                format: FileFormat::Parquet
            }
        );
        assert_eq!(
            parse("duckdb://logs/*.jsonl.gz"),
            Source::DuckDbFile {
                path: "logs/*.jsonl.gz".into(),
                format: FileFormat::Json
            }
        );
    }

    #[test]
    fn postgres_and_bigquery_forms() {
        assert_eq!(
            parse("postgres://public/events"),
            Source::Postgres {
                schema: Some("public".into()),
                table: "events".into()
            }
        );
        assert_eq!(
            parse("postgres:///events"),
            Source::Postgres {
                schema: None,
                table: "events".into()
            }
        );
        let bq = |p: &str, d: &str, t: &str| Source::BigQuery {
            project: (!p.is_empty()).then(|| p.to_string()),
            dataset: d.into(),
            table: t.into(),
        };
        assert_eq!(
            parse("bigquery://my-project.analytics.events"),
            bq("my-project", "analytics", "events")
        );
        assert_eq!(
            parse("bigquery://my-project/analytics.events"),
            bq("my-project", "analytics", "events")
        );
        assert_eq!(
            parse("bigquery://example.com:proj.analytics.events"),
            bq("example.com:proj", "analytics", "events")
        );
        assert_eq!(
            parse("bigquery://analytics.events"),
            bq("", "analytics", "events")
        );
    }

    #[test]
    fn malformed_uris_say_what_is_wrong() {
        for (uri, fragment) in [
            ("events", "starts with"),
            ("duckdb://", "missing"),
            ("duckdb://db/a.b.c", "not a table name"),
            ("duckdb://db/", "not a table name"),
            ("duckdb://logs/*", "glob"),
            ("postgres://events", "postgres://schema/table"),
            ("postgres://u:pw@host:5432/db", "connection URL"),
            ("postgres://public/a.b", "not a table name"),
            ("bigquery://table", "names a dataset and a table"),
            ("bigquery://p/d.t.x", "dataset.table"),
            ("bigquery://p..t", "empty"),
            ("bigquery://p/d-x.t", "not a dataset"),
            ("duckdb://db/ev\nx", "control"),
        ] {
            let err = SourceUri::parse(uri).unwrap_err().to_string();
            assert!(err.contains(fragment), "{uri}: {err}");
        }
        let err = SourceUri::parse("mysql://db/t").unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::UnsupportedBackend);
    }
}
