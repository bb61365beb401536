//! The embedded DuckDB client (also reads CSV, Parquet and JSON files).
//!
//! Connections never reach for the network: extension auto-install and auto-load are off.
//! Every statement runs in a transaction that is rolled back, so computing never changes a
//! database, even one opened read-write. Databases other than the configured one that a source
//! URI names are attached read-only.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ::duckdb::{Config, Connection, InterruptHandle};
use arrow::record_batch::RecordBatch;

use crate::backend::{Backend, BackendKind};
use crate::cancel::Cancel;
use crate::catalog::{Column, Table};
use crate::config::AccessMode;
use crate::config::paths::{self, PathResolver, Resolved};
use crate::error::{BackendError, BackendErrorKind, Error, Result, close_names};
use crate::source::{FileFormat, Source, SourceUri, TableName};
use crate::sql::Dialect;

const D: &super::dialect::DuckDbDialect = super::DIALECT;

/// A DuckDB database and the connection to it.
pub(crate) struct DuckDb {
    conn: Mutex<Connection>,
    /// The main database file (canonical), `None` when in memory.
    file: Option<PathBuf>,
    /// The database as written in the configuration, for the URIs `list_tables` returns.
    uri_path: String,
    paths: PathResolver,
    /// Databases attached for sources that name another file: canonical path → alias.
    attached: Mutex<HashMap<PathBuf, String>>,
    /// How to stop each statement running now.
    running: Mutex<Vec<Arc<InterruptHandle>>>,
}

fn connection_error(kind: BackendErrorKind, message: impl Into<String>) -> Error {
    Error::connection(BackendKind::DUCKDB, BackendError::new(kind, message))
}

/// A DuckDB error, classified by the kind DuckDB gives it in its message.
fn backend_error(err: ::duckdb::Error) -> BackendError {
    let message = err.to_string();
    let kind = if message.starts_with("Catalog Error") {
        BackendErrorKind::NotFound
    } else if message.starts_with("IO Error") {
        BackendErrorKind::Connection
    } else if message.starts_with("INTERRUPT Error") {
        BackendErrorKind::Cancelled
    } else {
        BackendErrorKind::Rejected
    };
    BackendError::new(kind, message).with_source(err)
}

/// A rejected statement's error with the place in `sql` it points at (DuckDB shows the line,
/// `LINE n: ...`, with a caret under the place) and the name it does not know
/// (`Referenced column "x" not found`, `does not have a column named "x"`).
fn located(mut error: BackendError, sql: &str) -> BackendError {
    let message = error.message().to_string();
    if let Some(offset) = caret_offset(&message, sql) {
        let position = sql[..offset].chars().count() + 1;
        if let Ok(position) = u32::try_from(position) {
            error = error.with_position(position);
        }
    }
    for start in ["column \"", "column named \""] {
        if let Some(at) = message.find(start) {
            let rest = &message[at + start.len()..];
            let name = &rest[..rest.find('"').unwrap_or(rest.len())];
            if let Some(name) = name.rsplit('.').next().filter(|n| !n.is_empty()) {
                error = error.with_unknown_name(name);
                break;
            }
        }
    }
    error
}

/// The byte offset in `sql` of the caret under a `LINE n:` line of DuckDB's message.
fn caret_offset(message: &str, sql: &str) -> Option<usize> {
    let rest = &message[message.find("LINE ")?..];
    let (prefix, after) = rest.split_at(rest.find(": ")? + 2);
    let line: usize = prefix["LINE ".len()..prefix.len() - 2]
        .trim()
        .parse()
        .ok()?;
    let mut lines = after.lines();
    let shown = lines.next()?;
    let caret = lines.next()?.find('^')?.checked_sub(prefix.len())?;
    let start = match line {
        1 => 0,
        n => sql.match_indices('\n').nth(n - 2)?.0 + 1,
    };
    let text = sql[start..].lines().next()?;
    // DuckDB may shorten a long line to `...part...`: find the part in the statement's line.
    let column = match shown.strip_prefix("...") {
        Some(part) => {
            let part = part.strip_suffix("...").unwrap_or(part);
            text.find(part)? + caret.checked_sub(3)?
        }
        None => caret,
    };
    let offset = start + column.min(text.len());
    sql.is_char_boundary(offset).then_some(offset)
}

/// The storage format of database files this engine creates: DuckDB 1.4's (the long-term
/// support release), which DuckDB 1.4 and later read, so that files made by `load-csv` and
/// `init` open in the DuckDB 1.x that other tools and the original Python library's users have.
/// (v1.0.0 would reach back further, but computes on it run up to a third slower; see
/// docs/connections.md.) Existing files keep their format.
pub(crate) const STORAGE_VERSION: &str = "v1.4.0";

/// Settings for every connection we open: no network, read-only when asked, and new files in
/// [`STORAGE_VERSION`].
pub(crate) fn settings(access: AccessMode) -> std::result::Result<Config, ::duckdb::Error> {
    let mode = match access {
        AccessMode::ReadOnly => ::duckdb::AccessMode::ReadOnly,
        AccessMode::ReadWrite => ::duckdb::AccessMode::ReadWrite,
    };
    Config::default()
        .access_mode(mode)?
        .with("autoinstall_known_extensions", "false")?
        .with("autoload_known_extensions", "false")?
        .with("storage_compatibility_version", STORAGE_VERSION)
}

/// Opens a database file. While another process writes it (DuckDB locks the file), tries
/// again for up to `wait`, then says so in words.
pub(crate) fn open_file(
    file: &Path,
    access: AccessMode,
    wait: Duration,
) -> std::result::Result<Connection, BackendError> {
    let deadline = Instant::now() + wait;
    loop {
        let config = settings(access).map_err(backend_error)?;
        match Connection::open_with_flags(file, config) {
            Ok(conn) => return Ok(conn),
            // This process has the file open read-write already (e.g. a load's connection):
            // DuckDB shares one instance per file and process, with one configuration.
            Err(err)
                if access == AccessMode::ReadOnly
                    && err.to_string().contains("different configuration") =>
            {
                return open_file(file, AccessMode::ReadWrite, wait);
            }
            Err(err) if err.to_string().contains("Could not set lock") => {
                if Instant::now() >= deadline {
                    let holder = err
                        .to_string()
                        .split("Conflicting lock is held in ")
                        .nth(1)
                        .and_then(|rest| rest.split(". See").next())
                        .map(|who| format!(" ({who})"))
                        .unwrap_or_default();
                    return Err(BackendError::new(
                        BackendErrorKind::Connection,
                        format!(
                            "`{}` is being written by another process{holder}; waited {:.0} s for it (wait longer with `--wait SECONDS`)",
                            file.display(),
                            wait.as_secs_f64()
                        ),
                    )
                    .retryable(true)
                    .with_source(err));
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(err) => {
                return Err(BackendError::new(
                    BackendErrorKind::Connection,
                    format!("cannot open `{}`: {err}", file.display()),
                )
                .with_source(err));
            }
        }
    }
}

impl DuckDb {
    /// Opens the database at `path` (`:memory:` for an in-memory one, which is always
    /// writable). A file must exist: computing never creates databases.
    pub(crate) fn open(
        path: &str,
        access: AccessMode,
        wait: Duration,
        paths: PathResolver,
    ) -> Result<DuckDb> {
        let failed = |e: ::duckdb::Error| Error::connection(BackendKind::DUCKDB, backend_error(e));
        if path == ":memory:" {
            let config = settings(AccessMode::ReadWrite).map_err(failed)?;
            let conn = Connection::open_in_memory_with_flags(config).map_err(failed)?;
            return Ok(DuckDb::wrap(conn, None, ":memory:".into(), paths));
        }
        let file = match paths.resolve(path) {
            Resolved::Found(file) => file,
            Resolved::Missing(tried) => {
                return Err(connection_error(
                    BackendErrorKind::NotFound,
                    format!(
                        "database `{path}` not found (looked for {}); check `duckdb.path`, or create it with `aitaem load-csv`",
                        paths::list(&tried)
                    ),
                ));
            }
        };
        let conn = open_file(&file, access, wait)
            .map_err(|e| Error::connection(BackendKind::DUCKDB, e))?;
        Ok(DuckDb::wrap(conn, Some(file), path.to_string(), paths))
    }

    /// Adopts a connection opened by the caller.
    pub(crate) fn from_connection(conn: Connection, paths: PathResolver) -> Result<DuckDb> {
        // Best effort: the connection's owner may have loaded extensions on purpose.
        let _ = conn.execute_batch(
            "SET autoinstall_known_extensions = false; SET autoload_known_extensions = false;",
        );
        let path: Option<String> = conn
            .query_row(
                "SELECT path FROM duckdb_databases() WHERE database_name = current_database()",
                [],
                |row| row.get(0),
            )
            .map_err(|e| Error::connection(BackendKind::DUCKDB, backend_error(e)))?;
        let file = path
            .filter(|p| !p.is_empty())
            .map(|p| paths::absolute(Path::new(&p)));
        let uri_path = file
            .as_ref()
            .map(|f| f.display().to_string())
            .unwrap_or_else(|| ":memory:".into());
        Ok(DuckDb::wrap(conn, file, uri_path, paths))
    }

    fn wrap(
        conn: Connection,
        file: Option<PathBuf>,
        uri_path: String,
        paths: PathResolver,
    ) -> DuckDb {
        DuckDb {
            conn: Mutex::new(conn),
            file,
            uri_path,
            paths,
            attached: Mutex::new(HashMap::new()),
            running: Mutex::new(Vec::new()),
        }
    }

    /// The database as written in the configuration (`:memory:` for an in-memory one).
    pub(crate) fn uri_path(&self) -> &str {
        &self.uri_path
    }

    /// A new connection to the same database, for one statement or one thread.
    fn connection(&self) -> std::result::Result<Connection, BackendError> {
        let conn = self.conn.lock().map_err(|_| {
            BackendError::new(BackendErrorKind::Other, "the connection is poisoned")
        })?;
        conn.try_clone().map_err(backend_error)
    }

    /// [`DuckDb::connection`], for callers that report a connection error.
    fn connect(&self) -> Result<Connection> {
        self.connection()
            .map_err(|e| Error::connection(BackendKind::DUCKDB, e))
    }

    /// The catalog holding a table: `None` for the main database (also when the URI names a
    /// database file that does not exist: see [`DuckDb::label`]), or the alias and file of an
    /// attached one.
    fn catalog(&self, database: Option<&str>) -> Result<Option<(String, PathBuf)>> {
        let Some(path) = database else {
            return Ok(None);
        };
        let file = match self.paths.resolve(path) {
            Resolved::Found(file) => file,
            Resolved::Missing(_) => return Ok(None),
        };
        if self.file.as_ref() == Some(&file) {
            return Ok(None);
        }
        let mut attached = self
            .attached
            .lock()
            .map_err(|_| connection_error(BackendErrorKind::Other, "poisoned"))?;
        if let Some(alias) = attached.get(&file) {
            return Ok(Some((alias.clone(), file)));
        }
        let alias = format!("aitaem_db{}", attached.len() + 1);
        let conn = self.connect()?;
        conn.execute_batch(&format!(
            "ATTACH {} AS {} (READ_ONLY)",
            D.string(&file.display().to_string()),
            D.quote(&alias)
        ))
        .map_err(|e| {
            connection_error(
                BackendErrorKind::Connection,
                format!("cannot attach `{}`: {e}", file.display()),
            )
        })?;
        attached.insert(file.clone(), alias.clone());
        Ok(Some((alias, file)))
    }

    /// `(schema, name)` of every table and view in a catalog.
    fn tables_in(&self, catalog: Option<&str>) -> Result<Vec<(String, String)>> {
        let conn = self.connect()?;
        let failed = |e| Error::connection(BackendKind::DUCKDB, backend_error(e));
        let database = match catalog {
            Some(alias) => D.string(alias),
            None => "current_database()".into(),
        };
        let sql = format!(
            "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = {database} \
             UNION ALL SELECT schema_name, view_name FROM duckdb_views() WHERE database_name = {database} AND NOT internal \
             ORDER BY 1, 2"
        );
        let mut stmt = conn.prepare(&sql).map_err(failed)?;
        let rows = stmt
            .query_map([], |row| {
                Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
            })
            .map_err(failed)?;
        rows.collect::<std::result::Result<_, _>>().map_err(failed)
    }
}

impl DuckDb {
    /// The error for a table that cannot be read, with the closest existing names.
    fn missing_table(
        &self,
        source: &SourceUri,
        catalog: Option<&str>,
        name: &TableName,
        err: ::duckdb::Error,
    ) -> Error {
        let wanted = name.qualified();
        let known: Vec<String> = match self.tables_in(catalog) {
            Ok(tables) => tables
                .into_iter()
                .map(|(s, t)| if s == "main" { t } else { format!("{s}.{t}") })
                .collect(),
            Err(_) => Vec::new(),
        };
        if known.iter().any(|k| k.eq_ignore_ascii_case(&wanted)) {
            return Error::TableNotFound {
                source_uri: source.to_string(),
                message: format!("cannot read `{wanted}`: {err}"),
            };
        }
        let hint = match close_names(&wanted, known.iter().map(String::as_str)).first() {
            Some(best) => format!("; did you mean `{best}`?"),
            None if known.is_empty() => "; the database has no tables".into(),
            None => String::new(),
        };
        Error::TableNotFound {
            source_uri: source.to_string(),
            message: format!("no table or view `{wanted}`{hint}"),
        }
    }
}

impl Backend for DuckDb {
    fn table(&self, source: &SourceUri) -> Result<Table> {
        let (relation, file) = self.relation(source)?;
        let mut table = Table::new(BackendKind::DUCKDB, relation);
        if let Some(file) = file {
            table = table.with_file(file);
        }
        if let Source::Table(name) = source.source()
            && let Some(notice) = self.label(source, name.catalog())
        {
            table = table.with_notice(notice);
        }
        Ok(table)
    }

    fn query(
        &self,
        sql: &str,
        cancel: &Cancel,
    ) -> std::result::Result<Vec<RecordBatch>, BackendError> {
        let conn = self.connection()?;
        let handle = conn.interrupt_handle();
        self.running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(handle.clone());
        let stop = handle.clone();
        let watch = cancel.watch(move || stop.interrupt());
        let cancelled = || {
            BackendError::new(
                BackendErrorKind::Cancelled,
                "INTERRUPT Error: the statement was cancelled",
            )
        };
        // A statement starting after a cancel would clear DuckDB's interrupt: it does not start.
        let result = if cancel.is_cancelled() {
            Err(cancelled())
        } else {
            conn.execute_batch("BEGIN TRANSACTION")
                .and_then(|()| conn.prepare(sql))
                .map_err(|e| located(backend_error(e), sql))
                .and_then(|mut stmt| {
                    if cancel.is_cancelled() {
                        return Err(cancelled());
                    }
                    stmt.query_arrow([])
                        .map(|batches| batches.collect::<Vec<RecordBatch>>())
                        .map_err(|e| located(backend_error(e), sql))
                })
        };
        drop(watch);
        // Nothing a statement did is kept.
        let _ = conn.execute_batch("ROLLBACK");
        self.running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|h| !Arc::ptr_eq(h, &handle));
        result
    }

    fn interrupt(&self) {
        for handle in self
            .running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            handle.interrupt();
        }
    }

    fn explain(&self, sql: &str) -> std::result::Result<String, BackendError> {
        let conn = self.connection()?;
        let mut stmt = conn
            .prepare(&format!("EXPLAIN {sql}"))
            .map_err(|e| located(backend_error(e), sql))?;
        let rows = stmt
            .query_map([], |row| row.get::<_, String>(1))
            .map_err(backend_error)?;
        let lines: std::result::Result<Vec<String>, _> = rows.collect();
        lines.map(|l| l.join("\n")).map_err(backend_error)
    }

    fn list_tables(&self) -> Result<Vec<String>> {
        Ok(self
            .tables_in(None)?
            .into_iter()
            .map(|(schema, table)| {
                let name = if schema == "main" {
                    table
                } else {
                    format!("{schema}.{table}")
                };
                format!("duckdb://{}/{name}", self.uri_path)
            })
            .collect())
    }

    fn describe(&self, source: &SourceUri) -> Result<Vec<Column>> {
        let (relation, _) = self.relation(source)?;
        let conn = self.connect()?;
        let failed = |e: ::duckdb::Error| Error::TableNotFound {
            source_uri: source.to_string(),
            message: format!("cannot read its columns: {e}"),
        };
        let mut stmt = conn
            .prepare(&format!("DESCRIBE SELECT * FROM {relation}"))
            .map_err(failed)?;
        let rows = stmt
            .query_map([], |row| {
                Ok(Column {
                    name: row.get(0)?,
                    data_type: row.get(1)?,
                })
            })
            .map_err(failed)?;
        rows.collect::<std::result::Result<_, _>>().map_err(failed)
    }
}

impl DuckDb {
    /// For a table URI naming a database that is not a file here (`duckdb://NAME/table`): the
    /// configured database is meant, as the original library reads such URIs; silently when it
    /// has that file name, with a note otherwise.
    fn label(&self, source: &SourceUri, database: Option<&str>) -> Option<String> {
        let path = database?;
        if matches!(self.paths.resolve(path), Resolved::Found(_)) {
            return None;
        }
        let named = Path::new(path).file_name();
        if self.file.as_ref().and_then(|f| f.file_name()) == named {
            return None;
        }
        Some(format!(
            "`{source}`: there is no database file `{path}`; reading the configured DuckDB database `{}` instead",
            self.uri_path
        ))
    }

    /// The SQL that reads a source, after checking that it exists, and the file it is in.
    fn relation(&self, source: &SourceUri) -> Result<(String, Option<PathBuf>)> {
        match source.source() {
            Source::File(file) => {
                let (path, format) = (file.path(), file.format());
                let file = match self.paths.resolve(path) {
                    Resolved::Found(file) => file,
                    Resolved::Missing(tried) => {
                        return Err(Error::TableNotFound {
                            source_uri: source.to_string(),
                            message: format!("file not found (looked for {})", paths::list(&tried)),
                        });
                    }
                };
                let reader = match format {
                    FileFormat::Csv => "read_csv_auto",
                    FileFormat::Parquet => "read_parquet",
                    FileFormat::Json => "read_json_auto",
                };
                let relation = format!("{reader}({})", D.string(&file.display().to_string()));
                Ok((relation, Some(file)))
            }
            Source::Table(name) => {
                let attached = self.catalog(name.catalog())?;
                let catalog = attached.as_ref().map(|(alias, _)| alias.clone());
                let file = match &attached {
                    Some((_, file)) => Some(file.clone()),
                    None => self.file.clone(),
                };
                let mut parts = Vec::new();
                if let Some(alias) = &catalog {
                    parts.push(D.quote(alias));
                    parts.push(D.quote(name.schema().unwrap_or("main")));
                } else if let Some(schema) = name.schema() {
                    parts.push(D.quote(schema));
                }
                parts.push(D.quote(name.name()));
                let relation = parts.join(".");
                // Binding a query is the cheap existence check: DuckDB's catalog listings pay a
                // one-time initialisation of about 20 ms.
                let conn = self.connect()?;
                match conn.prepare(&format!("SELECT * FROM {relation} LIMIT 0")) {
                    Ok(_) => Ok((relation, file)),
                    Err(err) => {
                        let mut error = self.missing_table(source, catalog.as_deref(), name, err);
                        if let (Some(note), Error::TableNotFound { message, .. }) =
                            (self.label(source, name.catalog()), &mut error)
                        {
                            message.push_str(&format!(" ({note})"));
                        }
                        Err(error)
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejected_statements_say_where_and_what() {
        let sql =
            "WITH x AS (\n    SELECT SUM(a) + SUM(b) AS __m0,\n        \"country\" AS __s0\n)";
        let rejected =
            |message: String| located(BackendError::new(BackendErrorKind::Rejected, message), sql);
        // The caret under `SUM(b)`, the 21st character of line 2: 12 + 20 = 32, from 1: 33.
        let line = "    SELECT SUM(a) + SUM(b) AS __m0,";
        let shown = format!(
            "Binder Error: no\n\nLINE 2: {line}\n{}^^^^",
            " ".repeat(8 + 20)
        );
        assert_eq!(rejected(shown).position(), Some(33));
        // A shortened line.
        let short = format!(
            "Binder Error: no\n\nLINE 2: ...+ SUM(b) AS...\n{}^^^^",
            " ".repeat(8 + 5)
        );
        assert_eq!(rejected(short).position(), Some(33));
        let unknown = rejected(
            "Binder Error: Referenced column \"nope_col\" not found in FROM clause!".into(),
        );
        assert_eq!(unknown.unknown_name(), Some("nope_col"));
        assert_eq!(unknown.position(), None);
    }
}
