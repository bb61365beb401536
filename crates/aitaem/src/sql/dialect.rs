//! The SQL a backend speaks: quoting, literals, types, time arithmetic, and how spec fragments
//! are rewritten for it.
//!
//! [`Dialect`]'s methods default to standard SQL (and, where the standard has nothing, to the
//! form PostgreSQL and DuckDB share); each backend's dialect, in its folder under `backend/`,
//! overrides where its SQL differs. The planner writes statements only through these methods,
//! so a statement's text depends on the backend in exactly one place.

use std::fmt;

use chrono::NaiveDateTime;
use sqlparser::ast::Expr;

use super::fragment::ExprError;
use super::ident::Ident;
use crate::period::{TimeUnit, WeekStart};

/// A SQL type the planner casts to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SqlType {
    /// Text.
    Text,
    /// 64-bit float.
    Double,
    /// Timestamp without time zone.
    Timestamp,
    /// 64-bit integer.
    Integer,
}

/// A backend's SQL dialect.
pub(crate) trait Dialect: Send + Sync + fmt::Debug {
    /// The parser for expressions written for this backend.
    fn parser(&self) -> Box<dyn sqlparser::dialect::Dialect> {
        Box::new(sqlparser::dialect::GenericDialect {})
    }

    /// Rewrites a parsed fragment (already without column qualifiers) so that it means on this
    /// backend what it means on every backend (see [`super::fragment::translate`]); an error
    /// for a construct the backend has no counterpart for.
    fn rewrite(&self, expr: &mut Expr) -> Result<(), ExprError> {
        let _ = expr;
        Ok(())
    }

    /// Quotes a name exactly as given (a table, schema or alias).
    fn quote(&self, name: &str) -> String {
        format!("\"{}\"", name.replace('"', "\"\""))
    }

    /// Quotes a column name from a spec. A bare name is matched the way the backend matches
    /// unquoted names; a quoted name is used exactly.
    fn column(&self, ident: &Ident) -> String {
        self.quote(&ident.name)
    }

    /// A string literal.
    fn string(&self, value: &str) -> String {
        format!("'{}'", value.replace('\'', "''"))
    }

    /// A timestamp literal.
    fn timestamp(&self, ts: NaiveDateTime) -> String {
        format!("TIMESTAMP '{}'", ts.format("%Y-%m-%d %H:%M:%S%.f"))
    }

    /// Whether comparing a time column needs a literal of the column's own type (see
    /// [`Dialect::time_bound`]); the default compares any time column with a timestamp.
    fn needs_time_column_types(&self) -> bool {
        false
    }

    /// A bound of a time window (`column >= bound`, `column < bound`) for a column of the
    /// given type (the backend's type name; `None` when unknown).
    fn time_bound(&self, ts: NaiveDateTime, column_type: Option<&str>) -> String {
        let _ = column_type;
        self.timestamp(ts)
    }

    /// The name of a type.
    fn type_name(&self, ty: SqlType) -> &'static str {
        match ty {
            SqlType::Text => "VARCHAR",
            SqlType::Double => "DOUBLE PRECISION",
            SqlType::Timestamp => "TIMESTAMP",
            SqlType::Integer => "BIGINT",
        }
    }

    /// `CAST(expr AS ty)`.
    fn cast(&self, expr: &str, ty: SqlType) -> String {
        format!("CAST({expr} AS {})", self.type_name(ty))
    }

    /// Truncates a timestamp expression to the start of its hour, day, week, month, quarter or
    /// year (`date_trunc`). Weeks starting on another day than Monday are Monday weeks of the
    /// time shifted forward by the days from the start day to Monday, shifted back.
    fn truncate(&self, expr: &str, unit: TimeUnit) -> String {
        let ts = self.cast(expr, SqlType::Timestamp);
        match unit {
            TimeUnit::Week(start) if start != WeekStart::Monday => {
                let shift = 7 - start.days_from_monday();
                format!(
                    "date_trunc('week', {ts} + INTERVAL '{shift} days') - INTERVAL '{shift} days'"
                )
            }
            _ => format!("date_trunc('{}', {ts})", unit.word()),
        }
    }

    /// The period of a timestamp expression as a value to group rows by: cheap per row, and
    /// turned into the period's start once per group by [`Dialect::period_start`]. By default
    /// the truncated timestamp.
    fn period_key(&self, expr: &str, unit: TimeUnit) -> String {
        self.truncate(expr, unit)
    }

    /// The start of the period with the given [`Dialect::period_key`], as a timestamp.
    fn period_start(&self, key: &str, unit: TimeUnit) -> String {
        let _ = unit;
        key.to_string()
    }

    /// The number of the period with the given [`Dialect::period_key`], as an integer that
    /// `period::ordinal` gives too: hours, days or weeks since 1970 (a week counted from the
    /// Thursday 1 January 1970 falls on), months since year 0, quarters since year 0, the year.
    fn period_number(&self, key: &str, unit: TimeUnit) -> String {
        standard_period_number(key, unit)
    }

    /// A relation of literal rows with the given column names, as `(...) AS alias(cols)`.
    /// Every row must have one already-rendered SQL value per column.
    fn values(&self, rows: &[Vec<String>], alias: &str, columns: &[&str]) -> String {
        let rows: Vec<String> = rows.iter().map(|r| format!("({})", r.join(", "))).collect();
        format!(
            "(VALUES {}) AS {alias}({})",
            rows.join(", "),
            columns.join(", ")
        )
    }

    /// Whether the second stage of a two-stage statement reads the first stage once, spreading
    /// each row over the states and labels it belongs to ([`Dialect::lateral_rows`]), rather
    /// than once per state (a `UNION ALL` of one aggregation per state). One pass is cheaper
    /// where each branch of a union is a stage of its own (Spark's shuffles); elsewhere the
    /// union is.
    fn fans_out_states(&self) -> bool {
        false
    }

    /// A join of rows computed from each row of the relations before it, with the given column
    /// names: `CROSS JOIN LATERAL (VALUES ...) AS alias(cols)`. Every row must have one
    /// already-rendered SQL value per column.
    fn lateral_rows(&self, rows: &[Vec<String>], alias: &str, columns: &[&str]) -> String {
        format!("CROSS JOIN LATERAL {}", self.values(rows, alias, columns))
    }

    /// The function that numbers a row's grouping set by the keys it leaves out, one bit per key
    /// (the standard's `GROUPING` of several keys).
    fn grouping_function(&self) -> &'static str {
        "GROUPING"
    }

    /// Whether `GROUPING(...)` accepts the aliases of the select list (the standard wants the
    /// grouped expressions themselves).
    fn grouping_reads_aliases(&self) -> bool {
        false
    }

    /// A common table expression that is read more than once, declared so that it is computed
    /// once where the backend can say so (`name AS MATERIALIZED (body)`); by default declared
    /// plainly.
    fn materialized(&self, name: &str, body: &str) -> String {
        format!("{name} AS (\n    {body}\n)")
    }
}

/// [`Dialect::time_bound`] for backends that compare a column only with a literal of its own type:
/// a `TIMESTAMP` column (an instant) gets a `TIMESTAMP` literal, a `DATE` column the first date
/// not before the bound, so that `>=` and `<` mean what they mean for the timestamp; `None` for
/// other types.
pub(crate) fn typed_time_bound(ts: NaiveDateTime, column_type: Option<&str>) -> Option<String> {
    match column_type.map(str::to_ascii_uppercase).as_deref() {
        Some("TIMESTAMP") => Some(format!("TIMESTAMP '{}'", ts.format("%Y-%m-%d %H:%M:%S%.f"))),
        Some("DATE") => {
            let date = ts.date();
            let day = if ts == date.and_time(chrono::NaiveTime::MIN) {
                date
            } else {
                date.succ_opt().unwrap_or(date)
            };
            Some(format!("DATE '{}'", day.format("%Y-%m-%d")))
        }
        _ => None,
    }
}

/// [`Dialect::period_number`] in standard SQL, for a key that is the period's start.
pub(crate) fn standard_period_number(key: &str, unit: TimeUnit) -> String {
    let since_1970 =
        |seconds: u32| format!("CAST(FLOOR(EXTRACT(EPOCH FROM {key}) / {seconds}) AS BIGINT)");
    let months = format!("(EXTRACT(YEAR FROM {key}) * 12 + EXTRACT(MONTH FROM {key}) - 1)");
    match unit {
        TimeUnit::Hour => since_1970(3_600),
        TimeUnit::Day => since_1970(86_400),
        TimeUnit::Week(_) => since_1970(7 * 86_400),
        TimeUnit::Month => format!("CAST({months} AS BIGINT)"),
        TimeUnit::Quarter => format!("CAST(FLOOR({months} / 3) AS BIGINT)"),
        TimeUnit::Year => format!("CAST(EXTRACT(YEAR FROM {key}) AS BIGINT)"),
    }
}
