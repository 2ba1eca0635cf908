//! lakeport's transform stage: dataset schemas and the JSON → Arrow decoder.
//!
//! A [`Schema`] is read from a TOML file (`schemas/<dataset>.toml`, documented in
//! `schemas/README.md`). A [`Decoder`] built from it turns the bytes of Kafka messages
//! (one or many newline-delimited JSON records, optionally gzip- or zstd-compressed) into
//! Arrow [`RecordBatch`](arrow_array::RecordBatch)es and a list of [`Reject`]s.
//!
//! ```
//! use transform::{Decoder, Schema};
//!
//! let schema = Schema::from_toml_str(r#"
//!     name = "demo"
//!     version = 1
//!     [[field]]
//!     name = "host"
//!     type = "string"
//! "#, "demo.toml").unwrap();
//! let mut decoder = Decoder::new(schema.into()).unwrap();
//! let rejects = decoder.decode(b"{\"host\":\"a\"}\n{\"host\":1}\n");
//! assert_eq!(rejects.len(), 1);
//! let batch = decoder.flush().unwrap();
//! assert_eq!(batch.num_rows(), 1);
//! ```

mod decode;
mod error;
mod schema;

pub use decode::{write_json_string, Compressed, Decoder, Reject, RejectReason};
pub use error::Error;
pub use schema::{
    Aggregate, check_ident, infer_schema, BadName, ClickHouseHints, Interval, Measure, Rollup, SkipIndex, Unnest, ColumnRef, DefaultValue, Derived, DerivedKind, Engine, Field, LogicalType, ParquetHints,
    PartitionGranularity, Schema, TimestampUnit, Ttl, UnknownFields, EXTRA_COLUMN, SOURCE_COLUMNS,
};
