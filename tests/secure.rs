//! TLS on every connection, with certificates made at test time: Kafka (a TLS front for the
//! broker, asking for a client certificate), ClickHouse over HTTPS (18.16 with a client
//! certificate required) and an S3 lake over HTTPS, each signed by a private CA. A pipeline
//! trusting that CA and presenting its client certificate writes every record; one
//! trusting another CA (or, to ClickHouse, presenting no client certificate) fails at once
//! (exit 3) and says which connection and which setting.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::*;

const RECORDS: usize = 600;

/// The servers of one test, all over TLS with the certificates in `certs`.
struct Secured {
    certs: PathBuf,
    _broker: PrivateServer,
    _proxy: PrivateServer,
    kafka: String,
    clickhouse: PrivateServer,
    s3: PrivateServer,
    bucket: String,
}

impl Secured {
    fn start(dir: &Path) -> Self {
        let certs = dir.join("certs");
        make_certs(&certs);
        let with_certs = |name: &str| {
            let d = dir.join(name).join("certs");
            std::fs::create_dir_all(&d).unwrap();
            for f in ["ca.pem", "server.pem", "server.key"] {
                std::fs::copy(certs.join(f), d.join(f)).unwrap();
            }
            dir.join(name)
        };
        let broker = PrivateServer::broker_behind_proxy(&dir.join("broker"));
        let proxy = PrivateServer::tls_proxy(&with_certs("proxy"), broker.ports()[1], broker.ports()[0]);
        let clickhouse = PrivateServer::clickhouse_tls(&with_certs("clickhouse"));
        let s3 = PrivateServer::s3_tls(&with_certs("s3"));
        let bucket = unique("tls").replace('_', "-");
        let s = Self { kafka: format!("127.0.0.1:{}", broker.ports()[1]), certs, _broker: broker, _proxy: proxy, clickhouse, s3, bucket };
        s.python(&format!("s3.create_bucket(Bucket='{}')", s.bucket));
        s
    }

    fn cert(&self, name: &str) -> String {
        self.certs.join(name).display().to_string()
    }

    /// librdkafka settings for the broker: trusting `ca`, with the client certificate or not.
    fn kafka_settings(&self, ca: &str, client: bool) -> Vec<String> {
        let mut s = vec!["security.protocol=ssl".to_string(), format!("ssl.ca.location={}", self.cert(ca))];
        if client {
            s.push(format!("ssl.certificate.location={}", self.cert("client.pem")));
            s.push(format!("ssl.key.location={}", self.cert("client.key")));
        }
        s
    }

    fn https(&self) -> String {
        format!("https://127.0.0.1:{}", self.clickhouse.ports()[3])
    }

    /// A gateway_dns pipeline file in `dir` for these servers: Kafka and ClickHouse trusting
    /// `kafka_ca` / `clickhouse_ca`, with the client certificate where asked, the lake's S3
    /// trusting `s3_ca`.
    fn pipeline(&self, dir: &Path, (kafka_ca, kafka_client): (&str, bool), (clickhouse_ca, clickhouse_client): (&str, bool), s3_ca: &str) -> PathBuf {
        let kafka: String = self.kafka_settings(kafka_ca, kafka_client).iter().map(|kv| kv.split_once('=').unwrap()).map(|(k, v)| format!("\"{k}\" = \"{v}\"\n")).collect();
        let mut clickhouse_tls = format!("[clickhouse.tls]\nca_file = \"{}\"\n", self.cert(clickhouse_ca));
        if clickhouse_client {
            clickhouse_tls += &format!("cert_file = \"{}\"\nkey_file = \"{}\"\n", self.cert("client.pem"), self.cert("client.key"));
        }
        let lake = format!("url = \"s3://{}/lake\"\nendpoint = \"https://127.0.0.1:{}\"\n[lake.tls]\nca_file = \"{}\"\n", self.bucket, self.s3.ports()[0], self.cert(s3_ca));
        pipeline_file(
            dir,
            "gateway_dns",
            &[
                ("\"session.timeout.ms\" = \"10000\"\n", &format!("\"session.timeout.ms\" = \"10000\"\n{kafka}")),
                ("url = \"${LAKEPORT_LAKE_URL:-.lakeport/lake}\"\n", &lake),
                ("# password_env = \"CLICKHOUSE_PASSWORD\"", &format!("{clickhouse_tls}# password_env = \"CLICKHOUSE_PASSWORD\"")),
            ],
        )
    }

    /// `lakeport ARGS PIPELINE` against these servers, to its end.
    fn lakeport(&self, env: &PipelineEnv, args: &[&str], pipeline: &Path) -> (Option<i32>, String, Duration) {
        let mut c = env.lakeport("gateway_dns");
        c.env("LAKEPORT_KAFKA_BROKERS", &self.kafka).env("LAKEPORT_CLICKHOUSE_URL", self.https());
        c.env("AWS_ACCESS_KEY_ID", service("LAKEPORT_TEST_S3_ACCESS_KEY_ID"))
            .env("AWS_SECRET_ACCESS_KEY", service("LAKEPORT_TEST_S3_SECRET_ACCESS_KEY"))
            .env("AWS_REGION", service("LAKEPORT_TEST_S3_REGION"))
            .env_remove("AWS_ENDPOINT")
            .env_remove("AWS_ALLOW_HTTP");
        c.args(args).arg(pipeline);
        if args == ["run"] {
            c.args(["--until-caught-up", "--no-progress"]);
        }
        run_to_end(c)
    }

    /// Runs `statement` in Python with `s3`, a boto3 client of the S3 server trusting the CA;
    /// returns what it printed.
    fn python(&self, statement: &str) -> String {
        let script = format!(
            "import boto3, io, os, sys\n\
             s3 = boto3.client('s3', endpoint_url='https://127.0.0.1:{}', verify='{}', aws_access_key_id='{}', aws_secret_access_key='{}', region_name='{}')\n{statement}\n\
             sys.stdout.flush()\n\
             os._exit(0)  # pyarrow's threads may abort the interpreter's teardown",
            self.s3.ports()[0],
            self.cert("ca.pem"),
            service("LAKEPORT_TEST_S3_ACCESS_KEY_ID"),
            service("LAKEPORT_TEST_S3_SECRET_ACCESS_KEY"),
            service("LAKEPORT_TEST_S3_REGION")
        );
        let out = ok({
            let mut c = Command::new(python());
            c.args(["-c", &script]);
            c
        });
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Rows in the lake's Parquet files, read back over HTTPS by pyarrow.
    fn lake_rows(&self) -> String {
        self.python(&format!(
            "import pyarrow.parquet as pq\n\
             keys = [o['Key'] for p in s3.get_paginator('list_objects_v2').paginate(Bucket='{0}', Prefix='lake/') for o in p.get('Contents', []) if o['Key'].endswith('.parquet')]\n\
             print(sum(pq.read_table(io.BytesIO(s3.get_object(Bucket='{0}', Key=k)['Body'].read())).num_rows for k in keys))",
            self.bucket
        ))
    }
}

#[test]
fn every_connection_over_tls_with_a_private_ca_and_client_certificates() {
    let env = PipelineEnv::new("tls");
    let dir = tempfile::tempdir().unwrap();
    let servers = Secured::start(dir.path());
    produce(&servers.kafka, &env.topic, "gateway_dns", RECORDS, 17, 2, &servers.kafka_settings("ca.pem", true));

    let good = servers.pipeline(dir.path(), ("ca.pem", true), ("ca.pem", true), "ca.pem");
    let (code, text, _) = servers.lakeport(&env, &["migrate"], &good);
    assert_eq!(code, Some(0), "{text}");
    let (code, text, _) = servers.lakeport(&env, &["run"], &good);
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(count_rows_at(&servers.clickhouse.url(), &env.database, "gateway_dns"), format!("{RECORDS}\t{RECORDS}"));
    assert_eq!(servers.lake_rows(), RECORDS.to_string(), "lake rows over https");

    // Each connection in turn trusting the wrong CA, or presenting no client certificate.
    // (A Kafka broker that wants a client certificate and gets none closes the connection
    // without a word librdkafka could tell from an outage: that run is retried, not refused.)
    let wrong = [
        ("ClickHouse, another CA", servers.pipeline(dir.path(), ("ca.pem", true), ("other-ca.pem", true), "ca.pem"), "clickhouse.tls"),
        ("ClickHouse, no client certificate", servers.pipeline(dir.path(), ("ca.pem", true), ("ca.pem", false), "ca.pem"), "clickhouse.tls"),
        ("Kafka, another CA", servers.pipeline(dir.path(), ("other-ca.pem", true), ("ca.pem", true), "ca.pem"), "ssl.ca.location"),
        ("S3, another CA", servers.pipeline(dir.path(), ("ca.pem", true), ("ca.pem", true), "other-ca.pem"), "lake.tls"),
    ];
    produce(&servers.kafka, &env.topic, "gateway_dns", 50, 18, 2, &servers.kafka_settings("ca.pem", true));
    for (what, pipeline, hint) in &wrong {
        let (code, text, took) = servers.lakeport(&env, &["run"], pipeline);
        assert_eq!(code, Some(3), "{what}: {text}");
        assert!(took < Duration::from_secs(60), "{what}: took {took:?}:\n{text}");
        assert!(text.contains(hint), "{what}: the error names `{hint}`:\n{text}");
    }
    // What the failed runs left unfinished, the next good run completes, once.
    let (code, text, _) = servers.lakeport(&env, &["run"], &good);
    assert_eq!(code, Some(0), "{text}");
    let total = RECORDS + 50;
    assert_eq!(count_rows_at(&servers.clickhouse.url(), &env.database, "gateway_dns"), format!("{total}\t{total}"));
    assert_eq!(servers.lake_rows(), total.to_string());
}

/// Known secret values — a ClickHouse password, a SASL password, S3 keys — given the way
/// the docs say (environment variables, a password file), in runs at debug log level that
/// fail (ClickHouse refuses the password; the broker refuses SASL) and one that writes
/// records and dead letters while serving /metrics: no secret appears in any log, error,
/// summary, dead letter, metrics page or `--help`.
#[test]
fn secrets_appear_in_no_output() {
    const CLICKHOUSE: &str = "ch-Secret-7f3a91";
    const SASL: &str = "sasl-Secret-52c0de";
    const S3_KEY_ID: &str = "AKIASECRET0KEY0ID42";
    const S3_SECRET: &str = "s3-Secret-e81b44";
    let env = PipelineEnv::new("secrets");
    let dir = tempfile::tempdir().unwrap();
    let password_file = dir.path().join("clickhouse-password");
    std::fs::write(&password_file, format!("{CLICKHOUSE}\n")).unwrap();
    let endpoint = service("LAKEPORT_TEST_S3_ENDPOINT");
    let port: u16 = endpoint.rsplit(':').next().unwrap().parse().unwrap();
    let bucket = unique("secrets").replace('_', "-");
    assert!(http_request(port, "PUT", &format!("/{bucket}")).starts_with("HTTP/1.1 200"), "create bucket {bucket}");
    ok({
        let mut c = lakeport();
        c.args(["gen", "--dataset", "gateway_dns", "--count", "300", "--seed", "23", "--bad-ratio", "0.1"]);
        c.args(["--kafka", &service("LAKEPORT_TEST_KAFKA_BROKERS"), "--topic", &env.topic]);
        c
    });
    let lake = format!("url = \"s3://{bucket}/lake\"\nendpoint = \"{endpoint}\"\n");
    let sasl = "\"security.protocol\" = \"sasl_plaintext\"\n\"sasl.mechanisms\" = \"PLAIN\"\n\"sasl.username\" = \"lakeport\"\n\"sasl.password\" = \"${KAFKA_PASSWORD}\"\n\"debug\" = \"security,conf\"\n";
    let file = |clickhouse: &str, kafka: &str| {
        pipeline_file(
            dir.path(),
            "gateway_dns",
            &[
                ("url = \"${LAKEPORT_LAKE_URL:-.lakeport/lake}\"\n", &lake),
                ("# password_env = \"CLICKHOUSE_PASSWORD\"", clickhouse),
                ("\"session.timeout.ms\" = \"10000\"\n", &format!("\"session.timeout.ms\" = \"10000\"\n{kafka}")),
            ],
        )
    };
    let lakeport_with_secrets = || {
        let mut c = env.lakeport("gateway_dns");
        c.env("RUST_LOG", "debug")
            .env("CLICKHOUSE_PASSWORD", CLICKHOUSE)
            .env("KAFKA_PASSWORD", SASL)
            .env("AWS_ACCESS_KEY_ID", S3_KEY_ID)
            .env("AWS_SECRET_ACCESS_KEY", S3_SECRET)
            .env("AWS_REGION", service("LAKEPORT_TEST_S3_REGION"))
            .env("AWS_ALLOW_HTTP", "true");
        c
    };
    let mut seen = Vec::new();
    let scheduled = |pipeline: &Path| {
        let mut c = lakeport_with_secrets();
        c.arg("run").arg(pipeline).args(["--until-caught-up", "--no-progress"]);
        run_to_end(c)
    };
    let plain = file("", "");
    env.migrate("gateway_dns", &plain);

    // ClickHouse refuses the password, from the environment and from a file.
    for clickhouse in ["password_env = \"CLICKHOUSE_PASSWORD\"".to_string(), format!("password_file = \"{}\"", password_file.display())] {
        let (code, text, _) = scheduled(&file(&clickhouse, ""));
        assert_eq!(code, Some(3), "{text}");
        assert!(text.contains("Wrong password") || text.contains("Authentication failed"), "{text}");
        seen.push(text);
    }
    // The broker refuses SASL (it has no users), with librdkafka's own debug output on.
    let (code, text, took) = scheduled(&file("", sasl));
    assert_eq!(code, Some(3), "{text}");
    assert!(text.contains("SASL") && took < Duration::from_secs(60), "{took:?}: {text}");
    seen.push(text);

    // A run that writes the lake (with the S3 keys) and dead letters, serving /metrics.
    let mut c = lakeport_with_secrets();
    c.arg("run").arg(&plain).arg("--no-progress");
    let running = Background::spawn(c, &dir.path().join("run.log"));
    running.wait_until("the metrics address logged", || metrics_port(&running.log()).is_some());
    let metrics_port = metrics_port(&running.log()).unwrap();
    assert_ne!(metrics_port, 0, "the bound port is logged, not the configured 0");
    running.wait_until("every record written", || rows(&env.database, "gateway_dns") + dead_letter_lines(&env.dead_letters).len() >= 300);
    let metrics = http_get(metrics_port, "/metrics");
    assert!(metrics.contains("lakeport_"), "{metrics}");
    seen.push(metrics);
    seen.push(http_get(metrics_port, "/health"));
    unsafe { libc::kill(running.id() as i32, libc::SIGTERM) };
    let (code, text) = running.wait();
    assert_eq!(code, Some(0), "{text}");
    seen.push(text);
    let letters = dead_letter_lines(&env.dead_letters);
    assert!(!letters.is_empty(), "bad records were dead-lettered");
    seen.push(serde_json::to_string(&letters).unwrap());
    for args in [&["--help"][..], &["run", "--help"], &["migrate", "--help"]] {
        let mut c = lakeport_with_secrets();
        c.args(args);
        seen.push(String::from_utf8_lossy(&ok(c).stdout).into_owned());
    }

    for (i, text) in seen.iter().enumerate() {
        for secret in [CLICKHOUSE, SASL, S3_KEY_ID, S3_SECRET] {
            assert!(!text.contains(secret), "output {i} shows the secret {secret}:\n{text}");
        }
    }
}
