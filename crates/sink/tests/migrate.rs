//! `migrate` against the real ClickHouse server: create, evolve additively, refuse
//! destructive changes unless allowed, and change nothing the second time.

use sink::clickhouse::{apply_migration, plan_migration, Client, ClickHouseConfig};
use sink::Error;
use transform::Schema;

fn client() -> Client {
    let url = std::env::var("LAKEPORT_TEST_CLICKHOUSE_URL").expect("LAKEPORT_TEST_CLICKHOUSE_URL is not set: run scripts/test.sh, or scripts/services.sh start && source .lakeport/services/env");
    Client::new(&ClickHouseConfig::new(url, "unused").validate().unwrap()).unwrap()
}

fn schema(fields: &str) -> Schema {
    let text = format!("name = \"m\"\nversion = 1\n[[field]]\nname = \"ts\"\ntype = \"timestamp\"\nrequired = true\n{fields}\n[clickhouse]\norder_by = [\"ts\"]");
    Schema::from_toml_str(&text, "m.toml").unwrap()
}

#[tokio::test]
async fn create_evolve_refuse_and_idempotence() {
    let client = client();
    let db = format!("migrate_{}_{}", std::process::id(), std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos());
    let v1 = schema("[[field]]\nname = \"host\"\ntype = \"string\"");

    let plan = plan_migration(&client, &v1, &db, "t", None, false).await.unwrap();
    assert_eq!(plan.statements.len(), 2, "create database, create table: {plan:?}");
    assert!(plan.statements[1].starts_with(&format!("CREATE TABLE IF NOT EXISTS `{db}`.`t`")));
    apply_migration(&client, &plan).await.unwrap();
    assert!(plan_migration(&client, &v1, &db, "t", None, false).await.unwrap().statements.is_empty(), "second run changes nothing");

    // A new field: one ADD COLUMN after its predecessor; then nothing again.
    let v2 = schema("[[field]]\nname = \"host\"\ntype = \"string\"\n[[field]]\nname = \"port\"\ntype = \"uint16\"");
    let plan = plan_migration(&client, &v2, &db, "t", None, false).await.unwrap();
    assert_eq!(plan.statements, [format!("ALTER TABLE `{db}`.`t` ADD COLUMN `port` Nullable(UInt16) COMMENT '' AFTER `host`")]);
    apply_migration(&client, &plan).await.unwrap();
    assert!(plan_migration(&client, &v2, &db, "t", None, false).await.unwrap().statements.is_empty());
    let columns: Vec<String> = client.table_columns(&db, "t").await.unwrap().into_iter().map(|c| c.name).collect();
    assert_eq!(&columns[..3], ["ts", "host", "port"]);

    // A type change and a removed column are refused, naming the column, unless allowed.
    let retyped = schema("[[field]]\nname = \"host\"\ntype = \"string\"\n[[field]]\nname = \"port\"\ntype = \"uint32\"");
    match plan_migration(&client, &retyped, &db, "t", None, false).await {
        Err(Error::MigrationRefused { subject, problem, .. }) => {
            assert_eq!(subject, "column `port`");
            assert!(problem.contains("Nullable(UInt16)") && problem.contains("Nullable(UInt32)"), "{problem}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    let allowed = plan_migration(&client, &retyped, &db, "t", None, true).await.unwrap();
    assert_eq!(allowed.statements, [format!("ALTER TABLE `{db}`.`t` MODIFY COLUMN `port` Nullable(UInt32) COMMENT ''")]);
    match plan_migration(&client, &v1, &db, "t", None, false).await {
        Err(e @ Error::MigrationRefused { .. }) => assert!(e.to_string().contains("`port`") && e.to_string().contains("--allow-destructive"), "{e}"),
        other => panic!("expected a refusal, got {other:?}"),
    }
    client.query(&format!("DROP DATABASE `{db}`")).await.unwrap();
}

/// A rollup: created with its view, counted as rows are inserted, left alone the second
/// time; a changed definition is refused unless allowed, then rebuilt and refilled.
#[tokio::test]
async fn rollups_are_created_refused_when_changed_and_refilled() {
    let client = client();
    let db = format!("rollup_{}_{}", std::process::id(), std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos());
    let with_rollup = |measure: &str| {
        let schema = |fields: &str| Schema::from_toml_str(&format!("name = \"m\"\nversion = 1\n[[field]]\nname = \"ts\"\ntype = \"timestamp\"\nrequired = true\n{fields}\n[clickhouse]\norder_by = [\"ts\"]\npartition_by = \"ts\""), "m.toml").unwrap();
        schema(&format!(
            "[[field]]\nname = \"host\"\ntype = \"string\"\n[[field]]\nname = \"port\"\ntype = \"uint16\"\n\
             [[clickhouse.rollup]]\nname = \"per_hour\"\ntime = \"ts\"\ninterval = \"hour\"\ndimensions = [\"host\"]\nmeasures = [{{ name = \"hits\", fn = \"count\" }}, {measure}]"
        ))
    };
    let v1 = with_rollup("{ name = \"ports\", fn = \"uniq_exact\", column = \"port\" }");
    let plan = plan_migration(&client, &v1, &db, "t", None, false).await.unwrap();
    assert_eq!(plan.statements.len(), 4, "database, table, rollup table, view: {plan:?}");
    assert!(plan.notes.iter().any(|n| n.contains("rollup per_hour is new") && n.contains("--backfill-rollups")), "{plan:?}");
    apply_migration(&client, &plan).await.unwrap();
    assert!(plan_migration(&client, &v1, &db, "t", None, false).await.unwrap().statements.is_empty(), "second run changes nothing");

    client.query(&format!("INSERT INTO `{db}`.t (ts, host, port) VALUES ('2026-11-23 10:05:00', 'a', 1), ('2026-11-23 10:59:59', 'a', 2), ('2026-11-23 10:30:00', NULL, 2), ('2026-11-23 11:00:00', 'a', 2)")).await.unwrap();
    let rolled = |db: String| {
        let client = client.clone();
        async move { client.query(&format!("SELECT hour, host, countMerge(hits), uniqExactMerge(ports) FROM `{db}`.per_hour GROUP BY hour, host ORDER BY hour, host FORMAT TabSeparated")).await.unwrap() }
    };
    assert_eq!(rolled(db.clone()).await, "2026-11-23 10:00:00\t\t1\t1\n2026-11-23 10:00:00\ta\t2\t2\n2026-11-23 11:00:00\ta\t1\t1\n", "a null host groups as ''");

    let v2 = with_rollup("{ name = \"ports\", fn = \"uniq_exact\", column = \"host\" }, { name = \"port_sum\", fn = \"sum\", column = \"port\" }");
    match plan_migration(&client, &v2, &db, "t", None, false).await {
        Err(e @ Error::MigrationRefused { .. }) => assert!(e.to_string().contains("rollup `per_hour`") && e.to_string().contains("--allow-destructive"), "{e}"),
        other => panic!("expected a refusal, got {other:?}"),
    }
    let rebuild = plan_migration(&client, &v2, &db, "t", None, true).await.unwrap();
    assert!(rebuild.statements[0].starts_with(&format!("DROP TABLE IF EXISTS `{db}`.`per_hour_mv_")) && rebuild.statements.len() == 4, "{rebuild:?}");
    apply_migration(&client, &rebuild).await.unwrap();
    assert_eq!(rolled(db.clone()).await, "", "a rebuilt rollup is empty until refilled");
    let schema = v2;
    let rollup = sink::clickhouse::RollupTable::new(&schema, &schema.clickhouse.rollups[0], &db, "t");
    let days = rollup.days(&client, None, None).await.unwrap();
    assert_eq!(days, ["2026-11-23"]);
    for _ in 0..2 {
        assert_eq!(rollup.refill_day(&client, &days[0]).await.unwrap(), 3, "three buckets, again on a rerun");
    }
    assert_eq!(rolled(db.clone()).await, "2026-11-23 10:00:00\t\t1\t1\n2026-11-23 10:00:00\ta\t2\t1\n2026-11-23 11:00:00\ta\t1\t1\n");
    assert_eq!(rollup.differing_days(&client, None).await.unwrap(), [], "the refilled rollup agrees with its table");
    // A key whose sum is of nulls only (NULL) still counts in the comparison.
    client.query(&format!("INSERT INTO `{db}`.t (ts, host, port) VALUES ('2026-11-23 12:00:00', 'b', NULL)")).await.unwrap();
    assert_eq!(rollup.differing_days(&client, None).await.unwrap(), [], "the view counted the new row");
    client.query(&format!("INSERT INTO `{db}`.per_hour SELECT * FROM `{db}`.per_hour WHERE host = 'b'")).await.unwrap();
    assert_eq!(rollup.differing_days(&client, None).await.unwrap(), [("2026-11-23".to_string(), 4, 4)], "a key counted twice on that day");
    client.query(&format!("DROP DATABASE `{db}`")).await.unwrap();
}
