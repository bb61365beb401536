//! The SQL each backend speaks: quoting, literals, casts and time arithmetic.
//!
//! The planner builds statements only through these methods, so a statement's text depends on
//! the backend in exactly one place.

use chrono::NaiveDateTime;

use super::ident::Ident;
use crate::period::{TimeUnit, WeekStart};

/// A backend's SQL dialect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dialect {
    /// DuckDB.
    DuckDb,
    /// PostgreSQL.
    Postgres,
    /// BigQuery (GoogleSQL).
    BigQuery,
}

/// A SQL type the planner casts to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SqlType {
    /// Text.
    Text,
    /// 64-bit float.
    Double,
    /// Timestamp without time zone.
    Timestamp,
    /// 64-bit integer.
    BigInt,
}

impl Dialect {
    /// The backend's name, for messages: `DuckDB`, `PostgreSQL`, `BigQuery`.
    pub fn name(self) -> &'static str {
        match self {
            Dialect::DuckDb => "DuckDB",
            Dialect::Postgres => "PostgreSQL",
            Dialect::BigQuery => "BigQuery",
        }
    }

    /// The parser for expressions written for this backend.
    ///
    /// Expressions for BigQuery are standard SQL (`''` inside strings, `"name"` for a quoted
    /// name, `FILTER (WHERE ...)`, `x::type`), as for every backend, and are translated into
    /// GoogleSQL when a statement is written (`expr::translate`); GoogleSQL's own backtick names and
    /// functions (`COUNTIF`, `SAFE_DIVIDE`) read as well.
    pub(crate) fn parser(self) -> Box<dyn sqlparser::dialect::Dialect> {
        match self {
            Dialect::DuckDb => Box::new(sqlparser::dialect::DuckDbDialect {}),
            Dialect::Postgres => Box::new(sqlparser::dialect::PostgreSqlDialect {}),
            Dialect::BigQuery => Box::new(sqlparser::dialect::GenericDialect {}),
        }
    }

    /// Quotes a name exactly as given (a table, schema or alias).
    ///
    /// ```
    /// use aitaem::sql::Dialect;
    /// assert_eq!(Dialect::DuckDb.quote("my \"t\""), r#""my ""t""""#);
    /// assert_eq!(Dialect::BigQuery.quote("a`b"), r"`a\`b`");
    /// ```
    pub fn quote(self, name: &str) -> String {
        match self {
            Dialect::DuckDb | Dialect::Postgres => format!("\"{}\"", name.replace('"', "\"\"")),
            Dialect::BigQuery => format!("`{}`", name.replace('\\', "\\\\").replace('`', "\\`")),
        }
    }

    /// Quotes a column name from a spec. A bare name is matched the way the backend matches
    /// unquoted names (PostgreSQL folds it to lower case); a quoted name is used exactly.
    pub fn column(self, ident: &Ident) -> String {
        if !ident.quoted && self == Dialect::Postgres {
            self.quote(&ident.name.to_lowercase())
        } else {
            self.quote(&ident.name)
        }
    }

    /// A string literal.
    ///
    /// ```
    /// use aitaem::sql::Dialect;
    /// assert_eq!(Dialect::DuckDb.string("it's"), "'it''s'");
    /// ```
    pub fn string(self, value: &str) -> String {
        match self {
            Dialect::DuckDb | Dialect::Postgres => format!("'{}'", value.replace('\'', "''")),
            Dialect::BigQuery => format!(
                "'{}'",
                value
                    .replace('\\', "\\\\")
                    .replace('\'', "\\'")
                    .replace('\n', "\\n")
                    .replace('\r', "\\r")
            ),
        }
    }

    /// A timestamp literal.
    pub fn timestamp(self, ts: NaiveDateTime) -> String {
        let text = ts.format("%Y-%m-%d %H:%M:%S%.f");
        match self {
            Dialect::DuckDb | Dialect::Postgres => format!("TIMESTAMP '{text}'"),
            Dialect::BigQuery => format!("DATETIME '{text}'"),
        }
    }

    /// Whether comparing a time column needs a literal of the column's own type (BigQuery
    /// compares a `TIMESTAMP` only with a `TIMESTAMP`, a `DATE` only with a `DATE`); the others
    /// compare any time column with a timestamp literal.
    pub fn needs_time_column_types(self) -> bool {
        self == Dialect::BigQuery
    }

    /// A bound of a time window (`column >= bound`, `column < bound`) for a column of the
    /// given type (the backend's type name; `None` when unknown). On BigQuery a `TIMESTAMP`
    /// column gets a `TIMESTAMP` literal (UTC), a `DATE` column the first date not before the
    /// bound, so that `>=` and `<` mean what they mean for the timestamp, and the comparison stays
    /// on the column as it is (partitions are pruned).
    ///
    /// ```
    /// use aitaem::sql::Dialect;
    /// let bound = chrono::NaiveDate::from_ymd_opt(2024, 2, 29).unwrap().and_hms_opt(12, 0, 0).unwrap();
    /// assert_eq!(Dialect::BigQuery.time_bound(bound, Some("DATE")), "DATE '2024-03-01'");
    /// assert_eq!(Dialect::BigQuery.time_bound(bound, Some("TIMESTAMP")), "TIMESTAMP '2024-02-29 12:00:00'");
    /// assert_eq!(Dialect::Postgres.time_bound(bound, Some("date")), "TIMESTAMP '2024-02-29 12:00:00'");
    /// ```
    pub fn time_bound(self, ts: NaiveDateTime, column_type: Option<&str>) -> String {
        if self != Dialect::BigQuery {
            return self.timestamp(ts);
        }
        match column_type.map(str::to_ascii_uppercase).as_deref() {
            Some("TIMESTAMP") => format!("TIMESTAMP '{}'", ts.format("%Y-%m-%d %H:%M:%S%.f")),
            Some("DATE") => {
                let midnight = ts.date().and_hms_opt(0, 0, 0).expect("midnight");
                let day = if ts == midnight {
                    ts.date()
                } else {
                    ts.date().succ_opt().unwrap_or(ts.date())
                };
                format!("DATE '{}'", day.format("%Y-%m-%d"))
            }
            _ => self.timestamp(ts),
        }
    }

    /// The name of a type.
    pub fn type_name(self, ty: SqlType) -> &'static str {
        match (self, ty) {
            (Dialect::DuckDb, SqlType::Text) => "VARCHAR",
            (Dialect::Postgres, SqlType::Text) => "TEXT",
            (Dialect::BigQuery, SqlType::Text) => "STRING",
            (Dialect::DuckDb, SqlType::Double) => "DOUBLE",
            (Dialect::Postgres, SqlType::Double) => "DOUBLE PRECISION",
            (Dialect::BigQuery, SqlType::Double) => "FLOAT64",
            (Dialect::BigQuery, SqlType::Timestamp) => "DATETIME",
            (_, SqlType::Timestamp) => "TIMESTAMP",
            (Dialect::BigQuery, SqlType::BigInt) => "INT64",
            (_, SqlType::BigInt) => "BIGINT",
        }
    }

    /// `CAST(expr AS ty)`.
    pub fn cast(self, expr: &str, ty: SqlType) -> String {
        format!("CAST({expr} AS {})", self.type_name(ty))
    }

    /// Truncates a timestamp expression to the start of its hour, day, week, month, quarter or
    /// year.
    ///
    /// Weeks starting on another day than Monday are Monday weeks of the time shifted forward
    /// by the days from the start day to Monday, shifted back. On BigQuery, weeks are found by
    /// day-of-week arithmetic (`EXTRACT(DAYOFWEEK ...)` is 1 on Sunday), which is right on the
    /// service and on emulators alike, where `WEEK(MONDAY)` and `ISOWEEK` are not always.
    ///
    /// ```
    /// use aitaem::{WeekStart, period::TimeUnit, sql::Dialect};
    /// assert_eq!(
    ///     Dialect::Postgres.truncate("ts", TimeUnit::Week(WeekStart::Sunday)),
    ///     "date_trunc('week', CAST(ts AS TIMESTAMP) + INTERVAL '1 days') - INTERVAL '1 days'"
    /// );
    /// ```
    pub fn truncate(self, expr: &str, unit: TimeUnit) -> String {
        let ts = self.cast(expr, SqlType::Timestamp);
        match (self, unit) {
            (Dialect::DuckDb | Dialect::Postgres, TimeUnit::Week(start))
                if start != WeekStart::Monday =>
            {
                let shift = 7 - start.days_from_monday();
                format!(
                    "date_trunc('week', {ts} + INTERVAL '{shift} days') - INTERVAL '{shift} days'"
                )
            }
            (Dialect::DuckDb | Dialect::Postgres, _) => {
                format!("date_trunc('{}', {ts})", unit.word())
            }
            (Dialect::BigQuery, TimeUnit::Week(start)) => format!(
                "DATETIME(DATE_SUB(DATE({ts}), INTERVAL MOD(EXTRACT(DAYOFWEEK FROM {ts}) + {}, 7) DAY))",
                (12 - start.days_from_monday()) % 7
            ),
            (Dialect::BigQuery, _) => {
                format!("DATETIME_TRUNC({ts}, {})", unit.word().to_uppercase())
            }
        }
    }

    /// The period of a timestamp expression as a value to group rows by: cheap per row, and
    /// turned into the period's start once per group by [`Dialect::period_start`]. DuckDB
    /// groups months and years by integers (counting months from year 0), which costs less than
    /// truncating every row; elsewhere the key is the truncated timestamp.
    ///
    /// ```
    /// use aitaem::{period::TimeUnit, sql::Dialect};
    /// let key = Dialect::DuckDb.period_key("ts", TimeUnit::Year);
    /// assert_eq!(key, "year(CAST(ts AS TIMESTAMP))");
    /// assert_eq!(Dialect::Postgres.period_start("k", TimeUnit::Month), "k");
    /// ```
    pub fn period_key(self, expr: &str, unit: TimeUnit) -> String {
        let ts = self.cast(expr, SqlType::Timestamp);
        match (self, unit) {
            (Dialect::DuckDb, TimeUnit::Month) => format!("year({ts}) * 12 + month({ts}) - 1"),
            (Dialect::DuckDb, TimeUnit::Year) => format!("year({ts})"),
            _ => self.truncate(expr, unit),
        }
    }

    /// The start of the period with the given [`Dialect::period_key`], as a timestamp.
    pub fn period_start(self, key: &str, unit: TimeUnit) -> String {
        match (self, unit) {
            (Dialect::DuckDb, TimeUnit::Month) => format!(
                "make_timestamp(CAST(floor({key} / 12) AS BIGINT), CAST({key} - 12 * floor({key} / 12) + 1 AS BIGINT), 1, 0, 0, 0)"
            ),
            (Dialect::DuckDb, TimeUnit::Year) => {
                format!("make_timestamp(CAST({key} AS BIGINT), 1, 1, 0, 0, 0)")
            }
            _ => key.to_string(),
        }
    }

    /// A relation of literal rows with the given column names, as `(...) AS alias(cols)`.
    /// Every row must have one already-rendered SQL value per column.
    pub fn values(self, rows: &[Vec<String>], alias: &str, columns: &[&str]) -> String {
        match self {
            Dialect::DuckDb | Dialect::Postgres => {
                let rows: Vec<String> =
                    rows.iter().map(|r| format!("({})", r.join(", "))).collect();
                format!(
                    "(VALUES {}) AS {alias}({})",
                    rows.join(", "),
                    columns.join(", ")
                )
            }
            Dialect::BigQuery => {
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
    }

    /// Whether `GROUPING(...)` accepts the aliases of the select list (PostgreSQL, and
    /// BigQuery's documentation, want the grouped expressions themselves).
    pub fn grouping_reads_aliases(self) -> bool {
        matches!(self, Dialect::DuckDb)
    }

    /// How a common table expression that is read more than once is declared so that it is
    /// computed once.
    pub fn materialized(self) -> &'static str {
        match self {
            Dialect::DuckDb | Dialect::Postgres => "AS MATERIALIZED",
            Dialect::BigQuery => "AS",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "duckdb")]
    #[test]
    fn duckdb_period_keys_give_the_truncated_timestamp() {
        let conn = duckdb::Connection::open_in_memory().unwrap();
        let d = Dialect::DuckDb;
        for unit in [TimeUnit::Month, TimeUnit::Year] {
            let sql = format!(
                "SELECT count(*) FROM (VALUES (TIMESTAMP '1969-12-31 23:59:59'), (TIMESTAMP '1970-01-01 00:00:00'),
                     (TIMESTAMP '2023-12-31 23:00:00'), (TIMESTAMP '2024-01-01 00:00:00'), (TIMESTAMP '2024-02-29 12:00:00'),
                     (TIMESTAMP '0001-03-04 05:06:07')) AS t(ts)
                 WHERE {} IS DISTINCT FROM date_trunc('{}', ts)",
                d.period_start(&format!("({})", d.period_key("ts", unit)), unit),
                unit.word()
            );
            let wrong: i64 = conn.query_row(&sql, [], |r| r.get(0)).unwrap();
            assert_eq!(wrong, 0, "{unit:?}");
        }
    }

    #[test]
    fn postgres_folds_bare_names_and_keeps_quoted_ones() {
        assert_eq!(
            Dialect::Postgres.column(&Ident::bare("UserId")),
            "\"userid\""
        );
        let quoted = Ident::parse("\"UserId\"").unwrap();
        assert_eq!(Dialect::Postgres.column(&quoted), "\"UserId\"");
        assert_eq!(Dialect::DuckDb.column(&Ident::bare("order")), "\"order\"");
    }

    #[test]
    fn bigquery_strings_escape_backslashes_and_quotes() {
        assert_eq!(Dialect::BigQuery.string(r"a\'b"), r"'a\\\'b'");
    }
}
