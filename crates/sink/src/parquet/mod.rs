//! The Parquet side of the lake: encoding settings, the local file writer of `lakeport
//! convert`, the [`LakeWriter`] that puts decoded batches into object storage, and the
//! [`LakeReader`] that reads them back.
//!
//! # Layout
//!
//! ```text
//! <url prefix>/<dataset>/<col>=<value>/…/<topic>-<partition>-<first offset>-<last offset>-p000.parquet
//! s3://bucket/lake/gateway_dns/date=2026-11-23/hour=7/gateway_dns-0-00000000000000001000-00000000000000001999-p000.parquet
//! ```
//!
//! - Hive partitioning by the schema's `[parquet] partition_by` columns, in that order, so
//!   DuckDB, Spark, Trino, pyarrow and ClickHouse's `s3()` prune by them. As in Hive and
//!   Spark, partition columns live in the path only, not in the files: a reader that also
//!   found them in the files would have two conflicting definitions (pyarrow refuses to
//!   merge `date32` with the `string` it infers from the path).
//! - Values: dates as `YYYY-MM-DD`, integers in plain decimal, bools as `true`/`false`.
//!   Hours are **not** zero-padded: DuckDB infers `hour=07` as VARCHAR (and then prefers it
//!   to any file column), while `hour=7` reads as BIGINT in DuckDB and int32 in pyarrow,
//!   like the directories Spark and DuckDB write themselves. Dates read as DATE in DuckDB and
//!   as strings in pyarrow (which infers only integers).
//! - Values are escaped as Hive does (see `layout::escape`): `/`, `=`, `%`, control
//!   characters and the other reserved characters become `%XX`, `.` and `..` become `%2E`…;
//!   null and the empty string become `__HIVE_DEFAULT_PARTITION__` and read back as null.
//!   No value can add, remove or climb out of a directory level. Topics in object names are
//!   escaped the same way.
//!
//! # One batch, a few objects
//!
//! Files are rolled upstream: the pipeline's batcher cuts batches of lake size (rows, bytes,
//! age), and a batch is the unit of commit. [`LakeWriter::write`] writes one batch as one
//! object per partition directory its rows fall in, cut into parts `-p000`, `-p001`, … of
//! at most `max_file_rows` rows, in row order. Names derive only from the
//! [`BatchId`](crate::BatchId) and the rows, so a replayed batch overwrites its objects
//! instead of adding duplicates, as long as it is replayed with the same offsets, schema
//! and `max_file_rows`. Each file's key-value metadata records the dataset, schema version,
//! source topic, partition and offsets, and the partition columns.
//!
//! An object is visible whole or not at all: a file up to `multipart_part_bytes` is one PUT;
//! a larger one is a multipart upload completed after its last part, aborted on failure (an
//! upload interrupted by a crash is never completed and stays invisible; an S3 lifecycle
//! rule `AbortIncompleteMultipartUpload` reclaims its parts). Local lakes write a staging
//! file and rename it, with fsync.
//!
//! # Memory and retries
//!
//! Encoding runs on tokio's blocking pool, one row group at a time; a write holds at most the
//! row group being encoded (up to `row_group_bytes`), the previous one while it uploads (its
//! parts, at most `max_concurrent_uploads` of `multipart_part_bytes` in flight, are slices
//! of it, not copies) and less than one part being filled, plus a copy of one 8192-row slice
//! when a partition's rows are not contiguous. Objects are written one after the other.
//!
//! Transient store errors (5xx, throttling, timeouts, dropped connections) are retried by
//! `object_store` itself, with exponential backoff from 100 ms to 15 s, up to `max_retries`
//! times within `retry_timeout`; what still fails is returned as [`Error::LakeUpload`](crate::Error::LakeUpload).

mod config;
mod file;
mod inventory;
mod layout;
mod object;
mod partition;
mod properties;
mod reader;
mod store;
mod upload;
mod writer;
#[cfg(test)]
mod tests;

pub use config::{Codec, LakeConfig, ValidLakeConfig};
pub use file::FileWriter;
pub use inventory::{lake_files, LakeFile};
pub use properties::WriterOptions;
pub use reader::LakeReader;
pub use writer::{LakeWriter, WrittenFile};
pub(crate) use layout::escape;
pub(crate) use store::open as open_store;
