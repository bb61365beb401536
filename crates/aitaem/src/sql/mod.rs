//! SQL fragments and dialects: parsing the expressions written in specs, checking them,
//! finding the columns they read, and rendering SQL for each backend.

mod dialect;
pub(crate) mod expr;
mod ident;

pub use dialect::{Dialect, SqlType};
pub use expr::{ExprError, ExprRole};
pub use ident::{Ident, is_valid_name};
