//! Shared helpers of the end-to-end tests: the services `scripts/services.sh` started, the
//! `lakeport` binary, unique names, ClickHouse queries.
#![allow(dead_code)] // each test binary uses a different subset

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

use sink::clickhouse::{Client, ClickHouseConfig};

/// The repository root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("repository root")
}

/// A variable `scripts/services.sh` exported; fails loudly when it is missing.
pub fn service(var: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| panic!("{var} is not set: run the tests with scripts/test.sh (it starts the services), or `scripts/services.sh start && source .lakeport/services/env`"))
}

/// A name no other test (or earlier run) uses.
pub fn unique(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    format!("{prefix}_{}_{}_{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed), nanos % 100_000)
}

/// A `lakeport` command run from the repository root.
pub fn lakeport() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_lakeport"));
    c.current_dir(root()).env("RUST_LOG", "warn,lakeport=info");
    c
}

/// Runs a command and fails the test, with its output, unless it succeeds.
pub fn ok(mut c: Command) -> Output {
    let out = c.output().expect("run command");
    assert!(out.status.success(), "{c:?} failed ({}):\n{}\n{}", out.status, String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    out
}

/// Environment for the shipped pipeline files, pointing at the test services and at fresh
/// topic, group, database and folders.
pub struct PipelineEnv {
    pub topic: String,
    pub group: String,
    pub database: String,
    pub lake: PathBuf,
    pub dead_letters: PathBuf,
    _dir: tempfile::TempDir,
}

impl PipelineEnv {
    /// Fresh names; the folders are removed afterwards unless `LAKEPORT_KEEP_TEST_DIRS` is set.
    pub fn new(prefix: &str) -> Self {
        let dir = tempfile::Builder::new().prefix(prefix).disable_cleanup(std::env::var_os("LAKEPORT_KEEP_TEST_DIRS").is_some()).tempdir().expect("tempdir");
        Self {
            topic: unique(prefix),
            group: unique("group"),
            database: unique("db"),
            lake: dir.path().join("lake"),
            dead_letters: dir.path().join("dead-letters"),
            _dir: dir,
        }
    }

    /// Applies the environment to a `lakeport` command for the `dataset` pipeline.
    pub fn apply(&self, c: &mut Command, dataset: &str) {
        let upper = dataset.to_uppercase();
        c.env("LAKEPORT_KAFKA_BROKERS", service("LAKEPORT_TEST_KAFKA_BROKERS"))
            .env("LAKEPORT_CLICKHOUSE_URL", service("LAKEPORT_TEST_CLICKHOUSE_URL"))
            .env(format!("LAKEPORT_{upper}_TOPIC"), &self.topic)
            .env(format!("LAKEPORT_{upper}_METRICS"), "127.0.0.1:0")
            .env("LAKEPORT_GROUP_ID", &self.group)
            .env("LAKEPORT_CLICKHOUSE_DATABASE", &self.database)
            .env("LAKEPORT_LAKE_URL", &self.lake)
            .env("LAKEPORT_DEAD_LETTER_URL", &self.dead_letters);
    }

    /// A `lakeport` command with this environment.
    pub fn lakeport(&self, dataset: &str) -> Command {
        let mut c = lakeport();
        self.apply(&mut c, dataset);
        c
    }
}

/// Runs a ClickHouse query on the test server; returns the answer text.
pub fn clickhouse(sql: &str) -> String {
    let config = ClickHouseConfig::new(service("LAKEPORT_TEST_CLICKHOUSE_URL"), "unused").validate().expect("config");
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    runtime.block_on(async { Client::new(&config).expect("client").query(sql).await }).unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// Counts the lines of every dead-letter object under `dir`.
pub fn dead_letter_lines(dir: &Path) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return out };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(dead_letter_lines(&p));
        } else if p.extension().is_some_and(|x| x == "ndjson") {
            for line in std::fs::read_to_string(&p).expect("read dead letters").lines() {
                out.push(serde_json::from_str(line).expect("dead letter is JSON"));
            }
        }
    }
    out
}

/// The Python with pyarrow and duckdb that scripts/setup.sh installs.
pub fn python() -> String {
    std::env::var("LAKEPORT_TEST_PYTHON").unwrap_or_else(|_| {
        let venv = root().join(".lakeport/venv/bin/python");
        assert!(venv.exists(), "no Python with pyarrow/duckdb: run scripts/setup.sh (or scripts/test.sh), or set LAKEPORT_TEST_PYTHON");
        venv.display().to_string()
    })
}

/// What the decoder accepts of an NDJSON file: `(rows, rejected)`, from `lakeport convert`.
pub fn accepted(input: &Path, dataset: &str) -> (usize, usize) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut c = lakeport();
    c.args(["convert", "--schema", dataset]).arg(input).arg("--out").arg(dir.path().join("all.parquet"));
    let text = String::from_utf8_lossy(&ok(c).stdout).to_string();
    let number = |word: &str| -> usize {
        let at = text.find(word).unwrap_or_else(|| panic!("{word:?} not in {text:?}")) + word.len();
        text[at..].trim_start().split(|c: char| !c.is_ascii_digit()).next().and_then(|n| n.parse().ok()).expect("a count")
    };
    (number("wrote"), number("rejected"))
}

/// Runs `tests/verify_pipeline.py`: every lake and ClickHouse row of `env` holds exactly the
/// input record its coordinates name, once.
pub fn verify_pipeline(env: &PipelineEnv, dataset: &str, input: &Path, partitions: i32, clickhouse_url: &str) {
    let mut c = Command::new(python());
    c.arg(root().join("tests/verify_pipeline.py"))
        .arg(root().join(format!("schemas/{dataset}.toml")))
        .arg(input)
        .arg(partitions.to_string())
        .arg(&env.lake)
        .arg(clickhouse_url)
        .arg(&env.database)
        .arg(dataset);
    ok(c);
}
