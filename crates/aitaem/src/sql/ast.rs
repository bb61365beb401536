//! Building blocks for rewriting parsed fragments: calls, names and numbers as sqlparser nodes.

use std::ops::ControlFlow;

use sqlparser::ast::{
    CastKind, DataType, Expr, Function, FunctionArg, FunctionArgExpr, FunctionArgumentList,
    FunctionArguments, Ident as SqlIdent, ObjectName, ObjectNamePart, Query, Value, VisitMut,
    VisitorMut,
};

/// A cast written `CAST(x AS type)` (not `x::type`), its type renamed by `rename` where it
/// gives a backend's own name; other expressions are left as they are.
pub(crate) fn cast_with_names(expr: &mut Expr, rename: impl Fn(&DataType) -> Option<DataType>) {
    if let Expr::Cast {
        kind, data_type, ..
    } = expr
    {
        if *kind == CastKind::DoubleColon {
            *kind = CastKind::Cast;
        }
        if let Some(renamed) = rename(data_type) {
            *data_type = renamed;
        }
    }
}

/// A quoted name (or the quoted parts of a qualified name) in backticks; other expressions are
/// left as they are.
pub(crate) fn quote_in_backticks(expr: &mut Expr) {
    let parts = match expr {
        Expr::Identifier(ident) => std::slice::from_mut(ident),
        Expr::CompoundIdentifier(parts) => parts.as_mut_slice(),
        _ => return,
    };
    for ident in parts.iter_mut().filter(|i| i.quote_style.is_some()) {
        ident.quote_style = Some('`');
    }
}

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

/// Calls `f` on every expression of `expr` outside subqueries, each before its children (so `f`
/// may replace an expression, and then visits what replaced it).
pub(crate) fn rewrite_outside_subqueries(expr: &mut Expr, f: impl FnMut(&mut Expr)) {
    struct Outside<F> {
        depth: usize,
        f: F,
    }
    impl<F: FnMut(&mut Expr)> VisitorMut for Outside<F> {
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
            if self.depth == 0 {
                (self.f)(expr);
            }
            ControlFlow::Continue(())
        }
    }
    let _ = VisitMut::visit(expr, &mut Outside { depth: 0, f });
}
