//! The shell blocks of the README and the guides, run as written: each line one command, from
//! a scratch copy of `schemas/` and `pipelines/`, with `lakeport` on `PATH` and the test
//! services in the variables the shipped pipeline files read. A documented line this test
//! cannot run is listed in [`NOT_RUN`] with the reason, so a new line either runs here or
//! says why not.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;

/// The documents whose `sh` blocks run, in order: later ones use what earlier ones made.
const DOCS: &[&str] = &["README.md", "docs/adding-a-dataset.md", "docs/operations.md"];

/// Documented lines not run here (matched by their start), and why.
const NOT_RUN: &[(&str, &str)] = &[
    ("scripts/demo.sh", "installs the services and builds a release binary; the steps it runs are the README's, run here"),
    ("scripts/test.sh", "this suite"),
    ("lakeport produce fixed.ndjson --kafka \"$BROKERS\" --topic gateway_dns -X security.protocol=sasl_ssl", "the test broker has no SASL; this test's setup runs `produce` without it"),
];

/// Records on each topic of the setup.
const RECORDS: usize = 2000;

#[test]
fn the_documented_commands_run_as_written() {
    let env = PipelineEnv::new("docs");
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path();
    for sub in ["schemas", "pipelines"] {
        copy_dir(&root().join(sub), &dir.join(sub));
    }
    let datasets = ["gateway_dns", "my_dataset", "weblogs"];
    let topic = |dataset: &str| format!("{}_{dataset}", env.topic);
    let brokers = service("LAKEPORT_TEST_KAFKA_BROKERS");
    // What a reader brings: records on the README's topic, samples of a dataset not shipped
    // (also on the guide's topic).
    ok({
        let mut c = lakeport();
        c.args(["gen", "--dataset", "gateway_dns", "--count", &RECORDS.to_string(), "--seed", "12", "--bad-ratio", "0.02", "--start", "now", "--partitions", "2"])
            .args(["--kafka", &brokers, "--topic", &topic("gateway_dns")]);
        c
    });
    ok({
        let mut c = lakeport();
        c.args(["gen", "--dataset", "gateway_http", "--count", &RECORDS.to_string(), "--seed", "9", "--out"]).arg(dir.join("samples.ndjson"));
        c
    });
    ok({
        let mut c = lakeport();
        c.arg("produce").arg(dir.join("samples.ndjson")).args(["--kafka", &brokers, "--topic", &topic("weblogs"), "--partitions", "2"]);
        c
    });

    let services_env = root().join(".lakeport/services/env");
    assert!(services_env.exists(), "{} is missing: start the services with scripts/services.sh start", services_env.display());
    let bin = Path::new(env!("CARGO_BIN_EXE_lakeport")).parent().unwrap().to_path_buf();
    let command = |line: &str| {
        let mut c = Command::new("bash");
        c.current_dir(dir).env("PATH", format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default())).env("RUST_LOG", "warn");
        // Fresh names, so that the run is this test's own; the services' addresses come
        // from the file the docs say to source.
        c.env("LAKEPORT_GROUP_ID", &env.group).env("LAKEPORT_CLICKHOUSE_DATABASE", &env.database).env("LAKEPORT_LAKE_URL", &env.lake).env("LAKEPORT_DEAD_LETTER_URL", dir.join("dead-letters"));
        for dataset in datasets {
            let upper = dataset.to_uppercase();
            c.env(format!("LAKEPORT_{upper}_TOPIC"), topic(dataset)).env(format!("LAKEPORT_{upper}_METRICS"), "127.0.0.1:0");
        }
        c.env_remove("LAKEPORT_KAFKA_BROKERS").env_remove("LAKEPORT_CLICKHOUSE_URL");
        c.args(["-c", &format!("source {}; set -euo pipefail; exec {line}", services_env.display())]);
        c
    };
    let letters = || dead_letter_lines(&dir.join("dead-letters"));
    let mut ran = Vec::new();
    for doc in DOCS {
        for line in shell_lines(&std::fs::read_to_string(root().join(doc)).unwrap()) {
            if let Some((_, why)) = NOT_RUN.iter().find(|(start, _)| line.starts_with(start)) {
                eprintln!("{doc}: not run ({why}): {line}");
                continue;
            }
            let continuous = line.starts_with("lakeport run ") && !line.contains("--until-caught-up");
            let output = if continuous {
                // Runs until stopped: stopped (SIGTERM) once everything produced is in, it
                // drains and exits 0.
                let run = Background::spawn(command(&line), &dir.join("continuous.log"));
                run.wait_until("every record in ClickHouse or the dead letters", || rows(&env.database, "gateway_dns") + letters().len() >= RECORDS);
                ok({
                    let mut c = Command::new("kill");
                    c.args(["-TERM", &run.id().to_string()]);
                    c
                });
                let (code, log) = run.wait();
                assert_eq!(code, Some(0), "{doc}: `{line}` stopped by SIGTERM:\n{log}");
                log
            } else {
                let (code, output, _) = run_to_end(command(&line));
                assert_eq!(code, Some(0), "{doc}: `{line}`:\n{output}");
                output
            };
            ran.push((doc, line, output));
        }
    }
    let output = |start: &str| ran.iter().find(|(_, line, _)| line.starts_with(start)).map_or_else(|| panic!("no documented line starts with `{start}`"), |(_, _, out)| out.as_str());

    // README: the continuous and the scheduled run wrote every record once.
    let letters = letters();
    let good = RECORDS - letters.iter().filter(|l| l["topic"] == topic("gateway_dns").as_str()).count();
    assert!(good < RECORDS && good > RECORDS * 9 / 10, "{good} of {RECORDS} decoded");
    let clickhouse_url = service("LAKEPORT_TEST_CLICKHOUSE_URL");
    assert_eq!(count_rows_at(&clickhouse_url, &env.database, "gateway_dns"), format!("{good}\t{good}"));
    assert_eq!(lake_counts(&env.lake.join("gateway_dns")), (good as u64, good as u64));
    assert!(output("lakeport migrate pipelines/my_dataset.toml --dry-run").contains("nothing was changed"));

    // docs/adding-a-dataset.md: the unedited drafts carry every sample into both sinks.
    assert!(output("lakeport schema check schemas/weblogs.toml").starts_with("ok "));
    let plan = output("lakeport migrate pipelines/weblogs.toml --dry-run");
    assert!(plan.contains("CREATE TABLE") && plan.contains("ORDER BY (`datetime`)"), "{plan}");
    assert_eq!(count_rows_at(&clickhouse_url, &env.database, "weblogs"), format!("{RECORDS}\t{RECORDS}"));
    assert_eq!(lake_counts(&env.lake.join("weblogs")), (RECORDS as u64, RECORDS as u64));

    // docs/operations.md: the replay file holds every dead letter's raw record.
    let fixed = std::fs::read_to_string(dir.join("fixed.ndjson")).unwrap();
    assert_eq!(fixed.lines().count(), letters.iter().filter(|l| l["raw"].is_string()).count());
    assert!(fixed.lines().count() > 0);
}

/// The commands of a Markdown text's `sh` blocks: one per line, `\` continuing a line,
/// comments removed.
fn shell_lines(markdown: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let (mut inside, mut pending) = (false, String::new());
    for line in markdown.lines() {
        if line.starts_with("```") {
            inside = line == "```sh";
            continue;
        }
        if !inside {
            continue;
        }
        let line = without_comment(line).trim_end();
        match line.strip_suffix('\\') {
            Some(start) => pending.push_str(start),
            None => {
                pending.push_str(line);
                let command = std::mem::take(&mut pending).trim().to_string();
                if !command.is_empty() {
                    lines.push(command);
                }
            }
        }
    }
    lines
}

/// `line` up to a `#` that starts a shell comment (after whitespace, outside quotes).
fn without_comment(line: &str) -> &str {
    let mut quote = None;
    let mut previous = ' ';
    for (i, c) in line.char_indices() {
        match (quote, c) {
            (None, '\'' | '"') => quote = Some(c),
            (Some(q), _) if q == c => quote = None,
            (None, '#') if previous.is_whitespace() => return &line[..i],
            _ => {}
        }
        previous = c;
    }
    line
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}
