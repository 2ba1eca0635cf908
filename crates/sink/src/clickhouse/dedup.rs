//! Whether a table drops a repeated insert of a batch by itself: a server that takes insert
//! tokens (22.2+), and a table that keeps them (a `Replicated` or `Shared` engine, or
//! `non_replicated_deduplication_window` above 0). Where it does not, an insert must not be
//! retried blindly (a retry after a lost answer would add the rows twice): retry through
//! [`ClickHouseWriter::insert_once`](super::ClickHouseWriter::insert_once), which counts.

use super::ddl::quote_str;
use super::service::Client;
use crate::Error;

/// Whether `database.table` keeps insert tokens (its engine or settings; see [`keeps_tokens`]).
pub(super) async fn table_deduplicates(client: &Client, database: &str, table: &str) -> Result<bool, Error> {
    let sql = format!("SELECT engine, create_table_query FROM system.tables WHERE database = {} AND name = {} FORMAT TabSeparated", quote_str(database), quote_str(table));
    let text = client.query(&sql).await?;
    Ok(text.lines().next().and_then(|l| l.split_once('\t')).is_some_and(|(engine, create)| keeps_tokens(engine, create)))
}

/// Whether a table of `engine`, created by `create` (`system.tables.create_table_query`),
/// drops a repeated insert token.
pub fn keeps_tokens(engine: &str, create: &str) -> bool {
    if engine.starts_with("Replicated") || engine.starts_with("Shared") {
        return true;
    }
    let key = "non_replicated_deduplication_window = ";
    create.match_indices(key).any(|(at, _)| {
        let rest = &create[at + key.len()..];
        let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        rest[..digits].parse::<u64>().is_ok_and(|w| w > 0)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_that_keep_tokens() {
        assert!(keeps_tokens("ReplicatedMergeTree", ""));
        assert!(keeps_tokens("SharedMergeTree", ""));
        assert!(keeps_tokens("MergeTree", "CREATE TABLE a.b (`x` UInt8) ENGINE = MergeTree ORDER BY x SETTINGS index_granularity = 8192, non_replicated_deduplication_window = 1000"));
        assert!(!keeps_tokens("MergeTree", "CREATE TABLE a.b (`x` UInt8) ENGINE = MergeTree ORDER BY x SETTINGS non_replicated_deduplication_window = 0"));
        assert!(!keeps_tokens("MergeTree", "CREATE TABLE a.b (`x` UInt8) ENGINE = MergeTree ORDER BY x SETTINGS index_granularity = 8192"));
    }
}
