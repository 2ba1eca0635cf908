//! `lakeport run` end to end against the real services: generated records (with bad ones)
//! → Kafka (tansu) → `lakeport run --until-caught-up` → ClickHouse rows, lake rows and dead
//! letters add up exactly to what was produced, and the values are the input's.

mod common;

use common::*;

const PARTITIONS: i32 = 3;

#[test]
fn scheduled_run_puts_every_record_once_in_both_sinks_or_the_dead_letters() {
    for dataset in ["gateway_dns", "gateway_http"] {
        let env = PipelineEnv::new(dataset);
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("input.ndjson");
        let count = "3000";
        ok({
            let mut c = lakeport();
            c.args(["gen", "--dataset", dataset, "--count", count, "--seed", "21", "--bad-ratio", "0.05", "--labels"]).arg(input.with_extension("labels")).arg("--out").arg(&input);
            c
        });
        ok({
            let mut c = lakeport();
            c.args(["gen", "--dataset", dataset, "--count", count, "--seed", "21", "--bad-ratio", "0.05", "--kafka", &service("LAKEPORT_TEST_KAFKA_BROKERS"), "--topic", &env.topic, "--partitions", &PARTITIONS.to_string()]);
            c
        });
        let pipeline = format!("pipelines/{dataset}.toml");
        ok({
            let mut c = env.lakeport(dataset);
            c.args(["migrate", &pipeline]);
            c
        });
        let run = ok({
            let mut c = env.lakeport(dataset);
            c.args(["run", &pipeline, "--until-caught-up", "--no-progress"]);
            c
        });
        let report = String::from_utf8_lossy(&run.stdout);
        let (rows, rejected) = expected(&input);
        assert_eq!(rows + rejected, 3000);
        assert!(rejected > 100, "{report}");

        let ch = clickhouse(&format!("SELECT count(), uniqExact(_topic, _partition, _offset, _line) FROM `{}`.`{dataset}` FORMAT TabSeparated", env.database));
        assert_eq!(ch.trim(), format!("{rows}\t{rows}"), "ClickHouse rows, unique coordinates; run said:\n{report}");
        let letters = dead_letter_lines(&env.dead_letters);
        assert_eq!(letters.len(), rejected, "dead letters");
        for l in &letters {
            assert_eq!(l["topic"], env.topic.as_str());
            assert!(l["offset"].is_i64() && l["partition"].is_i64() && l["reason"].is_string(), "{l}");
            assert!(l["raw"].is_string() || l["raw_base64"].is_string(), "{l}");
            assert_eq!(l["dataset"], dataset);
        }
        check_dead_letters(&letters, &input, PARTITIONS);
        assert!(report.contains(&format!("lake: {rows} rows")) && report.contains(&format!("clickhouse: {rows} rows")), "{report}");

        verify_pipeline(&env, dataset, &input, PARTITIONS, &service("LAKEPORT_TEST_CLICKHOUSE_URL"));
    }
}

#[test]
fn bad_pipeline_files_give_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let shipped = std::fs::read_to_string(root().join("pipelines/gateway_dns.toml")).unwrap().replace("../schemas/", &format!("{}/schemas/", root().display()));
    let cases = [
        (shipped.replace("[batch]", "[batch]\ncolour = 1"), "unknown field `colour`"),
        (shipped.replace("${LAKEPORT_KAFKA_BROKERS:-127.0.0.1:9092}", "${LAKEPORT_NOT_SET_ANYWHERE}"), "`LAKEPORT_NOT_SET_ANYWHERE` is not set"),
        (shipped.replace("max_messages = 200000", "max_messages = 0"), "greater than zero"),
        (shipped.replace("gateway_dns.toml\"", "nope.toml\""), "nope.toml"),
        ("name = ".to_string(), "not valid TOML"),
    ];
    for (i, (text, want)) in cases.into_iter().enumerate() {
        let path = dir.path().join(format!("p{i}.toml"));
        std::fs::write(&path, text).unwrap();
        let out = lakeport().args(["run", path.to_str().unwrap(), "--until-caught-up"]).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "a wrong setting is permanent (exit 3):\n{err}");
        assert!(err.contains(want) && err.contains(path.to_str().unwrap()), "expected {want:?} naming the file in:\n{err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

/// A record the decoder accepts but ClickHouse cannot hold (18.16's DateTime starts in
/// 1970) goes to the dead letters with ClickHouse's reason, the rest of its batch goes in,
/// and the lake holds exactly what ClickHouse holds.
#[test]
fn rows_clickhouse_refuses_are_dead_lettered_and_kept_out_of_the_lake_too() {
    let env = PipelineEnv::new("refused");
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("input.ndjson");
    let mut lines = String::new();
    for i in 0..40 {
        let when = if i % 13 == 5 { "1969-12-31T23:59:00Z".to_string() } else { format!("2026-11-23T07:{:02}:00Z", i) };
        lines.push_str(&format!("{{\"Datetime\":\"{when}\",\"QueryName\":\"q{i}.example\",\"AccountID\":\"a\"}}\n"));
    }
    std::fs::write(&input, lines).unwrap();
    ok({
        let mut c = lakeport();
        c.args(["produce", input.to_str().unwrap(), "--kafka", &service("LAKEPORT_TEST_KAFKA_BROKERS"), "--topic", &env.topic]);
        c
    });
    for cmd in [&["migrate", "pipelines/gateway_dns.toml"][..], &["run", "pipelines/gateway_dns.toml", "--until-caught-up", "--no-progress"]] {
        ok({
            let mut c = env.lakeport("gateway_dns");
            c.args(cmd);
            c
        });
    }
    let refused: Vec<_> = dead_letter_lines(&env.dead_letters).into_iter().filter(|l| l["stage"] == "clickhouse").collect();
    assert_eq!(refused.len(), 3, "{refused:?}");
    for l in &refused {
        assert!(l["raw"].as_str().unwrap().contains("1969-12-31"), "{l}");
        assert!(l["reason"].as_str().unwrap().contains("DateTime"), "{l}");
    }
    let ch = clickhouse(&format!("SELECT count(), countIf(datetime < toDateTime('1971-01-01 00:00:00')) FROM `{}`.gateway_dns FORMAT TabSeparated", env.database));
    assert_eq!(ch.trim(), "37\t0");
    let check = ok({
        let mut c = std::process::Command::new(python());
        c.args(["-c", "import sys, pyarrow.dataset as ds; t = ds.dataset(sys.argv[1], partitioning='hive').to_table(); print(t.num_rows, min(t.column('datetime').cast('int64').to_pylist()))"]).arg(env.lake.join("gateway_dns"));
        c
    });
    let text = String::from_utf8_lossy(&check.stdout);
    let mut parts = text.split_whitespace();
    assert_eq!(parts.next(), Some("37"), "{text}");
    assert!(parts.next().unwrap().parse::<i64>().unwrap() > 0, "no pre-1970 row in the lake: {text}");
}

/// Dead letters can also go to a Kafka topic: one message per record, keyed by its source
/// coordinates, holding the same JSON as the object-store lines; a record too large for the
/// topic's message limit goes there cut, pointing at the object-store copy, which holds it
/// whole. The topic is read until it stays quiet: exactly the rejected records, once each.
#[test]
fn dead_letters_also_go_to_a_kafka_topic() {
    use rdkafka::consumer::{BaseConsumer, Consumer as _};
    use rdkafka::Message as _;

    let env = PipelineEnv::new("dlq");
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("input.ndjson");
    // Five malformed records (one of 1.5 MB) among valid ones.
    let big = format!("{{\"Datetime\": broken {}", "x".repeat(1_500_000));
    let records: Vec<String> = (0..20)
        .map(|i| match i {
            13 => big.clone(),
            _ if i % 4 == 1 => format!("{{\"Datetime\": broken {i}"),
            _ => format!("{{\"Datetime\":\"2026-11-23T07:{i:02}:00Z\"}}"),
        })
        .collect();
    std::fs::write(&input, records.join("\n") + "\n").unwrap();
    let brokers = service("LAKEPORT_TEST_KAFKA_BROKERS");
    ok({
        let mut c = lakeport();
        c.args(["produce", input.to_str().unwrap(), "--kafka", &brokers, "--topic", &env.topic]);
        c
    });
    let dlq = format!("{}_dead", env.topic);
    let text = std::fs::read_to_string(root().join("pipelines/gateway_dns.toml"))
        .unwrap()
        .replace("../schemas/", &format!("{}/schemas/", root().display()))
        .replace("# topic = \"gateway_dns_dead_letters\"", &format!("topic = \"{dlq}\""));
    let pipeline = dir.path().join("dlq.toml");
    std::fs::write(&pipeline, text).unwrap();
    for cmd in ["migrate", "run"] {
        let mut c = env.lakeport("gateway_dns");
        c.arg(cmd).arg(&pipeline);
        if cmd == "run" {
            c.args(["--until-caught-up", "--no-progress"]);
        }
        ok(c);
    }
    let consumer: BaseConsumer = rdkafka::ClientConfig::new().set("bootstrap.servers", &brokers).set("group.id", unique("reader")).set("auto.offset.reset", "earliest").create().unwrap();
    consumer.subscribe(&[&dlq]).unwrap();
    // Read until nothing came for 5 s (after the first message), at most 90 s.
    let mut got = Vec::new();
    let started = std::time::Instant::now();
    let mut last = started;
    while started.elapsed() < std::time::Duration::from_secs(90) && (got.is_empty() || last.elapsed() < std::time::Duration::from_secs(5)) {
        if let Some(Ok(m)) = consumer.poll(std::time::Duration::from_millis(500)) {
            let key = String::from_utf8(m.key().unwrap().to_vec()).unwrap();
            assert!(m.payload_len() <= 1_000_000, "a dead letter of {} bytes on the topic", m.payload_len());
            let value: serde_json::Value = serde_json::from_slice(m.payload().unwrap()).unwrap();
            got.push((key, value));
            last = std::time::Instant::now();
        }
    }
    let keys: std::collections::BTreeSet<String> = got.iter().map(|(k, _)| k.clone()).collect();
    let expected: std::collections::BTreeSet<String> = [1, 5, 9, 13, 17].iter().map(|o| format!("{}-0-{o}-1", env.topic)).collect();
    assert_eq!((got.len(), &keys), (5, &expected), "exactly the rejected records, once each");
    for (key, value) in &got {
        let offset = value["offset"].as_u64().unwrap() as usize;
        assert_eq!(value["kind"], if offset == 13 { "too_large" } else { "malformed_json" }, "{value}");
        assert_eq!(key, &format!("{}-0-{}-1", env.topic, value["offset"]), "{value}");
        let raw = value["raw"].as_str().unwrap();
        if offset == 13 {
            assert!(big.starts_with(raw) && raw.len() < big.len(), "the topic copy of the large record is cut");
            assert_eq!(value["raw_bytes"].as_u64(), Some(big.len() as u64));
            assert!(value["raw_object"].as_str().is_some_and(|o| o.ends_with(".ndjson")), "{}", value["raw_object"]);
        } else {
            assert_eq!(raw, records[offset], "raw = the input at its coordinates");
        }
    }
    let stored = dead_letter_lines(&env.dead_letters);
    assert_eq!(stored.len(), 5, "the object-store copy as well");
    for l in &stored {
        assert_eq!(l["raw"].as_str().unwrap(), records[l["offset"].as_u64().unwrap() as usize], "the object-store copy is whole");
    }
}

/// `lakeport verify` agrees with a clean run, then names each sink's damage: rows of a batch
/// repeated in ClickHouse, a lake file gone.
#[test]
fn verify_reports_what_each_sink_lacks_or_repeats() {
    let dataset = "gateway_dns";
    let env = PipelineEnv::new("verify");
    let dir = tempfile::tempdir().unwrap();
    let pipeline = pipeline_file(dir.path(), dataset, &[("max_messages = 200000", "max_messages = 400")]);
    ok({
        let mut c = lakeport();
        // Recent data: verify compares rollups only on days the table's 90-day TTL keeps.
        c.args(["gen", "--dataset", dataset, "--count", "3000", "--seed", "4", "--bad-ratio", "0.05", "--start", "now", "--kafka", &service("LAKEPORT_TEST_KAFKA_BROKERS"), "--topic", &env.topic, "--partitions", &PARTITIONS.to_string()]);
        c
    });
    env.migrate(dataset, &pipeline);
    ok({
        let mut c = env.lakeport(dataset);
        c.arg("run").arg(&pipeline).args(["--until-caught-up", "--no-progress"]);
        c
    });
    let verify = || {
        let out = env.lakeport(dataset).arg("verify").arg(&pipeline).output().unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr))
    };
    let (code, report) = verify();
    assert_eq!(code, Some(0), "{report}");
    let letters = dead_letter_lines(&env.dead_letters).len();
    assert!(letters > 50 && report.contains(&format!("({} rows, {letters} dead letters)", 3000 - letters)) && report.contains("0 disagreements, 0 pending"), "{report}");

    clickhouse(&format!("INSERT INTO `{0}`.{dataset} SELECT * FROM `{0}`.{dataset} WHERE _partition = 0 AND _offset < 3", env.database));
    let lake_file = walk(&env.lake).into_iter().find(|p| p.to_string_lossy().contains(&format!("{}-1-", env.topic))).expect("a lake file of partition 1");
    std::fs::remove_file(&lake_file).unwrap();
    let (code, report) = verify();
    assert_eq!(code, Some(8), "{report}");
    let lines: Vec<&str> = report.lines().collect();
    assert!(lines.iter().any(|l| l.starts_with("DUPLICATED clickhouse") && l.contains(&format!("{}[0] offsets 0..=", env.topic)) && l.contains("3 of them repeats")), "{report}");
    assert!(lines.iter().any(|l| (l.starts_with("MISSING    lake") || l.starts_with("PARTIAL    lake")) && l.contains(&format!("{}[1]", env.topic))), "{report}");
    assert_eq!(lines.iter().filter(|l| l.contains("offsets")).count(), 2, "nothing else is reported:\n{report}");
    assert!(!report.contains("ROLLUP"), "rows repeated in the table are repeated in its rollup too:\n{report}");
    // Every batch was recorded in the last hour: a window of an hour sees the same damage.
    let out = env.lakeport(dataset).arg("verify").arg(&pipeline).args(["--since", "1h"]).output().unwrap();
    let windowed = String::from_utf8_lossy(&out.stdout);
    assert_eq!((out.status.code(), windowed.lines().filter(|l| l.contains("offsets")).count()), (Some(8), 2), "{windowed}");

    // A rollup counting some minute twice is reported, and refilled from the table.
    let rollup = format!("`{}`.gateway_dns_minute", env.database);
    clickhouse(&format!("INSERT INTO {rollup} SELECT * FROM {rollup} WHERE minute = (SELECT min(minute) FROM {rollup})"));
    let (code, report) = verify();
    assert_eq!(code, Some(8), "{report}");
    let day = clickhouse(&format!("SELECT toDate(min(minute)) FROM {rollup} FORMAT TabSeparated"));
    let day = day.trim();
    assert!(report.lines().any(|l| l.starts_with(&format!("ROLLUP     gateway_dns_minute {day}")) && l.contains(&format!("--backfill-rollups --rollup gateway_dns_minute --since {day} --until {day}"))), "{report}");
    let out = ok({
        let mut c = env.lakeport(dataset);
        c.arg("migrate").arg(&pipeline).arg("--backfill-rollups");
        c
    });
    let refilled = String::from_utf8_lossy(&out.stdout);
    assert!(refilled.contains(&format!("-- rollup gateway_dns_minute: {day} refilled")) && refilled.contains("day(s) refilled"), "{refilled}");
    let (code, report) = verify();
    assert!(code == Some(8) && !report.contains("ROLLUP"), "after the refill only the sinks' damage is left:\n{report}");

    // ClickHouse unreachable: verify gives up as a run does (4), it does not report success.
    let unreachable = pipeline_file(dir.path(), dataset, &[("max_messages = 200000", "max_messages = 400"), ("table = \"gateway_dns\"\n", "table = \"gateway_dns\"\n[clickhouse.retry]\nmax_attempts = 2\n")]);
    let out = env.lakeport(dataset).env("LAKEPORT_CLICKHOUSE_URL", format!("http://127.0.0.1:{}", free_port())).arg("verify").arg(&unreachable).output().unwrap();
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.code() == Some(4) && text.contains("gave up waiting"), "{:?}: {text}", out.status);
}

/// Every file under `dir`.
fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(dir).map_or_else(|_| Vec::new(), |entries| entries.flatten().flat_map(|e| if e.path().is_dir() { walk(&e.path()) } else { vec![e.path()] }).collect())
}

/// `lakeport backfill --from-lake` loads the lake into a rebuilt table exactly once: the same
/// rows as the pipeline's table (partition columns from the lake's paths), nothing added by a
/// second run, a batch cut short put back whole, a batch deleted from the pipeline's own
/// table restored, and a batch the lake lacks a file of not loaded (exit 8).
#[test]
fn backfill_loads_the_lake_into_a_table_exactly_once() {
    let dataset = "gateway_http";
    let env = PipelineEnv::new("backfill");
    let dir = tempfile::tempdir().unwrap();
    let pipeline = pipeline_file(dir.path(), dataset, &[("max_messages = 200000", "max_messages = 400")]);
    ok({
        let mut c = lakeport();
        c.args(["gen", "--dataset", dataset, "--count", "3000", "--seed", "8", "--bad-ratio", "0.05", "--start", "now", "--kafka", &service("LAKEPORT_TEST_KAFKA_BROKERS"), "--topic", &env.topic, "--partitions", &PARTITIONS.to_string()]);
        c
    });
    env.migrate(dataset, &pipeline);
    ok({
        let mut c = env.lakeport(dataset);
        c.arg("run").arg(&pipeline).args(["--until-caught-up", "--no-progress"]);
        c
    });
    let db = &env.database;
    let dump = |table: &str| clickhouse(&format!("SELECT * FROM `{db}`.{table} ORDER BY _partition, _offset, _line FORMAT TabSeparated"));
    let original = dump(dataset);
    let rows = original.lines().count();
    assert!(rows > 2500, "{rows}");
    let backfill = |table: Option<&str>| {
        let mut c = env.lakeport(dataset);
        c.arg("backfill").arg(&pipeline).arg("--from-lake");
        if let Some(t) = table {
            c.args(["--table", t]);
        }
        let out = c.output().unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr))
    };
    let summary = |report: &str| report.lines().find(|l| l.starts_with("backfilled")).unwrap_or_default().to_string();

    let out = ok({
        let mut c = env.lakeport(dataset);
        c.arg("migrate").arg(&pipeline).args(["--table", "rebuilt"]);
        c
    });
    assert!(String::from_utf8_lossy(&out.stdout).contains("rollups are filled from gateway_http, not from rebuilt"), "{out:?}");
    let (code, report) = backfill(Some("rebuilt"));
    assert_eq!(code, Some(0), "{report}");
    assert!(summary(&report).contains(&format!("{rows} rows inserted, 0 already there, 0 batches skipped")), "{report}");
    assert!(dump("rebuilt") == original, "the rebuilt table holds other rows than the pipeline's");

    let (code, report) = backfill(Some("rebuilt"));
    assert_eq!(code, Some(0), "{report}");
    assert!(summary(&report).contains(&format!("0 rows inserted, {rows} already there")), "{report}");

    // An interrupted load left part of a batch: it is replaced, not added to.
    clickhouse(&format!("ALTER TABLE `{db}`.rebuilt DELETE WHERE _partition = 0 AND _offset BETWEEN 1 AND 50"));
    clickhouse(&format!("ALTER TABLE `{db}`.{dataset} DELETE WHERE _partition = 1 AND _offset < 400"));
    while clickhouse(&format!("SELECT count() FROM system.mutations WHERE database = '{db}' AND is_done = 0 FORMAT TabSeparated")).trim() != "0" {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let (code, report) = backfill(Some("rebuilt"));
    assert_eq!(code, Some(0), "{report}");
    assert!(dump("rebuilt") == original, "after the repair the rebuilt table holds other rows:\n{report}");
    let (code, report) = backfill(None);
    assert_eq!(code, Some(0), "{report}");
    assert!(dump(dataset) == original && report.contains("--backfill-rollups"), "the pipeline's table was not restored:\n{report}");

    let lake_file = walk(&env.lake).into_iter().find(|p| p.to_string_lossy().contains(&format!("{}-1-", env.topic))).expect("a lake file of partition 1");
    std::fs::remove_file(&lake_file).unwrap();
    let (code, report) = backfill(Some("rebuilt"));
    assert_eq!(code, Some(8), "{report}");
    assert!(report.lines().any(|l| l.starts_with(&format!("SKIPPED {}[1]", env.topic)) && l.contains("the lake holds")), "{report}");
    assert!(dump("rebuilt") == original, "a skipped batch changed nothing");
}
