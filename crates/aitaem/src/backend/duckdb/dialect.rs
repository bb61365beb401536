//! DuckDB's SQL: standard quoting and literals, `DOUBLE`, months and years grouped by integer
//! keys, `GROUPING` over the select list's aliases, materialized common table expressions.

use crate::period::TimeUnit;
use crate::sql::{Dialect, SqlType, standard_period_number};

#[derive(Debug)]
pub(crate) struct DuckDbDialect;

impl Dialect for DuckDbDialect {
    fn parser(&self) -> Box<dyn sqlparser::dialect::Dialect> {
        Box::new(sqlparser::dialect::DuckDbDialect {})
    }

    fn type_name(&self, ty: SqlType) -> &'static str {
        match ty {
            SqlType::Text => "VARCHAR",
            SqlType::Double => "DOUBLE",
            SqlType::Timestamp => "TIMESTAMP",
            SqlType::Integer => "BIGINT",
        }
    }

    /// Months and years are grouped by integers (counting months from year 0), which costs
    /// less than truncating every row.
    fn period_key(&self, expr: &str, unit: TimeUnit) -> String {
        let ts = self.cast(expr, SqlType::Timestamp);
        match unit {
            TimeUnit::Month => format!("year({ts}) * 12 + month({ts}) - 1"),
            TimeUnit::Year => format!("year({ts})"),
            _ => self.truncate(expr, unit),
        }
    }

    fn period_start(&self, key: &str, unit: TimeUnit) -> String {
        match unit {
            TimeUnit::Month => format!(
                "make_timestamp(CAST(floor({key} / 12) AS BIGINT), CAST({key} - 12 * floor({key} / 12) + 1 AS BIGINT), 1, 0, 0, 0)"
            ),
            TimeUnit::Year => format!("make_timestamp(CAST({key} AS BIGINT), 1, 1, 0, 0, 0)"),
            _ => key.to_string(),
        }
    }

    /// Month and year keys are their numbers already.
    fn period_number(&self, key: &str, unit: TimeUnit) -> String {
        match unit {
            TimeUnit::Month | TimeUnit::Year => format!("CAST({key} AS BIGINT)"),
            _ => standard_period_number(key, unit),
        }
    }

    fn grouping_reads_aliases(&self) -> bool {
        true
    }

    fn materialized(&self, name: &str, body: &str) -> String {
        format!("{name} AS MATERIALIZED (\n    {body}\n)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::Ident;

    #[cfg(feature = "duckdb")]
    #[test]
    fn period_keys_give_the_truncated_timestamp() {
        let conn = ::duckdb::Connection::open_in_memory().unwrap();
        let d = DuckDbDialect;
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
    fn names_are_quoted_as_written() {
        assert_eq!(DuckDbDialect.quote("my \"t\""), r#""my ""t""""#);
        assert_eq!(DuckDbDialect.column(&Ident::bare("order")), "\"order\"");
        assert_eq!(DuckDbDialect.string("it's"), "'it''s'");
        assert_eq!(
            DuckDbDialect.period_key("ts", TimeUnit::Year),
            "year(CAST(ts AS TIMESTAMP))"
        );
    }
}
