//! SQL: the fragments written in specs (parsed, checked, inspected, rewritten per backend,
//! decomposed into partial aggregates), column names, the dialect trait every backend
//! implements, and the statement model the planner builds.

pub(crate) mod ast;
mod dialect;
pub(crate) mod filter;
pub(crate) mod fragment;
mod ident;
pub(crate) mod inspect;
pub(crate) mod quantile;
pub(crate) mod rollup;
pub(crate) mod tree;

pub(crate) use dialect::{Dialect, SqlType, standard_period_number, typed_time_bound};
pub use ident::{Ident, is_valid_name};
