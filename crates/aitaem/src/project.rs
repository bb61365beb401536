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
        match self.connections_file() {
            Some(file) => ConnectionManager::from_yaml(file),
            None => Ok(ConnectionManager::new()),
        }
    }
}
