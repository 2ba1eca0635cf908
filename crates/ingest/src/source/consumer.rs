//! The rdkafka consumer and its rebalance handling.
//!
//! On assignment the callback reads the group's committed offsets itself (retrying what a
//! retry can heal, for up to the retry timeout) and assigns the partitions at those offsets
//! explicitly: librdkafka's own read, when it fails (coordinator not available), leaves the
//! partitions unfetched for good. Partitions without a committed offset start where
//! `auto.offset.reset` says.
//!
//! On revocation the callback (which librdkafka runs inside `recv`, on the main loop)
//! waits until the batches of the revoked partitions already being written are durable,
//! commits them synchronously, and only then lets the partitions go; batches still open
//! are dropped uncommitted (the next owner reads them again). If the sinks cannot finish
//! within the shutdown timeout, the work is abandoned without committing.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer as _, ConsumerContext, Rebalance, RebalanceProtocol, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::types::RDKafkaRespErr;
use rdkafka::{ClientContext, Offset, TopicPartitionList};
use tokio::sync::mpsc::UnboundedSender;

use crate::commit::{Partition, Progress};

/// The consumer type of the runner.
pub type Consumer = StreamConsumer<GroupContext>;

/// A change of assignment, for the main loop.
#[derive(Debug)]
pub enum RebalanceEvent {
    /// These partitions are now ours, starting at their committed offsets (none where the
    /// group has not committed yet).
    Assigned(Vec<(Partition, Option<i64>)>),
    /// These partitions are no longer ours; their in-flight work was committed or abandoned.
    Revoked(Vec<Partition>),
    /// An assignment could not be started: the committed offsets stayed unreadable.
    Failed(anyhow::Error),
}

/// Consumer context: drains and commits on revocation, reports assignment changes.
pub struct GroupContext {
    progress: Arc<Mutex<Progress>>,
    events: UnboundedSender<RebalanceEvent>,
    drain_timeout: Duration,
    /// How long reading committed offsets is retried.
    retry_timeout: Duration,
    /// Where a partition without a committed offset starts.
    reset: Offset,
    /// Each partition's high watermark, from librdkafka's latest statistics.
    highs: Mutex<HashMap<Partition, i64>>,
}

impl ClientContext for GroupContext {
    fn stats(&self, statistics: rdkafka::Statistics) {
        let mut highs = self.highs.lock().unwrap_or_else(|e| e.into_inner());
        for (name, topic) in &statistics.topics {
            for p in topic.partitions.values().filter(|p| p.partition >= 0 && p.hi_offset >= 0) {
                highs.insert(Partition::new(name.as_str(), p.partition), p.hi_offset);
            }
        }
    }

    fn error(&self, error: rdkafka::error::KafkaError, reason: &str) {
        // Reaching a partition's end is how a scheduled run knows it is done, not an error.
        use rdkafka::error::{KafkaError, RDKafkaErrorCode};
        if !matches!(error, KafkaError::PartitionEOF(_) | KafkaError::Global(RDKafkaErrorCode::PartitionEOF)) {
            tracing::error!(%error, reason, "Kafka client error");
        }
    }
}

impl ConsumerContext for GroupContext {
    /// rdkafka's default, except that an assignment gets explicit start offsets.
    fn rebalance(&self, consumer: &BaseConsumer<Self>, err: RDKafkaRespErr, tpl: &mut TopicPartitionList) {
        let cooperative = matches!(consumer.rebalance_protocol(), RebalanceProtocol::Cooperative);
        let result = match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => {
                let started = self.start_offsets(consumer, tpl);
                let assigned = if cooperative { consumer.incremental_assign(tpl) } else { consumer.assign(tpl) };
                match (started, assigned) {
                    (Ok(parts), Ok(())) => RebalanceEvent::Assigned(parts),
                    (Err(e), _) => RebalanceEvent::Failed(e),
                    (_, Err(e)) => RebalanceEvent::Failed(anyhow::Error::new(e).context("assigning partitions")),
                }
            }
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => {
                self.pre_rebalance(consumer, &Rebalance::Revoke(tpl));
                let released = if cooperative { consumer.incremental_unassign(tpl) } else { consumer.unassign() };
                if let Err(e) = released {
                    tracing::warn!(error = %e, "releasing revoked partitions");
                }
                return;
            }
            other => {
                let code: rdkafka::error::RDKafkaErrorCode = other.into();
                tracing::warn!(error = %code, "rebalance error; librdkafka retries");
                let _ = consumer.unassign();
                return;
            }
        };
        let _ = self.events.send(result);
    }

    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        let Rebalance::Revoke(tpl) = rebalance else { return };
        let parts = partitions(tpl);
        // Lost (the session expired, another member may own them already): stop at once,
        // writing and committing nothing more. Revoked: drain, then commit.
        let lost = consumer.assignment_lost();
        let drain = if lost { Duration::ZERO } else { self.drain_timeout };
        let deadline = Instant::now() + drain;
        loop {
            let busy = {
                let p = self.progress.lock().unwrap_or_else(|e| e.into_inner());
                parts.iter().map(|tp| p.in_flight(tp)).sum::<usize>()
            };
            if busy == 0 {
                break;
            }
            if Instant::now() >= deadline {
                tracing::warn!(batches = busy, lost, "revoked partitions still being written after {drain:?}; abandoning them uncommitted");
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        // Abort what is left before committing (outside the lock) and letting go.
        let commit: Vec<(Partition, i64)> = {
            let mut p = self.progress.lock().unwrap_or_else(|e| e.into_inner());
            let commit = p.to_commit().into_iter().filter(|(tp, _)| parts.contains(tp) && !lost).collect();
            for tp in &parts {
                p.forget(tp);
            }
            commit
        };
        if !commit.is_empty() {
            match commit_offsets(consumer, &commit, CommitMode::Sync) {
                Ok(()) => tracing::info!(partitions = commit.len(), "committed revoked partitions"),
                Err(e) => tracing::warn!(error = %e, "commit on revocation failed; the next owner re-reads from the last commit"),
            }
        }
        let _ = self.events.send(RebalanceEvent::Revoked(parts));
    }
}

impl GroupContext {
    /// `tp`'s high watermark as librdkafka's latest statistics report it (every
    /// `statistics.interval.ms`, default 5 s here).
    pub fn high_watermark(&self, tp: &Partition) -> Option<i64> {
        self.highs.lock().unwrap_or_else(|e| e.into_inner()).get(tp).copied()
    }

    /// Sets each partition of `tpl` to start at the group's committed offset (or at
    /// `auto.offset.reset`'s end), read with retries; returns the committed offsets.
    fn start_offsets(&self, consumer: &BaseConsumer<Self>, tpl: &mut TopicPartitionList) -> anyhow::Result<Vec<(Partition, Option<i64>)>> {
        let deadline = Instant::now() + self.retry_timeout;
        let mut wait = Duration::from_millis(200);
        let committed = loop {
            match consumer.committed_offsets(tpl.clone(), Duration::from_secs(30)) {
                Ok(c) => break c,
                Err(e) if Instant::now() < deadline && crate::pipeline::kafka_class(&e) == sink::ErrorClass::Transient => {
                    tracing::warn!(error = %e, retry_in = ?wait, "reading the committed offsets of assigned partitions failed; retrying");
                    std::thread::sleep(wait);
                    wait = (wait * 2).min(Duration::from_secs(10));
                }
                Err(e) => return Err(anyhow::Error::new(e).context("reading the committed offsets of assigned partitions").context(crate::exit::Failure::Unavailable)),
            }
        };
        let mut parts = Vec::new();
        for e in committed.elements() {
            let offset = match e.offset() {
                Offset::Offset(o) => Some(o),
                _ => None,
            };
            tpl.set_partition_offset(e.topic(), e.partition(), offset.map_or(self.reset, Offset::Offset)).map_err(|e: KafkaError| anyhow::Error::new(e))?;
            parts.push((Partition::new(e.topic(), e.partition()), offset));
        }
        Ok(parts)
    }
}

fn partitions(tpl: &TopicPartitionList) -> Vec<Partition> {
    tpl.elements().iter().map(|e| Partition::new(e.topic(), e.partition())).collect()
}

/// Commits `(partition, next offset)` pairs.
pub fn commit_offsets<C: ConsumerContext, K: rdkafka::consumer::Consumer<C> + ?Sized>(
    consumer: &K,
    offsets: &[(Partition, i64)],
    mode: CommitMode,
) -> rdkafka::error::KafkaResult<()> {
    let mut tpl = TopicPartitionList::new();
    for (tp, offset) in offsets {
        tpl.add_partition_offset(&tp.topic, tp.partition, Offset::Offset(*offset))?;
    }
    consumer.commit(&tpl, mode)
}

/// Settings lakeport owns; a pipeline may not override them.
const OWNED: [(&str, &str); 3] = [("enable.auto.commit", "false"), ("enable.auto.offset.store", "false"), ("enable.partition.eof", "true")];

/// Builds the consumer and subscribes it; rebalances are reported on `events`.
pub fn build_consumer(
    source: &crate::pipeline::SourceConfig,
    progress: Arc<Mutex<Progress>>,
    events: UnboundedSender<RebalanceEvent>,
    drain_timeout: Duration,
    retry_timeout: Duration,
) -> anyhow::Result<Consumer> {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", &source.brokers)
        .set("group.id", &source.group_id)
        .set("auto.offset.reset", "earliest")
        .set("max.poll.interval.ms", "600000")
        .set("statistics.interval.ms", "5000");
    let user: &BTreeMap<String, String> = &source.librdkafka;
    for (k, v) in user {
        if OWNED.iter().any(|(o, _)| o == k) {
            bail!("[source.librdkafka] `{k}` is managed by lakeport (it commits offsets itself, after the sinks); remove it");
        }
        config.set(k, v);
    }
    for (k, v) in OWNED {
        config.set(k, v);
    }
    let reset = match source.librdkafka.get("auto.offset.reset").map(String::as_str) {
        Some("latest" | "largest" | "end") => Offset::End,
        _ => Offset::Beginning,
    };
    let context = GroupContext { progress, events, drain_timeout, retry_timeout, reset, highs: Mutex::default() };
    let consumer: Consumer = config.create_with_context(context).context("creating the Kafka consumer (check [source] and [source.librdkafka])")?;
    let topics: Vec<&str> = source.topics.iter().map(String::as_str).collect();
    consumer.subscribe(&topics).with_context(|| format!("subscribing to {topics:?}"))?;
    Ok(consumer)
}
