//! The validated schema model: what a schema file means once `parse` has checked it.

use std::collections::HashMap;
use std::sync::Arc;

use arrow_schema::{DataType, Field as ArrowField, Schema as ArrowSchema, SchemaRef};
use serde::Deserialize;

use super::types::LogicalType;

/// Name of the column that keeps unknown keys when `unknown_fields = "keep"`.
pub const EXTRA_COLUMN: &str = "_extra";

/// Columns that record where each row came from, appended after all others when the
/// decoder is given a source ([`crate::Decoder::with_source`]): Kafka topic, partition,
/// offset of the message, and 1-based line of the record within the message. Together they
/// identify a row uniquely, which is how sinks are checked for exactly-once delivery.
pub const SOURCE_COLUMNS: [(&str, LogicalType); 4] = [
    ("_topic", LogicalType::String),
    ("_partition", LogicalType::Int32),
    ("_offset", LogicalType::Int64),
    ("_line", LogicalType::UInt32),
];

/// A dataset's schema: its columns, how they are read from JSON, and how they are stored.
#[derive(Debug, Clone)]
pub struct Schema {
    /// Dataset name, a safe identifier.
    pub name: String,
    /// Schema version, ≥ 1.
    pub version: u32,
    /// One paragraph on the dataset.
    pub description: String,
    /// What happens to keys no field names.
    pub unknown_fields: UnknownFields,
    /// Records larger than this many bytes are rejected.
    pub max_record_bytes: usize,
    /// Columns read from the record, in output order.
    pub fields: Vec<Field>,
    /// Columns computed from other columns, after `fields` in output order.
    pub derived: Vec<Derived>,
    /// ClickHouse table layout.
    pub clickhouse: ClickHouseHints,
    /// Parquet lake layout.
    pub parquet: ParquetHints,
    /// Where the schema was read from (a file path), for messages.
    pub origin: String,
}

/// A field's default value, as the schema file writes it (checked against the type when
/// the schema is read).
#[derive(Debug, Clone, PartialEq)]
pub enum DefaultValue {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
}

/// One column read from the JSON record.
#[derive(Debug, Clone)]
pub struct Field {
    /// Output column name.
    pub name: String,
    /// Path of keys from the record's top level to the value.
    pub source: Vec<String>,
    /// Logical type.
    pub ty: LogicalType,
    /// Whether a missing or null value rejects the record.
    pub required: bool,
    /// Value used when the key is missing or null.
    pub default: Option<DefaultValue>,
    /// One line on the column.
    pub description: String,
    /// Unit of integer timestamps.
    pub unit: TimestampUnit,
    /// Strip leading and trailing white space from strings.
    pub trim: bool,
    /// Lowercase strings.
    pub lowercase: bool,
    /// Convert values written as strings (`"53"`, `"true"`), and accept numbers for strings.
    pub lenient: bool,
    /// ClickHouse hint: store as `LowCardinality`.
    pub low_cardinality: bool,
    /// ClickHouse hint: the column's compression codecs (`Delta, ZSTD(3)`), checked.
    pub codec: Option<String>,
}

impl Field {
    /// Whether the column can hold nulls: not required and without a default.
    pub fn nullable(&self) -> bool {
        !self.required && self.default.is_none()
    }

    /// The source path as written in messages: keys joined with dots.
    pub fn source_path(&self) -> String {
        self.source.join(".")
    }
}

/// Unit of a timestamp written as an integer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TimestampUnit {
    /// Inferred from the magnitude (seconds, ms, µs or ns).
    #[default]
    Auto,
    /// Seconds.
    S,
    /// Milliseconds.
    Ms,
    /// Microseconds.
    Us,
    /// Nanoseconds.
    Ns,
}

/// What happens to keys that no field names.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UnknownFields {
    /// Counted, not stored.
    #[default]
    Ignore,
    /// Stored as one JSON object per record in the `_extra` column.
    Keep,
}

/// A column computed from a timestamp column.
#[derive(Debug, Clone)]
pub struct Derived {
    /// Output column name.
    pub name: String,
    /// Index into [`Schema::fields`] of the timestamp it is computed from.
    pub from: usize,
    /// What is computed.
    pub kind: DerivedKind,
}

/// What a derived column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DerivedKind {
    /// The UTC date (`date`).
    Date,
    /// The UTC hour of day, 0–23 (`uint8`).
    Hour,
}

impl DerivedKind {
    /// The logical type of the derived column.
    pub fn logical_type(self) -> LogicalType {
        match self {
            Self::Date => LogicalType::Date,
            Self::Hour => LogicalType::UInt8,
        }
    }
}

/// ClickHouse table engine.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub enum Engine {
    /// `MergeTree`.
    #[default]
    MergeTree,
    /// `ReplacingMergeTree`: rows with equal sorting keys collapse on merge.
    ReplacingMergeTree,
}

/// Granularity of the ClickHouse partition key.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PartitionGranularity {
    /// One partition per day.
    #[default]
    Day,
    /// One partition per month.
    Month,
}

/// Row expiry.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ttl {
    /// Date or timestamp column the age is measured from.
    pub column: String,
    /// Rows expire this many days after `column`.
    pub days: u32,
}

/// How the dataset's ClickHouse table is laid out.
#[derive(Debug, Clone, Default)]
pub struct ClickHouseHints {
    /// Table engine.
    pub engine: Engine,
    /// Sorting key columns; empty means `tuple()`.
    pub order_by: Vec<String>,
    /// Partition key column (a date or timestamp), if any.
    pub partition_by: Option<String>,
    /// Partition granularity.
    pub partition_granularity: PartitionGranularity,
    /// Row expiry, if any.
    pub ttl: Option<Ttl>,
    /// Data-skipping indexes (`[[clickhouse.index]]`).
    pub indexes: Vec<SkipIndex>,
    /// Aggregates ClickHouse keeps as rows arrive (`[[clickhouse.rollup]]`).
    pub rollups: Vec<Rollup>,
}

/// A data-skipping index: per `granularity` granules of the table, a summary of one column
/// that lets a query skip granules its filter cannot match.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SkipIndex {
    /// Index name, unique in the table.
    pub name: String,
    /// The column summarised.
    pub column: String,
    /// `minmax`, `set(N)`, `bloom_filter[(rate)]`, `tokenbf_v1(…)` or `ngrambf_v1(…)`, checked.
    #[serde(rename = "type")]
    pub kind: String,
    /// Granules per index entry (default 1).
    #[serde(default = "one")]
    pub granularity: u32,
}

fn one() -> u32 {
    1
}

/// A per-interval aggregate of the dataset, kept in its own table by a materialized view
/// over the dataset's table.
#[derive(Debug, Clone, PartialEq)]
pub struct Rollup {
    /// Name of the rollup's table (its view is named after it).
    pub name: String,
    /// The required timestamp column whose interval a row falls in.
    pub time: String,
    /// Length of a bucket.
    pub interval: Interval,
    /// Name of the bucket column (the start of the interval, UTC).
    pub bucket: String,
    /// Columns grouped by, after the bucket; a null value is grouped as the type's zero.
    pub dimensions: Vec<String>,
    /// One row per element of a list column, grouped by the element as `name`.
    pub unnest: Option<Unnest>,
    /// The aggregates kept per bucket and dimensions.
    pub measures: Vec<Measure>,
}

/// A rollup's bucket length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Interval {
    /// One minute.
    Minute,
    /// One hour.
    Hour,
    /// One day.
    Day,
}

/// A list column a rollup counts once per element.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Unnest {
    /// The list column.
    pub column: String,
    /// The name its elements are grouped by.
    #[serde(rename = "as")]
    pub name: String,
}

/// One aggregate of a rollup.
#[derive(Debug, Clone, PartialEq)]
pub struct Measure {
    /// Column name in the rollup's table.
    pub name: String,
    /// What is computed.
    pub aggregate: Aggregate,
}

/// An aggregate function of a rollup, with the column it reads.
#[derive(Debug, Clone, PartialEq)]
pub enum Aggregate {
    /// Rows (or list elements, with `unnest`).
    Count,
    /// Sum of a numeric column.
    Sum(String),
    /// Approximate distinct count (ClickHouse `uniq`).
    Uniq(String),
    /// Exact distinct count.
    UniqExact(String),
    /// Approximate quantile at `level` (0 < level < 1) of a numeric column.
    Quantile { level: f64, column: String },
}

impl Aggregate {
    /// The column it reads, if any.
    pub fn column(&self) -> Option<&str> {
        match self {
            Self::Count => None,
            Self::Sum(c) | Self::Uniq(c) | Self::UniqExact(c) | Self::Quantile { column: c, .. } => Some(c),
        }
    }
}

/// How the dataset is laid out in the Parquet lake.
#[derive(Debug, Clone, Default)]
pub struct ParquetHints {
    /// Hive partition columns, in path order.
    pub partition_by: Vec<String>,
}

/// A column of the output, whichever kind it is.
#[derive(Debug, Clone, Copy)]
pub enum ColumnRef<'a> {
    /// Read from the record.
    Field(&'a Field),
    /// Computed from a field.
    Derived(&'a Derived),
}

impl Schema {
    /// The Arrow schema of the record batches the decoder produces: fields, then derived
    /// columns, then `_extra` when unknown keys are kept. Field metadata carries the
    /// description and logical type; schema metadata the dataset and version.
    pub fn arrow_schema(&self) -> SchemaRef {
        let mut cols: Vec<ArrowField> = self
            .fields
            .iter()
            .map(|f| {
                ArrowField::new(&f.name, f.ty.arrow_type(), f.nullable()).with_metadata(
                    HashMap::from([
                        ("description".to_string(), f.description.clone()),
                        ("lakeport.type".to_string(), f.ty.to_string()),
                    ]),
                )
            })
            .collect();
        for d in &self.derived {
            let ty = d.kind.logical_type();
            cols.push(
                ArrowField::new(&d.name, ty.arrow_type(), self.fields[d.from].nullable())
                    .with_metadata(HashMap::from([("lakeport.type".to_string(), ty.to_string())])),
            );
        }
        if self.unknown_fields == UnknownFields::Keep {
            cols.push(ArrowField::new(EXTRA_COLUMN, DataType::Utf8, true));
        }
        Arc::new(ArrowSchema::new_with_metadata(
            cols,
            HashMap::from([
                ("lakeport.dataset".to_string(), self.name.clone()),
                ("lakeport.schema_version".to_string(), self.version.to_string()),
            ]),
        ))
    }

    /// [`Schema::arrow_schema`] followed by the [`SOURCE_COLUMNS`] (never null).
    pub fn arrow_schema_with_source(&self) -> SchemaRef {
        let base = self.arrow_schema();
        let mut cols: Vec<ArrowField> = base.fields().iter().map(|f| f.as_ref().clone()).collect();
        cols.extend(SOURCE_COLUMNS.iter().map(|(name, ty)| ArrowField::new(*name, ty.arrow_type(), false)));
        Arc::new(ArrowSchema::new_with_metadata(cols, base.metadata().clone()))
    }

    /// Looks up an output column (field or derived) by name.
    pub fn column(&self, name: &str) -> Option<ColumnRef<'_>> {
        if let Some(f) = self.fields.iter().find(|f| f.name == name) {
            return Some(ColumnRef::Field(f));
        }
        self.derived.iter().find(|d| d.name == name).map(ColumnRef::Derived)
    }

    /// The logical type and nullability of an output column, by name.
    pub fn column_type(&self, name: &str) -> Option<(LogicalType, bool)> {
        match self.column(name)? {
            ColumnRef::Field(f) => Some((f.ty.clone(), f.nullable())),
            ColumnRef::Derived(d) => Some((d.kind.logical_type(), self.fields[d.from].nullable())),
        }
    }
}
