//! The schema language: model, parsing and validation, types, identifiers, inference.

mod ident;
mod infer;
mod model;
mod parse;
mod types;

pub use ident::{check_ident, BadName};
pub use infer::infer_schema;
pub use model::*;
pub use types::LogicalType;
pub(crate) use types::map_entries_field;
