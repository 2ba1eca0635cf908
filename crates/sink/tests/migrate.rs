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
