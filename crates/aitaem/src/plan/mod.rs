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

mod sets;
mod statement;

use std::fmt;
use std::sync::Arc;

use crate::assemble::Layout;
use crate::backend::Backend;
use crate::connect::{ConnectionManager, ResolvedSource};
use crate::error::{Error, Result};
use crate::request::CheckedRequest;
use crate::source::SourceUri;
use crate::spec::MetricSpec;
use crate::sql::Ident;

/// How a statement aggregates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
#[derive(Clone)]
pub struct PlannedStatement {
    /// The source table.
    pub source: SourceUri,
    /// The metrics it computes, in request order.
    pub metrics: Vec<String>,
    /// How it aggregates.
    pub strategy: Strategy,
    /// The SQL, in the backend's dialect.
    pub sql: String,
    pub(crate) backend: Arc<dyn Backend>,
    pub(crate) layout: Layout,
}

impl fmt::Debug for PlannedStatement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PlannedStatement")
            .field("source", &self.source.uri)
            .field("metrics", &self.metrics)
            .field("strategy", &self.strategy)
            .finish()
    }
}

impl PlannedStatement {
    /// The backend's own plan for the statement (`EXPLAIN`).
    pub fn explain(&self) -> Result<String> {
        self.backend
            .explain(&self.sql)
            .map_err(|message| Error::QueryExecution {
                metrics: self.metrics.clone(),
                source_uri: self.source.uri.clone(),
                message,
            })
    }
}

/// The statements that compute a request.
#[derive(Debug, Clone)]
pub struct Plan {
    /// One per source table (and timestamp column).
    pub statements: Vec<PlannedStatement>,
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
        Ok(())
    }
}

/// Metrics that one statement computes.
struct Group<'s> {
    fact: ResolvedSource,
    timestamp: Option<Ident>,
    metrics: Vec<&'s MetricSpec>,
}

/// Plans a checked request: resolves every source and builds one statement per group.
pub fn plan(request: &CheckedRequest, connections: &ConnectionManager) -> Result<Plan> {
    let needs_time = request.window.is_some();
    let mut groups: Vec<Group> = Vec::new();
    // Each distinct source is resolved (and its table checked) once.
    let mut resolved: Vec<ResolvedSource> = Vec::new();
    for metric in &request.metrics {
        let fact = match resolved.iter().find(|r| r.uri == metric.source) {
            Some(r) => r.clone(),
            None => {
                let r =
                    connections.resolve(&metric.source, &format!("metric `{}`", metric.name))?;
                resolved.push(r.clone());
                r
            }
        };
        let timestamp = if needs_time {
            metric.timestamp_col.clone()
        } else {
            None
        };
        let same = groups.iter_mut().find(|g| {
            Arc::ptr_eq(&g.fact.backend, &fact.backend)
                && g.fact.relation == fact.relation
                && g.timestamp.as_ref().map(|t| t.name.to_lowercase())
                    == timestamp.as_ref().map(|t| t.name.to_lowercase())
        });
        match same {
            Some(group) => group.metrics.push(metric),
            None => groups.push(Group {
                fact,
                timestamp,
                metrics: vec![metric],
            }),
        }
    }

    let dimension = match &request.segment {
        Some(segment) => Some(connections.resolve(
            &segment.spec.source,
            &format!("segment `{}`", segment.spec.name),
        )?),
        None => None,
    };

    let mut statements = Vec::new();
    for group in groups {
        if let (Some(dim), Some(segment)) = (&dimension, &request.segment)
            && !Arc::ptr_eq(&dim.backend, &group.fact.backend)
        {
            return Err(Error::query_build(format!(
                "segment `{}` reads `{}` ({}), but metric `{}` reads `{}` ({}); a segment's dimension table must be on the same backend as the metric's table",
                segment.spec.name,
                dim.uri,
                dim.uri.backend(),
                group.metrics[0].name,
                group.fact.uri,
                group.fact.uri.backend(),
            )));
        }
        let built = statement::build(&group, request, dimension.as_ref())?;
        statements.push(PlannedStatement {
            source: group.fact.uri.clone(),
            metrics: group.metrics.iter().map(|m| m.name.clone()).collect(),
            strategy: built.strategy,
            sql: built.sql,
            backend: group.fact.backend.clone(),
            layout: built.layout,
        });
    }
    Ok(Plan { statements })
}
