//! A table on every replica of a cluster (`[clickhouse] cluster`): the statements that
//! create it there, and the settings under which every insert waits for a majority of the
//! replicas and every read sees each such insert, on whichever replica it runs.

use super::config::ValidatedConfig;
use super::ddl::{quote_ident, quote_str};
use super::service::Client;
use crate::Error;

/// The `Distributed` table over `table` on every replica: `<table>_all`.
pub fn distributed_name(table: &str) -> String {
    format!("{table}_all")
}

/// ` ON CLUSTER name`, or nothing.
pub(crate) fn on_cluster(cluster: Option<&str>) -> String {
    cluster.map(|c| format!(" ON CLUSTER {}", quote_ident(c))).unwrap_or_default()
}

/// `CREATE TABLE IF NOT EXISTS database.<table>_all ON CLUSTER cluster`, a `Distributed`
/// table over `database.table` with its columns.
pub(super) fn create_distributed(database: &str, table: &str, cluster: &str) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {db}.{all}{on} AS {db}.{t} ENGINE = Distributed({c}, {db}, {t})",
        db = quote_ident(database),
        all = quote_ident(&distributed_name(table)),
        on = on_cluster(Some(cluster)),
        t = quote_ident(table),
        c = quote_ident(cluster),
    )
}

/// The `Replicated…` form of `engine` for `database.table`, its replicas under one
/// ZooKeeper path per shard (the server's `{shard}` and `{replica}` macros).
pub(crate) fn replicated(engine: &str, database: &str, table: &str) -> String {
    format!("Replicated{engine}({}, '{{replica}}')", quote_str(&format!("/clickhouse/tables/{{shard}}/{database}/{table}")))
}

/// `config` with, when it names a cluster, `insert_quorum` (a majority of the cluster's
/// replicas) and `select_sequential_consistency` added to its settings (unless set there).
///
/// # Errors
/// [`Error::ClickHouseConfig`] when the server does not know the cluster, or it has more
/// than one shard; the client's errors when the server cannot be asked.
pub async fn with_quorum(mut config: ValidatedConfig) -> Result<ValidatedConfig, Error> {
    let Some(cluster) = config.cluster.clone() else { return Ok(config) };
    let (shards, replicas) = shape(&Client::new(&config)?, &cluster).await?;
    let refuse = |reason: String| Error::ClickHouseConfig { field: "cluster", reason };
    if replicas == 0 {
        return Err(refuse(format!("`{cluster}` is not a cluster of the server at {} (system.clusters): define it in remote_servers", config.url)));
    }
    if shards != 1 {
        return Err(refuse(format!("`{cluster}` has {shards} shards: lakeport keeps its tables on every replica of one shard")));
    }
    for (name, value) in [("insert_quorum", (replicas / 2 + 1).to_string()), ("select_sequential_consistency", "1".to_string())] {
        if !config.settings.iter().any(|(k, _)| k == name) {
            config.settings.push((name.to_string(), value));
        }
    }
    Ok(config)
}

/// Shards and replicas of `cluster` as the server's `system.clusters` lists them.
async fn shape(client: &Client, cluster: &str) -> Result<(u64, u64), Error> {
    let sql = format!("SELECT uniqExact(shard_num), count() FROM system.clusters WHERE cluster = {} FORMAT TabSeparated", quote_str(cluster));
    let [shards, replicas] = client.counts(&sql).await?;
    Ok((shards, replicas))
}
