//! Finding the rows of a batch that ClickHouse refuses for their data, so that they go to
//! the dead letters and the rest of the batch goes in: a batch is never retried as it is
//! forever because of one bad value.
//!
//! Halves of the batch are inserted into a `Null`-engine copy of the table, which checks
//! every value as a real insert would and stores nothing; a refused half is split again,
//! down to single rows. Values the encoder already knows the column cannot hold
//! ([`Error::ClickHouseValue`]) name their row directly. The copy exists only while a batch
//! is checked, under a name of this process's own, so no table is left behind.

use std::sync::atomic::{AtomicU64, Ordering};

use arrow_array::RecordBatch;

use super::config::ValidatedConfig;
use super::ddl::quote_ident;
use super::service::Client;
use super::writer::ClickHouseWriter;
use crate::{BatchId, Error};

/// Checks rows against one table.
#[derive(Debug)]
pub struct Probe {
    config: ValidatedConfig,
    client: Client,
}

/// Whether `error` says that rows of the batch, not the server or the setup, are at fault.
pub fn is_data_error(error: &Error) -> bool {
    matches!(error, Error::ClickHouseRejected { .. } | Error::ClickHouseValue { .. })
}

impl Probe {
    /// A checker for the table of `config`.
    ///
    /// # Errors
    /// When the client cannot be built (TLS files).
    pub fn new(config: &ValidatedConfig) -> Result<Self, Error> {
        Ok(Self { config: config.clone(), client: Client::new(config)? })
    }

    /// The rows of `batch` ClickHouse refuses, with its reason for each, in row order.
    ///
    /// # Errors
    /// Any error that is not about the rows (server down, table gone).
    pub async fn refused_rows(&self, batch: &RecordBatch, id: &BatchId) -> Result<Vec<(usize, String)>, Error> {
        static N: AtomicU64 = AtomicU64::new(0);
        let name = format!("_lakeport_probe_{}_{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed));
        let (db, copy) = (quote_ident(self.config.database()), quote_ident(&name));
        let create = format!("CREATE TABLE IF NOT EXISTS {db}.{copy} AS {db}.{} ENGINE = Null", quote_ident(self.config.table()));
        self.client.query(&create).await?;
        let mut config = self.config.clone();
        config.table = name;
        let checked = Self::split(&ClickHouseWriter::new(config)?, batch, id).await;
        let dropped = self.client.query(&format!("DROP TABLE IF EXISTS {db}.{copy}")).await;
        let refused = checked?;
        dropped?;
        Ok(refused)
    }

    /// Inserts halves of `batch` into `copy` until each refused row is found.
    async fn split(copy: &ClickHouseWriter, batch: &RecordBatch, id: &BatchId) -> Result<Vec<(usize, String)>, Error> {
        let mut refused = Vec::new();
        let mut pending = vec![(0, batch.num_rows())];
        while let Some((start, len)) = pending.pop() {
            if len == 0 {
                continue;
            }
            match copy.insert(&batch.slice(start, len), id).await {
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
