//! Unit tests of the lake's layout, row grouping and configuration.
// Row sets are vectors of ranges, one range being a normal case.
#![allow(clippy::single_range_in_vec_init)]

use std::sync::Arc;

use arrow::array::{ArrayRef, Int32Array, RecordBatch, StringArray};
use object_store::path::Path;

use super::config::Location;
use super::layout::{escape, object_path, partition_segment, NULL_PARTITION};
use super::partition::{group_rows, split};
use super::LakeConfig;
use crate::{BatchId, Error};

/// Percent-decoding, as Hive readers do it.
fn unescape(s: &str) -> String {
    let mut bytes = Vec::new();
    let mut rest = s.as_bytes();
    while let Some((&b, tail)) = rest.split_first() {
        if b == b'%' {
            bytes.push(u8::from_str_radix(std::str::from_utf8(&tail[..2]).unwrap(), 16).unwrap());
            rest = &tail[2..];
        } else {
            bytes.push(b);
            rest = tail;
        }
    }
    String::from_utf8(bytes).unwrap()
}

const HOSTILE: &[&str] = &[
    "../x", "..", ".", "a/b", "/", "//", "%", "%2F", "a=b", "k=v/w=x", "été/日本", "\n", "a\u{0}b", "\u{85}", "\u{7f}", "*?{}[]^~|<>`\"'#:\\",
    NULL_PARTITION, " ", "...", "a.b", "x/../../y",
];

#[test]
fn escaped_values_stay_one_segment_and_decode_back() {
    for &value in HOSTILE {
        let e = escape(value);
        assert!(!e.is_empty() && e != "." && e != ".." && !e.contains('/'), "{value:?} → {e:?}");
        assert!(!e.chars().any(char::is_control), "{value:?} → {e:?}");
        assert!(object_store::path::PathPart::parse(&e).is_ok(), "{value:?} → {e:?}");
        assert_eq!(unescape(&e), value);
    }
    let mut seen = std::collections::HashSet::new();
    for c in (0..0x250).filter_map(char::from_u32) {
        let e = escape(&format!("{c}{c}"));
        assert_eq!(unescape(&e), format!("{c}{c}"));
        assert!(seen.insert(e), "two values escape alike");
    }
}

#[test]
fn escaping_follows_hive() {
    assert_eq!(escape("../x"), "%2E.%2Fx");
    assert_eq!(escape("a/b=c%d"), "a%2Fb%3Dc%25d");
    assert_eq!(escape("."), "%2E");
    assert_eq!(escape(".."), "%2E%2E");
    assert_eq!(escape("...a.b"), "%2E..a.b");
    assert_eq!(escape("_schemas"), "%5Fschemas");
    assert_eq!(escape("a_."), "a_.");
    assert_eq!(escape("été"), "été");
    assert_eq!(escape("a\tb\u{85}"), "a%09b%C2%85");
    assert_eq!(escape(NULL_PARTITION), "%5F_HIVE_DEFAULT_PARTITION__");
    assert_eq!(partition_segment("host", None), "host=__HIVE_DEFAULT_PARTITION__");
    assert_eq!(partition_segment("host", Some("")), "host=__HIVE_DEFAULT_PARTITION__");
    assert_eq!(partition_segment("hour", Some("7")), "hour=7");
}

#[test]
fn object_paths_are_deterministic_and_contained() {
    let id = BatchId { topic: "../evil/t".into(), partition: 3, first_offset: 10, last_offset: 19 };
    let root = Path::from("lake/gateway_dns");
    let segments = vec![partition_segment("date", Some("2026-11-23")), partition_segment("host", Some("../../etc"))];
    let path = object_path(&root, &segments, &id, 2);
    assert_eq!(
        path.as_ref(),
        "lake/gateway_dns/date=2026-11-23/host=%2E.%2F..%2Fetc/%2E.%2Fevil%2Ft-3-00000000000000000010-00000000000000000019-p002.parquet"
    );
    assert_eq!(path.parts().count(), 5);
    assert!(path.prefix_matches(&root));
    assert_eq!(object_path(&root, &segments, &id, 2), path);
}

#[test]
fn rows_group_by_directory_in_order() {
    let host: ArrayRef = Arc::new(StringArray::from(vec![Some("a/b"), None, Some(""), Some("a/b"), Some("c"), Some("c"), None]));
    let n: ArrayRef = Arc::new(Int32Array::from(vec![0, 1, 2, 3, 4, 5, 6]));
    let batch = RecordBatch::try_from_iter([("host", host), ("n", n)]).unwrap();
    let groups = group_rows(&batch, &[(0, "host".into())]).unwrap();
    let got: Vec<(String, Vec<std::ops::Range<usize>>)> = groups.into_iter().map(|(s, r)| (s.join("/"), r)).collect();
    assert_eq!(
        got,
        vec![
            ("host=__HIVE_DEFAULT_PARTITION__".into(), vec![1..3, 6..7]),
            ("host=a%2Fb".into(), vec![0..1, 3..4]),
            ("host=c".into(), vec![4..6]),
        ]
    );
    assert_eq!(group_rows(&batch, &[]).unwrap(), vec![(vec![], vec![0..7])]);
}

#[test]
fn split_cuts_in_order() {
    assert_eq!(split(&[0..5, 7..10], 3), vec![vec![0..3], vec![3..5, 7..8], vec![8..10]]);
    assert_eq!(split(&[0..4], 4), vec![vec![0..4]]);
    assert_eq!(split(&[2..3], 10), vec![vec![2..3]]);
}

fn invalid(config: LakeConfig) -> (&'static str, String) {
    match config.validate() {
        Err(Error::LakeConfig { field, problem }) => (field, problem),
        other => panic!("{config:?} should be refused, got {other:?}"),
    }
}

#[test]
fn config_parses_urls() {
    let local = |url: &str| matches!(LakeConfig::new(url).validate().unwrap().location, Location::Local(p) if p == std::path::Path::new("/var/lake"));
    assert!(local("/var/lake") && local("file:///var/lake"));
    let valid = LakeConfig::new("s3://bucket/a/b").validate().unwrap();
    assert!(matches!(valid.location, Location::Cloud { prefix, .. } if prefix.as_ref() == "a/b"));
    assert!(matches!(LakeConfig::new("memory:///p").validate().unwrap().location, Location::Memory(p) if p.as_ref() == "p"));
    assert_eq!(invalid(LakeConfig::new("")).0, "url");
    assert!(invalid(LakeConfig::new("s3://AKIA:secret@bucket/x")).1.contains("environment"));
    assert!(invalid(LakeConfig::new("ftp://host/x")).1.contains("not supported"));
    assert!(invalid(LakeConfig::new("https://example.com/x")).1.contains("not supported"));
}

#[test]
fn config_checks_ranges() {
    let s3 = || LakeConfig::new("s3://bucket/lake");
    assert_eq!(invalid(LakeConfig { multipart_part_bytes: 1 << 20, ..s3() }).0, "multipart_part_bytes");
    assert!(LakeConfig { multipart_part_bytes: 1 << 20, ..LakeConfig::new("/tmp/lake") }.validate().is_ok());
    assert_eq!(invalid(LakeConfig { zstd_level: 0, ..s3() }).0, "zstd_level");
    assert_eq!(invalid(LakeConfig { max_file_rows: 0, ..s3() }).0, "max_file_rows");
    assert_eq!(invalid(LakeConfig { endpoint: Some("http://h:9000".into()), ..LakeConfig::new("gs://b/x") }).0, "endpoint");
    assert_eq!(invalid(LakeConfig { endpoint: Some("h:9000".into()), ..s3() }).0, "endpoint");
    assert!(LakeConfig { endpoint: Some("http://127.0.0.1:9000".into()), ..s3() }.validate().is_ok());
}

#[test]
fn config_deserializes_with_defaults_and_refuses_unknown_keys() {
    let c: LakeConfig = serde_json::from_str(r#"{"url": "s3://b/l", "compression": "snappy", "retry_timeout": "90s"}"#).unwrap();
    assert_eq!((c.compression, c.retry_timeout.as_secs(), c.max_file_rows), (super::Codec::Snappy, 90, 4 << 20));
    let err = serde_json::from_str::<LakeConfig>(r#"{"url": "s3://b/l", "part_size": 1}"#).unwrap_err();
    assert!(err.to_string().contains("unknown field `part_size`"), "{err}");
}
