//! Shared helpers of the end-to-end tests: the services `scripts/services.sh` started, the
//! `lakeport` binary, unique names, ClickHouse queries.
#![allow(dead_code)] // each test binary uses a different subset

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use sink::clickhouse::{Client, ClickHouseConfig};

pub mod proxy;

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
    c.current_dir(root()).env("RUST_LOG", "warn,ingest=info");
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

    /// Runs `lakeport migrate PIPELINE` for `dataset` in this environment; it must succeed.
    pub fn migrate(&self, dataset: &str, pipeline: &Path) {
        let mut c = self.lakeport(dataset);
        c.arg("migrate").arg(pipeline);
        ok(c);
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
    clickhouse_at(&service("LAKEPORT_TEST_CLICKHOUSE_URL"), sql).unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// Runs a ClickHouse query on the server at `url`.
pub fn clickhouse_at(url: &str, sql: &str) -> Result<String, sink::Error> {
    let config = ClickHouseConfig::new(url, "unused").validate().expect("config");
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    runtime.block_on(async { Client::new(&config).expect("client").query(sql).await })
}

/// Rows and unique source coordinates of `database.table` on the server at `url`.
pub fn count_rows_at(url: &str, database: &str, table: &str) -> String {
    clickhouse_at(url, &format!("SELECT count(), uniqExact(_topic, _partition, _offset, _line) FROM `{database}`.{table} FORMAT TabSeparated")).unwrap().trim().to_string()
}

/// Produces `count` valid generated `dataset` records (seed `seed`) to `topic`, created
/// with `partitions` partitions, with the librdkafka `settings` (`KEY=VALUE`).
pub fn produce(brokers: &str, topic: &str, dataset: &str, count: usize, seed: u64, partitions: i32, settings: &[String]) {
    let mut c = lakeport();
    c.args(["gen", "--dataset", dataset, "--count", &count.to_string(), "--seed", &seed.to_string(), "--bad-ratio", "0"])
        .args(["--kafka", brokers, "--topic", topic, "--partitions", &partitions.to_string()]);
    for setting in settings {
        c.args(["-X", setting]);
    }
    ok(c);
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

/// The generator's word on each record of `input` (`gen --labels`, written next to it as
/// `<input>.labels`): `valid`, or the reason kind its rejection must carry. Independent of
/// the decoder under test.
pub fn labels(input: &Path) -> Vec<String> {
    let path = input.with_extension("labels");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).lines().map(str::to_string).collect()
}

/// Records of `input` the generator made valid, and bad.
pub fn expected(input: &Path) -> (usize, usize) {
    let labels = labels(input);
    let valid = labels.iter().filter(|l| *l == "valid").count();
    (valid, labels.len() - valid)
}

/// The dead letters are exactly the bad records of `input` (record i produced to partition
/// i % `partitions` at offset i / `partitions`), each once, with the reason kind the
/// generator named and the input's line as `raw` (without surrounding white space, as the
/// decoder frames records).
pub fn check_dead_letters(letters: &[serde_json::Value], input: &Path, partitions: i32) {
    use base64::Engine as _;
    let labels = labels(input);
    let bytes = std::fs::read(input).unwrap();
    let lines: Vec<&[u8]> = bytes.strip_suffix(b"\n").unwrap_or(&bytes).split(|&b| b == b'\n').collect();
    assert_eq!(lines.len(), labels.len(), "one label per record");
    let mut seen = std::collections::HashSet::new();
    for l in letters {
        let (p, o) = (l["partition"].as_i64().expect("partition"), l["offset"].as_i64().expect("offset"));
        let i = (o * i64::from(partitions) + p) as usize;
        assert!(seen.insert(i), "record {i} dead-lettered twice");
        assert_eq!(l["kind"].as_str(), Some(labels[i].as_str()), "record {i}: {l}");
        let raw = match (l["raw"].as_str(), l["raw_base64"].as_str()) {
            (Some(text), _) => text.as_bytes().to_vec(),
            (None, Some(b64)) => base64::engine::general_purpose::STANDARD.decode(b64).expect("base64"),
            _ => panic!("no raw bytes: {l}"),
        };
        assert!(raw == lines[i].trim_ascii(), "record {i}: raw differs from the input line (without surrounding white space)");
    }
    let bad = labels.iter().filter(|l| *l != "valid").count();
    assert_eq!(seen.len(), bad, "every bad record is a dead letter");
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
    let out = ok(c);
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(report.starts_with("ok: "), "verify_pipeline.py did not report its check: {report}");
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A server of the test's own on loopback ports, that the test may kill and start again
/// (with the same data): a ClickHouse (scripts/clickhouse-instance.sh) or a tansu broker
/// (`memory://` storage, so a restart empties it, as a recreated cluster would be).
pub struct PrivateServer {
    dir: PathBuf,
    /// The port it serves on (ClickHouse: HTTP), then any others it needs.
    ports: Vec<u16>,
    command: Box<dyn Fn(&Path, &[u16]) -> Command>,
    child: Option<Child>,
}

impl PrivateServer {
    pub fn clickhouse(dir: &Path) -> Self {
        Self::start(dir, 3, |dir, ports| {
            let mut c = Command::new(service("LAKEPORT_TEST_CLICKHOUSE_LAUNCHER"));
            c.arg(dir).args(ports.iter().map(u16::to_string));
            c
        })
    }

    pub fn broker(dir: &Path) -> Self {
        Self::start(dir, 1, |_, ports| {
            let listener = format!("tcp://127.0.0.1:{}", ports[0]);
            let mut c = Command::new(service("LAKEPORT_TEST_TANSU"));
            c.args(["broker", "--listener-url", &listener, "--advertised-listener-url", &listener, "--storage-engine", "memory://tansu/"]);
            c
        })
    }

    /// A tansu broker that tells clients to connect to port `ports()[1]` (for a proxy in
    /// front of it: clients reach a broker at the address it advertises).
    pub fn broker_behind_proxy(dir: &Path) -> Self {
        Self::start(dir, 2, |_, ports| {
            let listener = format!("tcp://127.0.0.1:{}", ports[0]);
            let advertised = format!("tcp://127.0.0.1:{}", ports[1]);
            let mut c = Command::new(service("LAKEPORT_TEST_TANSU"));
            c.args(["broker", "--listener-url", &listener, "--advertised-listener-url", &advertised, "--storage-engine", "memory://tansu/"]);
            c
        })
    }

    /// A ClickHouse that also serves HTTPS on `ports()[3]`, with `DIR/certs/server.pem`
    /// (see [`make_certs`]) and asking every client for a certificate of `DIR/certs/ca.pem`.
    pub fn clickhouse_tls(dir: &Path) -> Self {
        Self::start(dir, 4, |dir, ports| {
            let mut c = Command::new(service("LAKEPORT_TEST_CLICKHOUSE_LAUNCHER"));
            c.arg(dir).args(ports[..3].iter().map(u16::to_string));
            c.env("LAKEPORT_CLICKHOUSE_HTTPS_PORT", ports[3].to_string()).env("LAKEPORT_CLICKHOUSE_TLS_DIR", dir.join("certs"));
            c
        })
    }

    /// An S3 server serving HTTPS with `DIR/certs/server.pem` (see [`make_certs`]).
    pub fn s3_tls(dir: &Path) -> Self {
        Self::start(dir, 1, |dir, ports| {
            let mut c = Command::new(service("LAKEPORT_TEST_MOTO_SERVER"));
            c.args(["-H", "127.0.0.1", "-p", &ports[0].to_string()]).arg("-c").arg(dir.join("certs/server.pem")).arg("-k").arg(dir.join("certs/server.key"));
            c
        })
    }

    /// A TLS front (`tests/tls_proxy.py`) on `port` for the plaintext server on `target`,
    /// with `certs/server.pem` and asking clients for a certificate of `certs/ca.pem`.
    pub fn tls_proxy(dir: &Path, port: u16, target: u16) -> Self {
        let mut s = Self::with_ports(dir, vec![port], move |dir, _| {
            let certs = dir.join("certs");
            let mut c = Command::new(python());
            c.arg(root().join("tests/tls_proxy.py")).args([port.to_string(), target.to_string()]).arg(certs.join("server.pem")).arg(certs.join("server.key")).arg(certs.join("ca.pem"));
            c
        });
        s.up();
        s
    }

    /// A ZooKeeper of the test's own (scripts/zookeeper-instance.sh), serving sessions: its
    /// port accepts connections before that, and ClickHouse 18.16's DDL worker, failing its
    /// first session, crashes later.
    pub fn zookeeper(dir: &Path) -> Self {
        use std::io::{Read, Write};
        let zk = Self::start(dir, 1, |dir, ports| {
            let mut c = Command::new(service("LAKEPORT_TEST_ZOOKEEPER_LAUNCHER"));
            c.arg(dir).arg(ports[0].to_string());
            c
        });
        let serving = || {
            let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", zk.ports[0])) else { return false };
            let mut answer = String::new();
            s.write_all(b"srvr").is_ok() && s.read_to_string(&mut answer).is_ok() && answer.contains("Mode: standalone")
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while !serving() {
            assert!(Instant::now() < deadline, "ZooKeeper in {} not serving after 60 s", dir.display());
            std::thread::sleep(Duration::from_millis(200));
        }
        zk
    }

    /// `count` ClickHouse servers in `dir/r1`, `dir/r2`, …, the replicas of the one shard of
    /// a cluster named `lakeport`, replicating through `zookeeper`.
    pub fn cluster(dir: &Path, zookeeper: &PrivateServer, count: usize) -> Vec<Self> {
        let servers: Vec<Vec<u16>> = (0..count).map(|_| (0..3).map(|_| free_port()).collect()).collect();
        let tcp: Vec<String> = servers.iter().map(|p| p[1].to_string()).collect();
        let mut replicas: Vec<Self> = servers
            .into_iter()
            .enumerate()
            .map(|(i, ports)| {
                let (zookeeper, cluster) = (format!("127.0.0.1:{}", zookeeper.ports[0]), format!("lakeport:{}", tcp.join(",")));
                Self::with_ports(&dir.join(format!("r{}", i + 1)), ports, move |dir, ports| {
                    let mut c = Command::new(service("LAKEPORT_TEST_CLICKHOUSE_LAUNCHER"));
                    c.arg(dir).args(ports.iter().map(u16::to_string));
                    c.env("LAKEPORT_CLICKHOUSE_ZOOKEEPER", &zookeeper).env("LAKEPORT_CLICKHOUSE_REPLICA", format!("r{}", i + 1)).env("LAKEPORT_CLICKHOUSE_CLUSTER", &cluster);
                    c
                })
            })
            .collect();
        for r in &mut replicas {
            r.up();
        }
        replicas
    }

    /// Its ports (the first is the one it serves on).
    pub fn ports(&self) -> &[u16] {
        &self.ports
    }

    /// A tansu broker keeping topics and group offsets in a fresh bucket of the test S3
    /// server (`s3://` storage), so that they outlive a restart. The bucket is the
    /// directory's name.
    pub fn durable_broker(dir: &Path) -> Self {
        let bucket = dir.file_name().and_then(|n| n.to_str()).expect("directory name").to_lowercase().replace('_', "-");
        let script = "import boto3, sys\n\
            s3 = boto3.client('s3', endpoint_url=sys.argv[1], aws_access_key_id=sys.argv[2], aws_secret_access_key=sys.argv[3], region_name=sys.argv[4])\n\
            s3.create_bucket(Bucket=sys.argv[5])";
        ok({
            let mut c = Command::new(python());
            c.args(["-c", script]);
            c.args(["LAKEPORT_TEST_S3_ENDPOINT", "LAKEPORT_TEST_S3_ACCESS_KEY_ID", "LAKEPORT_TEST_S3_SECRET_ACCESS_KEY", "LAKEPORT_TEST_S3_REGION"].map(service)).arg(&bucket);
            c
        });
        Self::start(dir, 1, move |_, ports| {
            let listener = format!("tcp://127.0.0.1:{}", ports[0]);
            let mut c = Command::new(service("LAKEPORT_TEST_TANSU"));
            c.args(["broker", "--listener-url", &listener, "--advertised-listener-url", &listener, "--storage-engine", &format!("s3://{bucket}/")])
                .env("AWS_ENDPOINT", service("LAKEPORT_TEST_S3_ENDPOINT"))
                .env("AWS_ACCESS_KEY_ID", service("LAKEPORT_TEST_S3_ACCESS_KEY_ID"))
                .env("AWS_SECRET_ACCESS_KEY", service("LAKEPORT_TEST_S3_SECRET_ACCESS_KEY"))
                .env("AWS_DEFAULT_REGION", service("LAKEPORT_TEST_S3_REGION"))
                .env("AWS_ALLOW_HTTP", "true");
            c
        })
    }

    fn start(dir: &Path, ports: usize, command: impl Fn(&Path, &[u16]) -> Command + 'static) -> Self {
        let mut s = Self::with_ports(dir, (0..ports).map(|_| free_port()).collect(), command);
        s.up();
        s
    }

    /// A server not started yet, on `ports`, started by `command(dir, ports)`.
    fn with_ports(dir: &Path, ports: Vec<u16>, command: impl Fn(&Path, &[u16]) -> Command + 'static) -> Self {
        Self { dir: dir.to_path_buf(), ports, command: Box::new(command), child: None }
    }

    /// ClickHouse's HTTP URL.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.ports[0])
    }

    /// The broker's bootstrap address.
    pub fn brokers(&self) -> String {
        format!("127.0.0.1:{}", self.ports[0])
    }

    pub fn up(&mut self) {
        std::fs::create_dir_all(&self.dir).unwrap();
        let log = std::fs::File::create(self.dir.join(format!("{}.log", unique("server")))).unwrap();
        let mut command = (self.command)(&self.dir, &self.ports);
        let child = command.stdout(log.try_clone().unwrap()).stderr(log).spawn().unwrap();
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", self.ports[0])).is_err() {
            assert!(Instant::now() < deadline, "private server {command:?} did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().unwrap();
            c.wait().unwrap();
        }
    }
}

impl Drop for PrivateServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The port a run's log says it serves /metrics on (`metrics_listen` port 0 picks one).
pub fn metrics_port(log: &str) -> Option<u16> {
    let rest = log.split("serving /metrics and /health addr=127.0.0.1:").nth(1)?;
    rest.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()
}

/// Fresh test certificates in `dir` (`tests/make_certs.py`): ca.pem, server.pem/.key for
/// 127.0.0.1, client.pem/.key, other-ca.pem.
pub fn make_certs(dir: &Path) {
    ok({
        let mut c = Command::new(python());
        c.arg(root().join("tests/make_certs.py")).arg(dir);
        c
    });
}

/// A GET to a loopback port: the whole answer, empty when nothing listens.
pub fn http_get(port: u16, path: &str) -> String {
    http_request(port, "GET", path)
}

/// A plain HTTP/1.0 request without a body to a loopback port: the whole answer, empty
/// when nothing listens.
pub fn http_request(port: u16, method: &str, path: &str) -> String {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else { return String::new() };
    let _ = write!(s, "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n");
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

/// Runs a command to its end, for at most [`RUN_DEADLINE`] (then it is killed and the test
/// fails with its output); returns its exit code, its output (stdout then stderr) and how
/// long it took.
pub fn run_to_end(mut c: Command) -> (Option<i32>, String, Duration) {
    use std::io::Read as _;
    let started = Instant::now();
    let mut child = c.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().expect("run command");
    let mut pipes = [child.stdout.take().map(|p| Box::new(p) as Box<dyn std::io::Read + Send>), child.stderr.take().map(|p| Box::new(p) as Box<dyn std::io::Read + Send>)];
    let readers: Vec<_> = pipes
        .iter_mut()
        .map(|p| {
            let mut p = p.take().expect("piped");
            std::thread::spawn(move || {
                let mut out = Vec::new();
                let _ = p.read_to_end(&mut out);
                out
            })
        })
        .collect();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break Some(status);
        }
        if started.elapsed() > RUN_DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let text: String = readers.into_iter().map(|r| String::from_utf8_lossy(&r.join().unwrap_or_default()).into_owned()).collect();
    let Some(status) = status else { panic!("{c:?} still running after {RUN_DEADLINE:?}; killed. Its output:\n{text}") };
    (status.code(), text, started.elapsed())
}

/// A command running in the background, its standard error in a log file.
pub struct Background {
    child: Child,
    log: PathBuf,
}

impl Background {
    pub fn spawn(mut c: Command, log: &Path) -> Self {
        let child = c.stdout(std::process::Stdio::null()).stderr(std::fs::File::create(log).expect("log file")).spawn().expect("spawn");
        Self { child, log: log.to_path_buf() }
    }

    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// What it logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until `database.table` holds rows (at most 120 s).
    pub fn wait_for_rows(&self, database: &str, table: &str) {
        self.wait_until("a row written", || rows(database, table) > 0);
    }

    /// Waits until `done` holds (at most 120 s; then the test fails with `what` and the log).
    pub fn wait_until(&self, what: &str, mut done: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(120);
        while !done() {
            assert!(Instant::now() < deadline, "not after 120 s: {what}. Log:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits for its end, for at most [`RUN_DEADLINE`] (then it is killed and the test fails
    /// with its log); its exit code and log.
    pub fn wait(mut self) -> (Option<i32>, String) {
        let deadline = Instant::now() + RUN_DEADLINE;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return (status.code(), self.log());
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("still running after {RUN_DEADLINE:?}; killed. Its log:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Background {
    /// A test that failed while it ran leaves no process behind.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Rows of `database.table` on the test ClickHouse.
pub fn rows(database: &str, table: &str) -> usize {
    clickhouse(&format!("SELECT count() FROM `{database}`.`{table}` FORMAT TabSeparated")).trim().parse().expect("a count")
}

/// The longest a command of [`run_to_end`] may take.
pub const RUN_DEADLINE: Duration = Duration::from_secs(240);

/// A shipped pipeline file rewritten for a test: absolute schema path, then each
/// `(from, to)` replacement, which must apply.
pub fn pipeline_file(dir: &Path, dataset: &str, replace: &[(&str, &str)]) -> PathBuf {
    let mut text = std::fs::read_to_string(root().join(format!("pipelines/{dataset}.toml"))).unwrap().replace("../schemas/", &format!("{}/schemas/", root().display()));
    for (from, to) in replace {
        assert!(text.contains(from), "pipelines/{dataset}.toml has no `{from}`");
        text = text.replace(from, to);
    }
    let path = dir.join(format!("{}.toml", unique(dataset)));
    std::fs::write(&path, text).unwrap();
    path
}

/// Rows and unique source coordinates of every Parquet file of the lake at `dir`, read by
/// DuckDB (an independent reader).
pub fn lake_counts(dir: &Path) -> (u64, u64) {
    let script = "import duckdb, sys\n\
        r = duckdb.sql(f\"SELECT count(*), count(DISTINCT (_topic, _partition, _offset, _line)) FROM read_parquet('{sys.argv[1]}/**/*.parquet', hive_partitioning = true)\").fetchall()[0]\n\
        print(r[0], r[1])";
    let out = ok({
        let mut c = Command::new(python());
        c.args(["-c", script]).arg(dir);
        c
    });
    let text = String::from_utf8_lossy(&out.stdout);
    let last = text.lines().last().unwrap_or_default();
    let counts: Vec<u64> = last.split_whitespace().filter_map(|n| n.parse().ok()).collect();
    match counts[..] {
        [rows, unique] => (rows, unique),
        _ => panic!("duckdb said {text:?} (stderr {:?})", String::from_utf8_lossy(&out.stderr)),
    }
}
