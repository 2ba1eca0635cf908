//! What a ClickHouse table holds of each source message: its rows and distinct lines, by
//! the coordinate columns every row carries.

use super::ddl::quote_ident;
use super::service::Client;
use crate::Error;

/// The rows of one source message in a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageRows {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// Offset.
    pub offset: i64,
    /// Rows with these coordinates.
    pub rows: u64,
    /// Distinct `_line`s among them (fewer than `rows`: a record is there twice).
    pub lines: u64,
}

/// Every message `database.table` holds rows of, by topic, partition and offset.
///
/// # Errors
/// As [`Client::query`]; [`Error::ClickHouseAnswer`] when a line is not a message's counts.
pub async fn message_rows(client: &Client, database: &str, table: &str) -> Result<Vec<MessageRows>, Error> {
    let sql = format!(
        "SELECT _topic, _partition, _offset, count(), uniqExact(_line) FROM {}.{} GROUP BY _topic, _partition, _offset \
         ORDER BY _topic, _partition, _offset FORMAT TabSeparated",
        quote_ident(database),
        quote_ident(table)
    );
    let text = client.query(&sql).await?;
    text.lines()
        .filter(|l| !l.is_empty())
        .map(|l| parse(l).ok_or_else(|| Error::ClickHouseAnswer { query: sql.clone(), reason: format!("`{l}` is not a message's row counts") }))
        .collect()
}

fn parse(line: &str) -> Option<MessageRows> {
    let mut f = line.split('\t');
    let mut next = || f.next();
    Some(MessageRows { topic: next()?.to_string(), partition: next()?.parse().ok()?, offset: next()?.parse().ok()?, rows: next()?.parse().ok()?, lines: next()?.parse().ok()? })
}
