//! One test per rejection class: the reason names the problem, and the other records of
//! the same message survive.

use std::io::Write;
use std::sync::Arc;

use arrow_array::{cast::AsArray, types::UInt16Type, RecordBatch};
use transform::{Decoder, Reject, Schema};

const SCHEMA: &str = r#"
name = "t"
version = 1
max_record_bytes = 200
[[field]]
name = "ts"
source = "Datetime"
type = "timestamp"
required = true
[[field]]
name = "port"
type = "uint16"
[[field]]
name = "ip"
type = "ip"
[[field]]
name = "tags"
type = "list<string>"
[[field]]
name = "inner"
source = "a.b"
type = "int8"
"#;

const GOOD: &str = r#"{"Datetime":"2026-11-23T07:00:00Z","port":53}"#;

fn decoder() -> Decoder {
    Decoder::new(Arc::new(Schema::from_toml_str(SCHEMA, "t.toml").unwrap())).unwrap()
}

/// Decodes `good, bad, good` in one message; returns the single reject and the batch.
fn sandwich(bad: &[u8]) -> (Reject, RecordBatch) {
    let mut msg = Vec::new();
    for part in [GOOD.as_bytes(), bad, GOOD.as_bytes()] {
        msg.extend_from_slice(part);
        msg.push(b'\n');
    }
    let mut d = decoder();
    let mut rejects = d.decode(&msg);
    let batch = d.flush().unwrap();
    assert_eq!(rejects.len(), 1, "{rejects:?}");
    assert_eq!(batch.num_rows(), 2, "both good records survive");
    let ports = batch.column(1).as_primitive::<UInt16Type>();
    assert_eq!((ports.value(0), ports.value(1)), (53, 53));
    let r = rejects.pop().unwrap();
    assert_eq!(r.line, 2);
    assert_eq!(r.raw, bad);
    (r, batch)
}

fn assert_reason(bad: &str, kind: &str, words: &[&str]) {
    let (r, _) = sandwich(bad.as_bytes());
    assert_eq!(r.reason.kind(), kind, "{}", r.reason);
    let text = r.to_string();
    for w in words {
        assert!(text.contains(w), "{text:?} should mention {w:?}");
    }
}

#[test]
fn malformed_json() {
    assert_reason(r#"{"Datetime":"2026-11-23T07:00:00Z" "port":1}"#, "malformed_json", &["malformed JSON"]);
}

#[test]
fn truncated_json() {
    assert_reason(r#"{"Datetime":"2026-11-23T07:00:00Z","po"#, "malformed_json", &["malformed JSON"]);
}

#[test]
fn invalid_utf8() {
    let mut bad = br#"{"Datetime":"2026-11-23T07:00:00Z","tags":[""#.to_vec();
    bad.extend_from_slice(&[0xff, 0xfe]);
    bad.extend_from_slice(br#""]}"#);
    let (r, _) = sandwich(&bad);
    assert_eq!(r.reason.kind(), "invalid_utf8", "{}", r.reason);
}

#[test]
fn wrong_type() {
    assert_reason(r#"{"Datetime":"2026-11-23T07:00:00Z","port":"big"}"#, "wrong_type", &["`port`", "uint16", "\"big\""]);
}

#[test]
fn out_of_range() {
    assert_reason(r#"{"Datetime":"2026-11-23T07:00:00Z","port":70000}"#, "out_of_range", &["`port`", "70000"]);
    assert_reason(r#"{"Datetime":"2026-11-23T07:00:00Z","a":{"b":-129}}"#, "out_of_range", &["`a.b`", "int8"]);
}

#[test]
fn missing_required() {
    assert_reason(r#"{"port":1}"#, "missing_field", &["`Datetime`", "ts"]);
    assert_reason(r#"{"Datetime":null}"#, "missing_field", &["`Datetime`"]);
    assert_reason(r#"{"Datetime":""}"#, "missing_field", &["`Datetime`"]);
}

#[test]
fn invalid_ip() {
    assert_reason(r#"{"Datetime":"2026-11-23T07:00:00Z","ip":"104.16.132.2290"}"#, "invalid_value", &["`ip`", "104.16.132.2290"]);
}

#[test]
fn invalid_timestamp() {
    assert_reason(r#"{"Datetime":"yesterday"}"#, "invalid_value", &["`Datetime`", "yesterday"]);
}

#[test]
fn not_an_object() {
    assert_reason("[1,2,3]", "not_an_object", &["array"]);
    assert_reason("42", "not_an_object", &["integer"]);
}

#[test]
fn oversize_record() {
    let bad = format!(r#"{{"Datetime":"2026-11-23T07:00:00Z","pad":"{}"}}"#, "x".repeat(300));
    assert_reason(&bad, "too_large", &["exceed the limit of 200 bytes"]);
}

#[test]
fn duplicate_key() {
    assert_reason(r#"{"Datetime":"2026-11-23T07:00:00Z","port":1,"port":2}"#, "duplicate_key", &["`port`"]);
}

#[test]
fn null_inside_list() {
    assert_reason(r#"{"Datetime":"2026-11-23T07:00:00Z","tags":["a",null]}"#, "invalid_value", &["`tags`", "index 1"]);
}

#[test]
fn nested_parent_of_wrong_type() {
    assert_reason(r#"{"Datetime":"2026-11-23T07:00:00Z","a":5}"#, "wrong_type", &["`a`", "object"]);
}

#[test]
fn garbage_compression_rejects_the_message_whole() {
    for magic in [&[0x1f, 0x8b][..], &[0x28, 0xb5, 0x2f, 0xfd][..]] {
        let mut msg = magic.to_vec();
        msg.extend_from_slice(b"definitely not compressed data");
        let mut d = decoder();
        let rejects = d.decode(&msg);
        assert_eq!(rejects.len(), 1);
        assert_eq!(rejects[0].line, 0);
        assert_eq!(rejects[0].reason.kind(), "decompress", "{}", rejects[0].reason);
        assert_eq!(rejects[0].raw, msg, "the raw message is kept whole");
        assert!(d.flush().is_none());
    }
}

#[test]
fn decompression_bomb_is_cut_at_the_limit() {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    for _ in 0..100_000 {
        gz.write_all(GOOD.as_bytes()).unwrap();
        gz.write_all(b"\n").unwrap();
    }
    let msg = gz.finish().unwrap();
    let mut d = decoder().with_max_message_bytes(1 << 20);
    let rejects = d.decode(&msg);
    assert_eq!(rejects.len(), 1);
    assert_eq!(rejects[0].reason.kind(), "too_large");
    assert!(d.flush().is_none());
}

#[test]
fn compressed_messages_decode() {
    let body = format!("{GOOD}\n{GOOD}\n");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(body.as_bytes()).unwrap();
    let zst = zstd::encode_all(body.as_bytes(), 3).unwrap();
    for msg in [gz.finish().unwrap(), zst] {
        let mut d = decoder();
        assert!(d.decode(&msg).is_empty());
        assert_eq!(d.flush().unwrap().num_rows(), 2);
    }
}

#[test]
fn pretty_printed_single_object() {
    let msg = b"{\n  \"Datetime\": \"2026-11-23T07:00:00Z\",\n  \"port\": 8\n}\n";
    let mut d = decoder();
    assert!(d.decode(msg).is_empty());
    assert_eq!(d.flush().unwrap().num_rows(), 1);
}

#[test]
fn every_split_of_a_message_decodes_without_panic() {
    let msg = format!("{GOOD}\n{{\"Datetime\":1763881262,\"tags\":[\"a\",\"b\"],\"a\":{{\"b\":1}},\"ip\":\"::ffff:1.2.3.4\"}}\n");
    let bytes = msg.as_bytes();
    for cut in 0..=bytes.len() {
        let mut d = decoder();
        let (head, tail) = bytes.split_at(cut);
        let rejects = d.decode(head).len() + d.decode(tail).len();
        let rows = std::iter::from_fn(|| d.flush()).map(|b| b.num_rows()).sum::<usize>();
        assert!(rows + rejects >= 1, "cut at {cut}");
    }
}
