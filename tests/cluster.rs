//! A ClickHouse cluster of two 18.16 replicas and a ZooKeeper of the test's own:
//! `lakeport migrate` with `[clickhouse] cluster` creates the tables on both replicas
//! (`ON CLUSTER`, `ReplicatedMergeTree`, a `Distributed` table over them), and runs of one
//! consumer group writing through either replica — the ledger replicated, inserts waiting
//! for a majority — put every record once on both, and once in the lake; the rollup,
//! replicated too, counts each once on both. A replica killed mid-run — the other one, then
//! the one written through — stalls the run until it is back, and nothing is lost or doubled.

mod common;

use std::sync::Arc;

use arrow::array::{ArrayRef, Int32Array, Int64Array, RecordBatch, StringArray, UInt32Array, UInt64Array};
use common::*;
use sink::clickhouse::{with_quorum, ClickHouseConfig, ClickHouseWriter};

#[test]
fn runs_through_either_replica_write_each_record_once_on_both() {
    let env = PipelineEnv::new("cluster");
    let dir = tempfile::Builder::new().prefix("cluster").disable_cleanup(std::env::var_os("LAKEPORT_KEEP_TEST_DIRS").is_some()).tempdir().unwrap();
    let zookeeper = PrivateServer::zookeeper(&dir.path().join("zookeeper"));
    let mut replicas = PrivateServer::cluster(dir.path(), &zookeeper, 2);
    // Small batches, several in flight: a replica killed mid-run cuts inserts in every state.
    let pipeline = pipeline_file(dir.path(), "gateway_dns", &[("table = \"gateway_dns\"\n", "table = \"gateway_dns\"\ncluster = \"lakeport\"\n"), ("max_messages = 200000", "max_messages = 100")]);
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
    a_batch_deleted_after_its_insert_lands_again(&replicas[0], &env.database);
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

    // Replica `killed` (SIGKILL) once the run has written more than `before` rows, started
    // again 2 s later; the run, through replica 0, waits for it and ends with success.
    let mut total = 2200;
    for (killed, seed) in [(1, 53), (0, 54)] {
        produce(&brokers, &env.topic, "gateway_dns", 2000, seed, 2, &[]);
        let mut c = env.lakeport("gateway_dns");
        c.env("LAKEPORT_CLICKHOUSE_URL", replicas[0].url()).args(["run", "--until-caught-up", "--no-progress"]).arg(&pipeline);
        let run = Background::spawn(c, &dir.path().join(format!("run-kill-r{killed}.log")));
        let before = total;
        run.wait_until("rows of the new records on replica 0", || count_rows_at(&replicas[0].url(), &env.database, "gateway_dns").split('\t').next().and_then(|n| n.parse::<usize>().ok()).is_some_and(|n| n > before));
        replicas[killed].kill();
        std::thread::sleep(std::time::Duration::from_secs(2));
        replicas[killed].up();
        let (code, log) = run.wait();
        assert_eq!(code, Some(0), "the run with replica {killed} killed:\n{log}");
        total += 2000;
        for r in &replicas {
            assert_eq!(count_rows_at(&r.url(), &env.database, "gateway_dns"), format!("{total}\t{total}"), "after replica {killed} was killed: local table on {}\n{log}", r.url());
        }
        assert_eq!(lake_counts(&env.lake), (total as u64, total as u64), "lake after replica {killed} was killed");
    }
}

/// What an interrupted insert of a batch leaves, repaired by the next attempt, which knows
/// only that the batch may be there (the ledger's intent): part of it (one partition's part
/// of two); then — deleted since — none of it, which a replicated table would still drop as a
/// repeat of blocks it remembers; then part of it with a delete of it pending (ClickHouse
/// 18.16 lost the batch in the last two).
fn a_batch_deleted_after_its_insert_lands_again(replica: &PrivateServer, database: &str) {
    let table = "reinserted";
    let create = format!("CREATE TABLE `{database}`.{table} ON CLUSTER lakeport (_topic String, _partition Int32, _offset Int64, _line UInt32, n UInt64) ENGINE = ReplicatedMergeTree('/clickhouse/tables/{{shard}}/{database}/{table}', '{{replica}}') PARTITION BY n % 2 ORDER BY (_topic, _partition, _offset)");
    clickhouse_at(&replica.url(), &create).unwrap();
    let batch = |offsets: Vec<i64>| {
        let rows = offsets.len();
        RecordBatch::try_from_iter([
            ("_topic", Arc::new(StringArray::from(vec!["t"; rows])) as ArrayRef),
            ("_partition", Arc::new(Int32Array::from(vec![0; rows])) as ArrayRef),
            ("_line", Arc::new(UInt32Array::from(vec![0; rows])) as ArrayRef),
            ("n", Arc::new(UInt64Array::from(offsets.iter().map(|&o| o as u64).collect::<Vec<u64>>())) as ArrayRef),
            ("_offset", Arc::new(Int64Array::from(offsets)) as ArrayRef),
        ])
        .unwrap()
    };
    let (whole, even) = (batch((0..10).collect()), batch((0..10).step_by(2).collect()));
    let id = sink::BatchId { topic: "t".into(), partition: 0, first_offset: 0, last_offset: 9 };
    let mut config = ClickHouseConfig::new(replica.url(), table);
    config.database = database.to_string();
    config.cluster = Some("lakeport".into());
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let writer = ClickHouseWriter::open(with_quorum(config.validate().unwrap()).await.unwrap()).await.unwrap();
        // The part of partition 0 landed, not that of partition 1.
        writer.insert_once(&even, &id, false).await.unwrap();
        writer.insert_once(&whole, &id, true).await.unwrap();
        assert_eq!(writer.rows_of(&id).await.unwrap(), 10, "completed");
        // Deleted as lakeport's repair of a partial batch deletes (its marker names the batch
        // in system.mutations), then a crash before the insert after it.
        writer.client().query(&format!("ALTER TABLE `{database}`.{table} DELETE WHERE _offset <= 9 AND 'lakeport-delete {}' != ''", id.token())).await.unwrap();
        // 18.16 mutates the last part a quorum insert added to a partition after the next one.
        let next = sink::BatchId { topic: "t".into(), partition: 0, first_offset: 10, last_offset: 11 };
        writer.insert_once(&batch(vec![10, 11]), &next, false).await.unwrap();
        let pending = format!("SELECT count() FROM system.mutations WHERE database = '{database}' AND table = '{table}' AND is_done = 0 FORMAT TabSeparated");
        settled(&writer, &pending).await;
        assert_eq!(writer.rows_of(&id).await.unwrap(), 0, "deleted");
        writer.insert_once(&whole, &id, true).await.unwrap();
        assert_eq!(writer.rows_of(&id).await.unwrap(), 10, "inserted again");

        // Partial, and the delete of it not done yet (held back on the last quorum parts):
        // the rows counted are about to go; the batch is inserted after the delete.
        let later = sink::BatchId { topic: "t".into(), partition: 0, first_offset: 20, last_offset: 29 };
        writer.insert_once(&batch((20..30).step_by(2).collect()), &later, false).await.unwrap();
        writer.client().query(&format!("ALTER TABLE `{database}`.{table} DELETE WHERE _offset BETWEEN 20 AND 29 AND 'lakeport-delete {}' != ''", later.token())).await.unwrap();
        writer.insert_once(&batch((20..30).collect()), &later, true).await.unwrap();
        settled(&writer, &pending).await;
        assert_eq!(writer.rows_of(&later).await.unwrap(), 10, "inserted after the delete, which is done");
    });
}

/// Waits until the count `pending` of unfinished mutations is 0, for at most 60 s.
async fn settled(writer: &ClickHouseWriter, pending: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while writer.client().query(pending).await.unwrap().trim() != "0" {
        assert!(std::time::Instant::now() < deadline, "a delete still not done after 60 s: {pending}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}
