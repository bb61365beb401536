//! Spark SQL: backtick names, backslash escapes in strings, `TIMESTAMP_NTZ` for wall-clock time,
//! ANSI mode's errors avoided (`try_divide`), and spec fragments written in standard SQL
//! rewritten into Spark's.

use std::ops::ControlFlow;

use chrono::NaiveDateTime;
use sqlparser::ast::{BinaryOperator, DataType, Expr, TimezoneInfo, Value, VisitMut, VisitorMut};

use crate::period::{TimeUnit, WeekStart};
use crate::sql::ast::{call, cast_with_names, number, object_name, quote_in_backticks, take};
use crate::sql::fragment::{ExprError, parse};
use crate::sql::quantile::{QuantileKind, approx_count_distinct, quantile};
use crate::sql::{Dialect, SqlType, typed_time_bound};

#[derive(Debug)]
pub(crate) struct SparkDialect;

impl Dialect for SparkDialect {
    /// `/` becomes `try_divide` (division in floating point, NULL for a zero divisor, as on
    /// DuckDB, where ANSI mode's `/` would fail); quantiles become `percentile_cont` /
    /// `percentile_disc` (`approx_percentile` for `APPROX_QUANTILE`), `APPROX_COUNT_DISTINCT(x)`
    /// has a 1% relative standard deviation; `x::type` becomes `CAST(x AS type)` with Spark's
    /// type names (`TIMESTAMP` without a time zone is `TIMESTAMP_NTZ`); quoted names are written
    /// in backticks and string literals with Spark's backslash escapes.
    fn rewrite(&self, expr: &mut Expr) -> Result<(), ExprError> {
        match VisitMut::visit(expr, &mut SparkRewrite) {
            ControlFlow::Break(err) => Err(err),
            ControlFlow::Continue(()) => Ok(()),
        }
    }

    fn quote(&self, name: &str) -> String {
        format!("`{}`", name.replace('`', "``"))
    }

    fn string(&self, value: &str) -> String {
        format!("'{}'", value.replace('\\', "\\\\").replace('\'', "\\'"))
    }

    fn timestamp(&self, ts: NaiveDateTime) -> String {
        format!("TIMESTAMP_NTZ '{}'", ts.format("%Y-%m-%d %H:%M:%S%.f"))
    }

    /// Bounds compare with the column as it is, so that partitions are pruned.
    fn needs_time_column_types(&self) -> bool {
        true
    }

    /// A `TIMESTAMP` column (an instant) gets a `TIMESTAMP` literal, read in the session's time
    /// zone like the periods; a `DATE` column the first date not before the bound, so that `>=`
    /// and `<` mean what they mean for the timestamp.
    fn time_bound(&self, ts: NaiveDateTime, column_type: Option<&str>) -> String {
        typed_time_bound(ts, column_type).unwrap_or_else(|| self.timestamp(ts))
    }

    fn type_name(&self, ty: SqlType) -> &'static str {
        match ty {
            SqlType::Text => "STRING",
            SqlType::Double => "DOUBLE",
            SqlType::Timestamp => "TIMESTAMP_NTZ",
            SqlType::Integer => "BIGINT",
        }
    }

    /// `date_trunc` answers a `TIMESTAMP` (in the session's time zone) also for a
    /// `TIMESTAMP_NTZ`; the result is cast back, which gives the same wall-clock time.
    fn truncate(&self, expr: &str, unit: TimeUnit) -> String {
        let ts = self.cast(expr, SqlType::Timestamp);
        let truncated = match unit {
            TimeUnit::Week(start) if start != WeekStart::Monday => {
                let shift = 7 - start.days_from_monday();
                format!("date_trunc('WEEK', {ts} + INTERVAL {shift} DAYS) - INTERVAL {shift} DAYS")
            }
            _ => format!("date_trunc('{}', {ts})", unit.word().to_uppercase()),
        };
        self.cast(&truncated, SqlType::Timestamp)
    }

    /// Spark inlines every deterministic common table expression where it is read, so a table
    /// read by each branch of the second stage would be scanned once per branch; a CTE with a
    /// nondeterministic column is instead computed once and its result reused. The column
    /// (`rand()`) is never read.
    fn materialized(&self, name: &str, body: &str) -> String {
        format!(
            "{name} AS (\n    SELECT *, rand() AS __computed_once FROM (\n    {body}\n    ) AS __once\n)"
        )
    }

    /// Each branch of a union is a shuffle of its own on Spark, so the states are computed in
    /// one aggregation over the first stage's rows, each spread over its states.
    fn fans_out_states(&self) -> bool {
        true
    }

    /// `LATERAL VIEW inline(array(named_struct(...), ...)) alias AS cols`.
    fn lateral_rows(&self, rows: &[Vec<String>], alias: &str, columns: &[&str]) -> String {
        let structs: Vec<String> = rows
            .iter()
            .map(|row| {
                let fields: Vec<String> = columns
                    .iter()
                    .zip(row)
                    .map(|(column, value)| format!("'{column}', {value}"))
                    .collect();
                format!("named_struct({})", fields.join(", "))
            })
            .collect();
        format!(
            "LATERAL VIEW inline(array(\n        {}\n    )) {alias} AS {}",
            structs.join(",\n        "),
            columns.join(", ")
        )
    }

    /// Spark's `grouping` takes one key; `grouping_id` several, with the standard's bits.
    fn grouping_function(&self) -> &'static str {
        "grouping_id"
    }

    /// Days are counted between dates, so that the session's time zone plays no part.
    fn period_number(&self, key: &str, unit: TimeUnit) -> String {
        let days = format!("datediff(CAST({key} AS DATE), DATE '1970-01-01')");
        let months = format!("(year({key}) * 12 + month({key}) - 1)");
        match unit {
            TimeUnit::Hour => format!("(CAST({days} AS BIGINT) * 24 + hour({key}))"),
            TimeUnit::Day => format!("CAST({days} AS BIGINT)"),
            TimeUnit::Week(_) => format!("CAST(FLOOR({days} / 7) AS BIGINT)"),
            TimeUnit::Month => format!("CAST({months} AS BIGINT)"),
            TimeUnit::Quarter => format!("CAST(FLOOR({months} / 3) AS BIGINT)"),
            TimeUnit::Year => format!("CAST(year({key}) AS BIGINT)"),
        }
    }
}

/// Standard SQL written for every backend, as Spark SQL (see [`SparkDialect::rewrite`]).
struct SparkRewrite;

impl SparkRewrite {
    /// Spark's name of a type written for another backend.
    fn data_type(ty: &DataType) -> Option<DataType> {
        let name = |n: &str| Some(DataType::Custom(object_name(n), Vec::new()));
        match ty {
            DataType::Varchar(_)
            | DataType::Text
            | DataType::CharVarying(_)
            | DataType::CharacterVarying(_)
            | DataType::String(_) => name("STRING"),
            DataType::Int(_) | DataType::Integer(_) | DataType::Int4(_) => name("INT"),
            DataType::Int2(_) => name("SMALLINT"),
            DataType::Int8(_) | DataType::Int64 => name("BIGINT"),
            DataType::DoublePrecision | DataType::Float8 | DataType::Float64 => name("DOUBLE"),
            DataType::Real | DataType::Float4 => name("FLOAT"),
            DataType::Bool => name("BOOLEAN"),
            DataType::Timestamp(_, TimezoneInfo::None | TimezoneInfo::WithoutTimeZone)
            | DataType::Datetime(_) => name("TIMESTAMP_NTZ"),
            DataType::Timestamp(..) => name("TIMESTAMP"),
            _ => None,
        }
    }
}

impl VisitorMut for SparkRewrite {
    type Break = ExprError;

    fn post_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<ExprError> {
        match expr {
            Expr::BinaryOp {
                left,
                op: BinaryOperator::Divide,
                right,
            } => *expr = call("try_divide", vec![take(left), take(right)]),
            Expr::Function(f) if quantile(f).is_some() || approx_count_distinct(f).is_some() => {
                match parse(&spark_quantile(f), Some(&SparkDialect)) {
                    Ok(rewritten) => *expr = rewritten,
                    Err(err) => return ControlFlow::Break(err),
                }
            }
            Expr::Cast { .. } => cast_with_names(expr, SparkRewrite::data_type),
            Expr::Identifier(_) | Expr::CompoundIdentifier(_) => quote_in_backticks(expr),
            Expr::Value(value) => {
                if let Value::SingleQuotedString(text) | Value::DoubleQuotedString(text) =
                    &value.value
                    && text.contains('\\')
                {
                    *expr = spark_string(text);
                }
            }
            _ => {}
        }
        ControlFlow::Continue(())
    }
}

/// A quantile or approximate distinct count (see [`crate::sql::quantile`]) in Spark SQL.
fn spark_quantile(f: &sqlparser::ast::Function) -> String {
    let filtered = |call: String, filter: Option<&Expr>| match filter {
        Some(filter) => format!("{call} FILTER (WHERE {filter})"),
        None => call,
    };
    if let Some((value, filter)) = approx_count_distinct(f) {
        return filtered(
            format!("approx_count_distinct({value}, 0.01)"),
            filter.as_ref(),
        );
    }
    let Some(q) = quantile(f) else {
        return f.to_string();
    };
    let call = match q.kind {
        QuantileKind::Continuous => format!(
            "percentile_cont({}) WITHIN GROUP (ORDER BY {})",
            q.fraction, q.value
        ),
        QuantileKind::Discrete => format!(
            "percentile_disc({}) WITHIN GROUP (ORDER BY {})",
            q.fraction, q.value
        ),
        QuantileKind::Approximate => format!("approx_percentile({}, {})", q.value, q.fraction),
    };
    filtered(call, q.filter.as_ref())
}

/// A string literal holding backslashes, which Spark reads as escapes: the pieces between them
/// joined by `chr(92)`.
fn spark_string(text: &str) -> Expr {
    let mut pieces = Vec::new();
    for (i, piece) in text.split('\\').enumerate() {
        if i > 0 {
            pieces.push(call("chr", vec![number("92")]));
        }
        if !piece.is_empty() {
            pieces.push(Expr::value(Value::SingleQuotedString(piece.to_string())));
        }
    }
    call("concat", pieces)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::fragment::translate;

    fn spark(text: &str) -> String {
        translate(&parse(text, Some(&SparkDialect)).unwrap(), &SparkDialect)
            .unwrap()
            .to_string()
    }

    #[test]
    fn standard_sql_becomes_spark_sql() {
        assert_eq!(
            spark("SUM(a) / SUM(b) + 1 / 2"),
            "try_divide(SUM(a), SUM(b)) + try_divide(1, 2)"
        );
        assert_eq!(
            spark("COUNT(*) FILTER (WHERE converted) + SUM(x::INTEGER)"),
            "COUNT(*) FILTER (WHERE converted) + SUM(CAST(x AS INT))"
        );
        assert_eq!(
            spark("CAST(ts AS TIMESTAMP) < CAST(t AS TIMESTAMPTZ) AND CAST(v AS VARCHAR) = 'a'"),
            "CAST(ts AS TIMESTAMP_NTZ) < CAST(t AS TIMESTAMP) AND CAST(v AS STRING) = 'a'"
        );
        assert_eq!(
            spark("\"Weird Col\" = 'Kids'' Toys' AND path LIKE 'C:\\dir%'"),
            "`Weird Col` = 'Kids'' Toys' AND path LIKE concat('C:', chr(92), 'dir%')"
        );
    }

    #[test]
    fn quantiles_and_approximations() {
        assert_eq!(
            spark("MEDIAN(x) FILTER (WHERE y > 1)"),
            "percentile_cont(0.5) WITHIN GROUP (ORDER BY x) FILTER (WHERE y > 1)"
        );
        assert_eq!(
            spark("quantile_disc(a / b, 0.9) + APPROX_QUANTILE(x, 0.1)"),
            "percentile_disc(0.9) WITHIN GROUP (ORDER BY try_divide(a, b)) + approx_percentile(x, 0.1)"
        );
        assert_eq!(
            spark("APPROX_COUNT_DISTINCT(u) FILTER (WHERE ok)"),
            "approx_count_distinct(u, 0.01) FILTER (WHERE ok)"
        );
    }

    #[test]
    fn literals_time_bounds_and_periods() {
        assert_eq!(SparkDialect.quote("a`b"), "`a``b`");
        assert_eq!(SparkDialect.string(r"a\'b"), r"'a\\\'b'");
        let bound = chrono::NaiveDate::from_ymd_opt(2024, 2, 29)
            .unwrap()
            .and_hms_opt(12, 0, 0)
            .unwrap();
        assert_eq!(
            SparkDialect.time_bound(bound, Some("date")),
            "DATE '2024-03-01'"
        );
        assert_eq!(
            SparkDialect.time_bound(bound, Some("timestamp")),
            "TIMESTAMP '2024-02-29 12:00:00'"
        );
        assert_eq!(
            SparkDialect.time_bound(bound, Some("timestamp_ntz")),
            "TIMESTAMP_NTZ '2024-02-29 12:00:00'"
        );
        assert_eq!(
            SparkDialect.truncate("t", TimeUnit::Week(WeekStart::Sunday)),
            "CAST(date_trunc('WEEK', CAST(t AS TIMESTAMP_NTZ) + INTERVAL 1 DAYS) - INTERVAL 1 DAYS AS TIMESTAMP_NTZ)"
        );
    }
}
