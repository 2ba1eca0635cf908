//! The modern engine, through chDB (in-process ClickHouse 26.x): the Native bytes of the
//! types 18.16 lacks decode to the original values, the modern DDL takes the bytes of every
//! schema, and a repeated insert with the same token adds no rows.

mod clickhouse_support;

use std::path::Path;
use std::sync::Arc;

use arrow_array::builder::{ListBuilder, MapBuilder, StringBuilder};
use arrow_array::{ArrayRef, BooleanArray, Date32Array, RecordBatch, StringArray, TimestampNanosecondArray, UInt32Array};
use arrow_schema::{DataType, Field, Schema as ArrowSchema};
use clickhouse_support::*;
use sink::clickhouse::{create_table, keep_tokens, keeps_tokens, Dialect, NativeEncoder, RollupTable, TableColumn};
use synth::Dataset;

/// Creates the table of `ddl` in the chDB session at `session`; its columns as chDB lists them.
fn chdb_columns(session: &Path, ddl: &str) -> Vec<TableColumn> {
    let file = session.with_extension("sql");
    std::fs::write(&file, ddl).unwrap();
    let out = verify(&["columns", "--chdb", session.to_str().unwrap(), "--ddl", file.to_str().unwrap()]);
    let cols: Vec<TableColumn> = out
        .lines()
        .map(|l| serde_json::from_str::<TableColumn>(l).unwrap())
        .collect();
    assert!(!cols.is_empty(), "chDB created no table from:\n{ddl}");
    cols
}

/// Encodes `batch` for the table `db.table` created by `ddl` in a fresh chDB session, then
/// checks there that the file declares the table's types, inserts it and reads it back equal.
fn encode_and_verify_in_chdb(ddl: &str, table: &str, batch: &RecordBatch) {
    let dir = tempfile::tempdir().unwrap();
    let session = dir.path().join("session");
    let columns = chdb_columns(&session, ddl);
    let native = NativeEncoder::new(table, &batch.schema(), &columns).unwrap().encode(batch).unwrap();
    let (native_file, expected) = (dir.path().join("batch.native"), dir.path().join("expected.parquet"));
    std::fs::write(&native_file, native).unwrap();
    write_parquet(batch, &expected);
    let out = verify(&["compare", "--expected", expected.to_str().unwrap(), "--table", table, "--chdb", session.to_str().unwrap(), "--native", native_file.to_str().unwrap()]);
    assert!(out.starts_with(&format!("ok: {} rows", batch.num_rows())), "{out}");
}

/// A deterministic pseudo-random number per row and salt.
fn mix(row: u32, salt: u64) -> u64 {
    let mut x = (u64::from(row) << 32 | salt).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    x ^= x >> 29;
    x.wrapping_mul(0xbf58_476d_1ce4_e5b9) ^ (x >> 32)
}

const MODERN_TYPES: &str = "CREATE TABLE IF NOT EXISTS `db`.`modern`
(
    k UInt32, t9 DateTime64(9, 'UTC'), t3 Nullable(DateTime64(3, 'Asia/Tokyo')), dt DateTime('UTC'),
    v6 IPv6, v6n Nullable(IPv6), v4 IPv4, b Bool, bn Nullable(Bool), d32 Date32, d Date,
    u UUID, un Nullable(UUID), lc LowCardinality(String), lcn LowCardinality(Nullable(String)), fs FixedString(16),
    m Map(String, String), mlc Map(LowCardinality(String), String), a6 Array(IPv6), alc Array(LowCardinality(String)),
    extra String DEFAULT 'x'
)
ENGINE = MergeTree ORDER BY k";

/// Every type 18.16 lacks (and the LowCardinality and FixedString it has only in part),
/// with nulls, extremes and 5000 rows of varied values.
#[test]
fn modern_types_decode_to_the_original_values() {
    let rows = 5000u32;
    let r = |salt| (0..rows).map(move |i| (i, mix(i, salt)));
    let v4 = |x: u64| format!("{}.{}.{}.{}", x >> 8 & 255, x >> 16 & 255, x >> 24 & 255, x >> 32 & 255);
    let ip = |x: u64| match x % 3 {
        0 => v4(x),
        1 => format!("2001:db8:{:x}::{:x}", x >> 16 & 0xffff, x >> 32 & 0xffff),
        _ => ["::", "::1", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "0.0.0.0", "255.255.255.255"][(x >> 8) as usize % 5].to_string(),
    };
    let uuid = |x: u64, y: u64| format!("{:08x}-{:04x}-{:04X}-{:04x}-{:012x}", x >> 32, x >> 16 & 0xffff, x & 0xffff, y >> 48, y & 0xffff_ffff_ffff);
    let (mut m, mut mlc) = (MapBuilder::new(None, StringBuilder::new(), StringBuilder::new()), MapBuilder::new(None, StringBuilder::new(), StringBuilder::new()));
    let mut a6 = ListBuilder::new(StringBuilder::new()).with_field(Field::new("item", DataType::Utf8, false));
    let mut alc = ListBuilder::new(StringBuilder::new()).with_field(Field::new("item", DataType::Utf8, false));
    for (i, x) in r(9) {
        for j in 0..x % 4 {
            m.keys().append_value(format!("k{j}{}", ["", "é", "\"", "\\n"][(x >> j) as usize % 4]));
            m.values().append_value(format!("v{}", x >> (8 * j)));
        }
        for key in &["env", "region", "tier"][..(x % 3) as usize] {
            mlc.keys().append_value(key);
            mlc.values().append_value(i.to_string());
        }
        m.append(x % 11 != 0).unwrap();
        mlc.append(true).unwrap();
        (0..x % 3).for_each(|j| a6.values().append_value(ip(x >> j)));
        a6.append(x % 13 != 0);
        (0..x % 4).for_each(|j| alc.values().append_value(["a", "b", "", "ü"][((x >> j) % 4) as usize]));
        alc.append(true);
    }
    let ns = |x: u64| (x % 8_000_000_000_000_000_000) as i64 - 2_000_000_000_000_000_000; // 1906 ..= 2223
    let cols: Vec<(&str, ArrayRef)> = vec![
        ("k", Arc::new(UInt32Array::from_iter_values(0..rows))),
        ("t9", Arc::new(TimestampNanosecondArray::from_iter_values(r(1).map(|(_, x)| ns(x))).with_timezone("UTC"))),
        ("t3", Arc::new(TimestampNanosecondArray::from_iter(r(2).map(|(_, x)| (x % 5 != 0).then(|| ns(x)))))),
        ("dt", Arc::new(TimestampNanosecondArray::from_iter_values(r(3).map(|(_, x)| (x % 4_294_967_296) as i64 * 1_000_000_000 + 999)))),
        ("v6", Arc::new(StringArray::from_iter_values(r(4).map(|(_, x)| ip(x))))),
        ("v6n", Arc::new(StringArray::from_iter(r(5).map(|(_, x)| (x % 4 != 0).then(|| ip(x)))))),
        ("v4", Arc::new(StringArray::from_iter_values(r(6).map(|(_, x)| v4(x))))),
        ("b", Arc::new(BooleanArray::from_iter(r(7).map(|(_, x)| Some(x % 2 == 0))))),
        ("bn", Arc::new(BooleanArray::from_iter(r(8).map(|(_, x)| (x % 3 != 0).then_some(x % 2 == 0))))),
        ("d32", Arc::new(Date32Array::from_iter_values(r(10).map(|(_, x)| (x % 146_097) as i32 - 25_567)))), // 1900 ..= 2299
        ("d", Arc::new(Date32Array::from_iter_values(r(11).map(|(_, x)| (x % 65_536) as i32)))), // 1970 ..= 2149-06-06
        ("u", Arc::new(StringArray::from_iter_values(r(12).map(|(i, x)| uuid(x, mix(i, 13)))))),
        ("un", Arc::new(StringArray::from_iter(r(14).map(|(i, x)| (x % 2 == 0).then(|| uuid(x, mix(i, 15)).replace('-', "")))))),
        ("lc", Arc::new(StringArray::from_iter_values(r(16).map(|(_, x)| format!("colo{}", x % 300))))),
        ("lcn", Arc::new(StringArray::from_iter(r(17).map(|(_, x)| (x % 3 != 0).then(|| ["", "DNS", "HTTP"][(x % 3) as usize].to_string()))))),
        ("fs", Arc::new(StringArray::from_iter_values(r(18).map(|(_, x)| format!("{:x}", x >> (x % 64)))))),
        ("m", Arc::new(m.finish())),
        ("mlc", Arc::new(mlc.finish())),
        ("a6", Arc::new(a6.finish())),
        ("alc", Arc::new(alc.finish())),
    ];
    let schema = ArrowSchema::new(cols.iter().map(|(n, a)| Field::new(*n, a.data_type().clone(), a.null_count() > 0)).collect::<Vec<_>>());
    let batch = RecordBatch::try_new(Arc::new(schema), cols.into_iter().map(|(_, a)| a).collect()).unwrap();
    encode_and_verify_in_chdb(MODERN_TYPES, "db.modern", &batch);
}

/// `create_table(…, Dialect::Modern)` of every shipped schema and of the all-types schema is
/// accepted by the modern engine, and so are the writer's bytes for it.
#[test]
fn modern_ddl_takes_the_writers_bytes() {
    let (dns, http, all) = (decoded(Dataset::GatewayDns, 2000, 5), decoded(Dataset::GatewayHttp, 2000, 5), all_types());
    for (schema, batch) in [dns, http, all] {
        let ddl = create_table(&schema, "db", &schema.name, Dialect::Modern);
        encode_and_verify_in_chdb(&ddl, &format!("db.{}", schema.name), &batch);
    }
}

/// The same batch inserted twice with the same `insert_deduplication_token` lands once in
/// the modern DDL's table (it sets `non_replicated_deduplication_window`), twice in a plain
/// MergeTree without that setting; the writer's check of the table (`keeps_tokens`, on what
/// the engine reports in `system.tables`) tells the two apart; `migrate`'s statement for an
/// existing table (`keep_tokens`) makes the plain one deduplicate too. The shipped rollup's
/// view, over the deduplicating table, counts the batch once.
#[test]
fn repeated_token_adds_no_rows_where_the_table_deduplicates() {
    let (schema, batch) = decoded(Dataset::GatewayDns, 500, 9);
    let ddl = create_table(&schema, "db", &schema.name, Dialect::Modern);
    assert!(ddl.contains("non_replicated_deduplication_window"), "{ddl}");
    // The same table without the setting (the last of the SETTINGS clause).
    let plain = ddl.replace(&format!("`{}`\n", schema.name), "`plain`\n").split(", non_replicated_deduplication_window").next().unwrap().to_string();
    for (ddl, table, expect) in [(ddl.as_str(), schema.name.as_str(), 500), (plain.as_str(), "plain", 1000)] {
        let dir = tempfile::tempdir().unwrap();
        let session = dir.path().join("session");
        let columns = chdb_columns(&session, ddl);
        let native = NativeEncoder::new(table, &batch.schema(), &columns).unwrap().encode(&batch).unwrap();
        let file = dir.path().join("batch.native");
        std::fs::write(&file, native).unwrap();
        let sess = session.to_str().unwrap();
        let rollup = &schema.clickhouse.rollups[0];
        if expect == 500 {
            for sql in RollupTable::new(&schema, rollup, "db", table).create_statements(Dialect::Modern, None) {
                verify(&["sql", "--chdb", sess, "--sql", &sql]);
            }
        }
        let twice = |token: &str| verify(&["dedup", "--chdb", sess, "--table", &format!("db.{table}"), "--native", file.to_str().unwrap(), "--token", token]).trim().parse::<usize>().unwrap();
        assert_eq!(twice(&batch_id(0, 499).token()), expect, "table {table}");
        if expect == 500 {
            let sql = |q: &str| verify(&["sql", "--chdb", sess, "--sql", q]).trim().to_string();
            let rolled = sql(&format!("SELECT countMerge(queries) FROM db.{}", rollup.name));
            assert_eq!(rolled, sql("SELECT count() FROM db.gateway_dns ARRAY JOIN query_category_names"), "the rollup counts the repeated batch once");
            assert!(rolled.parse::<u64>().unwrap() > 0, "{rolled}");
        }
        let keeps = || {
            let sql = format!("SELECT engine, create_table_query FROM system.tables WHERE database = 'db' AND name = '{table}'");
            let out = verify(&["sql", "--chdb", sess, "--sql", &sql]);
            let (engine, create) = out.trim_end().split_once('\t').unwrap_or_else(|| panic!("system.tables: {out}"));
            keeps_tokens(engine, &create.replace("\\'", "'"))
        };
        assert_eq!(keeps(), expect == 500, "keeps_tokens of table {table}");
        if expect == 1000 {
            verify(&["sql", "--chdb", sess, "--sql", &keep_tokens(&format!("`db`.`{table}`"))]);
            assert!(keeps(), "after migrate's statement");
            assert_eq!(twice(&batch_id(500, 999).token()), 1500, "a repeated token adds nothing after migrate's statement");
        }
    }
}
