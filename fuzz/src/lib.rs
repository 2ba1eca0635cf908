//! What the fuzz targets share: the schemas they decode against, and the checks run on
//! every decoded batch.

use std::sync::{Arc, OnceLock};

use arrow_array::RecordBatch;
use sink::clickhouse::{table_columns, Dialect, NativeEncoder, TableColumn};
use transform::{Decoder, Schema};

/// The shipped schemas and one with every logical type.
pub fn schemas() -> &'static [Arc<Schema>] {
    static SCHEMAS: OnceLock<Vec<Arc<Schema>>> = OnceLock::new();
    SCHEMAS.get_or_init(|| {
        [
            (include_str!("../../schemas/gateway_dns.toml"), "gateway_dns.toml"),
            (include_str!("../../schemas/gateway_http.toml"), "gateway_http.toml"),
            (include_str!("../schemas/every_type.toml"), "every_type.toml"),
        ]
        .into_iter()
        .map(|(text, origin)| Arc::new(Schema::from_toml_str(text, origin).expect("a checked-in schema parses")))
        .collect()
    })
}

/// Decodes `message` as one Kafka message and as file lines, then encodes every batch for
/// both ClickHouse dialects: anything may be rejected, nothing may panic, and every input
/// line ends as a row or a reject.
pub fn decode_and_encode(schema: &Arc<Schema>, message: &[u8]) {
    let mut decoder = Decoder::new(schema.clone()).expect("schema checked").with_source("t", 0).with_max_message_bytes(1 << 20);
    let mut rejects = Vec::new();
    let rows = decoder.decode_at(message, 7, &mut rejects);
    assert!(rows + rejects.len() <= message.len().max(1), "more rows and rejects than bytes");
    let rows_of_lines = decoder.decode_lines(message, &mut rejects);
    let lines = message.split(|&b| b == b'\n').filter(|l| !l.trim_ascii().is_empty()).count();
    let line_rejects = rejects.iter().filter(|r| r.line > 0).count();
    assert!(rows_of_lines <= lines, "{rows_of_lines} rows from {lines} lines ({line_rejects} rejects)");
    let batches: Vec<RecordBatch> = std::iter::from_fn(|| decoder.flush()).collect();
    assert_eq!(batches.iter().map(RecordBatch::num_rows).sum::<usize>(), rows + rows_of_lines);
    for dialect in [Dialect::Modern, Dialect::Legacy] {
        let columns: Vec<TableColumn> =
            table_columns(schema, dialect).into_iter().map(|c| TableColumn { name: c.name, type_name: c.type_name, default_kind: String::new() }).collect();
        let encoder = NativeEncoder::new("t", &decoder.schema(), &columns).expect("a schema's batches fit its own table");
        for batch in &batches {
            // A value the table's type cannot hold is an error, not a panic.
            let _ = encoder.encode(batch);
        }
    }
}

/// Column values of each Arrow type the decoder makes, as the fuzzer draws them.
#[derive(Debug, arbitrary::Arbitrary)]
pub enum Values {
    Int8(Vec<Option<i8>>),
    Int16(Vec<Option<i16>>),
    Int32(Vec<Option<i32>>),
    Int64(Vec<Option<i64>>),
    UInt8(Vec<Option<u8>>),
    UInt16(Vec<Option<u16>>),
    UInt32(Vec<Option<u32>>),
    UInt64(Vec<Option<u64>>),
    Float32(Vec<Option<f32>>),
    Float64(Vec<Option<f64>>),
    Bool(Vec<Option<bool>>),
    Utf8(Vec<Option<String>>),
    /// Nanoseconds, as the decoder stores every timestamp.
    Timestamp(Vec<Option<i64>>),
    Date32(Vec<Option<i32>>),
    List(Vec<Option<Vec<Option<String>>>>),
    Map(Vec<Option<Vec<(String, String)>>>),
}

impl Values {
    /// The values as one Arrow array.
    pub fn array(&self) -> arrow_array::ArrayRef {
        use arrow_array::builder::{ListBuilder, MapBuilder, StringBuilder};
        use arrow_array::*;
        match self {
            Self::Int8(v) => Arc::new(Int8Array::from(v.clone())),
            Self::Int16(v) => Arc::new(Int16Array::from(v.clone())),
            Self::Int32(v) => Arc::new(Int32Array::from(v.clone())),
            Self::Int64(v) => Arc::new(Int64Array::from(v.clone())),
            Self::UInt8(v) => Arc::new(UInt8Array::from(v.clone())),
            Self::UInt16(v) => Arc::new(UInt16Array::from(v.clone())),
            Self::UInt32(v) => Arc::new(UInt32Array::from(v.clone())),
            Self::UInt64(v) => Arc::new(UInt64Array::from(v.clone())),
            Self::Float32(v) => Arc::new(Float32Array::from(v.clone())),
            Self::Float64(v) => Arc::new(Float64Array::from(v.clone())),
            Self::Bool(v) => Arc::new(BooleanArray::from(v.clone())),
            Self::Utf8(v) => Arc::new(StringArray::from(v.clone())),
            Self::Timestamp(v) => Arc::new(TimestampNanosecondArray::from(v.clone()).with_timezone("UTC")),
            Self::Date32(v) => Arc::new(Date32Array::from(v.clone())),
            Self::List(rows) => {
                let mut b = ListBuilder::new(StringBuilder::new());
                for row in rows {
                    match row {
                        Some(items) => {
                            items.iter().for_each(|i| b.values().append_option(i.as_deref()));
                            b.append(true);
                        }
                        None => b.append(false),
                    }
                }
                Arc::new(b.finish())
            }
            Self::Map(rows) => {
                let mut b = MapBuilder::new(None, StringBuilder::new(), StringBuilder::new());
                for row in rows {
                    if let Some(pairs) = row {
                        for (k, v) in pairs {
                            b.keys().append_value(k);
                            b.values().append_value(v);
                        }
                    }
                    b.append(row.is_some()).expect("keys and values of equal length");
                }
                Arc::new(b.finish())
            }
        }
    }
}

/// ClickHouse types a column of the table may have, as servers spell them.
pub const CLICKHOUSE_TYPES: &[&str] = &[
    "Int8", "Int16", "Int32", "Int64", "UInt8", "UInt16", "UInt32", "UInt64", "Float32", "Float64", "Bool", "String", "FixedString(4)",
    "IPv4", "IPv6", "UUID", "Date", "Date32", "DateTime", "DateTime('UTC')", "DateTime64(3)", "DateTime64(9, 'UTC')", "Nullable(String)",
    "Nullable(Int64)", "Nullable(DateTime64(6))", "LowCardinality(String)", "LowCardinality(Nullable(String))", "Array(String)",
    "Array(Nullable(String))", "Array(LowCardinality(String))", "Array(UInt32)", "Array(IPv6)", "Map(String, String)",
    "Map(LowCardinality(String), String)", "Nullable(IPv4)", "LowCardinality(Nullable(IPv6))",
];

/// A one-column batch (`v`) of the Arrow type `pick` selects, with a null, an empty and
/// an edge value where the type has them.
pub fn sample_batch(pick: u8) -> RecordBatch {
    let s = |v: &[Option<&str>]| v.iter().map(|x| x.map(str::to_string)).collect::<Vec<_>>();
    let samples = [
        Values::Int64(vec![Some(i64::MIN), None, Some(0)]),
        Values::UInt64(vec![Some(u64::MAX), None]),
        Values::Int8(vec![Some(-1), None]),
        Values::UInt16(vec![Some(65535)]),
        Values::Float64(vec![Some(f64::NAN), None, Some(-0.0)]),
        Values::Bool(vec![Some(true), None]),
        Values::Utf8(s(&[Some("1.2.3.4"), None, Some(""), Some("::1"), Some("00000000-0000-0000-0000-000000000000")])),
        Values::Timestamp(vec![Some(i64::MAX), None, Some(0), Some(-1)]),
        Values::Date32(vec![Some(i32::MIN), None, Some(0)]),
        Values::List(vec![Some(vec![Some("a".into()), None]), None, Some(vec![])]),
        Values::Map(vec![Some(vec![("k".into(), "v".into())]), None]),
    ];
    one_column(&samples[pick as usize % samples.len()], None)
}

/// A batch of one column `v` holding `values`, sliced to `slice` (start, length) when given.
pub fn one_column(values: &Values, slice: Option<(usize, usize)>) -> RecordBatch {
    let array = values.array();
    let batch = RecordBatch::try_from_iter([("v", array)]).expect("one column");
    match slice {
        Some((start, len)) if start + len <= batch.num_rows() => batch.slice(start, len),
        _ => batch,
    }
}
