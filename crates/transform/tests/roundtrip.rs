//! Property test: random valid records of every logical type → decode → Parquet → read
//! back → the values are those of the input.

use std::net::IpAddr;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::*;
use arrow_array::{Array, RecordBatch};
use arrow_schema::DataType;
use bytes::Bytes;
use chrono::{DateTime, FixedOffset, NaiveDate};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;
use proptest::prelude::*;
use serde_json::{json, Map, Value};
use transform::{Decoder, Schema};

const SCHEMA: &str = r#"
name = "all_types"
version = 1
[[field]]
name = "s"
type = "string"
[[field]]
name = "b"
type = "bool"
[[field]]
name = "i8"
type = "int8"
[[field]]
name = "i16"
type = "int16"
[[field]]
name = "i32"
type = "int32"
[[field]]
name = "i64"
type = "int64"
[[field]]
name = "u8"
type = "uint8"
[[field]]
name = "u16"
type = "uint16"
[[field]]
name = "u32"
type = "uint32"
[[field]]
name = "u64"
type = "uint64"
[[field]]
name = "f32"
type = "float32"
[[field]]
name = "f64"
type = "float64"
[[field]]
name = "ts"
type = "timestamp"
[[field]]
name = "ts_ns"
type = "timestamp"
unit = "ns"
[[field]]
name = "d"
type = "date"
[[field]]
name = "ip"
type = "ip"
[[field]]
name = "j"
type = "json"
[[field]]
name = "l"
type = "list<int64>"
[[field]]
name = "ls"
type = "list<string>"
[[field]]
name = "m"
type = "map<string,string>"
[[field]]
name = "n"
source = "outer.inner"
type = "uint32"
[[derived]]
name = "day"
from = "ts"
kind = "date"
[[derived]]
name = "hr"
from = "ts"
kind = "hour"
"#;

/// One field's value: what goes on the wire, and what the column must hold.
type Cell = (Option<Value>, Value);

fn absent() -> impl Strategy<Value = Cell> {
    prop_oneof![Just((None, Value::Null)), Just((Some(Value::Null), Value::Null))]
}

fn same<T: Strategy>(s: T) -> impl Strategy<Value = Cell>
where
    T::Value: Into<Value>,
{
    s.prop_map(|v| {
        let v: Value = v.into();
        (Some(v.clone()), v)
    })
}

fn maybe(s: impl Strategy<Value = Cell> + 'static) -> BoxedStrategy<Cell> {
    prop_oneof![1 => absent(), 4 => s].boxed()
}

/// A timestamp in one of the wire formats, and its nanoseconds.
fn timestamp() -> impl Strategy<Value = Cell> {
    // 1973-03 .. 2261: every auto-unit magnitude is unambiguous in this range.
    (100_000_000i64..9_200_000_000, 0i64..1_000_000_000, 0u8..5, -14 * 60..=14 * 60i32).prop_map(|(s, frac, fmt, off_min)| {
        let (wire, ns) = match fmt {
            0 => (json!(s), s * 1_000_000_000),
            1 => (json!(s * 1000 + frac / 1_000_000), s * 1_000_000_000 + frac / 1_000_000 * 1_000_000),
            2 => (json!(s * 1_000_000 + frac / 1000), s * 1_000_000_000 + frac / 1000 * 1000),
            3 => (json!(s * 1_000_000_000 + frac), s * 1_000_000_000 + frac),
            _ => {
                let ns = s * 1_000_000_000 + frac;
                let off = FixedOffset::east_opt(off_min * 60).unwrap();
                let t = DateTime::from_timestamp_nanos(ns).with_timezone(&off);
                (json!(t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, false)), ns)
            }
        };
        (Some(wire), json!(ns))
    })
}

fn ip() -> impl Strategy<Value = Cell> {
    prop_oneof![any::<[u8; 4]>().prop_map(IpAddr::from), any::<[u8; 16]>().prop_map(IpAddr::from)].prop_map(|ip| {
        let canonical = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        (Some(json!(ip.to_string())), json!(canonical.to_string()))
    })
}

fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![Just(Value::Null), any::<bool>().prop_map(Value::from), any::<i64>().prop_map(Value::from), "\\PC{0,8}".prop_map(Value::from)];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z]{1,4}", inner, 0..4).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn record() -> impl Strategy<Value = Vec<(&'static str, Cell)>> {
    let date = (-300_000i32..300_000).prop_map(|days| {
        let d = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap() + chrono::Duration::days(days.into());
        (Some(json!(d.format("%Y-%m-%d").to_string())), json!(days))
    });
    let f32s = any::<f32>().prop_filter("finite", |f| f.is_finite()).prop_map(|f| (Some(json!(f64::from(f))), json!(f64::from(f))));
    let f64s = any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(|f| (Some(json!(f)), json!(f)));
    let map = prop::collection::btree_map("\\PC{0,6}", "\\PC{0,6}", 0..4).prop_map(|m| {
        let v = Value::Object(m.into_iter().map(|(k, v)| (k, Value::String(v))).collect::<Map<_, _>>());
        (Some(v.clone()), v)
    });
    let cells: Vec<(&'static str, BoxedStrategy<Cell>)> = vec![
        ("s", maybe(same("\\PC{0,12}"))),
        ("b", maybe(same(any::<bool>()))),
        ("i8", maybe(same(any::<i8>()))),
        ("i16", maybe(same(any::<i16>()))),
        ("i32", maybe(same(any::<i32>()))),
        ("i64", maybe(same(prop_oneof![Just(i64::MIN), Just(i64::MAX), any::<i64>()]))),
        ("u8", maybe(same(any::<u8>()))),
        ("u16", maybe(same(any::<u16>()))),
        ("u32", maybe(same(any::<u32>()))),
        ("u64", maybe(same(prop_oneof![Just(u64::MAX), any::<u64>()]))),
        ("f32", maybe(f32s)),
        ("f64", maybe(f64s)),
        ("ts", maybe(timestamp())),
        ("ts_ns", maybe(same(any::<i64>()))),
        ("d", maybe(date)),
        ("ip", maybe(ip())),
        ("j", maybe(any_json().prop_filter("not null or \"\" (both mean null)", |v| !v.is_null() && *v != json!("")).prop_map(|v| (Some(v.clone()), v)))),
        ("l", maybe(same(prop::collection::vec(any::<i64>(), 0..5)))),
        ("ls", maybe(same(prop::collection::vec("\\PC{0,5}", 0..5)))),
        ("m", maybe(map)),
        ("n", maybe(same(any::<u32>()))),
    ];
    cells.into_iter().map(|(name, s)| s.prop_map(move |c| (name, c))).collect::<Vec<_>>()
}

/// The value of one cell of the read-back batch, in the shape `record()` expects.
fn cell(array: &dyn Array, row: usize, json_text: bool) -> Value {
    if array.is_null(row) {
        return Value::Null;
    }
    match array.data_type() {
        DataType::Utf8 if json_text => serde_json::from_str(array.as_string::<i32>().value(row)).unwrap(),
        DataType::Utf8 => json!(array.as_string::<i32>().value(row)),
        DataType::Boolean => json!(array.as_boolean().value(row)),
        DataType::Int8 => json!(array.as_primitive::<Int8Type>().value(row)),
        DataType::Int16 => json!(array.as_primitive::<Int16Type>().value(row)),
        DataType::Int32 => json!(array.as_primitive::<Int32Type>().value(row)),
        DataType::Int64 => json!(array.as_primitive::<Int64Type>().value(row)),
        DataType::UInt8 => json!(array.as_primitive::<UInt8Type>().value(row)),
        DataType::UInt16 => json!(array.as_primitive::<UInt16Type>().value(row)),
        DataType::UInt32 => json!(array.as_primitive::<UInt32Type>().value(row)),
        DataType::UInt64 => json!(array.as_primitive::<UInt64Type>().value(row)),
        DataType::Float32 => json!(f64::from(array.as_primitive::<Float32Type>().value(row))),
        DataType::Float64 => json!(array.as_primitive::<Float64Type>().value(row)),
        DataType::Timestamp(_, _) => json!(array.as_primitive::<TimestampNanosecondType>().value(row)),
        DataType::Date32 => json!(array.as_primitive::<Date32Type>().value(row)),
        DataType::List(_) => {
            let items = array.as_list::<i32>().value(row);
            Value::Array((0..items.len()).map(|i| cell(&items, i, false)).collect())
        }
        DataType::Map(_, _) => {
            let entries = array.as_map().value(row);
            let (k, v) = (entries.column(0).as_string::<i32>(), entries.column(1).as_string::<i32>());
            Value::Object((0..k.len()).map(|i| (k.value(i).to_string(), json!(v.value(i)))).collect())
        }
        other => panic!("unexpected type {other}"),
    }
}

fn parquet_round_trip(batch: &RecordBatch) -> RecordBatch {
    let mut buf = Vec::new();
    let mut w = ArrowWriter::try_new(&mut buf, batch.schema(), None).unwrap();
    w.write(batch).unwrap();
    w.close().unwrap();
    let reader = ParquetRecordBatchReaderBuilder::try_new(Bytes::from(buf)).unwrap().build().unwrap();
    let batches: Vec<RecordBatch> = reader.map(Result::unwrap).collect();
    arrow::compute::concat_batches(&batch.schema(), &batches).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn values_survive_decode_and_parquet(records in prop::collection::vec(record(), 1..24)) {
        let schema = Arc::new(Schema::from_toml_str(SCHEMA, "all_types.toml").unwrap());
        let mut decoder = Decoder::new(schema).unwrap();
        let mut message = Vec::new();
        for rec in &records {
            let mut obj = Map::new();
            let mut outer = Map::new();
            for (name, (wire, _)) in rec {
                match (*name, wire) {
                    (_, None) => {}
                    ("n", Some(v)) => { outer.insert("inner".into(), v.clone()); }
                    (name, Some(v)) => { obj.insert((*name).into(), v.clone()); }
                }
            }
            obj.insert("outer".into(), Value::Object(outer));
            serde_json::to_writer(&mut message, &Value::Object(obj)).unwrap();
            message.push(b'\n');
        }
        let rejects = decoder.decode(&message);
        prop_assert!(rejects.is_empty(), "{:?}", rejects);
        let batch = parquet_round_trip(&decoder.flush().unwrap());
        prop_assert_eq!(batch.num_rows(), records.len());
        for (row, rec) in records.iter().enumerate() {
            for (name, (_, want)) in rec {
                let col = batch.column_by_name(name).unwrap();
                prop_assert_eq!(&cell(col, row, *name == "j"), want, "column {} row {}", name, row);
            }
            let ts = &rec.iter().find(|(n, _)| *n == "ts").unwrap().1 .1;
            let day = cell(batch.column_by_name("day").unwrap(), row, false);
            let hr = cell(batch.column_by_name("hr").unwrap(), row, false);
            match ts.as_i64() {
                Some(ns) => {
                    prop_assert_eq!(day, json!(ns.div_euclid(86_400_000_000_000)));
                    prop_assert_eq!(hr, json!(ns.rem_euclid(86_400_000_000_000) / 3_600_000_000_000));
                }
                None => prop_assert!(day.is_null() && hr.is_null()),
            }
        }
    }
}
