//! Source URIs: where a metric's fact table or a segment's dimension table lives.
//!
//! A URI starts with a backend's name and `://`; the backend reads the rest:
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
//! | `spark://schema.table`, `spark://catalog.schema.table`, `spark://table` | a Spark table (the last in the session's current schema) |
//!
//! A DuckDB URI's file forms are recognised by the extension of the last path segment (`.csv`,
//! `.tsv`, `.parquet`, `.json`, `.jsonl`, `.ndjson`, optionally followed by `.gz` or `.zst`) or by a
//! `*` glob. How relative paths resolve is described in `ConnectionManager`.

use std::fmt;

use crate::backend::{self, BackendKind};
use crate::error::{Error, Result};

/// What a source URI names.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Source {
    /// A table or view.
    Table(TableName),
    /// A file (or a glob of files) read directly.
    File(FileSource),
}

/// A table's name, from the outside in: `catalog.schema.name`. What the catalog and the schema
/// are is the backend's: a DuckDB database file and schema, a BigQuery project and dataset, a
/// PostgreSQL schema (PostgreSQL URIs name no catalog). A part left out is the connection's.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TableName {
    catalog: Option<String>,
    schema: Option<String>,
    name: String,
}

impl TableName {
    /// A table name of up to three parts.
    pub fn new(catalog: Option<String>, schema: Option<String>, name: impl Into<String>) -> Self {
        TableName {
            catalog,
            schema,
            name: name.into(),
        }
    }

    /// The catalog: a DuckDB database file, a BigQuery project.
    pub fn catalog(&self) -> Option<&str> {
        self.catalog.as_deref()
    }

    /// The schema: a DuckDB or PostgreSQL schema, a BigQuery dataset.
    pub fn schema(&self) -> Option<&str> {
        self.schema.as_deref()
    }

    /// The table's own name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `schema.name`, or `name` without a schema.
    pub fn qualified(&self) -> String {
        match &self.schema {
            Some(schema) => format!("{schema}.{}", self.name),
            None => self.name.clone(),
        }
    }
}

/// A file (or a glob of files) read directly.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FileSource {
    path: String,
    format: FileFormat,
}

impl FileSource {
    /// A file at `path` (as written) in a format.
    pub fn new(path: impl Into<String>, format: FileFormat) -> Self {
        FileSource {
            path: path.into(),
            format,
        }
    }

    /// The path as written (relative paths resolve as `ConnectionManager` describes).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The file format.
    pub fn format(&self) -> FileFormat {
        self.format
    }
}

/// File formats read directly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FileFormat {
    /// CSV or TSV (types inferred like DuckDB's `read_csv_auto`).
    Csv,
    /// Parquet.
    Parquet,
    /// JSON or newline-delimited JSON.
    Json,
}

impl FileFormat {
    /// The format of a path, by the extension of its last segment (`.csv`, `.tsv`, `.parquet`,
    /// `.json`, `.jsonl`, `.ndjson`, each optionally followed by `.gz` or `.zst`).
    ///
    /// ```
    /// use aitaem::source::FileFormat;
    /// assert_eq!(FileFormat::of_path("logs/2024.jsonl.gz"), Some(FileFormat::Json));
    /// assert_eq!(FileFormat::of_path("analytics.db/events"), None);
    /// ```
    pub fn of_path(path: &str) -> Option<FileFormat> {
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
}

/// A source URI: the text as written, the backend it names, and what it names there.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SourceUri {
    uri: String,
    backend: BackendKind,
    source: Source,
}

impl SourceUri {
    /// Parses and validates a source URI.
    ///
    /// ```
    /// use aitaem::backend::BackendKind;
    /// use aitaem::source::{Source, SourceUri};
    /// let uri = SourceUri::parse("bigquery://my-project/analytics.events").unwrap();
    /// assert_eq!(uri.backend(), BackendKind::BIGQUERY);
    /// let Source::Table(table) = uri.source() else { panic!() };
    /// assert_eq!((table.catalog(), table.schema(), table.name()), (Some("my-project"), Some("analytics"), "events"));
    /// assert!(SourceUri::parse("bigquery://events").is_err());
    /// assert_eq!(SourceUri::parse("mysql://db/t").unwrap_err().kind(), aitaem::ErrorKind::UnsupportedBackend);
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
            let schemes: Vec<String> = backend::backends()
                .map(|b| format!("`{}://`", b.name()))
                .collect();
            return Err(invalid(format!(
                "a source URI starts with {}",
                or_list(&schemes)
            )));
        };
        let Some(backend) = BackendKind::from_name(scheme) else {
            return Err(Error::UnsupportedBackend {
                backend: scheme.to_string(),
                message: format!(
                    "source `{uri}`: unsupported backend `{scheme}`; supported backends are {}",
                    backend::names()
                ),
            });
        };
        let source = backend.driver().parse_source(rest).map_err(invalid)?;
        Ok(SourceUri {
            uri: trimmed.to_string(),
            backend,
            source,
        })
    }

    /// The URI as written (without surrounding white space).
    pub fn as_str(&self) -> &str {
        &self.uri
    }

    /// The backend the source lives on.
    pub fn backend(&self) -> BackendKind {
        self.backend
    }

    /// What the URI names.
    pub fn source(&self) -> &Source {
        &self.source
    }

    /// The URI's database part and table part, as the original library's
    /// `ConnectionManager.parse_source_uri` splits it: the DuckDB database path, the PostgreSQL
    /// schema or the BigQuery project (empty when the connection decides), and the table
    /// (`dataset.table` on BigQuery, `schema.table` in a DuckDB schema, a file's path).
    ///
    /// ```
    /// use aitaem::source::SourceUri;
    /// let split = |uri: &str| SourceUri::parse(uri).unwrap().database_and_table();
    /// assert_eq!(split("postgres://public/events"), ("public".into(), "events".into()));
    /// assert_eq!(split("bigquery://p.analytics.events"), ("p".into(), "analytics.events".into()));
    /// assert_eq!(split("duckdb://data/events.csv"), ("".into(), "data/events.csv".into()));
    /// ```
    pub fn database_and_table(&self) -> (String, String) {
        self.backend.driver().database_and_table(&self.source)
    }

    /// The connection that reads the source when none is configured for its backend (an
    /// in-memory DuckDB for files), or `None`: the source needs a configured connection.
    pub(crate) fn implicit_connection(&self) -> Option<crate::config::BackendConfig> {
        self.backend.driver().implicit(&self.source)
    }
}

impl fmt::Display for SourceUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.uri)
    }
}

/// `a`, `a or b`, `a, b or c`.
fn or_list(items: &[String]) -> String {
    match items.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        _ => items.join(""),
    }
}

/// Splits `table` or `schema.table`; `example` shows the form in the error.
pub(crate) fn split_table(
    text: &str,
    example: &str,
) -> std::result::Result<(Option<String>, String), String> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_uris_say_what_is_wrong() {
        for (uri, fragment) in [
            (
                "events",
                "starts with `duckdb://`, `postgres://`, `bigquery://` or `spark://`",
            ),
            ("duckdb://db/ev\nx", "control"),
        ] {
            let err = SourceUri::parse(uri).unwrap_err().to_string();
            assert!(err.contains(fragment), "{uri}: {err}");
        }
        let err = SourceUri::parse("mysql://db/t").unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::UnsupportedBackend);
        assert!(
            err.to_string()
                .contains("supported backends are duckdb, postgres, bigquery and spark"),
            "{err}"
        );
    }
}
