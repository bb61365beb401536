//! SQL fragments written in specs: metric aggregates (`numerator`, `denominator`) and
//! predicates (`where`).
//!
//! Each fragment is parsed as exactly one SQL expression: trailing text, `;`, and statements are
//! rejected. Fragments are never pasted into generated SQL as written: the parsed expression is
//! rendered back (which drops comments and normalises spacing) and wrapped in parentheses, so a
//! fragment cannot reach outside its own expression.

use std::collections::HashSet;
use std::ops::ControlFlow;

use sqlparser::ast::{
    BinaryOperator, CastKind, DataType, DuplicateTreatment, Expr, Function, FunctionArg,
    FunctionArgExpr, FunctionArgumentClause, FunctionArgumentList, FunctionArguments,
    Ident as SqlIdent, ObjectName, ObjectNamePart, Query, Value, Visit, VisitMut, Visitor,
    VisitorMut,
};
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::Token;

use super::dialect::{Dialect, SqlType};

/// What a fragment is used for, which decides what it may contain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExprRole {
    /// A metric's `numerator` or `denominator`: at least one aggregate call, and every column
    /// inside one.
    Aggregate,
    /// A `where` predicate, evaluated per row: no aggregate calls.
    Predicate,
}

/// A problem with a fragment, positioned inside the fragment's text (1-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExprError {
    /// What is wrong.
    pub message: String,
    /// What to change.
    pub help: Option<String>,
    /// Line within the fragment, 1-based (0 when unknown).
    pub line: u32,
    /// Column within the fragment, 1-based (0 when unknown).
    pub column: u32,
}

impl ExprError {
    fn new(message: impl Into<String>, help: Option<&str>) -> Self {
        ExprError {
            message: message.into(),
            help: help.map(str::to_string),
            line: 0,
            column: 0,
        }
    }
}

/// Parses `text` as exactly one expression. `dialect` is the backend the fragment runs on;
/// `None` (slices, which run on any backend) accepts the syntax of any supported backend.
pub fn parse(text: &str, dialect: Option<Dialect>) -> Result<Expr, ExprError> {
    let generic = sqlparser::dialect::GenericDialect {};
    let boxed;
    let parser_dialect: &dyn sqlparser::dialect::Dialect = match dialect {
        Some(d) => {
            boxed = d.parser();
            boxed.as_ref()
        }
        None => &generic,
    };
    if text.trim().is_empty() {
        return Err(ExprError::new("the expression is empty", None));
    }
    let mut parser = Parser::new(parser_dialect)
        .try_with_sql(text)
        .map_err(parser_error)?;
    let expr = parser.parse_expr().map_err(parser_error)?;
    let next = parser.peek_token();
    if let Expr::Identifier(word) = &expr
        && word.quote_style.is_none()
        && STATEMENT_WORDS.contains(&word.value.to_uppercase().as_str())
    {
        return Err(ExprError::new(
            format!(
                "`{}` starts a statement; a fragment is one expression",
                word.value
            ),
            Some("write only the expression, e.g. `SUM(revenue)` or `country = 'US'`"),
        ));
    }
    if next.token != Token::EOF {
        let (message, help) = if next.token == Token::SemiColon {
            (
                "`;` is not allowed: a fragment is one expression, not a statement".to_string(),
                "remove the `;` and anything after it",
            )
        } else {
            (
                format!(
                    "unexpected `{}` after the end of the expression",
                    next.token
                ),
                "a fragment must be exactly one SQL expression; check for a missing operator or an unbalanced parenthesis",
            )
        };
        return Err(ExprError {
            message,
            help: Some(help.to_string()),
            line: next.span.start.line as u32,
            column: next.span.start.column as u32,
        });
    }
    Ok(expr)
}

/// Words that start a statement rather than an expression.
const STATEMENT_WORDS: &[&str] = &[
    "SELECT", "WITH", "INSERT", "UPDATE", "DELETE", "MERGE", "DROP", "CREATE", "ALTER", "TRUNCATE",
    "COPY", "ATTACH", "DETACH", "PRAGMA", "SET", "CALL", "EXPORT", "IMPORT", "INSTALL", "LOAD",
    "GRANT", "REVOKE", "BEGIN", "COMMIT", "ROLLBACK", "VACUUM",
];

fn parser_error(err: ParserError) -> ExprError {
    let text = match &err {
        ParserError::TokenizerError(s) | ParserError::ParserError(s) => s.clone(),
        ParserError::RecursionLimitExceeded => {
            return ExprError::new("the expression is nested too deeply", None);
        }
    };
    // sqlparser appends " at Line: L, Column: C"; turn it into a position.
    if let Some(i) = text.rfind(" at Line: ") {
        let (message, pos) = text.split_at(i);
        let mut numbers = pos
            .split(|c: char| !c.is_ascii_digit())
            .filter(|s| !s.is_empty())
            .filter_map(|s| s.parse::<u32>().ok());
        if let (Some(line), Some(column)) = (numbers.next(), numbers.next()) {
            return ExprError {
                message: format!("SQL syntax error: {message}"),
                help: None,
                line,
                column,
            };
        }
    }
    ExprError::new(format!("SQL syntax error: {text}"), None)
}

/// Checks that a parsed fragment fits its role.
pub fn check(expr: &Expr, role: ExprRole) -> Result<(), ExprError> {
    let mut inspector = Inspector::default();
    let _ = expr.visit(&mut inspector);
    if let Some(name) = inspector.window {
        return Err(ExprError::new(
            format!("window functions are not allowed (`{name}(...) OVER ...`)"),
            Some("metrics are aggregated per slice, segment and period; remove the OVER clause"),
        ));
    }
    match role {
        ExprRole::Predicate => {
            if let Some(name) = inspector.aggregates.first() {
                return Err(ExprError::new(
                    format!("aggregate function `{name}` is not allowed in a `where` predicate"),
                    Some(
                        "a predicate is evaluated for each row; aggregates belong in a metric's numerator or denominator",
                    ),
                ));
            }
        }
        ExprRole::Aggregate => {
            if let Some(name) = inspector.nested_aggregate {
                return Err(ExprError::new(
                    format!("aggregate function `{name}` is nested inside another aggregate"),
                    None,
                ));
            }
            if inspector.aggregates.is_empty() {
                return Err(ExprError::new(
                    "the expression has no aggregate function",
                    Some(
                        "a metric aggregates rows, e.g. `SUM(revenue)`, `COUNT(*)`, `COUNT(DISTINCT user_id)`, `AVG(x)`, `MEDIAN(x)`",
                    ),
                ));
            }
            if let Some(column) = inspector.bare_columns.first() {
                return Err(ExprError::new(
                    format!("column `{column}` is used outside an aggregate function"),
                    Some("wrap it in an aggregate, e.g. `SUM(...)` or `MAX(...)`"),
                ));
            }
        }
    }
    Ok(())
}

/// The columns a fragment reads (unqualified: `t.revenue` gives `revenue`), in order of first
/// use, without duplicates. Columns inside subqueries belong to other tables and are left out.
pub fn columns(expr: &Expr) -> Vec<String> {
    let mut inspector = Inspector::default();
    let _ = expr.visit(&mut inspector);
    inspector.columns
}

/// The columns a fragment reads, as identifiers (keeping whether they were quoted).
pub fn column_idents(expr: &Expr) -> Vec<super::Ident> {
    let mut inspector = Inspector::default();
    let _ = expr.visit(&mut inspector);
    inspector.idents
}

/// Makes a parsed fragment mean, on `dialect`, what it means on every backend, for a statement
/// that reads one table: column qualifiers are dropped (`events.revenue`, `_dim.platform` become
/// `revenue`, `platform`) outside subqueries, and
///
/// - `/` divides in floating point and gives NULL for a zero divisor, as on DuckDB: on PostgreSQL
///   `CAST(a AS DOUBLE PRECISION) / NULLIF(b, 0)`, on BigQuery `SAFE_DIVIDE(a, b)`;
/// - on BigQuery (GoogleSQL): `agg(x) FILTER (WHERE c)` becomes `agg(IF(c, x, NULL))`
///   (`COUNT(*)`: `COUNT(IF(c, 1, NULL))`), `x::type` becomes `CAST(x AS type)` with GoogleSQL's
///   type names, `a ILIKE b` becomes `LOWER(a) LIKE LOWER(b)`, string literals are written in
///   GoogleSQL's quoting, and quoted names in backticks. A construct with no GoogleSQL
///   counterpart (a lambda) is an error.
pub fn translate(expr: &Expr, dialect: Dialect) -> Result<Expr, ExprError> {
    let mut expr = expr.clone();
    let _ = VisitMut::visit(&mut expr, &mut Unqualifier { depth: 0 });
    match dialect {
        Dialect::DuckDb => {}
        Dialect::Postgres => {
            let _ = VisitMut::visit(&mut expr, &mut PostgresRewrite);
        }
        Dialect::BigQuery => {
            if let ControlFlow::Break(err) = VisitMut::visit(&mut expr, &mut GoogleSqlRewrite) {
                return Err(err);
            }
        }
    }
    Ok(expr)
}

/// A translated fragment as SQL text.
pub fn render(expr: &Expr) -> String {
    expr.to_string()
}

/// A call of a plain function.
fn call(name: &str, args: Vec<Expr>) -> Expr {
    Expr::Function(Function {
        name: ObjectName(vec![ObjectNamePart::Identifier(SqlIdent::new(name))]),
        uses_odbc_syntax: false,
        parameters: FunctionArguments::None,
        args: FunctionArguments::List(FunctionArgumentList {
            duplicate_treatment: None,
            args: args
                .into_iter()
                .map(|e| FunctionArg::Unnamed(FunctionArgExpr::Expr(e)))
                .collect(),
            clauses: Vec::new(),
        }),
        within_group: Vec::new(),
        filter: None,
        null_treatment: None,
        over: None,
    })
}

/// Takes an expression out of its place, leaving NULL.
fn take(expr: &mut Expr) -> Expr {
    std::mem::replace(expr, Expr::value(Value::Null))
}

/// PostgreSQL: `a / b` becomes `CAST(a AS DOUBLE PRECISION) / NULLIF(b, 0)`.
struct PostgresRewrite;

impl VisitorMut for PostgresRewrite {
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
            **right = call(
                "NULLIF",
                vec![take(right), Expr::value(Value::Number("0".into(), false))],
            );
        }
        ControlFlow::Continue(())
    }
}

/// BigQuery: see [`translate`].
struct GoogleSqlRewrite;

impl GoogleSqlRewrite {
    /// GoogleSQL's name of a type written for another backend.
    fn data_type(ty: &DataType) -> Option<DataType> {
        let name = |n: &str| {
            Some(DataType::Custom(
                ObjectName(vec![ObjectNamePart::Identifier(SqlIdent::new(n))]),
                Vec::new(),
            ))
        };
        match ty {
            DataType::Varchar(_)
            | DataType::Text
            | DataType::Char(_)
            | DataType::Character(_)
            | DataType::CharVarying(_)
            | DataType::CharacterVarying(_)
            | DataType::String(_) => name("STRING"),
            DataType::Int(_)
            | DataType::Integer(_)
            | DataType::BigInt(_)
            | DataType::SmallInt(_)
            | DataType::TinyInt(_)
            | DataType::Int2(_)
            | DataType::Int4(_)
            | DataType::Int8(_)
            | DataType::Int64 => name("INT64"),
            DataType::Double(_)
            | DataType::DoublePrecision
            | DataType::Float(_)
            | DataType::Real
            | DataType::Float4
            | DataType::Float8
            | DataType::Float64 => name("FLOAT64"),
            DataType::Boolean | DataType::Bool => name("BOOL"),
            DataType::Decimal(_) | DataType::Numeric(_) | DataType::Dec(_) => name("NUMERIC"),
            DataType::Timestamp(_, sqlparser::ast::TimezoneInfo::None)
            | DataType::Timestamp(_, sqlparser::ast::TimezoneInfo::WithoutTimeZone)
            | DataType::Datetime(_) => name("DATETIME"),
            DataType::Timestamp(..) => name("TIMESTAMP"),
            _ => None,
        }
    }
}

impl VisitorMut for GoogleSqlRewrite {
    type Break = ExprError;

    fn pre_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<ExprError> {
        let construct = match expr {
            Expr::Lambda(_) => "a lambda function",
            Expr::BinaryOp {
                op: BinaryOperator::Arrow | BinaryOperator::LongArrow,
                ..
            } => "the `->` operator (a lambda, or JSON access)",
            _ => return ControlFlow::Continue(()),
        };
        ControlFlow::Break(ExprError::new(
            format!("`{expr}`: {construct} has no counterpart in BigQuery's SQL"),
            None,
        ))
    }

    fn post_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<ExprError> {
        match expr {
            Expr::BinaryOp {
                left,
                op: BinaryOperator::Divide,
                right,
            } => *expr = call("SAFE_DIVIDE", vec![take(left), take(right)]),
            Expr::Function(f) if f.filter.is_some() => {
                let condition = *f.filter.take().expect("checked");
                if let FunctionArguments::List(list) = &mut f.args {
                    for arg in &mut list.args {
                        let value = match arg {
                            FunctionArg::Unnamed(FunctionArgExpr::Wildcard) => {
                                Expr::value(Value::Number("1".into(), false))
                            }
                            FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => take(e),
                            _ => continue,
                        };
                        *arg = FunctionArg::Unnamed(FunctionArgExpr::Expr(call(
                            "IF",
                            vec![condition.clone(), value, Expr::value(Value::Null)],
                        )));
                    }
                }
            }
            Expr::Cast {
                kind, data_type, ..
            } => {
                if *kind == CastKind::DoubleColon {
                    *kind = CastKind::Cast;
                }
                if let Some(google) = GoogleSqlRewrite::data_type(data_type) {
                    *data_type = google;
                }
            }
            Expr::ILike {
                negated,
                any: false,
                expr: subject,
                pattern,
                escape_char,
            } => {
                *expr = Expr::Like {
                    negated: *negated,
                    any: false,
                    expr: Box::new(call("LOWER", vec![take(subject)])),
                    pattern: Box::new(call("LOWER", vec![take(pattern)])),
                    escape_char: escape_char.take(),
                }
            }
            Expr::Identifier(ident) if ident.quote_style.is_some() => {
                ident.quote_style = Some('`');
            }
            Expr::CompoundIdentifier(parts) => {
                for ident in parts.iter_mut().filter(|i| i.quote_style.is_some()) {
                    ident.quote_style = Some('`');
                }
            }
            Expr::Value(value) => {
                if let Value::SingleQuotedString(text) | Value::DoubleQuotedString(text) =
                    &value.value
                {
                    *expr = google_string(text);
                }
            }
            _ => {}
        }
        ControlFlow::Continue(())
    }
}

/// A string literal that GoogleSQL reads back as `text`: in single quotes when it needs no
/// escaping, in double quotes when it holds single quotes only, and otherwise spelled out as code
/// points (GoogleSQL's backslash escapes have no counterpart in the standard quoting that sqlparser
/// writes).
fn google_string(text: &str) -> Expr {
    let plain = !text.contains(['\\', '\n', '\r']);
    if plain && !text.contains('\'') {
        Expr::value(Value::SingleQuotedString(text.to_string()))
    } else if plain && !text.contains('"') {
        Expr::value(Value::DoubleQuotedString(text.to_string()))
    } else {
        let points = text
            .chars()
            .map(|c| Expr::value(Value::Number((c as u32).to_string(), false)))
            .collect();
        call(
            "CODE_POINTS_TO_STRING",
            vec![Expr::Array(sqlparser::ast::Array {
                elem: points,
                named: false,
            })],
        )
    }
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

fn function_name(f: &Function) -> String {
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
fn is_aggregate(f: &Function) -> bool {
    f.over.is_none()
        && (AGGREGATES.contains(&function_name(f).as_str())
            || !f.within_group.is_empty()
            || f.filter.is_some())
}

/// Walks an expression once, collecting what `check` and `columns` need.
#[derive(Default)]
struct Inspector {
    query_depth: usize,
    aggregate_depth: usize,
    lambda_params: Vec<Vec<String>>,
    aggregates: Vec<String>,
    nested_aggregate: Option<String>,
    window: Option<String>,
    bare_columns: Vec<String>,
    columns: Vec<String>,
    idents: Vec<super::Ident>,
    seen: HashSet<String>,
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

/// Drops column qualifiers outside subqueries.
struct Unqualifier {
    depth: usize,
}

impl VisitorMut for Unqualifier {
    type Break = ();

    fn pre_visit_query(&mut self, _: &mut Query) -> ControlFlow<()> {
        self.depth += 1;
        ControlFlow::Continue(())
    }

    fn post_visit_query(&mut self, _: &mut Query) -> ControlFlow<()> {
        self.depth -= 1;
        ControlFlow::Continue(())
    }

    fn pre_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        if self.depth == 0
            && let Expr::CompoundIdentifier(parts) = expr
            && let Some(last) = parts.pop()
        {
            *expr = Expr::Identifier(last);
        }
        ControlFlow::Continue(())
    }
}

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
    let name = function_name(f);
    Some(match name.as_str() {
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
pub enum Total {
    /// `SUM(x)` or `COUNT(...)` (with an optional `FILTER`): values of periods add up.
    Additive,
    /// `COUNT(DISTINCT x)`: 0 over no rows, but periods do not add up.
    Distinct,
}

/// Whether a fragment is exactly one `SUM`, `COUNT` or `COUNT(DISTINCT ...)` call.
pub fn single_total(expr: &Expr) -> Option<Total> {
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

fn strip_parentheses(expr: &Expr) -> &Expr {
    match expr {
        Expr::Nested(inner) => strip_parentheses(inner),
        other => other,
    }
}

/// Partial aggregates shared by the metrics of one statement, by rendered SQL.
#[derive(Debug, Default)]
pub struct Partials {
    /// Rendered partial aggregate expressions; the one at index `i` is named `Partials::name(i)`.
    pub exprs: Vec<String>,
    /// The aggregate that rolls each partial up (`SUM` for sums and counts, `MAX` for maxima, ...).
    pub rollups: Vec<String>,
}

impl Partials {
    /// The column name of partial `i`.
    pub fn name(i: usize) -> String {
        format!("__p{i}")
    }

    fn add(&mut self, mut function: Function, rollup: &str) -> String {
        // Upper-case the function name so `sum(x)` and `SUM(x)` share one partial.
        if let [ObjectNamePart::Identifier(name)] = function.name.0.as_mut_slice()
            && name.quote_style.is_none()
        {
            name.value = name.value.to_uppercase();
        }
        let rendered = render(&Expr::Function(function));
        let index = match self.exprs.iter().position(|e| *e == rendered) {
            Some(i) => i,
            None => {
                self.exprs.push(rendered);
                self.rollups.push(rollup.to_uppercase());
                self.exprs.len() - 1
            }
        };
        Partials::name(index)
    }
}

/// Rewrites an aggregate fragment for the two-stage plan: each aggregate call is added to
/// `partials` (computed per finest group in the first stage) and replaced by an expression over
/// the rolled-up partials, where column `__pi` holds partial *i* rolled up with
/// `partials.rollups[i]`. Returns the rewritten (rendered) expression, or `None` when an
/// aggregate cannot be rolled up (`COUNT(DISTINCT ...)`, `MEDIAN`, ...).
pub fn decompose(expr: &Expr, dialect: Dialect, partials: &mut Partials) -> Option<String> {
    let mut expr = expr.clone();
    let mut collector = AggregateCollector::default();
    let _ = VisitMut::visit(&mut expr, &mut collector);
    let mut finals = Vec::new();
    for call in collector.calls {
        let kind = decomposition(&call)?;
        let text = match kind {
            Decomposition::Sum => partials.add(call, "SUM"),
            Decomposition::Count => format!("COALESCE({}, 0)", partials.add(call, "SUM")),
            Decomposition::Avg => {
                let sum = partials.add(renamed(&call, "sum"), "SUM");
                let count = partials.add(renamed(&call, "count"), "SUM");
                format!(
                    "{} / NULLIF({count}, 0)",
                    dialect.cast(&sum, SqlType::Double)
                )
            }
            Decomposition::Same => {
                let rollup = function_name(&call);
                partials.add(call, &rollup)
            }
        };
        finals.push(parse(&text, Some(dialect)).ok()?);
    }
    let _ = VisitMut::visit(&mut expr, &mut Substituter { finals });
    Some(render(&expr))
}

fn renamed(call: &Function, name: &str) -> Function {
    let mut call = call.clone();
    call.name = ObjectName(vec![ObjectNamePart::Identifier(SqlIdent::new(name))]);
    call
}

fn placeholder(i: usize) -> String {
    format!("__agg{i}")
}

/// Replaces each outermost aggregate call (outside subqueries) by a placeholder identifier.
#[derive(Default)]
struct AggregateCollector {
    depth: usize,
    calls: Vec<Function>,
}

impl VisitorMut for AggregateCollector {
    type Break = ();

    fn pre_visit_query(&mut self, _: &mut Query) -> ControlFlow<()> {
        self.depth += 1;
        ControlFlow::Continue(())
    }

    fn post_visit_query(&mut self, _: &mut Query) -> ControlFlow<()> {
        self.depth -= 1;
        ControlFlow::Continue(())
    }

    fn pre_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        if self.depth == 0
            && let Expr::Function(f) = expr
            && is_aggregate(f)
        {
            let name = placeholder(self.calls.len());
            self.calls.push(f.clone());
            *expr = Expr::Identifier(SqlIdent::new(name));
        }
        ControlFlow::Continue(())
    }
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
            && let Some(index) = ident.value.strip_prefix("__agg")
            && let Ok(i) = index.parse::<usize>()
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

    fn duck(text: &str) -> Expr {
        parse(text, Some(Dialect::DuckDb)).unwrap()
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
    fn rejects_trailing_text_and_statements() {
        for (text, fragment) in [
            ("SUM(x); DROP TABLE t", "`;`"),
            ("SUM(x) FROM t", "unexpected"),
            ("SUM(x) )", "unexpected"),
            ("SELECT 1", "starts a statement"),
            ("DROP TABLE t", "starts a statement"),
            ("", "empty"),
            ("SUM(x", "SQL syntax error"),
        ] {
            let err = parse(text, Some(Dialect::DuckDb)).unwrap_err();
            assert!(err.message.contains(fragment), "{text}: {err:?}");
        }
        let err = parse("SUM(x) FROM t", Some(Dialect::DuckDb)).unwrap_err();
        assert_eq!((err.line, err.column), (1, 8));
    }

    #[test]
    fn aggregate_role_needs_an_aggregate_around_every_column() {
        for ok in [
            "SUM(clicks)",
            "COUNT(*)",
            "COUNT(DISTINCT user_id)",
            "SUM(clicks) / NULLIF(SUM(impressions), 0)",
            "MEDIAN(x)",
            "quantile_cont(x, 0.9)",
            "APPROX_COUNT_DISTINCT(u)",
            "COUNTIF(x > 1)",
            "100 * AVG(x)",
            "SUM(x) FILTER (WHERE y > 0)",
            "percentile_cont(0.5) WITHIN GROUP (ORDER BY x)",
        ] {
            check(&duck(ok), ExprRole::Aggregate).unwrap_or_else(|e| panic!("{ok}: {e:?}"));
        }
        for (bad, fragment) in [
            ("clicks", "no aggregate"),
            ("SUM(x) + y", "outside an aggregate"),
            ("SUM(MAX(x))", "nested"),
            ("SUM(x) OVER ()", "window"),
            ("lower(x)", "no aggregate"),
        ] {
            let err = check(&duck(bad), ExprRole::Aggregate).unwrap_err();
            assert!(err.message.contains(fragment), "{bad}: {err:?}");
        }
    }

    #[test]
    fn predicate_role_rejects_aggregates() {
        check(&duck("a = 1 AND b IN ('x', 'y')"), ExprRole::Predicate).unwrap();
        check(
            &duck("user_id IN (SELECT user_id FROM vip GROUP BY 1 HAVING COUNT(*) > 1)"),
            ExprRole::Predicate,
        )
        .unwrap();
        assert!(check(&duck("SUM(x) > 1"), ExprRole::Predicate).is_err());
    }

    #[test]
    fn columns_are_unqualified_and_skip_subqueries_and_lambdas() {
        let expr = duck(
            "SUM(t.revenue) / NULLIF(SUM(revenue + \"Tax Amount\"), 0) + MAX((SELECT MAX(z) FROM o))",
        );
        assert_eq!(columns(&expr), ["revenue", "Tax Amount"]);
        let expr = duck("len(list_filter(tags, x -> x = 'a')) > 0");
        assert_eq!(columns(&expr), ["tags"]);
    }

    #[test]
    fn render_drops_qualifiers_and_comments() {
        let expr = duck("_dim.platform_group = 'search' -- trailing comment");
        assert_eq!(
            render(&translate(&expr, Dialect::DuckDb).unwrap()),
            "platform_group = 'search'"
        );
    }

    fn translated(text: &str, dialect: Dialect) -> String {
        render(&translate(&parse(text, Some(dialect)).unwrap(), dialect).unwrap())
    }

    #[test]
    fn division_is_in_floating_point_and_null_for_zero_everywhere() {
        let text = "SUM(a) / SUM(b) + 1 / 2";
        assert_eq!(
            translated(text, Dialect::Postgres),
            "CAST(SUM(a) AS DOUBLE PRECISION) / NULLIF(SUM(b), 0) + CAST(1 AS DOUBLE PRECISION) / NULLIF(2, 0)"
        );
        assert_eq!(
            translated(text, Dialect::BigQuery),
            "SAFE_DIVIDE(SUM(a), SUM(b)) + SAFE_DIVIDE(1, 2)"
        );
        assert_eq!(translated(text, Dialect::DuckDb), "SUM(a) / SUM(b) + 1 / 2");
        let expr = translate(
            &parse(text, Some(Dialect::Postgres)).unwrap(),
            Dialect::Postgres,
        )
        .unwrap();
        let mut partials = Partials::default();
        let ratio = decompose(&expr, Dialect::Postgres, &mut partials).unwrap();
        assert_eq!(
            ratio,
            "CAST((__p0) AS DOUBLE PRECISION) / NULLIF((__p1), 0) + CAST(1 AS DOUBLE PRECISION) / NULLIF(2, 0)"
        );
    }

    #[test]
    fn standard_sql_becomes_google_sql() {
        let bq = |text: &str| translated(text, Dialect::BigQuery);
        assert_eq!(
            bq("COUNT(*) FILTER (WHERE converted) + SUM(x) FILTER (WHERE y > 0)"),
            "COUNT(IF(converted, 1, NULL)) + SUM(IF(y > 0, x, NULL))"
        );
        assert_eq!(
            bq("SUM(x::INTEGER) + MAX(CAST(y AS VARCHAR) = 'a')"),
            "SUM(CAST(x AS INT64)) + MAX(CAST(y AS STRING) = 'a')"
        );
        assert_eq!(
            bq("name ILIKE 'kid%' AND events.country = 'Kids'' Toys'"),
            "LOWER(name) LIKE LOWER('kid%') AND country = \"Kids' Toys\""
        );
        // A value with both quotes (or a backslash) is spelled out as code points.
        assert_eq!(
            bq("country = 'O''Neil \"Inc\"'"),
            "country = CODE_POINTS_TO_STRING([79, 39, 78, 101, 105, 108, 32, 34, 73, 110, 99, 34])"
        );
        let slice = parse("\"Weird Col\" = 'x'", None).unwrap();
        assert_eq!(
            render(&translate(&slice, Dialect::BigQuery).unwrap()),
            "`Weird Col` = 'x'"
        );
        let lambda = parse(
            "len(list_filter(tags, x -> x = 'a')) > 0",
            Some(Dialect::DuckDb),
        )
        .unwrap();
        let err = translate(&lambda, Dialect::BigQuery).unwrap_err();
        assert!(
            err.message.contains("a lambda function has no counterpart"),
            "{err:?}"
        );
        let arrow = parse("len(list_filter(tags, x -> x = 'a')) > 0", None).unwrap();
        let err = translate(&arrow, Dialect::BigQuery).unwrap_err();
        assert!(err.message.contains("`->` operator"), "{err:?}");
    }

    #[test]
    fn decomposes_sums_counts_averages_and_extremes() {
        let mut partials = Partials::default();
        let ctr = decompose(
            &duck("SUM(clicks) / NULLIF(SUM(impressions), 0)"),
            Dialect::DuckDb,
            &mut partials,
        )
        .unwrap();
        assert_eq!(ctr, "(__p0) / NULLIF((__p1), 0)");
        let avg = decompose(&duck("AVG(clicks)"), Dialect::DuckDb, &mut partials).unwrap();
        assert_eq!(
            avg, "(CAST(__p0 AS DOUBLE) / NULLIF(__p2, 0))",
            "the partial SUM(clicks) is shared"
        );
        let count = decompose(&duck("COUNT(*)"), Dialect::DuckDb, &mut partials).unwrap();
        assert_eq!(count, "(COALESCE(__p3, 0))");
        let max = decompose(
            &duck("MAX(x) FILTER (WHERE y)"),
            Dialect::DuckDb,
            &mut partials,
        )
        .unwrap();
        assert_eq!(max, "(__p4)");
        assert_eq!(
            partials.exprs,
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
    fn distinct_and_holistic_aggregates_do_not_decompose() {
        for text in [
            "COUNT(DISTINCT u)",
            "MEDIAN(x)",
            "SUM(x) / COUNT(DISTINCT u)",
            "string_agg(x, ',' ORDER BY x)",
        ] {
            let mut partials = Partials::default();
            assert!(
                decompose(&duck(text), Dialect::DuckDb, &mut partials).is_none(),
                "{text}"
            );
        }
    }
}
