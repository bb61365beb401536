//! Building one statement (see the module documentation of `plan` for its shape).

use super::{Group, Strategy};
use crate::connect::ResolvedSource;
use crate::error::{Error, Result};
use crate::request::CheckedRequest;
use crate::spec::{NamedPredicate, SegmentKind, SliceKind, SliceSpec, SqlFragment};
use crate::sql::expr::{self, Partials};
use crate::sql::{Dialect, SqlType};

/// Value-list masks hold this many values per column (bits 0..29 of an INTEGER).
const VALUES_PER_MASK: usize = 30;

pub(super) struct Built {
    pub(super) sql: String,
    pub(super) strategy: Strategy,
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

/// The labels of one slice state or segment state in the second stage.
struct Labels {
    joins: Vec<String>,
    filters: Vec<String>,
    group_by: Vec<String>,
    /// Text expressions, one per component, joined by `|`.
    values: Vec<String>,
}

impl Labels {
    fn new() -> Self {
        Labels {
            joins: Vec::new(),
            filters: Vec::new(),
            group_by: Vec::new(),
            values: Vec::new(),
        }
    }

    /// Adds one component's labels; `alias` names its value list when it has one.
    fn add(&mut self, d: Dialect, labeler: &Labeler, alias: &str) {
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

    fn value(&self, d: Dialect, none: &str) -> String {
        if self.values.is_empty() {
            return d.string(none);
        }
        self.values.join(&format!(" || {} || ", d.string("|")))
    }
}

/// Renders a fragment for the statement's dialect, naming the spec when it does not parse.
fn render(fragment: &SqlFragment, d: Dialect, owner: &str) -> Result<String> {
    fragment
        .expr_for(d)
        .map(|e| expr::render(&e))
        .map_err(|err| {
            Error::query_build(format!(
                "{owner}: `{}` is not valid SQL for {d:?}: {}",
                fragment.text, err.message
            ))
        })
}

/// First-stage mask keys for named predicates, and the labeler that reads them.
fn mask_keys(
    d: Dialect,
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
                d,
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

/// A metric's value expression over the statement's aggregates.
struct MetricExprs {
    numerator: sqlparser::ast::Expr,
    denominator: Option<sqlparser::ast::Expr>,
}

fn value_expr(d: Dialect, numerator: &str, denominator: Option<&str>) -> String {
    let num = d.cast(numerator, SqlType::Double);
    match denominator {
        Some(den) => format!("{num} / NULLIF({}, 0)", d.cast(den, SqlType::Double)),
        None => num,
    }
}

pub(super) fn build(
    group: &Group,
    request: &CheckedRequest,
    dimension: Option<&ResolvedSource>,
) -> Result<Built> {
    let d = group.fact.dialect();

    // Leaf slices, each labelled once even when several requested slices use it.
    let mut leaves: Vec<(&SliceSpec, Labeler)> = Vec::new();
    let mut keys: Vec<Key> = Vec::new();
    for (_, components) in &request.slices {
        for leaf in components {
            if leaves.iter().any(|(l, _)| l.name == leaf.name) {
                continue;
            }
            let prefix = format!("__s{}", leaves.len());
            let labeler = match &leaf.kind {
                SliceKind::Values(values) => {
                    let (k, labeler) =
                        mask_keys(d, &prefix, values, &format!("slice `{}`", leaf.name), |e| e)?;
                    keys.extend(k);
                    labeler
                }
                SliceKind::Column { column, .. } => {
                    keys.push(Key {
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

    // The segment: a labelled, de-duplicated dimension table joined once.
    let mut segment_cte = None;
    let mut segment_join = String::new();
    let mut segment_labeler = None;
    if let (Some(segment), Some(dim)) = (&request.segment, dimension) {
        let spec = segment.spec;
        let owner = format!("segment `{}`", spec.name);
        let entity = d.column(&spec.entity_id);
        let (dim_columns, labeler) = match &spec.kind {
            SegmentKind::Values(values) => {
                let (dim_keys, labeler) =
                    mask_keys(d, "__g", values, &owner, |e| format!("BIT_OR({e})"))?;
                let columns: Vec<String> = dim_keys
                    .iter()
                    .map(|k| format!("{} AS {}", k.expr, k.alias))
                    .collect();
                (
                    format!(
                        "SELECT {entity} AS __key, {}\n    FROM {} AS _dim\n    GROUP BY {entity}",
                        columns.join(", "),
                        dim.relation
                    ),
                    labeler,
                )
            }
            SegmentKind::Columns(columns) => {
                let parts: Vec<String> = columns
                    .iter()
                    .map(|c| d.cast(&d.column(c), SqlType::Text))
                    .collect();
                let label = parts.join(&format!(" || {} || ", d.string("|")));
                (
                    format!(
                        "SELECT __key, CASE WHEN COUNT(DISTINCT __label) = 1 THEN MIN(__label) END AS __g\n    FROM (SELECT {entity} AS __key, {label} AS __label FROM {} AS _dim) AS __labelled\n    GROUP BY __key",
                        dim.relation
                    ),
                    Labeler::Column {
                        alias: "__g".into(),
                    },
                )
            }
        };
        match &labeler {
            Labeler::Values { masks, .. } => {
                for mask in masks {
                    keys.push(Key {
                        alias: mask.clone(),
                        expr: format!("__dim.{mask}"),
                    });
                }
            }
            Labeler::Column { alias } => keys.push(Key {
                alias: alias.clone(),
                expr: format!("__dim.{alias}"),
            }),
        }
        segment_cte = Some(format!("__segment AS (\n    {dim_columns}\n)"));
        segment_join = format!(
            "\n    LEFT JOIN __segment AS __dim ON __fact.{} = __dim.__key",
            d.column(&segment.join_key)
        );
        segment_labeler = Some((spec.name.clone(), labeler));
    }

    // Time: the window filter and the period key.
    let mut filters = Vec::new();
    let unit = request.period.unit();
    if let (Some(window), Some(ts)) = (&request.window, &group.timestamp) {
        let ts_sql = d.column(ts);
        let (from, to) = match unit {
            Some(unit) => window.covering(unit),
            None => (window.start, window.end),
        };
        filters.push(format!("{ts_sql} >= {}", d.timestamp(from)));
        filters.push(format!("{ts_sql} < {}", d.timestamp(to)));
        if let Some(unit) = unit {
            keys.push(Key {
                alias: "__period".into(),
                expr: d.truncate(&ts_sql, unit),
            });
        }
    }
    if let Some(entity) = &request.by_entity {
        keys.push(Key {
            alias: "__entity".into(),
            expr: d.column(entity),
        });
    }
    let time_keys: Vec<&str> = keys
        .iter()
        .map(|k| k.alias.as_str())
        .filter(|a| *a == "__period" || *a == "__entity")
        .collect();

    // Metrics, parsed for this dialect.
    let mut metric_exprs = Vec::new();
    for metric in &group.metrics {
        let parse = |f: &SqlFragment| {
            f.expr_for(d).map_err(|err| {
                Error::query_build(format!(
                    "metric `{}`: `{}` is not valid SQL for {d:?}: {}",
                    metric.name, f.text, err.message
                ))
            })
        };
        metric_exprs.push(MetricExprs {
            numerator: parse(&metric.numerator)?,
            denominator: metric.denominator.as_ref().map(parse).transpose()?,
        });
    }

    // The states: each requested slice and the baseline, each with and without the segment.
    let slice_states: Vec<Option<&(&SliceSpec, Vec<&SliceSpec>)>> = request
        .slices
        .iter()
        .map(Some)
        .chain(std::iter::once(None))
        .collect();
    let segment_states: Vec<bool> = if segment_labeler.is_some() {
        vec![true, false]
    } else {
        vec![false]
    };
    let single = slice_states.len() * segment_states.len() == 1;

    // Aggregates: rolled up from partials when possible.
    let mut partials = Partials::default();
    let decomposed: Option<Vec<(String, Option<String>)>> = if single {
        None
    } else {
        metric_exprs
            .iter()
            .map(|m| {
                let num = expr::decompose(&m.numerator, d, &mut partials)?;
                let den = match &m.denominator {
                    Some(den) => Some(expr::decompose(den, d, &mut partials)?),
                    None => None,
                };
                Some((num, den))
            })
            .collect()
    };
    let strategy = match (&decomposed, single) {
        (_, true) => Strategy::SingleAggregate,
        (Some(_), false) => Strategy::TwoStage,
        (None, false) => Strategy::OnePass,
    };
    let finals: Vec<String> = match &decomposed {
        Some(parts) => parts
            .iter()
            .map(|(n, den)| value_expr(d, n, den.as_deref()))
            .collect(),
        None => metric_exprs
            .iter()
            .map(|m| {
                value_expr(
                    d,
                    &expr::render(&m.numerator),
                    m.denominator.as_ref().map(expr::render).as_deref(),
                )
            })
            .collect(),
    };

    let where_clause = if filters.is_empty() {
        String::new()
    } else {
        format!("\n    WHERE {}", filters.join(" AND "))
    };
    let from_fact = format!(
        "{} AS __fact{segment_join}{where_clause}",
        group.fact.relation
    );
    let key_list = |keys: &[Key]| -> Vec<String> {
        keys.iter()
            .map(|k| format!("{} AS {}", k.expr, k.alias))
            .collect()
    };

    let mut ctes: Vec<String> = segment_cte.into_iter().collect();
    let state_source = match strategy {
        Strategy::SingleAggregate => None,
        Strategy::TwoStage => {
            let mut select = key_list(&keys);
            select.extend(
                partials
                    .exprs
                    .iter()
                    .enumerate()
                    .map(|(i, p)| format!("{p} AS {}", Partials::name(i))),
            );
            let group_by: Vec<&str> = keys.iter().map(|k| k.alias.as_str()).collect();
            ctes.push(format!(
                "__pre {} (\n    SELECT {}\n    FROM {from_fact}\n    GROUP BY {}\n)",
                d.materialized(),
                select.join(",\n        "),
                group_by.join(", ")
            ));
            Some("__pre")
        }
        Strategy::OnePass => {
            let mut select = key_list(&keys);
            let mut seen = std::collections::HashSet::new();
            for m in &metric_exprs {
                for e in std::iter::once(&m.numerator).chain(&m.denominator) {
                    for column in expr::column_idents(e) {
                        if seen.insert(column.name.to_lowercase()) {
                            select.push(d.column(&column));
                        }
                    }
                }
            }
            ctes.push(format!(
                "__base {} (\n    SELECT {}\n    FROM {from_fact}\n)",
                d.materialized(),
                select.join(",\n        ")
            ));
            Some("__base")
        }
    };

    // The second stage: one aggregation per state.
    let mut branches = Vec::new();
    for (slice_index, slice_state) in slice_states.iter().enumerate() {
        for (segment_index, with_segment) in segment_states.iter().enumerate() {
            let state = slice_index * segment_states.len() + segment_index;
            let mut labels = Labels::new();
            let slice_type = match slice_state {
                Some((slice, components)) => {
                    for (n, component) in components.iter().enumerate() {
                        let labeler = &leaves
                            .iter()
                            .find(|(l, _)| l.name == component.name)
                            .expect("every component has a labeler")
                            .1;
                        labels.add(d, labeler, &format!("__v{n}"));
                    }
                    match &slice.kind {
                        SliceKind::CrossProduct(parts) => parts.join("|"),
                        _ => slice.name.clone(),
                    }
                }
                None => "none".to_string(),
            };
            let slice_value = labels.value(d, "all");
            let mut segment_labels = Labels::new();
            let segment_name = match (&segment_labeler, with_segment) {
                (Some((name, labeler)), true) => {
                    segment_labels.add(d, labeler, "__vg");
                    name.clone()
                }
                _ => "none".to_string(),
            };
            let segment_value = segment_labels.value(d, "all");

            let mut select = vec![format!("{state} AS __state")];
            let mut group_by = Vec::new();
            for alias in &time_keys {
                let source = if strategy == Strategy::SingleAggregate {
                    keys.iter()
                        .find(|k| k.alias == *alias)
                        .expect("key")
                        .expr
                        .clone()
                } else {
                    format!("__r.{alias}")
                };
                select.push(format!("{source} AS {alias}"));
                group_by.push(source);
            }
            select.push(format!("{} AS slice_type", d.string(&slice_type)));
            select.push(format!("{slice_value} AS slice_value"));
            select.push(format!("{} AS segment_name", d.string(&segment_name)));
            select.push(format!("{segment_value} AS segment_value"));
            for (i, f) in finals.iter().enumerate() {
                select.push(format!("{f} AS __m{i}"));
            }
            group_by.extend(labels.group_by.iter().cloned());
            group_by.extend(segment_labels.group_by.iter().cloned());
            let mut branch = format!("SELECT {}", select.join(",\n        "));
            match state_source {
                Some(source) => {
                    branch.push_str(&format!("\n    FROM {source} AS __r"));
                    for join in labels.joins.iter().chain(&segment_labels.joins) {
                        branch.push_str(&format!("\n    {join}"));
                    }
                    let filters: Vec<&String> = labels
                        .filters
                        .iter()
                        .chain(&segment_labels.filters)
                        .collect();
                    if !filters.is_empty() {
                        let filters: Vec<&str> = filters.iter().map(|s| s.as_str()).collect();
                        branch.push_str(&format!("\n    WHERE {}", filters.join(" AND ")));
                    }
                }
                None => branch.push_str(&format!("\n    FROM {from_fact}")),
            }
            if !group_by.is_empty() {
                branch.push_str(&format!("\n    GROUP BY {}", group_by.join(", ")));
            }
            branches.push(branch);
        }
    }
    ctes.push(format!(
        "__states AS (\n    {}\n)",
        branches.join("\n    UNION ALL\n    ")
    ));

    // Unpivot into the standard columns.
    let text_null = d.cast("NULL", SqlType::Text);
    let (period_start, period_end) = match (unit, &request.window) {
        (Some(unit), _) => (
            d.format_timestamp("__r.__period"),
            d.format_timestamp(&d.add_one("__r.__period", unit)),
        ),
        (None, Some(window)) => (d.string(&window.start_text), d.string(&window.end_text)),
        (None, None) => (text_null.clone(), text_null.clone()),
    };
    let entity = if request.by_entity.is_some() {
        d.cast("__r.__entity", SqlType::Text)
    } else {
        text_null.clone()
    };
    let metric_rows: Vec<Vec<String>> = group
        .metrics
        .iter()
        .enumerate()
        .map(|(i, m)| {
            vec![
                i.to_string(),
                d.string(&m.name),
                m.format
                    .as_ref()
                    .map(|f| d.string(&f.to_string()))
                    .unwrap_or_else(|| text_null.clone()),
            ]
        })
        .collect();
    let value_arms: Vec<String> = (0..group.metrics.len())
        .map(|i| format!("WHEN {i} THEN __r.__m{i}"))
        .collect();
    let mut order = vec!["__m.__i".to_string(), "__r.__state".to_string()];
    if unit.is_some() {
        order.push("__r.__period".into());
    }
    if request.by_entity.is_some() {
        order.push("entity_id".into());
    }
    order.extend(["slice_value".to_string(), "segment_value".to_string()]);
    let sql = format!(
        "WITH {}\nSELECT {} AS period_type,\n    {period_start} AS period_start_date,\n    {period_end} AS period_end_date,\n    {entity} AS entity_id,\n    __m.metric_name, __m.metric_format,\n    __r.slice_type, __r.slice_value, __r.segment_name, __r.segment_value,\n    CASE __m.__i {} END AS metric_value\nFROM __states AS __r\nCROSS JOIN {}\nORDER BY {}",
        ctes.join(",\n"),
        d.string(request.period.as_str()),
        value_arms.join(" "),
        d.values(
            &metric_rows,
            "__m",
            &["__i", "metric_name", "metric_format"]
        ),
        order.join(", ")
    );
    Ok(Built { sql, strategy })
}
