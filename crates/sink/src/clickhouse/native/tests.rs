//! Golden bytes, column by column, and the errors of the Native encoder.

use std::sync::Arc;

use arrow_array::builder::{ListBuilder, MapBuilder, StringBuilder};
use arrow_array::{
    ArrayRef, BooleanArray, Date32Array, Int32Array, ListArray, RecordBatch, StringArray, TimestampMillisecondArray,
    TimestampNanosecondArray, UInt8Array,
};
use arrow_buffer::{NullBuffer, OffsetBuffer};
use arrow_schema::{DataType, Field, Schema};

use super::NativeEncoder;
use crate::clickhouse::TableColumn;
use crate::Error;

/// Encodes one batch of `(name, array, ClickHouse type)` columns.
fn encode(cols: Vec<(&str, ArrayRef, &str)>) -> Result<Vec<u8>, Error> {
    let fields: Vec<Field> = cols.iter().map(|(n, a, _)| Field::new(*n, a.data_type().clone(), true)).collect();
    let table: Vec<TableColumn> =
        cols.iter().map(|(n, _, t)| TableColumn { name: n.to_string(), type_name: t.to_string(), default_kind: String::new() }).collect();
    let schema = Arc::new(Schema::new(fields));
    let batch = RecordBatch::try_new(schema.clone(), cols.into_iter().map(|(_, a, _)| a).collect()).unwrap();
    NativeEncoder::new("db.t", &schema, &table)?.encode(&batch)
}

/// The header of a column: name and type, each varuint length + bytes.
fn head(name: &str, ty: &str) -> Vec<u8> {
    [&[name.len() as u8][..], name.as_bytes(), &[ty.len() as u8], ty.as_bytes()].concat()
}

fn u64s(values: &[u64]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

fn strings(values: &[Option<&str>]) -> ArrayRef {
    Arc::new(StringArray::from(values.to_vec()))
}

#[test]
fn scalars_and_nullable() {
    let got = encode(vec![
        ("a", Arc::new(UInt8Array::from(vec![7, 255])), "UInt8"),
        ("b", Arc::new(Int32Array::from(vec![Some(-2), None])), "Nullable(Int32)"),
        ("s", strings(&[Some("hé"), Some("")]), "String"),
        ("f", Arc::new(BooleanArray::from(vec![true, false])), "Bool"),
        ("u", Arc::new(BooleanArray::from(vec![false, true])), "UInt8"),
    ])
    .unwrap();
    let want = [
        vec![5, 2],                                              // 5 columns, 2 rows
        head("a", "UInt8"), vec![7, 255],                        // a: 7, 255
        head("b", "Nullable(Int32)"), vec![0, 1],                // b: null map (row 1 is NULL)
        vec![0xfe, 0xff, 0xff, 0xff, 0, 0, 0, 0],                //    -2, then the value under the NULL
        head("s", "String"), vec![3, b'h', 0xc3, 0xa9, 0],       // s: "hé" (3 bytes), ""
        head("f", "Bool"), vec![1, 0],                           // f: true, false
        head("u", "UInt8"), vec![0, 1],                          // u: false, true
    ]
    .concat();
    assert_eq!(got, want);
}

#[test]
fn addresses_uuids_fixed_strings() {
    let got = encode(vec![
        ("v4", strings(&[Some("1.2.3.4")]), "IPv4"),
        ("v6", strings(&[Some("1.2.3.4")]), "IPv6"),
        ("w6", strings(&[Some("2001:db8::1")]), "Nullable(IPv6)"),
        ("id", strings(&[Some("61f0c404-5cb3-11e7-907b-a6006ad3dba0")]), "UUID"),
        ("fs", strings(&[Some("ab")]), "FixedString(4)"),
    ])
    .unwrap();
    let want = [
        vec![5, 1],
        head("v4", "IPv4"), vec![4, 3, 2, 1],                                         // 0x01020304 little-endian
        head("v6", "IPv6"), vec![0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 1, 2, 3, 4], // ::ffff:1.2.3.4
        head("w6", "Nullable(IPv6)"), vec![0],                                        // not NULL
        vec![0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],              // network order
        head("id", "UUID"), vec![0xe7, 0x11, 0xb3, 0x5c, 0x04, 0xc4, 0xf0, 0x61],    // high half, little-endian
        vec![0xa0, 0xdb, 0xd3, 0x6a, 0x00, 0xa6, 0x7b, 0x90],                         // low half, little-endian
        head("fs", "FixedString(4)"), vec![b'a', b'b', 0, 0],                          // zero-padded
    ]
    .concat();
    assert_eq!(got, want);
}

#[test]
fn times_and_dates() {
    let ns = 1_700_000_000_999_999_999i64;
    let ts = || -> ArrayRef { Arc::new(TimestampNanosecondArray::from(vec![ns]).with_timezone("UTC")) };
    let got = encode(vec![
        ("t", ts(), "DateTime('UTC')"),
        ("t3", ts(), "DateTime64(3, 'UTC')"),
        ("t9", ts(), "DateTime64(9, 'UTC')"),
        ("m", Arc::new(TimestampMillisecondArray::from(vec![-1])), "DateTime64(6)"),
        ("d", Arc::new(Date32Array::from(vec![19_000])), "Date"),
        ("d32", Arc::new(Date32Array::from(vec![-1])), "Date32"),
    ])
    .unwrap();
    let want = [
        vec![6, 1],
        head("t", "DateTime('UTC')"), 1_700_000_000u32.to_le_bytes().to_vec(),           // seconds, rounded down
        head("t3", "DateTime64(3, 'UTC')"), 1_700_000_000_999i64.to_le_bytes().to_vec(), // milliseconds
        head("t9", "DateTime64(9, 'UTC')"), ns.to_le_bytes().to_vec(),                   // nanoseconds
        head("m", "DateTime64(6)"), (-1000i64).to_le_bytes().to_vec(),                   // ms → µs
        head("d", "Date"), 19_000u16.to_le_bytes().to_vec(),                             // days as UInt16
        head("d32", "Date32"), (-1i32).to_le_bytes().to_vec(),                           // days as Int32
    ]
    .concat();
    assert_eq!(got, want);
}

#[test]
fn low_cardinality_keeps_key_zero_for_default_or_null() {
    let got = encode(vec![
        ("n", strings(&[Some("x"), None, Some(""), Some("x")]), "LowCardinality(Nullable(String))"),
        ("p", strings(&[Some("x"), Some(""), Some("y"), Some("x")]), "LowCardinality(String)"),
    ])
    .unwrap();
    let want = [
        vec![2, 4],
        head("n", "LowCardinality(Nullable(String))"), u64s(&[1]),    // key version 1
        u64s(&[0x600, 3]), vec![0, 1, b'x', 0],                        // UInt8 indexes, 3 keys: NULL, "x", ""
        u64s(&[4]), vec![1, 0, 2, 1],                                  // 4 rows: "x", NULL, "", "x"
        head("p", "LowCardinality(String)"), u64s(&[1]),
        u64s(&[0x600, 3]), vec![0, 1, b'x', 1, b'y'],                  // keys "", "x", "y": "" is key 0
        u64s(&[4]), vec![1, 0, 2, 1],
    ]
    .concat();
    assert_eq!(got, want);
}

fn list(rows: &[Option<&[&str]>]) -> ArrayRef {
    let mut b = ListBuilder::new(StringBuilder::new()).with_field(Field::new("item", DataType::Utf8, false));
    for row in rows {
        match row {
            Some(items) => {
                items.iter().for_each(|s| b.values().append_value(s));
                b.append(true);
            }
            None => b.append(false),
        }
    }
    Arc::new(b.finish())
}

#[test]
fn arrays_put_prefixes_first_and_nulls_become_empty() {
    let got = encode(vec![
        ("a", list(&[Some(&["a", "b"]), None, Some(&[])]), "Array(LowCardinality(String))"),
        ("e", list(&[Some(&[]), None, Some(&[])]), "Array(LowCardinality(String))"),
        ("i", list(&[Some(&["::1"]), None, Some(&[])]), "Array(IPv6)"),
    ])
    .unwrap();
    let want = [
        vec![3, 3],
        head("a", "Array(LowCardinality(String))"), u64s(&[1]), // the nested key version comes first
        u64s(&[2, 2, 2]),                                          // row ends: 2 items, then none, none
        u64s(&[0x600, 3]), vec![0, 1, b'a', 1, b'b'], u64s(&[2]), vec![1, 2],
        head("e", "Array(LowCardinality(String))"), u64s(&[1]),
        u64s(&[0, 0, 0]),                                          // no items: no dictionary at all
        head("i", "Array(IPv6)"), u64s(&[1, 1, 1]),
        [[0; 15].as_slice(), &[1]].concat(),
    ]
    .concat();
    assert_eq!(got, want);
}

#[test]
fn maps_as_maps_or_json_text() {
    let mut b = MapBuilder::new(None, StringBuilder::new(), StringBuilder::new());
    b.keys().append_value("k");
    b.values().append_value("\"v\"\n");
    b.append(true).unwrap();
    b.append(false).unwrap();
    let map: ArrayRef = Arc::new(b.finish());
    let got = encode(vec![("m", map.clone(), "Map(String, String)"), ("j", map, "Nullable(String)")]).unwrap();
    let json = br#"{"k":"\"v\"\n"}"#;
    let want = [
        vec![2, 2],
        head("m", "Map(String, String)"), u64s(&[1, 1]),              // row ends: 1 entry, then none
        vec![1, b'k'], vec![4, b'"', b'v', b'"', b'\n'],               // keys, then values
        head("j", "Nullable(String)"), vec![0, 1],                     // the null map is NULL
        [&[json.len() as u8][..], json].concat(), vec![0],              // JSON text, then ""
    ]
    .concat();
    assert_eq!(got, want);
}

#[test]
fn null_lists_hiding_items_and_sliced_batches() {
    // Row 1 is null yet covers items "x", "y" (Arrow allows it): they must not be sent.
    let values: ArrayRef = Arc::new(StringArray::from(vec!["a", "x", "y", "b"]));
    let field = Arc::new(Field::new("item", DataType::Utf8, false));
    let hiding: ArrayRef = Arc::new(ListArray::new(field, OffsetBuffer::new(vec![0, 1, 3, 4].into()), values, Some(NullBuffer::from(vec![true, false, true]))));
    let clean = list(&[Some(&["a"]), None, Some(&["b"])]);
    assert_eq!(encode(vec![("l", hiding, "Array(String)")]).unwrap(), encode(vec![("l", clean.clone(), "Array(String)")]).unwrap());
    // A slice encodes like the same rows built on their own.
    let sliced = clean.slice(1, 2);
    assert_eq!(encode(vec![("l", sliced, "Array(String)")]).unwrap(), encode(vec![("l", list(&[None, Some(&["b"])]), "Array(String)")]).unwrap());
    let s = strings(&[Some("p"), Some("q"), Some("r")]).slice(1, 2);
    assert_eq!(encode(vec![("s", s, "LowCardinality(String)")]).unwrap(), encode(vec![("s", strings(&[Some("q"), Some("r")]), "LowCardinality(String)")]).unwrap());
}

#[test]
fn bad_values_name_column_and_row() {
    let value_error = |cols| match encode(cols) {
        Err(Error::ClickHouseValue { column, row, reason }) => format!("{column} {row} {reason}"),
        other => panic!("{other:?}"),
    };
    assert!(value_error(vec![("ip", strings(&[Some("1.2.3.4"), Some("::1")]), "IPv4")]).starts_with("ip 1 `::1` is not an IPv4"));
    assert!(value_error(vec![("s", strings(&[None]), "String")]).starts_with("s 0 null, but the column is not Nullable"));
    assert!(value_error(vec![("f", strings(&[Some("abcde")]), "FixedString(4)")]).contains("5 bytes do not fit FixedString(4)"));
    assert!(value_error(vec![("u", strings(&[Some("not-a-uuid")]), "UUID")]).contains("not a UUID"));
    assert!(value_error(vec![("d", Arc::new(Date32Array::from(vec![-1])), "Date")]).contains("outside Date"));
    let pre_1970: ArrayRef = Arc::new(TimestampNanosecondArray::from(vec![-1]));
    assert!(value_error(vec![("t", pre_1970, "DateTime")]).contains("outside the range of DateTime"));
    // An item's error is reported at the row holding it.
    assert!(value_error(vec![("l", list(&[Some(&["::1"]), None, Some(&["1.1.1.1", "x"])]), "Array(IPv4)")]).starts_with("l 0 in an item"));
    assert!(value_error(vec![("l", list(&[Some(&[]), None, Some(&["1.1.1.1", "x"])]), "Array(IPv4)")]).starts_with("l 2 in an item: `x`"));
}

#[test]
fn mismatches_name_the_column_and_both_types() {
    let schema = Schema::new(vec![Field::new("a", DataType::Utf8, false), Field::new("b", DataType::UInt32, false)]);
    let col = |name: &str, ty: &str, kind: &str| TableColumn { name: name.into(), type_name: ty.into(), default_kind: kind.into() };
    let err = |cols: &[TableColumn]| NativeEncoder::new("db.t", &schema, cols).unwrap_err().to_string();
    let e = err(&[col("a", "String", ""), col("b", "Int64", "")]);
    assert!(e.contains("column `b`") && e.contains("table type Int64") && e.contains("batch type UInt32"), "{e}");
    let e = err(&[col("a", "String", "")]);
    assert!(e.contains("column `b`: the table has no such column"), "{e}");
    let e = err(&[col("a", "String", ""), col("b", "UInt32", ""), col("c", "UInt8", "")]);
    assert!(e.contains("column `c`: the batch lacks this column and the table has no DEFAULT"), "{e}");
    let e = err(&[col("a", "String", "MATERIALIZED"), col("b", "UInt32", "")]);
    assert!(e.contains("MATERIALIZED column cannot be inserted"), "{e}");
    let e = err(&[col("a", "Decimal(9, 2)", ""), col("b", "UInt32", "")]);
    assert!(e.contains("cannot fill Decimal(9, 2)"), "{e}");
    let ok = NativeEncoder::new("db.t", &schema, &[col("a", "String", ""), col("b", "UInt32", ""), col("c", "UInt8", "DEFAULT")]).unwrap();
    assert_eq!(ok.column_names().collect::<Vec<_>>(), ["a", "b"]);
}
