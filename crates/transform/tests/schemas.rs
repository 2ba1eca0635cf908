//! The shipped schemas validate, and broken schemas get precise errors.

use transform::{Error, LogicalType, Schema};

fn shipped(name: &str) -> Schema {
    Schema::from_path(format!("{}/../../schemas/{name}.toml", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// Every field of the reference (`schemas/reference/`, Cloudflare's field lists) appears
/// once, as a source key.
fn assert_covers_reference(schema: &Schema, reference: &str) {
    let path = format!("{}/../../schemas/reference/{reference}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let keys: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).skip(1).filter_map(|l| l.split('\t').next()).collect();
    assert!(keys.len() > 50);
    for k in &keys {
        assert_eq!(schema.fields.iter().filter(|f| f.source == [k.to_string()]).count(), 1, "{k}");
    }
    assert_eq!(schema.fields.len(), keys.len());
}

#[test]
fn gateway_schemas_validate_and_cover_the_reference() {
    let dns = shipped("gateway_dns");
    assert_covers_reference(&dns, "gateway_dns.fields.tsv");
    let http = shipped("gateway_http");
    assert_covers_reference(&http, "gateway_http.fields.tsv");
    for s in [&dns, &http] {
        let dt = s.fields.iter().find(|f| f.name == "datetime").unwrap();
        assert!(dt.required && dt.ty == LogicalType::Timestamp);
        assert_eq!(s.parquet.partition_by, ["date", "hour"]);
        assert_eq!(s.arrow_schema().fields().len(), s.fields.len() + 2);
    }
}

fn invalid(body: &str) -> String {
    let text = format!("name = \"t\"\nversion = 1\n{body}");
    match Schema::from_toml_str(&text, "t.toml") {
        Err(e @ (Error::Invalid { .. } | Error::Syntax { .. })) => e.to_string(),
        other => panic!("expected an error for {body:?}, got {other:?}"),
    }
}

#[test]
fn errors_name_the_file_field_problem_and_fix() {
    let cases = [
        ("[[field]]\nname = \"Bad\"\ntype = \"string\"", &["t.toml", "field \"Bad\"", "lowercase"][..]),
        ("[[field]]\nname = \"a\"\ntype = \"strng\"", &["unknown type `strng`", "use string"]),
        ("[[field]]\nname = \"a\"\ntype = \"string\"\ncolour = 1", &["unknown field `colour`"]),
        ("[[field]]\nname = \"a\"\ntype = \"uint8\"\ndefault = 300", &["field \"a\"", "default"]),
        ("[[field]]\nname = \"a\"\ntype = \"uint8\"\nrequired = true\ndefault = 1", &["both required and have a default"]),
        ("[[field]]\nname = \"a\"\ntype = \"string\"\n[[field]]\nname = \"a\"\ntype = \"int8\"", &["used twice"]),
        ("[[field]]\nname = \"a\"\ntype = \"json\"\n[[field]]\nname = \"b\"\nsource = \"a.x\"\ntype = \"int8\"", &["inside field \"a\""]),
        ("[[field]]\nname = \"a\"\ntype = \"int8\"\nlowercase = true", &["string fields only"]),
        ("[[field]]\nname = \"a\"\ntype = \"string\"\n[clickhouse]\norder_by = [\"a\"]", &["nullable", "give it a default"]),
        ("[[field]]\nname = \"a\"\ntype = \"string\"\n[clickhouse]\norder_by = [\"zz\"]", &["no column `zz`"]),
        ("[[field]]\nname = \"a\"\ntype = \"timestamp\"\n[parquet]\npartition_by = [\"a\"]", &["poor partition"]),
        ("[[field]]\nname = \"a\"\ntype = \"string\"\n[[derived]]\nname = \"d\"\nfrom = \"a\"\nkind = \"date\"", &["not a timestamp field"]),
        ("", &["no fields"]),
    ];
    for (body, words) in cases {
        let msg = invalid(body);
        for w in words {
            assert!(msg.contains(w), "{msg:?} should contain {w:?}");
        }
    }
}

#[test]
fn sql_and_path_hostile_names_are_refused() {
    for name in ["a`b", "a;drop table x", "../etc", "a/b", "a b", "_extra"] {
        let body = format!("[[field]]\nname = {name:?}\ntype = \"string\"");
        invalid(&body);
    }
    assert!(Schema::from_toml_str("name = \"../x\"\nversion = 1\n[[field]]\nname = \"a\"\ntype = \"string\"", "t").is_err());
}

#[test]
fn the_example_of_the_schemas_readme_validates() {
    let path = format!("{}/../../schemas/README.md", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(path).unwrap();
    let example = text.split("```toml\n").nth(1).and_then(|rest| rest.split("```").next()).expect("a ```toml block");
    let schema = Schema::from_toml_str(example, "schemas/README.md").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(schema.clickhouse.order_by, ["query_name", "datetime"]);
    assert_eq!(schema.clickhouse.rollups[0].measures.len(), 4);
}

#[test]
fn rollups_refuse_what_their_table_could_not_hold() {
    let with_partition = |partition: &str, rollup: &str| {
        let text = format!(
            "name = \"r\"\nversion = 1\n[[field]]\nname = \"ts\"\ntype = \"timestamp\"\nrequired = true\n[[field]]\nname = \"host\"\ntype = \"string\"\n\
             [[field]]\nname = \"tags\"\ntype = \"list<string>\"\n[[field]]\nname = \"meta\"\ntype = \"json\"\n[clickhouse]\n{partition}[[clickhouse.rollup]]\nname = \"per_minute\"\ntime = \"ts\"\ninterval = \"minute\"\n{rollup}"
        );
        Schema::from_toml_str(&text, "r.toml").map(|s| s.clickhouse.rollups).map_err(|e| e.to_string())
    };
    let with = |rollup: &str| with_partition("partition_by = \"ts\"\n", rollup);
    let e = with_partition("", "measures = [{ name = \"n\", fn = \"count\" }]").unwrap_err();
    assert!(e.contains("partitioned by day of its time column"), "{e}");
    let good = with("dimensions = [\"host\"]\nunnest = { column = \"tags\", as = \"tag\" }\nmeasures = [{ name = \"n\", fn = \"count\" }]").unwrap();
    assert_eq!((good[0].bucket.as_str(), good[0].unnest.as_ref().map(|u| u.name.as_str())), ("minute", Some("tag")));
    for (rollup, says) in [
        ("measures = [{ name = \"host\", fn = \"count\" }]", "measure `host` is already a column"),
        ("bucket = \"ts\"\nmeasures = [{ name = \"n\", fn = \"count\" }]", "bucket `ts` is already a column"),
        ("dimensions = [\"meta\"]\nmeasures = [{ name = \"n\", fn = \"count\" }]", "dimension `meta`"),
        ("dimensions = [\"nope\"]\nmeasures = [{ name = \"n\", fn = \"count\" }]", "dimension `nope` is not a column"),
        ("measures = []", "no measures"),
        ("measures = [{ name = \"p\", fn = \"quantile\", column = \"host\", level = 0.5 }]", "`host` is not a numeric column"),
        ("measures = [{ name = \"p\", fn = \"quantile\", column = \"ts\" }]", "quantile needs a level"),
        ("measures = [{ name = \"n\", fn = \"count\", column = \"host\" }]", "count takes no column"),
        ("unnest = { column = \"host\", as = \"h\" }\nmeasures = [{ name = \"n\", fn = \"count\" }]", "not a list"),
    ] {
        let e = with(rollup).expect_err(rollup);
        assert!(e.contains(says) && e.contains("per_minute"), "{rollup}: {e}");
    }
}

#[test]
fn codecs_and_indexes_are_checked() {
    let with = |field: &str, index: &str| {
        let text = format!("name = \"c\"\nversion = 1\n[[field]]\nname = \"ts\"\ntype = \"timestamp\"\nrequired = true\n{field}\n[[field]]\nname = \"host\"\ntype = \"string\"\n{index}");
        Schema::from_toml_str(&text, "c.toml").map_err(|e| e.to_string())
    };
    let s = with("codec = \"T64,  ZSTD(1)\"", "[[clickhouse.index]]\nname = \"host_bloom\"\ncolumn = \"host\"\ntype = \"bloom_filter(0.01)\"\ngranularity = 4").unwrap();
    assert_eq!((s.fields[0].codec.as_deref(), s.clickhouse.indexes[0].granularity), (Some("T64, ZSTD(1)"), 4));
    for (field, index, says) in [
        ("codec = \"ZSTD(40)\"", "", "codec `ZSTD(40)`"),
        ("codec = \"Brotli\"", "", "codec `Brotli`"),
        ("codec = \"ZSTD(1\"", "", "NAME or NAME(number)"),
        ("", "[[clickhouse.index]]\nname = \"i\"\ncolumn = \"host\"\ntype = \"bloom_filter(2)\"", "index type `bloom_filter(2)`"),
        ("", "[[clickhouse.index]]\nname = \"i\"\ncolumn = \"nope\"\ntype = \"minmax\"", "`nope` is not a scalar or list column"),
        ("", "[[clickhouse.index]]\nname = \"i\"\ncolumn = \"host\"\ntype = \"minmax\"\n[[clickhouse.index]]\nname = \"i\"\ncolumn = \"ts\"\ntype = \"minmax\"", "used twice"),
    ] {
        let e = with(field, index).expect_err(says);
        assert!(e.contains(says), "{says}: {e}");
    }
}
