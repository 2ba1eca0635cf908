//! Shared by the lake tests: realistic batches, the test services, reading the lake back,
//! the Python readers, and a store that records (and can fail) multipart uploads.
// Each test binary uses a different part of this module.
#![allow(dead_code)]

pub mod recording;

use std::path::{Path as FsPath, PathBuf};
use std::process::Command;
use std::sync::Arc;

use arrow::array::{RecordBatch, RecordBatchReader as _, StringArray, UInt32Array};
use arrow::compute::{concat_batches, take_record_batch};
use arrow::util::display::{ArrayFormatter, FormatOptions};
use bytes::Bytes;
use futures::TryStreamExt as _;
use object_store::aws::AmazonS3Builder;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt as _};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use rand::distr::{Alphanumeric, SampleString};
use sink::parquet::{FileWriter, LakeConfig, ValidLakeConfig, WriterOptions};
use sink::BatchId;
use synth::{Dataset, Generator};
use transform::{Decoder, Schema};

/// A variable that `scripts/services.sh start` writes to `.lakeport/services/env`.
pub fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run scripts/setup.sh and scripts/services.sh start, then `source .lakeport/services/env` (scripts/test.sh does all of it)")
    })
}

pub fn repo() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

/// A fresh lowercase name, e.g. for a bucket.
pub fn random_name(prefix: &str) -> String {
    format!("{prefix}-{}", Alphanumeric.sample_string(&mut rand::rng(), 12).to_lowercase())
}

pub fn dns_schema() -> Schema {
    Schema::from_path(repo().join("schemas/gateway_dns.toml")).expect("shipped gateway_dns schema")
}

/// `rows` generated gateway_dns records, decoded (they spread over 48 hours: 48 partitions).
pub fn dns_batch(schema: &Schema, rows: usize, seed: u64) -> RecordBatch {
    let mut generator = Generator::new(Dataset::GatewayDns, seed);
    let mut ndjson = Vec::new();
    for _ in 0..rows {
        generator.next_record(&mut ndjson);
        ndjson.push(b'\n');
    }
    let mut decoder = Decoder::new(Arc::new(schema.clone())).unwrap();
    assert!(decoder.decode(&ndjson).is_empty(), "generated records decode");
    decoder.flush().unwrap()
}

/// A batch of `schema` (columns `host` string, `n` uint32) with these hosts.
pub fn host_batch(schema: &Schema, hosts: &[Option<&str>]) -> RecordBatch {
    let n = UInt32Array::from_iter_values(0..hosts.len() as u32);
    RecordBatch::try_new(schema.arrow_schema(), vec![Arc::new(StringArray::from(hosts.to_vec())), Arc::new(n)]).unwrap()
}

/// A dataset partitioned by a string column `host`.
pub fn host_schema() -> Schema {
    Schema::from_toml_str(
        "name = \"hosts\"\nversion = 1\n[[field]]\nname = \"host\"\ntype = \"string\"\n[[field]]\nname = \"n\"\ntype = \"uint32\"\n[parquet]\npartition_by = [\"host\"]\n",
        "hosts.toml",
    )
    .unwrap()
}

pub fn batch_id(topic: &str, first: i64, rows: usize) -> BatchId {
    BatchId { topic: topic.into(), partition: 0, first_offset: first, last_offset: first + rows as i64 - 1 }
}

pub fn config(url: &str, edit: impl FnOnce(&mut LakeConfig)) -> ValidLakeConfig {
    let mut config = LakeConfig::new(url);
    edit(&mut config);
    config.validate().unwrap()
}

/// The rows of `batch` in the order the lake stores them: by partition directory (as the
/// writer orders them, formatted independently here), then in batch order; partition
/// columns dropped.
pub fn in_lake_order(batch: &RecordBatch, partition_by: &[String]) -> RecordBatch {
    let options = FormatOptions::default();
    let columns: Vec<_> = partition_by.iter().map(|c| batch.column_by_name(c).unwrap().clone()).collect();
    let formatters: Vec<_> = columns.iter().map(|c| ArrayFormatter::try_new(c.as_ref(), &options).unwrap()).collect();
    let key = |row: usize| -> Vec<String> {
        partition_by.iter().zip(&formatters).map(|(name, f)| format!("{name}={}", f.value(row))).collect()
    };
    let mut order: Vec<u32> = (0..batch.num_rows() as u32).collect();
    order.sort_by_key(|&i| key(i as usize));
    let sorted = take_record_batch(batch, &UInt32Array::from(order)).unwrap();
    let keep: Vec<usize> = (0..batch.num_columns()).filter(|&i| !partition_by.contains(batch.schema().field(i).name())).collect();
    sorted.project(&keep).unwrap()
}

/// Every row of a Parquet file.
pub fn read_parquet(bytes: Bytes) -> RecordBatch {
    let reader = ParquetRecordBatchReaderBuilder::try_new(bytes).unwrap().build().unwrap();
    let schema = reader.schema();
    concat_batches(&schema, &reader.collect::<Result<Vec<_>, _>>().unwrap()).unwrap()
}

/// A Parquet file's key-value metadata.
pub fn key_value_metadata(bytes: Bytes) -> std::collections::HashMap<String, String> {
    let builder = ParquetRecordBatchReaderBuilder::try_new(bytes).unwrap();
    let kv = builder.metadata().file_metadata().key_value_metadata().cloned().unwrap_or_default();
    kv.into_iter().filter_map(|kv| Some((kv.key, kv.value?))).collect()
}

pub async fn get(store: &dyn ObjectStore, path: &Path) -> Bytes {
    store.get(path).await.unwrap().bytes().await.unwrap()
}

/// (path, size, e_tag) of every object under `prefix`, sorted.
pub async fn list(store: &dyn ObjectStore, prefix: &Path) -> Vec<(String, u64, Option<String>)> {
    let mut objects: Vec<_> =
        store.list(Some(prefix)).map_ok(|m| (m.location.to_string(), m.size, m.e_tag)).try_collect().await.unwrap();
    objects.sort();
    objects
}

/// A fresh bucket on the test S3 server, and a store on it with explicit credentials.
pub async fn s3_bucket() -> (Arc<dyn ObjectStore>, String) {
    let endpoint = env("LAKEPORT_TEST_S3_ENDPOINT");
    let bucket = random_name("lake");
    let created = reqwest::Client::new().put(format!("{endpoint}/{bucket}")).send().await.expect("S3 server reachable");
    assert!(created.status().is_success(), "creating bucket {bucket}: {}", created.status());
    let store = AmazonS3Builder::new()
        .with_endpoint(&endpoint)
        .with_allow_http(true)
        .with_bucket_name(&bucket)
        .with_region(env("LAKEPORT_TEST_S3_REGION"))
        .with_access_key_id(env("LAKEPORT_TEST_S3_ACCESS_KEY_ID"))
        .with_secret_access_key(env("LAKEPORT_TEST_S3_SECRET_ACCESS_KEY"))
        .build()
        .unwrap();
    (Arc::new(store), bucket)
}

/// Writes all `batches` to one local Parquet file: what the lake must hold.
pub fn write_expected(path: &FsPath, batches: &[RecordBatch]) {
    let mut file = FileWriter::create(path, batches[0].schema(), &WriterOptions::default(), &[]).unwrap();
    batches.iter().for_each(|b| file.write(b).unwrap());
    file.finish().unwrap();
}

/// Runs `tests/verify_lake.py EXPECTED ROOT args…` (pyarrow and duckdb read the lake with
/// Hive partitioning and compare it with EXPECTED); panics with its output when it fails.
pub fn verify_with_python(expected: &FsPath, root: &str, args: &[&str]) {
    let mut python = Command::new(env("LAKEPORT_TEST_PYTHON"));
    python.arg(repo().join("tests/verify_lake.py")).arg(expected).arg(root).args(args);
    if root.starts_with("s3://") {
        python
            .args(["--endpoint", &env("LAKEPORT_TEST_S3_ENDPOINT")])
            .env("AWS_ACCESS_KEY_ID", env("LAKEPORT_TEST_S3_ACCESS_KEY_ID"))
            .env("AWS_SECRET_ACCESS_KEY", env("LAKEPORT_TEST_S3_SECRET_ACCESS_KEY"))
            .env("AWS_REGION", env("LAKEPORT_TEST_S3_REGION"));
    }
    let out = python.output().expect("run python");
    let report = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "verify_lake.py disagrees with the lake at {root}:\n{report}");
    println!("{report}");
}
