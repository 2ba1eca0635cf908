//! The batch ledger: which batches were started and finished, kept in ClickHouse next to
//! the data, so that a restarted pipeline rebuilds the same batches and writes each once.
//!
//! Table `<database>._lakeport_ledger`, one row per state change of a batch of a table:
//! `intent` before any sink is written, `done` once every sink holds the batch, and
//! `abandoned` when the writer that recorded an intent learnt, before writing anything,
//! that it no longer owns the partition. Each row names its writer (one ownership of a
//! partition by one process). After a crash, the pipeline asks for the batches from its
//! committed offset on and cuts its new batches at exactly those boundaries (so lake object
//! names and ClickHouse dedup tokens repeat), skips batches marked `done`, and re-inserts
//! `intent` ones with
//! [`ClickHouseWriter::insert_once`](crate::clickhouse::ClickHouseWriter::insert_once). A batch whose every intent was abandoned by
//! its writer was never written, and is not replayed.

use crate::clickhouse::{on_cluster, quote_ident, quote_str, replicated, Client, ValidatedConfig};
use crate::{BatchId, Error};

/// Name of the ledger table, in the dataset's database.
pub const LEDGER_TABLE: &str = "_lakeport_ledger";

/// The recorded state of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LedgerState {
    /// Writing started; the sinks may hold all, part or none of it.
    Intent = 1,
    /// Every sink holds it.
    Done = 2,
    /// Its writer recorded the intent, then found it no longer owned the partition, and
    /// wrote nothing.
    Abandoned = 3,
}

/// SQL condition, over one batch's rows, that it is recorded: done, or with an intent of a
/// writer that did not abandon it (a writer abandons only its own intents).
const LIVE: &str = "(max(state = 2) OR uniqExactIf(writer, state = 1) > uniqExactIf(writer, state = 3))";

/// What the ledger holds of one batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recorded {
    /// The latest state.
    pub state: LedgerState,
    /// The fingerprint of the batch's messages when it was recorded; `None` for rows of
    /// ledgers older than fingerprints.
    pub fingerprint: Option<u64>,
}

/// The ledger of one ClickHouse table.
#[derive(Debug)]
pub struct Ledger {
    client: Client,
    /// Quoted `database.ledger`.
    ledger: String,
    /// The data table's name (the ledger's rows name it).
    table: String,
}

impl Ledger {
    /// The ledger of the table `config` writes to; creates the ledger table if missing (and
    /// adds columns a ledger of an older lakeport lacks).
    ///
    /// # Errors
    /// As [`Client::new`] and [`Client::query`].
    pub async fn open(config: &ValidatedConfig) -> Result<Self, Error> {
        let client = Client::new(config)?;
        let (database, table) = (config.database(), config.table());
        let ledger = ledger_name(database);
        // Asked first: on a cluster, a statement ON CLUSTER waits for every replica.
        let mut columns = client.table_columns(database, LEDGER_TABLE).await?;
        if columns.is_empty() {
            client.query(&create_ledger(database, config.cluster())).await?;
            columns = client.table_columns(database, LEDGER_TABLE).await?;
        }
        let on = on_cluster(config.cluster());
        for (column, ty) in [("fingerprint", "UInt64 DEFAULT 0"), ("writer", "String DEFAULT ''")] {
            if !columns.iter().any(|c| c.name == column) {
                client.query(&format!("ALTER TABLE {ledger}{on} ADD COLUMN {column} {ty}")).await?;
            }
        }
        Ok(Self { client, ledger, table: table.to_string() })
    }

    /// The ledger of `config`'s table, to read only (`lakeport verify`): nothing is created
    /// or changed.
    ///
    /// # Errors
    /// [`Error::ClickHouseNoTable`] when there is none (nothing was written yet); the client's.
    pub async fn existing(config: &ValidatedConfig) -> Result<Self, Error> {
        let client = Client::new(config)?;
        let database = config.database();
        if client.table_columns(database, LEDGER_TABLE).await?.is_empty() {
            return Err(Error::ClickHouseNoTable { database: database.to_string(), table: LEDGER_TABLE.to_string() });
        }
        Ok(Self { client, ledger: ledger_name(database), table: config.table().to_string() })
    }

    /// The ledger table, quoted `database.table`.
    pub fn name(&self) -> &str {
        &self.ledger
    }

    fn batch_filter(&self, id: &BatchId) -> String {
        format!(
            "`table` = {} AND topic = {} AND partition = {} AND first_offset = {} AND last_offset = {}",
            quote_str(&self.table),
            quote_str(&id.topic),
            id.partition,
            id.first_offset,
            id.last_offset
        )
    }

    /// What the ledger holds of batch `id`, if anything (nothing when every intent was
    /// abandoned).
    ///
    /// # Errors
    /// As [`Client::query`]; [`Error::ClickHouseAnswer`] when the answer is not a state.
    pub async fn state(&self, id: &BatchId) -> Result<Option<Recorded>, Error> {
        let sql = format!(
            "SELECT max(state = 2), {LIVE}, argMaxIf(fingerprint, state, state != 3) FROM {} WHERE {} FORMAT TabSeparated",
            self.ledger,
            self.batch_filter(id)
        );
        let text = self.client.query(&sql).await?;
        let bad = || Error::ClickHouseAnswer { query: sql.clone(), reason: format!("`{}` is not a batch state and fingerprint", text.trim()) };
        let fields: Vec<&str> = text.trim().split('\t').collect();
        let state = match fields[..] {
            [_, "0", _] => return Ok(None),
            ["1", "1", _] => LedgerState::Done,
            ["0", "1", _] => LedgerState::Intent,
            _ => return Err(bad()),
        };
        let fingerprint: u64 = fields[2].parse().map_err(|_| bad())?;
        Ok(Some(Recorded { state, fingerprint: (fingerprint != 0).then_some(fingerprint) }))
    }

    /// Records a state of batch `id` holding `rows` rows, with the fingerprint of its
    /// messages, by `writer` (see the module documentation). The insert is synchronous on every server (never an asynchronous insert
    /// that could be lost after the answer).
    ///
    /// # Errors
    /// As [`Client::insert`].
    pub async fn record(&self, id: &BatchId, state: LedgerState, rows: usize, fingerprint: u64, writer: &str) -> Result<(), Error> {
        let query = format!("INSERT INTO {} (`table`, topic, partition, first_offset, last_offset, state, rows, fingerprint, writer) FORMAT TabSeparated", self.ledger);
        let line = format!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\n",
            tsv(&self.table),
            tsv(&id.topic),
            id.partition,
            id.first_offset,
            id.last_offset,
            state as u8,
            rows,
            fingerprint,
            tsv(writer)
        );
        let sync: &[(&str, &str)] = if self.client.server_version().await?.has_async_insert() { &[("async_insert", "0"), ("wait_for_async_insert", "1")] } else { &[] };
        self.client.insert(&query, line.into_bytes(), sync).await.map(drop)
    }

    /// Batches of a partition recorded (see [`Ledger::state`]) that end at `offset` or
    /// later (a batch may start before the first message still there), as `(first, last)`,
    /// by first offset, the longest first. Batches a batch too large to decode as one was
    /// split into lie inside it.
    ///
    /// # Errors
    /// As [`Client::query`]; [`Error::ClickHouseAnswer`] when a line is not a range.
    pub async fn ranges_from(&self, topic: &str, partition: i32, offset: i64) -> Result<Vec<(i64, i64)>, Error> {
        let sql = format!(
            "SELECT first_offset, last_offset FROM {} WHERE `table` = {} AND topic = {} AND partition = {} AND last_offset >= {} \
             GROUP BY first_offset, last_offset HAVING {LIVE} ORDER BY first_offset, last_offset DESC FORMAT TabSeparated",
            self.ledger,
            quote_str(&self.table),
            quote_str(topic),
            partition,
            offset
        );
        let text = self.client.query(&sql).await?;
        parse_ranges(&sql, &text)
    }
}

/// A batch the ledger holds (see [`Ledger::state`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerBatch {
    /// Its coordinates.
    pub id: BatchId,
    /// Recorded done, with this many rows in each sink; `None` while only its intent is.
    pub done_rows: Option<u64>,
}

impl Ledger {
    /// Every batch of the table recorded, by topic, partition and first offset (longest
    /// first); with `since`, only those with a record that recent.
    ///
    /// # Errors
    /// As [`Client::query`]; [`Error::ClickHouseAnswer`] when a line is not a batch.
    pub async fn batches(&self, since: Option<std::time::Duration>) -> Result<Vec<LedgerBatch>, Error> {
        let recent = since.map_or(String::new(), |d| format!(" AND max(at) >= now() - {}", d.as_secs()));
        let sql = format!(
            "SELECT topic, partition, first_offset, last_offset, max(state = 2), maxIf(rows, state = 2) FROM {} WHERE `table` = {} \
             GROUP BY topic, partition, first_offset, last_offset HAVING {LIVE}{recent} ORDER BY topic, partition, first_offset, last_offset DESC FORMAT TabSeparated",
            self.ledger,
            quote_str(&self.table)
        );
        let text = self.client.query(&sql).await?;
        text.lines().filter(|l| !l.is_empty()).map(|l| parse_batch(l).ok_or_else(|| Error::ClickHouseAnswer { query: sql.clone(), reason: format!("`{l}` is not a batch") })).collect()
    }
}

/// The batches rows were written under: a batch too large to decode as one is recorded
/// whole and as the parts it was written in, which lie inside it; the parts are kept.
pub fn innermost(batches: Vec<LedgerBatch>) -> Vec<LedgerBatch> {
    // Sorted by partition and first offset, the longest first: a part follows its whole.
    let inside = |outer: &LedgerBatch, inner: &LedgerBatch| {
        (&outer.id.topic, outer.id.partition) == (&inner.id.topic, inner.id.partition) && inner.id.first_offset <= outer.id.last_offset && inner.id.last_offset <= outer.id.last_offset
    };
    let keep: Vec<bool> = (0..batches.len()).map(|i| batches.get(i + 1).is_none_or(|next| !inside(&batches[i], next))).collect();
    batches.into_iter().zip(keep).filter_map(|(b, k)| k.then_some(b)).collect()
}

/// The ledger table of `database`, quoted.
fn ledger_name(database: &str) -> String {
    format!("{}.{}", quote_ident(database), quote_ident(LEDGER_TABLE))
}

/// A `topic, partition, first, last, done, rows` line.
fn parse_batch(line: &str) -> Option<LedgerBatch> {
    let mut f = line.split('\t');
    let mut next = || f.next();
    let id = BatchId { topic: next()?.to_string(), partition: next()?.parse().ok()?, first_offset: next()?.parse().ok()?, last_offset: next()?.parse().ok()? };
    let done = next()? == "1";
    let rows: u64 = next()?.parse().ok()?;
    Some(LedgerBatch { id, done_rows: done.then_some(rows) })
}

/// `first<TAB>last` lines as ranges.
fn parse_ranges(sql: &str, text: &str) -> Result<Vec<(i64, i64)>, Error> {
    text.lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            let range = l.split_once('\t').and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)));
            range.ok_or_else(|| Error::ClickHouseAnswer { query: sql.to_string(), reason: format!("`{l}` is not a batch range") })
        })
        .collect()
}

/// `text` as a TabSeparated field.
fn tsv(text: &str) -> String {
    text.replace('\\', "\\\\").replace('\t', "\\t").replace('\n', "\\n")
}

/// The ledger's `CREATE TABLE` in `database`; plain types, so that it works on every
/// server version. On a cluster it is replicated to every replica.
fn create_ledger(database: &str, cluster: Option<&str>) -> String {
    let engine = match cluster {
        Some(_) => replicated("MergeTree", database, LEDGER_TABLE),
        None => "MergeTree".to_string(),
    };
    format!(
        "CREATE TABLE IF NOT EXISTS {}.{}{} (`table` String, topic String, partition Int32, first_offset Int64, last_offset Int64, \
         state UInt8, rows UInt64, at DateTime DEFAULT now(), fingerprint UInt64 DEFAULT 0, writer String DEFAULT '') ENGINE = {engine} ORDER BY (`table`, topic, partition, first_offset)",
        quote_ident(database),
        quote_ident(LEDGER_TABLE),
        on_cluster(cluster)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tsv_escapes() {
        assert_eq!(tsv("a\tb\\c\nd"), "a\\tb\\\\c\\nd");
    }
}
