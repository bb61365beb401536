//! The library's errors as the Python package's exception classes.
//!
//! The classes live in `aitaem.utils.exceptions` (Python), so that users can subclass and
//! import them as they always have; this module only picks the class and its arguments. The
//! message is the library's, the same words the command line tool prints.

use aitaem::error::SpecIssue;
use aitaem::{Error, ErrorKind};
use pyo3::exceptions::{PyFileNotFoundError, PyOSError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyList;

/// What the caller knows about a failing spec operation, for `SpecValidationError`'s
/// `spec_type` and `name` (the library's issues carry positions, not spec names).
#[derive(Clone, Copy, Default)]
pub struct SpecContext<'a> {
    pub kind: Option<&'a str>,
    pub name: Option<&'a str>,
}

/// Converts an error of the library to the Python exception users catch.
pub fn to_py(err: Error) -> PyErr {
    to_py_with(err, SpecContext::default())
}

/// [`to_py`], with what is known about the spec concerned.
pub fn to_py_with(err: Error, spec: SpecContext) -> PyErr {
    Python::attach(|py| match build(py, err, spec) {
        Ok(err) => err,
        Err(err) => err,
    })
}

fn build(py: Python<'_>, err: Error, spec: SpecContext) -> PyResult<PyErr> {
    let message = err.to_string();
    let class = |name: &str| -> PyResult<Bound<'_, PyAny>> {
        py.import("aitaem.utils.exceptions")?.getattr(name)
    };
    let make = |name: &str| -> PyResult<PyErr> {
        Ok(PyErr::from_value(class(name)?.call1((message.clone(),))?))
    };
    match err {
        Error::SpecValidation(validation) => {
            let errors = issues(py, &validation.issues)?;
            let value = class("SpecValidationError")?.call1((
                spec.kind.unwrap_or("spec"),
                spec.name,
                errors,
                message,
            ))?;
            Ok(PyErr::from_value(value))
        }
        Error::SpecNotFound { kind, name, .. } => {
            let empty = PyList::empty(py);
            let value = class("SpecNotFoundError")?.call1((kind.as_str(), name, empty, message))?;
            Ok(PyErr::from_value(value))
        }
        Error::Io { ref source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
            Ok(PyFileNotFoundError::new_err(message))
        }
        Error::Io { .. } => Ok(PyOSError::new_err(message)),
        other => match other.kind() {
            ErrorKind::QueryBuild => make("QueryBuildError"),
            ErrorKind::QueryExecution | ErrorKind::Load => make("QueryExecutionError"),
            ErrorKind::Configuration => make("ConfigurationError"),
            ErrorKind::Connection => make("AitaemConnectionError"),
            ErrorKind::ConnectionNotFound => make("ConnectionNotFoundError"),
            ErrorKind::TableNotFound => make("TableNotFoundError"),
            ErrorKind::InvalidUri => make("InvalidURIError"),
            ErrorKind::UnsupportedBackend => make("UnsupportedBackendError"),
            _ => make("AitaemError"),
        },
    }
}

/// The issues as `aitaem.utils.validation.ValidationError` objects.
pub fn issues<'py>(py: Python<'py>, issues: &[SpecIssue]) -> PyResult<Bound<'py, PyList>> {
    let class = py
        .import("aitaem.utils.validation")?
        .getattr("ValidationError")?;
    let list = PyList::empty(py);
    for issue in issues {
        let field = if issue.field.is_empty() {
            "yaml"
        } else {
            issue.field.as_str()
        };
        list.append(class.call1((
            field,
            issue.message.as_str(),
            issue.help.as_deref(),
            issue.location.to_string(),
        ))?)?;
    }
    Ok(list)
}

/// A `ValueError`, for arguments of the wrong shape.
pub fn value_error(message: impl Into<String>) -> PyErr {
    PyValueError::new_err(message.into())
}
