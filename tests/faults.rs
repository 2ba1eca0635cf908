//! Faults during a run: ClickHouse killed for a while, the lake's store failing for a
//! while. The run waits and retries, says so in `/metrics`, `/health` and its log, and ends
//! with every valid record exactly once in both sinks.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

#[test]
fn clickhouse_down_and_store_errors_are_waited_out_without_loss_or_duplicates() {
    let env = PipelineEnv::new("faults");
    let dir = tempfile::tempdir().unwrap();
    let mut ch = PrivateServer::clickhouse(&dir.path().join("clickhouse"));
    let metrics = free_port();
    let with_env = |c: &mut Command| {
        env.apply(c, "gateway_dns");
        c.env("LAKEPORT_CLICKHOUSE_URL", ch.url()).env("LAKEPORT_GATEWAY_DNS_METRICS", format!("127.0.0.1:{metrics}"));
    };
    let input = dir.path().join("input.ndjson");
    ok({
        let mut c = lakeport();
        c.args(["gen", "--dataset", "gateway_dns", "--count", "6000", "--seed", "3", "--bad-ratio", "0.01", "--out"]).arg(&input).arg("--labels").arg(input.with_extension("labels"));
        c
    });
    // Produced in two parts, the second while ClickHouse is down (record i at partition
    // i % 2, offset i / 2: each part has an even number of records).
    let bytes = std::fs::read(&input).unwrap(); // not text: some bad records are not UTF-8
    let lines: Vec<&[u8]> = bytes.strip_suffix(b"\n").unwrap_or(&bytes).split(|&b| b == b'\n').collect();
    let produce = |part: &[&[u8]], name: &str| {
        let file = dir.path().join(name);
        let mut body = part.join(&b'\n');
        body.push(b'\n');
        std::fs::write(&file, body).unwrap();
        ok({
            let mut c = lakeport();
            c.arg("produce").arg(&file).args(["--kafka", &service("LAKEPORT_TEST_KAFKA_BROKERS"), "--topic", &env.topic, "--partitions", "2"]);
            c
        });
    };
    produce(&lines[..5000], "first.ndjson");
    let text = std::fs::read_to_string(root().join("pipelines/gateway_dns.toml")).unwrap().replace("../schemas/", &format!("{}/schemas/", root().display())).replace("max_messages = 200000", "max_messages = 500").replace("max_age = \"10s\"", "max_age = \"1s\"");
    let pipeline = dir.path().join("faults.toml");
    std::fs::write(&pipeline, text).unwrap();
    ok({
        let mut c = lakeport();
        with_env(&mut c);
        c.arg("migrate").arg(&pipeline);
        c
    });
    // The lake's table folder is a file for a while: every lake write fails.
    std::fs::create_dir_all(&env.lake).unwrap();
    let blocker = env.lake.join("gateway_dns");
    std::fs::write(&blocker, b"in the way").unwrap();
    let log_path = dir.path().join("run.log");
    let mut run = {
        let mut c = lakeport();
        with_env(&mut c);
        c.arg("run").arg(&pipeline).arg("--no-progress").stdout(Stdio::null()).stderr(std::fs::File::create(&log_path).unwrap());
        c.spawn().unwrap()
    };
    // Until the first batch fails (the group join takes a few seconds).
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut unhealthy = http_get(metrics, "/health");
    while !unhealthy.contains("503") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(250));
        unhealthy = http_get(metrics, "/health");
    }
    assert!(unhealthy.contains("503"), "/health during store errors: {unhealthy}");
    std::thread::sleep(Duration::from_secs(2));
    std::fs::remove_file(&blocker).unwrap();
    std::thread::sleep(Duration::from_secs(4));
    ch.kill();
    produce(&lines[5000..], "second.ndjson");
    let retries = |metrics: &str, sink: &str| -> f64 {
        let label = format!("sink=\"{sink}\"");
        metrics.lines().filter(|l| l.starts_with("lakeport_sink_retries_total{") && l.contains(&label)).filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok()).sum()
    };
    // Until a write to the stopped server has failed and is being retried.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut during = http_get(metrics, "/metrics");
    while retries(&during, "clickhouse") + retries(&during, "ledger") == 0.0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(250));
        during = http_get(metrics, "/metrics");
    }
    ch.up();

    let (rows, _) = expected(&input);
    let count_sql = format!("SELECT count(), uniqExact(_topic, _partition, _offset, _line) FROM `{}`.gateway_dns FORMAT TabSeparated", env.database);
    let deadline = Instant::now() + Duration::from_secs(180);
    let mut last = String::new();
    while Instant::now() < deadline {
        last = clickhouse_at(&ch.url(), &count_sql).unwrap_or_default();
        if last.trim() == format!("{rows}\t{rows}") {
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    Command::new("kill").args(["-TERM", &run.id().to_string()]).status().unwrap();
    let status = run.wait().unwrap();
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(status.success(), "run did not stop cleanly:\n{log}");
    assert_eq!(last.trim(), format!("{rows}\t{rows}"), "ClickHouse rows and unique coordinates\n{log}");
    assert!(retries(&during, "lake") > 0.0, "retries of the lake in /metrics:\n{during}");
    assert!(retries(&during, "clickhouse") + retries(&during, "ledger") > 0.0, "retries of ClickHouse in /metrics:\n{during}");
    assert!(log.contains("retrying"), "the log says it retries:\n{log}");
    verify_pipeline(&env, "gateway_dns", &input, 2, &ch.url());
}
