//! ClickHouse writer throughput, on 20,000 generated records of each Gateway dataset:
//!
//! 1. Native encoding on one core (criterion, then a summary): MB/s of Native body out and
//!    rows/s, into the legacy (18.16) and the modern column types; the JSONEachRow body of
//!    the same batch (arrow_json) for comparison.
//! 2. Request-body compression of the Native body: MB/s in and size ratio per codec/level.
//! 3. Inserts into the local ClickHouse 18.16 (`LAKEPORT_TEST_CLICKHOUSE_URL`, from
//!    `.lakeport/services/env`): rows/s end to end (encode, compress, send, server insert)
//!    of the same batches as Native and as JSONEachRow, in the same run, with the ratio; and
//!    the CPU each costs, per million rows: this process (encode, compress, send; from
//!    `/proc/self/stat`), the server's insert queries (parse, decompress, write parts; user +
//!    system time of `system.query_log`), and the whole server process, background merges
//!    included (`LAKEPORT_TEST_CLICKHOUSE_PID_FILE`, `/proc/PID/stat`).
//!
//! `cargo bench -p sink --bench clickhouse`

use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow_array::cast::AsArray;
use arrow_array::types::TimestampNanosecondType;
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, TimeUnit};
use criterion::{Criterion, Throughput};
use sink::clickhouse::{create_table, table_columns, ClickHouseConfig, ClickHouseWriter, Client, Compression, Dialect, NativeEncoder, TableColumn};
use sink::BatchId;
use synth::{Dataset, Generator};
use transform::{Decoder, Schema};

const ROWS: usize = 20_000;
/// Inserts per format and dataset in part 3.
const INSERTS: usize = 5;

struct Case {
    name: String,
    batch: RecordBatch,
    encoder: NativeEncoder,
}

fn decoded(dataset: Dataset) -> (Arc<Schema>, RecordBatch) {
    let path = format!("{}/../../schemas/{}.toml", env!("CARGO_MANIFEST_DIR"), dataset.name());
    let schema = Arc::new(Schema::from_path(path).unwrap());
    let mut generator = Generator::new(dataset, 7);
    let mut ndjson = Vec::new();
    for _ in 0..ROWS {
        generator.next_record(&mut ndjson);
        ndjson.push(b'\n');
    }
    let mut decoder = Decoder::new(schema.clone()).unwrap().with_source("bench", 0);
    let mut rejects = Vec::new();
    decoder.decode_at(&ndjson, 0, &mut rejects);
    assert!(rejects.is_empty());
    (schema, decoder.flush().unwrap())
}

fn columns(schema: &Schema, dialect: Dialect) -> Vec<TableColumn> {
    table_columns(schema, dialect).into_iter().map(|c| TableColumn { name: c.name, type_name: c.type_name, default_kind: String::new() }).collect()
}

/// The batch with its timestamps' zone spelled `+00:00`: arrow_json knows zone names only
/// with chrono-tz. Metadata only, the values are shared.
fn json_ready(batch: &RecordBatch) -> RecordBatch {
    let retag = |a: &ArrayRef| match a.data_type() {
        DataType::Timestamp(TimeUnit::Nanosecond, Some(_)) => Arc::new(a.as_primitive::<TimestampNanosecondType>().clone().with_timezone("+00:00")) as ArrayRef,
        _ => a.clone(),
    };
    let columns: Vec<ArrayRef> = batch.columns().iter().map(retag).collect();
    let fields: Vec<Field> = batch.schema().fields().iter().zip(&columns).map(|(f, a)| f.as_ref().clone().with_data_type(a.data_type().clone())).collect();
    RecordBatch::try_new(Arc::new(arrow_schema::Schema::new(fields)), columns).unwrap()
}

/// The JSONEachRow body of a batch from [`json_ready`].
fn json(batch: &RecordBatch) -> Vec<u8> {
    let mut w = arrow_json::LineDelimitedWriter::new(Vec::with_capacity(batch.get_array_memory_size()));
    w.write(batch).unwrap();
    w.finish().unwrap();
    w.into_inner()
}

/// Mean wall time of `f` over enough runs to take about a second.
fn time(mut f: impl FnMut()) -> Duration {
    let start = Instant::now();
    let mut runs = 0u32;
    while runs < 3 || start.elapsed() < Duration::from_secs(1) {
        f();
        runs += 1;
    }
    start.elapsed() / runs
}

fn mb_s(bytes: usize, d: Duration) -> f64 {
    bytes as f64 / 1e6 / d.as_secs_f64()
}

fn encode(c: &mut Criterion, cases: &[Case]) {
    let mut group = c.benchmark_group("clickhouse_native_encode");
    for case in cases {
        group.throughput(Throughput::Elements(case.batch.num_rows() as u64));
        group.bench_function(&case.name, |b| b.iter(|| case.encoder.encode(&case.batch).unwrap()));
    }
    group.finish();

    println!("\nNative encoding, one core, {ROWS} rows per batch:");
    println!("{:<24} {:>10} {:>12} {:>12} | {:>14} {:>12}", "batch", "Native MB", "MB/s out", "rows/s", "JSONEachRow MB", "JSON rows/s");
    for case in cases {
        let native = case.encoder.encode(&case.batch).unwrap().len();
        let d = time(|| drop(case.encoder.encode(&case.batch).unwrap()));
        let for_json = json_ready(&case.batch);
        let j = time(|| drop(json(&for_json)));
        let rows = case.batch.num_rows() as f64;
        let json_len = json(&for_json).len();
        println!(
            "{:<24} {:>10.2} {:>12.0} {:>12.0} | {:>14.2} {:>12.0}",
            case.name,
            native as f64 / 1e6,
            mb_s(native, d),
            rows / d.as_secs_f64(),
            json_len as f64 / 1e6,
            rows / j.as_secs_f64()
        );
    }
}

fn gzip(body: &[u8], level: u32) -> Vec<u8> {
    use std::io::Write as _;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(level));
    gz.write_all(body).unwrap();
    gz.finish().unwrap()
}

fn compression(cases: &[Case]) {
    type Codec = (&'static str, fn(&[u8]) -> Vec<u8>);
    let codecs: [Codec; 6] = [
        ("lz4", |b| lz4_flex::block::compress(b)),
        ("gzip 1", |b| gzip(b, 1)),
        ("gzip 6", |b| gzip(b, 6)),
        ("zstd 1", |b| zstd::bulk::compress(b, 1).unwrap()),
        ("zstd 3", |b| zstd::bulk::compress(b, 3).unwrap()),
        ("zstd 6", |b| zstd::bulk::compress(b, 6).unwrap()),
    ];
    println!("\nRequest-body compression of the Native body, one core:");
    println!("{:<24} {:<8} {:>10} {:>8}", "batch", "codec", "MB/s in", "ratio");
    for case in cases.iter().filter(|c| c.name.ends_with("legacy")) {
        let body = case.encoder.encode(&case.batch).unwrap();
        for (name, codec) in codecs {
            let packed = codec(&body).len();
            let d = time(|| drop(codec(&body)));
            println!("{:<24} {:<8} {:>10.0} {:>8.2}", case.name, name, mb_s(body.len(), d), body.len() as f64 / packed as f64);
        }
    }
}

async fn inserts(url: &str, datasets: &[(Arc<Schema>, RecordBatch)]) {
    let db = format!("bench_{:08x}", rand::random::<u32>());
    let config = |table: &str, compression| {
        let mut c = ClickHouseConfig::new(url, table);
        (c.database, c.compression) = (db.clone(), compression);
        c.settings.insert("log_queries".into(), "1".into());
        c.validate().unwrap()
    };
    let client = Client::new(&ClickHouseConfig::new(url, "none").validate().unwrap()).unwrap();
    client.query(&format!("CREATE DATABASE {db}")).await.unwrap();
    println!("\nInserts into ClickHouse {} at {url}, {INSERTS} × {ROWS} rows per format (encode + compress + send + insert):", client.server_version().await.unwrap());
    let server = std::env::var("LAKEPORT_TEST_CLICKHOUSE_PID_FILE").ok().and_then(|f| std::fs::read_to_string(f).ok()).map(|p| p.trim().to_string());
    println!("{:<14} {:<22} {:>8} {:>8} {:>8} {:>14} {:>14} {:>14}", "dataset", "format", "MB sent", "rows/s", "vs JSON", "client CPU-s/M", "inserts CPU-s/M", "server CPU-s/M");
    let formats = [
        ("JSONEachRow, gzip", Compression::Gzip),
        ("Native, gzip", Compression::Gzip),
        ("Native, lz4", Compression::Lz4),
        ("Native, uncompressed", Compression::None),
    ];
    for (schema, batch) in datasets {
        let mut results = Vec::new();
        for (format, compression) in formats {
            let table = format!("{}_{}", schema.name, results.len());
            client.query(&create_table(schema, &db, &table, Dialect::Legacy)).await.unwrap();
            let writer = ClickHouseWriter::new(config(&table, compression)).unwrap();
            let names: Vec<String> = batch.schema().fields().iter().map(|f| format!("`{}`", f.name())).collect();
            let query = format!("INSERT INTO {db}.{table} ({}) FORMAT JSONEachRow", names.join(", "));
            let for_json = json_ready(batch);
            let (start, mut sent) = (Instant::now(), 0);
            let cpu = (cpu_seconds("self"), server.as_deref().map(cpu_seconds));
            for i in 0..INSERTS {
                let id = BatchId { topic: "bench".into(), partition: 0, first_offset: (i * ROWS) as i64, last_offset: ((i + 1) * ROWS - 1) as i64 };
                sent += if format.starts_with("JSON") {
                    let settings = [("date_time_input_format", "best_effort"), ("log_queries", "1")];
                    writer.client().insert(&query, json(&for_json), &settings).await.unwrap().sent_bytes
                } else {
                    writer.insert(batch, &id).await.unwrap().sent_bytes
                };
            }
            let rows_s = (INSERTS * ROWS) as f64 / start.elapsed().as_secs_f64();
            let per_million = |before: f64, after: f64| (after - before) / (INSERTS * ROWS) as f64 * 1e6;
            let client_cpu = per_million(cpu.0, cpu_seconds("self"));
            let server_cpu = match (cpu.1, server.as_deref()) {
                (Some(before), Some(pid)) => format!("{:.2}", per_million(before, cpu_seconds(pid))),
                _ => "-".into(),
            };
            client.query("SYSTEM FLUSH LOGS").await.unwrap();
            let cpu_micros = "arraySum(arrayMap((n, v) -> if(n = 'UserTimeMicroseconds' OR n = 'SystemTimeMicroseconds', v, 0), ProfileEvents.Names, ProfileEvents.Values))";
            let logged = client
                .query(&format!("SELECT sum({cpu_micros}) FROM system.query_log WHERE type = 2 AND query LIKE 'INSERT INTO %' AND position(query, '{table}') > 0 AND position(query, '{db}') > 0"))
                .await
                .unwrap();
            let inserts_cpu = per_million(0.0, logged.trim().parse::<f64>().unwrap() / 1e6);
            let count = client.query(&format!("SELECT count() FROM {db}.{table}")).await.unwrap();
            assert_eq!(count.trim(), (INSERTS * ROWS).to_string(), "{format}: every row inserted");
            let ratio = results.first().map_or(1.0, |json_rows_s| rows_s / json_rows_s);
            println!("{:<14} {:<22} {:>8.2} {:>8.0} {:>7.2}× {:>14.2} {:>15.2} {:>14}", schema.name, format, sent as f64 / 1e6, rows_s, ratio, client_cpu, inserts_cpu, server_cpu);
            results.push(rows_s);
        }
    }
    client.query(&format!("DROP DATABASE {db}")).await.unwrap();
}

/// User + system CPU seconds of process `pid` (`self` for this one) so far, all threads.
fn cpu_seconds(pid: &str) -> f64 {
    /// `/proc` counts in USER_HZ, 100 on Linux.
    const TICKS_PER_SECOND: f64 = 100.0;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("read /proc/PID/stat");
    // Fields after the parenthesised command name: state is field 3, utime 14, stime 15.
    let fields: Vec<&str> = stat[stat.rfind(')').expect("a stat line") + 2..].split(' ').collect();
    let ticks = |i: usize| fields[i - 3].parse::<f64>().expect("a tick count");
    (ticks(14) + ticks(15)) / TICKS_PER_SECOND
}

fn main() {
    let datasets = [decoded(Dataset::GatewayDns), decoded(Dataset::GatewayHttp)];
    let mut cases = Vec::new();
    for (schema, batch) in &datasets {
        for (dialect, label) in [(Dialect::Legacy, "legacy"), (Dialect::Modern, "modern")] {
            let encoder = NativeEncoder::new(&schema.name, &batch.schema(), &columns(schema, dialect)).unwrap();
            cases.push(Case { name: format!("{}/{label}", schema.name), batch: batch.clone(), encoder });
        }
    }
    let mut c = Criterion::default().configure_from_args();
    encode(&mut c, &cases);
    // Under `cargo test` (no `--bench`) the criterion cases run once as a smoke test; the
    // timed tables below only under `cargo bench`.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    compression(&cases);
    match std::env::var("LAKEPORT_TEST_CLICKHOUSE_URL") {
        Ok(url) => tokio::runtime::Runtime::new().unwrap().block_on(inserts(&url, &datasets)),
        Err(_) => println!(
            "\nInserts: skipped, LAKEPORT_TEST_CLICKHOUSE_URL is not set (run `scripts/services.sh start && source .lakeport/services/env`)"
        ),
    }
    c.final_summary();
}
