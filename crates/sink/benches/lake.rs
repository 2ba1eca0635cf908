//! Lake writer throughput: a batch of generated gateway_dns records, encoded to Parquet
//! (zstd 3, the defaults) and written by `LakeWriter` to the local file system and to
//! `memory://`, as one partition and as the 48 hourly partitions the records span (in time
//! order, as a Logpush batch mostly is, and interleaved: every partition's rows scattered).
//!
//! `cargo bench -p sink --bench lake` runs criterion's measurements, then prints a table
//! of rows/s and MB/s (of Arrow data in, of Parquet out), by wall time and per core (rows
//! per second of the process's CPU time, encoding and file writes together).

use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::RecordBatch;
use arrow::compute::{sort_to_indices, take_record_batch};
use criterion::{criterion_group, Criterion, Throughput};
use object_store::memory::InMemory;
use object_store::path::Path;
use sink::parquet::{LakeConfig, LakeWriter};
use sink::BatchId;
use synth::{Dataset, Generator};
use transform::{Decoder, Schema};

const ROWS: usize = 100_000;

struct Case {
    name: &'static str,
    target: &'static str,
    writer: LakeWriter,
    batch: RecordBatch,
    _dir: Option<tempfile::TempDir>,
}

fn batch(schema: &Schema) -> RecordBatch {
    let mut generator = Generator::new(Dataset::GatewayDns, 7);
    let mut ndjson = Vec::new();
    for _ in 0..ROWS {
        generator.next_record(&mut ndjson);
        ndjson.push(b'\n');
    }
    let mut decoder = Decoder::new(Arc::new(schema.clone())).unwrap();
    assert!(decoder.decode(&ndjson).is_empty());
    decoder.flush().unwrap()
}

fn cases() -> Vec<Case> {
    let hourly = Schema::from_path(concat!(env!("CARGO_MANIFEST_DIR"), "/../../schemas/gateway_dns.toml")).unwrap();
    let mut single = hourly.clone();
    single.parquet.partition_by.clear();
    let batch = batch(&hourly);
    let by_time = sort_to_indices(batch.column_by_name("datetime").unwrap(), None, None).unwrap();
    let sorted = take_record_batch(&batch, &by_time).unwrap();
    let config = LakeConfig::new("memory://").validate().unwrap();
    let mut cases = Vec::new();
    for (name, schema, batch) in [("1 partition", &single, &batch), ("48 hours, in time order", &hourly, &sorted), ("48 hours, interleaved", &hourly, &batch)] {
        let dir = tempfile::tempdir().unwrap();
        let local = LakeConfig::new(dir.path().to_str().unwrap()).validate().unwrap();
        let file = LakeWriter::new(&local, schema).unwrap();
        let memory = LakeWriter::with_store(Arc::new(InMemory::new()), Path::default(), &config, schema).unwrap();
        cases.push(Case { name, target: "file", writer: file, batch: batch.clone(), _dir: Some(dir) });
        cases.push(Case { name, target: "memory", writer: memory, batch: batch.clone(), _dir: None });
    }
    cases
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

/// Writes the case's batch (always under the same id, so files are overwritten); returns
/// the bytes written.
fn write(rt: &tokio::runtime::Runtime, case: &Case) -> u64 {
    let id = BatchId { topic: "gateway_dns".into(), partition: 0, first_offset: 0, last_offset: ROWS as i64 - 1 };
    rt.block_on(case.writer.write(&case.batch, &id)).unwrap().iter().map(|f| f.bytes).sum()
}

fn bench(c: &mut Criterion) {
    let rt = runtime();
    let mut g = c.benchmark_group("lake_write");
    g.throughput(Throughput::Elements(ROWS as u64)).sample_size(10).measurement_time(Duration::from_secs(5));
    for case in cases() {
        g.bench_function(format!("{} {}", case.name, case.target), |b| b.iter(|| write(&rt, &case)));
    }
    g.finish();
}

/// CPU time (user + system) of this process so far, from /proc (clock ticks of 10 ms).
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let fields: Vec<u64> = stat[stat.rfind(')').unwrap() + 2..].split(' ').skip(11).take(2).map(|f| f.parse().unwrap()).collect();
    Duration::from_millis((fields[0] + fields[1]) * 10)
}

fn summary() {
    let rt = runtime();
    println!("\n{ROWS} gateway_dns rows per write, zstd 3; totals over ~5 s of writes per case:");
    println!("{:<24} {:<7} {:>11} {:>13} {:>11} {:>14} {:>8}", "case", "target", "rows/s", "Arrow MB/s", "Parquet MB/s", "rows/s/core", "files");
    for case in cases() {
        let arrow_mb = case.batch.get_array_memory_size() as f64 / 1e6;
        let files = rt.block_on(case.writer.write(&case.batch, &BatchId { topic: "warmup".into(), partition: 0, first_offset: 0, last_offset: 0 })).unwrap().len();
        let (start, cpu) = (Instant::now(), cpu_time());
        let (mut writes, mut bytes) = (0u32, 0u64);
        while start.elapsed() < Duration::from_secs(5) {
            bytes += write(&rt, &case);
            writes += 1;
        }
        let (wall, cpu) = (start.elapsed().as_secs_f64(), (cpu_time() - cpu).as_secs_f64());
        let rows = f64::from(writes) * ROWS as f64;
        println!(
            "{:<24} {:<7} {:>11.0} {:>13.1} {:>11.1} {:>14.0} {:>8}",
            case.name,
            case.target,
            rows / wall,
            arrow_mb * f64::from(writes) / wall,
            bytes as f64 / 1e6 / wall,
            rows / cpu,
            files
        );
    }
}

criterion_group!(benches, bench);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    // The timed table only under `cargo bench`, not when `cargo test` smoke-tests benches.
    if std::env::args().any(|a| a == "--bench") {
        summary();
    }
}
