//! Fencing: a batch is written only once the broker has confirmed that this process is
//! still the member of the group generation that owns the batch's partition.
//!
//! A process frozen past its session timeout (SIGSTOP, a VM pause, a long stall) wakes up
//! believing it owns its partitions, and its batch tasks can run before librdkafka notices
//! that the group has moved on. So after recording a batch's intent and before writing it,
//! its task commits the partition's last durable offset again (claiming nothing new): the
//! broker refuses a commit from a member it dropped or of an older generation, and the task
//! gives the batch up and marks its intent abandoned. When the broker accepts, any later
//! owner of the partition is assigned after that moment, reads the ledger after it, finds
//! the intent, and cuts the same batch (same lake objects, same insert tokens).

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::anyhow;
use rdkafka::consumer::CommitMode;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};

use super::{commit_offsets, Consumer};
use crate::commit::{Partition, Progress, Ticket};
use crate::pipeline::{Decision, Retry};

/// How long a refused fence waits before asking again, while the partition is still ours.
const REFUSED_WAIT: Duration = Duration::from_millis(200);

/// The error context of a batch given up because this process no longer owns its partition.
#[derive(Debug, Clone, Copy)]
pub struct Fenced;

impl std::fmt::Display for Fenced {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("this process no longer owns the partition (the group moved it to another member)")
    }
}

/// One ownership of one partition, as the writer of a batch sees it.
pub struct Owner {
    consumer: Arc<Consumer>,
    progress: Arc<Mutex<Progress>>,
    tp: Partition,
    ticket: Ticket,
    writer: String,
    retry_timeout: Duration,
    /// Batches (first, last) whose fence passed once: never abandoned after that, since an
    /// attempt may have written them.
    passed: Mutex<HashSet<(i64, i64)>>,
}

impl Owner {
    /// The owner of `ticket`'s batch of `tp`; `process` names this process run in the ledger.
    pub fn new(consumer: Arc<Consumer>, progress: Arc<Mutex<Progress>>, tp: Partition, ticket: Ticket, process: &str, retry_timeout: Duration) -> Self {
        let writer = format!("{process}-{}", ticket.epoch());
        Self { consumer, progress, tp, ticket, writer, retry_timeout, passed: Mutex::default() }
    }

    /// The writer's name in the ledger: this process and this ownership.
    pub fn writer(&self) -> &str {
        &self.writer
    }

    /// Whether the fence of batch `range` passed in an earlier attempt.
    pub fn passed(&self, range: (i64, i64)) -> bool {
        self.passed.lock().unwrap_or_else(|e| e.into_inner()).contains(&range)
    }

    /// Confirms with the broker that this process still owns the partition, before batch
    /// `range` is written.
    ///
    /// # Errors
    /// With context [`Fenced`] once the partition is revoked; a broker that stays
    /// unreachable, or keeps refusing while the partition is not revoked, for
    /// `retry_timeout` fails as the retry policy says.
    pub async fn confirm(&self, range: (i64, i64)) -> anyhow::Result<()> {
        let mut retry = Retry::new(self.retry_timeout);
        let started = std::time::Instant::now();
        loop {
            if started.elapsed() > self.retry_timeout {
                return Err(anyhow!("the broker kept refusing this member's commits for `[runtime] retry_timeout` ({:?}) while the partition stayed assigned", self.retry_timeout).context(crate::exit::Failure::Unavailable));
            }
            let offset = self.offset()?;
            let (consumer, tp) = (self.consumer.clone(), self.tp.clone());
            let answer = tokio::task::spawn_blocking(move || commit_offsets(consumer.as_ref(), &[(tp, offset)], CommitMode::Sync)).await?;
            use RDKafkaErrorCode as C;
            let e = match answer {
                Ok(()) => {
                    // Also still ours here: not revoked while the broker answered.
                    self.offset()?;
                    self.progress.lock().unwrap_or_else(|e| e.into_inner()).fence_committed(&self.tp, offset);
                    self.passed.lock().unwrap_or_else(|e| e.into_inner()).insert(range);
                    return Ok(());
                }
                // Refused: the group moved on. Given up once librdkafka revokes the partition
                // too (soon, for a member that was dropped); until then, not written either.
                Err(KafkaError::ConsumerCommit(C::UnknownMemberId | C::IllegalGeneration | C::FencedInstanceId | C::RebalanceInProgress)) => {
                    self.offset()?;
                    tokio::time::sleep(REFUSED_WAIT).await;
                    continue;
                }
                Err(e) => anyhow::Error::new(e).context("confirming with the broker that this process still owns the partition"),
            };
            match retry.decide(&e) {
                Decision::Retry(wait) => {
                    tracing::warn!(error = %format!("{e:#}"), retry_in = ?wait, "ownership not confirmed yet; retrying");
                    tokio::time::sleep(wait).await;
                }
                Decision::Fail(failure) => return Err(e.context(failure)),
            }
        }
    }

    fn offset(&self) -> anyhow::Result<i64> {
        let progress = self.progress.lock().unwrap_or_else(|e| e.into_inner());
        progress.fence_offset(&self.tp, self.ticket).ok_or_else(|| anyhow!("the partition was revoked").context(Fenced))
    }
}
