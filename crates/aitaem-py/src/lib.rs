//! `aitaem._native`: the Rust library behind the `aitaem` Python package.
//!
//! The package's public API (the original library's classes, exceptions and constants) is the
//! Python code in `python/aitaem`; this module gives it the engine: validated specs, the
//! connections, computing (with the GIL released and Ctrl-C honoured), scanning, loading CSV
//! files, and results as Arrow data. See `python/aitaem/_native.pyi` for its signatures.

mod compute;
mod connections;
mod errors;
mod locked;
mod specs;
mod table;

use pyo3::prelude::*;

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("STANDARD_COLUMNS", aitaem::result::COLUMNS.to_vec())?;
    m.add_class::<specs::SpecStore>()?;
    m.add_class::<connections::Connections>()?;
    m.add_class::<table::Table>()?;
    m.add_class::<compute::Request>()?;
    m.add_function(wrap_pyfunction!(specs::parse_spec, m)?)?;
    m.add_function(wrap_pyfunction!(specs::validate_spec, m)?)?;
    m.add_function(wrap_pyfunction!(connections::parse_source_uri, m)?)?;
    m.add_function(wrap_pyfunction!(connections::backends, m)?)?;
    m.add_function(wrap_pyfunction!(compute::compute, m)?)?;
    m.add_function(wrap_pyfunction!(compute::scan, m)?)?;
    m.add_function(wrap_pyfunction!(compute::refresh_store, m)?)?;
    m.add_function(wrap_pyfunction!(compute::load_csvs, m)?)?;
    Ok(())
}
