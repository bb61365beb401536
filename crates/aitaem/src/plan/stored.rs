//! Planning for the result store (see `crate::store`).
//!
//! A statement the store can answer has two more forms:
//!
//! - **populate**, on the source's backend: the same labels and filters, per day (per hour for
//!   hourly requests), over the time the request reads (every row, for a request without a
//!   window), returning `__states` as it is: each
//!   state's partial aggregates (sums, counts, minima, ...) per period, slice value, segment
//!   value and entity. The store keeps these rows.
//! - **serve**, on DuckDB over the stored files: each of the request's states rolled up from its
//!   stored rows to the request's periods (or windows), then the same metric expressions over
//!   the partials as the statement's. Partials roll up exactly, so the rows are the statement's.
//!
//! What the rows depend on is fingerprinted: the table, timestamp column, entity and filters
//! (the identity, with the connection's settings), each state's label SQL, and each partial
//! aggregate's SQL. A request is served by an entry of the same identity, of its grain or hourly,
//! that holds its states and partials and has read the time it needs; an edited spec changes
//! the SQL, so entries built from its old text are never used.

use std::path::PathBuf;

use chrono::NaiveDateTime;
use sha2::{Digest, Sha256};

use super::statement::{self, Built, Mode};
use super::{Group, Layout, Strategy};
use crate::backend::BackendKind;
use crate::catalog::Table;
use crate::period::{PeriodType, TimeUnit, truncate};
use crate::request::{CheckedRequest, Reach};
use crate::sql::tree::{Alias, Cte, GroupBy, Item, Join, Op, Relation, Select, Sql, Style};
use crate::sql::{Dialect, SqlType};
use crate::store::{Coverage, StoredRequest};

/// A short, stable fingerprint of some texts.
pub(crate) fn fingerprint(parts: &[String]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part.as_bytes());
    }
    hasher.finalize()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// How the store takes part in one statement.
#[derive(Debug, Clone)]
pub(crate) struct StoredPlan {
    /// See the module documentation (without the connection's settings).
    pub identity: String,
    /// `day` or `hour`.
    pub grain: &'static str,
    /// Each of the request's states, and each partial aggregate, as fingerprints.
    pub states: Vec<String>,
    pub partials: Vec<String>,
    /// The `[start, end)` ranges of time the request reads.
    pub needs: Vec<(NaiveDateTime, NaiveDateTime)>,
    /// The populating statement, in the backend's dialect.
    pub populate: String,
    /// What populates the entry, to read a range again.
    pub request: StoredRequest,
    serve: Serve,
}

/// What the serving statement is made of.
#[derive(Debug, Clone)]
struct Serve {
    /// The aggregate that rolls each partial up, on DuckDB.
    rollups: Vec<String>,
    unit: Option<TimeUnit>,
    /// The windows, when rows are grouped by window.
    windows: Vec<(NaiveDateTime, NaiveDateTime)>,
    entity: bool,
    /// The states without labels, which always have a row when nothing else groups them.
    unlabelled: Vec<bool>,
    values: statement::MetricValues,
    sort: bool,
}

/// A stored file, with the periods it answers for.
pub(crate) struct ServedFile {
    pub path: PathBuf,
    pub from: Option<NaiveDateTime>,
    pub to: Option<NaiveDateTime>,
}

/// How the store can take part in a statement, or why it cannot (in words).
pub(super) fn plan(
    group: &Group,
    request: &CheckedRequest,
    dimension: Option<&Table>,
    compute: &Built,
    metrics: &[String],
) -> Result<StoredPlan, String> {
    if compute.strategy == Strategy::OnePass {
        return Err("distinct counts, medians and quantiles are not kept in the store".to_string());
    }
    if compute.ranged {
        return Err(
            "rolling and cumulative values of metrics that do not add up are not kept in the store"
                .to_string(),
        );
    }
    if group.timestamp.is_none() {
        return Err(
            match group.metrics.iter().any(|m| m.def.timestamp_col.is_none()) {
                true => "a metric without a timestamp column is not kept in the store",
                false => "metrics of different timestamp columns are not kept in the store",
            }
            .to_string(),
        );
    }
    let grain = match request.unit {
        Some(TimeUnit::Hour) => TimeUnit::Hour,
        _ => TimeUnit::Day,
    };
    // All time (no window) is kept per day as well, over every row.
    let all_time = [(Reach::OPEN_START, Reach::OPEN_END)];
    let (needs, windows) = match (&request.window, &request.reach) {
        (Some(window), Some(reach)) => {
            let windows: Vec<(NaiveDateTime, NaiveDateTime)> = match reach.comparison_window {
                Some(previous) => vec![(window.start, window.end), previous],
                None => Vec::new(),
            };
            let aligned = |t: NaiveDateTime| truncate(t, grain) == t;
            let bounds = reach.ranges.iter().chain(&windows);
            if !bounds.into_iter().all(|&(a, b)| aligned(a) && aligned(b)) {
                return Err(format!(
                    "the window does not start and end on whole {}s",
                    grain.word()
                ));
            }
            (reach.ranges.clone(), windows)
        }
        _ => (all_time.to_vec(), Vec::new()),
    };

    let mut populate = request.clone();
    populate.unit = Some(grain);
    populate.period = match grain {
        TimeUnit::Hour => PeriodType::Hourly,
        _ => PeriodType::Daily,
    };
    populate.reach = Some(Reach {
        ranges: match request.refresh_from {
            Some(from) => vec![(from, Reach::OPEN_END)],
            None => needs.clone(),
        },
        comparison_window: None,
    });
    populate.derived = Vec::new();
    populate.fill_gaps = false;
    populate.compare = None;
    populate.cumulative = false;
    populate.rolling = None;
    populate.sort = false;
    let built =
        statement::build(group, &populate, dimension, Mode::Populate).map_err(|e| e.to_string())?;
    let populated = built
        .populated
        .ok_or_else(|| "the statement does not roll up".to_string())?;

    let cannot = || "its aggregates cannot be rolled up on DuckDB".to_string();
    let serving = statement::serving(group, &compute.layout)
        .map_err(|e| e.to_string())?
        .ok_or_else(cannot)?;
    let same_rollups = serving.rollups.len() == populated.rollups.len()
        && serving
            .rollups
            .iter()
            .zip(&populated.rollups)
            .all(|(a, b)| a.eq_ignore_ascii_case(b));
    if !same_rollups {
        return Err(cannot());
    }
    Ok(StoredPlan {
        identity: populated.identity,
        grain: grain.word(),
        states: populated.states,
        partials: populated.partials,
        needs,
        populate: built.sql,
        request: StoredRequest {
            metrics: metrics.to_vec(),
            slices: request.slices.iter().map(|(s, _)| s.name.clone()).collect(),
            segment: request
                .segment
                .as_ref()
                .map(|s| (s.spec.name.clone(), s.join_key.to_string())),
            by_entity: request.by_entity.as_ref().map(|e| e.name.clone()),
            filters: request.filters.clone(),
            period: populate.period.as_str().to_string(),
        },
        serve: Serve {
            rollups: serving.rollups,
            unit: request.unit,
            windows,
            entity: request.by_entity.is_some(),
            unlabelled: populated.unlabelled,
            values: serving.values,
            sort: request.sort,
        },
    })
}

impl StoredPlan {
    /// The serving statement over an entry's files (see the module documentation).
    pub(crate) fn serve_sql(
        &self,
        files: &[ServedFile],
        coverage: &Coverage,
        layout: &Layout,
    ) -> String {
        let d = BackendKind::DUCKDB.dialect();
        let serve = &self.serve;
        let of = |alias| Sql::Of(Alias::Row, alias);

        // The states of the request, by their number in the entry: all rolled up in one
        // aggregation, except a state without labels when nothing else groups the rows, which
        // has one row even over none (as in the statement) and keeps a branch of its own.
        let mut keys = Vec::new();
        if let Some(unit) = serve.unit {
            keys.push((
                Sql::PeriodKey(Box::new(of(Alias::Period)), unit),
                Alias::Period,
            ));
        }
        if !serve.windows.is_empty() {
            keys.push((Sql::Of(Alias::Windows, Alias::WindowIndex), Alias::Window));
        }
        if serve.entity {
            keys.push((of(Alias::EntityKey), Alias::EntityKey));
        }
        let alone = |state: usize| serve.unlabelled[state] && keys.is_empty();
        let grouped: Vec<(usize, usize)> = coverage
            .states
            .iter()
            .copied()
            .enumerate()
            .filter(|&(state, _)| !alone(state))
            .collect();
        let mut branches = Vec::new();
        if !grouped.is_empty() {
            let number = Sql::Switch(
                Box::new(of(Alias::State)),
                grouped
                    .iter()
                    .map(|&(state, stored)| (Sql::Int(stored as i64), Sql::Int(state as i64)))
                    .collect(),
            );
            let filter = Sql::Any(
                grouped
                    .iter()
                    .map(|&(_, stored)| {
                        Sql::binary(of(Alias::State), Op::Eq, Sql::Int(stored as i64))
                    })
                    .collect(),
            );
            let mut group_keys = vec![(number, Alias::State)];
            group_keys.extend(keys.iter().cloned());
            for label in [Alias::SliceValue, Alias::SegmentValue] {
                group_keys.push((of(label), label));
            }
            let mut select = self.serving_branch(&group_keys, coverage, filter);
            select.group_by = GroupBy::By(group_keys.into_iter().map(|(expr, _)| expr).collect());
            branches.push(select);
        }
        for (state, &stored) in coverage.states.iter().enumerate() {
            if alone(state) {
                let labels = [
                    (Sql::Int(state as i64), Alias::State),
                    (Sql::Text("all".into()), Alias::SliceValue),
                    (Sql::Text("all".into()), Alias::SegmentValue),
                ];
                let filter = Sql::binary(of(Alias::State), Op::Eq, Sql::Int(stored as i64));
                branches.push(self.serving_branch(&labels, coverage, filter));
            }
        }
        let stored = Cte {
            name: Alias::Pre,
            materialized: true,
            branches: vec![self.stored_rows(d, files, coverage)],
        };
        let states = Cte {
            name: Alias::States,
            materialized: false,
            branches,
        };
        statement::finish(vec![stored, states], layout, serve.sort, &serve.values).render(d)
    }

    /// A branch of the serving statement: the `columns` (state, keys, labels), the partials
    /// rolled up, over the stored rows `filter` holds for in the request's ranges (and windows).
    fn serving_branch(&self, columns: &[(Sql, Alias)], coverage: &Coverage, filter: Sql) -> Select {
        let serve = &self.serve;
        let of = |alias| Sql::Of(Alias::Row, alias);
        let bound = |t: NaiveDateTime| Sql::TimeBound(t, None);
        let between = |value: Sql, (from, to): (Sql, Sql)| {
            Sql::binary(
                Sql::binary(value.clone(), Op::AtLeast, from),
                Op::And,
                Sql::binary(value, Op::Below, to),
            )
        };
        let mut items: Vec<Item> = columns
            .iter()
            .map(|(expr, alias)| Item::new(expr.clone(), *alias))
            .collect();
        for (k, rollup) in serve.rollups.iter().enumerate() {
            let column = of(Alias::Partial(coverage.partials[k]));
            items.push(Item::new(
                Sql::call(rollup.clone(), vec![column]),
                Alias::Partial(k),
            ));
        }
        let mut select = Select::new(items, Relation::CteAs(Alias::Pre, Alias::Row), Style::Block);
        select.filter.push(filter);
        // All time reads every stored row, those without a time too.
        if !self.needs.contains(&(Reach::OPEN_START, Reach::OPEN_END)) {
            select.filter.push(Sql::Any(
                self.needs
                    .iter()
                    .map(|&(a, b)| between(of(Alias::Period), (bound(a), bound(b))))
                    .collect(),
            ));
        }
        if !serve.windows.is_empty() {
            select.joins.push(Join::Cross(Relation::Values {
                rows: serve
                    .windows
                    .iter()
                    .enumerate()
                    .map(|(i, &(a, b))| vec![Sql::Int(i as i64), bound(a), bound(b)])
                    .collect(),
                alias: Alias::Windows,
                columns: vec![Alias::WindowIndex, Alias::WindowStart, Alias::WindowEnd],
            }));
            select.filter.push(between(
                of(Alias::Period),
                (
                    Sql::Of(Alias::Windows, Alias::WindowStart),
                    Sql::Of(Alias::Windows, Alias::WindowEnd),
                ),
            ));
        }
        select
    }

    /// The stored rows the request reads: each file's rows of the periods it answers for, or
    /// no rows (of the same columns) when there are no files.
    fn stored_rows(&self, d: &dyn Dialect, files: &[ServedFile], coverage: &Coverage) -> Select {
        let columns = |entity: bool, partials: usize| {
            let mut c = vec![Alias::State, Alias::Period];
            if entity {
                c.push(Alias::EntityKey);
            }
            c.extend([Alias::SliceValue, Alias::SegmentValue]);
            c.extend((0..partials).map(Alias::Partial));
            c
        };
        let partials = coverage.partials.iter().max().map_or(0, |m| m + 1);
        if files.is_empty() {
            let items = columns(self.serve.entity, partials)
                .into_iter()
                .map(|alias| {
                    let ty = match alias {
                        Alias::State => SqlType::Integer,
                        Alias::Period => SqlType::Timestamp,
                        Alias::Partial(_) => SqlType::Double,
                        _ => SqlType::Text,
                    };
                    Item::new(Sql::Null.cast(ty), alias)
                })
                .collect();
            let mut select = Select::new(
                items,
                Relation::Table("(SELECT 1)".to_string(), Alias::Row),
                Style::Block,
            );
            select
                .filter
                .push(Sql::binary(Sql::Int(0), Op::Eq, Sql::Int(1)));
            return select;
        }
        let reads: Vec<String> = files
            .iter()
            .map(|f| {
                let period = Sql::Name(Alias::Period);
                let mut filter = Vec::new();
                if let Some(from) = f.from {
                    let from = Sql::binary(period.clone(), Op::AtLeast, Sql::TimeBound(from, None));
                    // Rows without a time (of all-time entries) are read by every refresh: the
                    // latest file's count.
                    filter.push(match f.to {
                        Some(_) => from,
                        None => Sql::Any(vec![Sql::IsNull(Box::new(period.clone())), from]),
                    });
                }
                if let Some(to) = f.to {
                    filter.push(Sql::binary(period, Op::Below, Sql::TimeBound(to, None)));
                }
                let path = d.string(&f.path.to_string_lossy());
                let filter = Sql::chain(filter, Op::And)
                    .map(|f| format!(" WHERE {}", f.render(d)))
                    .unwrap_or_default();
                format!("SELECT * FROM read_parquet({path}){filter}")
            })
            .collect();
        let items = columns(self.serve.entity, partials)
            .into_iter()
            .map(|alias| Item::new(Sql::Of(Alias::Row, alias), alias))
            .collect();
        Select::new(
            items,
            Relation::Table(format!("({})", reads.join(" UNION ALL ")), Alias::Row),
            Style::Block,
        )
    }
}
