//! Aggregates computed in two stages: partial aggregates per finest group, rolled up per state
//! (`decompose`), and which fragments are one additive total (`single_total`).

use std::ops::ControlFlow;

use sqlparser::ast::{
    BinaryOperator, CastKind, DataType, DuplicateTreatment, Expr, Function, FunctionArgumentClause,
    FunctionArguments, VisitMut, VisitorMut,
};

use super::ast::{call, identifier, number, object_name, rewrite_outside_subqueries};
use super::dialect::{Dialect, SqlType};
use super::inspect::{function_name, is_aggregate};
use super::tree::Alias;

/// How an aggregate is computed from partial aggregates over finer groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Decomposition {
    /// `SUM` of the partial sums.
    Sum,
    /// `SUM` of the partial counts, 0 when there are none.
    Count,
    /// Partial sums and counts, divided at the end.
    Avg,
    /// The same function over the partials (MIN, MAX, BOOL_AND, BIT_OR, ANY_VALUE, ...).
    Same,
}

fn decomposition(f: &Function) -> Option<Decomposition> {
    if f.over.is_some()
        || !f.within_group.is_empty()
        || f.null_treatment.is_some()
        || !matches!(f.parameters, FunctionArguments::None)
    {
        return None;
    }
    let FunctionArguments::List(list) = &f.args else {
        return None;
    };
    if matches!(list.duplicate_treatment, Some(DuplicateTreatment::Distinct))
        || list
            .clauses
            .iter()
            .any(|c| !matches!(c, FunctionArgumentClause::Where(_)))
    {
        return None;
    }
    Some(match function_name(f).as_str() {
        "sum" => Decomposition::Sum,
        "count" | "count_star" | "countif" | "count_if" => Decomposition::Count,
        "avg" | "mean" if list.args.len() == 1 => Decomposition::Avg,
        "min" | "max" | "bool_and" | "bool_or" | "logical_and" | "logical_or" | "every"
        | "any_value" | "arbitrary" | "bit_and" | "bit_or" | "bit_xor" => Decomposition::Same,
        _ => return None,
    })
}

/// A fragment that is one counting or summing aggregate, which options over periods can add up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Total {
    /// `SUM(x)` or `COUNT(...)` (with an optional `FILTER`): values of periods add up.
    Additive,
    /// `COUNT(DISTINCT x)`: 0 over no rows, but periods do not add up.
    Distinct,
}

/// Whether a fragment is exactly one `SUM`, `COUNT` or `COUNT(DISTINCT ...)` call.
pub(crate) fn single_total(expr: &Expr) -> Option<Total> {
    let Expr::Function(f) = strip_parentheses(expr) else {
        return None;
    };
    if f.over.is_some() || !f.within_group.is_empty() {
        return None;
    }
    let FunctionArguments::List(list) = &f.args else {
        return None;
    };
    let distinct = matches!(list.duplicate_treatment, Some(DuplicateTreatment::Distinct));
    match (function_name(f).as_str(), distinct) {
        ("count", true) => Some(Total::Distinct),
        ("sum" | "count" | "count_star" | "countif" | "count_if", false) => Some(Total::Additive),
        _ => None,
    }
}

/// The expression inside any parentheses around it.
pub(crate) fn strip_parentheses(expr: &Expr) -> &Expr {
    match expr {
        Expr::Nested(inner) => strip_parentheses(inner),
        other => other,
    }
}

/// Partial aggregates shared by the metrics of one statement: partial *i* is the column
/// [`Alias::Partial`]`(i)` of the first stage.
#[derive(Debug, Default)]
pub(crate) struct Partials {
    /// The partial aggregates, each once.
    pub exprs: Vec<Expr>,
    /// The aggregate that rolls each partial up (`SUM` for sums and counts, `MAX` for maxima, ...).
    pub rollups: Vec<String>,
}

impl Partials {
    /// The partial `function` (rolled up with `rollup`), added unless it is there already; its
    /// column, as an expression.
    fn add(&mut self, mut function: Function, rollup: &str) -> Expr {
        // Upper-case the function name so `sum(x)` and `SUM(x)` share one partial.
        if let [sqlparser::ast::ObjectNamePart::Identifier(name)] = function.name.0.as_mut_slice()
            && name.quote_style.is_none()
        {
            name.value = name.value.to_uppercase();
        }
        let expr = Expr::Function(function);
        let rendered = expr.to_string();
        let index = match self.exprs.iter().position(|e| e.to_string() == rendered) {
            Some(i) => i,
            None => {
                self.exprs.push(expr);
                self.rollups.push(rollup.to_uppercase());
                self.exprs.len() - 1
            }
        };
        identifier(Alias::Partial(index).to_string())
    }
}

/// Rewrites an aggregate fragment for the two-stage plan: each aggregate call is added to
/// `partials` (computed per finest group in the first stage) and replaced by an expression over
/// the rolled-up partials, where column [`Alias::Partial`]`(i)` holds partial *i* rolled up
/// with `partials.rollups[i]`. `None` when an aggregate cannot be rolled up
/// (`COUNT(DISTINCT ...)`, `MEDIAN`, ...).
pub(crate) fn decompose(
    expr: &Expr,
    dialect: &dyn Dialect,
    partials: &mut Partials,
) -> Option<Expr> {
    let mut expr = expr.clone();
    // Each outermost aggregate call (outside subqueries) is replaced by a placeholder, the
    // identifier `Alias::Aggregate(i)`, and decomposed.
    let mut calls = Vec::new();
    rewrite_outside_subqueries(&mut expr, |e| {
        if let Expr::Function(f) = e
            && is_aggregate(f)
        {
            let placeholder = Alias::Aggregate(calls.len()).to_string();
            calls.push(f.clone());
            *e = identifier(placeholder);
        }
    });
    let mut finals = Vec::new();
    for call_of in calls {
        finals.push(match decomposition(&call_of)? {
            Decomposition::Sum => partials.add(call_of, "SUM"),
            Decomposition::Count => {
                call("COALESCE", vec![partials.add(call_of, "SUM"), number("0")])
            }
            Decomposition::Avg => {
                let sum = partials.add(renamed(&call_of, "sum"), "SUM");
                let count = partials.add(renamed(&call_of, "count"), "SUM");
                Expr::BinaryOp {
                    left: Box::new(Expr::Cast {
                        kind: CastKind::Cast,
                        expr: Box::new(sum),
                        data_type: DataType::Custom(
                            object_name(dialect.type_name(SqlType::Double)),
                            Vec::new(),
                        ),
                        format: None,
                    }),
                    op: BinaryOperator::Divide,
                    right: Box::new(call("NULLIF", vec![count, number("0")])),
                }
            }
            Decomposition::Same => {
                let rollup = function_name(&call_of);
                partials.add(call_of, &rollup)
            }
        });
    }
    let _ = VisitMut::visit(&mut expr, &mut Substituter { finals });
    Some(expr)
}

fn renamed(call: &Function, name: &str) -> Function {
    let mut call = call.clone();
    call.name = object_name(name);
    call
}

/// Puts the roll-up expressions where the placeholders are.
struct Substituter {
    finals: Vec<Expr>,
}

impl VisitorMut for Substituter {
    type Break = ();

    fn post_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        if let Expr::Identifier(ident) = expr
            && ident.quote_style.is_none()
            && let Some(i) = Alias::parse_aggregate(&ident.value)
            && let Some(replacement) = self.finals.get(i)
        {
            *expr = Expr::Nested(Box::new(replacement.clone()));
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
    use crate::backend::BackendKind;
    use crate::sql::fragment::{parse, translate};

    fn duck(text: &str) -> Expr {
        parse(text, Some(BackendKind::DUCKDB.dialect())).unwrap()
    }

    fn decomposed(text: &str, partials: &mut Partials) -> Option<String> {
        decompose(&duck(text), BackendKind::DUCKDB.dialect(), partials).map(|e| to_sql(&e))
    }

    #[test]
    fn single_totals_are_one_sum_or_count() {
        let total = |text: &str| single_total(&duck(text));
        assert_eq!(total("SUM(revenue)"), Some(Total::Additive));
        assert_eq!(total("(count(*))"), Some(Total::Additive));
        assert_eq!(
            total("count(*) FILTER (WHERE clicks > 0)"),
            Some(Total::Additive)
        );
        assert_eq!(total("COUNT(DISTINCT user_id)"), Some(Total::Distinct));
        for other in [
            "SUM(revenue) / 100",
            "AVG(revenue)",
            "SUM(DISTINCT revenue)",
            "SUM(a) + SUM(b)",
            "MAX(revenue)",
        ] {
            assert_eq!(total(other), None, "{other}");
        }
    }

    #[test]
    fn decomposes_sums_counts_averages_and_extremes() {
        let mut partials = Partials::default();
        let ctr = decomposed("SUM(clicks) / NULLIF(SUM(impressions), 0)", &mut partials);
        assert_eq!(ctr.unwrap(), "(__p0) / NULLIF((__p1), 0)");
        let avg = decomposed("AVG(clicks)", &mut partials);
        assert_eq!(
            avg.unwrap(),
            "(CAST(__p0 AS DOUBLE) / NULLIF(__p2, 0))",
            "the partial SUM(clicks) is shared"
        );
        let count = decomposed("COUNT(*)", &mut partials);
        assert_eq!(count.unwrap(), "(COALESCE(__p3, 0))");
        let max = decomposed("MAX(x) FILTER (WHERE y)", &mut partials);
        assert_eq!(max.unwrap(), "(__p4)");
        let exprs: Vec<String> = partials.exprs.iter().map(ToString::to_string).collect();
        assert_eq!(
            exprs,
            [
                "SUM(clicks)",
                "SUM(impressions)",
                "COUNT(clicks)",
                "COUNT(*)",
                "MAX(x) FILTER (WHERE y)"
            ]
        );
        assert_eq!(partials.rollups, ["SUM", "SUM", "SUM", "SUM", "MAX"]);
    }

    #[test]
    fn a_postgres_ratio_rolls_up_its_translated_division() {
        let pg = BackendKind::POSTGRES.dialect();
        let expr = translate(&parse("SUM(a) / SUM(b) + 1 / 2", Some(pg)).unwrap(), pg).unwrap();
        let mut partials = Partials::default();
        let ratio = decompose(&expr, pg, &mut partials).unwrap();
        assert_eq!(
            to_sql(&ratio),
            "CAST((__p0) AS DOUBLE PRECISION) / NULLIF((__p1), 0) + CAST(1 AS DOUBLE PRECISION) / NULLIF(2, 0)"
        );
    }

    #[test]
    fn distinct_and_holistic_aggregates_do_not_decompose() {
        for text in [
            "COUNT(DISTINCT u)",
            "MEDIAN(x)",
            "SUM(x) / COUNT(DISTINCT u)",
            "string_agg(x, ',' ORDER BY x)",
        ] {
            let mut partials = Partials::default();
            assert!(decomposed(text, &mut partials).is_none(), "{text}");
        }
    }
}
