//! Retries and their limits: a scripted HTTP server counts attempts and shows what a modern
//! server receives; a private ClickHouse 18.16 is killed while an insert retries, restarted,
//! and holds the batch exactly once.

mod clickhouse_support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use arrow_array::{ArrayRef, RecordBatch, StringArray, UInt32Array};
use arrow_schema::{DataType, Field, Schema};
use clickhouse_support::*;
use sink::clickhouse::{create_table, ClickHouseWriter, Client, Compression, Dialect, NativeEncoder, TableColumn};
use sink::Error;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use synth::Dataset;

/// One request the scripted server received.
#[derive(Debug, Clone)]
struct Request {
    url: url::Url,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    fn param(&self, name: &str) -> Option<String> {
        self.url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
    }
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
    fn is_insert(&self) -> bool {
        self.param("query").is_some_and(|q| q.starts_with("INSERT"))
    }
}

/// An HTTP server on a loopback port answering each request with `respond(request, number
/// of earlier inserts)`; every request is recorded.
struct Scripted {
    url: String,
    requests: Arc<Mutex<Vec<Request>>>,
}

impl Scripted {
    async fn start(respond: impl Fn(&Request, usize) -> (u16, String) + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let requests: Arc<Mutex<Vec<Request>>> = Arc::default();
        let (log, respond, base) = (requests.clone(), Arc::new(respond), url.clone());
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                let (log, respond, base) = (log.clone(), respond.clone(), base.clone());
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let head_end = loop {
                        let mut chunk = [0u8; 4096];
                        let n = sock.read(&mut chunk).await.unwrap();
                        assert!(n > 0, "client closed mid-request");
                        buf.extend_from_slice(&chunk[..n]);
                        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            break i + 4;
                        }
                    };
                    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
                    let mut lines = head.lines();
                    let target = lines.next().unwrap().split(' ').nth(1).unwrap().to_string();
                    let headers: Vec<(String, String)> =
                        lines.filter_map(|l| l.split_once(": ")).map(|(k, v)| (k.to_string(), v.to_string())).collect();
                    let length: usize = headers.iter().find(|(k, _)| k.eq_ignore_ascii_case("content-length")).map_or(0, |(_, v)| v.parse().unwrap());
                    while buf.len() < head_end + length {
                        let mut chunk = [0u8; 65536];
                        let n = sock.read(&mut chunk).await.unwrap();
                        buf.extend_from_slice(&chunk[..n]);
                    }
                    let request = Request { url: url::Url::parse(&format!("{base}{target}")).unwrap(), headers, body: buf[head_end..].to_vec() };
                    let inserts = log.lock().unwrap().iter().filter(|r| r.is_insert()).count();
                    let (status, body) = respond(&request, inserts);
                    log.lock().unwrap().push(request);
                    let answer = format!("HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
                    sock.write_all(answer.as_bytes()).await.unwrap();
                });
            }
        });
        Self { url, requests }
    }

    fn inserts(&self) -> Vec<Request> {
        self.requests.lock().unwrap().iter().filter(|r| r.is_insert()).cloned().collect()
    }
}

/// A server of `version` with table `db.t (k UInt32, s String)` whose inserts get `insert`.
async fn server(version: &'static str, insert: impl Fn(usize) -> (u16, String) + Send + Sync + 'static) -> Scripted {
    Scripted::start(move |r, inserts| match String::from_utf8_lossy(&r.body) {
        _ if r.is_insert() => insert(inserts),
        b if b.starts_with("SELECT version()") => (200, format!("{version}\n")),
        b if b.contains("system.columns") => {
            (200, "{\"name\":\"k\",\"type\":\"UInt32\",\"default_kind\":\"\"}\n{\"name\":\"s\",\"type\":\"String\",\"default_kind\":\"\"}\n".into())
        }
        b => (400, format!("Code: 62. DB::Exception: unexpected {b}")),
    })
    .await
}

fn batch() -> RecordBatch {
    let schema = Schema::new(vec![Field::new("k", DataType::UInt32, false), Field::new("s", DataType::Utf8, false)]);
    let cols: Vec<ArrayRef> = vec![Arc::new(UInt32Array::from(vec![1, 2])), Arc::new(StringArray::from(vec!["a", "b"]))];
    RecordBatch::try_new(Arc::new(schema), cols).unwrap()
}

#[tokio::test]
async fn retriable_failures_are_retried_until_they_pass() {
    let s = server("18.16.1", |n| match n {
        0 => (503, "Service Unavailable".into()),
        1 => (500, "Code: 252, e.displayText() = DB::Exception: Too many parts (300)".into()),
        _ => (200, String::new()),
    })
    .await;
    let stats = ClickHouseWriter::new(config(&s.url, "db", "t")).unwrap().insert(&batch(), &batch_id(5, 6)).await.unwrap();
    assert_eq!((stats.rows, stats.attempts), (2, 3));
    assert_eq!(s.inserts().len(), 3);
}

#[tokio::test]
async fn errors_that_would_recur_are_not_retried() {
    for (status, body, expect) in [
        (500, "Code: 117. DB::Exception: Incorrect data: bad row", "rejected"),
        (500, "Code: 27, e.displayText() = DB::Exception: Cannot parse input", "rejected"),
        (400, "Code: 62. DB::Exception: Syntax error", "query"),
        (404, "Code: 60. DB::Exception: Table db.t doesn't exist", "query"),
        (516, "Code: 516. DB::Exception: default: Authentication failed", "query"),
    ] {
        let s = server("18.16.1", move |_| (status, body.into())).await;
        let err = ClickHouseWriter::new(config(&s.url, "db", "t")).unwrap().insert(&batch(), &batch_id(5, 6)).await.unwrap_err();
        let kind = match &err {
            Error::ClickHouseRejected { code, .. } if body.contains(&format!("Code: {code}")) => "rejected",
            Error::ClickHouseQuery { status: st, .. } if *st == status => "query",
            _ => "other",
        };
        assert_eq!(kind, expect, "{err}");
        assert_eq!(s.inserts().len(), 1, "{body}: one attempt only");
    }
}

/// A server (or a proxy in front of it) that answers the ledger's questions with something
/// that is not an answer — a 200 with an HTML page — gets an error, never a guess: the
/// state is not taken for "unknown" (which would record a new intent) and the count of an
/// interrupted batch is not taken for 0 (which would insert it blindly, a second time).
#[tokio::test]
async fn ledger_answers_that_are_not_answers_are_errors_not_guesses() {
    let s = Scripted::start(|r, _| match String::from_utf8_lossy(&r.body) {
        _ if r.param("query").is_some_and(|q| q.contains("_lakeport_ledger")) => (200, String::new()),
        _ if r.is_insert() => (200, String::new()),
        b if b.starts_with("SELECT version()") => (200, "18.16.1\n".into()),
        b if b.starts_with("CREATE TABLE IF NOT EXISTS") => (200, String::new()),
        b if b.contains("system.columns") && b.contains("_lakeport_ledger") => (200, "{\"name\":\"fingerprint\",\"type\":\"UInt64\",\"default_kind\":\"DEFAULT\"}\n{\"name\":\"writer\",\"type\":\"String\",\"default_kind\":\"DEFAULT\"}\n".into()),
        b if b.contains("system.columns") => (200, "{\"name\":\"k\",\"type\":\"UInt32\",\"default_kind\":\"\"}\n{\"name\":\"s\",\"type\":\"String\",\"default_kind\":\"\"}\n".into()),
        _ => (200, "<html>gateway timeout page</html>".into()),
    })
    .await;
    let cfg = config(&s.url, "db", "t");
    let ledger = sink::ledger::Ledger::open(&cfg).await.unwrap();
    let id = batch_id(5, 6);
    assert!(matches!(ledger.state(&id).await, Err(Error::ClickHouseAnswer { .. })), "state");
    assert!(matches!(ledger.ranges_from("test", 0, 0).await, Err(Error::ClickHouseAnswer { .. })), "ranges");
    let writer = ClickHouseWriter::new(cfg).unwrap();
    let err = writer.insert_once(&batch(), &id, true).await.unwrap_err();
    assert!(matches!(err, Error::ClickHouseAnswer { .. }), "{err}");
    assert!(s.inserts().iter().all(|r| r.param("query").is_some_and(|q| q.contains("_lakeport_ledger"))), "no data insert was sent");
}

/// Records from more dates than `max_partitions_per_insert_block` allows in one insert
/// (bad producer clocks): code 252 "too many partitions" is not retried as "too many parts"
/// would be (it would fail forever); the batch goes in as halves, each with its own token.
#[tokio::test]
async fn an_insert_spanning_too_many_partitions_goes_in_as_parts() {
    let s = Scripted::start(|r, _| match String::from_utf8_lossy(&r.body) {
        // The Native body (uncompressed here): column count, then row count, as varints.
        _ if r.is_insert() && r.body.get(1).is_some_and(|&rows| rows > 1) => {
            (500, "Code: 252. DB::Exception: Too many partitions for single INSERT block (more than 100). The limit is controlled by 'max_partitions_per_insert_block' setting.".into())
        }
        _ if r.is_insert() => (200, String::new()),
        b if b.starts_with("SELECT version()") => (200, "24.3.2.23\n".into()),
        b if b.contains("system.columns") => (200, "{\"name\":\"k\",\"type\":\"UInt32\",\"default_kind\":\"\"}\n{\"name\":\"s\",\"type\":\"String\",\"default_kind\":\"\"}\n".into()),
        b => (400, format!("Code: 62. DB::Exception: unexpected {b}")),
    })
    .await;
    let mut c = sink::clickhouse::ClickHouseConfig::new(&s.url, "t");
    (c.database, c.compression) = ("db".into(), sink::clickhouse::Compression::None);
    let stats = ClickHouseWriter::new(c.validate().unwrap()).unwrap().insert(&batch(), &batch_id(5, 6)).await.unwrap();
    assert_eq!(stats.rows, 2);
    let inserts = s.inserts();
    let tokens: Vec<String> = inserts.iter().map(|r| r.param("insert_deduplication_token").unwrap()).collect();
    let whole = batch_id(5, 6).token();
    assert_eq!(tokens, [whole.clone(), format!("{whole}-0"), format!("{whole}-1")], "the whole batch once, then each half once");
}

/// Into a table that does not deduplicate, an insert is tried once (a blind retry after a
/// lost answer would add its rows twice), while the queries `insert_once` counts with are
/// retried as configured: a count that fails once does not fail the batch.
#[tokio::test]
async fn without_deduplication_inserts_are_tried_once_and_counts_are_retried() {
    let counts = Arc::new(Mutex::new(0));
    let seen = counts.clone();
    let s = Scripted::start(move |r, inserts| match String::from_utf8_lossy(&r.body) {
        _ if r.is_insert() && inserts == 0 => (503, "Service Unavailable".into()),
        _ if r.is_insert() => (200, String::new()),
        b if b.starts_with("SELECT version()") => (200, "18.16.1\n".into()),
        b if b.contains("system.columns") => (200, "{\"name\":\"k\",\"type\":\"UInt32\",\"default_kind\":\"\"}\n{\"name\":\"s\",\"type\":\"String\",\"default_kind\":\"\"}\n".into()),
        b if b.contains("system.processes") => (200, "0\n".into()),
        // Not replicated; no delete of the batch.
        b if b.contains("system.replicas") => (200, String::new()),
        b if b.contains("system.mutations") => (200, "0\t0\n".into()),
        b if b.starts_with("SELECT count()") => {
            let mut n = seen.lock().unwrap();
            *n += 1;
            if *n == 1 { (503, "Service Unavailable".into()) } else { (200, "0\n".into()) }
        }
        b => (400, format!("Code: 62. DB::Exception: unexpected {b}")),
    })
    .await;
    let writer = ClickHouseWriter::new(config(&s.url, "db", "t")).unwrap().for_table(false);
    let err = writer.insert(&batch(), &batch_id(5, 6)).await.unwrap_err();
    assert!(matches!(&err, Error::ClickHouseUnavailable { attempts: 1, .. }), "{err}");
    assert_eq!(s.inserts().len(), 1, "no blind retry");
    let stats = writer.insert_once(&batch(), &batch_id(5, 6), true).await.expect("the count is retried, then the batch inserted");
    assert_eq!(stats.rows, 2);
    assert_eq!(*counts.lock().unwrap(), 2, "the count failed once, then answered");
    assert_eq!(s.inserts().len(), 2);
}

#[tokio::test]
async fn retries_stop_after_max_attempts() {
    let s = server("18.16.1", |_| (500, "Code: 241. DB::Exception: Memory limit exceeded".into())).await;
    let err = ClickHouseWriter::new(config(&s.url, "db", "t")).unwrap().insert(&batch(), &batch_id(5, 6)).await.unwrap_err();
    assert!(matches!(&err, Error::ClickHouseUnavailable { attempts: 4, last, .. } if last.contains("Memory limit")), "{err}");
    assert_eq!(s.inserts().len(), 4);
}

/// What a server of each version receives: the Native block in ClickHouse's LZ4 blocks by
/// default (zstd when asked, from 20.12 on), with the deduplication token from 22.2 on; never
/// the password in the URL.
#[tokio::test]
async fn inserts_carry_token_and_compression_by_server_version() {
    let table = [("k", "UInt32"), ("s", "String")].map(|(n, t)| TableColumn { name: n.into(), type_name: t.into(), default_kind: String::new() });
    let native = NativeEncoder::new("db.t", &batch().schema(), &table).unwrap().encode(&batch()).unwrap();
    for (version, compression) in [("18.16.1", Compression::Auto), ("24.3.2.23", Compression::Auto), ("24.3.2.23", Compression::Zstd)] {
        let s = server(version, |_| (200, String::new())).await;
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("pw"), "s3cret-pw\n").unwrap();
        let mut config = sink::clickhouse::ClickHouseConfig::new(&s.url, "t");
        (config.database, config.user, config.password_file, config.compression) = ("db".into(), "ingest".into(), Some(dir.path().join("pw")), compression);
        let id = batch_id(5, 6);
        let stats = ClickHouseWriter::new(config.validate().unwrap()).unwrap().insert(&batch(), &id).await.unwrap();
        let sent = &s.inserts()[0];
        assert_eq!(sent.param("query").unwrap(), "INSERT INTO `db`.`t` (`k`, `s`) FORMAT Native");
        assert_eq!(sent.header("authorization"), Some("Basic aW5nZXN0OnMzY3JldC1wdw==")); // ingest:s3cret-pw
        assert!(!sent.url.as_str().contains("s3cret"), "no password in the URL");
        let body = if compression == Compression::Zstd {
            assert_eq!((sent.header("content-encoding"), sent.param("decompress")), (Some("zstd"), None));
            zstd::decode_all(&sent.body[..]).unwrap()
        } else {
            assert_eq!((sent.header("content-encoding"), sent.param("decompress").as_deref()), (None, Some("1")));
            lz4_blocks(&sent.body)
        };
        if version.starts_with("18.") {
            assert_eq!((sent.param("insert_deduplication_token"), sent.param("async_insert"), stats.dedup_token), (None, None, None));
        } else {
            assert_eq!(sent.param("insert_deduplication_token"), Some(id.token()));
            assert_eq!(stats.dedup_token, Some(id.token()));
            assert_eq!((sent.param("insert_deduplicate").as_deref(), sent.param("async_insert").as_deref()), (Some("1"), Some("0")));
        }
        assert_eq!(body, native);
        assert_eq!((stats.body_bytes, stats.sent_bytes), (native.len(), sent.body.len()));
    }
}

/// The body of ClickHouse's compressed blocks: 16-byte checksum, method 0x82 (LZ4), sizes.
fn lz4_blocks(mut wire: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while !wire.is_empty() {
        assert_eq!(wire[16], 0x82, "LZ4 method byte");
        let size = |at: usize| u32::from_le_bytes(wire[at..at + 4].try_into().unwrap()) as usize;
        let (compressed, plain) = (size(17), size(21));
        out.extend(lz4_flex::block::decompress(&wire[25..16 + compressed], plain).unwrap());
        wire = &wire[16 + compressed..];
    }
    out
}

#[tokio::test]
async fn server_killed_during_retries_gets_the_batch_once() {
    let dir = tempfile::tempdir().unwrap();
    let server = Private::start(dir.path(), free_ports());
    let url = format!("http://127.0.0.1:{}", server.ports[0]);
    let (schema, batch) = decoded(Dataset::GatewayDns, 200, 3);
    let client = Client::new(&config(&url, "default", "unused")).unwrap();
    client.query(&create_table(&schema, "default", &schema.name, Dialect::Legacy)).await.unwrap();

    let mut c = sink::clickhouse::ClickHouseConfig::new(&url, &schema.name);
    c.retry.initial_backoff = Duration::from_millis(100);
    c.retry.max_backoff = Duration::from_millis(400);
    c.retry.max_attempts = 200;
    let writer = ClickHouseWriter::new(c.validate().unwrap()).unwrap();
    writer.insert(&batch.slice(0, 0), &batch_id(0, -1)).await.expect("an empty batch reads the table, inserts nothing");

    let ports = server.kill();
    // A small batch: its encoding (on the blocking pool) must not outlast the wait below on
    // a loaded machine, or the first attempt comes after the restart.
    let insert = tokio::spawn(async move { writer.insert(&batch, &batch_id(0, 199)).await });
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(!insert.is_finished(), "the insert waits for the server");
    let _server = Private::start(dir.path(), ports);
    let stats = insert.await.unwrap().expect("insert completes once the server is back");
    assert!(stats.attempts > 3, "it retried: {stats:?}");
    let count = client.query(&format!("SELECT count() FROM default.{}", schema.name)).await.unwrap();
    assert_eq!(count.trim(), "200", "every row, once");
}

/// On the real server: a batch whose every intent was abandoned by the writer that recorded
/// it was never written, so it is neither a replay nor a range to cut along; an intent of
/// another writer (who may have written it) keeps it recorded, and `done` wins over all.
#[tokio::test]
async fn an_intent_abandoned_by_its_writer_is_not_replayed_but_another_writers_is() {
    use sink::ledger::{Ledger, LedgerState};
    let database = random_name("ledger");
    fresh_database(&database).await;
    let ledger = Ledger::open(&config(&clickhouse_url(), &database, "t")).await.unwrap();
    let (lone, shared, written) = (batch_id(0, 9), batch_id(10, 19), batch_id(20, 29));
    ledger.record(&lone, LedgerState::Intent, 10, 7, "a-1").await.unwrap();
    ledger.record(&lone, LedgerState::Abandoned, 0, 7, "a-1").await.unwrap();
    assert_eq!(ledger.state(&lone).await.unwrap(), None);
    ledger.record(&shared, LedgerState::Intent, 10, 8, "a-1").await.unwrap();
    ledger.record(&shared, LedgerState::Intent, 10, 8, "b-1").await.unwrap();
    ledger.record(&shared, LedgerState::Abandoned, 0, 8, "a-1").await.unwrap();
    let state = ledger.state(&shared).await.unwrap().expect("recorded");
    assert_eq!((state.state, state.fingerprint), (LedgerState::Intent, Some(8)));
    ledger.record(&written, LedgerState::Intent, 10, 9, "a-1").await.unwrap();
    ledger.record(&written, LedgerState::Done, 10, 9, "a-1").await.unwrap();
    ledger.record(&written, LedgerState::Abandoned, 0, 9, "c-1").await.unwrap();
    assert_eq!(ledger.state(&written).await.unwrap().map(|r| r.state), Some(LedgerState::Done));
    assert_eq!(ledger.ranges_from("test", 0, 0).await.unwrap(), [(10, 19), (20, 29)]);
}
