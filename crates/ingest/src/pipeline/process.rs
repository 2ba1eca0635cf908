//! The work for one batch: decode, then make it durable in every destination, exactly once.
//!
//! 1. Decode the batch's messages (on the blocking pool) into one record batch with source
//!    coordinate columns, plus the rejected records.
//! 2. Look the batch up in the ledger. `done`: both sinks hold it already (a replay after a
//!    crash): nothing to write. Otherwise record the `intent` first, so that a replay cuts
//!    the same batch again (see `batch::Batcher::force`).
//! 3. Write the lake objects, the ClickHouse rows and the dead letters concurrently. Object
//!    names derive from the batch id, so a replay overwrites; ClickHouse deduplicates by
//!    token where the server can, and otherwise the writer counts what an interrupted
//!    earlier attempt left (`insert_once`).
//! 4. Record `done`. Only then is the batch reported complete, and its offsets committed.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use arrow_array::RecordBatch;
use sink::clickhouse::{ClickHouseWriter, Ledger, LedgerState};
use sink::dead_letter::{DeadLetter, DeadLetters};
use sink::parquet::LakeWriter;
use transform::{Decoder, Schema};

use super::config::Pipeline;
use super::summary::Summary;
use crate::batch::RawBatch;
use crate::metrics::{Metrics, ReasonLabel, SinkLabel};

/// Everything a batch is written to.
pub struct Sinks {
    pub schema: Arc<Schema>,
    pub lake: LakeWriter,
    pub clickhouse: ClickHouseWriter,
    pub ledger: Ledger,
    pub dead_letters: DeadLetters,
    pub metrics: Arc<Metrics>,
    /// How long a failing batch is retried before the run fails.
    pub retry_timeout: Duration,
}

impl Sinks {
    /// Opens every destination of `pipeline` (and the ClickHouse ledger).
    ///
    /// # Errors
    /// When a destination's settings are invalid or it cannot be reached.
    pub async fn open(pipeline: &Pipeline, schema: Arc<Schema>, metrics: Arc<Metrics>) -> anyhow::Result<Self> {
        let file = &pipeline.file;
        let lake = LakeWriter::new(&file.lake.validate().context("[lake]")?, &schema).context("[lake]")?;
        let config = file.clickhouse.validate().context("[clickhouse]")?;
        let ledger = Ledger::open(&config).await.context("[clickhouse] opening the batch ledger")?;
        let clickhouse = ClickHouseWriter::new(config).context("[clickhouse]")?;
        let dead_letters = DeadLetters::open(&file.dead_letter.url).context("[dead_letter]")?;
        Ok(Self { schema, lake, clickhouse, ledger, dead_letters, metrics, retry_timeout: file.runtime.retry_timeout })
    }
}

/// A decoded batch.
struct Decoded {
    rows: RecordBatch,
    letters: Vec<DeadLetter>,
}

/// Decodes, writes and records one batch; retries failures with backoff until
/// `retry_timeout`, then returns the last error.
pub async fn process(sinks: Arc<Sinks>, raw: Arc<RawBatch>) -> anyhow::Result<Summary> {
    let schema = sinks.schema.clone();
    let raw_for_decode = raw.clone();
    let decoded = tokio::task::spawn_blocking(move || decode(&schema, &raw_for_decode)).await.context("decoder task")??;
    let start = Instant::now();
    let mut backoff = Duration::from_millis(200);
    loop {
        match write(&sinks, &raw, &decoded).await {
            Ok(summary) => {
                sinks.metrics.set_healthy(true);
                return Ok(summary);
            }
            Err(e) if start.elapsed() < sinks.retry_timeout => {
                sinks.metrics.set_healthy(false);
                tracing::warn!(batch = %raw.id, error = %format!("{e:#}"), retry_in = ?backoff, "batch not durable yet; retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(10));
            }
            Err(e) => return Err(e.context(format!("batch {} still failing after {:?}", raw.id, sinks.retry_timeout))),
        }
    }
}

fn decode(schema: &Arc<Schema>, raw: &RawBatch) -> anyhow::Result<Decoded> {
    let mut decoder = Decoder::new(schema.clone())?.with_source(&raw.id.topic, raw.id.partition);
    let mut rejects = Vec::new();
    let mut letters = Vec::new();
    for (offset, payload) in &raw.messages {
        decoder.decode_at(payload, *offset, &mut rejects);
        letters.extend(rejects.drain(..).map(|r| DeadLetter::from_decode(*offset, r)));
    }
    let batches: Vec<RecordBatch> = std::iter::from_fn(|| decoder.flush()).collect();
    let rows = match batches.len() {
        0 => RecordBatch::new_empty(decoder.schema()),
        1 => batches.into_iter().next().expect("one batch"),
        _ => arrow::compute::concat_batches(&decoder.schema(), &batches)?,
    };
    Ok(Decoded { rows, letters })
}

async fn write(sinks: &Sinks, raw: &RawBatch, decoded: &Decoded) -> anyhow::Result<Summary> {
    let id = &raw.id;
    let rows = decoded.rows.num_rows();
    let state = sinks.ledger.state(id).await?;
    if state != Some(LedgerState::Done) {
        if state.is_none() {
            sinks.ledger.record(id, LedgerState::Intent, rows).await?;
        }
        let timed = |sink: &'static str, t: Instant| sinks.metrics.sink_write_seconds.get_or_create(&SinkLabel { sink }).observe(t.elapsed().as_secs_f64());
        let lake = async {
            let t = Instant::now();
            let r = sinks.lake.write(&decoded.rows, id).await;
            timed("lake", t);
            r.context("writing the lake")
        };
        let clickhouse = async {
            let t = Instant::now();
            let r = sinks.ledger.insert_once(&sinks.clickhouse, &decoded.rows, id, state.is_some()).await;
            timed("clickhouse", t);
            r.context("inserting into ClickHouse")
        };
        let dead = async {
            let t = Instant::now();
            let r = sinks.dead_letters.write(&sinks.schema, id, &decoded.letters).await;
            timed("dead_letter", t);
            r.context("writing dead letters")
        };
        let (lake, clickhouse, dead) = tokio::join!(lake, clickhouse, dead);
        lake?;
        clickhouse?;
        dead?;
        sinks.ledger.record(id, LedgerState::Done, rows).await?;
    }
    let m = &sinks.metrics;
    m.rows_written.get_or_create(&SinkLabel { sink: "lake" }).inc_by(rows as u64);
    m.rows_written.get_or_create(&SinkLabel { sink: "clickhouse" }).inc_by(rows as u64);
    m.rows_written.get_or_create(&SinkLabel { sink: "dead_letter" }).inc_by(decoded.letters.len() as u64);
    let mut summary = Summary { messages: raw.messages.len() as u64, bytes: raw.bytes as u64, records: (rows + decoded.letters.len()) as u64, lake_rows: rows as u64, clickhouse_rows: rows as u64, batches: 1, ..Summary::default() };
    for letter in &decoded.letters {
        *summary.rejected.entry(letter.kind.to_string()).or_insert(0) += 1;
        m.rejects.get_or_create(&ReasonLabel { reason: letter.kind.to_string() }).inc();
    }
    Ok(summary)
}
