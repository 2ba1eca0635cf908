//! The run loop: consume, batch, dispatch, commit; scheduled (`--until-caught-up`) and
//! continuous modes; backpressure; SIGINT/SIGTERM.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use rdkafka::consumer::{CommitMode, Consumer as _};
use rdkafka::error::KafkaError;
use rdkafka::message::Message as _;
use rdkafka::{Offset, TopicPartitionList};
use tokio::sync::mpsc;
use tracing::Instrument as _;

use super::config::Pipeline;
use super::process::{process, Sinks};
use super::summary::Summary;
use crate::batch::{Batcher, Limits, RawBatch};
use crate::commit::{Partition, Progress};
use crate::metrics::{Metrics, PartitionLabel};
use crate::source::{build_consumer, commit_offsets, Consumer, RebalanceEvent};

/// How a run behaves.
#[derive(Debug, Clone, Copy)]
pub struct RunOptions {
    /// Stop once every assigned partition reached the high watermark seen at start.
    pub until_caught_up: bool,
    /// Draw a progress bar (on a terminal) instead of periodic progress log lines.
    pub progress_bar: bool,
}

/// How often open batches are checked for age, progress reported and offsets committed.
const TICK: Duration = Duration::from_millis(200);
/// A scheduled run that has had no partition for this long has nothing to do.
const IDLE_EXIT: Duration = Duration::from_secs(20);

type Done = (Arc<RawBatch>, anyhow::Result<Summary>);

/// The state of one run.
struct Run {
    consumer: Arc<Consumer>,
    sinks: Arc<Sinks>,
    progress: Arc<Mutex<Progress>>,
    metrics: Arc<Metrics>,
    batcher: Batcher,
    done_tx: mpsc::UnboundedSender<Done>,
    /// Partitions assigned, and whether their ledger ranges were loaded.
    assigned: HashMap<Partition, bool>,
    /// Next offset to read per partition.
    positions: HashMap<Partition, i64>,
    /// Partitions whose end the consumer reached (no message since).
    at_end: HashSet<Partition>,
    /// High watermarks seen at start (scheduled runs).
    targets: HashMap<Partition, i64>,
    in_flight_bytes: usize,
    max_in_flight: usize,
    paused: bool,
    summary: Summary,
}

/// Runs `pipeline` until caught up, a signal, or a failure.
///
/// # Errors
/// Any failure to set up a sink or the consumer, or a batch that stays unwritable for the
/// retry timeout; the message says which.
pub async fn run(pipeline: Pipeline, options: RunOptions) -> anyhow::Result<Summary> {
    let started = Instant::now();
    let file = &pipeline.file;
    let metrics = Metrics::new(&file.name);
    if let Some(addr) = file.runtime.metrics_listen {
        let m = metrics.clone();
        tokio::spawn(async move {
            if let Err(e) = m.serve(addr).await {
                tracing::error!(%addr, error = %e, "metrics endpoint failed");
            }
        });
    }
    let schema = Arc::new(pipeline.schema.clone());
    let sinks = Arc::new(Sinks::open(&pipeline, schema, metrics.clone()).await?);
    let progress = Arc::new(Mutex::new(Progress::default()));
    let (events_tx, mut events) = mpsc::unbounded_channel();
    let consumer = Arc::new(build_consumer(&file.source, progress.clone(), events_tx, file.runtime.shutdown_timeout)?);
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<Done>();
    let limits = Limits { max_messages: file.batch.max_rows, max_bytes: file.batch.max_bytes, max_age: file.batch.max_age };
    let mut run = Run {
        consumer: consumer.clone(),
        sinks,
        progress,
        metrics,
        batcher: Batcher::new(limits),
        done_tx,
        assigned: HashMap::new(),
        positions: HashMap::new(),
        at_end: HashSet::new(),
        targets: HashMap::new(),
        in_flight_bytes: 0,
        max_in_flight: file.runtime.max_in_flight_bytes,
        paused: false,
        summary: Summary::default(),
    };
    if options.until_caught_up {
        run.targets = high_watermarks(consumer.clone(), &file.source.topics).await?;
        tracing::info!(partitions = run.targets.len(), messages = run.targets.values().sum::<i64>(), "scheduled run: reading up to the current high watermarks");
    }
    let report = crate::cli::progress::Reporter::new(options.progress_bar, &run.targets);
    let mut tick = tokio::time::interval(TICK);
    let shutdown = shutdown_signal();
    tokio::pin!(shutdown);
    let mut last_assignment = Instant::now();
    let outcome: anyhow::Result<()> = loop {
        tokio::select! {
            biased;
            _ = &mut shutdown => {
                tracing::info!("signal received: finishing in-flight batches");
                break Ok(());
            }
            Some(event) = events.recv() => run.rebalance(event).await?,
            Some((batch, result)) = done_rx.recv() => {
                if let Err(e) = run.completed(&batch, result) {
                    break Err(e);
                }
            }
            // Polled even while paused: librdkafka serves rebalances inside `recv`, and a
            // member that stops polling stalls its whole group.
            message = consumer.recv() => {
                let message = match message {
                    Err(KafkaError::PartitionEOF(partition)) => {
                        run.reached_end(partition);
                        continue;
                    }
                    other => other.context("reading from Kafka")?,
                };
                let tp = (message.topic().to_string(), message.partition());
                let payload = message.payload().map(<[u8]>::to_vec).unwrap_or_default();
                let offset = message.offset();
                drop(message);
                // librdkafka reports a rebalance inside `recv`, before the messages it
                // brings: handle it first, so every message meets the assignment it belongs to.
                while let Ok(event) = events.try_recv() {
                    run.rebalance(event).await?;
                }
                run.message(tp, offset, payload).await?;
            }
            _ = tick.tick() => {
                for batch in run.batcher.cut_aged(Instant::now()) {
                    run.dispatch(batch);
                }
                if options.until_caught_up {
                    run.cut_caught_up();
                    if run.caught_up() {
                        tracing::info!("caught up with the high watermarks of the start");
                        break Ok(());
                    }
                    if run.assigned.is_empty() && last_assignment.elapsed() > IDLE_EXIT {
                        tracing::info!("no partition assigned for {IDLE_EXIT:?}: nothing to do");
                        break Ok(());
                    }
                }
                if !run.assigned.is_empty() {
                    last_assignment = Instant::now();
                }
                run.commit(CommitMode::Async);
                run.update_lag();
                report.update(&run.summary, &run.positions);
            }
        }
    };
    // Finish: dispatch what is open, wait for every batch in flight (bounded), commit.
    for batch in run.batcher.cut_all() {
        run.dispatch(batch);
    }
    let deadline = Instant::now() + pipeline.file.runtime.shutdown_timeout;
    let mut failure = outcome.err();
    while run.progress.lock().unwrap_or_else(|e| e.into_inner()).total_in_flight() > 0 {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, done_rx.recv()).await {
            Ok(Some((batch, result))) => {
                if let Err(e) = run.completed(&batch, result) {
                    failure.get_or_insert(e);
                }
            }
            _ => {
                failure.get_or_insert_with(|| anyhow::anyhow!("batches still in flight after the shutdown timeout of {:?}; they were not committed and will be read again", pipeline.file.runtime.shutdown_timeout));
                break;
            }
        }
    }
    run.commit(CommitMode::Sync);
    report.finish();
    run.summary.elapsed = started.elapsed();
    match failure {
        Some(e) => Err(e),
        None => Ok(run.summary),
    }
}

impl Run {
    async fn rebalance(&mut self, event: RebalanceEvent) -> anyhow::Result<()> {
        match event {
            RebalanceEvent::Assigned(parts) => {
                tracing::info!(?parts, "partitions assigned");
                let committed = committed_offsets(self.consumer.clone(), parts.clone()).await?;
                let mut progress = self.progress.lock().unwrap_or_else(|e| e.into_inner());
                for tp in parts {
                    if let Some(&offset) = committed.get(&tp) {
                        progress.committed(&tp, offset);
                        self.positions.insert(tp.clone(), offset);
                    }
                    self.assigned.insert(tp, false);
                }
            }
            RebalanceEvent::Revoked(parts) => {
                tracing::info!(?parts, "partitions revoked");
                for tp in &parts {
                    self.batcher.forget(tp);
                    self.assigned.remove(tp);
                    self.positions.remove(tp);
                    self.at_end.remove(tp);
                }
            }
        }
        Ok(())
    }

    async fn message(&mut self, tp: Partition, offset: i64, payload: Vec<u8>) -> anyhow::Result<()> {
        let Some(&ledger_loaded) = self.assigned.get(&tp) else {
            // Fetched before a revocation: the partition's next owner reads it again.
            return Ok(());
        };
        if !ledger_loaded {
            // First message since assignment: rebuild the batches an earlier run started.
            let ranges = self.sinks.ledger.ranges_from(&tp.0, tp.1, offset).await.context("reading the batch ledger")?;
            if !ranges.is_empty() {
                tracing::info!(topic = %tp.0, partition = tp.1, batches = ranges.len(), "replaying batches an earlier run started, with the same boundaries");
            }
            self.batcher.force(&tp, ranges);
            self.assigned.insert(tp.clone(), true);
        }
        self.metrics.messages_consumed.inc();
        self.metrics.bytes_consumed.inc_by(payload.len() as u64);
        self.positions.insert(tp.clone(), offset + 1);
        self.at_end.remove(&tp);
        for batch in self.batcher.push(&tp, offset, payload) {
            self.dispatch(batch);
        }
        self.backpressure();
        Ok(())
    }

    fn dispatch(&mut self, batch: RawBatch) {
        let batch = Arc::new(batch);
        self.progress.lock().unwrap_or_else(|e| e.into_inner()).dispatched(&(batch.id.topic.clone(), batch.id.partition), batch.id.first_offset, batch.id.last_offset);
        self.in_flight_bytes += batch.bytes;
        self.metrics.batch_messages.observe(batch.messages.len() as f64);
        self.metrics.batch_bytes.observe(batch.bytes as f64);
        let (sinks, done, progress) = (self.sinks.clone(), self.done_tx.clone(), self.progress.clone());
        let span = tracing::info_span!("batch", topic = %batch.id.topic, partition = batch.id.partition, first = batch.id.first_offset, last = batch.id.last_offset, messages = batch.messages.len());
        tokio::spawn(async move {
            let result = process(sinks, batch.clone()).instrument(span).await;
            if result.is_ok() {
                // Marked here, not in the main loop: a revocation waits for it while the
                // main loop is blocked inside `recv`.
                progress.lock().unwrap_or_else(|e| e.into_inner()).completed(&(batch.id.topic.clone(), batch.id.partition), batch.id.first_offset);
            }
            let _ = done.send((batch, result));
        });
        self.backpressure();
    }

    fn completed(&mut self, batch: &RawBatch, result: anyhow::Result<Summary>) -> anyhow::Result<()> {
        self.in_flight_bytes -= batch.bytes;
        let summary = result?;
        self.summary.add(&summary);
        self.commit(CommitMode::Async);
        self.backpressure();
        Ok(())
    }

    /// Pauses consumption while in-flight data is at the limit; resumes below 3/4 of it.
    fn backpressure(&mut self) {
        let used = self.in_flight_bytes + self.batcher.open_bytes();
        self.metrics.in_flight_bytes.set(used as i64);
        let pause = !self.paused && used >= self.max_in_flight;
        let resume = self.paused && used < self.max_in_flight / 4 * 3;
        if !(pause || resume) {
            return;
        }
        let Ok(assignment) = self.consumer.assignment() else { return };
        if pause {
            tracing::debug!(used, "in-flight limit reached: pausing consumption");
            self.paused = self.consumer.pause(&assignment).is_ok();
        } else {
            self.paused = self.consumer.resume(&assignment).is_err();
        }
    }

    fn commit(&mut self, mode: CommitMode) {
        let mut progress = self.progress.lock().unwrap_or_else(|e| e.into_inner());
        let offsets = progress.to_commit();
        if offsets.is_empty() {
            return;
        }
        match commit_offsets(self.consumer.as_ref(), &offsets, mode) {
            Ok(()) => {
                for (tp, offset) in &offsets {
                    progress.committed(tp, *offset);
                    self.metrics.committed_offset.get_or_create(&PartitionLabel { topic: tp.0.clone(), partition: tp.1 }).set(*offset);
                }
            }
            Err(e) => tracing::warn!(error = %e, "offset commit failed; it is retried on the next tick"),
        }
    }

    /// The consumer read everything partition number `partition` has now (librdkafka does
    /// not say of which topic: every assigned topic's partition of that number counts).
    fn reached_end(&mut self, partition: i32) {
        let ends: Vec<Partition> = self.assigned.keys().filter(|tp| tp.1 == partition).cloned().collect();
        self.at_end.extend(ends);
    }

    /// A partition is done in a scheduled run when it has read past the high watermark of
    /// the start *and* reached its end: brokers that under-report the watermark (tansu does)
    /// must not stop a run early.
    fn reached_target(&self, tp: &Partition) -> bool {
        let position = self.positions.get(tp).copied().or_else(|| self.progress.lock().unwrap_or_else(|e| e.into_inner()).committed_offset(tp)).unwrap_or(0);
        self.at_end.contains(tp) && self.targets.get(tp).is_none_or(|t| position >= *t)
    }

    /// Scheduled runs: cut the open batch of a partition that is done reading.
    fn cut_caught_up(&mut self) {
        let reached: Vec<Partition> = self.assigned.keys().filter(|tp| self.reached_target(tp)).cloned().collect();
        let mut cut = Vec::new();
        for tp in reached {
            cut.extend(self.batcher.cut_partition(&tp));
        }
        for batch in cut {
            self.dispatch(batch);
        }
    }

    /// Every assigned partition is done reading and has committed all it read.
    fn caught_up(&self) -> bool {
        if self.assigned.is_empty() {
            return false;
        }
        self.assigned.keys().all(|tp| {
            let committed = self.progress.lock().unwrap_or_else(|e| e.into_inner()).committed_offset(tp);
            let read = self.positions.get(tp).copied();
            self.reached_target(tp) && match (read, committed) {
                (Some(r), Some(c)) => c >= r,
                (Some(_), None) => false,
                (None, _) => true,
            }
        })
    }

    fn update_lag(&self) {
        for (tp, pos) in &self.positions {
            if let Some(target) = self.targets.get(tp) {
                self.metrics.consumer_lag.get_or_create(&PartitionLabel { topic: tp.0.clone(), partition: tp.1 }).set((target - pos).max(0));
            }
        }
    }
}

/// High watermarks of every partition of `topics`.
async fn high_watermarks(consumer: Arc<Consumer>, topics: &[String]) -> anyhow::Result<HashMap<Partition, i64>> {
    let topics = topics.to_vec();
    tokio::task::spawn_blocking(move || {
        let mut out = HashMap::new();
        for topic in &topics {
            let md = consumer.fetch_metadata(Some(topic), Duration::from_secs(30)).with_context(|| format!("reading metadata of topic {topic}"))?;
            let Some(t) = md.topics().iter().find(|t| t.name() == topic) else { bail!("topic {topic} does not exist") };
            if t.partitions().is_empty() {
                bail!("topic {topic} does not exist or has no partitions");
            }
            for p in t.partitions() {
                let (_, high) = consumer.fetch_watermarks(topic, p.id(), Duration::from_secs(30)).with_context(|| format!("reading watermarks of {topic}[{}]", p.id()))?;
                out.insert((topic.clone(), p.id()), high);
            }
        }
        Ok(out)
    })
    .await?
}

/// Committed offsets of `parts` (absent where the group has none yet).
async fn committed_offsets(consumer: Arc<Consumer>, parts: Vec<Partition>) -> anyhow::Result<HashMap<Partition, i64>> {
    tokio::task::spawn_blocking(move || {
        let mut tpl = TopicPartitionList::new();
        for (t, p) in &parts {
            tpl.add_partition(t, *p);
        }
        let committed = consumer.committed_offsets(tpl, Duration::from_secs(30)).context("reading committed offsets")?;
        let seen: HashSet<Partition> = parts.into_iter().collect();
        Ok(committed
            .elements()
            .iter()
            .filter_map(|e| match e.offset() {
                Offset::Offset(o) => Some(((e.topic().to_string(), e.partition()), o)),
                _ => None,
            })
            .filter(|(tp, _)| seen.contains(tp))
            .collect())
    })
    .await?
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => return ctrl_c.await.unwrap_or_default(),
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    ctrl_c.await.unwrap_or_default();
}
