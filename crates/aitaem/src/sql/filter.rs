//! Restricting a metric's aggregates to the rows its filter holds for.

use sqlparser::ast::{BinaryOperator, Expr};

use super::ast::{rewrite_outside_subqueries, take};
use super::inspect::is_aggregate;

/// Adds `FILTER (WHERE predicate)` to every outermost aggregate call of `expr` (outside
/// subqueries), combined with `AND` with a filter the call already has. Backends without
/// `FILTER` rewrite it in their dialect, as they do for filters written in specs.
pub(crate) fn restrict(expr: &mut Expr, predicate: &Expr) {
    rewrite_outside_subqueries(expr, |e| {
        if let Expr::Function(f) = e
            && is_aggregate(f)
        {
            let restricted = match f.filter.take() {
                Some(mut existing) => Expr::BinaryOp {
                    left: Box::new(Expr::Nested(Box::new(take(&mut existing)))),
                    op: BinaryOperator::And,
                    right: Box::new(Expr::Nested(Box::new(predicate.clone()))),
                },
                None => predicate.clone(),
            };
            f.filter = Some(Box::new(restricted));
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::fragment::parse;

    fn restricted(text: &str, predicate: &str) -> String {
        let mut expr = parse(text, None).unwrap();
        restrict(&mut expr, &parse(predicate, None).unwrap());
        expr.to_string()
    }

    #[test]
    fn every_outer_aggregate_gets_the_filter() {
        assert_eq!(
            restricted("SUM(x) / COUNT(*)", "status = 'done'"),
            "SUM(x) FILTER (WHERE status = 'done') / COUNT(*) FILTER (WHERE status = 'done')"
        );
        assert_eq!(
            restricted("COUNT(*) FILTER (WHERE a > 1)", "b"),
            "COUNT(*) FILTER (WHERE (a > 1) AND (b))"
        );
        assert_eq!(
            restricted("COALESCE(MAX(x), 0) + 1", "y IS NULL"),
            "COALESCE(MAX(x) FILTER (WHERE y IS NULL), 0) + 1"
        );
    }
}
