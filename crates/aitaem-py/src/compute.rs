//! Computing, scanning and loading, with the GIL released and Ctrl-C honoured.

use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;

use aitaem::duckdb::{Existing, LoadOptions};
use aitaem::error::RequestError;
use aitaem::{
    Cancel, Comparison, ComputeRequest, ConnectionManager, MetricCompute, PeriodType, SpecCache,
    WeekStart,
};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;

use crate::connections::Connections;
use crate::errors;
use crate::locked;
use crate::specs::SpecStore;
use crate::table::Table;

/// How often a waiting call looks for Ctrl-C.
const SIGNAL_POLL: Duration = Duration::from_millis(50);

/// What to compute: the library's `ComputeRequest`, built step by step as its builder is.
/// Each method returns a new request.
#[pyclass(frozen, module = "aitaem._native")]
#[derive(Clone)]
pub struct Request {
    request: ComputeRequest,
}

impl Request {
    fn with(&self, change: impl FnOnce(ComputeRequest) -> ComputeRequest) -> Request {
        Request {
            request: change(self.request.clone()),
        }
    }
}

#[pymethods]
impl Request {
    /// A request for these metrics, all time, no breakdowns.
    #[new]
    fn new(metrics: Vec<String>) -> Self {
        Request {
            request: ComputeRequest::new(metrics),
        }
    }

    /// Counts only the source rows for which every one of these SQL predicates holds.
    fn filters(&self, filters: Vec<String>) -> Request {
        self.with(|r| filters.into_iter().fold(r, ComputeRequest::filter))
    }

    /// Breaks the metrics down by these slices.
    fn slices(&self, slices: Vec<String>) -> Request {
        self.with(|r| r.slices(slices))
    }

    /// Adds a segment, joined on `join_key` (default: its `entity_id`).
    #[pyo3(signature = (name, join_key=None))]
    fn segment(&self, name: String, join_key: Option<String>) -> Request {
        self.with(|r| match join_key {
            Some(key) => r.segment(name).join_key(key),
            None => r.segment(name),
        })
    }

    /// Keeps rows with `start <= timestamp < end`.
    fn time_window(&self, start: String, end: String) -> Request {
        self.with(|r| r.time_window(start, end))
    }

    /// Groups rows by period: `all_time`, `hourly`, ... `yearly`.
    fn period(&self, period: &str) -> PyResult<Request> {
        let period: PeriodType = period.parse().map_err(errors::to_py)?;
        Ok(self.with(|r| r.period(period)))
    }

    /// Breaks every metric down by an entity column.
    fn by_entity(&self, column: String) -> Request {
        self.with(|r| r.by_entity(column))
    }

    /// Starts weekly periods on `monday`, `sunday` or `saturday`.
    fn week_start(&self, day: &str) -> PyResult<Request> {
        let day: WeekStart = day.parse().map_err(errors::to_py)?;
        Ok(self.with(|r| r.week_start(day)))
    }

    /// Gives every period of the window a row.
    fn fill_gaps(&self, fill: bool) -> Request {
        self.with(|r| r.fill_gaps(fill))
    }

    /// Compares every row with `previous_period` or `previous_year`.
    fn compare(&self, comparison: &str) -> PyResult<Request> {
        let comparison: Comparison = comparison.parse().map_err(errors::to_py)?;
        Ok(self.with(|r| r.compare(comparison)))
    }

    /// Adds each row's share of its total.
    fn share(&self, share: bool) -> Request {
        self.with(|r| r.share(share))
    }

    /// Adds running totals over the window.
    fn cumulative(&self, cumulative: bool) -> Request {
        self.with(|r| r.cumulative(cumulative))
    }

    /// Adds totals over the last `periods` periods.
    fn rolling(&self, periods: i64) -> PyResult<Request> {
        let periods = u32::try_from(periods)
            .map_err(|_| errors::to_py(RequestError::InvalidRolling { given: periods }.into()))?;
        Ok(self.with(|r| r.rolling(periods)))
    }
}

/// Computes a request.
#[pyfunction]
pub fn compute(
    py: Python<'_>,
    specs: &SpecStore,
    connections: &Connections,
    request: &Request,
) -> PyResult<Table> {
    let request = request.request.clone();
    let result = interruptible(py, specs, connections, move |specs, connections, cancel| {
        MetricCompute::new(specs, connections).compute_cancellable(&request, cancel)
    })?;
    Ok(Table::new(result))
}

/// What refreshing one entry of the result store did: `(source, metrics, outcome, from, to,
/// rows)`, `outcome` one of `read`, `up_to_date`, `dropped: <reason>`.
type Refreshed = (
    String,
    Vec<String>,
    String,
    Option<String>,
    Option<String>,
    u64,
);

/// Refreshes the connections' result store (every entry, or one source's).
#[pyfunction]
#[pyo3(signature = (specs, connections, source=None))]
pub fn refresh_store(
    py: Python<'_>,
    specs: &SpecStore,
    connections: &Connections,
    source: Option<String>,
) -> PyResult<Vec<Refreshed>> {
    let refreshed = interruptible(py, specs, connections, move |specs, connections, _| {
        MetricCompute::new(specs, connections).refresh_store(source.as_deref())
    })?;
    Ok(refreshed
        .into_iter()
        .map(|r| {
            let (outcome, from, to, rows) = match r.outcome {
                aitaem::RefreshOutcome::Read { from, to, rows } => (
                    "read".to_string(),
                    from.map(|t| t.to_string()),
                    to.map(|t| t.to_string()),
                    rows,
                ),
                aitaem::RefreshOutcome::UpToDate => ("up_to_date".to_string(), None, None, 0),
                aitaem::RefreshOutcome::Dropped(reason) => {
                    (format!("dropped: {reason}"), None, None, 0)
                }
                other => (format!("{other:?}"), None, None, 0),
            };
            (r.source, r.metrics, outcome, from, to, rows)
        })
        .collect())
}

/// One row per metric × slice and metric × segment: `(metric_name, spec_name, spec_type,
/// compatible, valid_join_keys, missing_columns, reason)`, `reason` None when compatible.
type ScanRow = (
    String,
    String,
    &'static str,
    bool,
    Vec<String>,
    Vec<String>,
    Option<String>,
);

/// Which slices and segments fit which metrics.
#[pyfunction]
pub fn scan(
    py: Python<'_>,
    specs: &SpecStore,
    connections: &Connections,
) -> PyResult<Vec<ScanRow>> {
    let result = interruptible(py, specs, connections, |specs, connections, _| {
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
    let options = LoadOptions::default().with_existing(if append {
        Existing::Append
    } else {
        Existing::Replace
    });
    let (_, loaded) = py
        .detach(|| aitaem::duckdb::load_csv_files(&files, &db_path, options, |_| {}))
        .map_err(errors::to_py)?;
    Ok(loaded
        .into_iter()
        .map(|t| (t.file.display().to_string(), t.table, t.rows))
        .collect())
}

/// Runs `work` on another thread with the GIL released, looking for Ctrl-C meanwhile: on
/// Ctrl-C the cancel handle `work` gets is cancelled (a compute's running statements stop on
/// DuckDB and PostgreSQL), and once `work` has stopped, the `KeyboardInterrupt` is raised.
///
/// Both locks are held (for reading) until `work` ends, by this thread, which waits without the
/// GIL; the worker thread never needs the GIL.
fn interruptible<T: Send>(
    py: Python<'_>,
    specs: &SpecStore,
    connections: &Connections,
    work: impl FnOnce(&SpecCache, &ConnectionManager, &Cancel) -> aitaem::Result<T> + Send,
) -> PyResult<T> {
    py.detach(|| {
        let specs = locked::read(&specs.cache);
        let connections = locked::read(&connections.manager);
        let (specs, connections): (&SpecCache, &ConnectionManager) = (&specs, &connections);
        let cancel = Cancel::new();
        std::thread::scope(|scope| {
            let (done, finished) = mpsc::channel();
            let cancelled = cancel.clone();
            let worker = scope.spawn(move || {
                let outcome = work(specs, connections, &cancelled);
                let _ = done.send(());
                outcome
            });
            let mut interrupted = None;
            while let Err(mpsc::RecvTimeoutError::Timeout) = finished.recv_timeout(SIGNAL_POLL) {
                if interrupted.is_none()
                    && let Err(signal) = Python::attach(|py| py.check_signals())
                {
                    // Only this call's statements stop (and any it has not started yet); other
                    // threads' computations on the same connections go on.
                    cancel.cancel();
                    interrupted = Some(signal);
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
