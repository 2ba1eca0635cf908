//! A ClickHouse cluster of two 18.16 replicas and a ZooKeeper of the test's own:
//! `lakeport migrate` with `[clickhouse] cluster` creates the tables on both replicas
//! (`ON CLUSTER`, `ReplicatedMergeTree`, a `Distributed` table over them), and runs of one
//! consumer group writing through either replica — the ledger replicated, inserts waiting
//! for a majority — put every record once on both, and once in the lake; the rollup,
//! replicated too, counts each once on both.

mod common;

use common::*;

#[test]
fn runs_through_either_replica_write_each_record_once_on_both() {
    let env = PipelineEnv::new("cluster");
    let dir = tempfile::Builder::new().prefix("cluster").disable_cleanup(std::env::var_os("LAKEPORT_KEEP_TEST_DIRS").is_some()).tempdir().unwrap();
    let zookeeper = PrivateServer::zookeeper(&dir.path().join("zookeeper"));
    let replicas = PrivateServer::cluster(dir.path(), &zookeeper, 2);
    let pipeline = pipeline_file(dir.path(), "gateway_dns", &[("table = \"gateway_dns\"\n", "table = \"gateway_dns\"\ncluster = \"lakeport\"\n")]);
    let brokers = service("LAKEPORT_TEST_KAFKA_BROKERS");
    let through = |replica: &PrivateServer, args: &[&str]| {
        let mut c = env.lakeport("gateway_dns");
        c.env("LAKEPORT_CLICKHOUSE_URL", replica.url()).args(args).arg(&pipeline);
        if args == ["run"] {
            c.args(["--until-caught-up", "--no-progress"]);
        }
        let (code, text, _) = run_to_end(c);
        assert_eq!(code, Some(0), "{args:?} through {}:\n{text}", replica.url());
        text
    };
    let migrated = through(&replicas[0], &["migrate"]);
    assert!(migrated.contains("ON CLUSTER `lakeport`") && migrated.contains("ReplicatedMergeTree") && migrated.contains("ENGINE = Distributed"), "{migrated}");
    let tables = |r: &PrivateServer| clickhouse_at(&r.url(), &format!("SELECT groupArray(name) FROM (SELECT name FROM system.tables WHERE database = '{}' ORDER BY name) FORMAT TabSeparated", env.database)).unwrap();
    for r in &replicas {
        let names = tables(r);
        assert!(names.trim().starts_with("['gateway_dns','gateway_dns_all','gateway_dns_minute','gateway_dns_minute_mv_"), "tables, the rollup and its view on {}: {names}", r.url());
    }
    assert!(through(&replicas[1], &["migrate"]).contains("up to date"), "a second migrate, through the other replica, changes nothing");

    produce(&brokers, &env.topic, "gateway_dns", 1500, 51, 2, &[]);
    through(&replicas[0], &["run"]);
    produce(&brokers, &env.topic, "gateway_dns", 700, 52, 2, &[]);
    through(&replicas[1], &["run"]);
    // The ledger, replicated, let the second run continue where the first stopped.
    for r in &replicas {
        assert_eq!(count_rows_at(&r.url(), &env.database, "gateway_dns"), "2200\t2200", "local table on {}", r.url());
        assert_eq!(count_rows_at(&r.url(), &env.database, "gateway_dns_all"), "2200\t2200", "Distributed table on {}", r.url());
        let done = clickhouse_at(&r.url(), &format!("SELECT sum(rows) FROM `{}`.`_lakeport_ledger` WHERE state = 2 FORMAT TabSeparated", env.database)).unwrap();
        assert_eq!(done.trim(), "2200", "ledger on {}", r.url());
        // The rollup, replicated, holds what the view on the inserting replica counted.
        let categories = |table: &str, count: &str| clickhouse_at(&r.url(), &format!("SELECT {count} FROM `{}`.{table} FORMAT TabSeparated", env.database)).unwrap();
        assert_eq!(categories("gateway_dns_minute", "countMerge(queries)"), categories("gateway_dns ARRAY JOIN query_category_names", "count()"), "rollup on {}", r.url());
    }
    assert_eq!(lake_counts(&env.lake), (2200, 2200));
}
