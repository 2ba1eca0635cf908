//! Finding the rows of a batch that ClickHouse refuses for their data, so that they go to
//! the dead letters and the rest of the batch goes in: a batch is never retried as it is
//! forever because of one bad value.
//!
//! Halves of the batch are inserted into a `Null`-engine copy of the table, which checks
//! every value as a real insert would and stores nothing; a refused half is split again,
//! down to single rows. Values the encoder already knows the column cannot hold
//! ([`Error::ClickHouseValue`]) name their row directly.

use std::hash::{DefaultHasher, Hash, Hasher};

use arrow_array::RecordBatch;

use super::config::ValidatedConfig;
use super::ddl::quote_ident;
use super::service::Client;
use super::writer::ClickHouseWriter;
use crate::{BatchId, Error};

/// A `Null` copy of one table, to try rows against.
#[derive(Debug)]
pub struct Probe {
    writer: ClickHouseWriter,
}

/// Whether `error` says that rows of the batch, not the server or the setup, are at fault.
pub fn is_data_error(error: &Error) -> bool {
    matches!(error, Error::ClickHouseRejected { .. } | Error::ClickHouseValue { .. })
}

impl Probe {
    /// Creates (if missing) the `Null` copy of the table of `config`, named after the
    /// table's current columns so that a migrated table gets a fresh copy.
    ///
    /// # Errors
    /// As [`Client::query`].
    pub async fn open(config: &ValidatedConfig) -> Result<Self, Error> {
        let client = Client::new(config)?;
        let (database, table) = (config.database(), config.table());
        let mut hasher = DefaultHasher::new();
        for c in client.table_columns(database, table).await? {
            (c.name, c.type_name).hash(&mut hasher);
        }
        let probe = format!("_lakeport_probe_{:016x}", hasher.finish());
        client
            .query(&format!(
                "CREATE TABLE IF NOT EXISTS {db}.{probe} AS {db}.{table} ENGINE = Null",
                db = quote_ident(database),
                probe = quote_ident(&probe),
                table = quote_ident(table)
            ))
            .await?;
        let mut probe_config = config.clone();
        probe_config.table = probe;
        Ok(Self { writer: ClickHouseWriter::new(probe_config)? })
    }

    /// The rows of `batch` ClickHouse refuses, with its reason for each, in row order.
    ///
    /// # Errors
    /// Any error that is not about the rows (server down, table gone).
    pub async fn refused_rows(&self, batch: &RecordBatch, id: &BatchId) -> Result<Vec<(usize, String)>, Error> {
        let mut refused = Vec::new();
        let mut pending = vec![(0, batch.num_rows())];
        while let Some((start, len)) = pending.pop() {
            if len == 0 {
                continue;
            }
            match self.writer.insert(&batch.slice(start, len), id).await {
                Ok(_) => {}
                Err(Error::ClickHouseValue { row, reason, column }) => {
                    refused.push((start + row, format!("column {column}: {reason}")));
                    pending.push((start, row));
                    pending.push((start + row + 1, len - row - 1));
                }
                Err(Error::ClickHouseRejected { message, .. }) if len == 1 => refused.push((start, message)),
                Err(Error::ClickHouseRejected { .. }) => {
                    pending.push((start, len / 2));
                    pending.push((start + len / 2, len - len / 2));
                }
                Err(other) => return Err(other),
            }
        }
        refused.sort_by_key(|(row, _)| *row);
        Ok(refused)
    }
}
