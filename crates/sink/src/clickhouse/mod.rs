//! ClickHouse: table definitions for a dataset schema, and the writer that inserts decoded
//! batches over the HTTP(S) interface.
//!
//! The [`ClickHouseWriter`] reads the server's version and the table's real column types
//! (`system.columns`) before its first insert, then sends each batch as one `INSERT INTO
//! db.t (columns…) FORMAT Native` request whose body is a Native block encoded straight from
//! the Arrow arrays into those types ([`NativeEncoder`]); gzip-compressed for servers before
//! 20.12, zstd after (`compression` overrides). A batch that does not fit the table fails
//! before anything is sent, naming the column and both types.
//!
//! Failed requests are retried with exponential backoff and jitter when a retry can help
//! (connection failures, timeouts, overload: the full list with reasons is in `retry.rs`);
//! data errors come back as [`Error::ClickHouseRejected`](crate::Error::ClickHouseRejected)
//! so the pipeline can bisect the batch, everything else fails at once.
//!
//! # Duplicates
//!
//! On ClickHouse 22.2 and later every insert carries `insert_deduplication_token =
//! BatchId::token()` (with `insert_deduplicate = 1` and `async_insert = 0`, since
//! asynchronous inserts ignore the token), so a batch inserted again — a retry after a
//! timeout whose insert did land, a replay after a crash — adds no rows, provided that:
//!
//! - the table deduplicates: `Replicated*MergeTree` does by default; plain `MergeTree` and
//!   `ReplacingMergeTree` only when their table setting `non_replicated_deduplication_window`
//!   is above 0 (the default, 0, turns deduplication off);
//! - the repeat comes within the window: the last `*_deduplication_window` inserted parts
//!   of the table, and for replicated tables also `replicated_deduplication_window_seconds`
//!   (defaults differ by version: 26.9 keeps 10000 parts for one hour, older versions 100
//!   for one week);
//! - the repeat carries the same token. The token, not the content, decides: a batch
//!   re-decoded differently under the same offsets is dropped as a repeat.
//!
//! One insert becomes one part per partition it touches: the writer sends each batch as a
//! single Native block, which the server does not split by `max_insert_block_size` (checked
//! on 18.16 and 26.9). ClickHouse records the token per part, so a retry after a failure
//! that left some parts written adds only the missing ones.
//!
//! ClickHouse 18.16 (Debian's package) has no token and no non-replicated deduplication:
//! there the writer just inserts, and an insert repeated after it landed duplicates its
//! rows (replicated tables still drop a byte-identical block), so the pipeline keeps its
//! own ledger of batches ([`crate::ledger`]) and inserts an interrupted batch again with
//! [`ClickHouseWriter::insert_once`], which counts what is there first.

mod body;
mod census;
mod cluster;
mod columns;
mod config;
mod ddl;
mod dedup;
mod migrate;
mod native;
mod once;
mod probe;
mod retry;
mod rollup;
mod service;
mod types;
mod version;
mod writer;

pub use census::{message_rows, MessageRows};
pub use columns::TableColumn;
pub use config::{ClickHouseConfig, Compression, ValidatedConfig};
pub use cluster::{distributed_name, with_quorum};
pub use ddl::{create_on_cluster, create_table, dialect_notes, keep_tokens, table_columns};
pub(crate) use cluster::{on_cluster, replicated};
pub(crate) use ddl::{quote_ident, quote_str};
pub use dedup::keeps_tokens;
pub use migrate::{apply as apply_migration, plan as plan_migration};
pub use native::NativeEncoder;
pub use probe::{is_data_error, Probe};
pub use rollup::RollupTable;
pub use service::Client;
pub use types::{column_type, Dialect};
pub use writer::{ClickHouseWriter, InsertStats};
