//! Building one statement (see the module documentation of `plan` for its shape).
//!
//! The statement is a chain of common table expressions:
//! `__segment` (the labelled dimension table, with a segment) → `__pre` (two-stage) or `__base`
//! (one pass) → `__states` (one aggregation per slice × segment state), and returns one wide row
//! per group; `assemble` unpivots the metric columns into the standard table.

use sqlparser::ast::Expr;

use super::layout::{Combine, Derivation};
use super::{Group, Layout, Strategy, WideColumn, sets};
use crate::backend::BackendKind;
use crate::catalog::Table;
use crate::error::{Error, Result};
use crate::request::CheckedRequest;
use crate::spec::{NamedPredicate, SegmentKind, SliceKind, SliceSpec, SqlFragment};
use crate::sql::fragment::{self as expr};
use crate::sql::inspect::column_idents;
use crate::sql::rollup::{self, Partials};
use crate::sql::tree::Alias;
use crate::sql::{Dialect, SqlType};

/// Value-list masks hold this many values per column (bits 0..29 of an INTEGER).
const VALUES_PER_MASK: usize = 30;

pub(super) struct Built {
    pub(super) sql: String,
    pub(super) strategy: Strategy,
    pub(super) layout: Layout,
}

/// A column computed once per row in the first stage.
struct Key {
    alias: String,
    expr: String,
}

/// How the second stage turns a label key into result labels.
enum Labeler {
    /// Named values, each one bit of one of the mask columns.
    Values {
        masks: Vec<String>,
        /// (name, mask index, bit)
        values: Vec<(String, usize, u32)>,
    },
    /// The key column's non-NULL values, as text.
    Column { alias: String },
}

impl Labeler {
    /// The first-stage keys it reads.
    fn keys(&self) -> Vec<&str> {
        match self {
            Labeler::Values { masks, .. } => masks.iter().map(String::as_str).collect(),
            Labeler::Column { alias } => vec![alias.as_str()],
        }
    }

    /// Its keys with their estimated numbers of distinct values: a mask takes one value per
    /// named value it holds and one for rows that match none.
    fn estimates(&self) -> Vec<(String, u64)> {
        match self {
            Labeler::Values { masks, values } => masks
                .iter()
                .enumerate()
                .map(|(i, mask)| {
                    let named = values.iter().filter(|(_, m, _)| *m == i).count() as u64;
                    (mask.clone(), named + 1)
                })
                .collect(),
            Labeler::Column { alias } => vec![(alias.clone(), sets::COLUMN_ESTIMATE)],
        }
    }
}

/// The labels of one slice state or segment state in the second stage.
#[derive(Default)]
struct Labels {
    /// The first-stage keys the labels read.
    keys: Vec<String>,
    joins: Vec<String>,
    filters: Vec<String>,
    group_by: Vec<String>,
    /// Text expressions, one per component, joined by `|`.
    values: Vec<String>,
}

impl Labels {
    /// Adds one component's labels; `alias` names its value list when it has one.
    fn add(&mut self, d: &dyn Dialect, labeler: &Labeler, alias: &str) {
        self.keys
            .extend(labeler.keys().into_iter().map(str::to_string));
        match labeler {
            Labeler::Values { masks, values } => {
                let rows: Vec<Vec<String>> = values
                    .iter()
                    .map(|(name, mask, bit)| {
                        vec![mask.to_string(), (1u32 << bit).to_string(), d.string(name)]
                    })
                    .collect();
                let mask = if masks.len() == 1 {
                    format!("__r.{}", masks[0])
                } else {
                    let arms: Vec<String> = masks
                        .iter()
                        .enumerate()
                        .map(|(i, m)| format!("WHEN {i} THEN __r.{m}"))
                        .collect();
                    format!("(CASE {alias}.__mask {} END)", arms.join(" "))
                };
                self.joins.push(format!(
                    "JOIN {} ON ({mask} & {alias}.__bit) <> 0",
                    d.values(&rows, alias, &["__mask", "__bit", "__name"])
                ));
                self.group_by.push(format!("{alias}.__name"));
                self.values.push(format!("{alias}.__name"));
            }
            Labeler::Column { alias } => {
                self.filters.push(format!("__r.{alias} IS NOT NULL"));
                self.group_by.push(format!("__r.{alias}"));
                self.values
                    .push(d.cast(&format!("__r.{alias}"), SqlType::Text));
            }
        }
    }

    /// The label text: the components' values joined by `|`, or `none` when there are none.
    fn value(&self, d: &dyn Dialect, none: &str) -> String {
        if self.values.is_empty() {
            return d.string(none);
        }
        self.values.join(&format!(" || {} || ", d.string("|")))
    }
}

/// One group of result rows: a slice state (a requested slice, or the baseline) with or without
/// the segment.
struct State<'r, 's> {
    slice: Option<&'r (&'s SliceSpec, Vec<&'s SliceSpec>)>,
    with_segment: bool,
    /// The segment's name, or `none`.
    segment_name: String,
}

impl State<'_, '_> {
    /// The result's `slice_type`: the slice's name, its components' names joined by `|`, or
    /// `none`.
    fn slice_type(&self) -> String {
        match self.slice {
            Some((slice, _)) => match &slice.kind {
                SliceKind::CrossProduct(parts) => parts.join("|"),
                _ => slice.name.clone(),
            },
            None => "none".to_string(),
        }
    }
}

/// A metric's numerator and denominator, parsed for the statement's dialect.
struct MetricExprs {
    numerator: Expr,
    denominator: Option<Expr>,
}

/// The segment's labelled dimension table and how the facts join it.
struct SegmentJoin {
    name: String,
    labeler: Labeler,
    cte: String,
    join: String,
}

/// A fragment parsed and translated for the statement's dialect (see [`expr::translate`]);
/// `owner` names its spec in the error when it cannot be.
fn translate(fragment: &SqlFragment, backend: BackendKind, owner: &str) -> Result<Expr> {
    let d = backend.dialect();
    fragment
        .expr_for(backend)
        .and_then(|e| expr::translate(&e, d))
        .map_err(|err| {
            Error::query_build(format!(
                "{owner}: `{}` cannot be written for {}: {}",
                fragment.text,
                d.name(),
                err.message
            ))
        })
}

/// [`translate`] as SQL text.
fn render(fragment: &SqlFragment, backend: BackendKind, owner: &str) -> Result<String> {
    translate(fragment, backend, owner).map(|e| expr::render(&e))
}

/// The labeler of a slice component (every component the request uses has one).
fn labeler<'l>(leaves: &'l [(&SliceSpec, Labeler)], component: &SliceSpec) -> &'l Labeler {
    &leaves
        .iter()
        .find(|(l, _)| l.name == component.name)
        .expect("every component has a labeler")
        .1
}

/// First-stage mask keys for named predicates, and the labeler that reads them. `wrap` wraps
/// each mask expression (an aggregate for dimension tables).
fn mask_keys(
    backend: BackendKind,
    prefix: &str,
    values: &[NamedPredicate],
    owner: &str,
    wrap: impl Fn(String) -> String,
) -> Result<(Vec<Key>, Labeler)> {
    let mut keys = Vec::new();
    let mut labels = Vec::new();
    for (chunk_index, chunk) in values.chunks(VALUES_PER_MASK).enumerate() {
        let mut terms = Vec::new();
        for (bit, value) in chunk.iter().enumerate() {
            let predicate = render(
                &value.predicate,
                backend,
                &format!("{owner}, value `{}`", value.name),
            )?;
            terms.push(format!(
                "CASE WHEN ({predicate}) THEN {} ELSE 0 END",
                1u32 << bit
            ));
            labels.push((value.name.clone(), chunk_index, bit as u32));
        }
        keys.push(Key {
            alias: format!("{prefix}_{chunk_index}"),
            expr: wrap(terms.join(" + ")),
        });
    }
    let masks = keys.iter().map(|k| k.alias.clone()).collect();
    Ok((
        keys,
        Labeler::Values {
            masks,
            values: labels,
        },
    ))
}

/// `numerator` (or `numerator / denominator`) as a double, NULL for a zero denominator.
fn value_expr(d: &dyn Dialect, numerator: &str, denominator: Option<&str>) -> String {
    let num = d.cast(numerator, SqlType::Double);
    match denominator {
        Some(den) => format!("{num} / NULLIF({}, 0)", d.cast(den, SqlType::Double)),
        None => num,
    }
}

/// Accumulates the keys and common table expressions of one statement.
struct Builder {
    backend: BackendKind,
    d: &'static dyn Dialect,
    keys: Vec<Key>,
    ctes: Vec<String>,
    /// The first stage's grouping sets (slice keys only), when there is more than one.
    sets: Vec<Vec<String>>,
}

impl Builder {
    /// Labels every leaf slice the request uses, once each.
    fn slices<'s>(
        &mut self,
        request: &CheckedRequest<'s>,
    ) -> Result<Vec<(&'s SliceSpec, Labeler)>> {
        let d = self.d;
        let mut leaves: Vec<(&SliceSpec, Labeler)> = Vec::new();
        for (_, components) in &request.slices {
            for leaf in components {
                if leaves.iter().any(|(l, _)| l.name == leaf.name) {
                    continue;
                }
                let prefix = format!("__s{}", leaves.len());
                let labeler = match &leaf.kind {
                    SliceKind::Values(values) => {
                        let owner = format!("slice `{}`", leaf.name);
                        let (keys, labeler) = mask_keys(self.backend, &prefix, values, &owner, |e| e)?;
                        self.keys.extend(keys);
                        labeler
                    }
                    SliceKind::Column { column, .. } => {
                        self.keys.push(Key {
                            alias: prefix.clone(),
                            expr: d.column(column),
                        });
                        Labeler::Column { alias: prefix }
                    }
                    SliceKind::CrossProduct(_) => unreachable!("requests list leaf components"),
                };
                leaves.push((leaf, labeler));
            }
        }
        Ok(leaves)
    }

    /// The labelled dimension table, reduced to one row per entity so that a duplicated key
    /// never counts a fact row twice, and the join to it.
    fn segment(
        &mut self,
        request: &CheckedRequest,
        dimension: Option<&Table>,
    ) -> Result<Option<SegmentJoin>> {
        let (Some(segment), Some(dim)) = (&request.segment, dimension) else {
            return Ok(None);
        };
        let d = self.d;
        let spec = segment.spec;
        let entity = d.column(&spec.entity_id);
        let (query, labeler) = match &spec.kind {
            SegmentKind::Values(values) => {
                let owner = format!("segment `{}`", spec.name);
                let (keys, labeler) =
                    mask_keys(self.backend, "__g", values, &owner, |e| format!("BIT_OR({e})"))?;
                let columns: Vec<String> = keys
                    .iter()
                    .map(|k| format!("{} AS {}", k.expr, k.alias))
                    .collect();
                let query = format!(
                    "SELECT {entity} AS __key, {}\n    FROM {} AS _dim\n    GROUP BY {entity}",
                    columns.join(", "),
                    dim.relation()
                );
                (query, labeler)
            }
            SegmentKind::Columns(columns) => {
                let parts: Vec<String> = columns
                    .iter()
                    .map(|c| d.cast(&d.column(c), SqlType::Text))
                    .collect();
                let label = parts.join(&format!(" || {} || ", d.string("|")));
                let query = format!(
                    "SELECT __key, CASE WHEN COUNT(DISTINCT __label) = 1 THEN MIN(__label) END AS __g\n    FROM (SELECT {entity} AS __key, {label} AS __label FROM {} AS _dim) AS __labelled\n    GROUP BY __key",
                    dim.relation()
                );
                (
                    query,
                    Labeler::Column {
                        alias: "__g".into(),
                    },
                )
            }
        };
        for alias in labeler.keys() {
            self.keys.push(Key {
                expr: format!("__dim.{alias}"),
                alias: alias.to_string(),
            });
        }
        Ok(Some(SegmentJoin {
            name: spec.name.clone(),
            labeler,
            cte: format!("__segment AS (\n    {query}\n)"),
            join: format!(
                "\n    LEFT JOIN __segment AS __dim ON __fact.{} = __dim.__key",
                d.column(&segment.join_key)
            ),
        }))
    }

    /// The time filter (the window, with what comparisons and rolling values reach back to),
    /// the period or window key, and the entity key. Returns the filters, and the join of the
    /// windows when rows are grouped by window (`all_time` with a comparison).
    fn time(&mut self, request: &CheckedRequest, group: &Group) -> (Vec<String>, Option<String>) {
        let d = self.d;
        let mut filters = Vec::new();
        let mut join = None;
        if let (Some(window), Some(reach), Some(ts)) =
            (&request.window, &request.reach, &group.timestamp)
        {
            let ts_sql = d.column(ts);
            let kind = group.timestamp_type.as_deref();
            let within = |(from, to): (chrono::NaiveDateTime, chrono::NaiveDateTime)| {
                format!(
                    "{ts_sql} >= {} AND {ts_sql} < {}",
                    d.time_bound(from, kind),
                    d.time_bound(to, kind)
                )
            };
            let ranges: Vec<String> = reach.ranges.iter().map(|&r| within(r)).collect();
            filters.push(match ranges.len() {
                1 => ranges[0].clone(),
                _ => format!("(({}))", ranges.join(") OR (")),
            });
            if let Some(unit) = request.unit {
                self.keys.push(Key {
                    alias: "__period".into(),
                    expr: d.period_key(&ts_sql, unit),
                });
            }
            if let Some(previous) = reach.comparison_window {
                // The windows may overlap: a row of both counts in both.
                let rows: Vec<Vec<String>> = [(window.start, window.end), previous]
                    .iter()
                    .enumerate()
                    .map(|(i, &(from, to))| {
                        vec![
                            i.to_string(),
                            d.time_bound(from, kind),
                            d.time_bound(to, kind),
                        ]
                    })
                    .collect();
                join = Some(format!(
                    "\n    CROSS JOIN {}",
                    d.values(&rows, "__w", &["__i", "__lo", "__hi"])
                ));
                filters.push(format!("{ts_sql} >= __w.__lo AND {ts_sql} < __w.__hi"));
                self.keys.push(Key {
                    alias: "__window".into(),
                    expr: "__w.__i".into(),
                });
            }
        }
        if let Some(entity) = &request.by_entity {
            self.keys.push(Key {
                alias: "__entity".into(),
                expr: d.column(entity),
            });
        }
        (filters, join)
    }

    /// The period, window and entity keys, which every state groups by.
    fn grouping_keys(&self) -> Vec<&Key> {
        self.keys
            .iter()
            .filter(|k| matches!(k.alias.as_str(), "__period" | "__window" | "__entity"))
            .collect()
    }

    /// The first-stage key with this alias.
    fn key(&self, alias: &str) -> &Key {
        self.keys
            .iter()
            .find(|k| k.alias == alias)
            .expect("aliases name first-stage keys")
    }

    /// Whether `alias` is a slice's key (held by some grouping sets only).
    fn is_slice_key(&self, alias: &str) -> bool {
        self.sets.iter().flatten().any(|k| k == alias)
    }

    /// The slices' keys, in first-stage order: the arguments of `GROUPING` that tell the sets
    /// apart.
    fn slice_keys(&self) -> Vec<&str> {
        self.keys
            .iter()
            .map(|k| k.alias.as_str())
            .filter(|k| self.is_slice_key(k))
            .collect()
    }

    /// With grouping sets, the filter that keeps the first set holding all of `keys`: its
    /// `GROUPING` value has a bit set for each slice key the set leaves out.
    fn set_filter(&self, keys: &[String]) -> Option<String> {
        if self.sets.is_empty() {
            return None;
        }
        let set = self
            .sets
            .iter()
            .find(|set| keys.iter().all(|k| set.contains(k)))
            .expect("`sets::pack` puts each slice's keys together in a set");
        let id = self.slice_keys().iter().fold(0u64, |id, k| {
            id << 1 | u64::from(!set.iter().any(|s| s == k))
        });
        Some(format!("__r.__set = {id}"))
    }

    /// The first stage, as a common table expression: the partial aggregates per finest label
    /// combination (two-stage), or the labelled rows (one pass). Returns its name.
    fn first_stage(
        &mut self,
        strategy: Strategy,
        fact: &str,
        partials: &Partials,
        metrics: &[MetricExprs],
    ) -> Option<&'static str> {
        let d = self.d;
        let mut select: Vec<String> = self
            .keys
            .iter()
            .map(|k| format!("{} AS {}", k.expr, k.alias))
            .collect();
        match strategy {
            Strategy::SingleAggregate => None,
            Strategy::TwoStage => {
                select.extend(
                    partials
                        .exprs
                        .iter()
                        .enumerate()
                        .map(|(i, p)| format!("{p} AS {}", Alias::Partial(i))),
                );
                let group_by = if self.sets.is_empty() {
                    let keys: Vec<&str> = self.keys.iter().map(|k| k.alias.as_str()).collect();
                    keys.join(", ")
                } else {
                    // PostgreSQL's GROUPING takes expressions, not the select list's aliases.
                    let arguments: Vec<&str> = self
                        .slice_keys()
                        .into_iter()
                        .map(|alias| match d.grouping_reads_aliases() {
                            true => alias,
                            false => self.key(alias).expr.as_str(),
                        })
                        .collect();
                    select.push(format!("GROUPING({}) AS __set", arguments.join(", ")));
                    let sets: Vec<String> = self
                        .sets
                        .iter()
                        .map(|set| {
                            let keys: Vec<&str> = self
                                .keys
                                .iter()
                                .map(|k| k.alias.as_str())
                                .filter(|k| !self.is_slice_key(k) || set.iter().any(|s| s == k))
                                .collect();
                            format!("({})", keys.join(", "))
                        })
                        .collect();
                    format!("GROUPING SETS ({})", sets.join(", "))
                };
                self.ctes.push(format!(
                    "__pre {} (\n    SELECT {}\n    FROM {fact}\n    GROUP BY {group_by}\n)",
                    d.materialized(),
                    select.join(",\n        "),
                ));
                Some("__pre")
            }
            Strategy::OnePass => {
                // Only the columns the metrics read.
                let mut seen = std::collections::HashSet::new();
                for m in metrics {
                    for e in std::iter::once(&m.numerator).chain(&m.denominator) {
                        for column in column_idents(e) {
                            if seen.insert(column.name.to_lowercase()) {
                                select.push(d.column(&column));
                            }
                        }
                    }
                }
                self.ctes.push(format!(
                    "__base {} (\n    SELECT {}\n    FROM {fact}\n)",
                    d.materialized(),
                    select.join(",\n        ")
                ));
                Some("__base")
            }
        }
    }

    /// One state's aggregation, from the first stage (or from the facts, for a single state).
    #[allow(clippy::too_many_arguments)]
    fn state(
        &self,
        index: usize,
        state: &State,
        leaves: &[(&SliceSpec, Labeler)],
        segment: Option<&SegmentJoin>,
        aggregates: &[String],
        source: Option<&str>,
        fact: &str,
    ) -> String {
        let d = self.d;
        let mut slice_labels = Labels::default();
        if let Some((_, components)) = state.slice {
            for (n, component) in components.iter().enumerate() {
                slice_labels.add(d, labeler(leaves, component), &format!("__v{n}"));
            }
        }
        let mut segment_labels = Labels::default();
        if let (Some(segment), true) = (segment, state.with_segment) {
            segment_labels.add(d, &segment.labeler, "__vg");
        }

        let mut select = vec![format!("{index} AS {}", WideColumn::State.name())];
        let mut group_by = Vec::new();
        for key in self.grouping_keys() {
            let column = match source {
                Some(_) => format!("__r.{}", key.alias),
                None => key.expr.clone(),
            };
            select.push(format!("{column} AS {}", key.alias));
            group_by.push(column);
        }
        select.push(format!(
            "{} AS {}",
            slice_labels.value(d, "all"),
            WideColumn::SliceValue.name()
        ));
        select.push(format!(
            "{} AS {}",
            segment_labels.value(d, "all"),
            WideColumn::SegmentValue.name()
        ));
        select.extend(aggregates.iter().cloned());
        group_by.extend(
            slice_labels
                .group_by
                .iter()
                .chain(&segment_labels.group_by)
                .cloned(),
        );

        let mut sql = format!("SELECT {}", select.join(",\n        "));
        match source {
            Some(source) => {
                sql.push_str(&format!("\n    FROM {source} AS __r"));
                for join in slice_labels.joins.iter().chain(&segment_labels.joins) {
                    sql.push_str(&format!("\n    {join}"));
                }
                let set = self.set_filter(&slice_labels.keys);
                let filters: Vec<&str> = set
                    .iter()
                    .chain(&slice_labels.filters)
                    .chain(&segment_labels.filters)
                    .map(String::as_str)
                    .collect();
                if !filters.is_empty() {
                    sql.push_str(&format!("\n    WHERE {}", filters.join(" AND ")));
                }
            }
            None => sql.push_str(&format!("\n    FROM {fact}")),
        }
        if !group_by.is_empty() {
            sql.push_str(&format!("\n    GROUP BY {}", group_by.join(", ")));
        }
        sql
    }

    /// The final query: one wide row per group, with the columns the layout lists, ordered
    /// when asked. `values` gives what to select for each value column (metric values,
    /// numerators and denominators) over `__states`.
    fn finish(self, layout: &Layout, sort: bool, values: &[(WideColumn, String)]) -> String {
        let d = self.d;
        let columns = layout.columns();
        let select: Vec<String> = columns
            .iter()
            .map(|&column| {
                let name = column.name();
                let value = match column {
                    WideColumn::Period => d.period_start(
                        "__period",
                        layout.unit.expect("a period column implies a unit"),
                    ),
                    WideColumn::Entity => d.cast("__entity", SqlType::Text),
                    WideColumn::Metric(_)
                    | WideColumn::Numerator(_)
                    | WideColumn::Denominator(_) => values
                        .iter()
                        .find(|(c, _)| *c == column)
                        .expect("every value column has a value")
                        .1
                        .clone(),
                    _ => return name,
                };
                if value == name {
                    name
                } else {
                    format!("{value} AS {name}")
                }
            })
            .collect();
        let mut sql = format!(
            "WITH {}\nSELECT {}\nFROM __states",
            self.ctes.join(",\n"),
            select.join(", ")
        );
        if sort {
            let order: Vec<String> = columns
                .iter()
                .filter(|c| {
                    !matches!(
                        c,
                        WideColumn::Metric(_)
                            | WideColumn::Numerator(_)
                            | WideColumn::Denominator(_)
                    )
                })
                .map(|c| c.name())
                .collect();
            sql.push_str(&format!("\nORDER BY {}", order.join(", ")));
        }
        sql
    }
}

/// What a statement's rows mean, and what to derive from them.
fn layout(
    request: &CheckedRequest,
    group: &Group,
    states: &[State],
    metrics: &[MetricExprs],
) -> Layout {
    let combine: Vec<Combine> = metrics
        .iter()
        .map(|m| {
            Combine::of(
                rollup::single_total(&m.numerator),
                m.denominator.as_ref().map(rollup::single_total),
            )
        })
        .collect();
    let totals = request.cumulative || request.rolling.is_some();
    let derive = request.derives().then(|| Derivation {
        columns: request.derived.clone(),
        periods: request
            .unit
            .zip(request.window.as_ref())
            .map(|(unit, w)| w.covering(unit)),
        fill_gaps: request.fill_gaps,
        compare: request.compare,
        rolling: request.rolling,
        divisors: states
            .iter()
            .map(|s| {
                let baseline = |with_segment: bool| {
                    states
                        .iter()
                        .position(|b| b.slice.is_none() && b.with_segment == with_segment)
                        .map(|i| (i, with_segment))
                };
                match (s.slice, s.with_segment) {
                    (Some(_), with_segment) => baseline(with_segment),
                    (None, true) => baseline(false),
                    (None, false) => None,
                }
            })
            .collect(),
        combine: combine.clone(),
        sort: request.sort,
    });
    Layout {
        period_type: request.period.as_str().to_string(),
        unit: request.unit,
        window: match (request.unit, &request.window) {
            (None, Some(w)) => Some((w.start_text.clone(), w.end_text.clone())),
            _ => None,
        },
        by_entity: request.by_entity.is_some(),
        states: states
            .iter()
            .map(|s| (s.slice_type(), s.segment_name.clone()))
            .collect(),
        metrics: group
            .metrics
            .iter()
            .map(|m| (m.name.clone(), m.format.as_ref().map(|f| f.to_string())))
            .collect(),
        window_key: request
            .reach
            .as_ref()
            .is_some_and(|r| r.comparison_window.is_some()),
        parts: combine
            .iter()
            .enumerate()
            .filter(|(_, c)| totals && **c == Combine::RatioOfTotals)
            .map(|(i, _)| i)
            .collect(),
        derive,
    }
}

/// How the metrics are aggregated: the strategy, each metric's numerator and denominator as
/// aggregate expressions, and the partial aggregates the first stage computes (two-stage only).
fn aggregation(
    d: &dyn Dialect,
    metrics: &[MetricExprs],
    single_state: bool,
) -> (Strategy, Vec<(String, Option<String>)>, Partials) {
    let mut partials = Partials::default();
    if !single_state {
        let decomposed: Option<Vec<(String, Option<String>)>> = metrics
            .iter()
            .map(|m| {
                let num = expr::render(&rollup::decompose(&m.numerator, d, &mut partials)?);
                let den = match &m.denominator {
                    Some(den) => Some(expr::render(&rollup::decompose(den, d, &mut partials)?)),
                    None => None,
                };
                Some((num, den))
            })
            .collect();
        if let Some(fractions) = decomposed {
            return (Strategy::TwoStage, fractions, partials);
        }
    }
    let fractions = metrics
        .iter()
        .map(|m| {
            (
                expr::render(&m.numerator),
                m.denominator.as_ref().map(expr::render),
            )
        })
        .collect();
    let strategy = if single_state {
        Strategy::SingleAggregate
    } else {
        Strategy::OnePass
    };
    (strategy, fractions, Partials::default())
}

/// PostgreSQL's `GROUPING` takes at most this many arguments.
const MAX_GROUPING_ARGUMENTS: usize = 31;

/// The grouping sets of the slices' keys for the first stage (see [`sets`]), or none when one
/// set holds them all.
fn grouping_sets(request: &CheckedRequest, leaves: &[(&SliceSpec, Labeler)]) -> Vec<Vec<String>> {
    let slices: Vec<Vec<(String, u64)>> = request
        .slices
        .iter()
        .map(|(_, components)| {
            components
                .iter()
                .flat_map(|c| labeler(leaves, c).estimates())
                .collect()
        })
        .collect();
    let key_count: usize = leaves.iter().map(|(_, l)| l.keys().len()).sum();
    let sets = sets::pack(&slices);
    if sets.len() > 1 && key_count <= MAX_GROUPING_ARGUMENTS {
        sets
    } else {
        Vec::new()
    }
}

pub(super) fn build(
    group: &Group,
    request: &CheckedRequest,
    dimension: Option<&Table>,
) -> Result<Built> {
    let backend = group.fact.backend();
    let d = backend.dialect();
    let mut builder = Builder {
        backend,
        d,
        keys: Vec::new(),
        ctes: Vec::new(),
        sets: Vec::new(),
    };
    let leaves = builder.slices(request)?;
    let segment = builder.segment(request, dimension)?;
    let (filters, windows) = builder.time(request, group);

    let metrics = group
        .metrics
        .iter()
        .map(|metric| {
            let owner = format!("metric `{}`", metric.name);
            let parse = |f: &SqlFragment| translate(f, backend, &owner);
            Ok(MetricExprs {
                numerator: parse(&metric.numerator)?,
                denominator: metric.denominator.as_ref().map(parse).transpose()?,
            })
        })
        .collect::<Result<Vec<_>>>()?;

    // Each requested slice and the baseline, each with and without the segment.
    let segment_states: &[bool] = if segment.is_some() {
        &[true, false]
    } else {
        &[false]
    };
    let segment_name = segment.as_ref().map(|s| s.name.as_str());
    let states: Vec<State> = request
        .slices
        .iter()
        .map(Some)
        .chain([None])
        .flat_map(|slice| {
            segment_states.iter().map(move |&with_segment| State {
                slice,
                with_segment,
                segment_name: match (with_segment, segment_name) {
                    (true, Some(name)) => name.to_string(),
                    _ => "none".to_string(),
                },
            })
        })
        .collect();
    let (strategy, fractions, partials) = aggregation(d, &metrics, states.len() == 1);
    let layout = layout(request, group, &states, &metrics);
    // Each value column with its expression.
    let mut values: Vec<(WideColumn, String)> = fractions
        .iter()
        .enumerate()
        .map(|(i, (num, den))| (WideColumn::Metric(i), value_expr(d, num, den.as_deref())))
        .collect();
    for &i in &layout.parts {
        let (num, den) = &fractions[i];
        let den = den.as_deref().expect("a ratio has a denominator");
        values.push((WideColumn::Numerator(i), d.cast(num, SqlType::Double)));
        values.push((WideColumn::Denominator(i), d.cast(den, SqlType::Double)));
    }

    let mut fact = format!("{} AS __fact", group.fact.relation());
    if let Some(segment) = &segment {
        builder.ctes.push(segment.cte.clone());
        fact.push_str(&segment.join);
    }
    if let Some(windows) = &windows {
        fact.push_str(windows);
    }
    if !filters.is_empty() {
        fact.push_str(&format!("\n    WHERE {}", filters.join(" AND ")));
    }
    if strategy == Strategy::TwoStage {
        builder.sets = grouping_sets(request, &leaves);
    }
    let source = builder.first_stage(strategy, &fact, &partials, &metrics);
    // Two-stage branches roll the partial aggregates up, and the metrics are computed once over
    // their union (a shorter statement for the database to prepare); the other plans compute the
    // metrics in each branch.
    let aggregates: Vec<String> = match strategy {
        Strategy::TwoStage => partials
            .rollups
            .iter()
            .enumerate()
            .map(|(i, rollup)| format!("{rollup}({0}) AS {0}", Alias::Partial(i)))
            .collect(),
        Strategy::OnePass | Strategy::SingleAggregate => {
            let aggregates = values
                .iter()
                .map(|(column, value)| format!("{value} AS {}", column.name()))
                .collect();
            for (column, value) in &mut values {
                *value = column.name();
            }
            aggregates
        }
    };
    let branches: Vec<String> = states
        .iter()
        .enumerate()
        .map(|(i, state)| {
            builder.state(
                i,
                state,
                &leaves,
                segment.as_ref(),
                &aggregates,
                source,
                &fact,
            )
        })
        .collect();
    builder.ctes.push(format!(
        "__states AS (\n    {}\n)",
        branches.join("\n    UNION ALL\n    ")
    ));
    let sql = builder.finish(&layout, request.sort, &values);
    Ok(Built {
        sql,
        strategy,
        layout,
    })
}
