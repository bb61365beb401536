//! `MetricCompute`: plan a request, run its statements concurrently, and assemble the
//! standard result; and `scan`, which checks which slices and segments fit which metrics.

mod assemble;
mod derive;
mod derived_metrics;
pub mod scan;
#[cfg(feature = "duckdb")]
mod stored;

use std::collections::HashSet;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;

use crate::cancel::Cancel;
use crate::connect::ConnectionManager;
use crate::error::{BackendError, Error, Result};
use crate::plan::{self, Plan, PlannedStatement};
use crate::request::ComputeRequest;
use crate::result;
use crate::spec::SpecCache;
#[cfg(feature = "duckdb")]
use crate::store::Store;
use scan::ScanResult;

/// Computes metrics from a spec cache and a set of connections.
///
/// ```
/// use aitaem::{ComputeRequest, ConnectionManager, MetricCompute, SpecCache};
/// # let dir = tempfile::tempdir().unwrap();
/// # let csv = dir.path().join("events.csv");
/// std::fs::write(&csv, "country,clicks\nUS,3\nUS,4\nFR,5\n").unwrap();
/// let metric = format!(
///     "metric:\n  name: clicks\n  source: duckdb://{}\n  numerator: SUM(clicks)\n",
///     csv.display()
/// );
/// let specs = SpecCache::from_strings(&[&metric], &["slice:\n  name: country\n  where: country\n"], &[]).unwrap();
/// let connections = ConnectionManager::new();
/// let result = MetricCompute::new(&specs, &connections)
///     .compute(&ComputeRequest::new(["clicks"]).slices(["country"]).sorted(true))
///     .unwrap();
/// let rows = result.rows().unwrap();
/// // FR, US, then the `none`/`all` baseline.
/// let values: Vec<(&str, f64)> = rows.iter().map(|r| (r.slice_value.as_str(), r.metric_value.unwrap())).collect();
/// assert_eq!(values, [("FR", 5.0), ("US", 7.0), ("all", 12.0)]);
/// ```
pub struct MetricCompute<'a> {
    specs: &'a SpecCache,
    connections: &'a ConnectionManager,
    #[cfg(feature = "duckdb")]
    store: Option<(&'a Store, stored::Engine)>,
}

/// The result of a compute: the standard table, a warning for each source that failed when
/// others succeeded, and notices (how sources were found, options that cannot apply).
#[derive(Debug)]
pub struct ComputeResult {
    schema: SchemaRef,
    batches: Vec<RecordBatch>,
    warnings: Vec<Error>,
    notices: Vec<String>,
}

impl ComputeResult {
    /// The result's schema: the standard 11 columns ([`result::schema`]) and the derived
    /// columns the request asked for.
    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// Record batches of that schema (at least one, perhaps empty).
    pub fn batches(&self) -> &[RecordBatch] {
        &self.batches
    }

    /// The record batches, taken out of the result.
    pub fn into_batches(self) -> Vec<RecordBatch> {
        self.batches
    }

    /// One `QueryExecutionError` per failed source (only when some sources succeeded).
    pub fn warnings(&self) -> &[Error] {
        &self.warnings
    }

    /// What the user should know about the result ([`Plan::notices`]): how sources were found,
    /// and options that give NULL for a metric, with the reason.
    pub fn notices(&self) -> &[String] {
        &self.notices
    }

    /// The number of rows.
    pub fn num_rows(&self) -> usize {
        result::num_rows(&self.batches)
    }

    /// The rows, as plain values.
    pub fn rows(&self) -> Result<Vec<result::ResultRow>> {
        result::rows(&self.batches)
    }
}

impl<'a> MetricCompute<'a> {
    /// A computer over these specs and connections (with the result store of their `store:`
    /// block, if any; see [`MetricCompute::with_store`]).
    pub fn new(specs: &'a SpecCache, connections: &'a ConnectionManager) -> Self {
        MetricCompute {
            specs,
            connections,
            #[cfg(feature = "duckdb")]
            store: connections
                .store()
                .map(|store| (store, stored::Engine::default())),
        }
    }

    /// Computes with a result store (see [`Store`]): a statement whose rows the store holds is
    /// answered from it, with no statement on the source; the others read their source once,
    /// per day (or hour), and keep what they read in the store. The result's notices say which.
    ///
    /// ```
    /// use aitaem::{ComputeRequest, ConnectionManager, MetricCompute, SpecCache, Store};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let csv = dir.path().join("events.csv");
    /// std::fs::write(&csv, "day,clicks\n2024-01-01,3\n2024-01-02,4\n").unwrap();
    /// let metric = format!(
    ///     "metric:\n  name: clicks\n  source: duckdb://{}\n  numerator: SUM(clicks)\n  timestamp_col: day\n",
    ///     csv.display()
    /// );
    /// let specs = SpecCache::from_strings(&[&metric], &[], &[]).unwrap();
    /// let connections = ConnectionManager::new();
    /// let store = Store::open(dir.path().join("store")).unwrap();
    /// let compute = MetricCompute::new(&specs, &connections).with_store(&store);
    /// let request = ComputeRequest::new(["clicks"]).time_window("2024-01-01", "2024-02-01");
    /// let first = compute.compute(&request).unwrap();
    /// let again = compute.compute(&request).unwrap();
    /// assert_eq!(again.rows().unwrap()[0].metric_value, Some(7.0));
    /// assert!(again.notices().iter().any(|n| n.contains("answered from the result store")));
    /// # assert_eq!(first.rows().unwrap()[0].metric_value, Some(7.0));
    /// ```
    #[cfg(feature = "duckdb")]
    pub fn with_store(mut self, store: &'a Store) -> Self {
        self.store = Some((store, stored::Engine::default()));
        self
    }

    /// Refreshes the result store given to [`MetricCompute::with_store`] (every entry, or those
    /// of one source as its specs write it): each entry reads its source again from its
    /// watermark (the latest period it holds) less the store's lookback, and those periods'
    /// rows replace the stored ones. An entry whose specs changed is deleted. Without a store,
    /// nothing is refreshed.
    #[cfg(feature = "duckdb")]
    pub fn refresh_store(&self, source: Option<&str>) -> Result<Vec<crate::StoreRefresh>> {
        match &self.store {
            Some((store, _)) => {
                stored::refresh(self.specs, self.connections, store, source, &Cancel::new())
            }
            None => Ok(Vec::new()),
        }
    }

    /// How the result store would take part in a statement of [`MetricCompute::plan`], in
    /// words, with the statement that would run (on DuckDB over stored files, or on the source
    /// to keep its rows); `None` without a store.
    #[cfg(feature = "duckdb")]
    pub fn describe_store(&self, statement: &PlannedStatement) -> Result<Option<String>> {
        match &self.store {
            Some((store, _)) => stored::describe(store, self.connections, statement).map(Some),
            None => Ok(None),
        }
    }

    /// The statements a request would run, without running them.
    pub fn plan(&self, request: &ComputeRequest) -> Result<Plan> {
        #[cfg(feature = "duckdb")]
        let store = self.store.is_some();
        #[cfg(not(feature = "duckdb"))]
        let store = false;
        plan::plan_with(request, self.specs, self.connections, store)
    }

    /// The bytes a statement would process, by a dry run that costs nothing, on backends that
    /// bill by bytes read (BigQuery); `None` on the others.
    pub fn estimate(&self, statement: &PlannedStatement) -> Result<Option<u64>> {
        self.connections
            .estimate(statement.backend, &statement.sql)?
            .transpose()
            .map_err(|source| execution_error(statement, source))
    }

    /// The backend's own plan of a statement (`EXPLAIN`), as text.
    pub fn explain(&self, statement: &PlannedStatement) -> Result<String> {
        self.connections
            .explain(statement.backend, &statement.sql)?
            .map_err(|source| execution_error(statement, source))
    }

    /// Computes a request. Statements of different sources run concurrently. When some fail
    /// and others succeed, the result holds what succeeded and a warning per failure; when all
    /// fail, the first failure is the error.
    pub fn compute(&self, request: &ComputeRequest) -> Result<ComputeResult> {
        self.run(&self.plan(request)?)
    }

    /// [`MetricCompute::compute`], whose statements stop when `cancel` is cancelled (from
    /// another thread): the compute then fails with a `QueryExecutionError` whose backend error
    /// is `Cancelled`.
    ///
    /// ```
    /// use aitaem::{Cancel, ComputeRequest, ConnectionManager, MetricCompute, SpecCache};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let csv = dir.path().join("events.csv");
    /// std::fs::write(&csv, "clicks\n3\n4\n").unwrap();
    /// let metric = format!("metric:\n  name: clicks\n  source: duckdb://{}\n  numerator: SUM(clicks)\n", csv.display());
    /// let specs = SpecCache::from_strings(&[&metric], &[], &[]).unwrap();
    /// let connections = ConnectionManager::new();
    /// let compute = MetricCompute::new(&specs, &connections);
    /// let cancel = Cancel::new();
    /// assert!(compute.compute_cancellable(&ComputeRequest::new(["clicks"]), &cancel).is_ok());
    /// cancel.cancel();
    /// let err = compute.compute_cancellable(&ComputeRequest::new(["clicks"]), &cancel).unwrap_err();
    /// assert_eq!(err.backend_error().unwrap().kind(), aitaem::error::BackendErrorKind::Cancelled);
    /// ```
    pub fn compute_cancellable(
        &self,
        request: &ComputeRequest,
        cancel: &Cancel,
    ) -> Result<ComputeResult> {
        self.run_cancellable(&self.plan(request)?, cancel)
    }

    /// Runs a plan made by [`MetricCompute::plan`] (as [`MetricCompute::compute`] does, for
    /// callers that look at the plan first).
    pub fn run(&self, plan: &Plan) -> Result<ComputeResult> {
        self.run_cancellable(plan, &Cancel::new())
    }

    /// [`MetricCompute::run`], stopped when `cancel` is (see
    /// [`MetricCompute::compute_cancellable`]).
    pub fn run_cancellable(&self, plan: &Plan, cancel: &Cancel) -> Result<ComputeResult> {
        let outcomes: Vec<Result<(Vec<RecordBatch>, Option<String>)>> =
            std::thread::scope(|scope| {
                let handles: Vec<_> = plan
                    .statements()
                    .iter()
                    .map(|statement| scope.spawn(move || self.run_statement(statement, cancel)))
                    .collect();
                handles
                    .into_iter()
                    .zip(plan.statements())
                    .map(|(handle, statement)| {
                        handle.join().unwrap_or_else(|_| {
                            Err(Error::internal(format!(
                                "computing {} on {} panicked",
                                statement.metrics.join(", "),
                                statement.source
                            )))
                        })
                    })
                    .collect()
            });
        let mut batches = Vec::new();
        let mut warnings = Vec::new();
        let mut notices = plan.notices().to_vec();
        let mut failed = HashSet::new();
        for (outcome, statement) in outcomes.into_iter().zip(plan.statements()) {
            match outcome {
                Ok((b, notice)) => {
                    batches.extend(b);
                    notices.extend(notice);
                }
                Err(err) => {
                    warnings.push(err);
                    failed.extend(statement.metrics.iter().cloned());
                }
            }
        }
        if warnings.len() == plan.statements().len() && !warnings.is_empty() {
            return Err(warnings.remove(0));
        }
        let mut batches = derived_metrics::finish(plan, batches, &failed)?;
        if batches.is_empty() {
            // Writers take the columns from the batches.
            batches.push(RecordBatch::new_empty(plan.schema().clone()));
        }
        Ok(ComputeResult {
            schema: plan.schema().clone(),
            batches,
            warnings,
            notices,
        })
    }

    /// For every metric × slice and metric × segment pair, whether they fit together.
    pub fn scan(&self) -> Result<ScanResult> {
        scan::scan(self.specs, self.connections)
    }

    /// Runs one statement (or answers it from the store) and unpivots its rows into the
    /// standard table; with a store, also says how the store took part.
    fn run_statement(
        &self,
        statement: &PlannedStatement,
        cancel: &Cancel,
    ) -> Result<(Vec<RecordBatch>, Option<String>)> {
        let (batches, notice) = self.statement_rows(statement, cancel)?;
        let layout = &statement.layout;
        let rows = match &layout.derive {
            None => layout.unpivot(&batches, &layout.columns())?,
            Some(derivation) => {
                let rows = derive::derive(layout, derivation, &batches)?;
                layout.unpivot(&[rows], &layout.derived_columns())?
            }
        };
        Ok((rows, notice))
    }

    /// A statement's wide rows: from the store where it can answer, else from the backend.
    fn statement_rows(
        &self,
        statement: &PlannedStatement,
        cancel: &Cancel,
    ) -> Result<(Vec<RecordBatch>, Option<String>)> {
        #[cfg(feature = "duckdb")]
        let mut notice = None;
        #[cfg(not(feature = "duckdb"))]
        let notice = None;
        #[cfg(feature = "duckdb")]
        if let (Some((store, engine)), Some(stored)) = (&self.store, &statement.stored) {
            match stored {
                Ok(stored) => {
                    match stored::run(store, engine, self.connections, statement, stored, cancel) {
                        Ok((batches, notice)) => return Ok((batches, Some(notice))),
                        // The source's own errors are the compute's.
                        Err(e) if e.kind() == crate::ErrorKind::QueryExecution => return Err(e),
                        // The store only costs speed: without it, the source answers.
                        Err(e) => {
                            notice = Some(format!(
                                "{} on {}: the result store could not be used ({e}); read from the source",
                                statement.metrics.join(", "),
                                statement.source
                            ));
                        }
                    }
                }
                Err(reason) => {
                    notice = Some(format!(
                        "{} on {}: not from the result store: {reason}",
                        statement.metrics.join(", "),
                        statement.source
                    ));
                }
            }
        }
        let batches = self
            .connections
            .query(statement.backend, &statement.sql, cancel)?
            .map_err(|source| execution_error(statement, source))?;
        Ok((batches, notice))
    }
}

pub(crate) fn execution_error(statement: &PlannedStatement, source: BackendError) -> Error {
    Error::QueryExecution {
        metrics: statement.metrics.clone(),
        source_uri: statement.source.to_string(),
        location: statement.locate(&source),
        source,
    }
}
