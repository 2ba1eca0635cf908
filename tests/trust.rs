//! Trust under faults beyond `kill -9`: each test is a schedule that once lost records,
//! wrote them twice, hung, or ended with an exit code that lied.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// `gen` records to `topic` on `brokers`.
fn count_rows(database: &str, table: &str) -> String {
    count_rows_at(&service("LAKEPORT_TEST_CLICKHOUSE_URL"), database, table)
}

/// A topic deleted and created again (here: the broker's storage is gone, the name the
/// same): offsets restart at 0 while the ledger still records batches there. The run must
/// refuse (exit 6) instead of taking the new messages for replays of the old, whether the
/// new topic holds fewer messages than the recorded range or more.
#[test]
fn a_recreated_topic_is_a_conflict_not_a_skip() {
    let env = PipelineEnv::new("recreate");
    let dir = tempfile::tempdir().unwrap();
    let mut broker = PrivateServer::broker(&dir.path().join("broker"));
    let pipeline = pipeline_file(dir.path(), "gateway_dns", &[]);
    let brokers = broker.brokers();
    let lakeport = || {
        let mut c = env.lakeport("gateway_dns");
        c.env("LAKEPORT_KAFKA_BROKERS", &brokers);
        c
    };
    produce(&brokers, &env.topic, "gateway_dns", 3000, 1, 1, &[]);
    ok({
        let mut c = lakeport();
        c.arg("migrate").arg(&pipeline);
        c
    });
    let scheduled = || {
        let mut c = lakeport();
        c.arg("run").arg(&pipeline).args(["--until-caught-up", "--no-progress"]);
        c
    };
    let (code, text, _) = run_to_end(scheduled());
    assert_eq!(code, Some(0), "first run:\n{text}");
    assert_eq!(count_rows(&env.database, "gateway_dns"), "3000\t3000");

    broker.kill();
    broker.up();
    produce(&brokers, &env.topic, "gateway_dns", 1000, 2, 1, &[]);
    let (code, text, _) = run_to_end(scheduled());
    assert_eq!(code, Some(6), "fewer messages than the recorded range:\n{text}");
    assert!(text.contains("created again"), "{text}");
    assert_eq!(count_rows(&env.database, "gateway_dns"), "3000\t3000", "nothing of the new topic was written");

    produce(&brokers, &env.topic, "gateway_dns", 6000, 3, 1, &[]);
    let (code, text, _) = run_to_end(scheduled());
    assert_eq!(code, Some(6), "more messages than the recorded range:\n{text}");
    assert!(text.contains("other messages than the topic holds now"), "{text}");
    // Nothing at the recorded offsets was written again; batches past them (new offsets,
    // dispatched concurrently) may have been, once, uncommitted.
    let sql = format!("SELECT countIf(_offset < 3000), count() = uniqExact(_topic, _partition, _offset, _line) FROM `{}`.gateway_dns FORMAT TabSeparated", env.database);
    assert_eq!(clickhouse(&sql).trim(), "3000\t1", "the recorded offsets hold the first topic's rows only");
}

/// SIGTERM while the run is still connecting — ClickHouse down, or no broker answering —
/// stops it at once with exit 0 (nothing was read, nothing is owed), instead of waiting out
/// the retries and then the shutdown timeout (35 s before).
#[test]
fn a_signal_while_still_connecting_stops_at_once() {
    let env = PipelineEnv::new("connecting");
    let dir = tempfile::tempdir().unwrap();
    let pipeline = pipeline_file(dir.path(), "gateway_dns", &[]);
    env.migrate("gateway_dns", &pipeline);
    let nothing = format!("127.0.0.1:{}", free_port());
    // Without a broker the run waits 10 s for a first answer, then for metadata.
    for (what, kafka, clickhouse, wait_for, then) in [
        ("ClickHouse down", service("LAKEPORT_TEST_KAFKA_BROKERS"), format!("http://{nothing}"), "ClickHouse request failed; retrying", 0),
        ("no broker", nothing.clone(), service("LAKEPORT_TEST_CLICKHOUSE_URL"), "serving /metrics", 12),
    ] {
        let log_path = dir.path().join(format!("{}.log", unique("run")));
        let mut run = {
            let mut c = env.lakeport("gateway_dns");
            c.env("LAKEPORT_KAFKA_BROKERS", &kafka).env("LAKEPORT_CLICKHOUSE_URL", &clickhouse).env("RUST_LOG", "warn,ingest=info,sink=warn");
            c.arg("run").arg(&pipeline).args(["--until-caught-up", "--no-progress"]).stdout(Stdio::null()).stderr(std::fs::File::create(&log_path).unwrap());
            c.spawn().unwrap()
        };
        let deadline = Instant::now() + Duration::from_secs(90);
        while !std::fs::read_to_string(&log_path).unwrap_or_default().contains(wait_for) {
            assert!(Instant::now() < deadline, "{what}: never retried:\n{}", std::fs::read_to_string(&log_path).unwrap_or_default());
            std::thread::sleep(Duration::from_millis(100));
        }
        std::thread::sleep(Duration::from_secs(then));
        let signalled = Instant::now();
        Command::new("kill").args(["-TERM", &run.id().to_string()]).status().unwrap();
        let status = run.wait().unwrap();
        let took = signalled.elapsed();
        let log = std::fs::read_to_string(&log_path).unwrap();
        assert_eq!(status.code(), Some(0), "{what}:\n{log}");
        assert!(took < Duration::from_secs(5) && log.contains("nothing was read"), "{what}: exit {took:?} after SIGTERM:\n{log}");
    }
}

/// SIGTERM while a batch keeps failing (ClickHouse is gone): the process exits within
/// `shutdown_timeout` (plus the consumer's close), with exit code 7, committing nothing of
/// the failing batches; the next run writes them, exactly once.
#[test]
fn sigterm_while_a_batch_fails_is_bounded_by_the_shutdown_timeout() {
    let env = PipelineEnv::new("sigterm");
    let dir = tempfile::tempdir().unwrap();
    let mut ch = PrivateServer::clickhouse(&dir.path().join("clickhouse"));
    let brokers = service("LAKEPORT_TEST_KAFKA_BROKERS");
    let pipeline = pipeline_file(dir.path(), "gateway_dns", &[("max_messages = 200000", "max_messages = 500"), ("max_age = \"10s\"", "max_age = \"1s\""), ("shutdown_timeout = \"30s\"", "shutdown_timeout = \"5s\"")]);
    let url = ch.url();
    let lakeport = || {
        let mut c = env.lakeport("gateway_dns");
        c.env("LAKEPORT_CLICKHOUSE_URL", &url);
        c
    };
    produce(&brokers, &env.topic, "gateway_dns", 3000, 11, 2, &[]);
    ok({
        let mut c = lakeport();
        c.arg("migrate").arg(&pipeline);
        c
    });
    let log_path = dir.path().join("run.log");
    let mut run = {
        let mut c = lakeport();
        c.arg("run").arg(&pipeline).arg("--no-progress").stdout(Stdio::null()).stderr(std::fs::File::create(&log_path).unwrap());
        c.spawn().unwrap()
    };
    let query = |sql: &str| {
        let c = sink::clickhouse::ClickHouseConfig::new(url.clone(), "x").validate().unwrap();
        tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async { sink::clickhouse::Client::new(&c).unwrap().query(sql).await })
    };
    let count_sql = format!("SELECT count(), uniqExact(_topic, _partition, _offset, _line) FROM `{}`.gateway_dns FORMAT TabSeparated", env.database);
    let deadline = Instant::now() + Duration::from_secs(120);
    while query(&count_sql).unwrap_or_default().trim() != "3000\t3000" {
        assert!(Instant::now() < deadline, "the first records never arrived:\n{}", std::fs::read_to_string(&log_path).unwrap_or_default());
        std::thread::sleep(Duration::from_millis(300));
    }
    ch.kill();
    produce(&brokers, &env.topic, "gateway_dns", 2000, 12, 2, &[]);
    // Wait until the new batches are failing.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !std::fs::read_to_string(&log_path).unwrap_or_default().contains("retrying") {
        assert!(Instant::now() < deadline, "no batch failed:\n{}", std::fs::read_to_string(&log_path).unwrap_or_default());
        std::thread::sleep(Duration::from_millis(200));
    }
    let signalled = Instant::now();
    Command::new("kill").args(["-TERM", &run.id().to_string()]).status().unwrap();
    let status = run.wait().unwrap();
    let took = signalled.elapsed();
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(took < Duration::from_millis(7500), "exit {took:?} after SIGTERM with shutdown_timeout = 5s:\n{log}");
    assert_eq!(status.code(), Some(7), "exit code of an interrupted run:\n{log}");
    assert!(log.contains("not yet durable"), "{log}");

    ch.up();
    let (code, text, _) = run_to_end({
        let mut c = lakeport();
        c.arg("run").arg(&pipeline).args(["--until-caught-up", "--no-progress"]);
        c
    });
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(query(&count_sql).unwrap().trim(), "5000\t5000", "every record once after the restart");
}

/// Errors that cannot heal end a scheduled run within seconds with exit code 3 and one
/// clear message, although `retry_timeout` is ten minutes: here the table lost a column
/// the schema has.
#[test]
fn a_permanent_error_fails_fast() {
    let env = PipelineEnv::new("permanent");
    let dir = tempfile::tempdir().unwrap();
    let pipeline = pipeline_file(dir.path(), "gateway_dns", &[]);
    produce(&service("LAKEPORT_TEST_KAFKA_BROKERS"), &env.topic, "gateway_dns", 500, 21, 1, &[]);
    env.migrate("gateway_dns", &pipeline);
    clickhouse(&format!("ALTER TABLE `{}`.gateway_dns DROP COLUMN application_name", env.database));
    let (code, text, took) = run_to_end({
        let mut c = env.lakeport("gateway_dns");
        c.arg("run").arg(&pipeline).args(["--until-caught-up", "--no-progress"]);
        c
    });
    assert_eq!(code, Some(3), "{text}");
    assert!(took < Duration::from_secs(60), "took {took:?}");
    assert!(text.contains("application_name") && text.contains("not retried"), "{text}");
    assert_eq!(text.matches("retrying").count(), 0, "a permanent error is not retried:\n{text}");
}

/// An `s3://` lake whose endpoint comes from `AWS_ENDPOINT` (plain http, the local S3
/// server): without `AWS_ALLOW_HTTP` the run refuses at once, saying so (exit 3); with it,
/// the lake is written.
#[test]
fn an_s3_lake_configured_from_the_environment() {
    let env = PipelineEnv::new("s3env");
    let dir = tempfile::tempdir().unwrap();
    let endpoint = service("LAKEPORT_TEST_S3_ENDPOINT");
    let port: u16 = endpoint.rsplit(':').next().unwrap().parse().unwrap();
    let bucket = unique("bucket").replace('_', "-");
    assert!(http_request(port, "PUT", &format!("/{bucket}")).starts_with("HTTP/1.1 200"), "create bucket {bucket}");
    let pipeline = pipeline_file(dir.path(), "gateway_dns", &[]);
    produce(&service("LAKEPORT_TEST_KAFKA_BROKERS"), &env.topic, "gateway_dns", 400, 31, 1, &[]);
    let run = |allow_http: bool| {
        let mut c = env.lakeport("gateway_dns");
        c.env("LAKEPORT_LAKE_URL", format!("s3://{bucket}/lake"))
            .env("AWS_ENDPOINT", &endpoint)
            .env("AWS_ACCESS_KEY_ID", service("LAKEPORT_TEST_S3_ACCESS_KEY_ID"))
            .env("AWS_SECRET_ACCESS_KEY", service("LAKEPORT_TEST_S3_SECRET_ACCESS_KEY"))
            .env("AWS_REGION", service("LAKEPORT_TEST_S3_REGION"))
            .env_remove("AWS_ALLOW_HTTP");
        if allow_http {
            c.env("AWS_ALLOW_HTTP", "true");
        }
        c.arg("run").arg(&pipeline).args(["--until-caught-up", "--no-progress"]);
        run_to_end(c)
    };
    env.migrate("gateway_dns", &pipeline);
    let (code, text, took) = run(false);
    assert_eq!(code, Some(3), "{text}");
    assert!(took < Duration::from_secs(30) && text.contains("AWS_ALLOW_HTTP"), "{took:?}: {text}");
    let (code, text, _) = run(true);
    assert_eq!(code, Some(0), "{text}");
    let listing = http_request(port, "GET", &format!("/{bucket}?list-type=2&prefix=lake/gateway_dns/"));
    assert!(listing.contains(".parquet"), "lake objects in the bucket:\n{listing}");
    assert_eq!(count_rows(&env.database, "gateway_dns"), "400\t400");
}

/// What the ledger can hold of batches over the same offsets: the parts of a batch decoded
/// in halves lie inside it, and are replayed through it (written once, as the outer batch);
/// an intent its writer abandoned is not replayed; two live intents that cross (a writer
/// fenced out that died before marking its intent abandoned, beside the new owner's batch)
/// cannot both be replayed, so the run stops with exit 6 and writes nothing there.
#[test]
fn recorded_batches_over_the_same_offsets_replay_once_or_stop() {
    let env = PipelineEnv::new("nested");
    let dir = tempfile::tempdir().unwrap();
    let brokers = service("LAKEPORT_TEST_KAFKA_BROKERS");
    let pipeline = pipeline_file(dir.path(), "gateway_dns", &[]);
    let scheduled = || {
        let mut c = env.lakeport("gateway_dns");
        c.arg("run").arg(&pipeline).args(["--until-caught-up", "--no-progress"]);
        run_to_end(c)
    };
    ok({
        let mut c = lakeport();
        c.args(["produce", "/dev/null", "--kafka", &brokers, "--topic", &env.topic]);
        c
    });
    env.migrate("gateway_dns", &pipeline);
    let (code, text, _) = scheduled(); // creates the ledger; nothing to read yet
    assert_eq!(code, Some(0), "{text}");
    let ledger = format!("`{}`.`_lakeport_ledger`", env.database);
    let record = |rows: &str| clickhouse(&format!("INSERT INTO {ledger} (`table`, topic, partition, first_offset, last_offset, state, rows, writer) VALUES {}", rows.replace("TOPIC", &env.topic)));
    record("('gateway_dns', 'TOPIC', 0, 0, 29, 1, 30, 'a-1'), ('gateway_dns', 'TOPIC', 0, 0, 9, 1, 10, 'a-1'), ('gateway_dns', 'TOPIC', 0, 10, 29, 1, 20, 'a-1'), ('gateway_dns', 'TOPIC', 0, 30, 34, 1, 5, 'b-1'), ('gateway_dns', 'TOPIC', 0, 30, 34, 3, 0, 'b-1')");
    produce(&brokers, &env.topic, "gateway_dns", 40, 41, 1, &[]);
    let (code, text, _) = scheduled();
    assert_eq!(code, Some(0), "{text}");
    let done = clickhouse(&format!("SELECT first_offset, last_offset FROM {ledger} WHERE topic = '{}' AND state = 2 ORDER BY first_offset, last_offset FORMAT TabSeparated", env.topic));
    assert_eq!(done.trim().replace('\t', "-").replace('\n', " "), "0-29 30-39", "batches written, by the ledger");
    assert_eq!(count_rows(&env.database, "gateway_dns"), "40\t40");
    assert_eq!(lake_counts(&env.lake), (40, 40), "lake: rows and unique coordinates");

    record("('gateway_dns', 'TOPIC', 0, 40, 49, 1, 10, 'a-2'), ('gateway_dns', 'TOPIC', 0, 45, 59, 1, 15, 'b-2')");
    produce(&brokers, &env.topic, "gateway_dns", 20, 42, 1, &[]);
    let (code, text, _) = scheduled();
    assert_eq!(code, Some(6), "{text}");
    assert!(text.contains("40..=49 and 45..=59 cross"), "{text}");
    assert_eq!(count_rows(&env.database, "gateway_dns"), "40\t40", "nothing written at the crossing offsets");
}

/// A process frozen (SIGSTOP, as a VM pause would) past its session timeout while its
/// batches wait for ClickHouse's answers; another member takes its partitions over and
/// writes everything, with other batch bounds. When the frozen one wakes up and the answers
/// arrive, its batches must write nothing (the broker refuses its fence commit, or
/// librdkafka revokes first): every record is in each sink once.
#[test]
fn a_frozen_process_that_lost_its_partitions_writes_none_of_them() {
    const RECORDS: usize = 6000;
    let env = PipelineEnv::new("frozen");
    let dir = tempfile::tempdir().unwrap();
    produce(&service("LAKEPORT_TEST_KAFKA_BROKERS"), &env.topic, "gateway_dns", RECORDS, 5, 2, &[]);
    let session = ("\"session.timeout.ms\" = \"10000\"", "\"session.timeout.ms\" = \"6000\"");
    let frozen_file = pipeline_file(dir.path(), "gateway_dns", &[session, ("max_messages = 200000", "max_messages = 300")]);
    let other_file = pipeline_file(dir.path(), "gateway_dns", &[session, ("max_messages = 200000", "max_messages = 700")]);
    env.migrate("gateway_dns", &frozen_file);
    let proxy = proxy::Proxy::start(service("LAKEPORT_TEST_CLICKHOUSE_HTTP_PORT").parse().unwrap());
    let frozen = {
        let mut c = env.lakeport("gateway_dns");
        c.env("LAKEPORT_CLICKHOUSE_URL", format!("http://127.0.0.1:{}", proxy.port)).arg("run").arg(&frozen_file).args(["--until-caught-up", "--no-progress"]);
        Background::spawn(c, &dir.path().join("frozen.log"))
    };
    frozen.wait_for_rows(&env.database, "gateway_dns");
    proxy.hold_answers(true);
    std::thread::sleep(Duration::from_millis(500));
    let signal = |name: &str| assert!(Command::new("kill").args([name, &frozen.id().to_string()]).status().unwrap().success());
    signal("-STOP");
    let (code, text, _) = run_to_end({
        let mut c = env.lakeport("gateway_dns");
        c.arg("run").arg(&other_file).args(["--until-caught-up", "--no-progress"]);
        c
    });
    assert_eq!(code, Some(0), "the member that took over:\n{text}");
    assert!(rows(&env.database, "gateway_dns") >= RECORDS, "the member that took over wrote what was left");
    signal("-CONT");
    proxy.hold_answers(false);
    let (code, woken) = frozen.wait();
    eprintln!("woken process: {} batch(es) given up by the fence, {} fence retries; {}", woken.matches("the partition has another owner now").count(), woken.matches("ownership not confirmed yet").count(), woken.lines().filter(|l| l.contains("not confirmed")).take(2).collect::<Vec<_>>().join("\n"));
    assert_eq!(code, Some(0), "the woken process:\n{woken}");
    assert_eq!(count_rows(&env.database, "gateway_dns"), format!("{RECORDS}\t{RECORDS}"), "ClickHouse; the woken process:\n{woken}");
    assert_eq!(lake_counts(&env.lake), (RECORDS as u64, RECORDS as u64), "lake: rows and unique coordinates; the woken process:\n{woken}");
}

/// The network to ClickHouse is cut mid-run (every connection reset, new ones refused) for
/// longer than `retry_timeout`: the scheduled run must exit 4 ("unavailable") saying which
/// batch and which setting, and, once the network is back, the next run must end with every
/// record once in each sink.
#[test]
fn clickhouse_cut_off_past_the_retry_timeout_exits_4_then_the_next_run_completes() {
    const RECORDS: usize = 20_000;
    let env = PipelineEnv::new("cutoff");
    let dir = tempfile::tempdir().unwrap();
    produce(&service("LAKEPORT_TEST_KAFKA_BROKERS"), &env.topic, "gateway_dns", RECORDS, 8, 2, &[]);
    let pipeline = pipeline_file(
        dir.path(),
        "gateway_dns",
        &[
            ("max_messages = 200000", "max_messages = 500"),
            ("retry_timeout = \"10m\"", "retry_timeout = \"5s\""),
            ("table = \"gateway_dns\"", "table = \"gateway_dns\"\n[clickhouse.retry]\nmax_attempts = 2"),
        ],
    );
    env.migrate("gateway_dns", &pipeline);
    let proxy = proxy::Proxy::start(service("LAKEPORT_TEST_CLICKHOUSE_HTTP_PORT").parse().unwrap());
    let run = || {
        let mut c = env.lakeport("gateway_dns");
        c.env("LAKEPORT_CLICKHOUSE_URL", format!("http://127.0.0.1:{}", proxy.port)).arg("run").arg(&pipeline).args(["--until-caught-up", "--no-progress"]);
        c
    };
    let first = Background::spawn(run(), &dir.path().join("cut.log"));
    first.wait_for_rows(&env.database, "gateway_dns");
    proxy.cut(true);
    let (code, text) = first.wait();
    assert_eq!(code, Some(4), "{text}");
    assert!(text.contains("retry_timeout"), "the message names the setting:\n{text}");
    assert!(rows(&env.database, "gateway_dns") < RECORDS, "the cut came before the end");
    proxy.cut(false);
    let (code, text, _) = run_to_end(run());
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(count_rows(&env.database, "gateway_dns"), format!("{RECORDS}\t{RECORDS}"));
    assert_eq!(lake_counts(&env.lake), (RECORDS as u64, RECORDS as u64), "lake: rows and unique coordinates");
}

/// The lake's object store (S3, through a proxy) stalls for 8 s, then drops every
/// connection for 3 s, while batches are being written: the run waits it out and ends
/// with every record once in ClickHouse and in the lake (read back from S3 by pyarrow).
#[test]
fn a_stalling_and_failing_object_store_is_waited_out() {
    const RECORDS: usize = 10_000;
    let env = PipelineEnv::new("slowstore");
    let dir = tempfile::tempdir().unwrap();
    let endpoint = service("LAKEPORT_TEST_S3_ENDPOINT");
    let port: u16 = endpoint.rsplit(':').next().unwrap().parse().unwrap();
    let bucket = unique("bucket").replace('_', "-");
    assert!(http_request(port, "PUT", &format!("/{bucket}")).starts_with("HTTP/1.1 200"), "create bucket {bucket}");
    let proxy = proxy::Proxy::start(port);
    let pipeline = pipeline_file(dir.path(), "gateway_dns", &[("max_messages = 200000", "max_messages = 500")]);
    produce(&service("LAKEPORT_TEST_KAFKA_BROKERS"), &env.topic, "gateway_dns", RECORDS, 33, 2, &[]);
    env.migrate("gateway_dns", &pipeline);
    let run = {
        let mut c = env.lakeport("gateway_dns");
        c.env("LAKEPORT_LAKE_URL", format!("s3://{bucket}/lake"))
            .env("AWS_ENDPOINT", format!("http://127.0.0.1:{}", proxy.port))
            .env("AWS_ALLOW_HTTP", "true")
            .env("AWS_ACCESS_KEY_ID", service("LAKEPORT_TEST_S3_ACCESS_KEY_ID"))
            .env("AWS_SECRET_ACCESS_KEY", service("LAKEPORT_TEST_S3_SECRET_ACCESS_KEY"))
            .env("AWS_REGION", service("LAKEPORT_TEST_S3_REGION"));
        c.arg("run").arg(&pipeline).args(["--until-caught-up", "--no-progress"]);
        proxy.hold_answers(true);
        Background::spawn(c, &dir.path().join("run.log"))
    };
    // Held from the first request on: a write is in flight when the store stalls and fails.
    run.wait_until("a store request held", || proxy.held("HTTP/1.1") > 0);
    std::thread::sleep(Duration::from_secs(8));
    proxy.cut(true);
    proxy.hold_answers(false);
    std::thread::sleep(Duration::from_secs(3));
    proxy.cut(false);
    let (code, text) = run.wait();
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("retrying"), "the store's failures were retried:\n{text}");
    assert_eq!(count_rows(&env.database, "gateway_dns"), format!("{RECORDS}\t{RECORDS}"), "{text}");
    let script = "import sys, pyarrow.dataset as ds, pyarrow.fs as fs\n\
        s3 = fs.S3FileSystem(endpoint_override=sys.argv[1], scheme='http', access_key=sys.argv[2], secret_key=sys.argv[3], region=sys.argv[4])\n\
        t = ds.dataset(sys.argv[5], filesystem=s3, format='parquet', partitioning='hive').to_table(columns=['_partition', '_offset', '_line'])\n\
        print(t.num_rows, len(set(zip(*[t.column(c).to_pylist() for c in ['_partition', '_offset', '_line']]))))";
    let out = ok({
        let mut c = Command::new(python());
        c.args(["-c", script, &endpoint.replace("http://", "")])
            .args(["LAKEPORT_TEST_S3_ACCESS_KEY_ID", "LAKEPORT_TEST_S3_SECRET_ACCESS_KEY", "LAKEPORT_TEST_S3_REGION"].map(service))
            .arg(format!("{bucket}/lake/gateway_dns"));
        c
    });
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), format!("{RECORDS} {RECORDS}"), "lake rows and unique coordinates, read from S3");
}

/// ClickHouse is killed right after it stored a batch and before its answer reached
/// lakeport (a proxy holds the answers back, then every connection is reset), and started
/// again with its data: the batch's outcome is unknown to the writer (all of it stored, or
/// the blocks of some of its dates), which must count what is there instead of inserting
/// again. Every record ends once in each sink.
#[test]
fn clickhouse_killed_after_an_insert_and_before_its_answer_loses_and_duplicates_nothing() {
    const RECORDS: usize = 10_000;
    let env = PipelineEnv::new("chrestart");
    let dir = tempfile::tempdir().unwrap();
    let mut ch = PrivateServer::clickhouse(&dir.path().join("clickhouse"));
    let url = ch.url();
    produce(&service("LAKEPORT_TEST_KAFKA_BROKERS"), &env.topic, "gateway_dns", RECORDS, 9, 2, &[]);
    let pipeline = pipeline_file(dir.path(), "gateway_dns", &[("max_messages = 200000", "max_messages = 500")]);
    let mut migrate = env.lakeport("gateway_dns");
    migrate.env("LAKEPORT_CLICKHOUSE_URL", &url).arg("migrate").arg(&pipeline);
    ok(migrate);
    let proxy = proxy::Proxy::start(ch.ports()[0]);
    let stored = || count_rows_at(&url, &env.database, "gateway_dns").split('\t').next().unwrap().parse::<usize>().unwrap();
    let run = {
        let mut c = env.lakeport("gateway_dns");
        c.env("LAKEPORT_CLICKHOUSE_URL", format!("http://127.0.0.1:{}", proxy.port)).arg("run").arg(&pipeline).args(["--until-caught-up", "--no-progress"]);
        Background::spawn(c, &dir.path().join("run.log"))
    };
    run.wait_until("a row in ClickHouse", || stored() > 0);
    // Answers are held until one is an insert's (that insert ran to its end); when none
    // comes within 2 s (the batches in flight were past their inserts), again.
    let mut held_since = Instant::now();
    proxy.hold_answers(true);
    run.wait_until("the answer to an insert of rows held back", || {
        if held_since.elapsed() > Duration::from_secs(2) {
            proxy.hold_answers(false);
            std::thread::sleep(Duration::from_millis(100));
            proxy.hold_answers(true);
            held_since = Instant::now();
        }
        proxy.held("FORMAT+Native") > 0
    });
    let at_kill = stored();
    assert!(at_kill < RECORDS, "killed before the end");
    ch.kill();
    proxy.cut(true);
    std::thread::sleep(Duration::from_secs(2));
    ch.up();
    proxy.hold_answers(false);
    proxy.cut(false);
    let (code, text) = run.wait();
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("retrying"), "the run saw the fault:\n{text}");
    // Usually the retry finds the rows the unanswered insert stored (in a few runs of CI the
    // held answer's insert had stored nothing yet); either way, once in the end.
    eprintln!(
        "retry after the kill: found the batch whole {} time(s), in part {} time(s)",
        text.matches("ClickHouse already holds this batch").count(),
        text.matches("ClickHouse holds part of this batch").count()
    );
    assert_eq!(count_rows_at(&url, &env.database, "gateway_dns"), format!("{RECORDS}\t{RECORDS}"), "ClickHouse: rows and unique coordinates\n{text}");
    assert_eq!(lake_counts(&env.lake), (RECORDS as u64, RECORDS as u64), "lake: rows and unique coordinates");
}
