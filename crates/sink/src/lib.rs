//! lakeport's sinks: the Parquet lake and ClickHouse.
//!
//! - [`parquet`]: Parquet encoding of decoded batches (and, as the lake grows, object-store
//!   layout and rolling).
//! - [`clickhouse`]: ClickHouse table definitions for a dataset schema, and the writer that
//!   inserts batches over HTTP in Native format.

mod batch_id;
pub mod clickhouse;
pub mod dead_letter;
mod error;
pub mod parquet;

pub use batch_id::BatchId;
pub use error::{Error, ErrorClass};
