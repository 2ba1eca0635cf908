//! Scale-out: three continuous `lakeport run` processes in one consumer group share a
//! six-partition topic; one is killed mid-run; the others take over its partitions and
//! then stop cleanly on SIGTERM; every valid record ends exactly once in ClickHouse and in
//! the lake.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;

const PARTITIONS: i32 = 6;

#[test]
fn three_processes_share_partitions_and_survive_losing_one() {
    let env = PipelineEnv::new("scale");
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("input.ndjson");
    let gen = |extra: &[&str]| {
        let mut c = lakeport();
        c.args(["gen", "--dataset", "gateway_http", "--count", "30000", "--seed", "7", "--bad-ratio", "0.01"]).args(extra);
        ok(c);
    };
    gen(&["--out", input.to_str().unwrap(), "--labels", input.with_extension("labels").to_str().unwrap()]);
    gen(&["--kafka", &service("LAKEPORT_TEST_KAFKA_BROKERS"), "--topic", &env.topic, "--partitions", &PARTITIONS.to_string()]);
    let text = std::fs::read_to_string(root().join("pipelines/gateway_http.toml"))
        .unwrap()
        .replace("../schemas/", &format!("{}/schemas/", root().display()))
        .replace("max_messages = 200000", "max_messages = 1000")
        .replace("max_age = \"10s\"", "max_age = \"1s\"")
        .replace("\"session.timeout.ms\" = \"10000\"", "\"session.timeout.ms\" = \"6000\"");
    let pipeline = dir.path().join("scale.toml");
    std::fs::write(&pipeline, text).unwrap();
    env.migrate("gateway_http", &pipeline);
    let (rows, _) = expected(&input);

    // Continuous runs: the survivors keep going after the kill, take over the victim's
    // partitions once its session expires, and stop cleanly on SIGTERM.
    let logs = env.lake.parent().unwrap().to_path_buf();
    let log = |i: usize| logs.join(format!("run{i}.log"));
    let spawn = |i: usize| {
        let mut c = env.lakeport("gateway_http");
        let file = std::fs::File::create(log(i)).unwrap();
        c.arg("run").arg(&pipeline).arg("--no-progress").stdout(Stdio::null()).stderr(file);
        c.spawn().unwrap_or_else(|e| panic!("process {i}: {e}"))
    };
    let mut procs: Vec<_> = (0..3).map(spawn).collect();
    std::thread::sleep(Duration::from_secs(9));
    let mut victim = procs.remove(0);
    assert!(victim.try_wait().unwrap().is_none(), "process 0 stopped before it could be killed:\n{}", std::fs::read_to_string(log(0)).unwrap_or_default());
    victim.kill().unwrap();
    victim.wait().unwrap();
    // What the victim held (its last assignment), and where the survivors' logs stood.
    let victim_log = std::fs::read_to_string(log(0)).unwrap_or_default();
    let held: Vec<String> = victim_log.lines().rfind(|l| l.contains("partitions assigned")).map(assigned_partitions).unwrap_or_default();
    assert!(!held.is_empty(), "process 0 held no partition when killed:\n{victim_log}");
    let logged_at_kill: Vec<usize> = (1..3).map(|i| std::fs::read_to_string(log(i)).unwrap_or_default().len()).collect();
    let count = || clickhouse(&format!("SELECT count() FROM `{}`.gateway_http FORMAT TabSeparated", env.database)).trim().parse::<usize>().unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(180);
    while count() < rows && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(500));
    }
    for (i, p) in procs.iter().enumerate() {
        // SIGTERM: finish what is in flight, commit, exit 0.
        let status = Command::new("kill").args(["-TERM", &p.id().to_string()]).status().unwrap();
        assert!(status.success(), "signal process {}", i + 1);
    }
    for (i, mut p) in procs.into_iter().enumerate() {
        let status = p.wait().unwrap();
        let text = std::fs::read_to_string(log(i + 1)).unwrap_or_default();
        assert!(status.success(), "process {} did not stop cleanly on SIGTERM ({status}):\n{text}", i + 1);
    }
    // After the kill, the survivors' assignments together cover every partition the victim held.
    let taken: std::collections::HashSet<String> = (1..3)
        .flat_map(|i| {
            let text = std::fs::read_to_string(log(i)).unwrap_or_default();
            text[logged_at_kill[i - 1]..].lines().filter(|l| l.contains("partitions assigned")).flat_map(assigned_partitions).collect::<Vec<_>>()
        })
        .collect();
    assert!(held.iter().all(|p| taken.contains(p)), "the victim's partitions {held:?} were not all assigned to a survivor after the kill (assigned: {taken:?})");

    let ch = clickhouse(&format!("SELECT count(), uniqExact(_topic, _partition, _offset, _line), uniqExact(_partition) FROM `{}`.gateway_http FORMAT TabSeparated", env.database));
    assert_eq!(ch.trim(), format!("{rows}\t{rows}\t{PARTITIONS}"), "ClickHouse: rows, unique coordinates, partitions");
    verify_pipeline(&env, "gateway_http", &input, PARTITIONS, &service("LAKEPORT_TEST_CLICKHOUSE_URL"));
}

/// The partitions a `partitions assigned parts=[("topic", 3), …]` log line names, as `"3"`.
fn assigned_partitions(line: &str) -> Vec<String> {
    line.split("\", ").skip(1).map(|rest| rest.chars().take_while(char::is_ascii_digit).collect()).collect()
}
