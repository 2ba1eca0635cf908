//! ClickHouse: column types for a dataset schema and the table that holds it.

mod ddl;
mod types;

pub use ddl::create_table;
pub use types::{column_type, Dialect};
