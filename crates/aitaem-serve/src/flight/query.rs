//! A SQL query over the table `metrics` (the standard result) read as a compute request.
//!
//! The predicates of the `WHERE` clause that name the request's columns become the request:
//! `metric_name` (the metrics; all of the project's without it), `slice_type` (the slices;
//! `none` is the overall row), `segment_name` (the segment), `period_type` (the period;
//! `all_time` without it) and bounds on `period_start_date` and `period_end_date` (the time
//! window). The whole query, those predicates included, then runs over the result.

use std::ops::ControlFlow;

use aitaem::{ComputeRequest, PeriodType, SpecCache};
use sqlparser::ast::{
    BinaryOperator, Expr, Ident, InTarget, ObjectName, ObjectNamePart, Query, Select, SetExpr,
    Statement, TableFactor, TableWithJoins, Value, Visit, Visitor,
};
use sqlparser::dialect::DuckDbDialect;
use sqlparser::parser::Parser;

use crate::error::ApiError;

/// The table's name, and the schema and catalog clients may qualify it with.
pub(crate) const TABLE: &str = "metrics";
pub(crate) const SCHEMA: &str = "main";
pub(crate) const CATALOG: &str = "aitaem";

/// A query read as a request, and the statement to run over the request's result.
#[derive(Debug)]
pub(crate) struct MetricsQuery {
    pub request: ComputeRequest,
    /// The query with `metrics` unqualified.
    pub sql: String,
}

/// Reads `sql`: one `SELECT` (or `WITH … SELECT`, `UNION`, …) that reads `metrics` in the
/// `FROM` of one of its `SELECT`s.
pub(crate) fn parse(sql: &str, specs: &SpecCache) -> Result<MetricsQuery, ApiError> {
    let mut statements = Parser::parse_sql(&DuckDbDialect {}, sql)
        .map_err(|e| ApiError::bad_request(format!("the query does not parse: {e}")))?;
    if statements.len() != 1 {
        return Err(ApiError::bad_request(format!(
            "one statement per query, not {}",
            statements.len()
        )));
    }
    let mut statement = statements.remove(0);
    let Statement::Query(query) = &mut statement else {
        return Err(ApiError::bad_request(
            "only queries (SELECT) are answered: the table metrics is read-only",
        ));
    };
    unqualify(query)?;
    let mut readers = Vec::new();
    readers_of_metrics(query, &mut readers)?;
    let selection = match readers.as_slice() {
        [select] => select.selection.as_ref(),
        [] => {
            return Err(ApiError::bad_request(format!(
                "the query must read the table {TABLE} in a FROM clause"
            )));
        }
        _ => {
            return Err(ApiError::bad_request(format!(
                "the query reads {TABLE} in {} SELECTs; read it in one (a WITH clause can \
                 name that result for the others)",
                readers.len()
            )));
        }
    };
    let mut predicates = Predicates::default();
    if let Some(selection) = selection {
        predicates.read(selection)?;
    }
    Ok(MetricsQuery {
        request: predicates.request(specs)?,
        sql: statement.to_string(),
    })
}

/// Checks every table the query reads (`metrics`, or a name its `WITH` clauses define) and
/// removes the schema and catalog from `metrics`.
fn unqualify(query: &mut Query) -> Result<(), ApiError> {
    struct Ctes(Vec<String>);
    impl Visitor for Ctes {
        type Break = ();
        fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<()> {
            if let Some(with) = &query.with {
                self.0
                    .extend(with.cte_tables.iter().map(|c| lower(&c.alias.name)));
            }
            ControlFlow::Continue(())
        }
    }
    let mut ctes = Ctes(Vec::new());
    let _ = query.visit(&mut ctes);
    let checked = sqlparser::ast::visit_relations_mut(query, |name: &mut ObjectName| {
        let parts: Option<Vec<String>> = name
            .0
            .iter()
            .map(|p| match p {
                ObjectNamePart::Identifier(ident) => Some(lower(ident)),
                _ => None,
            })
            .collect();
        let written = name.to_string();
        match parts.as_deref() {
            Some([table]) if ctes.0.contains(table) => ControlFlow::Continue(()),
            Some(parts) if is_served(parts) => {
                *name = ObjectName::from(vec![Ident::new(TABLE)]);
                ControlFlow::Continue(())
            }
            _ => ControlFlow::Break(written),
        }
    });
    match checked {
        ControlFlow::Continue(()) => Ok(()),
        ControlFlow::Break(written) => Err(ApiError::new(
            axum::http::StatusCode::NOT_FOUND,
            "TableNotFound",
            format!("no table {written}: the one table is {TABLE} (in {CATALOG}.{SCHEMA})"),
        )),
    }
}

/// Whether `metrics`, `main.metrics` or `aitaem.main.metrics` (any case) is the served table.
fn is_served(parts: &[String]) -> bool {
    match parts {
        [table] => table == TABLE,
        [schema, table] => schema == SCHEMA && table == TABLE,
        [catalog, schema, table] => catalog == CATALOG && schema == SCHEMA && table == TABLE,
        _ => false,
    }
}

fn lower(ident: &Ident) -> String {
    ident.value.to_lowercase()
}

/// The `SELECT`s that read `metrics` in their `FROM`, anywhere in the query.
fn readers_of_metrics<'q>(query: &'q Query, out: &mut Vec<&'q Select>) -> Result<(), ApiError> {
    if let Some(with) = &query.with {
        for cte in &with.cte_tables {
            readers_of_metrics(&cte.query, out)?;
        }
    }
    readers_in(&query.body, out)
}

fn readers_in<'q>(body: &'q SetExpr, out: &mut Vec<&'q Select>) -> Result<(), ApiError> {
    match body {
        SetExpr::Select(select) => {
            let mut reads = false;
            for from in &select.from {
                reads |= reads_metrics(from, out)?;
            }
            if reads {
                out.push(select);
            }
            Ok(())
        }
        SetExpr::Query(query) => readers_of_metrics(query, out),
        SetExpr::SetOperation { left, right, .. } => {
            readers_in(left, out)?;
            readers_in(right, out)
        }
        _ => Ok(()),
    }
}

/// Whether these tables read `metrics` directly; collects the readers in their subqueries.
fn reads_metrics<'q>(
    from: &'q TableWithJoins,
    out: &mut Vec<&'q Select>,
) -> Result<bool, ApiError> {
    let mut reads = false;
    for factor in std::iter::once(&from.relation).chain(from.joins.iter().map(|j| &j.relation)) {
        match factor {
            TableFactor::Table { name, .. } => {
                reads |= name.to_string() == TABLE;
            }
            TableFactor::Derived { subquery, .. } => readers_of_metrics(subquery, out)?,
            TableFactor::NestedJoin {
                table_with_joins, ..
            } => reads |= reads_metrics(table_with_joins, out)?,
            _ => {}
        }
    }
    Ok(reads)
}

/// What the `WHERE` clause says about the request's columns.
#[derive(Debug, Default)]
struct Predicates {
    metrics: Option<Vec<String>>,
    slice_types: Option<Vec<String>>,
    segments: Option<Vec<String>>,
    periods: Option<Vec<String>>,
    /// The window: from the latest lower bound to the earliest upper bound (exclusive).
    start: Option<String>,
    end: Option<String>,
}

impl Predicates {
    /// Reads the conjuncts of `expr` (`a AND b AND …`); the others are left to the evaluation.
    fn read(&mut self, expr: &Expr) -> Result<(), ApiError> {
        match expr {
            Expr::BinaryOp {
                left,
                op: BinaryOperator::And,
                right,
            } => {
                self.read(left)?;
                self.read(right)
            }
            Expr::Nested(inner) => self.read(inner),
            Expr::BinaryOp { left, op, right } => {
                let (column, op, value) = match (column(left), column(right)) {
                    (Some(column), None) => (column, op.clone(), literal(right)),
                    (None, Some(column)) => (column, flipped(op), literal(left)),
                    _ => return Ok(()),
                };
                let Some(value) = value else { return Ok(()) };
                match op {
                    BinaryOperator::Eq => self.equals(&column, vec![value]),
                    BinaryOperator::Gt | BinaryOperator::GtEq => {
                        self.lower_bound(&column, value);
                        Ok(())
                    }
                    BinaryOperator::Lt => self.upper_bound(&column, value, false),
                    BinaryOperator::LtEq => self.upper_bound(&column, value, true),
                    _ => Ok(()),
                }
            }
            Expr::In {
                expr,
                target: InTarget::List(list),
                negated: false,
                ..
            } => {
                let (Some(column), Some(values)) = (
                    column(expr),
                    list.iter().map(literal).collect::<Option<Vec<_>>>(),
                ) else {
                    return Ok(());
                };
                self.equals(&column, values)
            }
            Expr::Between {
                expr,
                negated: false,
                low,
                high,
            } => {
                let (Some(column), Some(low), Some(high)) =
                    (column(expr), literal(low), literal(high))
                else {
                    return Ok(());
                };
                self.lower_bound(&column, low);
                self.upper_bound(&column, high, true)
            }
            _ => Ok(()),
        }
    }

    /// `column = value` or `column IN (values)`: several such predicates on one column keep
    /// the values they all allow.
    fn equals(&mut self, column: &str, values: Vec<String>) -> Result<(), ApiError> {
        let slot = match column {
            "metric_name" => &mut self.metrics,
            "slice_type" => &mut self.slice_types,
            "segment_name" => &mut self.segments,
            "period_type" => &mut self.periods,
            "period_start_date" => {
                // `= d` or `IN (d1, d2, …)`: the window from the first to just after the last.
                let (Some(first), Some(last)) = (values.iter().min(), values.iter().max()) else {
                    return Ok(());
                };
                self.lower_bound(column, first.clone());
                return self.upper_bound(column, last.clone(), true);
            }
            _ => return Ok(()),
        };
        let mut values = values;
        dedup(&mut values);
        *slot = Some(match slot.take() {
            Some(before) => before.into_iter().filter(|v| values.contains(v)).collect(),
            None => values,
        });
        Ok(())
    }

    /// `period_start_date >= value` (or `>`): the window starts there. (A period that starts
    /// before it but contains it is computed whole and then left out by the predicate.)
    fn lower_bound(&mut self, column: &str, value: String) {
        if column == "period_start_date" && self.start.as_ref().is_none_or(|s| *s < value) {
            self.start = Some(value);
        }
    }

    /// `period_start_date < value` (or `<=`, which ends the window just after it), or
    /// `period_end_date <= value` (or `<`): the window ends there.
    fn upper_bound(
        &mut self,
        column: &str,
        value: String,
        inclusive: bool,
    ) -> Result<(), ApiError> {
        let end = match column {
            "period_start_date" if inclusive => just_after(&value)?,
            "period_start_date" | "period_end_date" => value,
            _ => return Ok(()),
        };
        if self.end.as_ref().is_none_or(|e| end < *e) {
            self.end = Some(end);
        }
        Ok(())
    }

    fn request(self, specs: &SpecCache) -> Result<ComputeRequest, ApiError> {
        let metrics = match self.metrics {
            Some(metrics) => metrics,
            None => specs.metrics().map(|m| m.name.clone()).collect(),
        };
        if metrics.is_empty() {
            return Err(ApiError::bad_request(
                "no metric: the predicates on metric_name allow none",
            ));
        }
        let slices = self
            .slice_types
            .unwrap_or_default()
            .into_iter()
            .filter(|s| s != "none")
            .map(|s| slice_named(specs, s))
            .collect::<Vec<_>>();
        let mut request = ComputeRequest::new(metrics).slices(slices);
        let segments: Vec<String> = self
            .segments
            .unwrap_or_default()
            .into_iter()
            .filter(|s| s != "none")
            .collect();
        match segments.as_slice() {
            [] => {}
            [segment] => request = request.segment(segment),
            _ => {
                return Err(ApiError::bad_request(format!(
                    "one segment per query, not {}: {}",
                    segments.len(),
                    segments.join(", ")
                )));
            }
        }
        if let Some(periods) = self.periods {
            let [period] = periods.as_slice() else {
                return Err(ApiError::bad_request(format!(
                    "one period_type per query, not {}",
                    periods.len()
                )));
            };
            let period: PeriodType = period.parse().map_err(|e| ApiError::engine(&e))?;
            request = request.period(period);
        }
        match (self.start, self.end) {
            (Some(start), Some(end)) => request = request.time_window(start, end),
            (None, None) => {}
            _ => {
                return Err(ApiError::bad_request(
                    "the time window needs both bounds, e.g. period_start_date >= '2024-01-01' \
                     AND period_start_date < '2025-01-01'",
                ));
            }
        }
        Ok(request)
    }
}

/// The slice spec a `slice_type` names: a slice's name, or a cross product's components joined
/// by `|`.
fn slice_named(specs: &SpecCache, slice_type: String) -> String {
    if specs.slice(&slice_type).is_ok() {
        return slice_type;
    }
    specs
        .slices()
        .find(|s| match &s.kind {
            aitaem::spec::SliceKind::CrossProduct(parts) => parts.join("|") == slice_type,
            _ => false,
        })
        .map_or(slice_type, |s| s.name.clone())
}

/// The column an expression names (`metric_name`, `m.metric_name`, `"metric_name"`).
fn column(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Identifier(ident) => Some(lower(ident)),
        Expr::CompoundIdentifier(parts) => parts.last().map(lower),
        Expr::Nested(inner) => column(inner),
        _ => None,
    }
}

/// A string literal (`'x'`, `DATE '2024-01-01'`, `TIMESTAMP '…'`).
fn literal(expr: &Expr) -> Option<String> {
    let value = match expr {
        Expr::Value(value) => &value.value,
        Expr::TypedString(typed) => &typed.value.value,
        Expr::Nested(inner) => return literal(inner),
        _ => return None,
    };
    match value {
        Value::SingleQuotedString(s) | Value::DoubleQuotedString(s) => Some(s.clone()),
        _ => None,
    }
}

/// `a op b` as `b op' a`.
fn flipped(op: &BinaryOperator) -> BinaryOperator {
    match op {
        BinaryOperator::Gt => BinaryOperator::Lt,
        BinaryOperator::GtEq => BinaryOperator::LtEq,
        BinaryOperator::Lt => BinaryOperator::Gt,
        BinaryOperator::LtEq => BinaryOperator::GtEq,
        other => other.clone(),
    }
}

fn dedup(values: &mut Vec<String>) {
    let mut seen = std::collections::HashSet::new();
    values.retain(|v| seen.insert(v.clone()));
}

/// The first instant after `value` that a window can end on: the next day for a date, the
/// next second for a date and time.
fn just_after(value: &str) -> Result<String, ApiError> {
    use chrono::{NaiveDate, NaiveDateTime, TimeDelta};
    if let Ok(date) = NaiveDate::parse_from_str(value, "%Y-%m-%d")
        && let Some(next) = date.succ_opt()
    {
        return Ok(next.format("%Y-%m-%d").to_string());
    }
    for format in ["%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S"] {
        if let Ok(at) = NaiveDateTime::parse_from_str(value, format)
            && let Some(next) = at.checked_add_signed(TimeDelta::seconds(1))
        {
            return Ok(next.format("%Y-%m-%d %H:%M:%S").to_string());
        }
    }
    Err(ApiError::bad_request(format!(
        "{value:?} is not a date (YYYY-MM-DD) or a date and time (YYYY-MM-DD HH:MM:SS)"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn specs() -> SpecCache {
        SpecCache::from_strings(
            &[
                "metric:\n  name: revenue\n  source: duckdb://db/t\n  numerator: SUM(x)\n  timestamp_col: ts\n",
                "metric:\n  name: ctr\n  source: duckdb://db/t\n  numerator: SUM(c)\n  denominator: SUM(i)\n",
            ],
            &[
                "slice:\n  name: device\n  where: device\n",
                "slice:\n  name: country\n  where: country\n",
                "slice:\n  name: device_by_country\n  cross_product: [device, country]\n",
            ],
            &[],
        )
        .unwrap()
    }

    fn read(sql: &str) -> MetricsQuery {
        parse(sql, &specs()).unwrap_or_else(|e| panic!("{sql}: {}", e.message))
    }

    fn refused(sql: &str) -> String {
        parse(sql, &specs()).unwrap_err().message
    }

    #[test]
    fn the_predicates_on_the_request_columns_are_the_request() {
        let q = read(
            "SELECT slice_value, metric_value FROM metrics WHERE metric_name IN ('revenue','ctr') \
             AND slice_type = 'device' AND period_type = 'monthly' \
             AND period_start_date >= '2024-01-01' AND period_start_date < '2025-01-01'",
        );
        let expected = ComputeRequest::new(["revenue", "ctr"])
            .slices(["device"])
            .period(PeriodType::Monthly)
            .time_window("2024-01-01", "2025-01-01");
        assert_eq!(q.request, expected);
        assert!(
            q.sql
                .contains("FROM metrics WHERE metric_name IN ('revenue', 'ctr')")
        );
    }

    #[test]
    fn without_predicates_every_metric_all_time_overall() {
        let q = read("SELECT * FROM aitaem.main.METRICS LIMIT 5");
        assert_eq!(q.request, ComputeRequest::new(["ctr", "revenue"]));
        assert_eq!(q.sql, "SELECT * FROM metrics LIMIT 5");
    }

    #[test]
    fn bounds_in_any_form_make_the_window() {
        let window = |sql: &str| {
            let q = read(sql);
            q.request
                .window()
                .map(|(a, b)| (a.to_string(), b.to_string()))
        };
        let w = |a: &str, b: &str| Some((a.to_string(), b.to_string()));
        assert_eq!(
            window(
                "SELECT * FROM metrics WHERE period_start_date BETWEEN '2024-01-01' AND '2024-03-01'"
            ),
            w("2024-01-01", "2024-03-02")
        );
        assert_eq!(
            window(
                "SELECT * FROM metrics WHERE '2024-02-01' <= period_start_date AND \
                 period_end_date <= DATE '2024-06-01' AND period_start_date > '2024-01-15'"
            ),
            w("2024-02-01", "2024-06-01")
        );
        assert_eq!(
            window("SELECT * FROM metrics WHERE period_start_date = '2024-01-01 05:00:00'"),
            w("2024-01-01 05:00:00", "2024-01-01 05:00:01")
        );
        assert_eq!(
            window("SELECT * FROM metrics WHERE period_start_date IN ('2024-03-01', '2024-01-01')"),
            w("2024-01-01", "2024-03-02")
        );
        assert!(
            refused("SELECT * FROM metrics WHERE period_start_date >= '2024-01-01'")
                .contains("both bounds")
        );
        assert!(refused("SELECT * FROM metrics WHERE period_start_date <= 'soon' AND period_start_date > '2024-01-01'")
            .contains("not a date"));
    }

    #[test]
    fn slice_types_name_slices_and_cross_products() {
        let q = read(
            "SELECT * FROM metrics WHERE (slice_type IN ('none', 'device', 'device|country')) \
             AND metric_name = 'revenue' AND segment_name = 'none'",
        );
        assert_eq!(
            q.request,
            ComputeRequest::new(["revenue"]).slices(["device", "device_by_country"])
        );
    }

    #[test]
    fn other_predicates_and_shapes_are_left_to_the_evaluation() {
        let q = read(
            "WITH m AS (SELECT * FROM main.metrics WHERE metric_name = 'ctr' OR slice_value = 'x') \
             SELECT a.metric_value FROM m a JOIN m b ON a.slice_value = b.slice_value \
             WHERE a.metric_value > 0.5",
        );
        assert_eq!(q.request, ComputeRequest::new(["ctr", "revenue"]));
        let q = read(
            "SELECT * FROM (SELECT * FROM metrics WHERE metric_name = 'ctr') WHERE metric_value > 1",
        );
        assert_eq!(q.request, ComputeRequest::new(["ctr"]));
    }

    #[test]
    fn other_statements_and_tables_are_refused() {
        assert!(refused("DELETE FROM metrics").contains("only queries"));
        assert!(refused("SELECT 1; SELECT 2").contains("one statement"));
        assert!(refused("SELECT * FROM read_csv('/etc/passwd')").contains("no table read_csv"));
        assert!(refused("SELECT * FROM other.metrics").contains("no table other.metrics"));
        assert!(refused("SELECT 1").contains("must read the table metrics"));
        assert!(
            refused("SELECT * FROM metrics UNION ALL SELECT * FROM metrics")
                .contains("in 2 SELECTs")
        );
        assert!(
            refused("SELECT * FROM metrics WHERE metric_name = 'a' AND metric_name = 'b'")
                .contains("allow none")
        );
        assert!(
            refused("SELECT * FROM metrics WHERE segment_name IN ('a', 'b')")
                .contains("one segment per query")
        );
        assert!(
            refused("SELECT * FROM metrics WHERE period_type = 'fortnightly'")
                .contains("fortnightly")
        );
        assert!(refused("SELEC * FROM metrics").contains("does not parse"));
    }
}
