//! Connections: the library's `ConnectionManager` for Python.

use std::path::PathBuf;
use std::sync::RwLock;

use aitaem::config::ConnectionsConfig;
use aitaem::source::{BackendKind, Source, SourceUri};
use aitaem::{ConnectionManager, Error};
use pyo3::prelude::*;

use crate::errors;
use crate::locked;

/// The configured connections, one per backend (the library's `ConnectionManager`).
#[pyclass(frozen, module = "aitaem._native")]
pub struct Connections {
    pub(crate) manager: RwLock<ConnectionManager>,
}

#[pymethods]
impl Connections {
    #[new]
    fn new() -> Self {
        Connections::from(ConnectionManager::new())
    }

    /// The connections of a `connections.yaml` file (`${VAR}` substituted from the
    /// environment; relative paths resolve next to the file).
    #[staticmethod]
    fn from_yaml(py: Python<'_>, path: PathBuf) -> PyResult<Connections> {
        py.detach(|| ConnectionManager::from_yaml(&path))
            .map(Connections::from)
            .map_err(errors::to_py)
    }

    /// Adds the connection of `backend`, configured by `config` (a JSON object with the keys of
    /// its `connections.yaml` block). It is opened when first needed.
    fn add(&self, py: Python<'_>, backend: &str, config: &str) -> PyResult<()> {
        let kind = backend_kind(backend)?;
        let document = format!("{{\"{kind}\": {config}}}");
        let parsed =
            ConnectionsConfig::from_str_with(&document, None, |name| std::env::var(name).ok())
                .map_err(|err| match err {
                    // The position would point into text the user never wrote.
                    Error::Configuration { message, .. } => errors::to_py(Error::Configuration {
                        location: None,
                        message: format!("{backend} connection: {message}"),
                    }),
                    other => errors::to_py(other),
                })?;
        let Some(config) = parsed.backends.into_iter().next() else {
            return Err(errors::value_error("no connection settings given"));
        };
        py.detach(|| locked::write(&self.manager).add_connection(config));
        Ok(())
    }

    /// Adds `other`'s connection of `backend` (its settings; it is opened anew when needed).
    fn adopt(&self, py: Python<'_>, other: &Connections, backend: &str) -> PyResult<()> {
        let kind = backend_kind(backend)?;
        let config = py.detach(|| {
            locked::read(&other.manager)
                .connection_config(kind)
                .cloned()
        });
        let Some(config) = config else {
            return Err(errors::to_py(Error::ConnectionNotFound {
                backend: kind,
                message: format!("the connector has no {kind} connection; call connect() first"),
            }));
        };
        py.detach(|| locked::write(&self.manager).add_connection(config));
        Ok(())
    }

    /// Whether a connection of `backend` is configured.
    fn has(&self, py: Python<'_>, backend: &str) -> PyResult<bool> {
        let kind = backend_kind(backend)?;
        Ok(py.detach(|| locked::read(&self.manager).has_connection(kind)))
    }

    /// The backends with a configured connection, in a fixed order.
    fn backends(&self, py: Python<'_>) -> Vec<&'static str> {
        py.detach(|| {
            locked::read(&self.manager)
                .backends()
                .map(BackendKind::as_str)
                .collect()
        })
    }

    /// Opens the connection of `backend` now.
    fn open(&self, py: Python<'_>, backend: &str) -> PyResult<()> {
        let kind = backend_kind(backend)?;
        py.detach(|| locked::read(&self.manager).open(kind))
            .map_err(errors::to_py)
    }

    /// Closes the connection of `backend` (kept configured), or closes and forgets every
    /// connection.
    #[pyo3(signature = (backend=None))]
    fn close(&self, py: Python<'_>, backend: Option<&str>) -> PyResult<()> {
        match backend {
            Some(name) => {
                let kind = backend_kind(name)?;
                py.detach(|| locked::read(&self.manager).close(kind));
            }
            None => py.detach(|| locked::write(&self.manager).close_all()),
        }
        Ok(())
    }

    /// The tables and views of `backend`'s connection, as source URIs.
    fn list_tables(&self, py: Python<'_>, backend: &str) -> PyResult<Vec<String>> {
        let kind = backend_kind(backend)?;
        py.detach(|| locked::read(&self.manager).list_tables_of(kind))
            .map_err(errors::to_py)
    }

    /// The columns of a source, as `(name, type)` pairs.
    fn describe(&self, py: Python<'_>, source: &str) -> PyResult<Vec<(String, String)>> {
        py.detach(|| locked::read(&self.manager).describe_table(source))
            .map(|columns| columns.into_iter().map(|c| (c.name, c.data_type)).collect())
            .map_err(errors::to_py)
    }
}

impl From<ConnectionManager> for Connections {
    fn from(manager: ConnectionManager) -> Self {
        Connections {
            manager: RwLock::new(manager),
        }
    }
}

/// Splits a source URI into `(backend, database, table)`, as the original library's
/// `ConnectionManager.parse_source_uri` does: the DuckDB database path (empty for the configured
/// database), the PostgreSQL schema (empty for the search path) or the BigQuery project (empty
/// for the connection's), and the table (`dataset.table` on BigQuery; a file's path for DuckDB
/// file sources, with an empty database).
#[pyfunction]
pub fn parse_source_uri(uri: &str) -> PyResult<(&'static str, String, String)> {
    let parsed = SourceUri::parse(uri).map_err(errors::to_py)?;
    let backend = parsed.backend().as_str();
    Ok(match parsed.source {
        Source::DuckDbTable {
            database,
            schema,
            table,
        } => {
            let database = match database {
                aitaem::source::DuckDbDatabase::Configured => String::new(),
                aitaem::source::DuckDbDatabase::Path(path) => path,
            };
            let table = match schema {
                Some(schema) => format!("{schema}.{table}"),
                None => table,
            };
            (backend, database, table)
        }
        Source::DuckDbFile { path, .. } => (backend, String::new(), path),
        Source::Postgres { schema, table } => (backend, schema.unwrap_or_default(), table),
        Source::BigQuery {
            project,
            dataset,
            table,
        } => (
            backend,
            project.unwrap_or_default(),
            format!("{dataset}.{table}"),
        ),
    })
}

pub(crate) fn backend_kind(name: &str) -> PyResult<BackendKind> {
    BackendKind::from_name(name).ok_or_else(|| {
        errors::to_py(Error::UnsupportedBackend {
            backend: name.to_string(),
            message: format!(
                "Backend type '{name}' not supported; supported backends are bigquery, duckdb and postgres"
            ),
        })
    })
}
