//! Batches inserted into the ClickHouse 18.16 server read back equal, for every shipped
//! schema, a schema of every logical type, and the 18.16 types the DDL does not use.

mod clickhouse_support;

use std::sync::Arc;

use arrow_array::builder::{ListBuilder, StringBuilder};
use arrow_array::{ArrayRef, BooleanArray, RecordBatch, StringArray, TimestampNanosecondArray, UInt32Array};
use arrow_schema::{DataType, Field, Schema as ArrowSchema};
use clickhouse_support::*;
use sink::clickhouse::{create_table, ClickHouseConfig, ClickHouseWriter, Client, Compression, Dialect};
use sink::{Error, ErrorClass};
use synth::Dataset;

#[tokio::test]
async fn shipped_schemas_round_trip() {
    let db = random_name("rt");
    let client = fresh_database(&db).await;
    for dataset in [Dataset::GatewayDns, Dataset::GatewayHttp] {
        let (schema, batch) = decoded(dataset, 3000, 7);
        client.query(&create_table(&schema, &db, &schema.name, Dialect::Legacy)).await.expect("create table");
        insert_and_verify(&client, &db, &schema.name, &batch).await;
    }
    client.query(&format!("DROP DATABASE `{db}`")).await.unwrap();
}

/// Every body encoding 18.16 takes, with a body of several 1 MiB blocks.
#[tokio::test]
async fn every_body_compression_round_trips() {
    let db = random_name("rt");
    let client = fresh_database(&db).await;
    let (schema, batch) = decoded(Dataset::GatewayDns, 6000, 11);
    for compression in [Compression::None, Compression::Gzip, Compression::Lz4] {
        let table = format!("dns_{compression:?}").to_lowercase();
        client.query(&create_table(&schema, &db, &table, Dialect::Legacy)).await.expect("create table");
        insert_and_verify_as(&client, &db, &table, &batch, compression).await;
    }
    let writer = sink::clickhouse::ClickHouseWriter::new(config_as(&clickhouse_url(), &db, "dns_none", Compression::Zstd)).unwrap();
    if client.server_version().await.unwrap().has_zstd_body() {
        writer.insert(&batch, &batch_id(0, 1)).await.expect("zstd insert");
    } else {
        let err = writer.insert(&batch, &batch_id(0, 1)).await.expect_err("zstd refused before sending");
        assert!(err.to_string().contains("zstd needs ClickHouse 20.12"), "{err}");
        assert_eq!(err.class(), ErrorClass::Permanent, "{err}");
    }
    client.query(&format!("DROP DATABASE `{db}`")).await.unwrap();
}

#[tokio::test]
async fn every_logical_type_round_trips() {
    let db = random_name("rt");
    let client = fresh_database(&db).await;
    let (schema, batch) = all_types();
    client.query(&create_table(&schema, &db, &schema.name, Dialect::Legacy)).await.expect("create table");
    insert_and_verify(&client, &db, "all_types", &batch).await;
    client.query(&format!("DROP DATABASE `{db}`")).await.unwrap();
}

/// 18.16 types the legacy DDL does not use: UUID, FixedString, LowCardinality (experimental
/// there) with UInt8, UInt16 and UInt32 indexes, Array(Nullable), DateTime; plus a table
/// column the batch lacks, filled by its DEFAULT.
#[tokio::test]
async fn other_types_of_18_16_round_trip() {
    let db = random_name("rt");
    let client = fresh_database(&db).await;
    let mut lc_config = ClickHouseConfig::new(clickhouse_url(), "x");
    lc_config.settings.insert("allow_experimental_low_cardinality_type".into(), "1".into());
    Client::new(&lc_config.validate().unwrap())
        .unwrap()
        .query(&format!(
            "CREATE TABLE `{db}`.extra (k UInt32, u UUID, un Nullable(UUID), fs FixedString(8), few LowCardinality(String), \
             some LowCardinality(String), many LowCardinality(Nullable(String)), alc Array(LowCardinality(String)), \
             an Array(Nullable(String)), b UInt8, t DateTime, dflt String DEFAULT 'filled') ENGINE = MergeTree ORDER BY k"
        ))
        .await
        .expect("create table");
    let rows = 90_000u32;
    let uuid = |i: u32| format!("{i:08x}-5cb3-11e7-907b-{:012X}", u64::from(i) * 7919);
    let mut alc = ListBuilder::new(StringBuilder::new()).with_field(Field::new("item", DataType::Utf8, false));
    let mut an = ListBuilder::new(StringBuilder::new());
    for i in 0..rows {
        (0..i % 3).for_each(|j| alc.values().append_value(format!("tag{}", (i + j) % 5)));
        alc.append(i % 7 != 0);
        (0..i % 3).for_each(|j| an.values().append_option((j != 1).then(|| format!("n{j}"))));
        an.append(true);
    }
    let cols: Vec<(&str, ArrayRef)> = vec![
        ("k", Arc::new(UInt32Array::from_iter_values(0..rows))),
        ("u", Arc::new(StringArray::from_iter_values((0..rows).map(uuid)))),
        ("un", Arc::new(StringArray::from_iter((0..rows).map(|i| (i % 2 == 0).then(|| uuid(i).replace('-', "")))))),
        ("fs", Arc::new(StringArray::from_iter_values((0..rows).map(|i| format!("{:x}", i * 977))))),
        ("few", Arc::new(StringArray::from_iter_values((0..rows).map(|i| ["", "a", "b"][i as usize % 3])))),
        ("some", Arc::new(StringArray::from_iter_values((0..rows).map(|i| format!("s{}", i % 700))))),
        ("many", Arc::new(StringArray::from_iter((0..rows).map(|i| (i % 5 != 0).then(|| format!("m{i}")))))),
        ("alc", Arc::new(alc.finish())),
        ("an", Arc::new(an.finish())),
        ("b", Arc::new(BooleanArray::from_iter((0..rows).map(|i| Some(i % 2 == 1))))),
        ("t", Arc::new(TimestampNanosecondArray::from_iter_values((0..rows).map(|i| i64::from(i) * 61_000_000_123)).with_timezone("UTC"))),
    ];
    let schema = ArrowSchema::new(cols.iter().map(|(n, a)| Field::new(*n, a.data_type().clone(), a.null_count() > 0)).collect::<Vec<_>>());
    let batch = RecordBatch::try_new(Arc::new(schema), cols.into_iter().map(|(_, a)| a).collect()).unwrap();
    insert_and_verify(&client, &db, "extra", &batch).await;
    let filled = client.query(&format!("SELECT count() FROM `{db}`.extra WHERE dflt = 'filled'")).await.unwrap();
    assert_eq!(filled.trim(), rows.to_string());
    client.query(&format!("DROP DATABASE `{db}`")).await.unwrap();
}

#[tokio::test]
async fn mismatches_and_missing_tables_fail_before_sending() {
    let db = random_name("rt");
    let client = fresh_database(&db).await;
    client.query(&format!("CREATE TABLE `{db}`.t (k UInt32, s String) ENGINE = MergeTree ORDER BY k")).await.unwrap();
    let batch = |name: &str, array: ArrayRef| {
        let schema = ArrowSchema::new(vec![Field::new("k", DataType::UInt32, false), Field::new(name, array.data_type().clone(), true)]);
        RecordBatch::try_new(Arc::new(schema), vec![Arc::new(UInt32Array::from(vec![1])), array]).unwrap()
    };
    let writer = ClickHouseWriter::new(config(&clickhouse_url(), &db, "t")).unwrap();
    let wrong_type = writer.insert(&batch("s", Arc::new(UInt32Array::from(vec![5]))), &batch_id(0, 0)).await.unwrap_err();
    assert!(
        matches!(&wrong_type, Error::ClickHouseMismatch { column, table_type, batch_type, .. } if column == "s" && table_type == "String" && batch_type == "UInt32"),
        "{wrong_type}"
    );
    let unknown = writer.insert(&batch("x", Arc::new(StringArray::from(vec!["a"]))), &batch_id(0, 0)).await.unwrap_err();
    assert!(unknown.to_string().contains("column `x`: the table has no such column"), "{unknown}");
    let count = client.query(&format!("SELECT count() FROM `{db}`.t")).await.unwrap();
    assert_eq!(count.trim(), "0", "nothing was sent");
    let absent = ClickHouseWriter::new(config(&clickhouse_url(), &db, "absent")).unwrap();
    let err = absent.insert(&batch("s", Arc::new(StringArray::from(vec!["a"]))), &batch_id(0, 0)).await.unwrap_err();
    assert!(matches!(err, Error::ClickHouseNoTable { .. }), "{err}");
    client.query(&format!("DROP DATABASE `{db}`")).await.unwrap();
}

#[tokio::test]
async fn server_errors_are_classified() {
    let db = random_name("rt");
    let client = fresh_database(&db).await;
    client.query(&format!("CREATE TABLE `{db}`.t (k UInt32) ENGINE = MergeTree ORDER BY k")).await.unwrap();
    let insert = format!("INSERT INTO `{db}`.t (k) FORMAT JSONEachRow");
    let rejected = client.insert(&insert, b"{\"k\":\"not a number\"}\n".to_vec(), &[]).await.unwrap_err();
    assert!(matches!(rejected, Error::ClickHouseRejected { code: 6 | 26 | 27 | 72 | 117, .. }), "{rejected}");
    let syntax = client.query("SELEC 1").await.unwrap_err();
    assert!(matches!(syntax, Error::ClickHouseQuery { code: Some(62), .. }), "{syntax}");
    let unknown = client.query(&format!("SELECT * FROM `{db}`.nope")).await.unwrap_err();
    assert!(matches!(unknown, Error::ClickHouseQuery { code: Some(60), .. }), "{unknown}");
    let sent = client.insert(&insert, b"{\"k\":1}\n{\"k\":2}\n".to_vec(), &[]).await.unwrap();
    assert_eq!(sent.attempts, 1);
    assert!(sent.sent_bytes > 0 && sent.body_bytes == 16);
    assert_eq!(client.server_version().await.unwrap().dialect(), Dialect::Legacy);
    let cols = client.table_columns(&db, "t").await.unwrap();
    assert_eq!((cols[0].name.as_str(), cols[0].type_name.as_str()), ("k", "UInt32"));
    assert!(client.table_columns(&db, "nope").await.unwrap().is_empty());
    client.query(&format!("DROP DATABASE `{db}`")).await.unwrap();
}
