//! The analyst questions of `docs/queries.md`, asked of both sinks: generated records of
//! both datasets go through Kafka and `lakeport run`; every question's ClickHouse and
//! DuckDB-over-the-lake answers must be identical and non-empty (tests/query_pairs.py).

mod common;

use std::process::Command;

use common::*;

/// The instant `now()` / `today()` stand for: the middle of `gen`'s default 48 hours.
const NOW: &str = "2026-11-24T12:00:00Z";

#[test]
fn every_documented_question_gets_the_same_answer_from_clickhouse_and_the_lake() {
    let env = PipelineEnv::new("queries");
    for dataset in ["gateway_dns", "gateway_http"] {
        let topic = format!("{}_{dataset}", env.topic);
        produce(&service("LAKEPORT_TEST_KAFKA_BROKERS"), &topic, dataset, 20_000, 5, 2, &[]);
        let pipeline = format!("pipelines/{dataset}.toml");
        env.migrate(dataset, std::path::Path::new(&pipeline));
        ok({
            let mut c = env.lakeport(dataset);
            c.env(format!("LAKEPORT_{}_TOPIC", dataset.to_uppercase()), &topic).args(["run", &pipeline, "--until-caught-up", "--no-progress"]);
            c
        });
    }
    let ask = || {
        let mut c = Command::new(python());
        c.arg(root().join("tests/query_pairs.py")).arg(root().join("docs/queries.md"));
        c.args(["--clickhouse", &service("LAKEPORT_TEST_CLICKHOUSE_URL"), "--database", &env.database, "--now", NOW]).arg("--lake").arg(&env.lake);
        let out = c.output().expect("run tests/query_pairs.py");
        (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
    };
    let (agreed, report) = ask();
    assert!(agreed, "the sinks disagree, or a documented query fails:\n{report}");
    let asked: usize = report.lines().last().and_then(|l| l.split(' ').next()).and_then(|n| n.parse().ok()).unwrap_or(0);
    assert!(asked >= 12 && report.contains(&format!("{asked} questions, 0 failed")), "{report}");

    // The comparison sees a single extra row: a blocked request of the pinned day, twice.
    clickhouse(&format!(
        "INSERT INTO `{0}`.gateway_http SELECT * FROM `{0}`.gateway_http WHERE date = toDate('{1}') AND action = 'block' LIMIT 1",
        env.database,
        &NOW[..10]
    ));
    let (agreed, report) = ask();
    assert!(!agreed && report.contains("DuckDB differs from ClickHouse"), "one duplicated row went unnoticed:\n{report}");
}
