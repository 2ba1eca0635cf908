//! The ClickHouse writer: a batch and its id in, one deduplicated Native insert out.

use std::sync::{Arc, Mutex};

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use tokio::sync::OnceCell;

use super::columns::TableColumn;
use super::config::ValidatedConfig;
use super::ddl::quote_ident;
use super::dedup::table_deduplicates;
use super::native::NativeEncoder;
use super::service::Client;
use super::version::ServerVersion;
use crate::{BatchId, Error};

/// Writes record batches into one ClickHouse table (see the [module documentation](super)
/// for formats, retries and deduplication).
#[derive(Debug)]
pub struct ClickHouseWriter {
    /// For queries, and for inserts where the table deduplicates.
    pub(super) client: Client,
    /// For inserts: `client`, or, into a table known not to deduplicate, one that tries once
    /// (see [`ClickHouseWriter::for_table`]).
    inserts: Client,
    pub(super) database: String,
    pub(super) table: String,
    /// The server version and table columns, read before the first insert.
    server: OnceCell<Server>,
    /// Whether the table deduplicates: as given to [`ClickHouseWriter::for_table`], else read
    /// before the first [`ClickHouseWriter::insert_once`] of a batch that may be there.
    deduplicates: OnceCell<bool>,
    /// The encoder for the last batch schema seen.
    encoder: Mutex<Option<(SchemaRef, Arc<NativeEncoder>)>>,
    /// Held by the insert in flight when inserts wait for a quorum of replicas: servers
    /// without parallel quorums refuse a second one until the first has its replicas, and a
    /// refused insert of several parts leaves some of them behind.
    quorum_turn: Option<tokio::sync::Mutex<()>>,
}

/// What the writer reads of the server and the table before its first insert.
#[derive(Debug)]
struct Server {
    version: ServerVersion,
    columns: Vec<TableColumn>,
}

/// What the table does with a block it saw before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Repeat {
    /// Drops it, where the table keeps insert tokens (the batch's token is sent, 22.2+).
    Dropped,
    /// Inserts it: the rows of an interrupted attempt were deleted. No block deduplication;
    /// the token is still sent, so the rollups' views drop what they counted of the attempt.
    AfterDelete,
    /// Inserts it, token or not: a backfill deleted the batch's rows, whenever they came.
    Inserted,
}

/// What one [`ClickHouseWriter::insert`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InsertStats {
    /// Rows inserted (or found already inserted under the same token).
    pub rows: usize,
    /// Requests made, the successful one included (0 for an empty batch).
    pub attempts: u32,
    /// Native body size, in bytes.
    pub body_bytes: usize,
    /// Body size on the wire after compression, in bytes.
    pub sent_bytes: usize,
    /// The `insert_deduplication_token` sent, when the server takes one (22.2 and later).
    pub dedup_token: Option<String>,
}

impl ClickHouseWriter {
    /// A writer for the table of `config`. Sends nothing yet: the server's version and the
    /// table's columns are read before the first insert.
    ///
    /// # Errors
    /// As [`Client::new`].
    pub fn new(config: ValidatedConfig) -> Result<Self, Error> {
        let client = Client::new(&config)?;
        let quorum = config.settings.iter().any(|(k, v)| k == "insert_quorum" && v.parse::<u64>().is_ok_and(|n| n > 1));
        Ok(Self {
            quorum_turn: quorum.then(|| tokio::sync::Mutex::new(())),
            inserts: client.clone(),
            client,
            database: config.database,
            table: config.table,
            server: OnceCell::new(),
            deduplicates: OnceCell::new(),
            encoder: Mutex::new(None),
        })
    }

    /// A writer for the table of `config`, having read the server's version, the table's
    /// columns and whether the table deduplicates (see [`ClickHouseWriter::for_table`]).
    /// Read once: restart after a `migrate` that changes the table.
    ///
    /// # Errors
    /// As [`Client::new`]; [`Error::ClickHouseNoTable`] when the table does not exist;
    /// [`Error::ClickHouseQuery`] / [`Error::ClickHouseUnavailable`] when the server cannot
    /// be read.
    pub async fn open(config: ValidatedConfig) -> Result<Self, Error> {
        let writer = Self::new(config)?;
        let deduplicates = writer.deduplicates().await?;
        Ok(writer.for_table(deduplicates))
    }

    /// This writer for a table that deduplicates repeated inserts itself or not (as
    /// [`ClickHouseWriter::open`] reads it). Into one that does not,
    /// an insert is tried once and never retried blindly, since a retry after a lost answer
    /// would add its rows twice: [`ClickHouseWriter::insert_once`] retries, counting first.
    pub fn for_table(mut self, deduplicates: bool) -> Self {
        self.deduplicates = OnceCell::new_with(Some(deduplicates));
        if !deduplicates {
            self.inserts = self.client.with_max_attempts(1);
        }
        self
    }

    /// The client, for other statements to the same server.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Inserts every row of `batch` as one Native block, naming the batch's columns (table
    /// columns it lacks take their defaults). On servers that take it, the insert carries
    /// `insert_deduplication_token` = `id.token()`, so inserting the same batch again adds no
    /// rows where the table deduplicates (see the module documentation). An empty batch
    /// sends nothing (but still reads the table's columns the first time).
    ///
    /// # Errors
    /// [`Error::ClickHouseNoTable`], [`Error::ClickHouseMismatch`] before anything is sent;
    /// [`Error::ClickHouseValue`] for a value its column cannot hold;
    /// [`Error::ClickHouseRejected`] when the server refuses the rows (bisect the batch);
    /// [`Error::ClickHouseQuery`] / [`Error::ClickHouseUnavailable`] as in [`Client::insert`].
    pub async fn insert(&self, batch: &RecordBatch, id: &BatchId) -> Result<InsertStats, Error> {
        self.send(batch, id, Repeat::Dropped).await
    }

    /// Inserts `batch`; when the server refuses it for touching too many partitions, inserts
    /// its halves (recursively), each with its own token `token-<path>` (`0`/`1` per halving),
    /// so that a replay, which splits the same way, repeats the same tokens.
    pub(super) async fn send(&self, batch: &RecordBatch, id: &BatchId, repeat: Repeat) -> Result<InsertStats, Error> {
        self.send_part(batch, id, repeat, String::new()).await
    }

    fn send_part<'a>(&'a self, batch: &'a RecordBatch, id: &'a BatchId, repeat: Repeat, path: String) -> futures::future::BoxFuture<'a, Result<InsertStats, Error>> {
        Box::pin(async move {
            match self.send_block(batch, id, repeat, &path).await {
                Err(Error::ClickHouseTooManyPartitions { .. }) if batch.num_rows() > 1 => {
                    let half = batch.num_rows() / 2;
                    tracing::info!(batch = %id, rows = batch.num_rows(), "the rows span too many partitions for one insert: inserting halves");
                    let first = self.send_part(&batch.slice(0, half), id, repeat, format!("{path}0")).await?;
                    let second = self.send_part(&batch.slice(half, batch.num_rows() - half), id, repeat, format!("{path}1")).await?;
                    Ok(InsertStats {
                        rows: first.rows + second.rows,
                        attempts: first.attempts + second.attempts + 1,
                        body_bytes: first.body_bytes + second.body_bytes,
                        sent_bytes: first.sent_bytes + second.sent_bytes,
                        dedup_token: first.dedup_token.map(|_| id.token()),
                    })
                }
                other => other,
            }
        })
    }

    /// Inserts `batch` again after the rows an interrupted earlier insert left were deleted,
    /// on a server without insert tokens: block deduplication is turned off for it, since a
    /// replicated table would otherwise drop the block as a repeat of the deleted one.
    ///
    /// # Errors
    /// As [`ClickHouseWriter::insert`].
    pub(super) async fn reinsert(&self, batch: &RecordBatch, id: &BatchId) -> Result<InsertStats, Error> {
        self.send(batch, id, Repeat::AfterDelete).await
    }

    async fn send_block(&self, batch: &RecordBatch, id: &BatchId, repeat: Repeat, path: &str) -> Result<InsertStats, Error> {
        let server = self.server().await?;
        if batch.num_rows() == 0 {
            return Ok(InsertStats { rows: 0, attempts: 0, body_bytes: 0, sent_bytes: 0, dedup_token: None });
        }
        let token = (server.version.has_dedup_token() && repeat != Repeat::Inserted).then(|| if path.is_empty() { id.token() } else { format!("{}-{path}", id.token()) });
        let encoder = self.encoder(batch.schema(), &server.columns)?;
        let columns: Vec<String> = encoder.column_names().map(quote_ident).collect();
        let query = format!("INSERT INTO {} ({}) FORMAT Native", self.qualified(), columns.join(", "));
        let owned = batch.clone();
        let body = tokio::task::spawn_blocking(move || encoder.encode(&owned)).await.expect("encoding does not panic")?;
        // The query id starts with the batch's id: a retry after a lost answer can wait until
        // the server no longer runs an insert of this batch (`ClickHouseWriter::insert_once`).
        let query_id = format!("{}-{}", id.token(), std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos()));
        let mut settings = vec![("query_id", query_id.as_str())];
        match &token {
            // The rollups' views drop a repeated block as the table does.
            Some(token) => settings.extend([("insert_deduplicate", "1"), ("insert_deduplication_token", token.as_str()), ("deduplicate_blocks_in_dependent_materialized_views", "1")]),
            None if repeat != Repeat::Dropped => settings.push(("insert_deduplicate", "0")),
            None => {}
        }
        if server.version.has_async_insert() {
            settings.push(("async_insert", "0"));
        }
        let _turn = match &self.quorum_turn {
            Some(turn) if !server.version.has_parallel_quorum() => Some(turn.lock().await),
            _ => None,
        };
        let sent = self.inserts.insert(&query, body, &settings).await?;
        tracing::debug!(batch = %id, rows = batch.num_rows(), attempts = sent.attempts, bytes = sent.sent_bytes, "inserted into ClickHouse");
        Ok(InsertStats { rows: batch.num_rows(), attempts: sent.attempts, body_bytes: sent.body_bytes, sent_bytes: sent.sent_bytes, dedup_token: token })
    }

    /// Quoted `database.table`.
    pub(super) fn qualified(&self) -> String {
        format!("{}.{}", quote_ident(&self.database), quote_ident(&self.table))
    }

    /// Whether the table drops a repeated insert of a batch (see `dedup.rs`), read once.
    pub(super) async fn deduplicates(&self) -> Result<bool, Error> {
        let server = self.server().await?;
        self.deduplicates.get_or_try_init(|| async { Ok(server.version.has_dedup_token() && table_deduplicates(&self.client, &self.database, &self.table).await?) }).await.copied()
    }

    async fn server(&self) -> Result<&Server, Error> {
        self.server
            .get_or_try_init(|| async {
                let version = self.client.server_version().await?;
                let columns = self.client.table_columns(&self.database, &self.table).await?;
                if columns.is_empty() {
                    return Err(Error::ClickHouseNoTable { database: self.database.clone(), table: self.table.clone() });
                }
                Ok(Server { version, columns })
            })
            .await
    }

    fn encoder(&self, schema: SchemaRef, columns: &[TableColumn]) -> Result<Arc<NativeEncoder>, Error> {
        let mut cached = self.encoder.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some((seen, encoder)) = cached.as_ref() {
            if Arc::ptr_eq(seen, &schema) || seen == &schema {
                return Ok(encoder.clone());
            }
        }
        let name = format!("{}.{}", self.database, self.table);
        let encoder = Arc::new(NativeEncoder::new(&name, &schema, columns)?);
        *cached = Some((schema, encoder.clone()));
        Ok(encoder)
    }
}
