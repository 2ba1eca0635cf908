//! The operations artefacts in `deploy/` against a real run: the Kubernetes manifests and
//! the Prometheus rules parse, the ConfigMap's pipeline file is a valid pipeline, and every
//! metric the alert rules and the Grafana dashboard query is one a continuous run serves.

mod common;

use std::collections::BTreeSet;
use std::process::Command;

use common::*;

/// The `lakeport_*` metric families an expression file names (`_total`, `_bucket`, `_sum`
/// and `_count` are the series Prometheus derives from a family).
fn families_named(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (i, _) in text.match_indices("lakeport_") {
        let name: String = text[i..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
        let family = ["_total", "_bucket", "_sum", "_count"].iter().find_map(|s| name.strip_suffix(s)).unwrap_or(&name);
        out.insert(family.to_string());
    }
    out
}

#[test]
fn alerts_and_dashboard_query_metrics_a_run_serves() {
    let deploy = root().join("deploy");
    // Parse every YAML document and the dashboard JSON with independent parsers.
    let script = "import json, sys, yaml\n\
        docs = [d for d in yaml.safe_load_all(open(sys.argv[1]))]\n\
        assert [d['kind'] for d in docs] == ['ConfigMap', 'Secret', 'Deployment', 'CronJob'], docs\n\
        rules = yaml.safe_load(open(sys.argv[2]))['groups'][0]['rules']\n\
        assert all(r['alert'] and r['expr'] and r['annotations']['summary'] for r in rules)\n\
        panels = json.load(open(sys.argv[3]))['panels']\n\
        assert all(t['expr'] for p in panels for t in p['targets'])\n\
        print(docs[0]['data']['gateway_dns.toml'])";
    let out = ok({
        let mut c = Command::new(python());
        c.args(["-c", script]).arg(deploy.join("kubernetes/lakeport.yaml")).arg(deploy.join("prometheus/alerts.yml")).arg(deploy.join("grafana/lakeport.json"));
        c
    });
    let configmap_pipeline = String::from_utf8_lossy(&out.stdout).replace("/etc/lakeport/schemas/", &format!("{}/schemas/", root().display()));
    let lookup = |name: &str| Some(format!("{name}-value"));
    if let Err(e) = ingest::Pipeline::parse(&configmap_pipeline, &root().join("deploy/kubernetes/gateway_dns.toml"), &lookup) {
        panic!("the ConfigMap's pipeline: {e:#}");
    }

    let env = PipelineEnv::new("ops");
    let dir = tempfile::tempdir().unwrap();
    ok({
        let mut c = lakeport();
        c.args(["gen", "--dataset", "gateway_dns", "--count", "200", "--seed", "29", "--bad-ratio", "0.1"]);
        c.args(["--kafka", &service("LAKEPORT_TEST_KAFKA_BROKERS"), "--topic", &env.topic]);
        c
    });
    let pipeline = pipeline_file(dir.path(), "gateway_dns", &[]);
    env.migrate("gateway_dns", &pipeline);
    let mut c = env.lakeport("gateway_dns");
    c.env("RUST_LOG", "warn,ingest::metrics=info").arg("run").arg(&pipeline).arg("--no-progress");
    let running = Background::spawn(c, &dir.path().join("run.log"));
    running.wait_until("every record written", || rows(&env.database, "gateway_dns") + dead_letter_lines(&env.dead_letters).len() >= 200);
    let port = metrics_port(&running.log()).expect("metrics address logged");
    // Lag comes from librdkafka's statistics (every 5 s) in a continuous run.
    running.wait_until("consumer lag and a commit reported", || {
        let m = http_get(port, "/metrics");
        m.contains("lakeport_consumer_lag{") && m.contains("lakeport_committed_offset{")
    });
    let metrics = http_get(port, "/metrics");
    unsafe { libc::kill(running.id() as i32, libc::SIGTERM) };
    let (code, log) = running.wait();
    assert_eq!(code, Some(0), "{log}");
    let served: BTreeSet<String> = metrics.lines().filter_map(|l| l.strip_prefix("# TYPE ")).filter_map(|l| l.split_whitespace().next()).map(str::to_string).collect();
    assert!(metrics.contains("lakeport_consumer_lag{") && metrics.contains("partition=\"0\""), "{metrics}");
    for file in ["prometheus/alerts.yml", "grafana/lakeport.json"] {
        let named = families_named(&std::fs::read_to_string(deploy.join(file)).unwrap());
        assert!(named.len() >= 5, "{file} names {named:?}");
        let missing: Vec<_> = named.difference(&served).collect();
        assert!(missing.is_empty(), "{file} queries {missing:?}, which a run does not serve; it serves {served:?}");
    }
}
