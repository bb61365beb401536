//! What a fragment reads and calls: its columns, its aggregate and window function calls.

use std::collections::HashSet;
use std::ops::ControlFlow;

use sqlparser::ast::{Expr, Function, Ident as SqlIdent, ObjectNamePart, Query, Visit, Visitor};

/// The columns a fragment reads (unqualified: `t.revenue` gives `revenue`), in order of first
/// use, without duplicates. Columns inside subqueries belong to other tables and are left out.
pub(crate) fn columns(expr: &Expr) -> Vec<String> {
    let mut inspector = Inspector::default();
    let _ = expr.visit(&mut inspector);
    inspector.columns
}

/// The columns a fragment reads, as identifiers (keeping whether they were quoted).
pub(crate) fn column_idents(expr: &Expr) -> Vec<super::Ident> {
    let mut inspector = Inspector::default();
    let _ = expr.visit(&mut inspector);
    inspector.idents
}

/// Lower-case names of the aggregate functions recognised in metrics.
const AGGREGATES: &[&str] = &[
    // re-aggregable (see `Decomposition`)
    "sum",
    "count",
    "count_star",
    "countif",
    "count_if",
    "avg",
    "mean",
    "min",
    "max",
    "bool_and",
    "bool_or",
    "logical_and",
    "logical_or",
    "every",
    "any_value",
    "arbitrary",
    "bit_and",
    "bit_or",
    "bit_xor",
    // computed in one pass over the rows
    "median",
    "mode",
    "quantile",
    "quantile_cont",
    "quantile_disc",
    "reservoir_quantile",
    "percentile_cont",
    "percentile_disc",
    "approx_quantile",
    "approx_quantiles",
    "approx_count_distinct",
    "approx_distinct",
    "approx_top_count",
    "approx_top_sum",
    "stddev",
    "stddev_pop",
    "stddev_samp",
    "std",
    "variance",
    "var_pop",
    "var_samp",
    "corr",
    "covar_pop",
    "covar_samp",
    "regr_avgx",
    "regr_avgy",
    "regr_count",
    "regr_intercept",
    "regr_r2",
    "regr_slope",
    "regr_sxx",
    "regr_sxy",
    "regr_syy",
    "kurtosis",
    "kurtosis_pop",
    "skewness",
    "entropy",
    "mad",
    "product",
    "fsum",
    "sumkahan",
    "kahan_sum",
    "favg",
    "geometric_mean",
    "geomean",
    "weighted_avg",
    "arg_max",
    "arg_min",
    "argmax",
    "argmin",
    "max_by",
    "min_by",
    "first",
    "last",
    "string_agg",
    "listagg",
    "group_concat",
    "array_agg",
    "list",
    "array_concat_agg",
    "json_agg",
    "jsonb_agg",
    "json_object_agg",
    "json_group_array",
    "json_group_object",
    "histogram",
    "bitstring_agg",
    "hll_count.init",
    "hll_count.merge",
    "hll_count.merge_partial",
];

pub(crate) fn function_name(f: &Function) -> String {
    f.name
        .0
        .iter()
        .map(|part| match part {
            ObjectNamePart::Identifier(ident) => ident.value.to_lowercase(),
            ObjectNamePart::Function(func) => func.name.value.to_lowercase(),
        })
        .collect::<Vec<_>>()
        .join(".")
}

/// Whether a function call aggregates rows (and is not a window function).
pub(crate) fn is_aggregate(f: &Function) -> bool {
    f.over.is_none()
        && (AGGREGATES.contains(&function_name(f).as_str())
            || !f.within_group.is_empty()
            || f.filter.is_some())
}

/// Walks an expression once, collecting what `check` and `columns` need.
#[derive(Default)]
pub(crate) struct Inspector {
    pub(crate) query_depth: usize,
    /// Whether the expression holds a subquery.
    pub(crate) subquery: bool,
    pub(crate) aggregate_depth: usize,
    pub(crate) lambda_params: Vec<Vec<String>>,
    pub(crate) aggregates: Vec<String>,
    pub(crate) nested_aggregate: Option<String>,
    pub(crate) window: Option<String>,
    pub(crate) bare_columns: Vec<String>,
    pub(crate) columns: Vec<String>,
    pub(crate) idents: Vec<super::Ident>,
    pub(crate) seen: HashSet<String>,
}

impl Inspector {
    fn column(&mut self, ident: &SqlIdent) {
        let name = &ident.value;
        if self
            .lambda_params
            .iter()
            .any(|params| params.iter().any(|p| p == name))
        {
            return;
        }
        if self.aggregate_depth == 0 {
            self.bare_columns.push(name.to_string());
        }
        if self.seen.insert(name.to_string()) {
            self.columns.push(name.to_string());
            self.idents.push(super::Ident {
                name: name.to_string(),
                quoted: ident.quote_style.is_some(),
            });
        }
    }
}

impl Visitor for Inspector {
    type Break = ();

    fn pre_visit_query(&mut self, _: &Query) -> ControlFlow<()> {
        self.query_depth += 1;
        self.subquery = true;
        ControlFlow::Continue(())
    }

    fn post_visit_query(&mut self, _: &Query) -> ControlFlow<()> {
        self.query_depth -= 1;
        ControlFlow::Continue(())
    }

    fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<()> {
        if self.query_depth > 0 {
            return ControlFlow::Continue(());
        }
        match expr {
            Expr::Function(f) if f.over.is_some() => {
                self.window.get_or_insert_with(|| function_name(f));
            }
            Expr::Function(f) if is_aggregate(f) => {
                let name = function_name(f);
                if self.aggregate_depth > 0 {
                    self.nested_aggregate.get_or_insert(name.clone());
                }
                self.aggregates.push(name);
                self.aggregate_depth += 1;
            }
            Expr::Identifier(ident) => self.column(ident),
            Expr::CompoundIdentifier(parts) => {
                if let Some(last) = parts.last() {
                    self.column(last);
                }
            }
            Expr::Lambda(lambda) => {
                let params = match &lambda.params {
                    sqlparser::ast::OneOrManyWithParens::One(p) => vec![p.name.value.clone()],
                    sqlparser::ast::OneOrManyWithParens::Many(ps) => {
                        ps.iter().map(|p| p.name.value.clone()).collect()
                    }
                };
                self.lambda_params.push(params);
            }
            _ => {}
        }
        ControlFlow::Continue(())
    }

    fn post_visit_expr(&mut self, expr: &Expr) -> ControlFlow<()> {
        if self.query_depth > 0 {
            return ControlFlow::Continue(());
        }
        match expr {
            Expr::Function(f) if f.over.is_none() && is_aggregate(f) => self.aggregate_depth -= 1,
            Expr::Lambda(_) => {
                self.lambda_params.pop();
            }
            _ => {}
        }
        ControlFlow::Continue(())
    }
}
