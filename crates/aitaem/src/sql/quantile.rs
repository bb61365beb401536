//! Quantiles and approximate distinct counts, recognised in any of their usual spellings so that
//! each backend can write them in its own SQL with the same meaning.
//!
//! - `MEDIAN(x)`, `QUANTILE_CONT(x, p)` and `PERCENTILE_CONT(p) WITHIN GROUP (ORDER BY x)`: the
//!   continuous quantile (linear interpolation between the two nearest values);
//! - `QUANTILE_DISC(x, p)`, `QUANTILE(x, p)` and `PERCENTILE_DISC(p) WITHIN GROUP (ORDER BY x)`:
//!   the discrete quantile (the first value whose cumulative distribution reaches `p`);
//! - `APPROX_QUANTILE(x, p)`: an approximate continuous quantile;
//! - `APPROX_COUNT_DISTINCT(x)`: an approximate distinct count.
//!
//! DuckDB has all of them; PostgreSQL writes the quantiles as ordered-set aggregates (exactly,
//! also the approximate ones) and the approximate distinct count as `COUNT(DISTINCT x)`;
//! BigQuery, whose `PERCENTILE_CONT` is a window function only, picks the values out of the
//! ordered array of the group's values (see `backend::bigquery::dialect`).

use sqlparser::ast::{
    DuplicateTreatment, Expr, Function, FunctionArg, FunctionArgExpr, FunctionArguments,
    OrderBySort,
};

use super::inspect::function_name;
use super::rollup::strip_parentheses;

/// Which quantile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum QuantileKind {
    /// Interpolated between the two nearest values.
    Continuous,
    /// The first value whose cumulative distribution reaches the fraction.
    Discrete,
    /// Approximately the continuous quantile (the backend's sketch).
    Approximate,
}

/// A quantile call: `kind` quantile `fraction` of `value` over the rows `filter` holds for.
#[derive(Debug, Clone)]
pub(crate) struct Quantile {
    pub kind: QuantileKind,
    pub value: Expr,
    pub fraction: Expr,
    pub filter: Option<Expr>,
}

/// The plain arguments of a call (none for `f(*)`, `f(DISTINCT ...)` or named arguments).
fn plain_args(f: &Function) -> Option<Vec<&Expr>> {
    let FunctionArguments::List(list) = &f.args else {
        return (matches!(f.args, FunctionArguments::None)).then(Vec::new);
    };
    if list.duplicate_treatment.is_some() || !list.clauses.is_empty() {
        return None;
    }
    list.args
        .iter()
        .map(|arg| match arg {
            FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => Some(e),
            _ => None,
        })
        .collect()
}

/// The quantile a call computes, when it is one of the spellings above.
pub(crate) fn quantile(f: &Function) -> Option<Quantile> {
    if f.over.is_some() || f.null_treatment.is_some() {
        return None;
    }
    let args = plain_args(f)?;
    let name = function_name(f);
    let (kind, value, fraction) = if f.within_group.is_empty() {
        let kind = match name.as_str() {
            "median" => QuantileKind::Continuous,
            "quantile_cont" => QuantileKind::Continuous,
            "quantile_disc" | "quantile" => QuantileKind::Discrete,
            "approx_quantile" => QuantileKind::Approximate,
            _ => return None,
        };
        match (name.as_str(), args.as_slice()) {
            ("median", [value]) => (kind, (*value).clone(), Expr::value(number("0.5"))),
            ("median", _) => return None,
            (_, [value, fraction]) => (kind, (*value).clone(), (*fraction).clone()),
            _ => return None,
        }
    } else {
        let kind = match name.as_str() {
            "percentile_cont" => QuantileKind::Continuous,
            "percentile_disc" => QuantileKind::Discrete,
            _ => return None,
        };
        let ([fraction], [order]) = (args.as_slice(), f.within_group.as_slice()) else {
            return None;
        };
        // Only ascending order (descending counts from the top: not one of the above).
        if !matches!(order.options.sort, None | Some(OrderBySort::Asc)) {
            return None;
        }
        (kind, order.expr.clone(), (*fraction).clone())
    };
    Some(Quantile {
        kind,
        value,
        fraction,
        filter: f.filter.as_deref().cloned(),
    })
}

fn number(text: &str) -> sqlparser::ast::Value {
    sqlparser::ast::Value::Number(text.into(), false)
}

/// The value and filter of `APPROX_COUNT_DISTINCT(x)`.
pub(crate) fn approx_count_distinct(f: &Function) -> Option<(Expr, Option<Expr>)> {
    if f.over.is_some() || !f.within_group.is_empty() {
        return None;
    }
    match (function_name(f).as_str(), plain_args(f)?.as_slice()) {
        ("approx_count_distinct", [value]) => {
            Some(((*value).clone(), f.filter.as_deref().cloned()))
        }
        _ => None,
    }
}

/// The value of a `COUNT(DISTINCT x)` call, and its filter.
pub(crate) fn count_distinct(expr: &Expr) -> Option<(Expr, Option<Expr>)> {
    let Expr::Function(f) = strip_parentheses(expr) else {
        return None;
    };
    let FunctionArguments::List(list) = &f.args else {
        return None;
    };
    if function_name(f) != "count"
        || f.over.is_some()
        || !f.within_group.is_empty()
        || list.duplicate_treatment != Some(DuplicateTreatment::Distinct)
        || !list.clauses.is_empty()
    {
        return None;
    }
    match list.args.as_slice() {
        [FunctionArg::Unnamed(FunctionArgExpr::Expr(value))] => {
            Some((value.clone(), f.filter.as_deref().cloned()))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::fragment::parse;

    fn call(text: &str) -> Function {
        match parse(text, None).unwrap() {
            Expr::Function(f) => f,
            other => panic!("{other}"),
        }
    }

    #[test]
    fn every_spelling_is_recognised() {
        for (text, kind, value, fraction) in [
            ("MEDIAN(x)", QuantileKind::Continuous, "x", "0.5"),
            (
                "quantile_cont(a + b, 0.9)",
                QuantileKind::Continuous,
                "a + b",
                "0.9",
            ),
            (
                "PERCENTILE_CONT(0.25) WITHIN GROUP (ORDER BY x)",
                QuantileKind::Continuous,
                "x",
                "0.25",
            ),
            ("quantile_disc(x, 0.1)", QuantileKind::Discrete, "x", "0.1"),
            ("QUANTILE(x, 0.1)", QuantileKind::Discrete, "x", "0.1"),
            (
                "percentile_disc(0.5) WITHIN GROUP (ORDER BY x ASC)",
                QuantileKind::Discrete,
                "x",
                "0.5",
            ),
            (
                "APPROX_QUANTILE(x, 0.5)",
                QuantileKind::Approximate,
                "x",
                "0.5",
            ),
        ] {
            let q = quantile(&call(text)).unwrap_or_else(|| panic!("{text}"));
            assert_eq!(
                (q.kind, q.value.to_string(), q.fraction.to_string()),
                (kind, value.to_string(), fraction.to_string()),
                "{text}"
            );
        }
        let filtered = quantile(&call("MEDIAN(x) FILTER (WHERE y > 1)")).unwrap();
        assert_eq!(filtered.filter.unwrap().to_string(), "y > 1");
        for text in [
            "MEDIAN(x, 1)",
            "SUM(x)",
            "PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY x DESC)",
            "quantile_cont(x)",
        ] {
            assert!(quantile(&call(text)).is_none(), "{text}");
        }
        let (value, filter) = approx_count_distinct(&call("approx_count_distinct(u)")).unwrap();
        assert_eq!((value.to_string(), filter.is_none()), ("u".into(), true));
        let distinct = parse("COUNT(DISTINCT u) FILTER (WHERE ok)", None).unwrap();
        let (value, filter) = count_distinct(&distinct).unwrap();
        assert_eq!(
            (value.to_string(), filter.unwrap().to_string()),
            ("u".into(), "ok".into())
        );
        assert!(count_distinct(&parse("COUNT(u)", None).unwrap()).is_none());
    }
}
