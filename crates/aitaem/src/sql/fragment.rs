//! SQL fragments written in specs: metric aggregates (`numerator`, `denominator`) and
//! predicates (`where`): parsing, checking, and the translation for a backend.
//!
//! Each fragment is parsed as exactly one SQL expression: trailing text, `;`, and statements are
//! rejected. Fragments are never pasted into generated SQL as written: the parsed expression is
//! rendered back (which drops comments and normalises spacing) and wrapped in parentheses, so a
//! fragment cannot reach outside its own expression.

use sqlparser::ast::{Expr, Visit};
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::Token;

use super::ast::rewrite_outside_subqueries;
use super::dialect::Dialect;
use super::inspect::Inspector;

/// What a fragment is used for, which decides what it may contain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ExprRole {
    /// A metric's `numerator` or `denominator`: at least one aggregate call, and every column
    /// inside one.
    Aggregate,
    /// A `where` predicate, evaluated per row: no aggregate calls.
    Predicate,
    /// A metric's or a request's `filter`: a predicate without subqueries.
    Filter,
}

/// A problem with a fragment, positioned inside the fragment's text (1-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ExprError {
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
    pub(crate) fn new(message: impl Into<String>, help: Option<&str>) -> Self {
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
pub(crate) fn parse(text: &str, dialect: Option<&dyn Dialect>) -> Result<Expr, ExprError> {
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
pub(crate) fn check(expr: &Expr, role: ExprRole) -> Result<(), ExprError> {
    let mut inspector = Inspector::default();
    let _ = expr.visit(&mut inspector);
    if let Some(name) = inspector.window {
        return Err(ExprError::new(
            format!("window functions are not allowed (`{name}(...) OVER ...`)"),
            Some("metrics are aggregated per slice, segment and period; remove the OVER clause"),
        ));
    }
    if role == ExprRole::Filter && inspector.subquery {
        return Err(ExprError::new(
            "subqueries are not allowed in a filter",
            Some("a filter is a condition on each row's own columns, e.g. `status = 'completed'`"),
        ));
    }
    match role {
        ExprRole::Predicate | ExprRole::Filter => {
            if let Some(name) = inspector.aggregates.first() {
                return Err(ExprError::new(
                    format!("aggregate function `{name}` is not allowed in a row predicate"),
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

/// Makes a parsed fragment mean, on `dialect`, what it means on every backend, for a statement
/// that reads one table: column qualifiers are dropped (`events.revenue`, `_dim.platform` become
/// `revenue`, `platform`) outside subqueries, and the dialect rewrites what its SQL spells
/// differently ([`Dialect::rewrite`]: for example, `/` divides in floating point and gives NULL
/// for a zero divisor everywhere, as on DuckDB).
pub(crate) fn translate(expr: &Expr, dialect: &dyn Dialect) -> Result<Expr, ExprError> {
    let mut expr = expr.clone();
    // Column qualifiers dropped outside subqueries.
    rewrite_outside_subqueries(&mut expr, |e| {
        if let Expr::CompoundIdentifier(parts) = e
            && let Some(last) = parts.pop()
        {
            *e = Expr::Identifier(last);
        }
    });
    dialect.rewrite(&mut expr)?;
    Ok(expr)
}
