//! The run loop: consume, batch, dispatch, commit; scheduled (`--until-caught-up`) and
//! continuous modes; backpressure; SIGINT/SIGTERM.
//!
//! States, each a named type with one function per transition:
//! - the run: [`Flow`] — `Consuming`, or `Paused` by backpressure;
//! - each assigned partition: [`Stage`] — `Joined` (the ledger is read with its first
//!   message), `Replaying` (cutting at boundaries an earlier run recorded), `Consuming`;
//! - each dispatched batch: in flight in [`Progress`] under its partition's epoch, until it
//!   is durable (committable), failed (the run ends), or abandoned (the partition was lost,
//!   or shutdown ran out of time: its task is aborted and nothing of it is committed).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context as _};
use rdkafka::consumer::{CommitMode, Consumer as _};
use rdkafka::error::KafkaError;
use rdkafka::message::Message as _;
use rdkafka::{Offset, TopicPartitionList};
use tokio::sync::{mpsc, watch, Semaphore};
use tracing::Instrument as _;

use super::config::Pipeline;
use super::process::{process, Sinks};
use super::retry::{class, kafka_class, kafka_request, retrying, Decision, Retry};
use super::summary::Summary;
use crate::batch::{Batcher, Limits, RawBatch};
use crate::commit::{Partition, Progress, Ticket};
use crate::exit::Failure;
use crate::metrics::{Metrics, PartitionLabel};
use crate::source::{build_consumer, check_brokers, commit_offsets, Consumer, Fenced, Owner, RebalanceEvent};

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
/// A scheduled run that has had no partition for this long stops: done when the group has
/// nothing left to read, a failure when messages are left that nobody reads.
const IDLE_EXIT: Duration = Duration::from_secs(20);
/// A partition at its end this long inside a range the ledger recorded has lost messages.
const ENDED_INSIDE_RECORDED: Duration = Duration::from_secs(5);
/// After a signal, the process exits this long past `shutdown_timeout` whatever is left.
const HARD_EXIT_GRACE: Duration = Duration::from_secs(5);

/// How a dispatched batch ended.
enum Outcome {
    Durable(Summary),
    Failed(anyhow::Error),
    /// Its task was aborted, or it finished for an ownership that is over: not committed.
    Abandoned,
}

/// A batch's end, reported to the main loop.
struct Done {
    bytes: usize,
    outcome: Outcome,
}

/// Sends the batch's [`Done`] when its task ends, also when the task is aborted.
struct Reporter {
    bytes: usize,
    outcome: Option<Outcome>,
    tx: mpsc::UnboundedSender<Done>,
    progress: Arc<Mutex<Progress>>,
    tp: Partition,
    ticket: Ticket,
}

impl Drop for Reporter {
    fn drop(&mut self) {
        let outcome = match self.outcome.take() {
            Some(outcome) => outcome,
            // Unwinding from a panic in the batch's work: a failure, not an abort.
            None if std::thread::panicking() => Outcome::Failed(anyhow!("the task writing batch {}[{}] {}..={} panicked", self.tp.topic, self.tp.partition, self.ticket.first, self.ticket.last)),
            None => Outcome::Abandoned,
        };
        if matches!(outcome, Outcome::Failed(_)) {
            self.progress.lock().unwrap_or_else(|e| e.into_inner()).failed(&self.tp, self.ticket);
        }
        let _ = self.tx.send(Done { bytes: self.bytes, outcome });
    }
}

/// Consumption as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    Consuming,
    /// Paused: in-flight bytes reached `max_in_flight_bytes`.
    Paused,
}

/// Where an assigned partition stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Assigned; the ledger's ranges are read with its first message.
    Joined,
    /// Cutting batches at the boundaries an earlier run recorded, up to offset `until`.
    Replaying { until: i64 },
    /// Cutting batches by the limits.
    Consuming,
}

/// One assigned partition.
#[derive(Debug)]
struct Owned {
    stage: Stage,
    /// Next offset to read, once known: the committed offset, then past each message (and
    /// past control records or deleted messages when the partition's end is reached).
    next: Option<i64>,
    /// One past the last message read, if any was.
    read: Option<i64>,
    /// Since when the consumer is at the partition's end (no message came since).
    at_end: Option<Instant>,
}

/// The state of one run.
struct Run {
    consumer: Arc<Consumer>,
    sinks: Arc<Sinks>,
    progress: Arc<Mutex<Progress>>,
    metrics: Arc<Metrics>,
    batcher: Batcher,
    done_tx: mpsc::UnboundedSender<Done>,
    owned: HashMap<Partition, Owned>,
    /// High watermarks seen at start (scheduled runs).
    targets: HashMap<Partition, i64>,
    in_flight_bytes: usize,
    max_in_flight: usize,
    flow: Flow,
    group: String,
    summary: Summary,
    /// Permits of `[runtime] max_concurrent_batches`: batches being decoded and written.
    turns: Arc<Semaphore>,
    /// This process run's name in the ledger (with each ownership's epoch).
    writer: String,
    /// `[runtime] shutdown_timeout`: how long batches in flight get after a signal.
    shutdown_timeout: Duration,
}

/// Runs `pipeline` until caught up, a signal, or a failure.
///
/// # Errors
/// Any failure to set up a sink or the consumer, a batch that cannot be made durable, a
/// scheduled run that cannot read its partitions, or a signal that stopped the run before
/// every batch was durable; each carries its [`Failure`] class.
pub async fn run(pipeline: Pipeline, options: RunOptions) -> anyhow::Result<Summary> {
    let started = Instant::now();
    let file = &pipeline.file;
    let shutdown_timeout = file.runtime.shutdown_timeout;
    let metrics = Metrics::new(&file.name);
    if let Some(addr) = file.runtime.metrics_listen {
        let m = metrics.clone();
        tokio::spawn(async move {
            if let Err(e) = m.serve(addr).await {
                tracing::error!(%addr, error = %e, "metrics endpoint failed");
            }
        });
    }
    let mut stop = watch_signals(shutdown_timeout);
    let schema = Arc::new(pipeline.schema.clone());
    let opened = tokio::select! {
        opened = Sinks::open(&pipeline, schema, metrics.clone()) => opened,
        _ = stop.changed() => return Ok(stopped_before_reading(started)),
    };
    let sinks = Arc::new(opened.map_err(|e| {
        let failure = match class(&e) {
            sink::ErrorClass::Transient => Failure::Unavailable,
            _ => Failure::Permanent,
        };
        e.context(failure)
    })?);
    let progress = Arc::new(Mutex::new(Progress::default()));
    let (events_tx, mut events) = mpsc::unbounded_channel();
    tokio::task::block_in_place(|| check_brokers(&file.source, BROKER_CHECK))?;
    let consumer = Arc::new(build_consumer(&file.source, progress.clone(), events_tx, shutdown_timeout, file.runtime.retry_timeout).context(Failure::Permanent)?);
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<Done>();
    let limits = Limits { max_messages: file.batch.max_messages, max_bytes: file.batch.max_bytes, max_age: file.batch.max_age };
    let mut run = Run {
        consumer: consumer.clone(),
        sinks,
        progress,
        metrics,
        batcher: Batcher::new(limits),
        done_tx,
        owned: HashMap::new(),
        targets: HashMap::new(),
        in_flight_bytes: 0,
        max_in_flight: file.runtime.max_in_flight_bytes,
        flow: Flow::Consuming,
        group: file.source.group_id.clone(),
        summary: Summary::default(),
        turns: Arc::new(Semaphore::new(file.runtime.max_concurrent_batches)),
        writer: process_name(),
        shutdown_timeout,
    };
    if options.until_caught_up {
        run.targets = tokio::select! {
            targets = high_watermarks(consumer.clone(), &file.source.topics, file.runtime.retry_timeout) => targets?,
            _ = stop.changed() => return Ok(stopped_before_reading(started)),
        };
        tracing::info!(partitions = run.targets.len(), messages = run.targets.values().sum::<i64>(), "scheduled run: reading up to the current high watermarks");
    }
    let report = crate::cli::progress::Reporter::new(options.progress_bar, &run.targets);
    let ending = run.consume(&mut stop, &mut events, &mut done_rx, options.until_caught_up, &report).await;
    let signalled = matches!(ending, Ending::Signal);
    let mut failure = match ending {
        Ending::Failed(e) => Some(e),
        Ending::CaughtUp | Ending::Signal => {
            for batch in run.batcher.cut_all() {
                run.dispatch(batch);
            }
            None
        }
    };
    let deadline = Instant::now() + shutdown_timeout;
    if let Some(e) = run.drain(&mut done_rx, deadline, signalled).await {
        failure.get_or_insert(e);
    }
    // Within what is left of the shutdown timeout after a signal.
    let commit_timeout = if signalled { deadline.saturating_duration_since(Instant::now()) } else { run.sinks.retry_timeout };
    if let Some(e) = run.final_commit(commit_timeout).await {
        failure.get_or_insert(e);
    }
    report.finish();
    run.summary.elapsed = started.elapsed();
    match failure {
        Some(e) => Err(e),
        None => Ok(run.summary),
    }
}

/// The summary of a run a signal stopped while it was still connecting (retrying an
/// unavailable sink or broker): nothing was read, so nothing is left to commit.
fn stopped_before_reading(started: Instant) -> Summary {
    tracing::info!("signal received before reading began: stopping; nothing was read");
    Summary { elapsed: started.elapsed(), ..Summary::default() }
}

/// Why consumption ended.
enum Ending {
    /// Caught up with the start's high watermarks (scheduled run), or nothing to read.
    CaughtUp,
    /// A signal asked to stop.
    Signal,
    Failed(anyhow::Error),
}

impl Run {
    /// Consumes, batches and dispatches until caught up (`until_caught_up`), a signal, or a
    /// failure.
    async fn consume(
        &mut self,
        stop: &mut watch::Receiver<()>,
        events: &mut mpsc::UnboundedReceiver<RebalanceEvent>,
        done_rx: &mut mpsc::UnboundedReceiver<Done>,
        until_caught_up: bool,
        report: &crate::cli::progress::Reporter,
    ) -> Ending {
        let consumer = self.consumer.clone();
        let mut tick = tokio::time::interval(TICK);
        let mut last_owned = Instant::now();
        loop {
            tokio::select! {
                biased;
                _ = stop.changed() => {
                    tracing::info!("signal received: finishing in-flight batches (at most {:?})", self.shutdown_timeout);
                    return Ending::Signal;
                }
                Some(event) = events.recv() => if let Err(e) = self.rebalance(event).await { return Ending::Failed(e) },
                Some(done) = done_rx.recv() => if let Err(e) = self.completed(done) { return Ending::Failed(e) },
                // Polled even while paused: librdkafka serves rebalances inside `recv`, and a
                // member that stops polling stalls its whole group.
                message = consumer.recv() => {
                    let message = match message {
                        Ok(m) => m,
                        Err(KafkaError::PartitionEOF(partition)) => {
                            self.reached_end(partition).await;
                            continue;
                        }
                        Err(e) if kafka_class(&e) == sink::ErrorClass::Permanent => {
                            return Ending::Failed(anyhow::Error::new(e).context("reading from Kafka (check [source] and [source.librdkafka])").context(Failure::Permanent));
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "reading from Kafka failed; librdkafka retries");
                            continue;
                        }
                    };
                    let tp = Partition::new(message.topic(), message.partition());
                    let payload = message.payload().map(<[u8]>::to_vec).unwrap_or_default();
                    let offset = message.offset();
                    drop(message);
                    // librdkafka reports a rebalance inside `recv`, before the messages it
                    // brings: handle it first, so every message meets the assignment it belongs to.
                    let mut failed = None;
                    while let Ok(event) = events.try_recv() {
                        if let Err(e) = self.rebalance(event).await {
                            failed = Some(e);
                        }
                    }
                    if let Some(e) = failed {
                        return Ending::Failed(e);
                    }
                    if let Err(e) = self.message(tp, offset, payload).await {
                        return Ending::Failed(e);
                    }
                }
                _ = tick.tick() => {
                    for batch in self.batcher.cut_aged(Instant::now()) {
                        self.dispatch(batch);
                    }
                    if !self.owned.is_empty() {
                        last_owned = Instant::now();
                    }
                    if let Err(e) = self.check_recorded_ends() {
                        return Ending::Failed(e);
                    }
                    if until_caught_up {
                        self.cut_caught_up();
                        if self.caught_up() {
                            tracing::info!("caught up with the high watermarks of the start");
                            return Ending::CaughtUp;
                        }
                        if self.owned.is_empty() && last_owned.elapsed() > IDLE_EXIT {
                            return self.unassigned().await.map_or_else(Ending::Failed, |()| Ending::CaughtUp);
                        }
                    }
                    let _ = self.commit(CommitMode::Async);
                    self.backpressure();
                    self.update_lag();
                    report.update(&self.summary, &self.lag_positions(), &self.status());
                }
            }
        }
    }

    /// Waits for the batches in flight until `deadline`, all at once now, then gives up what
    /// is left, uncommitted; the first failure of a batch, or of a drain cut short after a
    /// signal.
    async fn drain(&mut self, done_rx: &mut mpsc::UnboundedReceiver<Done>, deadline: Instant, signalled: bool) -> Option<anyhow::Error> {
        let mut failure = None;
        self.turns.add_permits(self.in_flight());
        while self.in_flight() > 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, done_rx.recv()).await {
                Ok(Some(done)) => {
                    if let Err(e) = self.completed(done) {
                        failure.get_or_insert(e);
                    }
                }
                _ => {
                    let batches = self.in_flight();
                    self.progress.lock().unwrap_or_else(|e| e.into_inner()).forget_all();
                    tracing::warn!(batches, "batches still in flight after the shutdown timeout of {:?}: abandoned uncommitted; the next run writes them", self.shutdown_timeout);
                    if failure.is_none() && signalled {
                        let timeout = self.shutdown_timeout;
                        failure = Some(anyhow!("stopped by a signal with {batches} batch(es) not yet durable after `[runtime] shutdown_timeout` ({timeout:?}); they were not committed and the next run writes them").context(Failure::Interrupted));
                    }
                    break;
                }
            }
        }
        failure
    }

    /// The last commit, waited for: exit 0 only once the broker holds it. Retried like any
    /// transient failure, for `timeout`.
    async fn final_commit(&mut self, timeout: Duration) -> Option<anyhow::Error> {
        let mut retry = Retry::new(timeout);
        while let Err(e) = self.commit(CommitMode::Sync) {
            use rdkafka::error::RDKafkaErrorCode as C;
            if let KafkaError::ConsumerCommit(C::UnknownMemberId | C::IllegalGeneration | C::FencedInstanceId) = e {
                // The group dropped this member (its session lapsed): it may not commit, and its
                // partitions' next owner starts from the last commit. What was written is
                // recorded done in the ledger, so that owner skips it instead of writing it twice.
                tracing::warn!(error = %e, "the group no longer has this member: offsets of written batches not committed; the next owner skips them through the ledger");
                return None;
            }
            let e = anyhow::Error::new(e).context("committing the offsets of the batches written (the next run writes them again, deduplicated)");
            match retry.decide(&e) {
                Decision::Retry(wait) => tokio::time::sleep(wait).await,
                Decision::Fail(class) => return Some(e.context(class)),
            }
        }
        None
    }

    async fn rebalance(&mut self, event: RebalanceEvent) -> anyhow::Result<()> {
        match event {
            RebalanceEvent::Assigned(parts) => {
                tracing::info!(?parts, "partitions assigned");
                let mut progress = self.progress.lock().unwrap_or_else(|e| e.into_inner());
                for (tp, next) in parts {
                    progress.assign(&tp, next);
                    self.owned.insert(tp, Owned { stage: Stage::Joined, next, read: None, at_end: None });
                }
            }
            RebalanceEvent::Failed(e) => return Err(e),
            RebalanceEvent::Revoked(parts) => {
                tracing::info!(?parts, "partitions revoked");
                for tp in &parts {
                    self.batcher.forget(tp);
                    self.owned.remove(tp);
                }
            }
        }
        Ok(())
    }

    async fn message(&mut self, tp: Partition, offset: i64, payload: Vec<u8>) -> anyhow::Result<()> {
        let Some(owned) = self.owned.get(&tp) else {
            // Fetched before a revocation: the partition's next owner reads it again.
            return Ok(());
        };
        if owned.stage == Stage::Joined {
            // First message since assignment: rebuild the batches an earlier run started.
            let ledger = &self.sinks.ledger;
            let ranges = retrying("reading the batch ledger", self.sinks.retry_timeout, || async { ledger.ranges_from(&tp.topic, tp.partition, offset).await.map_err(anyhow::Error::new) }).await?;
            let stage = match ranges.iter().map(|&(_, last)| last).max() {
                Some(until) => {
                    tracing::info!(topic = %tp.topic, partition = tp.partition, batches = ranges.len(), until, "replaying batches an earlier run started, with the same boundaries");
                    Stage::Replaying { until }
                }
                None => Stage::Consuming,
            };
            if let Err(crossing) = self.batcher.force(&tp, &ranges) {
                bail!(anyhow!(
                    "{}[{}]: the ledger {} holds {crossing}: a writer that lost the partition recorded an intent and stopped before marking it abandoned, \
                     beside a batch another writer started. Which one was written cannot be told from the ledger: check the sinks at those offsets \
                     (`_topic`, `_partition`, `_offset`), then mark the unwritten one abandoned (state 3)",
                    tp.topic,
                    tp.partition,
                    self.sinks.ledger.name()
                )
                .context(Failure::Conflict));
            }
            self.owned.get_mut(&tp).expect("owned").stage = stage;
        }
        if let Some(read) = self.owned[&tp].read.filter(|&r| offset < r) {
            bail!(anyhow!(
                "{}[{}] went back from offset {} to {offset} while being read: the topic was deleted and created again or truncated. \
                 Nothing of the new messages was written; ingest the new topic under another name or table",
                tp.topic,
                tp.partition,
                read - 1
            )
            .context(Failure::Conflict));
        }
        self.metrics.messages_consumed.inc();
        self.metrics.bytes_consumed.inc_by(payload.len() as u64);
        let owned = self.owned.get_mut(&tp).expect("owned");
        owned.next = Some(offset + 1);
        owned.read = Some(offset + 1);
        owned.at_end = None;
        if matches!(owned.stage, Stage::Replaying { until } if offset >= until) {
            owned.stage = Stage::Consuming;
        }
        for batch in self.batcher.push(&tp, offset, payload) {
            self.dispatch(batch);
        }
        self.backpressure();
        Ok(())
    }

    fn dispatch(&mut self, batch: RawBatch) {
        let tp = Partition::new(batch.id.topic.clone(), batch.id.partition);
        let Some(ticket) = self.progress.lock().unwrap_or_else(|e| e.into_inner()).dispatched(&tp, batch.id.first_offset, batch.id.last_offset) else {
            tracing::debug!(batch = %batch.id, "partition no longer assigned: batch dropped uncommitted");
            return;
        };
        self.in_flight_bytes += batch.bytes;
        self.metrics.batch_messages.observe(batch.messages.len() as f64);
        self.metrics.batch_bytes.observe(batch.bytes as f64);
        let reporter = Reporter { bytes: batch.bytes, outcome: None, tx: self.done_tx.clone(), progress: self.progress.clone(), tp: tp.clone(), ticket };
        let (sinks, progress) = (self.sinks.clone(), self.progress.clone());
        let span = tracing::info_span!("batch", topic = %batch.id.topic, partition = batch.id.partition, first = batch.id.first_offset, last = batch.id.last_offset, messages = batch.messages.len());
        let owner = Owner::new(self.consumer.clone(), progress.clone(), tp.clone(), ticket, &self.writer, self.sinks.retry_timeout);
        let task = tokio::spawn(write_batch(sinks, self.turns.clone(), Arc::new(batch), owner, reporter).instrument(span));
        progress.lock().unwrap_or_else(|e| e.into_inner()).running(&tp, ticket, task.abort_handle());
        self.backpressure();
    }

    fn completed(&mut self, done: Done) -> anyhow::Result<()> {
        self.in_flight_bytes -= done.bytes;
        match done.outcome {
            Outcome::Durable(summary) => self.summary.add(&summary),
            Outcome::Failed(e) => return Err(e),
            Outcome::Abandoned => {}
        }
        let _ = self.commit(CommitMode::Async);
        self.backpressure();
        Ok(())
    }

    fn in_flight(&self) -> usize {
        self.progress.lock().unwrap_or_else(|e| e.into_inner()).total_in_flight()
    }

    /// Pauses consumption while in-flight data is at the limit; resumes below 3/4 of it.
    fn backpressure(&mut self) {
        let used = self.in_flight_bytes + self.batcher.open_bytes();
        self.metrics.in_flight_bytes.set(used as i64);
        let next = match self.flow {
            Flow::Consuming if used >= self.max_in_flight => Flow::Paused,
            Flow::Paused if used < self.max_in_flight / 4 * 3 => Flow::Consuming,
            _ => return,
        };
        let Ok(assignment) = self.consumer.assignment() else { return };
        let changed = match next {
            Flow::Paused => {
                tracing::debug!(used, "in-flight limit reached: pausing consumption");
                self.consumer.pause(&assignment)
            }
            Flow::Consuming => self.consumer.resume(&assignment),
        };
        if changed.is_ok() {
            self.flow = next;
        }
    }

    /// Commits what may be committed and is not yet (asynchronously), or at `CommitMode::Sync`
    /// everything committable again, waiting for the broker's answer. The lock on the
    /// progress is not held while committing.
    fn commit(&mut self, mode: CommitMode) -> rdkafka::error::KafkaResult<()> {
        let offsets = {
            let progress = self.progress.lock().unwrap_or_else(|e| e.into_inner());
            match mode {
                CommitMode::Sync => progress.committable(),
                CommitMode::Async => progress.to_commit(),
            }
        };
        if offsets.is_empty() {
            return Ok(());
        }
        if let Err(e) = commit_offsets(self.consumer.as_ref(), &offsets, mode) {
            tracing::warn!(error = %e, "offset commit failed; it is retried on the next tick");
            return Err(e);
        }
        let mut progress = self.progress.lock().unwrap_or_else(|e| e.into_inner());
        for (tp, offset) in &offsets {
            progress.committed(tp, *offset);
            self.metrics.committed_offset.get_or_create(&PartitionLabel { topic: tp.topic.clone(), partition: tp.partition }).set(*offset);
        }
        Ok(())
    }

    /// The consumer read everything partition number `partition` of some topic has now.
    /// librdkafka does not say of which topic: when several assigned topics have a
    /// partition of that number, those whose position reached their high watermark (asked
    /// of the broker) are at their end. The next offset moves to librdkafka's position,
    /// which is past control records (transactions) and messages retention deleted.
    async fn reached_end(&mut self, partition: i32) {
        let candidates: Vec<Partition> = self.owned.keys().filter(|tp| tp.partition == partition).cloned().collect();
        let Ok(positions) = self.consumer.position() else { return };
        let position = |tp: &Partition| match positions.find_partition(&tp.topic, tp.partition).map(|e| e.offset()) {
            Some(Offset::Offset(o)) => Some(o),
            _ => None,
        };
        for tp in &candidates {
            let at = position(tp);
            if candidates.len() > 1 {
                let consumer = self.consumer.clone();
                let Partition { topic, partition: p } = tp.clone();
                let high = tokio::task::spawn_blocking(move || consumer.fetch_watermarks(&topic, p, Duration::from_secs(5)).ok().map(|(_, h)| h)).await.ok().flatten();
                if !matches!((at, high), (Some(a), Some(h)) if a >= h) {
                    continue;
                }
            }
            let owned = self.owned.get_mut(tp).expect("owned");
            owned.at_end.get_or_insert_with(Instant::now);
            if let Some(a) = at {
                owned.next = Some(owned.next.map_or(a, |n| n.max(a)));
            }
        }
    }

    /// A partition is done in a scheduled run when it has read past the high watermark of
    /// the start *and* reached its end: brokers that under-report the watermark (tansu does)
    /// must not stop a run early.
    fn reached_target(&self, tp: &Partition, owned: &Owned) -> bool {
        owned.at_end.is_some() && self.targets.get(tp).is_none_or(|t| owned.next.unwrap_or(0) >= *t)
    }

    /// Scheduled runs: cut the open batch of a partition that is done reading.
    fn cut_caught_up(&mut self) {
        let reached: Vec<Partition> = self.owned.iter().filter(|(tp, o)| self.reached_target(tp, o)).map(|(tp, _)| tp.clone()).collect();
        for tp in reached {
            if let Some(batch) = self.batcher.cut_partition(&tp) {
                self.dispatch(batch);
            }
        }
    }

    /// A partition that stays at its end inside a range the ledger recorded has lost
    /// messages an earlier run read there: the topic was recreated or truncated
    /// ([`Failure::Conflict`]). Checked in both modes: a continuous run would wait forever.
    fn check_recorded_ends(&self) -> anyhow::Result<()> {
        for (tp, owned) in &self.owned {
            let Stage::Replaying { until } = owned.stage else { continue };
            if owned.at_end.is_some_and(|since| since.elapsed() >= ENDED_INSIDE_RECORDED) {
                bail!(anyhow!(
                    "{}[{}] ends at offset {}, but the ledger records batches up to offset {until} that an earlier run read there: \
                     the topic was deleted and created again, truncated, or the brokers are another cluster's. Nothing was written for these offsets; \
                     ingest the new topic under another name or table (the ledger {} and the sinks' deduplication remember the old one's batches)",
                    tp.topic,
                    tp.partition,
                    owned.next.unwrap_or(0),
                    self.sinks.ledger.name()
                )
                .context(Failure::Conflict));
            }
        }
        Ok(())
    }

    /// Every assigned partition is done reading and has committed all it read.
    fn caught_up(&self) -> bool {
        if self.owned.is_empty() {
            return false;
        }
        let progress = self.progress.lock().unwrap_or_else(|e| e.into_inner());
        self.owned.iter().all(|(tp, o)| {
            self.reached_target(tp, o) && match (o.read, progress.committed_offset(tp)) {
                (Some(r), Some(c)) => c >= r,
                (Some(_), None) => false,
                (None, _) => true,
            }
        })
    }

    /// A scheduled run got no partition for [`IDLE_EXIT`]: done when the group has committed
    /// everything up to the watermarks of the start; otherwise [`Failure::Unread`], saying
    /// what the group looks like from here.
    async fn unassigned(&self) -> anyhow::Result<()> {
        let parts: Vec<Partition> = self.targets.keys().cloned().collect();
        let committed = committed_offsets(self.consumer.clone(), parts, self.sinks.retry_timeout).await?;
        let mut unread: Vec<(Partition, i64)> = self
            .targets
            .iter()
            .filter_map(|(tp, high)| {
                let left = high - committed.get(tp).copied().unwrap_or(0);
                (left > 0).then(|| (tp.clone(), left))
            })
            .collect();
        if unread.is_empty() {
            tracing::info!("no partition assigned for {IDLE_EXIT:?}, and the group has committed everything: nothing to do");
            return Ok(());
        }
        unread.sort();
        let total: i64 = unread.iter().map(|(_, n)| n).sum();
        let list: Vec<String> = unread.iter().map(|(tp, n)| format!("{tp}: {n}")).collect();
        let members = describe_group(self.consumer.clone(), self.group.clone()).await;
        Err(anyhow!(
            "consumer group `{}` assigned this process no partition for {IDLE_EXIT:?}, while {total} message(s) are not committed ({}). {members} \
             If no other process of the group is running, its members are stale (a process killed while joining): \
             wait for their session timeout, or run with a new `[source] group_id`",
            self.group,
            list.join(", ")
        )
        .context(Failure::Unread))
    }

    /// The positions the lag is counted from.
    fn lag_positions(&self) -> HashMap<Partition, i64> {
        self.owned.iter().filter_map(|(tp, o)| Some((tp.clone(), o.next?))).collect()
    }

    /// What the run waits for, beyond the counts.
    fn status(&self) -> String {
        let replaying: Vec<String> = self
            .owned
            .iter()
            .filter_map(|(tp, o)| match o.stage {
                Stage::Replaying { until } => Some(format!("{}[{}] at {} of {until}", tp.topic, tp.partition, o.next.unwrap_or(0))),
                _ => None,
            })
            .collect();
        let mut parts = Vec::new();
        if !replaying.is_empty() {
            parts.push(format!("replaying recorded batches: {}", replaying.join(", ")));
        }
        let in_flight = self.in_flight();
        if in_flight > 0 {
            parts.push(format!("{in_flight} batch(es) being written"));
        }
        if self.flow == Flow::Paused {
            parts.push("paused: in-flight limit".into());
        }
        if self.owned.is_empty() {
            parts.push("waiting for a partition assignment".into());
        }
        parts.join("; ")
    }

    /// Sets each owned partition's lag: its high watermark as librdkafka's statistics last
    /// reported it, else as the start read it, minus the next offset.
    fn update_lag(&self) {
        for (tp, o) in &self.owned {
            let high = self.consumer.context().high_watermark(tp).or_else(|| self.targets.get(tp).copied());
            if let (Some(high), Some(next)) = (high, o.next) {
                self.metrics.consumer_lag.get_or_create(&PartitionLabel { topic: tp.topic.clone(), partition: tp.partition }).set((high - next).max(0));
            }
        }
    }
}

/// The task of one batch: wait for its turn, write it, mark it complete for its ownership,
/// report.
async fn write_batch(sinks: Arc<Sinks>, turns: Arc<Semaphore>, batch: Arc<RawBatch>, owner: Owner, mut reporter: Reporter) {
    let Ok(_turn) = turns.acquire().await else { return };
    let outcome = match process(sinks, batch, &owner).await {
        // Marked here, not in the main loop: a revocation waits for it while the main loop
        // is blocked inside `recv`.
        Ok(summary) if reporter.progress.lock().unwrap_or_else(|e| e.into_inner()).completed(&reporter.tp, reporter.ticket) => Outcome::Durable(summary),
        Ok(_) => Outcome::Abandoned,
        Err(e) if e.downcast_ref::<Fenced>().is_some() => Outcome::Abandoned,
        Err(e) => Outcome::Failed(e),
    };
    reporter.outcome = Some(outcome);
}

/// A name for this process run, unique in practice: host, process id and start time.
pub fn process_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let started = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    format!("{}-{}-{:x}", host.trim(), std::process::id(), started.as_micros())
}

/// The group's state and members as the broker describes them, for an error message.
async fn describe_group(consumer: Arc<Consumer>, group: String) -> String {
    let described = tokio::task::spawn_blocking(move || consumer.fetch_group_list(Some(&group), Duration::from_secs(10)).map(|list| {
        list.groups()
            .iter()
            .map(|g| {
                let members: Vec<String> = g.members().iter().map(|m| format!("{} ({} on {})", m.id(), m.client_id(), m.client_host())).collect();
                format!("The broker reports the group {} with {} member(s): {}.", g.state(), members.len(), if members.is_empty() { "none".into() } else { members.join(", ") })
            })
            .collect::<Vec<_>>()
            .join(" ")
    }))
    .await;
    match described {
        Ok(Ok(text)) if !text.is_empty() => text,
        Ok(Err(e)) => format!("The group's members could not be listed ({e})."),
        _ => "The broker did not describe the group.".into(),
    }
}

/// Watches for SIGINT/SIGTERM: the first asks the run to stop (the receiver changes) and
/// arms a hard deadline of `shutdown_timeout` plus a grace; a second signal, or the
/// deadline, ends the process at once with [`Failure::Interrupted`]'s code. What was not
/// committed is read again by the next run, as after a crash.
fn watch_signals(shutdown_timeout: Duration) -> watch::Receiver<()> {
    let (tx, rx) = watch::channel(());
    tokio::spawn(async move {
        signal().await;
        let _ = tx.send(());
        tokio::select! {
            _ = signal() => tracing::error!("second signal: exiting now; uncommitted batches are read again by the next run"),
            _ = tokio::time::sleep(shutdown_timeout + HARD_EXIT_GRACE) => tracing::error!("shutdown still not finished {:?} after the signal: exiting; uncommitted batches are read again by the next run", shutdown_timeout + HARD_EXIT_GRACE),
        }
        std::process::exit(i32::from(Failure::Interrupted.code()));
    });
    rx
}

/// Resolves on SIGINT or SIGTERM.
async fn signal() {
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

/// Longest wait of the first connection to the brokers for a refusal (TLS, authentication).
const BROKER_CHECK: Duration = Duration::from_secs(10);

/// How long one Kafka metadata request waits for its answer.
const KAFKA_REQUEST: Duration = Duration::from_secs(30);

/// High watermarks of every partition of `topics`; transient errors retried for `timeout`.
async fn high_watermarks(consumer: Arc<Consumer>, topics: &[String], timeout: Duration) -> anyhow::Result<HashMap<Partition, i64>> {
    let mut out = HashMap::new();
    for topic in topics {
        let (c, t) = (consumer.clone(), topic.clone());
        let md = kafka_request(&format!("reading metadata of topic {topic}"), timeout, move || c.fetch_metadata(Some(&t), KAFKA_REQUEST)).await?;
        let partitions: Vec<i32> = md.topics().iter().find(|t| t.name() == topic).map(|t| t.partitions().iter().map(|p| p.id()).collect()).unwrap_or_default();
        if partitions.is_empty() {
            bail!(anyhow!("topic {topic} does not exist or has no partitions (check [source] topics and brokers)").context(Failure::Permanent));
        }
        for p in partitions {
            let (c, t) = (consumer.clone(), topic.clone());
            let (_, high) = kafka_request(&format!("reading watermarks of {topic}[{p}]"), timeout, move || c.fetch_watermarks(&t, p, KAFKA_REQUEST)).await?;
            out.insert(Partition::new(topic.clone(), p), high);
        }
    }
    Ok(out)
}

/// Committed offsets of `parts` (absent where the group has none yet); transient errors
/// retried for `timeout`.
async fn committed_offsets(consumer: Arc<Consumer>, parts: Vec<Partition>, timeout: Duration) -> anyhow::Result<HashMap<Partition, i64>> {
    let mut tpl = TopicPartitionList::new();
    for tp in &parts {
        tpl.add_partition(&tp.topic, tp.partition);
    }
    let committed = kafka_request("reading committed offsets", timeout, move || consumer.committed_offsets(tpl.clone(), KAFKA_REQUEST)).await?;
    let seen: std::collections::HashSet<Partition> = parts.into_iter().collect();
    Ok(committed
        .elements()
        .iter()
        .filter_map(|e| match e.offset() {
            Offset::Offset(o) => Some((Partition::new(e.topic(), e.partition()), o)),
            _ => None,
        })
        .filter(|(tp, _)| seen.contains(tp))
        .collect())
}
