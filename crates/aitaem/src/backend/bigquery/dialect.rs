//! BigQuery's SQL (GoogleSQL): backtick names, backslash escapes in strings, `DATETIME`, weeks by
//! day-of-week arithmetic, literal rows as `UNNEST` of structs, and spec fragments written in
//! standard SQL rewritten into GoogleSQL.

use std::ops::ControlFlow;

use chrono::NaiveDateTime;
use sqlparser::ast::{
    BinaryOperator, DataType, Expr, FunctionArg, FunctionArgExpr, FunctionArguments, Value,
    VisitMut, VisitorMut,
};

use crate::period::TimeUnit;
use crate::sql::ast::{call, cast_with_names, number, object_name, quote_in_backticks, take};
use crate::sql::fragment::{ExprError, parse};
use crate::sql::quantile::{QuantileKind, approx_count_distinct, quantile};
use crate::sql::{Dialect, SqlType, typed_time_bound};

#[derive(Debug)]
pub(crate) struct BigQueryDialect;

impl Dialect for BigQueryDialect {
    /// Expressions for BigQuery are standard SQL (`''` inside strings, `"name"` for a quoted
    /// name, `FILTER (WHERE ...)`, `x::type`), as for every backend, and are rewritten into
    /// GoogleSQL ([`BigQueryDialect::rewrite`]); GoogleSQL's own backtick names and functions
    /// (`COUNTIF`, `SAFE_DIVIDE`) read as well.
    fn parser(&self) -> Box<dyn sqlparser::dialect::Dialect> {
        Box::new(sqlparser::dialect::GenericDialect {})
    }

    /// `/` becomes `SAFE_DIVIDE` (NULL for a zero divisor, as on DuckDB), `agg(x) FILTER (WHERE
    /// c)` becomes `agg(IF(c, x, NULL))` (`COUNT(*)`: `COUNT(IF(c, 1, NULL))`), `x::type`
    /// becomes `CAST(x AS type)` with GoogleSQL's type names, `a ILIKE b` becomes
    /// `LOWER(a) LIKE LOWER(b)`, string literals are written in GoogleSQL's quoting, and quoted
    /// names in backticks. A construct with no GoogleSQL counterpart (a lambda) is an error.
    fn rewrite(&self, expr: &mut Expr) -> Result<(), ExprError> {
        match VisitMut::visit(expr, &mut GoogleSqlRewrite) {
            ControlFlow::Break(err) => Err(err),
            ControlFlow::Continue(()) => Ok(()),
        }
    }

    fn quote(&self, name: &str) -> String {
        format!("`{}`", name.replace('\\', "\\\\").replace('`', "\\`"))
    }

    fn string(&self, value: &str) -> String {
        format!(
            "'{}'",
            value
                .replace('\\', "\\\\")
                .replace('\'', "\\'")
                .replace('\n', "\\n")
                .replace('\r', "\\r")
        )
    }

    fn timestamp(&self, ts: NaiveDateTime) -> String {
        format!("DATETIME '{}'", ts.format("%Y-%m-%d %H:%M:%S%.f"))
    }

    /// BigQuery compares a `TIMESTAMP` only with a `TIMESTAMP`, a `DATE` only with a `DATE`.
    fn needs_time_column_types(&self) -> bool {
        true
    }

    /// A `TIMESTAMP` column gets a `TIMESTAMP` literal (UTC), a `DATE` column the first date
    /// not before the bound, so that `>=` and `<` mean what they mean for the timestamp, and the
    /// comparison stays on the column as it is (partitions are pruned).
    fn time_bound(&self, ts: NaiveDateTime, column_type: Option<&str>) -> String {
        typed_time_bound(ts, column_type).unwrap_or_else(|| self.timestamp(ts))
    }

    fn type_name(&self, ty: SqlType) -> &'static str {
        match ty {
            SqlType::Text => "STRING",
            SqlType::Double => "FLOAT64",
            SqlType::Timestamp => "DATETIME",
            SqlType::Integer => "INT64",
        }
    }

    /// Weeks are found by day-of-week arithmetic (`EXTRACT(DAYOFWEEK ...)` is 1 on Sunday),
    /// which is right on the service and on emulators alike, where `WEEK(MONDAY)` and
    /// `ISOWEEK` are not always.
    fn truncate(&self, expr: &str, unit: TimeUnit) -> String {
        let ts = self.cast(expr, SqlType::Timestamp);
        match unit {
            TimeUnit::Week(start) => format!(
                "DATETIME(DATE_SUB(DATE({ts}), INTERVAL MOD(EXTRACT(DAYOFWEEK FROM {ts}) + {}, 7) DAY))",
                (12 - start.days_from_monday()) % 7
            ),
            _ => format!("DATETIME_TRUNC({ts}, {})", unit.word().to_uppercase()),
        }
    }

    fn period_number(&self, key: &str, unit: TimeUnit) -> String {
        let since_1970 = |seconds: u32| {
            format!("CAST(FLOOR(UNIX_SECONDS(TIMESTAMP({key})) / {seconds}) AS INT64)")
        };
        let months = format!("(EXTRACT(YEAR FROM {key}) * 12 + EXTRACT(MONTH FROM {key}) - 1)");
        match unit {
            TimeUnit::Hour => since_1970(3_600),
            TimeUnit::Day => since_1970(86_400),
            TimeUnit::Week(_) => since_1970(7 * 86_400),
            TimeUnit::Month => months,
            TimeUnit::Quarter => format!("CAST(FLOOR({months} / 3) AS INT64)"),
            TimeUnit::Year => format!("EXTRACT(YEAR FROM {key})"),
        }
    }

    fn values(&self, rows: &[Vec<String>], alias: &str, columns: &[&str]) -> String {
        let rows: Vec<String> = rows
            .iter()
            .map(|r| {
                let fields: Vec<String> = r
                    .iter()
                    .zip(columns)
                    .map(|(v, c)| format!("{v} AS {c}"))
                    .collect();
                format!("STRUCT({})", fields.join(", "))
            })
            .collect();
        format!("UNNEST([{}]) AS {alias}", rows.join(", "))
    }
}

/// Standard SQL written for every backend, as GoogleSQL (see [`BigQueryDialect::rewrite`]).
struct GoogleSqlRewrite;

impl GoogleSqlRewrite {
    /// GoogleSQL's name of a type written for another backend.
    fn data_type(ty: &DataType) -> Option<DataType> {
        let name = |n: &str| Some(DataType::Custom(object_name(n), Vec::new()));
        match ty {
            DataType::Varchar(_)
            | DataType::Text
            | DataType::Char(_)
            | DataType::Character(_)
            | DataType::CharVarying(_)
            | DataType::CharacterVarying(_)
            | DataType::String(_) => name("STRING"),
            DataType::Int(_)
            | DataType::Integer(_)
            | DataType::BigInt(_)
            | DataType::SmallInt(_)
            | DataType::TinyInt(_)
            | DataType::Int2(_)
            | DataType::Int4(_)
            | DataType::Int8(_)
            | DataType::Int64 => name("INT64"),
            DataType::Double(_)
            | DataType::DoublePrecision
            | DataType::Float(_)
            | DataType::Real
            | DataType::Float4
            | DataType::Float8
            | DataType::Float64 => name("FLOAT64"),
            DataType::Boolean | DataType::Bool => name("BOOL"),
            DataType::Decimal(_) | DataType::Numeric(_) | DataType::Dec(_) => name("NUMERIC"),
            DataType::Timestamp(_, sqlparser::ast::TimezoneInfo::None)
            | DataType::Timestamp(_, sqlparser::ast::TimezoneInfo::WithoutTimeZone)
            | DataType::Datetime(_) => name("DATETIME"),
            DataType::Timestamp(..) => name("TIMESTAMP"),
            _ => None,
        }
    }
}

impl VisitorMut for GoogleSqlRewrite {
    type Break = ExprError;

    fn pre_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<ExprError> {
        let construct = match expr {
            Expr::Lambda(_) => "a lambda function",
            Expr::BinaryOp {
                op: BinaryOperator::Arrow | BinaryOperator::LongArrow,
                ..
            } => "the `->` operator (a lambda, or JSON access)",
            _ => return ControlFlow::Continue(()),
        };
        ControlFlow::Break(ExprError::new(
            format!("`{expr}`: {construct} has no counterpart in BigQuery's SQL"),
            None,
        ))
    }

    fn post_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<ExprError> {
        match expr {
            Expr::BinaryOp {
                left,
                op: BinaryOperator::Divide,
                right,
            } => *expr = call("SAFE_DIVIDE", vec![take(left), take(right)]),
            Expr::Function(f) if quantile(f).is_some() || approx_count_distinct(f).is_some() => {
                match parse(&google_quantile(f), Some(&BigQueryDialect)) {
                    Ok(rewritten) => *expr = rewritten,
                    Err(err) => return ControlFlow::Break(err),
                }
            }
            Expr::Function(f) if f.filter.is_some() => {
                let condition = *f.filter.take().expect("checked");
                if let FunctionArguments::List(list) = &mut f.args {
                    for arg in &mut list.args {
                        let value = match arg {
                            FunctionArg::Unnamed(FunctionArgExpr::Wildcard) => number("1"),
                            FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => take(e),
                            _ => continue,
                        };
                        *arg = FunctionArg::Unnamed(FunctionArgExpr::Expr(call(
                            "IF",
                            vec![condition.clone(), value, Expr::value(Value::Null)],
                        )));
                    }
                }
            }
            Expr::Cast { .. } => cast_with_names(expr, GoogleSqlRewrite::data_type),
            Expr::ILike {
                negated,
                any: false,
                expr: subject,
                pattern,
                escape_char,
            } => {
                *expr = Expr::Like {
                    negated: *negated,
                    any: false,
                    expr: Box::new(call("LOWER", vec![take(subject)])),
                    pattern: Box::new(call("LOWER", vec![take(pattern)])),
                    escape_char: escape_char.take(),
                }
            }
            Expr::Identifier(_) | Expr::CompoundIdentifier(_) => quote_in_backticks(expr),
            Expr::Value(value) => {
                if let Value::SingleQuotedString(text) | Value::DoubleQuotedString(text) =
                    &value.value
                {
                    *expr = google_string(text);
                }
            }
            _ => {}
        }
        ControlFlow::Continue(())
    }
}

/// A quantile or approximate distinct count (see [`crate::sql::quantile`]) in GoogleSQL, whose
/// `PERCENTILE_CONT` and `PERCENTILE_DISC` are window functions only: the exact quantiles are
/// picked out of the group's values in order (`ARRAY_AGG(v IGNORE NULLS ORDER BY v)`), with the
/// interpolation PostgreSQL and DuckDB use; `APPROX_QUANTILE` is `APPROX_QUANTILES` with 1000
/// buckets; a filter keeps the values of the rows it holds for.
fn google_quantile(f: &sqlparser::ast::Function) -> String {
    let keep = |value: &Expr, filter: Option<&Expr>| match filter {
        Some(filter) => format!("IF({filter}, {value}, NULL)"),
        None => value.to_string(),
    };
    if let Some((value, filter)) = approx_count_distinct(f) {
        return format!("APPROX_COUNT_DISTINCT({})", keep(&value, filter.as_ref()));
    }
    let Some(q) = quantile(f) else {
        return f.to_string();
    };
    let v = keep(&q.value, q.filter.as_ref());
    let p = &q.fraction;
    let sorted = format!("ARRAY_AGG({v} IGNORE NULLS ORDER BY {v})");
    match q.kind {
        QuantileKind::Continuous => {
            let pos = format!("({p} * (COUNT({v}) - 1))");
            let lo = format!("{sorted}[SAFE_OFFSET(CAST(FLOOR({pos}) AS INT64))]");
            let hi = format!("{sorted}[SAFE_OFFSET(CAST(CEIL({pos}) AS INT64))]");
            format!("({lo} + ({pos} - FLOOR({pos})) * ({hi} - {lo}))")
        }
        QuantileKind::Discrete => {
            format!("{sorted}[SAFE_OFFSET(GREATEST(CAST(CEIL({p} * COUNT({v})) AS INT64) - 1, 0))]")
        }
        QuantileKind::Approximate => {
            format!("APPROX_QUANTILES({v}, 1000)[SAFE_OFFSET(CAST(ROUND({p} * 1000) AS INT64))]")
        }
    }
}

/// A string literal that GoogleSQL reads back as `text`: in single quotes when it needs no
/// escaping, in double quotes when it holds single quotes only, and otherwise spelled out as code
/// points (GoogleSQL's backslash escapes have no counterpart in the standard quoting that sqlparser
/// writes).
fn google_string(text: &str) -> Expr {
    let plain = !text.contains(['\\', '\n', '\r']);
    if plain && !text.contains('\'') {
        Expr::value(Value::SingleQuotedString(text.to_string()))
    } else if plain && !text.contains('"') {
        Expr::value(Value::DoubleQuotedString(text.to_string()))
    } else {
        let points = text
            .chars()
            .map(|c| Expr::value(Value::Number((c as u32).to_string(), false)))
            .collect();
        call(
            "CODE_POINTS_TO_STRING",
            vec![Expr::Array(sqlparser::ast::Array {
                elem: points,
                named: false,
            })],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn to_sql(expr: &Expr) -> String {
        expr.to_string()
    }
    use crate::sql::fragment::translate;

    fn bq(text: &str) -> String {
        to_sql(
            &translate(
                &parse(text, Some(&BigQueryDialect)).unwrap(),
                &BigQueryDialect,
            )
            .unwrap(),
        )
    }

    #[test]
    fn standard_sql_becomes_google_sql() {
        assert_eq!(
            bq("SUM(a) / SUM(b) + 1 / 2"),
            "SAFE_DIVIDE(SUM(a), SUM(b)) + SAFE_DIVIDE(1, 2)"
        );
        assert_eq!(
            bq("COUNT(*) FILTER (WHERE converted) + SUM(x) FILTER (WHERE y > 0)"),
            "COUNT(IF(converted, 1, NULL)) + SUM(IF(y > 0, x, NULL))"
        );
        assert_eq!(
            bq("SUM(x::INTEGER) + MAX(CAST(y AS VARCHAR) = 'a')"),
            "SUM(CAST(x AS INT64)) + MAX(CAST(y AS STRING) = 'a')"
        );
        assert_eq!(
            bq("name ILIKE 'kid%' AND events.country = 'Kids'' Toys'"),
            "LOWER(name) LIKE LOWER('kid%') AND country = \"Kids' Toys\""
        );
        // A value with both quotes (or a backslash) is spelled out as code points.
        assert_eq!(
            bq("country = 'O''Neil \"Inc\"'"),
            "country = CODE_POINTS_TO_STRING([79, 39, 78, 101, 105, 108, 32, 34, 73, 110, 99, 34])"
        );
        let slice = parse("\"Weird Col\" = 'x'", None).unwrap();
        assert_eq!(
            to_sql(&translate(&slice, &BigQueryDialect).unwrap()),
            "`Weird Col` = 'x'"
        );
        let duck = crate::backend::BackendKind::DUCKDB.dialect();
        let lambda = parse("len(list_filter(tags, x -> x = 'a')) > 0", Some(duck)).unwrap();
        let err = translate(&lambda, &BigQueryDialect).unwrap_err();
        assert!(
            err.message.contains("a lambda function has no counterpart"),
            "{err:?}"
        );
        let arrow = parse("len(list_filter(tags, x -> x = 'a')) > 0", None).unwrap();
        let err = translate(&arrow, &BigQueryDialect).unwrap_err();
        assert!(err.message.contains("`->` operator"), "{err:?}");
    }

    #[test]
    fn quantiles_are_picked_from_the_ordered_values() {
        assert_eq!(
            bq("quantile_disc(x, 0.9) FILTER (WHERE ok)"),
            "ARRAY_AGG(IF(ok, x, NULL) IGNORE NULLS ORDER BY IF(ok, x, NULL))[SAFE_OFFSET(GREATEST(CAST(CEIL(0.9 * COUNT(IF(ok, x, NULL))) AS INT64) - 1, 0))]"
        );
        let median = bq("MEDIAN(x)");
        assert!(
            median.starts_with("(ARRAY_AGG(x IGNORE NULLS ORDER BY x)[SAFE_OFFSET(CAST(FLOOR((0.5 * (COUNT(x) - 1))) AS INT64))] + "),
            "{median}"
        );
        assert_eq!(
            bq("APPROX_QUANTILE(x, 0.25) + APPROX_COUNT_DISTINCT(u) FILTER (WHERE ok)"),
            "APPROX_QUANTILES(x, 1000)[SAFE_OFFSET(CAST(ROUND(0.25 * 1000) AS INT64))] + APPROX_COUNT_DISTINCT(IF(ok, u, NULL))"
        );
    }

    #[test]
    fn literals_and_time_bounds() {
        assert_eq!(BigQueryDialect.quote("a`b"), r"`a\`b`");
        assert_eq!(BigQueryDialect.string(r"a\'b"), r"'a\\\'b'");
        let bound = chrono::NaiveDate::from_ymd_opt(2024, 2, 29)
            .unwrap()
            .and_hms_opt(12, 0, 0)
            .unwrap();
        assert_eq!(
            BigQueryDialect.time_bound(bound, Some("DATE")),
            "DATE '2024-03-01'"
        );
        assert_eq!(
            BigQueryDialect.time_bound(bound, Some("TIMESTAMP")),
            "TIMESTAMP '2024-02-29 12:00:00'"
        );
    }
}
