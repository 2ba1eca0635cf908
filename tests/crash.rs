//! Crash safety: `kill -9` at random moments during runs, restarting each time; afterwards
//! every valid record is exactly once in ClickHouse and in the lake (checked by unique
//! source coordinates and by value), and every bad one once in the dead letters.

mod common;

use std::collections::HashSet;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::*;

const PARTITIONS: i32 = 3;
const RECORDS: &str = "40000";
const KILLS: usize = 20;

/// A pipeline file like the shipped one, with small batches so that crashes land between
/// many batch boundaries.
fn pipeline_file(dir: &std::path::Path) -> std::path::PathBuf {
    let text = std::fs::read_to_string(root().join("pipelines/gateway_dns.toml"))
        .unwrap()
        .replace("../schemas/", &format!("{}/schemas/", root().display()))
        .replace("max_rows = 200000", "max_rows = 700")
        .replace("max_age = \"10s\"", "max_age = \"1s\"")
        .replace("\"session.timeout.ms\" = \"10000\"", "\"session.timeout.ms\" = \"6000\"");
    let path = dir.join("crash.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Deterministic pseudo-random delays (xorshift), so a failure can be replayed.
struct Delays(u64);

impl Delays {
    fn next(&mut self, max_ms: u64) -> Duration {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        Duration::from_millis(300 + self.0 % max_ms)
    }
}

#[test]
fn kill_9_at_random_moments_loses_and_duplicates_nothing() {
    let env = PipelineEnv::new("crash");
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("input.ndjson");
    let gen = |extra: &[&str]| {
        let mut c = lakeport();
        c.args(["gen", "--dataset", "gateway_dns", "--count", RECORDS, "--seed", "99", "--bad-ratio", "0.02"]).args(extra);
        ok(c);
    };
    gen(&["--out", input.to_str().unwrap()]);
    gen(&["--kafka", &service("LAKEPORT_TEST_KAFKA_BROKERS"), "--topic", &env.topic, "--partitions", &PARTITIONS.to_string()]);
    let pipeline = pipeline_file(dir.path());
    ok({
        let mut c = env.lakeport("gateway_dns");
        c.arg("migrate").arg(&pipeline);
        c
    });
    let seed = std::env::var("LAKEPORT_CRASH_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0x5eed_1234_u64);
    eprintln!("crash test seed {seed} (set LAKEPORT_CRASH_SEED to replay)");
    let mut delays = Delays(seed);
    let run = || {
        let mut c = env.lakeport("gateway_dns");
        c.arg("run").arg(&pipeline).args(["--until-caught-up", "--no-progress"]).stdout(Stdio::null()).stderr(Stdio::null());
        c
    };
    let mut kills = 0;
    let started = Instant::now();
    while kills < KILLS {
        let mut child = run().spawn().unwrap();
        std::thread::sleep(delays.next(6000));
        match child.try_wait().unwrap() {
            Some(status) => {
                assert!(status.success(), "a run failed on its own: {status}");
                break; // caught up before the kill
            }
            None => {
                child.kill().unwrap(); // SIGKILL
                child.wait().unwrap();
                kills += 1;
            }
        }
    }
    eprintln!("{kills} kills in {:?}", started.elapsed());
    assert!(kills >= KILLS, "only {kills} kills landed before the data ran out: produce more records");
    let last = ok({
        let mut c = env.lakeport("gateway_dns");
        c.arg("run").arg(&pipeline).args(["--until-caught-up", "--no-progress"]);
        c
    });
    eprintln!("{}", String::from_utf8_lossy(&last.stdout));

    let (rows, rejected) = accepted(&input, "gateway_dns");
    let ch = clickhouse(&format!("SELECT count(), uniqExact(_topic, _partition, _offset, _line) FROM `{}`.gateway_dns FORMAT TabSeparated", env.database));
    assert_eq!(ch.trim(), format!("{rows}\t{rows}"), "ClickHouse: rows and unique coordinates");
    let letters = dead_letter_lines(&env.dead_letters);
    let unique: HashSet<(i64, i64, i64)> = letters.iter().map(|l| (l["partition"].as_i64().unwrap(), l["offset"].as_i64().unwrap(), l["line"].as_i64().unwrap())).collect();
    assert_eq!((letters.len(), unique.len()), (rejected, rejected), "dead letters: lines and unique coordinates");
    verify_pipeline(&env, "gateway_dns", &input, PARTITIONS, &service("LAKEPORT_TEST_CLICKHOUSE_URL"));
}
