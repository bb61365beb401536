//! `ConnectionManager`: owns one connection per backend and routes each source URI to it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use crate::backend::duckdb::DuckDb;
use crate::backend::{Backend, Column};
use crate::config::{BackendConfig, ConnectionsConfig};
use crate::error::{Error, Result};
use crate::paths::PathResolver;
use crate::source::{BackendKind, Source, SourceUri};
use crate::sql::Dialect;

/// A source resolved to the backend that reads it and the SQL that names it there.
#[derive(Clone)]
pub struct ResolvedSource {
    /// The source.
    pub uri: SourceUri,
    /// The SQL that reads it in a `FROM` clause, in the backend's dialect.
    pub relation: String,
    pub(crate) backend: Arc<dyn Backend>,
}

impl ResolvedSource {
    /// The dialect of the backend the source lives on.
    pub fn dialect(&self) -> Dialect {
        self.backend.kind().dialect()
    }
}

impl std::fmt::Debug for ResolvedSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResolvedSource")
            .field("uri", &self.uri.uri)
            .field("relation", &self.relation)
            .finish()
    }
}

/// The connections to the backends, one per backend type.
///
/// **Relative paths** (the DuckDB `path` in `connections.yaml`, database paths in
/// `duckdb://` URIs, and CSV/Parquet/JSON files) are looked up next to the connections file
/// first, then in the working directory; the first place where the path exists wins.
///
/// **DuckDB URIs** name a database: `duckdb://:memory:/t` and `duckdb://t` mean the configured
/// DuckDB database; `duckdb://path.db/t` means the configured database when `path.db` resolves
/// to the same file, and otherwise that other file, attached read-only. File sources
/// (`duckdb://data/events.csv`) need no configuration: without a `duckdb` connection an
/// in-memory DuckDB reads them.
///
/// ```
/// use aitaem::ConnectionManager;
/// let mut connections = ConnectionManager::new();
/// connections.add_duckdb(":memory:", false).unwrap();
/// assert!(connections.list_tables().unwrap().is_empty());
/// ```
#[derive(Default)]
pub struct ConnectionManager {
    backends: BTreeMap<BackendKind, Arc<dyn Backend>>,
    /// Backends configured but not supported by this version, with their settings.
    pending: BTreeMap<BackendKind, BackendConfig>,
    /// An in-memory DuckDB for file sources when no DuckDB connection is configured.
    files: OnceLock<std::result::Result<Arc<dyn Backend>, String>>,
    paths: PathResolver,
    file: Option<PathBuf>,
}

impl ConnectionManager {
    /// A manager with no connections; relative paths resolve against the working directory.
    pub fn new() -> Self {
        ConnectionManager::default()
    }

    /// Opens the connections described by a `connections.yaml` file.
    pub fn from_yaml(path: impl AsRef<Path>) -> Result<ConnectionManager> {
        let config = ConnectionsConfig::from_file(path)?;
        ConnectionManager::from_config(config)
    }

    /// Opens the connections of a parsed configuration.
    pub fn from_config(config: ConnectionsConfig) -> Result<ConnectionManager> {
        let base = config
            .file
            .as_ref()
            .and_then(|f| f.parent())
            .map(|dir| {
                if dir.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    dir
                }
            })
            .map(crate::paths::absolute);
        let mut manager = ConnectionManager {
            paths: PathResolver::new(base),
            file: config.file.clone(),
            ..ConnectionManager::default()
        };
        for backend in config.backends {
            manager.add_connection(backend)?;
        }
        Ok(manager)
    }

    /// The connections file this manager was created from.
    pub fn config_file(&self) -> Option<&Path> {
        self.file.as_deref()
    }

    /// Adds (or replaces) the connection of one backend. PostgreSQL and BigQuery settings
    /// are validated and kept, but this version cannot run queries on them yet; sources on
    /// them fail with an `UnsupportedBackendError`.
    pub fn add_connection(&mut self, config: BackendConfig) -> Result<()> {
        match config {
            BackendConfig::DuckDb(duck) => self.add_duckdb(&duck.path, duck.read_only),
            other => {
                self.backends.remove(&other.backend());
                self.pending.insert(other.backend(), other);
                Ok(())
            }
        }
    }

    /// Opens a DuckDB database (`:memory:` or a file, which must exist) as the DuckDB
    /// connection.
    pub fn add_duckdb(&mut self, path: &str, read_only: bool) -> Result<()> {
        let duck = DuckDb::open(path, read_only, self.paths.clone())?;
        self.backends.insert(BackendKind::DuckDb, Arc::new(duck));
        Ok(())
    }

    /// Uses a DuckDB connection opened elsewhere (for example by
    /// [`load_csvs_to_duckdb`](crate::load_csvs_to_duckdb)) as the DuckDB connection.
    pub fn add_duckdb_connection(&mut self, connection: ::duckdb::Connection) -> Result<()> {
        let duck = DuckDb::from_connection(connection, self.paths.clone())?;
        self.backends.insert(BackendKind::DuckDb, Arc::new(duck));
        Ok(())
    }

    /// Whether a connection for `backend` is configured.
    pub fn has_connection(&self, backend: BackendKind) -> bool {
        self.backends.contains_key(&backend) || self.pending.contains_key(&backend)
    }

    /// Closes every connection.
    pub fn close_all(&mut self) {
        self.backends.clear();
        self.pending.clear();
        self.files = OnceLock::new();
    }

    /// The backend that reads `source`. `user` names who needs it (e.g. "metric `ctr`") for
    /// the error when no connection is configured.
    pub(crate) fn backend(&self, source: &SourceUri, user: &str) -> Result<Arc<dyn Backend>> {
        let kind = source.backend();
        if let Some(backend) = self.backends.get(&kind) {
            return Ok(backend.clone());
        }
        if let Source::DuckDbFile { .. } = source.source {
            let paths = self.paths.clone();
            return self
                .files
                .get_or_init(|| {
                    DuckDb::open(":memory:", false, paths)
                        .map(|d| Arc::new(d) as Arc<dyn Backend>)
                        .map_err(|e| e.to_string())
                })
                .clone()
                .map_err(|message| Error::Connection {
                    backend: "duckdb".into(),
                    message,
                });
        }
        if self.pending.contains_key(&kind) {
            return Err(Error::UnsupportedBackend {
                backend: kind.to_string(),
                message: format!(
                    "{user} reads `{source}`, but this version of aitaem cannot run queries on {kind} yet (its connection settings are valid)"
                ),
            });
        }
        let how = match kind {
            BackendKind::DuckDb => "add `duckdb:` with a `path:` to connections.yaml",
            BackendKind::Postgres => {
                "add `postgres:` with `database`, `user` and `password` to connections.yaml"
            }
            BackendKind::BigQuery => "add `bigquery:` with a `project_id` to connections.yaml",
        };
        Err(Error::ConnectionNotFound {
            backend: kind.to_string(),
            message: format!(
                "{user} reads `{source}`, but no {kind} connection is configured; {how}"
            ),
        })
    }

    /// Resolves a source to its backend and the SQL that reads it, checking that it exists.
    pub fn resolve(&self, source: &SourceUri, user: &str) -> Result<ResolvedSource> {
        let backend = self.backend(source, user)?;
        let relation = backend.relation(source)?;
        Ok(ResolvedSource {
            uri: source.clone(),
            relation,
            backend,
        })
    }

    /// Every table and view of every connected backend, as source URIs ready to use in specs.
    pub fn list_tables(&self) -> Result<Vec<String>> {
        let mut out = Vec::new();
        for backend in self.backends.values() {
            out.extend(backend.list_tables()?);
        }
        Ok(out)
    }

    /// The columns (names and types) of a source.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let csv = dir.path().join("events.csv");
    /// std::fs::write(&csv, "day,clicks\n2024-01-01,3\n").unwrap();
    /// let connections = aitaem::ConnectionManager::new();
    /// let columns = connections.describe_table(&format!("duckdb://{}", csv.display())).unwrap();
    /// assert_eq!(columns[0].name, "day");
    /// assert_eq!(columns[0].data_type, "DATE");
    /// ```
    pub fn describe_table(&self, source: &str) -> Result<Vec<Column>> {
        let uri = SourceUri::parse(source)?;
        self.backend(&uri, &format!("`{source}`"))?.describe(&uri)
    }
}
