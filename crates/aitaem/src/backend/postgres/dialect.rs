//! PostgreSQL's SQL: standard, with `TEXT`, bare names folded to lower case as the server folds
//! them, materialized common table expressions, and division in floating point.

use std::ops::ControlFlow;

use sqlparser::ast::{BinaryOperator, CastKind, DataType, Expr, VisitMut, VisitorMut};

use crate::sql::ast::{call, number, take};
use crate::sql::fragment::{ExprError, parse};
use crate::sql::quantile::{QuantileKind, approx_count_distinct, quantile};
use crate::sql::{Dialect, Ident, SqlType};

#[derive(Debug)]
pub(crate) struct PostgresDialect;

impl Dialect for PostgresDialect {
    fn parser(&self) -> Box<dyn sqlparser::dialect::Dialect> {
        Box::new(sqlparser::dialect::PostgreSqlDialect {})
    }

    /// `a / b` becomes `CAST(a AS DOUBLE PRECISION) / NULLIF(b, 0)`: division in floating
    /// point, NULL for a zero divisor, as on DuckDB. Quantiles become ordered-set aggregates
    /// (`percentile_cont(p) WITHIN GROUP (ORDER BY x)`, exact also for `APPROX_QUANTILE`), and
    /// `APPROX_COUNT_DISTINCT(x)` the exact `COUNT(DISTINCT x)`.
    fn rewrite(&self, expr: &mut Expr) -> Result<(), ExprError> {
        match VisitMut::visit(expr, &mut PostgresRewrite) {
            ControlFlow::Break(err) => Err(err),
            ControlFlow::Continue(()) => Ok(()),
        }
    }

    /// A bare name is folded to lower case, as the server folds unquoted names.
    fn column(&self, ident: &Ident) -> String {
        if ident.quoted {
            self.quote(&ident.name)
        } else {
            self.quote(&ident.name.to_lowercase())
        }
    }

    fn type_name(&self, ty: SqlType) -> &'static str {
        match ty {
            SqlType::Text => "TEXT",
            SqlType::Double => "DOUBLE PRECISION",
            SqlType::Timestamp => "TIMESTAMP",
            SqlType::Integer => "BIGINT",
        }
    }

    fn materialized(&self, name: &str, body: &str) -> String {
        format!("{name} AS MATERIALIZED (\n    {body}\n)")
    }
}

/// Standard SQL written for every backend, as PostgreSQL's (see [`PostgresDialect::rewrite`]).
struct PostgresRewrite;

impl VisitorMut for PostgresRewrite {
    type Break = ExprError;

    fn post_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<ExprError> {
        match expr {
            Expr::BinaryOp {
                left,
                op: BinaryOperator::Divide,
                right,
            } => {
                **left = Expr::Cast {
                    kind: CastKind::Cast,
                    expr: Box::new(take(left)),
                    data_type: DataType::DoublePrecision,
                    format: None,
                };
                **right = call("NULLIF", vec![take(right), number("0")]);
            }
            Expr::Function(f) => {
                let text = if let Some(q) = quantile(f) {
                    let function = match q.kind {
                        QuantileKind::Continuous | QuantileKind::Approximate => "percentile_cont",
                        QuantileKind::Discrete => "percentile_disc",
                    };
                    let call = format!(
                        "{function}({}) WITHIN GROUP (ORDER BY {})",
                        q.fraction, q.value
                    );
                    filtered(call, q.filter.as_ref())
                } else if let Some((value, filter)) = approx_count_distinct(f) {
                    filtered(format!("COUNT(DISTINCT {value})"), filter.as_ref())
                } else {
                    return ControlFlow::Continue(());
                };
                match parse(&text, Some(&PostgresDialect)) {
                    Ok(rewritten) => *expr = rewritten,
                    Err(err) => return ControlFlow::Break(err),
                }
            }
            _ => {}
        }
        ControlFlow::Continue(())
    }
}

/// `call FILTER (WHERE filter)`, or `call` without a filter.
fn filtered(call: String, filter: Option<&Expr>) -> String {
    match filter {
        Some(filter) => format!("{call} FILTER (WHERE {filter})"),
        None => call,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn to_sql(expr: &Expr) -> String {
        expr.to_string()
    }
    use crate::sql::fragment::translate;

    #[test]
    fn bare_names_fold_and_quoted_ones_stay() {
        assert_eq!(PostgresDialect.column(&Ident::bare("UserId")), "\"userid\"");
        let quoted = Ident::parse("\"UserId\"").unwrap();
        assert_eq!(PostgresDialect.column(&quoted), "\"UserId\"");
    }

    #[test]
    fn division_is_in_floating_point_and_null_for_zero() {
        let expr = parse("SUM(a) / SUM(b) + 1 / 2", Some(&PostgresDialect)).unwrap();
        assert_eq!(
            to_sql(&translate(&expr, &PostgresDialect).unwrap()),
            "CAST(SUM(a) AS DOUBLE PRECISION) / NULLIF(SUM(b), 0) + CAST(1 AS DOUBLE PRECISION) / NULLIF(2, 0)"
        );
    }

    #[test]
    fn quantiles_are_ordered_set_aggregates() {
        let pg = |text: &str| {
            let expr = parse(text, Some(&PostgresDialect)).unwrap();
            to_sql(&translate(&expr, &PostgresDialect).unwrap())
        };
        assert_eq!(
            pg("MEDIAN(x) FILTER (WHERE y > 1)"),
            "percentile_cont(0.5) WITHIN GROUP (ORDER BY x) FILTER (WHERE y > 1)"
        );
        assert_eq!(
            pg("quantile_disc(a / b, 0.9) + APPROX_QUANTILE(x, 0.1)"),
            "percentile_disc(0.9) WITHIN GROUP (ORDER BY CAST(a AS DOUBLE PRECISION) / NULLIF(b, 0)) + percentile_cont(0.1) WITHIN GROUP (ORDER BY x)"
        );
        assert_eq!(pg("APPROX_COUNT_DISTINCT(u)"), "COUNT(DISTINCT u)");
    }
}
