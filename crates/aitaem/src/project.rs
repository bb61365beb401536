//! Projects: where a set of specs and its connections file live.
//!
//! A project directory holds spec files under `metrics/`, `slices/` and `segments/`, and
//! usually a `connections.yaml`:
//!
//! ```text
//! my-project/
//!   connections.yaml
//!   metrics/revenue.yaml
//!   slices/country.yaml
//!   segments/customer_tier.yaml
//! ```

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::connect::ConnectionManager;
use crate::error::Result;
use crate::spec::SpecCache;

/// The name of the connections file looked for in a project directory.
pub const CONNECTIONS_FILE: &str = "connections.yaml";

/// Where specs and connections are found: a project directory, spec files or directories by
/// kind, and a connections file.
///
/// ```
/// # let dir = tempfile::tempdir().unwrap();
/// # std::fs::create_dir(dir.path().join("metrics")).unwrap();
/// # std::fs::write(dir.path().join("metrics/clicks.yaml"),
/// #     "metric:\n  name: clicks\n  source: duckdb://events.csv\n  numerator: SUM(clicks)\n").unwrap();
/// let project = aitaem::Project::open(dir.path());
/// let specs = project.specs().unwrap();
/// assert!(specs.metric("clicks").is_ok());
/// // No connections.yaml: an empty set of connections (file sources still work).
/// assert!(project.connections_file().is_none());
/// ```
#[derive(Debug, Clone, Default)]
pub struct Project {
    dir: Option<PathBuf>,
    metrics: Vec<PathBuf>,
    slices: Vec<PathBuf>,
    segments: Vec<PathBuf>,
    connections: Option<PathBuf>,
    lock_wait: Option<Duration>,
    store: Option<PathBuf>,
}

impl Project {
    /// The project in a directory.
    pub fn open(dir: impl AsRef<Path>) -> Project {
        Project {
            dir: Some(dir.as_ref().to_path_buf()),
            ..Project::default()
        }
    }

    /// Adds metric spec files or directories.
    pub fn metrics<P: Into<PathBuf>>(mut self, paths: impl IntoIterator<Item = P>) -> Self {
        self.metrics.extend(paths.into_iter().map(Into::into));
        self
    }

    /// Adds slice spec files or directories.
    pub fn slices<P: Into<PathBuf>>(mut self, paths: impl IntoIterator<Item = P>) -> Self {
        self.slices.extend(paths.into_iter().map(Into::into));
        self
    }

    /// Adds segment spec files or directories.
    pub fn segments<P: Into<PathBuf>>(mut self, paths: impl IntoIterator<Item = P>) -> Self {
        self.segments.extend(paths.into_iter().map(Into::into));
        self
    }

    /// Uses this connections file instead of looking for one.
    pub fn with_connections_file(mut self, file: impl Into<PathBuf>) -> Self {
        self.connections = Some(file.into());
        self
    }

    /// Waits this long for a database another process writes, when a connection opens
    /// (default 5 s; see [`ConnectionManager::set_lock_wait`]).
    pub fn with_lock_wait(mut self, wait: Duration) -> Self {
        self.lock_wait = Some(wait);
        self
    }

    /// Computes with the result store in `dir` (see [`crate::Store`]), instead of the
    /// connections file's `store:` block, if any.
    pub fn with_store(mut self, dir: impl Into<PathBuf>) -> Self {
        self.store = Some(dir.into());
        self
    }

    /// The project directory, when there is one.
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    /// The connections file: the one given, or `connections.yaml` in the project directory (the
    /// working directory when there is none) if it exists.
    pub fn connections_file(&self) -> Option<PathBuf> {
        if let Some(file) = &self.connections {
            return Some(file.clone());
        }
        let default = self
            .dir
            .as_deref()
            .unwrap_or(Path::new("."))
            .join(CONNECTIONS_FILE);
        default.is_file().then_some(default)
    }

    /// Where the project's specs are read from: the project directory's `metrics/`, `slices/`
    /// and `segments/`, then the spec files and directories given (what to watch for changes).
    ///
    /// ```
    /// let project = aitaem::Project::open("shop").metrics(["extra/revenue.yaml"]);
    /// let paths = project.spec_paths();
    /// assert_eq!(paths[0], std::path::Path::new("shop/metrics"));
    /// assert_eq!(paths.last().unwrap(), std::path::Path::new("extra/revenue.yaml"));
    /// ```
    pub fn spec_paths(&self) -> Vec<PathBuf> {
        let dirs = self
            .dir
            .iter()
            .flat_map(|dir| ["metrics", "slices", "segments"].map(|sub| dir.join(sub)));
        dirs.chain(self.metrics.iter().cloned())
            .chain(self.slices.iter().cloned())
            .chain(self.segments.iter().cloned())
            .collect()
    }

    /// Loads and validates every spec of the project.
    pub fn specs(&self) -> Result<SpecCache> {
        SpecCache::load(
            self.dir.as_deref(),
            &self.metrics,
            &self.slices,
            &self.segments,
        )
    }

    /// The project's connections (none configured when it has no connections file).
    pub fn connections(&self) -> Result<ConnectionManager> {
        let mut connections = match self.connections_file() {
            Some(file) => ConnectionManager::from_yaml(file)?,
            None => ConnectionManager::new(),
        };
        if let Some(wait) = self.lock_wait {
            connections.set_lock_wait(wait);
        }
        if let Some(dir) = &self.store {
            // The connections file's store settings (its lookback) stay.
            let store = match connections.store() {
                Some(store) => store.at_dir(dir),
                None => crate::Store::at(dir),
            };
            connections.set_store(Some(store));
        }
        Ok(connections)
    }

    /// The project's specs and connections, ready to compute: embedded databases (about 20 ms
    /// to open for DuckDB) open while the specs load. A spec error is reported first; a
    /// database that fails to open says so when a source needs it.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # std::fs::create_dir(dir.path().join("metrics")).unwrap();
    /// # std::fs::write(dir.path().join("metrics/clicks.yaml"),
    /// #     "metric:\n  name: clicks\n  source: duckdb://events.csv\n  numerator: SUM(clicks)\n").unwrap();
    /// let (specs, connections) = aitaem::Project::open(dir.path()).load().unwrap();
    /// assert!(specs.metric("clicks").is_ok());
    /// assert_eq!(connections.backends().count(), 0);
    /// ```
    pub fn load(&self) -> Result<(SpecCache, ConnectionManager)> {
        let (specs, connections) = std::thread::scope(|scope| {
            let connections = scope.spawn(|| {
                let connections = self.connections()?;
                for backend in connections.backends().filter(|b| b.is_embedded()) {
                    let _ = connections.open(backend);
                }
                Ok::<_, crate::Error>(connections)
            });
            let specs = self.specs();
            let connections = connections
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            (specs, connections)
        });
        Ok((specs?, connections?))
    }
}
