//! Decoder throughput on generated Gateway logs: (a) decode to a RecordBatch, (b) decode +
//! Parquet zstd encode, (c) the `arrow_json` baseline on the same bytes, with the ratio.
//!
//! `cargo bench -p transform` runs criterion's measurements, then prints a table of
//! records/s and MB/s of JSON input per core (single-threaded) for each case.
//! `LAKEPORT_BENCH_PROFILE=N` runs only N rounds of (a) on gateway_dns, for a profiler.

use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow_array::RecordBatch;
use arrow_schema::{DataType, Field, Schema as ArrowSchema, SchemaRef};
use criterion::{criterion_group, Criterion, Throughput};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use synth::{Dataset, Generator};
use transform::{Decoder, LogicalType, Schema};

const RECORDS: usize = 20_000;

/// Records per dataset: all of them under `cargo bench`; a few when `cargo test` only
/// smoke-tests the bench in a debug build.
fn records() -> usize {
    if std::env::args().any(|a| a == "--bench") { RECORDS } else { 500 }
}
/// Input is handed over in chunks of about this size, as a consumer hands over a batch.
const CHUNK: usize = 1 << 20;

struct Input {
    dataset: Dataset,
    schema: Arc<Schema>,
    ndjson: Vec<u8>,
    chunks: Vec<std::ops::Range<usize>>,
    baseline_schema: SchemaRef,
}

fn input(dataset: Dataset, with_baseline: bool) -> Input {
    let path = format!("{}/../../schemas/{}.toml", env!("CARGO_MANIFEST_DIR"), dataset.name());
    let schema = Arc::new(Schema::from_path(path).expect("shipped schema"));
    let mut g = Generator::new(dataset, 7);
    let mut ndjson = Vec::new();
    for _ in 0..records() {
        g.next_record(&mut ndjson);
        ndjson.push(b'\n');
    }
    let mut chunks = Vec::new();
    let mut start = 0;
    while start < ndjson.len() {
        let end = (start + CHUNK).min(ndjson.len());
        let end = ndjson[end - 1..].iter().position(|&b| b == b'\n').map_or(ndjson.len(), |i| end + i);
        chunks.push(start..end);
        start = end;
    }
    let baseline_schema = if with_baseline { baseline_schema(&schema, &ndjson) } else { Arc::new(ArrowSchema::empty()) };
    Input { dataset, schema, ndjson, chunks, baseline_schema }
}

/// The same columns for arrow-json, keyed by JSON key. `json` fields are left out (arrow-json
/// cannot keep a value as text); where it cannot read our type from these bytes (Logpush's
/// `""` in a number field), the column is read as text.
fn baseline_schema(schema: &Schema, ndjson: &[u8]) -> SchemaRef {
    let fields = schema
        .fields
        .iter()
        .filter(|f| f.source.len() == 1 && f.ty != LogicalType::Json)
        .map(|f| {
            let typed = Field::new(&f.source[0], f.ty.arrow_type(), true);
            let fits = arrow_json_decode(&Arc::new(ArrowSchema::new(vec![typed.clone()])), ndjson).is_ok();
            if fits { typed } else { Field::new(&f.source[0], DataType::Utf8, true) }
        })
        .collect::<Vec<_>>();
    Arc::new(ArrowSchema::new(fields))
}

fn arrow_json_decode(schema: &SchemaRef, ndjson: &[u8]) -> Result<usize, arrow_schema::ArrowError> {
    let mut d = arrow_json::ReaderBuilder::new(schema.clone()).with_batch_size(8192).with_coerce_primitive(true).build_decoder()?;
    let mut rows = 0;
    let mut buf = ndjson;
    while !buf.is_empty() {
        let n = d.decode(buf)?;
        buf = &buf[n..];
        if n == 0 || d.len() >= 8192 {
            rows += d.flush()?.map_or(0, |b| b.num_rows());
        }
    }
    rows += d.flush()?.map_or(0, |b| b.num_rows());
    Ok(rows)
}

fn ours(input: &Input, d: &mut Decoder) -> Vec<RecordBatch> {
    let mut rejects = Vec::new();
    let mut out = Vec::new();
    for r in &input.chunks {
        d.decode_lines(&input.ndjson[r.clone()], &mut rejects);
        out.extend(std::iter::from_fn(|| d.flush()));
    }
    assert!(rejects.is_empty(), "{:?}", rejects.first());
    out
}

fn ours_to_parquet(input: &Input, d: &mut Decoder) -> usize {
    let batches = ours(input, d);
    let props = WriterProperties::builder().set_compression(Compression::ZSTD(ZstdLevel::try_new(3).unwrap())).build();
    let mut w = ArrowWriter::try_new(Vec::new(), batches[0].schema(), Some(props)).unwrap();
    for b in &batches {
        w.write(b).unwrap();
    }
    w.into_inner().unwrap().len()
}

fn baseline(input: &Input) -> usize {
    arrow_json_decode(&input.baseline_schema, &input.ndjson).expect("arrow-json decodes the baseline")
}

fn bench(c: &mut Criterion) {
    for input in [input(Dataset::GatewayDns, true), input(Dataset::GatewayHttp, true)] {
        let mut g = c.benchmark_group(input.dataset.name());
        g.throughput(Throughput::Bytes(input.ndjson.len() as u64));
        g.sample_size(10).measurement_time(Duration::from_secs(4));
        let mut d = Decoder::new(input.schema.clone()).unwrap();
        g.bench_function("a_decode", |b| b.iter(|| ours(&input, &mut d)));
        g.bench_function("b_decode_parquet_zstd", |b| b.iter(|| ours_to_parquet(&input, &mut d)));
        g.bench_function("c_arrow_json_baseline", |b| b.iter(|| baseline(&input)));
        g.finish();
    }
}

/// Best-of-N wall time of `f` over at least `budget` of runs.
fn best_time(budget: Duration, mut f: impl FnMut()) -> Duration {
    let start = Instant::now();
    let mut best = Duration::MAX;
    while start.elapsed() < budget {
        let t = Instant::now();
        f();
        best = best.min(t.elapsed());
    }
    best
}

fn summary() {
    println!("\nPer core (one thread), JSON input bytes; best of ~3 s per case:");
    println!("{:<14} {:<26} {:>14} {:>10} {:>14}", "dataset", "case", "records/s", "MB/s", "vs arrow-json");
    for input in [input(Dataset::GatewayDns, true), input(Dataset::GatewayHttp, true)] {
        let mb = input.ndjson.len() as f64 / 1e6;
        let base = best_time(Duration::from_secs(3), || {
            baseline(&input);
        });
        let mut d = Decoder::new(input.schema.clone()).unwrap();
        let cases: [(&str, Duration); 3] = [
            ("a decode", best_time(Duration::from_secs(3), || drop(ours(&input, &mut d)))),
            ("b decode+parquet zstd", best_time(Duration::from_secs(3), || {
                ours_to_parquet(&input, &mut d);
            })),
            ("c arrow-json baseline", base),
        ];
        for (name, t) in cases {
            let s = t.as_secs_f64();
            println!(
                "{:<14} {:<26} {:>14.0} {:>10.1} {:>13.2}x",
                input.dataset.name(),
                name,
                records() as f64 / s,
                mb / s,
                base.as_secs_f64() / s
            );
        }
        let as_text = input.schema.fields.iter().filter(|f| {
            f.ty.arrow_type() != DataType::Utf8
                && input.baseline_schema.field_with_name(&f.source[0]).is_ok_and(|b| b.data_type() == &DataType::Utf8)
        });
        let skipped = input.schema.fields.iter().filter(|f| f.ty == LogicalType::Json).count();
        println!(
            "{:<14} (avg record {:.0} bytes; arrow-json reads {} typed fields as text and skips {} json fields)",
            "",
            input.ndjson.len() as f64 / records() as f64,
            as_text.count(),
            skipped
        );
    }
}

criterion_group!(benches, bench);

fn main() {
    // `LAKEPORT_BENCH_PROFILE=N`: only decode gateway_dns N times, for a profiler.
    if let Some(n) = std::env::var("LAKEPORT_BENCH_PROFILE").ok().and_then(|v| v.parse::<usize>().ok()) {
        let input = input(Dataset::GatewayDns, false);
        let mut d = Decoder::new(input.schema.clone()).unwrap();
        for _ in 0..n {
            drop(ours(&input, &mut d));
        }
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
    // The timed table only under `cargo bench`, not when `cargo test` smoke-tests benches.
    if std::env::args().any(|a| a == "--bench") {
        summary();
    }
}
