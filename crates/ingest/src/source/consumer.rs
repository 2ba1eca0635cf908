//! The rdkafka consumer and its rebalance handling.
//!
//! On revocation the callback (which librdkafka runs inside `recv`, on the main loop)
//! waits until the batches of the revoked partitions already being written are durable,
//! commits them synchronously, and only then lets the partitions go; batches still open
//! are dropped uncommitted (the next owner reads them again). If the sinks cannot finish
//! within the shutdown timeout, the work is abandoned without committing.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer as _, ConsumerContext, Rebalance, StreamConsumer};
use rdkafka::{ClientContext, Offset, TopicPartitionList};
use tokio::sync::mpsc::UnboundedSender;

use crate::commit::{Partition, Progress};

/// The consumer type of the runner.
pub type Consumer = StreamConsumer<GroupContext>;

/// A change of assignment, for the main loop.
#[derive(Debug)]
pub enum RebalanceEvent {
    /// These partitions are now ours, from their committed offsets.
    Assigned(Vec<Partition>),
    /// These partitions are no longer ours; their in-flight work was committed or abandoned.
    Revoked(Vec<Partition>),
}

/// Consumer context: drains and commits on revocation, reports assignment changes.
pub struct GroupContext {
    progress: Arc<Mutex<Progress>>,
    events: UnboundedSender<RebalanceEvent>,
    drain_timeout: Duration,
}

impl ClientContext for GroupContext {
    fn error(&self, error: rdkafka::error::KafkaError, reason: &str) {
        // Reaching a partition's end is how a scheduled run knows it is done, not an error.
        use rdkafka::error::{KafkaError, RDKafkaErrorCode};
        if !matches!(error, KafkaError::PartitionEOF(_) | KafkaError::Global(RDKafkaErrorCode::PartitionEOF)) {
            tracing::error!(%error, reason, "Kafka client error");
        }
    }
}

impl ConsumerContext for GroupContext {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        let Rebalance::Revoke(tpl) = rebalance else { return };
        let parts = partitions(tpl);
        let deadline = Instant::now() + self.drain_timeout;
        loop {
            let busy = {
                let p = self.progress.lock().unwrap_or_else(|e| e.into_inner());
                parts.iter().map(|tp| p.in_flight(tp)).sum::<usize>()
            };
            if busy == 0 {
                break;
            }
            if Instant::now() >= deadline {
                tracing::warn!(batches = busy, "revoked partitions still being written after {:?}; abandoning them uncommitted", self.drain_timeout);
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let mut p = self.progress.lock().unwrap_or_else(|e| e.into_inner());
        let commit: Vec<(Partition, i64)> = p.to_commit().into_iter().filter(|(tp, _)| parts.contains(tp)).collect();
        if !commit.is_empty() {
            match commit_offsets(consumer, &commit, CommitMode::Sync) {
                Ok(()) => tracing::info!(partitions = commit.len(), "committed revoked partitions"),
                Err(e) => tracing::warn!(error = %e, "commit on revocation failed; the next owner re-reads from the last commit"),
            }
        }
        for tp in &parts {
            p.forget(tp);
        }
        let _ = self.events.send(RebalanceEvent::Revoked(parts));
    }

    fn post_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Assign(tpl) = rebalance {
            let _ = self.events.send(RebalanceEvent::Assigned(partitions(tpl)));
        }
    }
}

fn partitions(tpl: &TopicPartitionList) -> Vec<Partition> {
    tpl.elements().iter().map(|e| (e.topic().to_string(), e.partition())).collect()
}

/// Commits `(partition, next offset)` pairs.
pub fn commit_offsets<C: ConsumerContext, K: rdkafka::consumer::Consumer<C> + ?Sized>(
    consumer: &K,
    offsets: &[(Partition, i64)],
    mode: CommitMode,
) -> rdkafka::error::KafkaResult<()> {
    let mut tpl = TopicPartitionList::new();
    for ((topic, partition), offset) in offsets {
        tpl.add_partition_offset(topic, *partition, Offset::Offset(*offset))?;
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
) -> anyhow::Result<Consumer> {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", &source.brokers)
        .set("group.id", &source.group_id)
        .set("auto.offset.reset", "earliest")
        .set("max.poll.interval.ms", "600000");
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
    let context = GroupContext { progress, events, drain_timeout };
    let consumer: Consumer = config.create_with_context(context).context("creating the Kafka consumer (check [source] and [source.librdkafka])")?;
    let topics: Vec<&str> = source.topics.iter().map(String::as_str).collect();
    consumer.subscribe(&topics).with_context(|| format!("subscribing to {topics:?}"))?;
    Ok(consumer)
}
