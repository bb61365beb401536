//! A computed result as Arrow data that pyarrow, polars, pandas and DuckDB read without
//! copying, through the Arrow PyCapsule interface.

use arrow::array::{RecordBatch, RecordBatchIterator};
use arrow::datatypes::SchemaRef;
use arrow::ffi::FFI_ArrowSchema;
use arrow::ffi_stream::FFI_ArrowArrayStream;
use pyo3::prelude::*;
use pyo3::types::PyCapsule;

use crate::errors;

/// The standard 11-column table of a compute, held as Arrow record batches.
#[pyclass(frozen, module = "aitaem._native")]
pub struct Table {
    batches: Vec<RecordBatch>,
    schema: SchemaRef,
    warnings: Vec<String>,
    notices: Vec<String>,
}

impl Table {
    pub fn new(result: aitaem::ComputeResult) -> Table {
        Table {
            schema: result.schema().clone(),
            warnings: result.warnings().iter().map(ToString::to_string).collect(),
            notices: result.notices().to_vec(),
            batches: result.into_batches(),
        }
    }
}

#[pymethods]
impl Table {
    /// The number of rows.
    #[getter]
    fn num_rows(&self) -> usize {
        aitaem::result::num_rows(&self.batches)
    }

    /// One message per source whose statement failed while others succeeded.
    #[getter]
    fn warnings(&self) -> Vec<String> {
        self.warnings.clone()
    }

    /// Things the user should know about how the request was read (e.g. a DuckDB URI's
    /// database read as the configured one).
    #[getter]
    fn notices(&self) -> Vec<String> {
        self.notices.clone()
    }

    /// The Arrow C stream of the table (the Arrow PyCapsule interface). A requested schema is
    /// not applied: the table has one fixed schema.
    #[pyo3(signature = (requested_schema=None))]
    fn __arrow_c_stream__<'py>(
        &self,
        py: Python<'py>,
        requested_schema: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyCapsule>> {
        let _ = requested_schema;
        let reader = RecordBatchIterator::new(
            self.batches.clone().into_iter().map(Ok),
            self.schema.clone(),
        );
        let stream = FFI_ArrowArrayStream::new(Box::new(reader));
        PyCapsule::new_with_value(py, stream, c"arrow_array_stream")
    }

    /// The Arrow C schema of the table (the Arrow PyCapsule interface).
    fn __arrow_c_schema__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyCapsule>> {
        let schema = FFI_ArrowSchema::try_from(self.schema.as_ref())
            .map_err(|e| errors::value_error(e.to_string()))?;
        PyCapsule::new_with_value(py, schema, c"arrow_schema")
    }
}
