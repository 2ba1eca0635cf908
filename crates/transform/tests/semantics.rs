//! Field semantics beyond plain types: lenient mode, defaults, normalisation, empty strings,
//! unknown keys counted or kept.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Int64Type, UInt16Type};
use arrow_array::{Array, RecordBatch};
use transform::{Decoder, Reject, Schema};

fn decode(schema: &str, input: &str) -> (RecordBatch, Vec<Reject>, u64) {
    let schema = Schema::from_toml_str(&format!("name = \"t\"\nversion = 1\n{schema}"), "t.toml").unwrap();
    let mut d = Decoder::new(Arc::new(schema)).unwrap();
    let rejects = d.decode(input.as_bytes());
    (d.flush().unwrap(), rejects, d.unknown_keys())
}

#[test]
fn lenient_fields_convert_text_strict_ones_reject_it() {
    let schema = "[[field]]\nname = \"a\"\ntype = \"uint16\"\nlenient = true\n[[field]]\nname = \"b\"\ntype = \"bool\"\nlenient = true\n[[field]]\nname = \"s\"\ntype = \"string\"\nlenient = true\n[[field]]\nname = \"strict\"\ntype = \"uint16\"";
    let (batch, rejects, _) = decode(schema, "{\"a\":\"53\",\"b\":\"true\",\"s\":12}\n{\"strict\":\"53\"}\n");
    assert_eq!(batch.num_rows(), 1);
    assert_eq!(batch.column(0).as_primitive::<UInt16Type>().value(0), 53);
    assert!(batch.column(1).as_boolean().value(0));
    assert_eq!(batch.column(2).as_string::<i32>().value(0), "12");
    assert_eq!(rejects.len(), 1);
    assert_eq!(rejects[0].reason.kind(), "wrong_type");
}

#[test]
fn defaults_fill_missing_null_and_empty_values() {
    let schema = "[[field]]\nname = \"n\"\ntype = \"int64\"\ndefault = -1\n[[field]]\nname = \"s\"\ntype = \"string\"\ndefault = \"none\"";
    let (batch, rejects, _) = decode(schema, "{}\n{\"n\":null,\"s\":null}\n{\"n\":\"\",\"s\":\"\"}\n{\"n\":5,\"s\":\"x\"}\n");
    assert!(rejects.is_empty());
    let n = batch.column(0).as_primitive::<Int64Type>();
    assert_eq!(n.values().to_vec(), vec![-1, -1, -1, 5]);
    assert_eq!(n.null_count(), 0);
    let s = batch.column(1).as_string::<i32>();
    // "" is a value for a string field, not a null.
    assert_eq!((0..4).map(|i| s.value(i)).collect::<Vec<_>>(), ["none", "none", "", "x"]);
    assert!(!batch.schema().field(0).is_nullable());
}

#[test]
fn empty_string_is_null_in_typed_fields() {
    let schema = "[[field]]\nname = \"ip\"\ntype = \"ip\"\n[[field]]\nname = \"ts\"\ntype = \"timestamp\"\n[[field]]\nname = \"n\"\ntype = \"uint8\"\n[[field]]\nname = \"l\"\ntype = \"list<uint8>\"";
    let (batch, rejects, _) = decode(schema, "{\"ip\":\"\",\"ts\":\"\",\"n\":\"\",\"l\":\"\"}\n");
    assert!(rejects.is_empty(), "{rejects:?}");
    for c in batch.columns() {
        assert!(c.is_null(0));
    }
}

#[test]
fn trim_and_lowercase() {
    let schema = "[[field]]\nname = \"h\"\ntype = \"string\"\ntrim = true\nlowercase = true";
    let (batch, _, _) = decode(schema, "{\"h\":\"  WWW.Example.COM \"}\n{\"h\":\"ÉCOLE.fr\"}\n");
    let h = batch.column(0).as_string::<i32>();
    assert_eq!((h.value(0), h.value(1)), ("www.example.com", "école.fr"));
}

#[test]
fn unknown_keys_are_counted_or_kept() {
    let fields = "[[field]]\nname = \"a\"\nsource = \"p.a\"\ntype = \"int64\"";
    let input = "{\"p\":{\"a\":1,\"zz\":[1,{\"q\":\"\\\"\"}]},\"top\":true}\n{\"p\":{\"a\":2}}\n";
    let (batch, _, unknown) = decode(fields, input);
    assert_eq!(unknown, 2);
    assert_eq!(batch.num_columns(), 1);

    let (batch, _, _) = decode(&format!("unknown_fields = \"keep\"\n{fields}"), input);
    let extra = batch.column_by_name("_extra").unwrap().as_string::<i32>();
    let kept: serde_json::Value = serde_json::from_str(extra.value(0)).unwrap();
    assert_eq!(kept, serde_json::json!({"p.zz": [1, {"q": "\""}], "top": true}));
    assert!(extra.is_null(1));
}

#[test]
fn keys_in_any_order_and_predicted_order_changes() {
    let schema = "[[field]]\nname = \"a\"\ntype = \"int64\"\n[[field]]\nname = \"b\"\ntype = \"int64\"";
    let (batch, rejects, _) = decode(schema, "{\"a\":1,\"b\":2}\n{\"b\":4,\"a\":3}\n{\"x\":0,\"a\":5,\"b\":6}\n{\"b\":8}\n");
    assert!(rejects.is_empty());
    let a = batch.column(0).as_primitive::<Int64Type>();
    let b = batch.column(1).as_primitive::<Int64Type>();
    assert_eq!((a.value(1), b.value(1), a.value(2), b.value(2)), (3, 4, 5, 6));
    assert!(a.is_null(3));
}

#[test]
fn source_columns_identify_every_row() {
    let schema = Schema::from_toml_str("name = \"t\"\nversion = 1\n[[field]]\nname = \"a\"\ntype = \"int64\"", "t").unwrap();
    let mut d = Decoder::new(Arc::new(schema)).unwrap().with_source("logs", 3);
    let mut rejects = Vec::new();
    assert_eq!(d.decode_at(b"{\"a\":1}\nbad\n{\"a\":2}\n", 40, &mut rejects), 2);
    assert_eq!(d.decode_at(b"{\"a\":3}", 41, &mut rejects), 1);
    let batch = d.flush().unwrap();
    assert_eq!(batch.schema().fields().iter().map(|f| f.name().as_str()).collect::<Vec<_>>(), ["a", "_topic", "_partition", "_offset", "_line"]);
    assert_eq!(batch.column(1).as_string::<i32>().value(2), "logs");
    assert_eq!(batch.column(2).as_primitive::<arrow_array::types::Int32Type>().values().to_vec(), [3, 3, 3]);
    assert_eq!(batch.column(3).as_primitive::<Int64Type>().values().to_vec(), [40, 40, 41]);
    assert_eq!(batch.column(4).as_primitive::<arrow_array::types::UInt32Type>().values().to_vec(), [1, 3, 1]);
    assert_eq!(rejects[0].line, 2);
}
