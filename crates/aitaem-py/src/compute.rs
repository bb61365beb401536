//! Computing, scanning and loading, with the GIL released and Ctrl-C honoured.

use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;

use aitaem::{
    Comparison, ComputeRequest, ConnectionManager, MetricCompute,
    PeriodType, SpecCache, WeekStart,
};
use aitaem::duckdb::{Existing, LoadOptions};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;

use crate::connections::Connections;
use crate::errors;
use crate::locked;
use crate::specs::SpecStore;
use crate::table::Table;

/// How often a waiting call looks for Ctrl-C.
const SIGNAL_POLL: Duration = Duration::from_millis(50);

/// Computes metrics (the arguments of `MetricCompute.compute`, already checked and
/// normalised by the Python layer).
#[pyfunction]
#[pyo3(signature = (specs, connections, metrics, slices, segment, join_key, time_window, period, by_entity, week_start, fill_gaps, compare, share, cumulative, rolling))]
#[allow(clippy::too_many_arguments)]
pub fn compute(
    py: Python<'_>,
    specs: &SpecStore,
    connections: &Connections,
    metrics: Vec<String>,
    slices: Vec<String>,
    segment: Option<String>,
    join_key: Option<String>,
    time_window: Option<(String, String)>,
    period: &str,
    by_entity: Option<String>,
    week_start: &str,
    fill_gaps: bool,
    compare: Option<&str>,
    share: bool,
    cumulative: bool,
    rolling: Option<i64>,
) -> PyResult<Table> {
    let period: PeriodType = period.parse().map_err(errors::to_py)?;
    let week_start: WeekStart = week_start.parse().map_err(errors::to_py)?;
    let mut request = ComputeRequest::new(metrics)
        .slices(slices)
        .period(period)
        .week_start(week_start)
        .fill_gaps(fill_gaps)
        .share(share)
        .cumulative(cumulative);
    if let Some(comparison) = compare {
        request = request.compare(comparison.parse::<Comparison>().map_err(errors::to_py)?);
    }
    if let Some(n) = rolling {
        let n = u32::try_from(n).map_err(|_| {
            errors::to_py(aitaem::Error::QueryBuild {
                message: format!(
                    "rolling needs a number of periods from 1 to {}, got {n}",
                    u32::MAX
                ),
            })
        })?;
        request = request.rolling(n);
    }
    if let Some(name) = segment {
        request = request.segment(name);
    }
    if let Some(column) = join_key {
        request = request.join_key(column);
    }
    if let Some((start, end)) = time_window {
        request = request.time_window(start, end);
    }
    if let Some(column) = by_entity {
        request = request.by_entity(column);
    }
    let result = interruptible(py, specs, connections, move |specs, connections| {
        MetricCompute::new(specs, connections).compute(&request)
    })?;
    Ok(Table::new(result))
}

/// One row per metric × slice and metric × segment: `(metric_name, spec_name, spec_type,
/// compatible, valid_join_keys, missing_columns, reason)`, `reason` empty when compatible.
type ScanRow = (
    String,
    String,
    &'static str,
    bool,
    Vec<String>,
    Vec<String>,
    String,
);

/// Which slices and segments fit which metrics.
#[pyfunction]
pub fn scan(
    py: Python<'_>,
    specs: &SpecStore,
    connections: &Connections,
) -> PyResult<Vec<ScanRow>> {
    let result = interruptible(py, specs, connections, |specs, connections| {
        MetricCompute::new(specs, connections).scan()
    })?;
    Ok(result
        .entries
        .into_iter()
        .map(|e| {
            (
                e.metric_name,
                e.spec_name,
                e.spec_type.as_str(),
                e.compatible,
                e.valid_join_keys,
                e.missing_columns,
                e.reason,
            )
        })
        .collect())
}

/// Loads CSV files into a DuckDB database, each into the table named after it, replacing
/// existing tables or appending to them; returns `(file, table, rows)` per file. The database
/// is closed afterwards.
#[pyfunction]
pub fn load_csvs(
    py: Python<'_>,
    files: Vec<PathBuf>,
    db_path: PathBuf,
    append: bool,
) -> PyResult<Vec<(String, String, u64)>> {
    let options = LoadOptions {
        existing: if append {
            Existing::Append
        } else {
            Existing::Replace
        },
        ..LoadOptions::default()
    };
    let (_, loaded) = py
        .detach(|| aitaem::duckdb::load_csv_files(&files, &db_path, options, |_| {}))
        .map_err(errors::to_py)?;
    Ok(loaded
        .into_iter()
        .map(|t| (t.file.display().to_string(), t.table, t.rows))
        .collect())
}

/// Runs `work` on another thread with the GIL released, looking for Ctrl-C meanwhile: on
/// Ctrl-C the running statements are interrupted, and once `work` has stopped, the
/// `KeyboardInterrupt` is raised.
///
/// Both locks are held (for reading) until `work` ends, by this thread, which waits without the
/// GIL; the worker thread never needs the GIL.
fn interruptible<T: Send>(
    py: Python<'_>,
    specs: &SpecStore,
    connections: &Connections,
    work: impl FnOnce(&SpecCache, &ConnectionManager) -> aitaem::Result<T> + Send,
) -> PyResult<T> {
    py.detach(|| {
        let specs = locked::read(&specs.cache);
        let connections = locked::read(&connections.manager);
        let (specs, connections): (&SpecCache, &ConnectionManager) = (&specs, &connections);
        std::thread::scope(|scope| {
            let (done, finished) = mpsc::channel();
            let worker = scope.spawn(move || {
                let outcome = work(specs, connections);
                let _ = done.send(());
                outcome
            });
            let mut interrupted = None;
            while let Err(mpsc::RecvTimeoutError::Timeout) = finished.recv_timeout(SIGNAL_POLL) {
                if interrupted.is_none()
                    && let Err(signal) = Python::attach(|py| py.check_signals())
                {
                    interrupted = Some(signal);
                }
                // Again at every poll: a statement that started after the first interrupt (the
                // signal came while a connection was opening) is stopped too.
                if interrupted.is_some() {
                    connections.interrupt();
                }
            }
            let outcome = worker.join();
            if let Some(signal) = interrupted {
                return Err(signal);
            }
            match outcome {
                Ok(result) => result.map_err(errors::to_py),
                Err(_) => Err(PyRuntimeError::new_err(
                    "internal error: the computation panicked",
                )),
            }
        })
    })
}
