//! Trust under faults beyond `kill -9`: each test is a schedule that once lost records,
//! wrote them twice, hung, or ended with an exit code that lied.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// `gen` records to `topic` on `brokers`.
fn produce(brokers: &str, topic: &str, dataset: &str, count: usize, seed: u64, partitions: i32) {
    let mut c = lakeport();
    c.args(["gen", "--dataset", dataset, "--count", &count.to_string(), "--seed", &seed.to_string(), "--bad-ratio", "0"])
        .args(["--kafka", brokers, "--topic", topic, "--partitions", &partitions.to_string()]);
    ok(c);
}

fn count_rows(database: &str, table: &str) -> String {
    clickhouse(&format!("SELECT count(), uniqExact(_topic, _partition, _offset, _line) FROM `{database}`.{table} FORMAT TabSeparated")).trim().to_string()
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
    produce(&brokers, &env.topic, "gateway_dns", 3000, 1, 1);
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
    produce(&brokers, &env.topic, "gateway_dns", 1000, 2, 1);
    let (code, text, _) = run_to_end(scheduled());
    assert_eq!(code, Some(6), "fewer messages than the recorded range:\n{text}");
    assert!(text.contains("created again"), "{text}");
    assert_eq!(count_rows(&env.database, "gateway_dns"), "3000\t3000", "nothing of the new topic was written");

    produce(&brokers, &env.topic, "gateway_dns", 6000, 3, 1);
    let (code, text, _) = run_to_end(scheduled());
    assert_eq!(code, Some(6), "more messages than the recorded range:\n{text}");
    assert!(text.contains("other messages than the topic holds now"), "{text}");
    // Nothing at the recorded offsets was written again; batches past them (new offsets,
    // dispatched concurrently) may have been, once, uncommitted.
    let sql = format!("SELECT countIf(_offset < 3000), count() = uniqExact(_topic, _partition, _offset, _line) FROM `{}`.gateway_dns FORMAT TabSeparated", env.database);
    assert_eq!(clickhouse(&sql).trim(), "3000\t1", "the recorded offsets hold the first topic's rows only");
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
    let pipeline = pipeline_file(dir.path(), "gateway_dns", &[("max_rows = 200000", "max_rows = 500"), ("max_age = \"10s\"", "max_age = \"1s\""), ("shutdown_timeout = \"30s\"", "shutdown_timeout = \"5s\"")]);
    let url = ch.url();
    let lakeport = || {
        let mut c = env.lakeport("gateway_dns");
        c.env("LAKEPORT_CLICKHOUSE_URL", &url);
        c
    };
    produce(&brokers, &env.topic, "gateway_dns", 3000, 11, 2);
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
    produce(&brokers, &env.topic, "gateway_dns", 2000, 12, 2);
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
    produce(&service("LAKEPORT_TEST_KAFKA_BROKERS"), &env.topic, "gateway_dns", 500, 21, 1);
    ok({
        let mut c = env.lakeport("gateway_dns");
        c.arg("migrate").arg(&pipeline);
        c
    });
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
    produce(&service("LAKEPORT_TEST_KAFKA_BROKERS"), &env.topic, "gateway_dns", 400, 31, 1);
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
    ok({
        let mut c = env.lakeport("gateway_dns");
        c.arg("migrate").arg(&pipeline);
        c
    });
    let (code, text, took) = run(false);
    assert_eq!(code, Some(3), "{text}");
    assert!(took < Duration::from_secs(30) && text.contains("AWS_ALLOW_HTTP"), "{took:?}: {text}");
    let (code, text, _) = run(true);
    assert_eq!(code, Some(0), "{text}");
    let listing = http_request(port, "GET", &format!("/{bucket}?list-type=2&prefix=lake/gateway_dns/"));
    assert!(listing.contains(".parquet"), "lake objects in the bucket:\n{listing}");
    assert_eq!(count_rows(&env.database, "gateway_dns"), "400\t400");
}

/// Two writers of one partition (a process frozen past its session, and the new owner) can
/// cut the same offsets with other bounds. Here the ledger holds what such a pair leaves
/// (0..=9 from one, 0..=29 from the other, both still `intent`): the replay of 0..=29 must
/// be written along 0..=9, so that both writers' batches are the same batches, and every
/// record lands once.
#[test]
fn batches_recorded_with_other_bounds_are_written_along_them() {
    let env = PipelineEnv::new("fence");
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
    ok({
        let mut c = env.lakeport("gateway_dns");
        c.arg("migrate").arg(&pipeline);
        c
    });
    let (code, text, _) = scheduled(); // creates the ledger; nothing to read yet
    assert_eq!(code, Some(0), "{text}");
    let ledger = format!("`{}`.`_lakeport_ledger`", env.database);
    clickhouse(&format!("INSERT INTO {ledger} (`table`, topic, partition, first_offset, last_offset, state, rows) VALUES ('gateway_dns', '{}', 0, 0, 9, 1, 10), ('gateway_dns', '{}', 0, 0, 29, 1, 30)", env.topic, env.topic));
    produce(&brokers, &env.topic, "gateway_dns", 40, 41, 1);
    let (code, text, _) = scheduled();
    assert_eq!(code, Some(0), "{text}");
    let done = clickhouse(&format!("SELECT first_offset, last_offset FROM {ledger} WHERE topic = '{}' AND state = 2 ORDER BY first_offset, last_offset FORMAT TabSeparated", env.topic));
    assert_eq!(done.trim().replace('\t', "-").replace('\n', " "), "0-9 0-29 10-29 30-39", "batches written, by the ledger");
    assert_eq!(count_rows(&env.database, "gateway_dns"), "40\t40");
    assert_eq!(lake_counts(&env.lake), (40, 40), "lake: rows and unique coordinates");
}
