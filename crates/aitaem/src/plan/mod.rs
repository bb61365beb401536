//! Planning: a checked request becomes one SQL statement per source table.
//!
//! Metrics that read the same table (and, when a window or period applies, the same timestamp
//! column) share one statement, which scans the table once:
//!
//! 1. **Labels** are computed once per row: a bit mask per value-list slice (bit *i* set when
//!    value *i*'s predicate holds, so overlapping values each count the row), the column itself
//!    for a wildcard slice, the segment's label from one join to the labelled dimension table,
//!    the truncated timestamp for periods, and the entity column.
//! 2. **Two-stage** (every aggregate re-aggregable: SUM, COUNT, AVG, MIN, MAX, ...): the rows are
//!    aggregated once to the finest combination of labels (partial aggregates), and each
//!    slice × segment state is then rolled up from that small intermediate. When the slices'
//!    estimated label combinations are many, the first stage is split into grouping sets of
//!    slices (see `sets`), so that its cost does not grow with the product of their cardinalities.
//!    **One-pass** (`COUNT(DISTINCT)`, medians, ...): the labelled rows are materialised once and
//!    each state aggregates them. **Single aggregate**: with no slices and no segment there is one
//!    state, computed directly.
//! 3. The states are unioned into one wide row per group (a value column per metric), which
//!    `assemble` unpivots into the standard 11 columns without copying labels.

mod layout;
mod origin;
mod sets;
mod statement;
pub(crate) mod stored;

use std::fmt;
use std::path::{Path, PathBuf};

use arrow::datatypes::SchemaRef;

pub(crate) use layout::{Columns, Combine, Derivation, Layout, RangeKind, Ranged};

use crate::backend::BackendKind;
use crate::catalog::{Catalog, Table};
use crate::error::{Error, RequestError, Result};
use crate::request::{Aggregated, CheckedRequest, ComputeRequest};
use crate::result::DerivedColumn;
use crate::source::SourceUri;
use crate::spec::{Formula, SpecCache};
use crate::sql::Ident;
use statement::Mode;

/// How a statement aggregates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Strategy {
    /// One state (no slices, no segment): aggregate directly.
    SingleAggregate,
    /// Aggregate to the finest label combination, then roll each state up from there.
    TwoStage,
    /// Materialise the labelled rows once, then aggregate each state from them.
    OnePass,
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Strategy::SingleAggregate => "single aggregate",
            Strategy::TwoStage => "two-stage roll-up",
            Strategy::OnePass => "one pass over the labelled rows",
        })
    }
}

/// One statement of a plan: the metrics of one source table.
#[derive(Debug, Clone)]
pub struct PlannedStatement {
    pub(crate) source: SourceUri,
    pub(crate) metrics: Vec<String>,
    pub(crate) strategy: Strategy,
    pub(crate) backend: BackendKind,
    pub(crate) sql: String,
    pub(crate) files: Vec<PathBuf>,
    pub(crate) layout: Layout,
    /// Where its SQL comes from in the specs.
    pub(crate) origins: Vec<origin::Origin>,
    /// With a result store: how it takes part, or why it cannot (see [`stored`]).
    pub(crate) stored: Option<std::result::Result<stored::StoredPlan, String>>,
}

impl PlannedStatement {
    /// The source table.
    pub fn source(&self) -> &SourceUri {
        &self.source
    }

    /// The metrics it computes, in request order.
    pub fn metrics(&self) -> &[String] {
        &self.metrics
    }

    /// How it aggregates.
    pub fn strategy(&self) -> Strategy {
        self.strategy
    }

    /// The backend it runs on.
    pub fn backend(&self) -> BackendKind {
        self.backend
    }

    /// The SQL, in the backend's dialect.
    pub fn sql(&self) -> &str {
        &self.sql
    }

    /// The local files it reads (see [`Table::file`]).
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }

    /// Where in the specs a backend's error about this statement points: a column or call that
    /// the statement's metrics, slices or segment wrote.
    pub(crate) fn locate(
        &self,
        error: &crate::error::BackendError,
    ) -> Option<crate::yaml::Location> {
        origin::locate(&self.origins, &self.sql, error)
    }
}

/// The statements that compute a request.
#[derive(Debug, Clone)]
pub struct Plan {
    statements: Vec<PlannedStatement>,
    /// The derived metrics, each after those it reads.
    pub(crate) derived: Vec<DerivedPlan>,
    /// The metrics the result holds, in request order.
    pub(crate) requested: Vec<String>,
    notices: Vec<String>,
    schema: SchemaRef,
}

/// A derived metric, evaluated from the statements' results.
#[derive(Debug, Clone)]
pub(crate) struct DerivedPlan {
    pub name: String,
    pub format: Option<String>,
    pub expression: Formula,
}

impl Plan {
    /// The statements: one per source table (and timestamp column).
    pub fn statements(&self) -> &[PlannedStatement] {
        &self.statements
    }

    /// The derived metrics the result holds or reads, each with its expression, in the order
    /// they are evaluated (after the statements, from their results).
    pub fn derived_metrics(&self) -> impl Iterator<Item = (&str, &Formula)> {
        self.derived
            .iter()
            .map(|d| (d.name.as_str(), &d.expression))
    }

    /// What the user should know: how sources were found (see [`Table::notice`]), and
    /// options that give NULL for a metric, with the reason (`share_of_total` of a ratio).
    pub fn notices(&self) -> &[String] {
        &self.notices
    }

    /// The schema of the result: the standard 11 columns and the derived columns the request
    /// asks for.
    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// Every local file the statements read, once each.
    pub fn files(&self) -> Vec<&Path> {
        let mut files: Vec<&Path> = Vec::new();
        for file in self.statements.iter().flat_map(|s| &s.files) {
            if !files.contains(&file.as_path()) {
                files.push(file);
            }
        }
        files
    }
}

impl fmt::Display for Plan {
    /// The statements as SQL, each preceded by a comment naming its source and metrics.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.statements.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            writeln!(
                f,
                "-- source: {} | metrics: {} | plan: {}",
                s.source,
                s.metrics.join(", "),
                s.strategy
            )?;
            writeln!(f, "{};", s.sql)?;
        }
        for d in &self.derived {
            writeln!(
                f,
                "\n-- derived metric: {} = {} (computed from the results above; no statement)",
                d.name, d.expression
            )?;
        }
        Ok(())
    }
}

/// The table of a source, from the catalog; `user` (e.g. "metric `ctr`") says who reads it when
/// no connection can.
fn table_for(catalog: &dyn Catalog, source: &SourceUri, user: &str) -> Result<Table> {
    catalog.table(source).map_err(|err| match err {
        Error::ConnectionNotFound { backend, message } => Error::ConnectionNotFound {
            backend,
            message: format!("{user} reads `{source}`, but {message}"),
        },
        other => other,
    })
}

/// Whether two (optional) columns are the same column: names compare without case.
fn same_column(a: Option<&Ident>, b: Option<&Ident>) -> bool {
    a.map(|a| a.name.to_lowercase()) == b.map(|b| b.name.to_lowercase())
}

/// Metrics that one statement computes.
struct Group<'s> {
    fact: Table,
    source: &'s SourceUri,
    timestamp: Option<Ident>,
    /// The timestamp column's type, where the dialect needs it (see
    /// [`Dialect::needs_time_column_types`]).
    timestamp_type: Option<String>,
    metrics: Vec<Aggregated<'s>>,
}

/// Plans a request: checks it against the specs, looks every source up in the catalog, and
/// builds one statement per source table (and timestamp column). Nothing runs.
///
/// ```
/// use aitaem::backend::BackendKind;
/// use aitaem::catalog::{Catalog, Column, Table};
/// use aitaem::plan::plan;
/// use aitaem::source::SourceUri;
/// use aitaem::{ComputeRequest, SpecCache};
///
/// /// Every source is a PostgreSQL table of the same name.
/// struct Tables;
/// impl Catalog for Tables {
///     fn table(&self, source: &SourceUri) -> aitaem::Result<Table> {
///         let name = source.as_str().rsplit('/').next().unwrap();
///         Ok(Table::new(BackendKind::POSTGRES, BackendKind::POSTGRES.quote(name)))
///     }
///     fn columns(&self, _source: &SourceUri) -> aitaem::Result<Vec<Column>> {
///         Ok(Vec::new())
///     }
/// }
///
/// let specs = SpecCache::from_strings(
///     &["metric:\n  name: clicks\n  source: postgres://public/events\n  numerator: SUM(clicks)\n"],
///     &[],
///     &[],
/// )
/// .unwrap();
/// let plan = plan(&ComputeRequest::new(["clicks"]), &specs, &Tables).unwrap();
/// assert_eq!(plan.statements()[0].backend(), BackendKind::POSTGRES);
/// assert!(plan.statements()[0].sql().contains("SUM(clicks)"));
/// ```
pub fn plan(request: &ComputeRequest, specs: &SpecCache, catalog: &dyn Catalog) -> Result<Plan> {
    plan_with(request, specs, catalog, false)
}

/// [`plan`], with each statement's part for a result store when `store` is set.
pub(crate) fn plan_with(
    request: &ComputeRequest,
    specs: &SpecCache,
    catalog: &dyn Catalog,
    store: bool,
) -> Result<Plan> {
    let mut plan = plan_checked(&request.check(specs)?, catalog, store)?;
    plan.schema = crate::result::schema_with(&request.derived_columns());
    Ok(plan)
}

pub(crate) fn plan_checked(
    request: &CheckedRequest,
    catalog: &dyn Catalog,
    store: bool,
) -> Result<Plan> {
    let needs_time = request.window.is_some();
    let mut groups: Vec<Group> = Vec::new();
    // Each distinct source is looked up (and its table checked) once.
    let mut tables: Vec<(&SourceUri, Table)> = Vec::new();
    for &metric in &request.metrics {
        let source = &metric.def.source;
        let fact = match tables.iter().find(|(uri, _)| *uri == source) {
            Some((_, table)) => table.clone(),
            None => {
                let table = table_for(catalog, source, &format!("metric `{}`", metric.spec.name))?;
                tables.push((source, table.clone()));
                table
            }
        };
        let timestamp = if needs_time {
            metric.def.timestamp_col.clone()
        } else {
            None
        };
        let same = groups
            .iter_mut()
            .find(|g| g.fact == fact && same_column(g.timestamp.as_ref(), timestamp.as_ref()));
        match same {
            Some(group) => group.metrics.push(metric),
            None => groups.push(Group {
                fact,
                source,
                timestamp,
                timestamp_type: None,
                metrics: vec![metric],
            }),
        }
    }
    if store && !needs_time {
        // The store keeps all-time results per day: by the timestamp column the group's
        // metrics share, when they share one (the statement itself reads every row).
        for group in &mut groups {
            let mut columns = group.metrics.iter().map(|m| m.def.timestamp_col.as_ref());
            let first = columns.next().flatten();
            if columns.all(|c| same_column(c, first)) {
                group.timestamp = first.cloned();
            }
        }
    }
    for group in &mut groups {
        let needs_type =
            group.timestamp.is_some() && group.fact.backend().dialect().needs_time_column_types();
        if !needs_type && request.filters.is_empty() {
            continue;
        }
        let columns = match group.fact.columns() {
            Some(known) => known.to_vec(),
            None => catalog.columns(group.source)?,
        };
        if let Some(ts) = &group.timestamp
            && needs_type
        {
            group.timestamp_type = columns
                .iter()
                .find(|c| c.name.eq_ignore_ascii_case(&ts.name))
                .map(|c| c.data_type.clone());
        }
        check_filter_columns(request, group, &columns)?;
    }

    let dimension = match &request.segment {
        Some(segment) => Some(table_for(
            catalog,
            &segment.spec.source,
            &format!("segment `{}`", segment.spec.name),
        )?),
        None => None,
    };
    let mut notices: Vec<String> = tables
        .iter()
        .map(|(_, t)| t)
        .chain(&dimension)
        .filter_map(|t| t.notice().map(str::to_string))
        .collect();

    let mut statements = Vec::new();
    for group in groups {
        if let (Some(dim), Some(segment)) = (&dimension, &request.segment)
            && dim.backend() != group.fact.backend()
        {
            return Err(RequestError::SegmentOnAnotherBackend {
                segment: segment.spec.name.clone(),
                segment_source: segment.spec.source.to_string(),
                segment_backend: dim.backend(),
                metric: group.metrics[0].spec.name.clone(),
                metric_source: group.source.to_string(),
                metric_backend: group.fact.backend(),
            }
            .into());
        }
        let built = statement::build(&group, request, dimension.as_ref(), Mode::Compute)?;
        let metrics: Vec<String> = group.metrics.iter().map(|m| m.spec.name.clone()).collect();
        let stored =
            store.then(|| stored::plan(&group, request, dimension.as_ref(), &built, &metrics));
        let files = [&Some(group.fact.clone()), &dimension]
            .into_iter()
            .flatten()
            .filter_map(|t| t.file().map(Path::to_path_buf))
            .collect();
        statements.push(PlannedStatement {
            source: group.source.clone(),
            metrics,
            strategy: built.strategy,
            backend: group.fact.backend(),
            sql: built.sql,
            files,
            layout: built.layout,
            origins: origin::origins(&group.metrics, request),
            stored,
        });
    }
    notices.extend(share_notices(request, &statements));
    Ok(Plan {
        statements,
        derived: request
            .derived_metrics
            .iter()
            .filter_map(|m| {
                Some(DerivedPlan {
                    name: m.name.clone(),
                    format: m.format.as_ref().map(ToString::to_string),
                    expression: m.expression()?.clone(),
                })
            })
            .collect(),
        requested: request.requested.iter().map(|m| m.name.clone()).collect(),
        notices,
        schema: crate::result::schema(),
    })
}

/// Why a requested metric's `share_of_total` is NULL, for each requested metric whose values
/// are not shares of a total: ratios, other aggregates, and derived metrics.
fn share_notices(request: &CheckedRequest, statements: &[PlannedStatement]) -> Vec<String> {
    if !request.derived.contains(&DerivedColumn::ShareOfTotal) {
        return Vec::new();
    }
    let requested = |name: &str| request.requested.iter().any(|m| m.name == name);
    let kinds = statements.iter().flat_map(|s| {
        let combine = s.layout.derive.iter().flat_map(|d| &d.combine);
        s.layout.metrics.iter().map(|(name, _)| name).zip(combine)
    });
    let aggregates = kinds.filter_map(|(name, combine)| {
        let what = match combine {
            Combine::Total | Combine::Distinct => return None,
            Combine::RatioOfTotals => "a ratio",
            Combine::Other => "neither a single SUM or COUNT nor a distinct count",
        };
        requested(name).then_some((name.as_str(), what))
    });
    let derived = request
        .derived_metrics
        .iter()
        .filter(|m| requested(&m.name))
        .map(|m| (m.name.as_str(), "a derived metric"));
    aggregates
        .chain(derived)
        .map(|(name, what)| {
            format!(
                "`share_of_total` is NULL for `{name}` ({what}): shares are computed for totals \
                 (a single SUM or COUNT) and distinct counts only"
            )
        })
        .collect()
}

/// A request filter that reads a column the group's source lacks fails the whole request,
/// naming the column, a metric and its source. A catalog that knows no columns of the source
/// (an empty list) is not checked.
fn check_filter_columns(
    request: &CheckedRequest,
    group: &Group,
    columns: &[crate::catalog::Column],
) -> Result<()> {
    if columns.is_empty() {
        return Ok(());
    }
    for filter in &request.filters {
        let expr = crate::sql::fragment::parse(filter, Some(group.fact.backend().dialect()))
            .map_err(|e| RequestError::InvalidFilter {
                filter: filter.clone(),
                reason: e.message,
            })?;
        for column in crate::sql::inspect::columns(&expr) {
            if !columns.iter().any(|c| c.name.eq_ignore_ascii_case(&column)) {
                return Err(RequestError::FilterColumnMissing {
                    filter: filter.clone(),
                    column,
                    metric: group.metrics[0].spec.name.clone(),
                    source: group.source.to_string(),
                }
                .into());
            }
        }
    }
    Ok(())
}
