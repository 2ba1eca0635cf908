//! Inserting a batch exactly once where the table does not drop a repeated insert itself
//! (servers before 22.2, tables without a deduplication window): what an interrupted
//! earlier attempt left is counted first.

use arrow_array::RecordBatch;

use super::ddl::quote_str;
use super::writer::{ClickHouseWriter, InsertStats, Repeat};
use crate::{BatchId, Error};

/// How long `insert_once` waits for an earlier insert or the delete of a partial batch.
const MUTATION_DEADLINE: std::time::Duration = std::time::Duration::from_secs(300);

impl ClickHouseWriter {
    /// Inserts `batch` so that ClickHouse ends up holding it exactly once, even when an
    /// earlier attempt (`maybe_present`: the ledger says `intent`) was interrupted. Tables
    /// that deduplicate drop the blocks they already have (same `insert_deduplication_token`);
    /// elsewhere the rows of the batch's source range are counted, once no insert of it runs,
    /// no quorum insert is pending and no delete of it is (on a replicated table, where a
    /// delete may wait for the next insert, the batch is inserted after it instead): all
    /// there → nothing to do; none → insert (without block deduplication if the range was
    /// deleted before: a replicated table would drop the batch as a repeat); some (an insert
    /// split into several parts was cut short) → on a replicated table, insert again and let
    /// it drop the parts it has by their checksums; else, or when that does not leave
    /// exactly the batch, delete the range and insert the batch after the delete.
    ///
    /// # Errors
    /// As [`ClickHouseWriter::insert`] and [`Client::query`](super::Client::query); [`Error::ClickHouseAnswer`]
    /// when a count is not a number, or what is waited for does not end within 5 minutes.
    pub async fn insert_once(&self, batch: &RecordBatch, id: &BatchId, maybe_present: bool) -> Result<InsertStats, Error> {
        if !maybe_present || self.deduplicates().await? {
            return self.insert(batch, id).await;
        }
        // An earlier insert whose answer was lost may still be running on the server: count
        // only once it is over, or the count misses what it is about to add.
        self.wait_inserts_of(id).await?;
        let replicated = match self.replica_path().await? {
            Some(path) => {
                self.wait_quorum(&path).await?;
                true
            }
            None => false,
        };
        let deletes = self.deletes_of(id).await?;
        if deletes.pending {
            // The rows it is about to remove are still counted.
            if replicated {
                tracing::warn!(batch = %id, "an earlier delete of this batch's rows is not done; inserting the batch after it");
                return self.insert_after_delete(batch, id, replicated).await;
            }
            self.wait_mutations().await?;
        }
        let present = self.rows_of(id).await?;
        if present == batch.num_rows() {
            tracing::info!(batch = %id, rows = present, "ClickHouse already holds this batch");
            return Ok(InsertStats { rows: present, attempts: 0, body_bytes: 0, sent_bytes: 0, dedup_token: None });
        }
        if present == 0 {
            return if deletes.any { self.reinsert(batch, id).await } else { self.insert(batch, id).await };
        }
        // A view over the table (a rollup) may have counted the part already there: neither
        // the checksums nor the delete reach it. `lakeport verify` compares each rollup with
        // its table.
        if replicated {
            tracing::warn!(batch = %id, present, expected = batch.num_rows(), "ClickHouse holds part of this batch; inserting it again, the replicas drop the parts they have (a rollup may count those twice: lakeport verify tells, migrate --backfill-rollups repairs)");
            let stats = self.insert(batch, id).await?;
            let held = self.rows_of(id).await?;
            if held == batch.num_rows() {
                return Ok(stats);
            }
            // More: the checksums of the parts there had left the deduplication window.
            // Fewer: a delete had removed some parts, whose checksums the table remembers.
            tracing::warn!(batch = %id, held, expected = batch.num_rows(), "ClickHouse holds other than this batch's rows after inserting it again; deleting them before inserting again");
        } else {
            tracing::warn!(batch = %id, present, expected = batch.num_rows(), "ClickHouse holds part of this batch; deleting it before inserting again (a rollup may count that part twice: lakeport verify tells, migrate --backfill-rollups repairs)");
        }
        self.delete_rows_of(id, !replicated).await?;
        self.insert_after_delete(batch, id, replicated).await
    }

    /// Inserts `batch` without block deduplication after a delete of its range; on a
    /// replicated table then waits until the delete has reached the rows before it (18.16
    /// holds it back on a partition's last quorum part until the next insert, this one).
    async fn insert_after_delete(&self, batch: &RecordBatch, id: &BatchId, replicated: bool) -> Result<InsertStats, Error> {
        let stats = self.reinsert(batch, id).await?;
        if replicated {
            self.wait_rows(id, batch.num_rows()).await?;
        }
        Ok(stats)
    }

    /// Makes the table hold `batch` exactly once whatever it held of its source range before
    /// (`lakeport backfill`): nothing is sent when every row is there; rows of the range are
    /// deleted when some are; the batch is then inserted without its token, since a table
    /// that deduplicates would drop it as a repeat of the insert its rows came from. Returns
    /// whether the batch was inserted. A view over the table (a rollup) counts the rows again
    /// unless they were deleted from it too.
    ///
    /// # Errors
    /// As [`ClickHouseWriter::insert_once`].
    pub async fn replace(&self, batch: &RecordBatch, id: &BatchId) -> Result<bool, Error> {
        self.wait_inserts_of(id).await?;
        let present = self.rows_of(id).await?;
        if present == batch.num_rows() {
            return Ok(false);
        }
        if present > 0 {
            tracing::warn!(batch = %id, present, expected = batch.num_rows(), "ClickHouse holds part of this batch; deleting it before inserting it whole");
            self.delete_rows_of(id, true).await?;
        }
        self.send(batch, id, Repeat::Inserted).await?;
        Ok(true)
    }

    /// Rows the table holds from the source range of batch `id` (its coordinate columns).
    ///
    /// # Errors
    /// As [`Client::query`](super::Client::query); [`Error::ClickHouseAnswer`] when the count is not a number.
    pub async fn rows_of(&self, id: &BatchId) -> Result<usize, Error> {
        let sql = format!("SELECT count() FROM {} WHERE {} FORMAT TabSeparated", self.qualified(), range_of(id));
        let [rows] = self.client.counts(&sql).await?;
        usize::try_from(rows).map_err(|_| Error::ClickHouseAnswer { query: sql, reason: format!("{rows} rows do not fit this machine's usize") })
    }

    /// Deletes the rows of batch `id`'s source range, and with `wait` waits until they are
    /// gone. Rows inserted after the delete was asked for are not touched by it, waited for or
    /// not. (A replicated table of ClickHouse 18.16 mutates the last part a quorum insert added
    /// to a partition only after the next one: waiting there could last forever.)
    async fn delete_rows_of(&self, id: &BatchId, wait: bool) -> Result<(), Error> {
        // The marker (always true) names the batch in `system.mutations`.
        self.client.query(&format!("ALTER TABLE {} DELETE WHERE {} AND {} != ''", self.qualified(), range_of(id), quote_str(&delete_marker(id)))).await?;
        if wait {
            self.wait_mutations().await?;
        }
        Ok(())
    }

    /// The deletes of batch `id`'s range that `system.mutations` still lists (the last
    /// `finished_mutations_to_keep`, 100 by default, of the table).
    async fn deletes_of(&self, id: &BatchId) -> Result<Deletes, Error> {
        let sql = format!(
            "SELECT count(), countIf(is_done = 0) FROM system.mutations WHERE database = {} AND table = {} AND position(command, {}) > 0 FORMAT TabSeparated",
            quote_str(&self.database),
            quote_str(&self.table),
            quote_str(&delete_marker(id))
        );
        let [all, pending] = self.client.counts(&sql).await?;
        Ok(Deletes { any: all > 0, pending: pending > 0 })
    }

    /// The ZooKeeper path of the data table when it is replicated.
    async fn replica_path(&self) -> Result<Option<String>, Error> {
        let sql = format!("SELECT zookeeper_path FROM system.replicas WHERE database = {} AND table = {} FORMAT TabSeparated", quote_str(&self.database), quote_str(&self.table));
        let path = self.client.query(&sql).await?;
        Ok(Some(path.trim().to_string()).filter(|p| !p.is_empty()))
    }

    /// Waits until no quorum insert into the replicated table at ZooKeeper `path` is pending:
    /// until its part reaches enough replicas, reads with sequential consistency do not count
    /// it. (`quorum/status` exists while one is pending, unless the server runs quorums in
    /// parallel, `insert_quorum_parallel` from 20.10: those are not waited for; from 22.2
    /// tokens deduplicate and nothing is counted.)
    async fn wait_quorum(&self, path: &str) -> Result<(), Error> {
        let sql = format!("SELECT count() FROM system.zookeeper WHERE path = {} AND name = 'status' FORMAT TabSeparated", quote_str(&format!("{path}/quorum")));
        self.wait_for_zero(sql, "a pending quorum insert").await
    }

    /// Waits until the data table has no unfinished mutation.
    async fn wait_mutations(&self) -> Result<(), Error> {
        let sql = format!(
            "SELECT count() FROM system.mutations WHERE database = {} AND table = {} AND is_done = 0 FORMAT TabSeparated",
            quote_str(&self.database),
            quote_str(&self.table)
        );
        self.wait_for_zero(sql, "the delete of a partial batch").await
    }

    /// Waits until the server runs no insert of batch `id` (its query ids start with the
    /// batch's token, see [`ClickHouseWriter::insert`]).
    async fn wait_inserts_of(&self, id: &BatchId) -> Result<(), Error> {
        let prefix = format!("{}-", id.token());
        let sql = format!("SELECT count() FROM system.processes WHERE substring(query_id, 1, {}) = {} FORMAT TabSeparated", prefix.len(), quote_str(&prefix));
        self.wait_for_zero(sql, "an earlier insert of this batch").await
    }

    /// Waits until the table holds `rows` rows of batch `id`'s source range.
    async fn wait_rows(&self, id: &BatchId, rows: usize) -> Result<(), Error> {
        let sql = format!("SELECT count() != {rows} FROM {} WHERE {} FORMAT TabSeparated", self.qualified(), range_of(id));
        self.wait_for_zero(sql, "the delete of this batch's earlier rows").await
    }

    /// Asks `sql` (a count) until it answers 0, for at most [`MUTATION_DEADLINE`].
    async fn wait_for_zero(&self, sql: String, what: &str) -> Result<(), Error> {
        let deadline = tokio::time::Instant::now() + MUTATION_DEADLINE;
        loop {
            match self.client.query(&sql).await?.trim() {
                "0" => return Ok(()),
                n if n.parse::<u64>().is_err() => return Err(Error::ClickHouseAnswer { query: sql, reason: format!("`{n}` is not a count") }),
                _ if tokio::time::Instant::now() >= deadline => return Err(Error::ClickHouseAnswer { query: sql, reason: format!("{what} is still running after {MUTATION_DEADLINE:?}") }),
                _ => tokio::time::sleep(std::time::Duration::from_millis(100)).await,
            }
        }
    }
}

/// What `system.mutations` lists of the deletes of one batch's range.
struct Deletes {
    any: bool,
    pending: bool,
}

/// The text a delete of batch `id`'s range carries, to be found in `system.mutations`.
fn delete_marker(id: &BatchId) -> String {
    format!("lakeport-delete {}", id.token())
}

/// SQL condition on the coordinate columns: the rows of batch `id`'s source range.
fn range_of(id: &BatchId) -> String {
    format!("_topic = {} AND _partition = {} AND _offset BETWEEN {} AND {}", quote_str(&id.topic), id.partition, id.first_offset, id.last_offset)
}
