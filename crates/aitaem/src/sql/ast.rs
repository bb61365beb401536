//! Building blocks for rewriting parsed fragments: calls, names and numbers as sqlparser nodes.

use sqlparser::ast::{
    Expr, Function, FunctionArg, FunctionArgExpr, FunctionArgumentList, FunctionArguments,
    Ident as SqlIdent, ObjectName, ObjectNamePart, Value,
};

/// A call of a plain function.
pub(crate) fn call(name: &str, args: Vec<Expr>) -> Expr {
    Expr::Function(Function {
        name: object_name(name),
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

/// A one-part name, written as given (a function or type name).
pub(crate) fn object_name(name: &str) -> ObjectName {
    ObjectName(vec![ObjectNamePart::Identifier(SqlIdent::new(name))])
}

/// An unquoted identifier.
pub(crate) fn identifier(name: impl Into<String>) -> Expr {
    Expr::Identifier(SqlIdent::new(name))
}

/// A number literal.
pub(crate) fn number(text: &str) -> Expr {
    Expr::value(Value::Number(text.into(), false))
}

/// Takes an expression out of its place, leaving NULL.
pub(crate) fn take(expr: &mut Expr) -> Expr {
    std::mem::replace(expr, Expr::value(Value::Null))
}
