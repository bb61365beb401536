//! Connections: the library's `ConnectionManager` for Python.

use std::path::PathBuf;
use std::sync::RwLock;

use aitaem::config::{BackendConfig, SettingValue};
use aitaem::source::SourceUri;
use aitaem::{BackendKind, ConnectionManager, Error};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyString};

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

    /// Adds the connection of `backend`, configured by `settings` (a dict with the keys of its
    /// `connections.yaml` block; values are text, numbers, booleans or None). It is opened when
    /// first needed.
    fn add(&self, py: Python<'_>, backend: &str, settings: &Bound<'_, PyDict>) -> PyResult<()> {
        let kind = backend_kind(backend)?;
        let mut values = Vec::new();
        for (key, value) in settings.iter() {
            let key: String = key.extract()?;
            values.push((key, setting(&value)?));
        }
        let config = py
            .detach(|| {
                BackendConfig::from_settings(kind.name(), values, |name| std::env::var(name).ok())
            })
            .map_err(errors::to_py)?;
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

    /// Computes with the result store in `path` (None: without one); a refresh reads again
    /// from `lookback_seconds` before each entry's latest period (default a day), or, for the
    /// sources of `source_lookback_seconds`, from their own.
    #[pyo3(signature = (path, lookback_seconds=None, source_lookback_seconds=None))]
    fn set_store(
        &self,
        py: Python<'_>,
        path: Option<PathBuf>,
        lookback_seconds: Option<f64>,
        source_lookback_seconds: Option<Vec<(String, f64)>>,
    ) -> PyResult<()> {
        let duration = |what: &str, s: f64| match s.is_finite() && s >= 0.0 {
            true => Ok(std::time::Duration::from_secs_f64(s)),
            false => Err(pyo3::exceptions::PyValueError::new_err(format!(
                "{what} must be 0 or more, got {s}"
            ))),
        };
        let store = match path {
            Some(path) => {
                let mut store = py
                    .detach(|| aitaem::Store::open(path))
                    .map_err(errors::to_py)?;
                if let Some(s) = lookback_seconds {
                    store = store.with_lookback(duration("the lookback", s)?);
                }
                for (source, s) in source_lookback_seconds.unwrap_or_default() {
                    let lookback = duration(&format!("the lookback of {source}"), s)?;
                    store = store.with_source_lookback(source, lookback);
                }
                Some(store)
            }
            None => None,
        };
        py.detach(|| locked::write(&self.manager).set_store(store));
        Ok(())
    }

    /// The result store's directory, when there is one.
    fn store_path(&self, py: Python<'_>) -> Option<PathBuf> {
        py.detach(|| {
            locked::read(&self.manager)
                .store()
                .map(|s| s.path().to_path_buf())
        })
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
                .map(BackendKind::name)
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
/// `ConnectionManager.parse_source_uri` does (see `SourceUri::database_and_table`).
#[pyfunction]
pub fn parse_source_uri(uri: &str) -> PyResult<(&'static str, String, String)> {
    let parsed = SourceUri::parse(uri).map_err(errors::to_py)?;
    let (database, table) = parsed.database_and_table();
    Ok((parsed.backend().name(), database, table))
}

/// The names of every backend the engine has, in `connections.yaml` order.
#[pyfunction]
pub fn backends() -> Vec<&'static str> {
    aitaem::backend::backends().map(BackendKind::name).collect()
}

/// A setting's value from Python.
fn setting(value: &Bound<'_, PyAny>) -> PyResult<SettingValue> {
    Ok(if value.is_none() {
        SettingValue::Null
    } else if value.is_instance_of::<PyBool>() {
        SettingValue::Bool(value.extract()?)
    } else if value.is_instance_of::<PyInt>() {
        SettingValue::Int(value.extract()?)
    } else if value.is_instance_of::<PyFloat>() {
        SettingValue::Float(value.extract()?)
    } else if value.is_instance_of::<PyString>() {
        SettingValue::Text(value.extract()?)
    } else {
        // Paths and other objects: their text.
        SettingValue::Text(value.str()?.extract()?)
    })
}

pub(crate) fn backend_kind(name: &str) -> PyResult<BackendKind> {
    BackendKind::from_name(name).ok_or_else(|| {
        errors::to_py(Error::UnsupportedBackend {
            backend: name.to_string(),
            message: format!(
                "Backend type '{name}' not supported; supported backends are {}",
                backends().join(", ")
            ),
        })
    })
}
