//! Shared by the ClickHouse integration tests: the test environment (fails loudly when a
//! variable is missing), random names, decoded batches, and the independent Python check
//! (`tests/verify_clickhouse.py`).
#![allow(dead_code)] // each test file uses its own part

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use arrow_array::RecordBatch;
use sink::clickhouse::{ClickHouseConfig, Client, ValidatedConfig};
use sink::BatchId;
use transform::synth::{Dataset, Generator};
use transform::{Decoder, Schema};

/// A variable of `.lakeport/services/env`.
pub fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run `scripts/services.sh start && source .lakeport/services/env` first (scripts/test.sh does both)")
    })
}

/// The 18.16 server's HTTP URL.
pub fn clickhouse_url() -> String {
    env("LAKEPORT_TEST_CLICKHOUSE_URL")
}

/// A name no other test run uses.
pub fn random_name(prefix: &str) -> String {
    format!("{prefix}_{:016x}", rand::random::<u64>())
}

/// A path in the repository.
pub fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(path)
}

/// A shipped schema.
pub fn schema(dataset: &str) -> Arc<Schema> {
    Arc::new(Schema::from_path(repo(&format!("schemas/{dataset}.toml"))).expect("shipped schema"))
}

/// `count` valid generated records of `dataset`, decoded into one batch.
pub fn decoded(dataset: Dataset, count: usize, seed: u64) -> (Arc<Schema>, RecordBatch) {
    let schema = schema(dataset.name());
    let mut generator = Generator::new(dataset, seed);
    let mut lines = Vec::new();
    for _ in 0..count {
        generator.next_record(&mut lines);
        lines.push(b'\n');
    }
    (schema.clone(), decode(schema, &lines))
}

/// `lines` (NDJSON) decoded under `schema` with the source coordinate columns, as the
/// pipeline decodes; every line must decode.
pub fn decode(schema: Arc<Schema>, lines: &[u8]) -> RecordBatch {
    let mut decoder = Decoder::new(schema).expect("decoder").with_source("test", 0);
    let mut rejects = Vec::new();
    decoder.decode_at(lines, 42, &mut rejects);
    assert!(rejects.is_empty(), "test records rejected: {rejects:?}");
    decoder.flush().expect("rows")
}

/// A writer configuration for `database.table` at `url`, retrying quickly.
pub fn config(url: &str, database: &str, table: &str) -> ValidatedConfig {
    let mut c = ClickHouseConfig::new(url, table);
    c.database = database.into();
    c.retry.initial_backoff = Duration::from_millis(20);
    c.retry.max_backoff = Duration::from_millis(500);
    c.retry.max_attempts = 4;
    c.validate().expect("valid config")
}

/// A client of the 18.16 server with a fresh database `name`.
pub async fn fresh_database(name: &str) -> Client {
    let client = Client::new(&config(&clickhouse_url(), "default", "unused")).unwrap();
    client.query(&format!("CREATE DATABASE `{name}`")).await.expect("create database");
    client
}

/// A batch id for tests.
pub fn batch_id(first: i64, last: i64) -> BatchId {
    BatchId { topic: "test".into(), partition: 0, first_offset: first, last_offset: last }
}

/// Writes `batch` where the Python check reads it.
pub fn write_parquet(batch: &RecordBatch, path: &Path) {
    let file = std::fs::File::create(path).unwrap();
    let mut w = parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None).unwrap();
    w.write(batch).unwrap();
    w.close().unwrap();
}

/// Runs `tests/verify_clickhouse.py` with `args`; its standard output.
pub fn verify(args: &[&str]) -> String {
    let out = Command::new(env("LAKEPORT_TEST_PYTHON"))
        .arg(repo("tests/verify_clickhouse.py"))
        .args(args)
        .output()
        .expect("run the Python check");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "tests/verify_clickhouse.py {args:?} failed:\n{stdout}{}", String::from_utf8_lossy(&out.stderr));
    stdout
}

/// Inserts `batch` into the 18.16 table `database.table`, then checks every row read back
/// against `batch` with the Python check.
pub async fn insert_and_verify(client: &Client, database: &str, table: &str, batch: &RecordBatch) {
    let writer = sink::clickhouse::ClickHouseWriter::new(config(&clickhouse_url(), database, table)).unwrap();
    let stats = writer.insert(batch, &batch_id(0, batch.num_rows() as i64)).await.expect("insert");
    assert_eq!((stats.rows, stats.attempts, stats.dedup_token), (batch.num_rows(), 1, None));
    let count = client.query(&format!("SELECT count() FROM `{database}`.`{table}`")).await.unwrap();
    assert_eq!(count.trim(), batch.num_rows().to_string());
    let dir = tempfile::tempdir().unwrap();
    let expected = dir.path().join("expected.parquet");
    write_parquet(batch, &expected);
    let out = verify(&["compare", "--expected", expected.to_str().unwrap(), "--table", &format!("{database}.{table}"), "--http", &clickhouse_url()]);
    assert!(out.starts_with(&format!("ok: {} rows", batch.num_rows())), "{out}");
}
