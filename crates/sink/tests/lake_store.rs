//! The lake writer on `memory://` and the local file system: exact round trips, names that
//! make a replay overwrite, parts, multipart uploads that are bounded and atomic, hostile
//! partition values read back by pyarrow and duckdb.

mod lake_support;

use std::sync::atomic::Ordering::SeqCst;
use std::sync::Arc;

use arrow::compute::concat_batches;
use lake_support::recording::Recording;
use lake_support::*;
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::ObjectStore;
use sink::parquet::{Codec, LakeWriter};
use sink::Error;

#[tokio::test]
async fn memory_round_trip_is_exact() {
    let schema = dns_schema();
    let batch = dns_batch(&schema, 3000, 1);
    let store = Arc::new(InMemory::new());
    let writer = LakeWriter::with_store(store.clone(), Path::from("lake"), &config("memory://", |_| {}), &schema).unwrap();
    let written = writer.write(&batch, &batch_id("dns", 0, 3000)).await.unwrap();

    assert!(written.len() > 40, "3000 records over 48 hours touch most hours: {}", written.len());
    assert_eq!(written.iter().map(|f| f.rows).sum::<usize>(), 3000);
    let listed = list(store.as_ref(), &Path::from("lake")).await;
    assert_eq!(listed.iter().map(|(p, size, _)| (p.clone(), *size)).collect::<Vec<_>>(), written.iter().map(|f| (f.path.to_string(), f.bytes)).collect::<Vec<_>>());
    let mut read = Vec::new();
    for file in &written {
        assert!(file.path.as_ref().starts_with("lake/gateway_dns/date=2026-11-2"), "{}", file.path);
        let rows = read_parquet(get(store.as_ref(), &file.path).await);
        assert_eq!(rows.num_rows(), file.rows);
        read.push(rows);
    }
    let expected = in_lake_order(&batch, &schema.parquet.partition_by);
    let read = concat_batches(&expected.schema(), &read).unwrap();
    assert_eq!(read.columns(), expected.columns(), "every value of every row, in order");

    let metadata = key_value_metadata(get(store.as_ref(), &written[0].path).await);
    for (key, value) in [
        ("lakeport.dataset", "gateway_dns"),
        ("lakeport.schema_version", "1"),
        ("lakeport.source_topic", "dns"),
        ("lakeport.source_partition", "0"),
        ("lakeport.first_offset", "0"),
        ("lakeport.last_offset", "2999"),
        ("lakeport.partition_by", "date,hour"),
    ] {
        assert_eq!(metadata.get(key).map(String::as_str), Some(value), "{key} in {metadata:?}");
    }
}

#[tokio::test]
async fn file_lake_is_read_back_by_pyarrow_and_duckdb() {
    let dir = tempfile::tempdir().unwrap();
    let schema = dns_schema();
    let url = format!("file://{}/lake", dir.path().display());
    let writer = LakeWriter::new(&config(&url, |_| {}), &schema).unwrap();
    let batches = [dns_batch(&schema, 2000, 2), dns_batch(&schema, 1500, 3)];
    for (i, batch) in batches.iter().enumerate() {
        writer.write(batch, &batch_id("gateway.dns", i as i64 * 2000, batch.num_rows())).await.unwrap();
    }
    let expected = dir.path().join("expected.parquet");
    write_expected(&expected, &batches);
    let root = dir.path().join("lake/gateway_dns");
    verify_with_python(&expected, root.to_str().unwrap(), &["--partition-by", "date,hour", "--columns", "datetime,query_name,src_ip,resolver_decision"]);
}

#[tokio::test]
async fn writing_a_batch_again_replaces_its_objects() {
    let schema = dns_schema();
    let batch = dns_batch(&schema, 500, 4);
    let dir = tempfile::tempdir().unwrap();
    let stores: [Arc<dyn ObjectStore>; 2] = [Arc::new(InMemory::new()), Arc::new(LocalFileSystem::new_with_prefix(dir.path()).unwrap())];
    for store in stores {
        let writer = LakeWriter::with_store(store.clone(), Path::default(), &config("memory://", |_| {}), &schema).unwrap();
        let id = batch_id("dns", 100, 500);
        let first = writer.write(&batch, &id).await.unwrap();
        let listed = list(store.as_ref(), &Path::default()).await;
        let bytes: Vec<_> = futures::future::join_all(first.iter().map(|f| get(store.as_ref(), &f.path))).await;

        assert_eq!(writer.write(&batch, &id).await.unwrap(), first, "{store}");
        assert_eq!(list(store.as_ref(), &Path::default()).await.len(), listed.len(), "{store}: no object added");
        let again: Vec<_> = futures::future::join_all(first.iter().map(|f| get(store.as_ref(), &f.path))).await;
        assert!(again == bytes, "{store}: same bytes");

        writer.write(&batch, &batch_id("dns", 600, 500)).await.unwrap();
        assert_eq!(list(store.as_ref(), &Path::default()).await.len(), 2 * listed.len(), "{store}: another batch, other names");
    }
}

#[tokio::test]
async fn large_partitions_are_cut_into_parts() {
    let mut schema = dns_schema();
    schema.parquet.partition_by.clear();
    let batch = dns_batch(&schema, 2500, 5);
    let store = Arc::new(InMemory::new());
    let config = config("memory://", |c| c.max_file_rows = 1000);
    let writer = LakeWriter::with_store(store.clone(), Path::default(), &config, &schema).unwrap();
    let written = writer.write(&batch, &batch_id("t", 0, 2500)).await.unwrap();

    let names: Vec<_> = written.iter().map(|f| (f.path.filename().unwrap().to_string(), f.rows)).collect();
    let token = "t-0-00000000000000000000-00000000000000002499";
    assert_eq!(names, [0, 1, 2].map(|p| (format!("{token}-p00{p}.parquet"), if p < 2 { 1000 } else { 500 })));
    let mut read = Vec::new();
    for f in &written {
        read.push(read_parquet(get(store.as_ref(), &f.path).await));
    }
    assert_eq!(concat_batches(&batch.schema(), &read).unwrap().columns(), batch.columns());
}

#[tokio::test]
async fn multipart_uploads_are_bounded_and_atomic_on_local_fs() {
    let dir = tempfile::tempdir().unwrap();
    let mut schema = dns_schema();
    schema.parquet.partition_by.clear();
    let batch = dns_batch(&schema, 4000, 6);
    let config = config("/unused", |c| {
        c.compression = Codec::None;
        c.multipart_part_bytes = 64 << 10;
        c.max_concurrent_uploads = 2;
        c.row_group_rows = 1000;
    });
    let local: Arc<dyn ObjectStore> = Arc::new(LocalFileSystem::new_with_prefix(dir.path()).unwrap());

    let store = Recording::new(local.clone(), None);
    let writer = LakeWriter::with_store(store.clone(), Path::default(), &config, &schema).unwrap();
    let [file] = writer.write(&batch, &batch_id("t", 0, 4000)).await.unwrap().try_into().unwrap();
    let c = &store.counters;
    let parts = c.parts.load(SeqCst);
    assert_eq!((c.multipart_uploads.load(SeqCst), c.puts.load(SeqCst)), (1, 0));
    assert_eq!(parts as u64, file.bytes.div_ceil(64 << 10), "{} bytes", file.bytes);
    assert!((2..=3).contains(&c.max_in_flight.load(SeqCst)), "parts in flight at once: {}", c.max_in_flight.load(SeqCst));
    assert_eq!(read_parquet(get(local.as_ref(), &file.path).await).columns(), batch.columns());
    assert_eq!(std::fs::read_dir(dir.path().join("gateway_dns")).unwrap().count(), 1, "no staging file left");

    let failing = Recording::new(local.clone(), Some(3));
    let writer = LakeWriter::with_store(failing, Path::default(), &config, &schema).unwrap();
    match writer.write(&batch, &batch_id("t", 4000, 4000)).await {
        Err(Error::LakeUpload { path, source }) => assert!(path.contains("t-0-00000000000000004000") && source.to_string().contains("on purpose"), "{path}: {source}"),
        other => panic!("expected an upload error, got {other:?}"),
    }
    let names: Vec<_> = std::fs::read_dir(dir.path().join("gateway_dns")).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names, [file.path.filename().unwrap()], "the failed object is not visible, no staging file is left");
}

#[tokio::test]
async fn hostile_partition_values_stay_inside_the_lake_and_read_back() {
    const HOSTILE: &[Option<&str>] =
        &[Some("../x"), Some(".."), Some("."), Some("a/b"), Some(""), None, Some("%2F"), Some("k=v"), Some("été 日本"), Some("a\nb"), Some("__HIVE_DEFAULT_PARTITION__"), Some("*?{}[]"), Some("../x")];
    let dir = tempfile::tempdir().unwrap();
    let schema = host_schema();
    let batch = host_batch(&schema, HOSTILE);
    let writer = LakeWriter::new(&config(dir.path().join("lake").to_str().unwrap(), |_| {}), &schema).unwrap();
    let written = writer.write(&batch, &batch_id("../../topic/x", 0, HOSTILE.len())).await.unwrap();

    assert_eq!(written.len(), HOSTILE.len() - 2, "one directory per value; null and \"\" share one");
    let root = dir.path().join("lake/hosts");
    let mut files = Vec::new();
    for entry in std::fs::read_dir(&root).unwrap() {
        let sub = entry.unwrap().path();
        assert!(sub.is_dir() && sub.file_name().unwrap().to_str().unwrap().starts_with("host="), "{sub:?}");
        files.extend(std::fs::read_dir(&sub).unwrap().map(|f| f.unwrap().path()));
    }
    assert_eq!(files.len(), written.len(), "every file one level below the dataset: {files:?}");
    let expected = dir.path().join("expected.parquet");
    write_expected(&expected, &[batch]);
    verify_with_python(&expected, root.to_str().unwrap(), &["--partition-by", "host", "--columns", "n"]);
}

#[tokio::test]
async fn batches_of_another_schema_are_refused_and_empty_ones_write_nothing() {
    let schema = dns_schema();
    let writer = LakeWriter::with_store(Arc::new(InMemory::new()), Path::default(), &config("memory://", |_| {}), &schema).unwrap();
    let other = host_batch(&host_schema(), &[Some("a")]);
    match writer.write(&other, &batch_id("t", 0, 1)).await {
        Err(e @ Error::LakeSchema { .. }) => assert!(e.to_string().contains("gateway_dns"), "{e}"),
        other => panic!("expected a schema error, got {other:?}"),
    }
    let empty = dns_batch(&schema, 10, 7).slice(0, 0);
    assert!(writer.write(&empty, &batch_id("t", 0, 1)).await.unwrap().is_empty());

    let mut bad = host_schema();
    bad.parquet.partition_by = vec!["nope".into()];
    let err = LakeWriter::with_store(Arc::new(InMemory::new()), Path::default(), &config("memory://", |_| {}), &bad).unwrap_err();
    assert!(err.to_string().contains("`nope` is not a column"), "{err}");
    bad.parquet.partition_by = vec!["host".into(), "n".into()];
    let err = LakeWriter::with_store(Arc::new(InMemory::new()), Path::default(), &config("memory://", |_| {}), &bad).unwrap_err();
    assert!(err.to_string().contains("every column is a partition column"), "{err}");
}

/// Dead letters are counted back under their batch, also for a topic whose name is escaped
/// in object names (a leading `_`).
#[tokio::test]
async fn dead_letters_are_counted_by_their_batch() {
    let schema = dns_schema();
    let letters = sink::dead_letter::DeadLetters::open("memory://").unwrap();
    let id = sink::BatchId { topic: "_dns.logs".into(), partition: 2, first_offset: 10, last_offset: 19 };
    let refused: Vec<_> = (10..13).map(|o| sink::dead_letter::DeadLetter::from_sink_rejection(o, 1, b"{}".to_vec(), "refused")).collect();
    letters.write(&schema, &id, &refused).await.unwrap();
    assert_eq!(letters.counts(&schema.name).await.unwrap(), [(id, 3)]);
}
