//! PostgreSQL's SQL: standard, with `TEXT`, bare names folded to lower case as the server folds
//! them, materialized common table expressions, and division in floating point.

use std::ops::ControlFlow;

use sqlparser::ast::{BinaryOperator, CastKind, DataType, Expr, VisitMut, VisitorMut};

use crate::sql::ast::{call, number, take};
use crate::sql::fragment::ExprError;
use crate::sql::{Dialect, Ident, SqlType};

#[derive(Debug)]
pub(crate) struct PostgresDialect;

impl Dialect for PostgresDialect {
    fn parser(&self) -> Box<dyn sqlparser::dialect::Dialect> {
        Box::new(sqlparser::dialect::PostgreSqlDialect {})
    }

    /// `a / b` becomes `CAST(a AS DOUBLE PRECISION) / NULLIF(b, 0)`: division in floating
    /// point, NULL for a zero divisor, as on DuckDB.
    fn rewrite(&self, expr: &mut Expr) -> Result<(), ExprError> {
        let _ = VisitMut::visit(expr, &mut FloatDivision);
        Ok(())
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
        }
    }

    fn materialized(&self) -> &'static str {
        "AS MATERIALIZED"
    }
}

/// `a / b` becomes `CAST(a AS DOUBLE PRECISION) / NULLIF(b, 0)`.
struct FloatDivision;

impl VisitorMut for FloatDivision {
    type Break = ();

    fn post_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        if let Expr::BinaryOp {
            left,
            op: BinaryOperator::Divide,
            right,
        } = expr
        {
            **left = Expr::Cast {
                kind: CastKind::Cast,
                expr: Box::new(take(left)),
                data_type: DataType::DoublePrecision,
                format: None,
            };
            **right = call("NULLIF", vec![take(right), number("0")]);
        }
        ControlFlow::Continue(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn to_sql(expr: &Expr) -> String {
        expr.to_string()
    }
    use crate::sql::fragment::{parse, translate};

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
}
