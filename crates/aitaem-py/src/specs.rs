//! Specs: the library's `SpecCache` for Python, and specs as plain dictionaries that the
//! Python layer turns into its dataclasses.

use std::path::{Path, PathBuf};
use std::sync::RwLock;

use aitaem::SpecCache;
use aitaem::spec::{NamedPredicate, SegmentKind, SliceKind, Spec, SpecKind};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use crate::errors::{self, SpecContext};
use crate::locked;

/// A validated set of specs (the library's `SpecCache`).
#[pyclass(frozen, module = "aitaem._native")]
pub struct SpecStore {
    pub(crate) cache: RwLock<SpecCache>,
}

#[pymethods]
impl SpecStore {
    #[new]
    fn new() -> Self {
        SpecStore::from(SpecCache::new())
    }

    /// Loads spec files or directories of them, by kind, validated as one set.
    #[staticmethod]
    fn load(
        py: Python<'_>,
        metrics: Vec<PathBuf>,
        slices: Vec<PathBuf>,
        segments: Vec<PathBuf>,
    ) -> PyResult<SpecStore> {
        let context = single_kind(&metrics, &slices, &segments);
        py.detach(|| SpecCache::from_paths(&metrics, &slices, &segments))
            .map(SpecStore::from)
            .map_err(|e| errors::to_py_with(e, context))
    }

    /// Loads specs from YAML strings (one spec per string), by kind.
    #[staticmethod]
    fn from_strings(
        metrics: Vec<String>,
        slices: Vec<String>,
        segments: Vec<String>,
    ) -> PyResult<SpecStore> {
        let context = single_kind(&metrics, &slices, &segments);
        SpecCache::from_strings(&refs(&metrics), &refs(&slices), &refs(&segments))
            .map(SpecStore::from)
            .map_err(|e| errors::to_py_with(e, context))
    }

    /// Adds the spec written in `text`, of `kind`.
    fn add(&self, py: Python<'_>, kind: &str, text: &str) -> PyResult<()> {
        let spec = parse(text, None, kind)?;
        let name = spec.name().to_string();
        py.detach(|| locked::write(&self.cache).add(spec))
            .map_err(|e| errors::to_py_with(e, context(kind, &name)))
    }

    /// Replaces the spec of the same kind and name with the one written in `text`.
    fn update(&self, py: Python<'_>, kind: &str, text: &str) -> PyResult<()> {
        let spec = parse(text, None, kind)?;
        let name = spec.name().to_string();
        py.detach(|| locked::write(&self.cache).update(spec))
            .map_err(|e| errors::to_py_with(e, context(kind, &name)))
    }

    /// Removes a spec.
    fn remove(&self, py: Python<'_>, kind: &str, name: &str) -> PyResult<()> {
        let spec_kind = spec_kind(kind)?;
        py.detach(|| locked::write(&self.cache).remove(spec_kind, name).map(drop))
            .map_err(|e| errors::to_py_with(e, context(kind, name)))
    }

    /// Removes every spec.
    fn clear(&self, py: Python<'_>) {
        py.detach(|| locked::write(&self.cache).clear())
    }

    /// Bumped by every change.
    #[getter]
    fn version(&self, py: Python<'_>) -> u64 {
        py.detach(|| locked::read(&self.cache).version())
    }

    /// The fields of one spec (`SpecNotFoundError`, with close names, when there is none).
    fn get<'py>(&self, py: Python<'py>, kind: &str, name: &str) -> PyResult<Bound<'py, PyDict>> {
        let spec_kind = spec_kind(kind)?;
        let spec = py.detach(|| {
            let cache = locked::read(&self.cache);
            match spec_kind {
                SpecKind::Metric => cache.metric(name).cloned().map(Spec::Metric),
                SpecKind::Slice => cache.slice(name).cloned().map(Spec::Slice),
                SpecKind::Segment => cache.segment(name).cloned().map(Spec::Segment),
            }
        });
        to_dict(py, &spec.map_err(errors::to_py)?)
    }

    /// Every spec of a kind, as dictionaries of the Python dataclasses' fields, in name order.
    fn specs<'py>(&self, py: Python<'py>, kind: &str) -> PyResult<Bound<'py, PyList>> {
        let kind = spec_kind(kind)?;
        let cache = py.detach(|| locked::read(&self.cache).clone());
        let list = PyList::empty(py);
        match kind {
            SpecKind::Metric => {
                for m in cache.metrics() {
                    list.append(to_dict(py, &Spec::Metric(m.clone()))?)?;
                }
            }
            SpecKind::Slice => {
                for s in cache.slices() {
                    list.append(to_dict(py, &Spec::Slice(s.clone()))?)?;
                }
            }
            SpecKind::Segment => {
                for s in cache.segments() {
                    list.append(to_dict(py, &Spec::Segment(s.clone()))?)?;
                }
            }
        }
        Ok(list)
    }
}

impl From<SpecCache> for SpecStore {
    fn from(cache: SpecCache) -> Self {
        SpecStore {
            cache: RwLock::new(cache),
        }
    }
}

/// Decodes and validates one spec of `kind`, read from `path` when given; returns its fields.
#[pyfunction]
#[pyo3(signature = (text, kind, path=None))]
pub fn parse_spec<'py>(
    py: Python<'py>,
    text: &str,
    kind: &str,
    path: Option<PathBuf>,
) -> PyResult<Bound<'py, PyDict>> {
    to_dict(py, &parse(text, path.as_deref(), kind)?)
}

/// Validates one spec of `kind` without raising: `(issues, referenced_columns)`, where
/// `referenced_columns` is `None` when there are issues.
#[pyfunction]
pub fn validate_spec<'py>(
    py: Python<'py>,
    text: &str,
    kind: &str,
) -> PyResult<(Bound<'py, PyList>, Option<Bound<'py, PyDict>>)> {
    let spec_kind = spec_kind(kind)?;
    match Spec::parse(text, None, Some(spec_kind)) {
        Ok(spec) => {
            let columns = PyDict::new(py);
            for (field, names) in spec.referenced_columns() {
                columns.set_item(field, names)?;
            }
            Ok((PyList::empty(py), Some(columns)))
        }
        Err(aitaem::Error::SpecValidation(e)) => Ok((errors::issues(py, &e.issues)?, None)),
        Err(other) => Err(errors::to_py(other)),
    }
}

fn parse(text: &str, path: Option<&Path>, kind: &str) -> PyResult<Spec> {
    Spec::parse(text, path, Some(spec_kind(kind)?)).map_err(|e| {
        errors::to_py_with(
            e,
            SpecContext {
                kind: Some(kind),
                name: None,
            },
        )
    })
}

fn refs(texts: &[String]) -> Vec<&str> {
    texts.iter().map(String::as_str).collect()
}

pub(crate) fn spec_kind(kind: &str) -> PyResult<SpecKind> {
    match kind {
        "metric" => Ok(SpecKind::Metric),
        "slice" => Ok(SpecKind::Slice),
        "segment" => Ok(SpecKind::Segment),
        other => Err(errors::value_error(format!(
            "unknown spec type {other:?}: use \"metric\", \"slice\" or \"segment\""
        ))),
    }
}

fn context<'a>(kind: &'a str, name: &'a str) -> SpecContext<'a> {
    SpecContext {
        kind: Some(kind),
        name: Some(name),
    }
}

/// The kind, when only one kind of spec is being loaded.
fn single_kind<T>(metrics: &[T], slices: &[T], segments: &[T]) -> SpecContext<'static> {
    let kinds: Vec<&'static str> = [
        (!metrics.is_empty()).then_some("metric"),
        (!slices.is_empty()).then_some("slice"),
        (!segments.is_empty()).then_some("segment"),
    ]
    .into_iter()
    .flatten()
    .collect();
    SpecContext {
        kind: (kinds.len() == 1).then(|| kinds[0]),
        name: None,
    }
}

/// A spec's fields, named and shaped as the Python dataclasses' (and the original library's).
fn to_dict<'py>(py: Python<'py>, spec: &Spec) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    let values = |values: &[NamedPredicate]| -> Vec<(String, String)> {
        values
            .iter()
            .map(|v| (v.name.clone(), v.predicate.text.clone()))
            .collect()
    };
    let names = |idents: &[aitaem::sql::Ident]| -> Vec<String> {
        idents.iter().map(ToString::to_string).collect()
    };
    match spec {
        Spec::Metric(m) => {
            let a = m.aggregate();
            d.set_item("name", &m.name)?;
            d.set_item("source", a.map(|a| a.source.as_str()))?;
            d.set_item("numerator", a.map(|a| &a.numerator.text))?;
            d.set_item(
                "timestamp_col",
                a.and_then(|a| a.timestamp_col.as_ref().map(|t| t.to_string())),
            )?;
            d.set_item("description", m.description.as_deref().unwrap_or(""))?;
            d.set_item(
                "denominator",
                a.and_then(|a| a.denominator.as_ref().map(|f| &f.text)),
            )?;
            d.set_item("entities", a.and_then(|a| a.entities.as_deref().map(names)))?;
            d.set_item("format", m.format.as_ref().map(|f| f.to_string()))?;
            d.set_item("filter", a.and_then(|a| a.filter.as_ref().map(|f| &f.text)))?;
            d.set_item("expression", m.expression().map(|e| e.text()))?;
        }
        Spec::Slice(s) => {
            d.set_item("name", &s.name)?;
            let (vals, cross, column) = match &s.kind {
                SliceKind::Values(v) => (values(v), Vec::new(), String::new()),
                SliceKind::CrossProduct(parts) => (Vec::new(), parts.clone(), String::new()),
                SliceKind::Column { written, .. } => (Vec::new(), Vec::new(), written.clone()),
                _ => return Err(unrepresentable("slice", &s.name)),
            };
            d.set_item("values", vals)?;
            d.set_item("cross_product", cross)?;
            d.set_item("column", column)?;
            d.set_item("description", s.description.as_deref().unwrap_or(""))?;
        }
        Spec::Segment(s) => {
            d.set_item("name", &s.name)?;
            d.set_item("source", s.source.as_str())?;
            d.set_item("entity_id", s.entity_id.to_string())?;
            let (vals, columns) = match &s.kind {
                SegmentKind::Values(v) => (values(v), Vec::new()),
                SegmentKind::Columns(c) => (Vec::new(), names(c)),
                _ => return Err(unrepresentable("segment", &s.name)),
            };
            d.set_item("values", vals)?;
            d.set_item("column", columns)?;
            d.set_item("description", s.description.as_deref().unwrap_or(""))?;
            d.set_item("join_keys", names(&s.join_keys))?;
        }
        other => return Err(unrepresentable("spec", other.name())),
    }
    Ok(d)
}

/// The error for a kind of spec the Python classes have no fields for.
fn unrepresentable(kind: &str, name: &str) -> PyErr {
    pyo3::exceptions::PyNotImplementedError::new_err(format!(
        "{kind} `{name}` is of a kind this version of the Python package cannot show"
    ))
}
