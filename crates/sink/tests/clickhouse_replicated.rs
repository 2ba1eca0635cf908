//! A replicated table: two ClickHouse 18.16 replicas and a ZooKeeper of the test's own.
//! An insert cut short (the blocks of some of a batch's dates stored, others not) is
//! completed exactly once on both replicas, although their shared deduplication log
//! remembers every block that was inserted and then deleted.

mod clickhouse_support;

use clickhouse_support::*;
use sink::clickhouse::{create_table, table_columns, ClickHouseWriter, Client, Dialect};
use synth::Dataset;

#[tokio::test]
async fn a_batch_cut_short_on_a_replicated_table_is_completed_once_on_both_replicas() {
    let dir = tempfile::tempdir().unwrap();
    let zookeeper = ZooKeeper::start(&dir.path().join("zookeeper"));
    let replicas = [Private::replica(&dir.path().join("r1"), &zookeeper.address(), "r1"), Private::replica(&dir.path().join("r2"), &zookeeper.address(), "r2")];
    let clients: Vec<Client> = replicas.iter().map(|r| Client::new(&config(&r.url(), "default", "unused")).unwrap()).collect();
    let (schema, batch) = decoded(Dataset::GatewayDns, 2000, 3);
    let table = &schema.name;
    let ddl = create_table(&schema, "default", table, Dialect::Legacy);
    assert!(ddl.contains("ENGINE = MergeTree\n"), "{ddl}");
    let mut ddl = ddl.replace("ENGINE = MergeTree\n", &format!("ENGINE = ReplicatedMergeTree('/clickhouse/tables/{table}', '{{replica}}')\n"));
    // 18.16 refuses a second replica of a table with column comments ("Table structure in
    // ZooKeeper is too different from local table structure").
    for column in table_columns(&schema, Dialect::Legacy) {
        ddl = ddl.replace(&column.definition(), &format!("`{}` {}", column.name, column.type_name));
    }
    for c in &clients {
        c.query(&ddl).await.unwrap();
    }
    let count = |c: &Client| {
        let sql = format!("SELECT count(), uniqExact(_topic, _partition, _offset, _line) FROM default.{table} FORMAT TabSeparated");
        let c = c.clone();
        async move { c.query(&sql).await.unwrap().trim().to_string() }
    };
    // One insert of the batch: a block per date, each remembered by the replicas' log.
    let writer = ClickHouseWriter::new(config(&replicas[0].url(), "default", table)).unwrap();
    let id = batch_id(0, 1999);
    writer.insert(&batch, &id).await.unwrap();
    let dates = clients[0].query(&format!("SELECT DISTINCT date FROM default.{table} ORDER BY date FORMAT TabSeparated")).await.unwrap();
    let dates: Vec<&str> = dates.lines().collect();
    assert!(dates.len() >= 2, "the batch spans several dates: {dates:?}");
    // Cut short: the first date's block as if it never went in.
    clients[0].query(&format!("ALTER TABLE default.{table} DELETE WHERE date = '{}'", dates[0])).await.unwrap();
    // (A replicated table's mutation reaches `system.mutations` late: wait for the rows.)
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let mut partial = count(&clients[0]).await;
    while partial == "2000\t2000" {
        assert!(std::time::Instant::now() < deadline, "the delete did not finish");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        partial = count(&clients[0]).await;
    }
    assert_ne!(partial, "0\t0", "part of the batch is there");

    // As after a crash with the batch's intent recorded: the writer completes it.
    writer.insert_once(&batch, &id, true).await.unwrap();
    for (c, name) in clients.iter().zip(["r1", "r2"]) {
        c.query(&format!("SYSTEM SYNC REPLICA default.{table}")).await.unwrap();
        assert_eq!(count(c).await, "2000\t2000", "replica {name}: rows and unique coordinates");
    }
}
