//! `ConnectionManager`: the configured connections, one per backend, and which one reads a
//! source.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arrow::record_batch::RecordBatch;

use crate::backend::{self, Backend, BackendKind, Opening};
use crate::catalog::{Catalog, Column, Table};
use crate::config::paths::PathResolver;
use crate::config::{self, AccessMode, BackendConfig, ConnectionsConfig};
use crate::error::{BackendError, Error, Result};
use crate::source::SourceUri;

/// The connections to the backends, one per backend type.
///
/// A connection is opened when a source first needs it (so a configured but unreachable server
/// does not stand in the way of computing on the others); [`ConnectionManager::open`] opens one
/// ahead of time.
///
/// **Read-only**: computing never writes, so database files are opened read-only whatever
/// `read_only` says, and any number of processes can compute on one DuckDB file at once. While
/// another process writes the file (`aitaem load-csv`), opening waits for it, up to
/// [`ConnectionManager::set_lock_wait`] (5 s by default), and then says so.
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
/// use aitaem::backend::duckdb::DuckDbConfig;
/// let mut connections = ConnectionManager::new();
/// connections.add_connection(DuckDbConfig::new(":memory:"));
/// assert!(connections.list_tables().unwrap().is_empty());
/// ```
pub struct ConnectionManager {
    /// The configured connections.
    slots: BTreeMap<BackendKind, Slot>,
    /// How connections are opened.
    opening: Opening,
    /// Connections opened without configuration for sources that need none (files, read by
    /// an in-memory DuckDB).
    implicit: Mutex<BTreeMap<BackendKind, Arc<dyn Backend>>>,
    paths: PathResolver,
    file: Option<PathBuf>,
    /// The result store of `store:` (see [`crate::Store`]).
    store: Option<crate::Store>,
}

/// One configured connection: its settings, and the backend once opened.
struct Slot {
    config: BackendConfig,
    backend: Mutex<Option<Arc<dyn Backend>>>,
}

/// How long opening a database waits for another process that writes it, by default.
pub const DEFAULT_LOCK_WAIT: Duration = Duration::from_secs(5);

impl Default for ConnectionManager {
    fn default() -> Self {
        ConnectionManager {
            slots: BTreeMap::new(),
            opening: Opening {
                access: AccessMode::ReadOnly,
                lock_wait: DEFAULT_LOCK_WAIT,
            },
            implicit: Mutex::default(),
            paths: PathResolver::default(),
            file: None,
            store: None,
        }
    }
}

impl Slot {
    fn new(config: BackendConfig) -> Slot {
        Slot {
            config,
            backend: Mutex::new(None),
        }
    }

    #[cfg(feature = "duckdb")]
    fn opened(config: BackendConfig, backend: Arc<dyn Backend>) -> Slot {
        Slot {
            config,
            backend: Mutex::new(Some(backend)),
        }
    }

    /// The backend, opened on first use. A failed open is not remembered: the next use tries
    /// again.
    fn get(&self, paths: &PathResolver, opening: Opening) -> Result<Arc<dyn Backend>> {
        let mut backend = self.backend.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(open) = backend.as_ref() {
            return Ok(open.clone());
        }
        let open = backend::connect(&self.config, paths, opening)?;
        *backend = Some(open.clone());
        Ok(open)
    }
}

impl ConnectionManager {
    /// A manager with no connections; relative paths resolve against the working directory.
    pub fn new() -> Self {
        ConnectionManager::default()
    }

    /// The connections described by a `connections.yaml` file.
    pub fn from_yaml(path: impl AsRef<Path>) -> Result<ConnectionManager> {
        let config = ConnectionsConfig::from_file(path)?;
        Ok(ConnectionManager::from_config(config))
    }

    /// The connections of a parsed configuration. Relative paths resolve next to its file.
    pub fn from_config(config: ConnectionsConfig) -> ConnectionManager {
        let (backends, file, store) = config.into_parts();
        let base = file
            .as_ref()
            .and_then(|f| f.parent())
            .map(|dir| {
                if dir.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    dir
                }
            })
            .map(config::paths::absolute);
        let store = store.map(|settings| {
            let path = match &base {
                Some(base) => base.join(&settings.path),
                None => PathBuf::from(&settings.path),
            };
            let mut store = crate::Store::at(path);
            if let Some(lookback) = settings.lookback {
                store = store.with_lookback(lookback);
            }
            for (source, lookback) in settings.source_lookback {
                store = store.with_source_lookback(source, lookback);
            }
            store
        });
        let mut manager = ConnectionManager {
            paths: PathResolver::new(base),
            file,
            store,
            ..ConnectionManager::default()
        };
        for backend in backends {
            manager.add_connection(backend);
        }
        manager
    }

    /// The connections file this manager was created from.
    pub fn config_file(&self) -> Option<&Path> {
        self.file.as_deref()
    }

    /// The result store of the connections file's `store:` block, which every
    /// [`MetricCompute`](crate::MetricCompute) with these connections uses.
    pub fn store(&self) -> Option<&crate::Store> {
        self.store.as_ref()
    }

    /// Uses a result store for every compute with these connections (or none).
    pub fn set_store(&mut self, store: Option<crate::Store>) {
        self.store = store;
    }

    /// Adds (or replaces) the connection of one backend. It is opened when first needed.
    pub fn add_connection(&mut self, config: impl Into<BackendConfig>) {
        let config = config.into();
        self.slots.insert(config.backend(), Slot::new(config));
    }

    /// How long opening a database waits while another process writes it (default 5 s).
    pub fn set_lock_wait(&mut self, wait: Duration) {
        self.opening.lock_wait = wait;
    }

    /// The local files the connections read: the connections file itself and configured
    /// database files (resolved, as absolute paths).
    pub fn files(&self) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = self
            .file
            .iter()
            .map(|f| config::paths::absolute(f))
            .collect();
        for slot in self.slots.values() {
            if let Some(path) = slot.config.local_file()
                && let config::paths::Resolved::Found(file) = self.paths.resolve(path)
            {
                files.push(file);
            }
        }
        files
    }

    /// Opens the connection of a backend now, rather than when a source first needs it.
    pub fn open(&self, backend: BackendKind) -> Result<()> {
        match self.slots.get(&backend) {
            Some(slot) => slot.get(&self.paths, self.opening).map(|_| ()),
            None => Err(self.not_configured(backend)),
        }
    }

    /// Uses a DuckDB connection opened elsewhere (for example by
    /// [`load_csvs_to_duckdb`](crate::duckdb::load_csvs_to_duckdb)) as the DuckDB connection.
    #[cfg(feature = "duckdb")]
    pub fn add_duckdb_connection(&mut self, connection: ::duckdb::Connection) -> Result<()> {
        let duck =
            backend::duckdb::client::DuckDb::from_connection(connection, self.paths.clone())?;
        let config = backend::duckdb::DuckDbConfig::new(duck.uri_path()).into();
        self.slots
            .insert(BackendKind::DUCKDB, Slot::opened(config, Arc::new(duck)));
        Ok(())
    }

    /// Whether a connection for `backend` is configured.
    pub fn has_connection(&self, backend: BackendKind) -> bool {
        self.slots.contains_key(&backend)
    }

    /// The settings of the connection configured for `backend`.
    pub fn connection_config(&self, backend: BackendKind) -> Option<&BackendConfig> {
        self.slots.get(&backend).map(|slot| &slot.config)
    }

    /// The backends with a configured connection.
    pub fn backends(&self) -> impl Iterator<Item = BackendKind> + '_ {
        self.slots.keys().copied()
    }

    /// Closes the connection of `backend`, keeping its settings: it is opened again when next
    /// needed.
    pub fn close(&self, backend: BackendKind) {
        if let Some(slot) = self.slots.get(&backend) {
            *slot.backend.lock().unwrap_or_else(|e| e.into_inner()) = None;
        }
    }

    /// Closes every connection and forgets its settings.
    pub fn close_all(&mut self) {
        self.slots.clear();
        self.implicit = Mutex::default();
    }

    /// The backend that reads `source`.
    fn backend(&self, source: &SourceUri) -> Result<Arc<dyn Backend>> {
        let kind = source.backend();
        if let Some(slot) = self.slots.get(&kind) {
            return slot.get(&self.paths, self.opening);
        }
        let Some(config) = source.implicit_connection() else {
            return Err(self.not_configured(kind));
        };
        let mut implicit = self.implicit.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(open) = implicit.get(&kind) {
            return Ok(open.clone());
        }
        let open = backend::connect(&config, &self.paths, self.opening)?;
        implicit.insert(kind, open.clone());
        Ok(open)
    }

    /// The backend a planned statement runs on: the configured one, or the one opened for
    /// sources that need no configuration.
    fn backend_of(&self, kind: BackendKind) -> Result<Arc<dyn Backend>> {
        if let Some(slot) = self.slots.get(&kind) {
            return slot.get(&self.paths, self.opening);
        }
        let implicit = self.implicit.lock().unwrap_or_else(|e| e.into_inner());
        implicit
            .get(&kind)
            .cloned()
            .ok_or_else(|| self.not_configured(kind))
    }

    /// The error for a backend without a connection.
    fn not_configured(&self, kind: BackendKind) -> Error {
        Error::ConnectionNotFound {
            backend: kind,
            message: format!(
                "no {kind} connection is configured; {}",
                kind.driver().how_to_configure()
            ),
        }
    }

    /// Stops every statement running on the open connections now (from another thread): they
    /// fail as cancelled. BigQuery jobs are left to finish.
    pub fn interrupt(&self) {
        let mut open: Vec<Arc<dyn Backend>> = self
            .slots
            .values()
            .filter_map(|slot| {
                slot.backend
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .clone()
            })
            .collect();
        open.extend(
            self.implicit
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .values()
                .cloned(),
        );
        for backend in open {
            backend.interrupt();
        }
    }

    /// Runs one read-only statement on a backend.
    pub(crate) fn query(
        &self,
        backend: BackendKind,
        sql: &str,
        cancel: &crate::Cancel,
    ) -> Result<std::result::Result<Vec<RecordBatch>, BackendError>> {
        Ok(self.backend_of(backend)?.query(sql, cancel))
    }

    /// The backend's own plan of a statement.
    pub(crate) fn explain(
        &self,
        backend: BackendKind,
        sql: &str,
    ) -> Result<std::result::Result<String, BackendError>> {
        Ok(self.backend_of(backend)?.explain(sql))
    }

    /// The bytes a statement would process on a backend that bills by bytes read.
    pub(crate) fn estimate(
        &self,
        backend: BackendKind,
        sql: &str,
    ) -> Result<Option<std::result::Result<u64, BackendError>>> {
        Ok(self.backend_of(backend)?.estimate(sql))
    }

    /// Every table and view of every configured backend, as source URIs ready to use in specs.
    pub fn list_tables(&self) -> Result<Vec<String>> {
        let mut out = Vec::new();
        for slot in self.slots.values() {
            out.extend(slot.get(&self.paths, self.opening)?.list_tables()?);
        }
        Ok(out)
    }

    /// The tables and views of one backend's connection, as source URIs.
    pub fn list_tables_of(&self, backend: BackendKind) -> Result<Vec<String>> {
        match self.slots.get(&backend) {
            Some(slot) => slot.get(&self.paths, self.opening)?.list_tables(),
            None => Err(self.not_configured(backend)),
        }
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
        self.columns(&uri)
    }
}

impl Catalog for ConnectionManager {
    fn table(&self, source: &SourceUri) -> Result<Table> {
        self.backend(source)?.table(source)
    }

    fn columns(&self, source: &SourceUri) -> Result<Vec<Column>> {
        self.backend(source)?.describe(source)
    }
}
