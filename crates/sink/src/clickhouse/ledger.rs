//! The batch ledger: which batches were started and finished, kept in ClickHouse next to
//! the data, so that a restarted pipeline rebuilds the same batches and writes each once.
//!
//! Table `<database>._lakeport_ledger`, one row per state change of a batch of a table:
//! `intent` before any sink is written, `done` once every sink holds the batch. After a
//! crash, the pipeline asks for the batches from its committed offset on and cuts its new
//! batches at exactly those boundaries (so lake object names and ClickHouse dedup tokens
//! repeat), skips batches marked `done`, and re-inserts `intent` ones with
//! [`Ledger::insert_once`].

use arrow_array::RecordBatch;

use super::ddl::{quote_ident, quote_str};
use super::config::ValidatedConfig;
use super::service::Client;
use super::types::Dialect;
use super::writer::{ClickHouseWriter, InsertStats};
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
}

/// The ledger of one ClickHouse table.
#[derive(Debug)]
pub struct Ledger {
    client: Client,
    /// Quoted `database.ledger`.
    ledger: String,
    /// Quoted `database.table` of the data.
    data: String,
    database: String,
    table: String,
}

impl Ledger {
    /// The ledger of the table `config` writes to; creates the ledger table if missing.
    ///
    /// # Errors
    /// As [`Client::new`] and [`Client::query`].
    pub async fn open(config: &ValidatedConfig) -> Result<Self, Error> {
        let client = Client::new(config)?;
        let (database, table) = (config.database(), config.table());
        let ledger = format!("{}.{}", quote_ident(database), quote_ident(LEDGER_TABLE));
        client.query(&create_ledger(&ledger)).await?;
        Ok(Self { client, ledger, data: format!("{}.{}", quote_ident(database), quote_ident(table)), database: database.to_string(), table: table.to_string() })
    }

    /// Whether the server deduplicates repeated inserts of a batch itself. Where it does
    /// not (before 23.x), an insert must not be retried blindly: a retry after a lost answer
    /// would add the rows twice; retry through [`Ledger::insert_once`] instead, which counts.
    ///
    /// # Errors
    /// As [`Client::server_version`].
    pub async fn server_deduplicates(&self) -> Result<bool, Error> {
        Ok(self.client.server_version().await?.dialect() == Dialect::Modern)
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

    /// The recorded state of batch `id`, if any.
    ///
    /// # Errors
    /// As [`Client::query`].
    pub async fn state(&self, id: &BatchId) -> Result<Option<LedgerState>, Error> {
        let sql = format!("SELECT max(state) FROM {} WHERE {} FORMAT TabSeparated", self.ledger, self.batch_filter(id));
        Ok(match self.client.query(&sql).await?.trim() {
            "2" => Some(LedgerState::Done),
            "1" => Some(LedgerState::Intent),
            _ => None,
        })
    }

    /// Records a state of batch `id` holding `rows` rows.
    ///
    /// # Errors
    /// As [`Client::query`].
    pub async fn record(&self, id: &BatchId, state: LedgerState, rows: usize) -> Result<(), Error> {
        let sql = format!(
            "INSERT INTO {} (`table`, topic, partition, first_offset, last_offset, state, rows) VALUES ({}, {}, {}, {}, {}, {}, {})",
            self.ledger,
            quote_str(&self.table),
            quote_str(&id.topic),
            id.partition,
            id.first_offset,
            id.last_offset,
            state as u8,
            rows
        );
        self.client.query(&sql).await.map(drop)
    }

    /// Batches of a partition recorded from `offset` on, as `(first, last)` in offset order.
    ///
    /// # Errors
    /// As [`Client::query`].
    pub async fn ranges_from(&self, topic: &str, partition: i32, offset: i64) -> Result<Vec<(i64, i64)>, Error> {
        let sql = format!(
            "SELECT first_offset, max(last_offset) FROM {} WHERE `table` = {} AND topic = {} AND partition = {} AND first_offset >= {} GROUP BY first_offset ORDER BY first_offset FORMAT TabSeparated",
            self.ledger,
            quote_str(&self.table),
            quote_str(topic),
            partition,
            offset
        );
        let text = self.client.query(&sql).await?;
        Ok(text
            .lines()
            .filter_map(|l| {
                let (a, b) = l.split_once('\t')?;
                Some((a.parse().ok()?, b.parse().ok()?))
            })
            .collect())
    }

    /// Inserts `batch` so that ClickHouse ends up holding it exactly once, even when an
    /// earlier attempt (`maybe_present`: the ledger says `intent`) was interrupted. Modern
    /// servers drop the blocks they already have (same `insert_deduplication_token`); on older servers
    /// the rows of the batch's source range are counted: all there → nothing to do; none →
    /// insert; some (an insert split into several parts was cut short) → delete them and
    /// insert again.
    ///
    /// # Errors
    /// As [`ClickHouseWriter::insert`] and [`Client::query`].
    pub async fn insert_once(&self, writer: &ClickHouseWriter, batch: &RecordBatch, id: &BatchId, maybe_present: bool) -> Result<InsertStats, Error> {
        // Tables `migrate` creates on modern servers keep insert tokens (see `create_table`);
        // a 22.x server takes tokens but its tables were created without the window.
        if !maybe_present || self.server_deduplicates().await? {
            return writer.insert(batch, id).await;
        }
        let range = format!("_topic = {} AND _partition = {} AND _offset BETWEEN {} AND {}", quote_str(&id.topic), id.partition, id.first_offset, id.last_offset);
        let present: usize = self.client.query(&format!("SELECT count() FROM {} WHERE {range} FORMAT TabSeparated", self.data)).await?.trim().parse().unwrap_or(0);
        if present == batch.num_rows() {
            tracing::info!(batch = %id, rows = present, "ClickHouse already holds this batch");
            return Ok(InsertStats { rows: present, attempts: 0, body_bytes: 0, sent_bytes: 0, dedup_token: None });
        }
        if present > 0 {
            tracing::warn!(batch = %id, present, expected = batch.num_rows(), "ClickHouse holds part of this batch; deleting it before inserting again");
            self.client.query(&format!("ALTER TABLE {} DELETE WHERE {range}", self.data)).await?;
            self.wait_mutations().await?;
        }
        writer.insert(batch, id).await
    }

    /// Waits until the data table has no unfinished mutation.
    async fn wait_mutations(&self) -> Result<(), Error> {
        let sql = format!(
            "SELECT count() FROM system.mutations WHERE database = {} AND table = {} AND is_done = 0 FORMAT TabSeparated",
            quote_str(&self.database),
            quote_str(&self.table)
        );
        loop {
            if self.client.query(&sql).await?.trim() == "0" {
                return Ok(());
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
}

/// The ledger's `CREATE TABLE`; plain types, so that it works on every server version.
fn create_ledger(name: &str) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {name} (`table` String, topic String, partition Int32, first_offset Int64, last_offset Int64, \
         state UInt8, rows UInt64, at DateTime DEFAULT now()) ENGINE = MergeTree ORDER BY (`table`, topic, partition, first_offset)"
    )
}
