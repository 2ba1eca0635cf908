//! The lake writer against the test S3 server (moto): a lake read back by pyarrow and
//! duckdb with Hive partitioning, replays that overwrite, multipart uploads that span
//! several parts and leave nothing visible when they fail.

mod lake_support;

use std::sync::atomic::Ordering::SeqCst;
use std::sync::Arc;

use arrow::array::{Int64Array, RecordBatch, StringArray};
use lake_support::recording::Recording;
use lake_support::*;
use object_store::path::Path;
use object_store::ObjectStoreExt as _;
use rand::distr::{Alphanumeric, SampleString};
use sink::parquet::{Codec, LakeWriter};
use sink::Error;
use transform::Schema;

#[tokio::test]
async fn s3_lake_is_read_back_by_pyarrow_and_duckdb_and_replays_overwrite() {
    let (store, bucket) = s3_bucket().await;
    let schema = dns_schema();
    let prefix = Path::from("lake/v1");
    let writer = LakeWriter::with_store(store.clone(), prefix.clone(), &config("s3://unused/x", |_| {}), &schema).unwrap();
    let batches = [dns_batch(&schema, 2500, 11), dns_batch(&schema, 2000, 12), dns_batch(&schema, 1000, 13)];
    let mut first = 0;
    for batch in &batches {
        writer.write(batch, &batch_id("gateway_dns", first, batch.num_rows())).await.unwrap();
        first += batch.num_rows() as i64;
    }
    let listed = list(store.as_ref(), &prefix).await;
    assert!(listed.len() > 100, "3 batches × ~48 hours: {}", listed.len());

    // Replaying the second batch rewrites the same objects with the same bytes (same ETags).
    writer.write(&batches[1], &batch_id("gateway_dns", 2500, 2000)).await.unwrap();
    assert_eq!(list(store.as_ref(), &prefix).await, listed);

    let dir = tempfile::tempdir().unwrap();
    let expected = dir.path().join("expected.parquet");
    write_expected(&expected, &batches);
    let root = format!("s3://{bucket}/lake/v1/gateway_dns");
    verify_with_python(&expected, &root, &["--partition-by", "date,hour", "--columns", "datetime,query_name,src_ip,application_id"]);
}

/// A dataset `blobs` of incompressible rows (`id` int64, `payload` 1 KiB of random text).
fn blobs(rows: usize) -> (Schema, RecordBatch) {
    let schema = Schema::from_toml_str(
        "name = \"blobs\"\nversion = 1\n[[field]]\nname = \"id\"\ntype = \"int64\"\n[[field]]\nname = \"payload\"\ntype = \"string\"\n",
        "blobs.toml",
    )
    .unwrap();
    let mut rng = rand::rng();
    let payload: StringArray = (0..rows).map(|_| Some(Alphanumeric.sample_string(&mut rng, 1024))).collect();
    let id = Int64Array::from_iter_values(0..rows as i64);
    let batch = RecordBatch::try_new(schema.arrow_schema(), vec![Arc::new(id), Arc::new(payload)]).unwrap();
    (schema, batch)
}

#[tokio::test]
async fn large_files_go_up_in_several_parts_and_failures_leave_nothing() {
    let (s3, bucket) = s3_bucket().await;
    let (schema, batch) = blobs(12_000);
    let part = 5 << 20;
    let config = config("s3://unused/x", |c| {
        c.compression = Codec::None;
        c.multipart_part_bytes = part;
        c.max_concurrent_uploads = 2;
        c.row_group_rows = 2000;
    });

    let store = Recording::new(s3.clone(), None);
    let writer = LakeWriter::with_store(store.clone(), Path::default(), &config, &schema).unwrap();
    let [file] = writer.write(&batch, &batch_id("t", 0, batch.num_rows())).await.unwrap().try_into().unwrap();
    let parts = file.bytes.div_ceil(part as u64);
    assert!(parts >= 3, "{} bytes", file.bytes);
    assert_eq!(store.counters.parts.load(SeqCst) as u64, parts);
    assert!(store.counters.max_in_flight.load(SeqCst) <= 3, "in flight: {}", store.counters.max_in_flight.load(SeqCst));
    let head = s3.head(&file.path).await.unwrap();
    assert_eq!(head.size, file.bytes);
    let etag = head.e_tag.unwrap();
    assert!(etag.trim_matches('"').ends_with(&format!("-{parts}")), "S3 assembled {parts} parts: ETag {etag}");
    assert_eq!(read_parquet(get(s3.as_ref(), &file.path).await).columns(), batch.columns());

    let failing = Recording::new(s3.clone(), Some(2));
    let writer = LakeWriter::with_store(failing, Path::from("failed"), &config, &schema).unwrap();
    let err = writer.write(&batch, &batch_id("t", 0, batch.num_rows())).await.unwrap_err();
    assert!(matches!(err, Error::LakeUpload { .. }), "{err}");
    assert!(list(s3.as_ref(), &Path::from("failed")).await.is_empty(), "nothing visible after a failed upload");
    let uploads = reqwest::get(format!("{}/{bucket}?uploads", env("LAKEPORT_TEST_S3_ENDPOINT"))).await.unwrap().text().await.unwrap();
    assert!(uploads.contains("<ListMultipartUploadsResult") && !uploads.contains("<Upload>"), "the failed upload was aborted: {uploads}");
}
