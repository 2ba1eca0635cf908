//! lakeport's sinks: the Parquet lake and ClickHouse.
//!
//! - [`parquet`]: Parquet encoding of decoded batches (and, as the lake grows, object-store
//!   layout and rolling).
//! - [`clickhouse`]: ClickHouse table definitions for a dataset schema, and the writer that
//!   inserts batches over HTTP in Native format.
//! - [`ledger`]: the pipeline's record of which batches were started and finished (kept in
//!   ClickHouse, next to the data), from which a restart rebuilds the same batches.
//! - [`dead_letter`]: where rejected records go, with their reason and coordinates.

mod batch_id;
pub mod clickhouse;
pub mod dead_letter;
mod error;
pub mod ledger;
pub mod parquet;
mod tls;

pub use batch_id::BatchId;
pub use error::{Error, ErrorClass};
pub use tls::TlsConfig;
