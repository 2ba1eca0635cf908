//! Shared by the ClickHouse integration tests: the test environment (fails loudly when a
//! variable is missing), random names, decoded batches, the independent Python check
//! (`tests/verify_clickhouse.py`), and private servers to kill (ClickHouse, ZooKeeper).
#![allow(dead_code)] // each test file uses its own part

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow_array::RecordBatch;
use sink::clickhouse::{ClickHouseConfig, Client, Compression, ValidatedConfig};
use sink::BatchId;
use synth::{Dataset, Generator};
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
    config_as(url, database, table, Compression::Auto)
}

/// [`config`], request bodies sent with `compression`.
pub fn config_as(url: &str, database: &str, table: &str, compression: Compression) -> ValidatedConfig {
    let mut c = ClickHouseConfig::new(url, table);
    c.compression = compression;
    c.database = database.into();
    c.retry.initial_backoff = Duration::from_millis(20);
    c.retry.max_backoff = Duration::from_millis(500);
    c.retry.max_attempts = 4;
    c.validate().expect("valid config")
}

/// A client for the fresh database `name` of the 18.16 server, which it creates (a client
/// configured for a database that does not exist yet can).
pub async fn fresh_database(name: &str) -> Client {
    let client = Client::new(&config(&clickhouse_url(), name, "unused")).unwrap();
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
    insert_and_verify_as(client, database, table, batch, Compression::Auto).await;
}

/// [`insert_and_verify`], the body sent with `compression`.
pub async fn insert_and_verify_as(client: &Client, database: &str, table: &str, batch: &RecordBatch, compression: Compression) {
    let writer = sink::clickhouse::ClickHouseWriter::new(config_as(&clickhouse_url(), database, table, compression)).unwrap();
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

const ALL_TYPES: &str = r#"
name = "all_types"
version = 1
[[field]]
name = "ts"
type = "timestamp"
required = true
[[field]]
name = "s"
type = "string"
low_cardinality = true
[[field]]
name = "b"
type = "bool"
[[field]]
name = "i8"
type = "int8"
[[field]]
name = "i16"
type = "int16"
default = -1
[[field]]
name = "i32"
type = "int32"
[[field]]
name = "i64"
type = "int64"
[[field]]
name = "u8"
type = "uint8"
[[field]]
name = "u16"
type = "uint16"
[[field]]
name = "u32"
type = "uint32"
[[field]]
name = "u64"
type = "uint64"
[[field]]
name = "f32"
type = "float32"
[[field]]
name = "f64"
type = "float64"
[[field]]
name = "d"
type = "date"
[[field]]
name = "ip"
type = "ip"
[[field]]
name = "j"
type = "json"
[[field]]
name = "l_u16"
type = "list<uint16>"
[[field]]
name = "l_s"
type = "list<string>"
[[field]]
name = "l_ip"
type = "list<ip>"
[[field]]
name = "l_ts"
type = "list<timestamp>"
[[field]]
name = "m"
type = "map<string,string>"
[[derived]]
name = "date"
from = "ts"
kind = "date"
[[derived]]
name = "hour"
from = "ts"
kind = "hour"
[clickhouse]
order_by = ["ts"]
partition_by = "date"
"#;

/// Records of every logical type: extremes, nulls, empties, unicode and escapes. Dates stop
/// at 2105-12-31: 18.16 stores later ones (up to 2149-06-06 and 2106-02-07 06:28:15) but
/// its date table ends there, so it prints them wrong.
const ALL_TYPES_RECORDS: &str = r#"{"ts":"2026-11-23T07:01:02.123456789Z","s":"héllo ✓ 😀","b":true,"i8":-128,"i16":32767,"i32":-2147483648,"i64":-9223372036854775808,"u8":255,"u16":65535,"u32":4294967295,"u64":18446744073709551615,"f32":1.5,"f64":-2.5e300,"d":"2105-12-31","ip":"2001:db8::1","j":{"a":[1,"x"]},"l_u16":[0,65535],"l_s":["a","","\"q\"\\\n"],"l_ip":["10.0.0.1","::1"],"l_ts":[0,1795392000123456789],"m":{"k":"v","ü\"":"\\n"}}
{"ts":0,"s":"","b":false,"i8":127,"i64":9223372036854775807,"f32":-0.0,"f64":0.1,"d":"1970-01-01","ip":"192.168.1.1","j":null,"l_u16":[],"l_s":[],"m":{}}
{"ts":"1999-12-31T23:59:59Z","s":"tab\there","j":"text","l_s":["x"],"l_ip":[]}
{"ts":4291747199,"s":"2105-12-31T23:59:59Z","j":[1,2.5,true],"d":"2000-02-29"}
"#;

/// The schema of every logical type, and its records decoded.
pub fn all_types() -> (Arc<Schema>, RecordBatch) {
    let schema = Arc::new(Schema::from_toml_str(ALL_TYPES, "all_types.toml").unwrap());
    (schema.clone(), decode(schema, ALL_TYPES_RECORDS.as_bytes()))
}

/// A private ClickHouse server (scripts/clickhouse-instance.sh), killed when dropped.
pub struct Private {
    child: Child,
    dir: PathBuf,
    pub ports: [u16; 3],
}

impl Private {
    /// A server keeping its data in `dir`, on `ports` (HTTP, TCP, interserver).
    pub fn start(dir: &Path, ports: [u16; 3]) -> Self {
        Self::spawn(dir, ports, Command::new(env("LAKEPORT_TEST_CLICKHOUSE_LAUNCHER")))
    }

    /// A server whose replicated tables use `zookeeper` (`host:port`), with the macro
    /// `{replica}` = `replica`.
    pub fn replica(dir: &Path, zookeeper: &str, replica: &str) -> Self {
        let mut c = Command::new(env("LAKEPORT_TEST_CLICKHOUSE_LAUNCHER"));
        c.env("LAKEPORT_CLICKHOUSE_ZOOKEEPER", zookeeper).env("LAKEPORT_CLICKHOUSE_REPLICA", replica);
        Self::spawn(dir, free_ports(), c)
    }

    fn spawn(dir: &Path, ports: [u16; 3], mut c: Command) -> Self {
        let child = c.arg(dir).args(ports.map(|p| p.to_string())).stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("start ClickHouse with $LAKEPORT_TEST_CLICKHOUSE_LAUNCHER");
        let server = Self { child, dir: dir.to_path_buf(), ports };
        let deadline = Instant::now() + Duration::from_secs(60);
        while !ping(ports[0]) {
            assert!(Instant::now() < deadline, "private ClickHouse not ready on port {} after 60 s; see {}/err", ports[0], server.dir.display());
            std::thread::sleep(Duration::from_millis(100));
        }
        server
    }

    /// Its HTTP URL.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.ports[0])
    }

    /// Kills it (SIGKILL); the ports it had, to start it again on.
    pub fn kill(mut self) -> [u16; 3] {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        self.ports
    }
}

impl Drop for Private {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A private standalone ZooKeeper (scripts/zookeeper-instance.sh), killed when dropped.
pub struct ZooKeeper {
    child: Child,
    port: u16,
}

impl ZooKeeper {
    pub fn start(dir: &Path) -> Self {
        let port = free_ports()[0];
        let log = std::fs::File::create(dir.with_extension("log")).unwrap();
        let child = Command::new(env("LAKEPORT_TEST_ZOOKEEPER_LAUNCHER")).arg(dir).arg(port.to_string()).stdout(log.try_clone().unwrap()).stderr(log).spawn().expect("start ZooKeeper with $LAKEPORT_TEST_ZOOKEEPER_LAUNCHER");
        let deadline = Instant::now() + Duration::from_secs(60);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "private ZooKeeper not ready on port {port} after 60 s; see {}", dir.with_extension("log").display());
            std::thread::sleep(Duration::from_millis(100));
        }
        Self { child, port }
    }

    /// `host:port` for ClickHouse's configuration.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for ZooKeeper {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether the ClickHouse HTTP interface on `port` answers `/ping` with `Ok.`.
fn ping(port: u16) -> bool {
    use std::io::{Read as _, Write as _};
    let Ok(mut sock) = std::net::TcpStream::connect(("127.0.0.1", port)) else { return false };
    let _ = sock.set_read_timeout(Some(Duration::from_secs(2)));
    let mut answer = String::new();
    sock.write_all(b"GET /ping HTTP/1.0\r\n\r\n").is_ok() && sock.read_to_string(&mut answer).is_ok() && answer.ends_with("\r\n\r\nOk.\n")
}

/// Three free loopback ports.
pub fn free_ports() -> [u16; 3] {
    let sockets: Vec<std::net::TcpListener> = (0..3).map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap()).collect();
    [0, 1, 2].map(|i| sockets[i].local_addr().unwrap().port())
}
