//! Building one statement (see the module documentation of `plan` for its shape), as a typed
//! tree ([`crate::sql::tree`]) rendered once through the backend's dialect.
//!
//! The statement is a chain of common table expressions:
//! `__segment` (the labelled dimension table, with a segment) → `__pre` (two-stage) or `__base`
//! (one pass) → `__states` (one aggregation per slice × segment state), and returns one wide row
//! per group, with the columns of [`Layout::columns`]; `assemble` unpivots the metric columns into
//! the standard table.

use sqlparser::ast::Expr;

use super::layout::{Combine, Derivation, RangeKind, Ranged};
use super::{Group, Layout, Strategy, sets, stored};
use crate::backend::BackendKind;
use crate::catalog::Table;
use crate::error::{Error, RequestError, Result};
use crate::period::{TimeUnit, ordinal};
use crate::request::{Aggregated, CheckedRequest, Reach};
use crate::spec::{NamedPredicate, SegmentKind, SliceKind, SliceSpec, SqlFragment};
use crate::sql::filter::restrict;
use crate::sql::fragment::{self, ExprRole};
use crate::sql::inspect::column_idents;
use crate::sql::quantile::count_distinct;
use crate::sql::rollup::{self, Partials};
use crate::sql::tree::{
    Alias, Cte, GroupBy, Item, Join, Op, Relation, Select, Sql, Statement, Style,
};
use crate::sql::{Dialect, SqlType};

/// Value-list masks hold this many values per column (bits 0..29 of an INTEGER).
const VALUES_PER_MASK: usize = 30;

/// At most this many (state, label) rows spread each first-stage row over the states (see
/// [`Dialect::fans_out_states`]); with more, each state reads the first stage itself.
const MAX_FANOUT: usize = 512;

pub(super) struct Built {
    pub(super) sql: String,
    pub(super) strategy: Strategy,
    pub(super) layout: Layout,
    /// Whether it computes values over ranges of periods (see [`Ranged`]).
    pub(super) ranged: bool,
    /// For [`Mode::Populate`]: what its rows hold.
    pub(super) populated: Option<Populated>,
}

/// What a statement gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    /// The request's result: one wide row per group (see [`Layout::columns`]).
    Compute,
    /// The rows of `__states` as they are, for the result store: each state's partial
    /// aggregates per period (see `plan::stored`), always two-stage.
    Populate,
}

/// The fingerprints of what a populating statement's rows hold (see `plan::stored`).
pub(super) struct Populated {
    /// Everything every row depends on but its state, partials and grain: the table, the
    /// timestamp column, the entity and the filters.
    pub(super) identity: String,
    /// Each state's labels, by `__state`.
    pub(super) states: Vec<String>,
    /// Each partial aggregate, by column, and the aggregate that rolls it up.
    pub(super) partials: Vec<String>,
    pub(super) rollups: Vec<String>,
    /// By state: whether it has no labels (the baseline without the segment).
    pub(super) unlabelled: Vec<bool>,
}

/// What the store's serving statement computes from rolled-up partials (see `plan::stored`):
/// the metrics' partial aggregates and their values over them, on DuckDB.
pub(super) struct Serving {
    pub(super) rollups: Vec<String>,
    pub(super) values: MetricValues,
}

/// [`Serving`] for a group's metrics; `None` when their aggregates do not roll up on DuckDB.
pub(super) fn serving(group: &Group, layout: &Layout) -> Result<Option<Serving>> {
    let duckdb = BackendKind::DUCKDB;
    let filtering = Filtering::of(group);
    let metrics = group
        .metrics
        .iter()
        .map(|metric| metric_exprs(metric, duckdb, &filtering))
        .collect::<Result<Vec<_>>>()?;
    let (strategy, aggregated, partials) = aggregation(duckdb.dialect(), &metrics, false);
    Ok((strategy == Strategy::TwoStage).then(|| Serving {
        rollups: partials.rollups,
        values: results(&aggregated, layout),
    }))
}

/// A statement over these common table expressions, the last of them `__states` (see
/// [`Builder::finish`]), on DuckDB.
pub(super) fn finish(
    ctes: Vec<Cte>,
    layout: &Layout,
    sort: bool,
    values: &MetricValues,
) -> Statement {
    let builder = Builder {
        backend: BackendKind::DUCKDB,
        d: BackendKind::DUCKDB.dialect(),
        keys: Vec::new(),
        ctes,
        sets: Vec::new(),
    };
    builder.finish(layout, sort, &values.values, &values.parts, &values.counts)
}

/// A column computed once per row in the first stage.
struct Key {
    alias: Alias,
    expr: Sql,
}

impl Key {
    fn item(&self) -> Item {
        Item::new(self.expr.clone(), self.alias)
    }
}

/// How the second stage turns a label key into result labels.
enum Labeler {
    /// Named values, each one bit of one of the mask columns.
    Values {
        masks: Vec<Alias>,
        /// (name, mask index, bit)
        values: Vec<(String, usize, u32)>,
    },
    /// The key column's non-NULL values, as text.
    Column { alias: Alias },
}

impl Labeler {
    /// The first-stage keys it reads.
    fn keys(&self) -> Vec<Alias> {
        match self {
            Labeler::Values { masks, .. } => masks.clone(),
            Labeler::Column { alias } => vec![*alias],
        }
    }

    /// Its keys with their estimated numbers of distinct values: a mask takes one value per
    /// named value it holds and one for rows that match none.
    fn estimates(&self) -> Vec<(Alias, u64)> {
        match self {
            Labeler::Values { masks, values } => masks
                .iter()
                .enumerate()
                .map(|(i, mask)| {
                    let named = values.iter().filter(|(_, m, _)| *m == i).count() as u64;
                    (*mask, named + 1)
                })
                .collect(),
            Labeler::Column { alias } => vec![(*alias, sets::COLUMN_ESTIMATE)],
        }
    }

    /// The labels a first-stage row may have, each with the condition under which it has it:
    /// a named value where its bit is set, a column's value as text where it is not NULL.
    fn choices(&self) -> Vec<(Sql, Sql)> {
        match self {
            Labeler::Values { masks, values } => values
                .iter()
                .map(|(name, mask, bit)| {
                    let set = Sql::binary(
                        Sql::Of(Alias::Row, masks[*mask]),
                        Op::BitAnd,
                        Sql::Int(1i64 << bit),
                    );
                    let holds = Sql::binary(set.parens(), Op::NotEq, Sql::Int(0));
                    (Sql::Text(name.clone()), holds)
                })
                .collect(),
            Labeler::Column { alias } => {
                let key = Sql::Of(Alias::Row, *alias);
                vec![(key.clone().cast(SqlType::Text), Sql::NotNull(Box::new(key)))]
            }
        }
    }
}

/// Label components joined by `|`, or `none` when there are none.
fn joined(components: &[Sql], none: &str) -> Sql {
    let parts = components.iter().enumerate().flat_map(|(i, v)| {
        let separator = (i > 0).then(|| Sql::Text("|".into()));
        separator.into_iter().chain([v.clone()])
    });
    Sql::chain(parts, Op::Concat).unwrap_or_else(|| Sql::Text(none.into()))
}

/// One way a first-stage row counts in a state (see [`Builder::fanned_out_states`]): its slice
/// and segment label components, and the conditions under which it has them.
#[derive(Clone, Default)]
struct Choice {
    slice: Vec<Sql>,
    segment: Vec<Sql>,
    conditions: Vec<Sql>,
}

impl Choice {
    /// Every choice extended by every label of `labeler`, into the slice's or the segment's
    /// components.
    fn extend(choices: Vec<Choice>, labeler: &Labeler, into_slice: bool) -> Vec<Choice> {
        let labels = labeler.choices();
        choices
            .into_iter()
            .flat_map(|choice| {
                labels.iter().map(move |(label, condition)| {
                    let mut choice = choice.clone();
                    match into_slice {
                        true => choice.slice.push(label.clone()),
                        false => choice.segment.push(label.clone()),
                    }
                    choice.conditions.push(condition.clone());
                    choice
                })
            })
            .collect()
    }
}

/// The labels of one slice state or segment state in the second stage.
#[derive(Default)]
struct Labels {
    /// The first-stage keys the labels read.
    keys: Vec<Alias>,
    joins: Vec<Join>,
    filters: Vec<Sql>,
    group_by: Vec<Sql>,
    /// Text expressions, one per component, joined by `|`.
    values: Vec<Sql>,
}

impl Labels {
    /// Adds one component's labels; `alias` names its value list when it has one.
    fn add(&mut self, labeler: &Labeler, alias: Alias) {
        self.keys.extend(labeler.keys());
        match labeler {
            Labeler::Values { masks, values } => {
                let rows = values
                    .iter()
                    .map(|(name, mask, bit)| {
                        vec![
                            Sql::Int(*mask as i64),
                            Sql::Int(1i64 << bit),
                            Sql::Text(name.clone()),
                        ]
                    })
                    .collect();
                let mask = match masks.as_slice() {
                    [only] => Sql::Of(Alias::Row, *only),
                    _ => Sql::Switch(
                        Box::new(Sql::Of(alias, Alias::Mask)),
                        masks
                            .iter()
                            .enumerate()
                            .map(|(i, m)| (Sql::Int(i as i64), Sql::Of(Alias::Row, *m)))
                            .collect(),
                    )
                    .parens(),
                };
                let values = Relation::Values {
                    rows,
                    alias,
                    columns: vec![Alias::Mask, Alias::Bit, Alias::Name],
                };
                let on = Sql::binary(
                    Sql::binary(mask, Op::BitAnd, Sql::Of(alias, Alias::Bit)).parens(),
                    Op::NotEq,
                    Sql::Int(0),
                );
                self.joins.push(Join::Inner(values, on));
                self.group_by.push(Sql::Of(alias, Alias::Name));
                self.values.push(Sql::Of(alias, Alias::Name));
            }
            Labeler::Column { alias } => {
                let key = Sql::Of(Alias::Row, *alias);
                self.filters.push(Sql::NotNull(Box::new(key.clone())));
                self.group_by.push(key.clone());
                self.values.push(key.cast(SqlType::Text));
            }
        }
    }

    /// The label text: the components' values joined by `|`, or `none` when there are none.
    fn value(&self, none: &str) -> Sql {
        joined(&self.values, none)
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
    /// Whether it has no labels: the baseline without the segment.
    fn unlabelled(&self) -> bool {
        self.slice.is_none() && !self.with_segment
    }

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

/// A metric's numerator and denominator, parsed for the statement's dialect, and the count of
/// the rows its filter holds for when its rows are counted (see [`Layout::counts`]).
#[derive(Clone)]
struct MetricExprs {
    numerator: Expr,
    denominator: Option<Expr>,
    count: Option<Expr>,
}

/// The segment's labelled dimension table and how the facts join it.
struct SegmentJoin {
    name: String,
    labeler: Labeler,
    cte: Cte,
    join: Join,
}

/// The facts as the first stage (or a single aggregate) reads them: the fact table, its joins
/// (to the segment, to the windows) and the time filter.
struct Facts {
    relation: Relation,
    joins: Vec<Join>,
    filter: Vec<Sql>,
}

impl Facts {
    fn select(&self, items: Vec<Item>) -> Select {
        let mut select = Select::new(items, self.relation.clone(), Style::Block);
        select.joins = self.joins.clone();
        select.filter = self.filter.clone();
        select
    }
}

/// A fragment parsed and translated for the statement's backend (see
/// [`fragment::translate`]); `owner` names its spec in the error when it cannot be.
fn translate(fragment: &SqlFragment, backend: BackendKind, owner: &str) -> Result<Expr> {
    translate_restricted(fragment, None, backend, owner)
}

/// Like [`translate`], with every aggregate of the fragment restricted to the rows `predicate`
/// (parsed for the backend, not yet translated) holds for.
fn translate_restricted(
    fragment: &SqlFragment,
    predicate: Option<&Expr>,
    backend: BackendKind,
    owner: &str,
) -> Result<Expr> {
    let d = backend.dialect();
    fragment
        .expr_for(backend)
        .and_then(|mut e| {
            if let Some(predicate) = predicate {
                restrict(&mut e, predicate);
            }
            fragment::translate(&e, d)
        })
        .map_err(|err| not_writable(owner, &fragment.text, backend, err.message))
}

fn not_writable(owner: &str, text: &str, backend: BackendKind, reason: String) -> Error {
    RequestError::NotWritable {
        owner: owner.to_string(),
        fragment: text.to_string(),
        backend,
        reason,
    }
    .into()
}

/// Where the metrics' filters go in a statement.
enum Filtering<'s> {
    /// Every metric has this filter (or none): the statement's `WHERE` has it.
    Shared(Option<&'s SqlFragment>),
    /// The metrics' filters differ: each filtered metric's aggregates are restricted to its
    /// rows, and its rows are counted.
    PerMetric,
}

impl<'s> Filtering<'s> {
    fn of(group: &Group<'s>) -> Filtering<'s> {
        let first = group.metrics.first().and_then(|m| m.def.filter.as_ref());
        let text = |f: Option<&SqlFragment>| f.map(|f| f.text.clone());
        if group
            .metrics
            .iter()
            .all(|m| text(m.def.filter.as_ref()) == text(first))
        {
            Filtering::Shared(first)
        } else {
            Filtering::PerMetric
        }
    }
}

/// A metric's aggregates for the statement (see [`Filtering`]).
fn metric_exprs(
    metric: &Aggregated,
    backend: BackendKind,
    filtering: &Filtering,
) -> Result<MetricExprs> {
    let owner = format!("metric `{}`", metric.spec.name);
    let filter = match filtering {
        Filtering::PerMetric => metric.def.filter.as_ref(),
        Filtering::Shared(_) => None,
    };
    let predicate = filter
        .map(|f| {
            f.expr_for(backend)
                .map_err(|err| not_writable(&owner, &f.text, backend, err.message))
        })
        .transpose()?;
    let parse = |f: &SqlFragment| translate_restricted(f, predicate.as_ref(), backend, &owner);
    let count = match (filter, &predicate) {
        (Some(filter), Some(predicate)) => {
            let d = backend.dialect();
            let mut count =
                fragment::parse("COUNT(*)", Some(d)).map_err(|err| Error::internal(err.message))?;
            restrict(&mut count, predicate);
            Some(
                fragment::translate(&count, d)
                    .map_err(|err| not_writable(&owner, &filter.text, backend, err.message))?,
            )
        }
        _ => None,
    };
    Ok(MetricExprs {
        numerator: parse(&metric.def.numerator)?,
        denominator: metric.def.denominator.as_ref().map(parse).transpose()?,
        count,
    })
}

/// The request's filters, as predicates in the backend's SQL.
fn request_filters(request: &CheckedRequest, backend: BackendKind) -> Result<Vec<Sql>> {
    let d = backend.dialect();
    request
        .filters
        .iter()
        .map(|filter| {
            let invalid = |reason: String| RequestError::InvalidFilter {
                filter: filter.clone(),
                reason,
            };
            let expr = fragment::parse(filter, Some(d))
                .and_then(|e| fragment::check(&e, ExprRole::Filter).map(|()| e))
                .and_then(|e| fragment::translate(&e, d))
                .map_err(|err| invalid(err.message))?;
            Ok(Sql::Fragment(Box::new(expr)).parens())
        })
        .collect()
}

/// The labeler of a slice component (every component the request uses has one).
fn labeler<'l>(leaves: &'l [(&SliceSpec, Labeler)], component: &SliceSpec) -> Result<&'l Labeler> {
    leaves
        .iter()
        .find(|(l, _)| l.name == component.name)
        .map(|(_, labeler)| labeler)
        .ok_or_else(|| Error::internal(format!("slice `{}` has no labels", component.name)))
}

/// First-stage mask keys for named predicates (key `k` named `key(k)`), and the labeler that
/// reads them. `wrap` wraps each mask expression (an aggregate for dimension tables).
fn mask_keys(
    backend: BackendKind,
    key: impl Fn(usize) -> Alias,
    values: &[NamedPredicate],
    owner: &str,
    wrap: impl Fn(Sql) -> Sql,
) -> Result<(Vec<Key>, Labeler)> {
    let mut keys = Vec::new();
    let mut labels = Vec::new();
    for (chunk_index, chunk) in values.chunks(VALUES_PER_MASK).enumerate() {
        let mut terms = Vec::new();
        for (bit, value) in chunk.iter().enumerate() {
            let owner = format!("{owner}, value `{}`", value.name);
            let predicate = translate(&value.predicate, backend, &owner)?;
            terms.push(Sql::When(
                Box::new(Sql::Fragment(Box::new(predicate)).parens()),
                Box::new(Sql::Int(1i64 << bit)),
                Some(Box::new(Sql::Int(0))),
            ));
            labels.push((value.name.clone(), chunk_index, bit as u32));
        }
        if let Some(sum) = Sql::chain(terms, Op::Add) {
            keys.push(Key {
                alias: key(chunk_index),
                expr: wrap(sum),
            });
        }
    }
    let masks = keys.iter().map(|k| k.alias).collect();
    Ok((
        keys,
        Labeler::Values {
            masks,
            values: labels,
        },
    ))
}

/// `numerator` (or `numerator / denominator`) as a double, NULL for a zero denominator.
fn value_expr(numerator: &Expr, denominator: Option<&Expr>) -> Sql {
    let double = |e: &Expr| Sql::Fragment(Box::new(e.clone())).cast(SqlType::Double);
    match denominator {
        Some(den) => Sql::binary(
            double(numerator),
            Op::Divide,
            Sql::call("NULLIF", vec![double(den), Sql::Int(0)]),
        ),
        None => double(numerator),
    }
}

/// What every state of the second stage reads: the labelers of the slices and of the segment,
/// the aggregates it computes, and the first stage (or, for a single state, the facts).
#[derive(Clone, Copy)]
struct SecondStage<'a, 's> {
    leaves: &'a [(&'s SliceSpec, Labeler)],
    segment: Option<&'a SegmentJoin>,
    aggregates: &'a [Item],
    source: Option<Alias>,
    facts: &'a Facts,
    /// What the range rows hold, when there are any.
    ranges: Option<&'a Ranges>,
}

/// A metric's values over ranges in the statement (see [`Ranged`]).
enum RangedMetric {
    /// A distinct count of `value` over the rows `filter` holds for.
    Changes { value: Sql, filter: Option<Sql> },
    /// Any aggregate, computed over the rows of each range.
    Values,
}

/// The range rows a statement returns (see [`Ranged`]).
struct Ranges {
    /// The number of real states.
    states: usize,
    unit: TimeUnit,
    /// The numbers of the window's first and last periods.
    first: i64,
    last: i64,
    /// The ranges asked for, with how many periods each reaches back over at most.
    kinds: Vec<(RangeKind, i64)>,
    /// By metric.
    metrics: Vec<Option<RangedMetric>>,
}

/// Accumulates the keys and common table expressions of one statement.
struct Builder {
    backend: BackendKind,
    d: &'static dyn Dialect,
    keys: Vec<Key>,
    ctes: Vec<Cte>,
    /// The first stage's grouping sets (slice keys only), when there is more than one.
    sets: Vec<Vec<Alias>>,
}

impl Builder {
    /// Labels every leaf slice the request uses, once each.
    fn slices<'s>(
        &mut self,
        request: &CheckedRequest<'s>,
    ) -> Result<Vec<(&'s SliceSpec, Labeler)>> {
        let mut leaves: Vec<(&SliceSpec, Labeler)> = Vec::new();
        for (_, components) in &request.slices {
            for leaf in components {
                if leaves.iter().any(|(l, _)| l.name == leaf.name) {
                    continue;
                }
                let slice = leaves.len();
                let labeler = match &leaf.kind {
                    SliceKind::Values(values) => {
                        let owner = format!("slice `{}`", leaf.name);
                        let key = |mask| Alias::SliceKey {
                            slice,
                            mask: Some(mask),
                        };
                        let (keys, labeler) = mask_keys(self.backend, key, values, &owner, |e| e)?;
                        self.keys.extend(keys);
                        labeler
                    }
                    SliceKind::Column { column, .. } => {
                        let alias = Alias::SliceKey { slice, mask: None };
                        self.keys.push(Key {
                            alias,
                            expr: Sql::Column(column.clone()),
                        });
                        Labeler::Column { alias }
                    }
                    SliceKind::CrossProduct(_) => {
                        return Err(Error::internal(format!(
                            "cross product `{}` as a component",
                            leaf.name
                        )));
                    }
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
        let spec = segment.spec;
        let entity = Sql::Column(spec.entity_id.clone());
        let table = Relation::Table(dim.relation().to_string(), Alias::DimensionTable);
        let (select, labeler) = match &spec.kind {
            SegmentKind::Values(values) => {
                let owner = format!("segment `{}`", spec.name);
                let key = |mask| Alias::SegmentKey { mask: Some(mask) };
                let (keys, labeler) = mask_keys(self.backend, key, values, &owner, |e| {
                    Sql::call("BIT_OR", vec![e])
                })?;
                let mut items = vec![Item::new(entity.clone(), Alias::Key)];
                items.extend(keys.iter().map(Key::item));
                let mut select = Select::new(items, table, Style::Lines);
                select.group_by = GroupBy::By(vec![entity]);
                (select, labeler)
            }
            SegmentKind::Columns(columns) => {
                let parts = columns.iter().enumerate().flat_map(|(i, c)| {
                    let separator = (i > 0).then(|| Sql::Text("|".into()));
                    separator
                        .into_iter()
                        .chain([Sql::Column(c.clone()).cast(SqlType::Text)])
                });
                let label = Sql::chain(parts, Op::Concat).ok_or_else(|| {
                    Error::internal(format!("segment `{}` has no columns", spec.name))
                })?;
                let labelled = Select::new(
                    vec![
                        Item::new(entity, Alias::Key),
                        Item::new(label, Alias::Label),
                    ],
                    table,
                    Style::Inline,
                );
                let alias = Alias::SegmentKey { mask: None };
                let one = Sql::binary(
                    Sql::call(
                        "COUNT",
                        vec![Sql::Distinct(Box::new(Sql::Name(Alias::Label)))],
                    ),
                    Op::Eq,
                    Sql::Int(1),
                );
                let items = vec![
                    Item::new(Sql::Name(Alias::Key), Alias::Key),
                    Item::new(
                        Sql::When(
                            Box::new(one),
                            Box::new(Sql::call("MIN", vec![Sql::Name(Alias::Label)])),
                            None,
                        ),
                        alias,
                    ),
                ];
                let mut select = Select::new(
                    items,
                    Relation::Query(Box::new(labelled), Alias::Labelled),
                    Style::Lines,
                );
                select.group_by = GroupBy::By(vec![Sql::Name(Alias::Key)]);
                (select, Labeler::Column { alias })
            }
        };
        for alias in labeler.keys() {
            self.keys.push(Key {
                alias,
                expr: Sql::Of(Alias::Dimension, alias),
            });
        }
        Ok(Some(SegmentJoin {
            name: spec.name.clone(),
            labeler,
            cte: Cte {
                name: Alias::Segment,
                materialized: false,
                branches: vec![select],
            },
            join: Join::Left(
                Relation::CteAs(Alias::Segment, Alias::Dimension),
                Sql::binary(
                    Sql::ColumnOf(Alias::Fact, segment.join_key.clone()),
                    Op::Eq,
                    Sql::Of(Alias::Dimension, Alias::Key),
                ),
            ),
        }))
    }

    /// The time filter (the window, with what comparisons and rolling values reach back to),
    /// the period or window key, and the entity key. Returns the filters, and the join of the
    /// windows when rows are grouped by window (`all_time` with a comparison).
    fn time(&mut self, request: &CheckedRequest, group: &Group) -> (Vec<Sql>, Option<Join>) {
        let mut filters = Vec::new();
        let mut join = None;
        if let (Some(reach), Some(ts)) = (&request.reach, &group.timestamp) {
            let ts = Sql::Column(ts.clone());
            let bound = |at| Sql::TimeBound(at, group.timestamp_type.clone());
            let between = |from: Sql, to: Sql| {
                Sql::binary(
                    Sql::binary(ts.clone(), Op::AtLeast, from),
                    Op::And,
                    Sql::binary(ts.clone(), Op::Below, to),
                )
            };
            // A range without an end reads rows without a time too (see `Reach::OPEN_END`);
            // one without either bound reads every row.
            let ranges: Option<Vec<Sql>> = reach
                .ranges
                .iter()
                .map(
                    |&(from, to)| match (from == Reach::OPEN_START, to == Reach::OPEN_END) {
                        (true, true) => None,
                        (false, true) => Some(Sql::Any(vec![
                            Sql::IsNull(Box::new(ts.clone())),
                            Sql::binary(ts.clone(), Op::AtLeast, bound(from)),
                        ])),
                        (true, false) => Some(Sql::binary(ts.clone(), Op::Below, bound(to))),
                        (false, false) => Some(between(bound(from), bound(to))),
                    },
                )
                .collect();
            if let Some(mut ranges) = ranges {
                filters.push(match ranges.len() {
                    1 => ranges.remove(0),
                    _ => Sql::Any(ranges),
                });
            }
            if let Some(unit) = request.unit {
                self.keys.push(Key {
                    alias: Alias::Period,
                    expr: Sql::PeriodKey(Box::new(ts.clone()), unit),
                });
            }
            if let (Some(window), Some(previous)) = (&request.window, reach.comparison_window) {
                // The windows may overlap: a row of both counts in both.
                let rows = [(window.start, window.end), previous]
                    .iter()
                    .enumerate()
                    .map(|(i, &(from, to))| vec![Sql::Int(i as i64), bound(from), bound(to)])
                    .collect();
                join = Some(Join::Cross(Relation::Values {
                    rows,
                    alias: Alias::Windows,
                    columns: vec![Alias::WindowIndex, Alias::WindowStart, Alias::WindowEnd],
                }));
                filters.push(between(
                    Sql::Of(Alias::Windows, Alias::WindowStart),
                    Sql::Of(Alias::Windows, Alias::WindowEnd),
                ));
                self.keys.push(Key {
                    alias: Alias::Window,
                    expr: Sql::Of(Alias::Windows, Alias::WindowIndex),
                });
            }
        }
        if let Some(entity) = &request.by_entity {
            self.keys.push(Key {
                alias: Alias::EntityKey,
                expr: Sql::Column(entity.clone()),
            });
        }
        (filters, join)
    }

    /// The period, window and entity keys, which every state groups by.
    fn grouping_keys(&self) -> impl Iterator<Item = &Key> {
        self.keys
            .iter()
            .filter(|k| matches!(k.alias, Alias::Period | Alias::Window | Alias::EntityKey))
    }

    /// Whether `alias` is a slice's key (held by some grouping sets only).
    fn is_slice_key(&self, alias: Alias) -> bool {
        self.sets.iter().flatten().any(|k| *k == alias)
    }

    /// The slices' keys, in first-stage order: the arguments of `GROUPING` that tell the sets
    /// apart.
    fn slice_keys(&self) -> impl Iterator<Item = &Key> {
        self.keys.iter().filter(|k| self.is_slice_key(k.alias))
    }

    /// With grouping sets, the filter that keeps the first set holding all of `keys`: its
    /// `GROUPING` value has a bit set for each slice key the set leaves out.
    fn set_filter(&self, keys: &[Alias]) -> Result<Option<Sql>> {
        Ok(self
            .set_id(keys)?
            .map(|id| Sql::binary(Sql::Of(Alias::Row, Alias::Set), Op::Eq, Sql::Int(id))))
    }

    /// With grouping sets, the `GROUPING` value of the first set holding all of `keys`.
    fn set_id(&self, keys: &[Alias]) -> Result<Option<i64>> {
        if self.sets.is_empty() {
            return Ok(None);
        }
        let set = self
            .sets
            .iter()
            .find(|set| keys.iter().all(|k| set.contains(k)))
            .ok_or_else(|| Error::internal("no grouping set holds a state's keys"))?;
        Ok(Some(self.slice_keys().fold(0i64, |id, k| {
            id << 1 | i64::from(!set.contains(&k.alias))
        })))
    }

    /// The first stage, as a common table expression: the partial aggregates per finest label
    /// combination (two-stage), or the labelled rows (one pass). Returns its name.
    fn first_stage(
        &mut self,
        strategy: Strategy,
        facts: &Facts,
        partials: &Partials,
        metrics: &[MetricExprs],
    ) -> Option<Alias> {
        let mut items: Vec<Item> = self.keys.iter().map(Key::item).collect();
        let (name, select) = match strategy {
            Strategy::SingleAggregate => return None,
            Strategy::TwoStage => {
                items.extend(partials.exprs.iter().enumerate().map(|(i, p)| {
                    Item::new(Sql::Fragment(Box::new(p.clone())), Alias::Partial(i))
                }));
                let group_by = if self.sets.is_empty() {
                    GroupBy::By(self.keys.iter().map(|k| Sql::Name(k.alias)).collect())
                } else {
                    // PostgreSQL's GROUPING takes expressions, not the select list's aliases.
                    let arguments = self
                        .slice_keys()
                        .map(|k| match self.d.grouping_reads_aliases() {
                            true => Sql::Name(k.alias),
                            false => k.expr.clone(),
                        })
                        .collect();
                    items.push(Item::new(
                        Sql::call(self.d.grouping_function(), arguments),
                        Alias::Set,
                    ));
                    GroupBy::Sets(
                        self.sets
                            .iter()
                            .map(|set| {
                                self.keys
                                    .iter()
                                    .filter(|k| {
                                        !self.is_slice_key(k.alias) || set.contains(&k.alias)
                                    })
                                    .map(|k| Sql::Name(k.alias))
                                    .collect()
                            })
                            .collect(),
                    )
                };
                let mut select = facts.select(items);
                select.group_by = group_by;
                (Alias::Pre, select)
            }
            Strategy::OnePass => {
                // Only the columns the metrics read.
                let mut seen = std::collections::HashSet::new();
                for m in metrics {
                    for e in std::iter::once(&m.numerator)
                        .chain(&m.denominator)
                        .chain(&m.count)
                    {
                        for column in column_idents(e) {
                            if seen.insert(column.name.to_lowercase()) {
                                items.push(Item::bare(Sql::Column(column)));
                            }
                        }
                    }
                }
                (Alias::Base, facts.select(items))
            }
        };
        self.ctes.push(Cte {
            name,
            materialized: true,
            branches: vec![select],
        });
        Some(name)
    }

    /// A state's slice labels and segment labels.
    fn labels(state: &State, from: &SecondStage) -> Result<(Labels, Labels)> {
        let mut slice_labels = Labels::default();
        if let Some((_, components)) = state.slice {
            for (n, component) in components.iter().enumerate() {
                slice_labels.add(labeler(from.leaves, component)?, Alias::SliceValues(n));
            }
        }
        let mut segment_labels = Labels::default();
        if let (Some(segment), true) = (from.segment, state.with_segment) {
            segment_labels.add(&segment.labeler, Alias::SegmentValues);
        }
        Ok((slice_labels, segment_labels))
    }

    /// One state's aggregation, from the first stage (or from the facts, for a single state).
    fn state(&self, index: usize, state: &State, from: &SecondStage) -> Result<Select> {
        let SecondStage {
            aggregates,
            source,
            facts,
            ..
        } = *from;
        let (slice_labels, segment_labels) = Self::labels(state, from)?;

        let mut items = vec![Item::new(Sql::Int(index as i64), Alias::State)];
        let mut group_by = Vec::new();
        for key in self.grouping_keys() {
            let column = match source {
                Some(_) => Sql::Of(Alias::Row, key.alias),
                None => key.expr.clone(),
            };
            items.push(Item::new(column.clone(), key.alias));
            group_by.push(column);
        }
        items.push(Item::new(slice_labels.value("all"), Alias::SliceValue));
        items.push(Item::new(segment_labels.value("all"), Alias::SegmentValue));
        items.extend(aggregates.iter().cloned());
        if from.ranges.is_some() {
            items.push(Item::new(Sql::Null.cast(SqlType::Integer), Alias::End));
        }
        group_by.extend(
            slice_labels
                .group_by
                .iter()
                .chain(&segment_labels.group_by)
                .cloned(),
        );

        let mut select = match source {
            Some(source) => {
                let mut select =
                    Select::new(items, Relation::CteAs(source, Alias::Row), Style::Block);
                select.joins = slice_labels
                    .joins
                    .into_iter()
                    .chain(segment_labels.joins)
                    .collect();
                select.filter = self
                    .set_filter(&slice_labels.keys)?
                    .into_iter()
                    .chain(slice_labels.filters)
                    .chain(segment_labels.filters)
                    .collect();
                select
            }
            None => facts.select(items),
        };
        if !group_by.is_empty() {
            select.group_by = GroupBy::By(group_by);
        }
        Ok(select)
    }

    /// Every state's aggregation in one pass over the first stage (see
    /// [`Dialect::fans_out_states`]): each first-stage row is spread over a lateral list of
    /// `(state, slice value, segment value, keep)` rows, one per state and label combination
    /// it may count in, and those that hold are grouped. `None` when the list would be longer
    /// than [`MAX_FANOUT`].
    ///
    /// Without period, window or entity, the baseline state (no labels) has a row even when no
    /// row is read, as an aggregate over no groups does (see [`Builder::with_baseline_row`]).
    fn fanned_out_states(&self, states: &[State], from: &SecondStage) -> Result<Option<Select>> {
        let mut rows = Vec::new();
        let mut always = None;
        for (index, state) in states.iter().enumerate() {
            if state.unlabelled() && self.grouping_keys().next().is_none() {
                always = Some(index);
            }
            let mut choices = vec![Choice::default()];
            let mut keys = Vec::new();
            if let Some((_, components)) = state.slice {
                for component in components {
                    let labeler = labeler(from.leaves, component)?;
                    keys.extend(labeler.keys());
                    choices = Choice::extend(choices, labeler, true);
                }
            }
            if let (Some(segment), true) = (from.segment, state.with_segment) {
                choices = Choice::extend(choices, &segment.labeler, false);
            }
            let set = self.set_filter(&keys)?;
            for choice in choices {
                let keep = Sql::chain(set.iter().cloned().chain(choice.conditions), Op::And);
                rows.push(vec![
                    Sql::Int(index as i64),
                    joined(&choice.slice, "all"),
                    joined(&choice.segment, "all"),
                    keep.unwrap_or(Sql::True),
                ]);
            }
            if rows.len() > MAX_FANOUT {
                return Ok(None);
            }
        }
        let source = from
            .source
            .ok_or_else(|| Error::internal("states fanned out without a first stage"))?;
        let of = |alias| Sql::Of(Alias::Fanout, alias);
        let mut items = vec![Item::new(of(Alias::State), Alias::State)];
        let mut group_by = vec![of(Alias::State)];
        for key in self.grouping_keys() {
            items.push(Item::new(Sql::Of(Alias::Row, key.alias), key.alias));
            group_by.push(Sql::Of(Alias::Row, key.alias));
        }
        for label in [Alias::SliceValue, Alias::SegmentValue] {
            items.push(Item::new(of(label), label));
            group_by.push(of(label));
        }
        items.extend(from.aggregates.iter().cloned());
        let mut select = Select::new(items, Relation::CteAs(source, Alias::Row), Style::Block);
        select.joins = vec![Join::Lateral {
            rows,
            alias: Alias::Fanout,
            columns: vec![
                Alias::State,
                Alias::SliceValue,
                Alias::SegmentValue,
                Alias::Keep,
            ],
        }];
        select.filter = vec![of(Alias::Keep)];
        select.group_by = GroupBy::By(group_by);
        Ok(Some(match always {
            Some(baseline) => Self::with_baseline_row(select, baseline, from.aggregates),
            None => select,
        }))
    }

    /// The grouped states, with a row of the baseline state (number `baseline`, no values)
    /// when they have none: an aggregate over no groups has one row, a grouped one none.
    fn with_baseline_row(grouped: Select, baseline: usize, aggregates: &[Item]) -> Select {
        let of = |alias| Sql::Of(Alias::Grouped, alias);
        let mut items = vec![Item::new(
            Sql::call(
                "COALESCE",
                vec![of(Alias::State), Sql::Of(Alias::Baseline, Alias::State)],
            ),
            Alias::State,
        )];
        for label in [Alias::SliceValue, Alias::SegmentValue] {
            items.push(Item::new(
                Sql::call("COALESCE", vec![of(label), Sql::Text("all".into())]),
                label,
            ));
        }
        for item in aggregates {
            let alias = item.alias.unwrap_or(Alias::Value);
            items.push(Item::new(of(alias), alias));
        }
        let mut select = Select::new(
            items,
            Relation::Query(Box::new(grouped), Alias::Grouped),
            Style::Block,
        );
        select.joins = vec![Join::Full(
            Relation::Values {
                rows: vec![vec![Sql::Int(baseline as i64)]],
                alias: Alias::Baseline,
                columns: vec![Alias::State],
            },
            Sql::binary(
                of(Alias::State),
                Op::Eq,
                Sql::Of(Alias::Baseline, Alias::State),
            ),
        )];
        select
    }

    /// What decides a state's rows, as a fingerprint (see `plan::stored`): its names, and the
    /// SQL of the keys its labels read, with the value names of each key.
    fn state_fingerprint(&self, state: &State, from: &SecondStage) -> Result<String> {
        let d = self.d;
        let key_sql = |alias: Alias| {
            self.keys
                .iter()
                .find(|k| k.alias == alias)
                .map(|k| k.expr.render(d))
                .unwrap_or_default()
        };
        let describe = |labeler: &Labeler| -> Vec<String> {
            let mut parts: Vec<String> = labeler.keys().into_iter().map(key_sql).collect();
            if let Labeler::Values { values, .. } = labeler {
                parts.extend(
                    values
                        .iter()
                        .map(|(name, mask, bit)| format!("{name}:{mask}:{bit}")),
                );
            }
            parts
        };
        let mut parts = vec![state.slice_type(), state.segment_name.clone()];
        if let Some((_, components)) = state.slice {
            for component in components {
                parts.extend(describe(labeler(from.leaves, component)?));
            }
        }
        if let (Some(segment), true) = (from.segment, state.with_segment) {
            parts.extend(describe(&segment.labeler));
            parts.extend(segment.cte.branches.iter().map(|b| b.render(d)));
            parts.push(segment.join.render(d));
        }
        Ok(stored::fingerprint(&parts))
    }

    /// The statement of [`Mode::Populate`]: `__states` as it is, each period as a timestamp and
    /// the entity as text.
    fn populate(self, partials: usize) -> Statement {
        let mut items = vec![Item::new(Sql::Name(Alias::State), Alias::State)];
        for key in self.grouping_keys() {
            let expr = match (key.alias, &key.expr) {
                (Alias::Period, Sql::PeriodKey(_, unit)) => {
                    Sql::PeriodStart(Box::new(Sql::Name(Alias::Period)), *unit)
                        .cast(SqlType::Timestamp)
                }
                (Alias::EntityKey, _) => Sql::Name(Alias::EntityKey).cast(SqlType::Text),
                _ => Sql::Name(key.alias),
            };
            items.push(Item::new(expr, key.alias));
        }
        for label in [Alias::SliceValue, Alias::SegmentValue] {
            items.push(Item::new(Sql::Name(label), label));
        }
        items.extend(
            (0..partials).map(|i| Item::new(Sql::Name(Alias::Partial(i)), Alias::Partial(i))),
        );
        Statement {
            ctes: self.ctes,
            body: Select::new(items, Relation::Cte(Alias::States), Style::Top),
        }
    }

    /// The range rows of one state (see [`Ranged`]): for each range asked for, a branch that
    /// computes the metrics with [`RangedMetric::Values`] over each range's rows, and a branch
    /// per distinct count with its changes.
    fn range_branches(
        &self,
        index: usize,
        state: &State,
        from: &SecondStage,
    ) -> Result<Vec<Select>> {
        let Some(ranges) = from.ranges else {
            return Ok(Vec::new());
        };
        let branches = RangeBranches {
            builder: self,
            index,
            from,
            ranges,
            row_number: Sql::PeriodNumber(
                Box::new(Sql::Of(Alias::Row, Alias::Period)),
                ranges.unit,
            ),
            entity: self
                .grouping_keys()
                .any(|k| k.alias == Alias::EntityKey)
                .then_some(Alias::EntityKey),
        };
        let mut selects = Vec::new();
        for &(kind, reach) in &ranges.kinds {
            if ranges
                .metrics
                .iter()
                .flatten()
                .any(|m| matches!(m, RangedMetric::Values))
            {
                selects.push(branches.values(kind, reach, Self::labels(state, from)?));
            }
            for (i, metric) in ranges.metrics.iter().enumerate() {
                if let Some(RangedMetric::Changes { value, filter }) = metric {
                    let labels = Self::labels(state, from)?;
                    let rows = branches.distinct_rows(kind, value, filter.as_ref(), labels);
                    selects.push(match kind {
                        RangeKind::Rolling => branches.rolling_changes(i, reach, rows),
                        RangeKind::Cumulative => branches.first_periods(i, rows),
                    });
                }
            }
        }
        Ok(selects)
    }

    /// The final query: one wide row per group, with the columns of [`Layout::columns`],
    /// ordered when asked. `values` gives each metric's value over `__states`, `parts` the
    /// numerator and denominator of those that carry them, and `counts` the counts of those
    /// whose rows are counted.
    fn finish(
        self,
        layout: &Layout,
        sort: bool,
        values: &[Sql],
        parts: &[Option<(Sql, Sql)>],
        counts: &[Option<Sql>],
    ) -> Statement {
        let columns = layout.columns();
        let mut items = Vec::new();
        let mut order_by = Vec::new();
        for &column in &columns.names {
            let expr = match (column, layout.unit) {
                (Alias::Period, Some(unit)) => {
                    Sql::PeriodStart(Box::new(Sql::Name(Alias::Period)), unit)
                }
                (Alias::Entity, _) => Sql::Name(Alias::EntityKey).cast(SqlType::Text),
                (Alias::Metric(i), _) => values[i].clone(),
                (Alias::Numerator(i), _) => match &parts[i] {
                    Some((numerator, _)) => numerator.clone(),
                    None => Sql::Name(column),
                },
                (Alias::Denominator(i), _) => match &parts[i] {
                    Some((_, denominator)) => denominator.clone(),
                    None => Sql::Name(column),
                },
                (Alias::Count(i), _) => match &counts[i] {
                    Some(count) => count.clone(),
                    None => Sql::Name(column),
                },
                _ => Sql::Name(column),
            };
            if !matches!(
                column,
                Alias::Metric(_) | Alias::Numerator(_) | Alias::Denominator(_) | Alias::Count(_)
            ) {
                order_by.push(Sql::Name(column));
            }
            items.push(Item::new(expr, column));
        }
        let mut body = Select::new(items, Relation::Cte(Alias::States), Style::Top);
        if sort {
            body.order_by = order_by;
        }
        Statement {
            ctes: self.ctes,
            body,
        }
    }
}

/// Builds the range rows of one state (see [`Builder::range_branches`]).
struct RangeBranches<'b, 'a, 's> {
    builder: &'b Builder,
    index: usize,
    from: &'b SecondStage<'a, 's>,
    ranges: &'a Ranges,
    /// The number of a first-stage row's period.
    row_number: Sql,
    /// The entity key, when rows are grouped by entity.
    entity: Option<Alias>,
}

impl RangeBranches<'_, '_, '_> {
    /// The columns of a branch of `__states`: the range state, NULL for the period, the entity,
    /// the labels, `value` for the aggregate it gives (NULL for the others), and `end`.
    fn items(
        &self,
        kind: RangeKind,
        labels: (Sql, Sql),
        entity: Option<Sql>,
        value: impl Fn(&Item) -> Option<Sql>,
        end: Sql,
    ) -> Vec<Item> {
        let state = Derivation::range_state(self.ranges.states, self.index, kind);
        let mut items = vec![Item::new(Sql::Int(state as i64), Alias::State)];
        for key in self.builder.grouping_keys() {
            let expr = match key.alias {
                Alias::EntityKey => entity.clone().unwrap_or(Sql::Null),
                _ => Sql::Null,
            };
            items.push(Item::new(expr, key.alias));
        }
        items.push(Item::new(labels.0, Alias::SliceValue));
        items.push(Item::new(labels.1, Alias::SegmentValue));
        for item in self.from.aggregates {
            let expr = value(item).unwrap_or_else(|| Sql::Null.cast(SqlType::Double));
            items.push(Item::new(expr, item.alias.unwrap_or(Alias::Value)));
        }
        items.push(Item::new(end, Alias::End));
        items
    }

    /// The entity column of a relation, when rows are grouped by entity.
    fn entity_of(&self, relation: Alias) -> Option<Sql> {
        self.entity.map(|e| Sql::Of(relation, e))
    }

    /// `(VALUES (0), ..., (count - 1)) AS __o(__k)`, crossed.
    fn offsets(count: i64) -> Join {
        Join::Cross(Relation::Values {
            rows: (0..count).map(|k| vec![Sql::Int(k)]).collect(),
            alias: Alias::Offsets,
            columns: vec![Alias::Offset],
        })
    }

    /// The metrics with [`RangedMetric::Values`] over the rows of each range: every row counts
    /// in each range that holds its period, whose number is its own plus an offset of 0 to
    /// `reach - 1`.
    fn values(&self, kind: RangeKind, reach: i64, (slice, segment): (Labels, Labels)) -> Select {
        let end = Sql::binary(
            self.row_number.clone(),
            Op::Add,
            Sql::Of(Alias::Offsets, Alias::Offset),
        );
        let value = |item: &Item| match item.alias {
            Some(Alias::Metric(i)) => matches!(self.ranges.metrics[i], Some(RangedMetric::Values))
                .then(|| item.expr.clone()),
            _ => None,
        };
        let items = self.items(
            kind,
            (slice.value("all"), segment.value("all")),
            self.entity_of(Alias::Row),
            value,
            end.clone(),
        );
        let (mut select, mut group_by) = self.labelled_rows(items, Style::Block, (slice, segment));
        select.joins.insert(0, Self::offsets(reach));
        select.filter.push(Sql::binary(
            end.clone(),
            Op::AtLeast,
            Sql::Int(self.ranges.first),
        ));
        select.filter.push(Sql::binary(
            end.clone(),
            Op::AtMost,
            Sql::Int(self.ranges.last),
        ));
        if kind == RangeKind::Cumulative {
            select.filter.push(self.in_window());
        }
        group_by.push(end);
        select.group_by = GroupBy::By(group_by);
        select
    }

    /// A select of `items` over the first stage's rows with a state's labels (their joins and
    /// filters), and the keys it groups by at least: the entity and the labels.
    fn labelled_rows(
        &self,
        items: Vec<Item>,
        style: Style,
        (slice, segment): (Labels, Labels),
    ) -> (Select, Vec<Sql>) {
        let mut select = Select::new(items, Relation::CteAs(Alias::Base, Alias::Row), style);
        select.joins = slice.joins.into_iter().chain(segment.joins).collect();
        select.filter = slice.filters;
        select.filter.extend(segment.filters);
        let mut group_by: Vec<Sql> = self.entity_of(Alias::Row).into_iter().collect();
        group_by.extend(slice.group_by);
        group_by.extend(segment.group_by);
        (select, group_by)
    }

    /// Whether a first-stage row's period is in the window (not before it).
    fn in_window(&self) -> Sql {
        Sql::binary(
            self.row_number.clone(),
            Op::AtLeast,
            Sql::Int(self.ranges.first),
        )
    }

    /// One row per entity, labels and distinct `value` with the number of each period it has
    /// rows in (rolling), or of the first such period in the window (cumulative).
    fn distinct_rows(
        &self,
        kind: RangeKind,
        value: &Sql,
        filter: Option<&Sql>,
        (slice, segment): (Labels, Labels),
    ) -> Select {
        let mut items: Vec<Item> = self
            .entity
            .map(|e| Item::new(Sql::Of(Alias::Row, e), e))
            .into_iter()
            .collect();
        items.push(Item::new(slice.value("all"), Alias::SliceValue));
        items.push(Item::new(segment.value("all"), Alias::SegmentValue));
        items.push(Item::new(value.clone(), Alias::Value));
        let number = match kind {
            RangeKind::Cumulative => Sql::call("MIN", vec![self.row_number.clone()]),
            RangeKind::Rolling => self.row_number.clone(),
        };
        items.push(Item::new(number, Alias::PeriodNumber));
        let (mut select, mut group_by) = self.labelled_rows(items, Style::Inline, (slice, segment));
        select.filter.extend(filter.cloned());
        select.filter.push(Sql::NotNull(Box::new(value.clone())));
        group_by.push(value.clone());
        match kind {
            RangeKind::Cumulative => select.filter.push(self.in_window()),
            RangeKind::Rolling => group_by.push(Sql::Of(Alias::Row, Alias::Period)),
        }
        select.group_by = GroupBy::By(group_by);
        select
    }

    /// A distinct count's changes as range rows of `kind`: `change`, per series (entity,
    /// labels) and range end `end`, over `rows` (named [`Alias::Range`]).
    fn changes(
        &self,
        kind: RangeKind,
        metric: usize,
        change: Sql,
        rows: Select,
        end: Sql,
    ) -> Select {
        let of = |c| Sql::Of(Alias::Range, c);
        let value =
            |item: &Item| (item.alias == Some(Alias::Metric(metric))).then(|| change.clone());
        let items = self.items(
            kind,
            (of(Alias::SliceValue), of(Alias::SegmentValue)),
            self.entity_of(Alias::Range),
            value,
            end.clone(),
        );
        let mut select = Select::new(
            items,
            Relation::Query(Box::new(rows), Alias::Range),
            Style::Block,
        );
        let series = self
            .entity
            .into_iter()
            .chain([Alias::SliceValue, Alias::SegmentValue]);
        select.group_by = GroupBy::By(series.map(of).chain([end]).collect());
        select
    }

    /// A cumulative distinct count's changes: each value adds 1 from its first period on.
    fn first_periods(&self, metric: usize, rows: Select) -> Select {
        let count = Sql::call("COUNT", vec![Sql::Int(1)]).cast(SqlType::Double);
        let end = Sql::Of(Alias::Range, Alias::PeriodNumber);
        self.changes(RangeKind::Cumulative, metric, count, rows, end)
    }

    /// A rolling distinct count's changes: a value counts from each period it has rows in up
    /// to the end of the `reach` periods from there or the next period it has rows in,
    /// whichever comes first (+1 at the first, -1 at the second), so each value counts once in
    /// every range that holds one of its periods.
    fn rolling_changes(&self, metric: usize, reach: i64, rows: Select) -> Select {
        let name = Sql::Name;
        let mut partition: Vec<Sql> = self.entity.map(name).into_iter().collect();
        partition.extend([Alias::SliceValue, Alias::SegmentValue, Alias::Value].map(name));
        let mut items: Vec<Item> = self
            .entity
            .map(|e| Item::new(name(e), e))
            .into_iter()
            .collect();
        items.extend(
            [Alias::SliceValue, Alias::SegmentValue, Alias::PeriodNumber]
                .map(|a| Item::new(name(a), a)),
        );
        items.push(Item::new(
            Sql::Over {
                call: Box::new(Sql::call("LEAD", vec![name(Alias::PeriodNumber)])),
                partition_by: partition,
                order_by: vec![name(Alias::PeriodNumber)],
            },
            Alias::Next,
        ));
        let with_next = Select::new(
            items,
            Relation::Query(Box::new(rows), Alias::Range),
            Style::Inline,
        );

        let of = |c| Sql::Of(Alias::Range, c);
        let start = Sql::binary(Sql::Of(Alias::Offsets, Alias::Offset), Op::Eq, Sql::Int(0));
        let out = Sql::binary(of(Alias::PeriodNumber), Op::Add, Sql::Int(reach));
        let end = Sql::When(
            Box::new(start.clone()),
            Box::new(of(Alias::PeriodNumber)),
            Some(Box::new(Sql::call(
                "LEAST",
                vec![
                    out.clone(),
                    Sql::call("COALESCE", vec![of(Alias::Next), out]),
                ],
            ))),
        );
        let change = Sql::call(
            "SUM",
            vec![Sql::When(
                Box::new(start.clone()),
                Box::new(Sql::Int(1)),
                Some(Box::new(Sql::Int(-1))),
            )],
        )
        .cast(SqlType::Double);
        let mut select = self.changes(RangeKind::Rolling, metric, change, with_next, end);
        select.joins = vec![Self::offsets(2)];
        // The +1 changes come in rows of their own: at a period, they are its distinct count.
        let state = |number: usize| Sql::Int(number as i64);
        let (states, index) = (self.ranges.states, self.index);
        let by_offset = Sql::When(
            Box::new(start),
            Box::new(state(Derivation::period_count_state(states, index))),
            Some(Box::new(state(Derivation::range_state(
                states,
                index,
                RangeKind::Rolling,
            )))),
        );
        for item in &mut select.items {
            if item.alias == Some(Alias::State) {
                item.expr = by_offset.clone();
            }
        }
        if let GroupBy::By(keys) = &mut select.group_by {
            keys.push(Sql::Of(Alias::Offsets, Alias::Offset));
        }
        select
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
        ranges: metrics
            .iter()
            .zip(&combine)
            .map(|(m, c)| ranged(request, m, *c))
            .collect(),
        numbers: request.unit.zip(request.window.as_ref()).map(|(unit, w)| {
            let (first, end) = w.covering(unit);
            (ordinal(first, unit), ordinal(end, unit) - 1)
        }),
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
            .map(|m| {
                (
                    m.spec.name.clone(),
                    m.spec.format.as_ref().map(|f| f.to_string()),
                )
            })
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
        counts: metrics
            .iter()
            .enumerate()
            .filter(|(_, m)| m.count.is_some())
            .map(|(i, _)| i)
            .collect(),
        derive,
    }
}

/// How the statement gives a metric's rolling and cumulative values, when they are asked for
/// and are not sums of its period values (see [`Ranged`]).
fn ranged(request: &CheckedRequest, metric: &MetricExprs, combine: Combine) -> Option<Ranged> {
    if request.unit.is_none() || !(request.cumulative || request.rolling.is_some()) {
        return None;
    }
    match combine {
        Combine::Total | Combine::RatioOfTotals => None,
        Combine::Distinct if count_distinct(&metric.numerator).is_some() => Some(Ranged::Changes),
        Combine::Distinct | Combine::Other => Some(Ranged::Values),
    }
}

/// What the final query computes per metric over the aggregates (see [`Builder::finish`]).
#[derive(Debug, Clone)]
pub(super) struct MetricValues {
    /// Each metric's value.
    pub(super) values: Vec<Sql>,
    /// The numerator and denominator of those that carry them (see [`Layout::parts`]).
    pub(super) parts: Vec<Option<(Sql, Sql)>>,
    /// The count of those whose rows are counted.
    pub(super) counts: Vec<Option<Sql>>,
}

/// [`MetricValues`] over the aggregates.
fn results(aggregated: &[MetricExprs], layout: &Layout) -> MetricValues {
    let values = aggregated
        .iter()
        .map(|m| value_expr(&m.numerator, m.denominator.as_ref()))
        .collect();
    let double = |e: &Expr| Sql::Fragment(Box::new(e.clone())).cast(SqlType::Double);
    let mut parts: Vec<Option<(Sql, Sql)>> = vec![None; aggregated.len()];
    for &i in &layout.parts {
        if let Some(den) = &aggregated[i].denominator {
            parts[i] = Some((double(&aggregated[i].numerator), double(den)));
        }
    }
    let counts = aggregated
        .iter()
        .map(|m| m.count.as_ref().map(|c| Sql::Fragment(Box::new(c.clone()))))
        .collect();
    MetricValues {
        values,
        parts,
        counts,
    }
}

/// How the metrics are aggregated: the strategy, each metric's numerator, denominator and
/// count as aggregate expressions (over the first stage's partials, for two-stage), and the
/// partial aggregates the first stage computes (two-stage only).
fn aggregation(
    d: &dyn Dialect,
    metrics: &[MetricExprs],
    single_state: bool,
) -> (Strategy, Vec<MetricExprs>, Partials) {
    let mut partials = Partials::default();
    if !single_state {
        let mut decompose = |e: &Expr| rollup::decompose(e, d, &mut partials);
        let decomposed: Option<Vec<MetricExprs>> = metrics
            .iter()
            .map(|m| {
                Some(MetricExprs {
                    numerator: decompose(&m.numerator)?,
                    denominator: match &m.denominator {
                        Some(den) => Some(decompose(den)?),
                        None => None,
                    },
                    count: match &m.count {
                        Some(count) => Some(decompose(count)?),
                        None => None,
                    },
                })
            })
            .collect();
        if let Some(decomposed) = decomposed {
            return (Strategy::TwoStage, decomposed, partials);
        }
    }
    let strategy = if single_state {
        Strategy::SingleAggregate
    } else {
        Strategy::OnePass
    };
    (strategy, metrics.to_vec(), Partials::default())
}

/// PostgreSQL's `GROUPING` takes at most this many arguments.
const MAX_GROUPING_ARGUMENTS: usize = 31;

/// The grouping sets of the slices' keys for the first stage (see [`sets`]), or none when one
/// set holds them all.
fn grouping_sets(
    request: &CheckedRequest,
    leaves: &[(&SliceSpec, Labeler)],
) -> Result<Vec<Vec<Alias>>> {
    let mut slices: Vec<Vec<(Alias, u64)>> = Vec::new();
    for (_, components) in &request.slices {
        let mut keys = Vec::new();
        for component in components {
            keys.extend(labeler(leaves, component)?.estimates());
        }
        slices.push(keys);
    }
    let key_count: usize = leaves.iter().map(|(_, l)| l.keys().len()).sum();
    let sets = sets::pack(&slices);
    Ok(if sets.len() > 1 && key_count <= MAX_GROUPING_ARGUMENTS {
        sets
    } else {
        Vec::new()
    })
}

/// What the range rows of a statement hold, when it has any (see [`Ranged`]).
fn range_rows(
    request: &CheckedRequest,
    layout: &Layout,
    metrics: &[MetricExprs],
    states: usize,
) -> Option<Ranges> {
    let derivation = layout.derive.as_ref().filter(|d| d.has_ranges())?;
    let (unit, (first, last)) = layout.unit.zip(derivation.numbers)?;
    let mut kinds = Vec::new();
    if let Some(n) = request.rolling {
        kinds.push((RangeKind::Rolling, i64::from(n)));
    }
    if request.cumulative {
        kinds.push((RangeKind::Cumulative, last - first + 1));
    }
    let metrics = derivation
        .ranges
        .iter()
        .zip(metrics)
        .map(|(ranged, m)| match ranged {
            Some(Ranged::Changes) => {
                let (value, filter) = count_distinct(&m.numerator)?;
                let sql = |e: Expr| Sql::Fragment(Box::new(e)).parens();
                Some(RangedMetric::Changes {
                    value: sql(value),
                    filter: filter.map(sql),
                })
            }
            Some(Ranged::Values) => Some(RangedMetric::Values),
            None => None,
        })
        .collect();
    Some(Ranges {
        states,
        unit,
        first,
        last,
        kinds,
        metrics,
    })
}

pub(super) fn build(
    group: &Group,
    request: &CheckedRequest,
    dimension: Option<&Table>,
    mode: Mode,
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
    let (mut filter, windows) = builder.time(request, group);
    // The filters beside the time filter.
    let mut filters = request_filters(request, backend)?;
    let filtering = Filtering::of(group);
    if let Filtering::Shared(Some(shared)) = filtering {
        let owner = format!("metric `{}`", group.metrics[0].spec.name);
        let predicate = translate(shared, backend, &owner)?;
        filters.push(Sql::Fragment(Box::new(predicate)).parens());
    }
    filter.extend(filters.iter().cloned());
    let metrics = group
        .metrics
        .iter()
        .map(|metric| metric_exprs(metric, backend, &filtering))
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
    let layout = layout(request, group, &states, &metrics);
    let ranges = range_rows(request, &layout, &metrics, states.len());
    // Range rows are computed from the labelled rows.
    let single_state = states.len() == 1 && ranges.is_none() && mode == Mode::Compute;
    let (strategy, aggregated, partials) = aggregation(d, &metrics, single_state);
    if mode == Mode::Populate && strategy != Strategy::TwoStage {
        return Err(Error::internal(
            "a populating statement of aggregates that do not roll up",
        ));
    }
    let MetricValues {
        mut values,
        mut parts,
        mut counts,
    } = results(&aggregated, &layout);

    let mut joins = Vec::new();
    if let Some(segment) = &segment {
        builder.ctes.push(segment.cte.clone());
        joins.push(segment.join.clone());
    }
    joins.extend(windows);
    let facts = Facts {
        relation: Relation::Table(group.fact.relation().to_string(), Alias::Fact),
        joins,
        filter,
    };
    if strategy == Strategy::TwoStage {
        builder.sets = grouping_sets(request, &leaves)?;
    }
    let source = builder.first_stage(strategy, &facts, &partials, &metrics);
    // Two-stage branches roll the partial aggregates up, and the metrics are computed once over
    // their union (a shorter statement for the database to prepare); the other plans compute the
    // metrics in each branch.
    let aggregates: Vec<Item> = match strategy {
        Strategy::TwoStage => partials
            .rollups
            .iter()
            .enumerate()
            .map(|(i, rollup)| {
                let partial = Alias::Partial(i);
                Item::new(Sql::call(rollup.clone(), vec![Sql::Name(partial)]), partial)
            })
            .collect(),
        Strategy::OnePass | Strategy::SingleAggregate => {
            let mut aggregates = Vec::new();
            let derive = layout.derive.as_ref();
            for (i, value) in values.iter_mut().enumerate() {
                let alias = Alias::Metric(i);
                let mut expr = std::mem::replace(value, Sql::Name(alias));
                if derive.is_some_and(|d| d.counted_by_changes(i)) {
                    expr = Sql::Null.cast(SqlType::Double);
                }
                aggregates.push(Item::new(expr, alias));
            }
            for (i, part) in parts.iter_mut().enumerate() {
                if let Some((num, den)) = part.take() {
                    let (n, d) = (Alias::Numerator(i), Alias::Denominator(i));
                    aggregates.push(Item::new(num, n));
                    aggregates.push(Item::new(den, d));
                    *part = Some((Sql::Name(n), Sql::Name(d)));
                }
            }
            for (i, count) in counts.iter_mut().enumerate() {
                if let Some(expr) = count.take() {
                    aggregates.push(Item::new(expr, Alias::Count(i)));
                    *count = Some(Sql::Name(Alias::Count(i)));
                }
            }
            aggregates
        }
    };
    let second = SecondStage {
        leaves: &leaves,
        segment: segment.as_ref(),
        aggregates: &aggregates,
        source,
        facts: &facts,
        ranges: ranges.as_ref(),
    };
    let fanned_out = match strategy == Strategy::TwoStage
        && ranges.is_none()
        && states.len() > 1
        && d.fans_out_states()
    {
        true => builder.fanned_out_states(&states, &second)?,
        false => None,
    };
    let mut branches = match fanned_out {
        Some(select) => {
            // The first stage is read once.
            if let Some(first) = builder.ctes.iter_mut().find(|c| Some(c.name) == source) {
                first.materialized = false;
            }
            vec![select]
        }
        None => states
            .iter()
            .enumerate()
            .map(|(i, state)| builder.state(i, state, &second))
            .collect::<Result<Vec<_>>>()?,
    };
    for (i, state) in states.iter().enumerate() {
        branches.extend(builder.range_branches(i, state, &second)?);
    }
    builder.ctes.push(Cte {
        name: Alias::States,
        materialized: false,
        branches,
    });
    let (sql, populated) = match mode {
        Mode::Compute => {
            let statement = builder.finish(&layout, request.sort, &values, &parts, &counts);
            (statement.render(d), None)
        }
        Mode::Populate => {
            let render = |sql: &Sql| sql.render(d);
            let mut identity = vec![
                backend.to_string(),
                group.fact.relation().to_string(),
                format!("{:?}", group.timestamp.as_ref().map(|t| &t.name)),
                format!("{:?}", group.timestamp_type),
                format!("{:?}", request.by_entity.as_ref().map(|e| &e.name)),
            ];
            identity.extend(filters.iter().map(render));
            let count = partials.exprs.len();
            let rollups = &partials.rollups;
            let second_states_unlabelled = states.iter().map(State::unlabelled).collect();
            let partials = partials
                .exprs
                .iter()
                .zip(&partials.rollups)
                .map(|(p, rollup)| {
                    let p = Sql::Fragment(Box::new(p.clone())).render(d);
                    stored::fingerprint(&[p, rollup.clone()])
                })
                .collect();
            let states = states
                .iter()
                .map(|state| builder.state_fingerprint(state, &second))
                .collect::<Result<Vec<_>>>()?;
            let populated = Populated {
                identity: stored::fingerprint(&identity),
                states,
                partials,
                rollups: rollups.clone(),
                unlabelled: second_states_unlabelled,
            };
            (builder.populate(count).render(d), Some(populated))
        }
    };
    Ok(Built {
        sql,
        strategy,
        layout,
        ranged: ranges.is_some(),
        populated,
    })
}
