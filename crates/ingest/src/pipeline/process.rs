//! The work for one batch: decode, then make it durable in every destination, exactly once.
//!
//! 1. Decode the batch's messages (on the blocking pool) into one record batch with source
//!    coordinate columns, plus the rejected records.
//! 2. Look the batch up in the ledger. A recorded batch whose messages have another
//!    fingerprint is not this batch (the topic was recreated, or is another cluster's): the
//!    run fails with [`Failure::Conflict`], writing nothing. `done`: both sinks hold it
//!    already (a replay after a crash): nothing to write. Otherwise record this writer's
//!    `intent` first, so that a replay cuts the same batch again (see
//!    `batch::Batcher::force`), then have the broker confirm that this process still owns
//!    the partition ([`Owner::confirm`]); if not, mark the intent abandoned and stop.
//! 3. Write the lake objects, the ClickHouse rows and the dead letters concurrently. Object
//!    names derive from the batch id, so a replay overwrites; ClickHouse deduplicates by
//!    token where the server can, and otherwise the writer counts what an interrupted
//!    earlier attempt left (`insert_once`).
//! 4. Record `done`. Only then is the batch reported complete, and its offsets committed.

use std::sync::Arc;
use std::time::Instant;

use anyhow::Context as _;
use arrow_array::RecordBatch;
use arrow::compute::filter_record_batch;
use arrow_array::cast::AsArray;
use arrow_array::types::{Int64Type, UInt32Type};
use arrow_array::BooleanArray;
use sink::clickhouse::{is_data_error, with_quorum, ClickHouseWriter, Probe};
use sink::ledger::{Ledger, LedgerState, Recorded};
use sink::dead_letter::DeadLetter;
use sink::parquet::LakeWriter;
use transform::{Decoder, Schema};

use super::config::Pipeline;
use super::dead_letters::DeadLetterSinks;
use super::retry::{retrying, Decision, Retry};
use super::summary::Summary;
use crate::batch::RawBatch;
use crate::exit::Failure;
use crate::metrics::{Metrics, ReasonLabel, SinkLabel};
use crate::source::{Fenced, Owner};

/// Everything a batch is written to.
pub struct Sinks {
    pub schema: Arc<Schema>,
    pub lake: LakeWriter,
    pub clickhouse: ClickHouseWriter,
    pub ledger: Ledger,
    pub probe: Probe,
    pub dead_letters: DeadLetterSinks,
    pub metrics: Arc<Metrics>,
    /// How long a batch failing transiently is retried before the run fails.
    pub retry_timeout: std::time::Duration,
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
        let config = with_quorum(config).await.context("[clickhouse] cluster")?;
        let ledger = Ledger::open(&config).await.context("[clickhouse] opening the batch ledger")?;
        let probe = Probe::new(&config).context("[clickhouse]")?;
        // Into a table that does not deduplicate, a failed insert is retried only through
        // `insert_once`, which counts what an attempt left before inserting again.
        let clickhouse = ClickHouseWriter::open(config).await.context("[clickhouse] reading the server and the table")?;
        let dead_letters = DeadLetterSinks::open(&file.dead_letter, &file.source)?;
        Ok(Self { schema, lake, clickhouse, ledger, probe, dead_letters, metrics, retry_timeout: file.runtime.retry_timeout })
    }
}

/// A decoded batch.
struct Decoded {
    rows: RecordBatch,
    letters: Vec<DeadLetter>,
}

/// Decodes, writes and records one batch; failures are retried or end the run as
/// [`Retry`] decides.
pub async fn process(sinks: Arc<Sinks>, raw: Arc<RawBatch>, owner: &Owner) -> anyhow::Result<Summary> {
    let schema = sinks.schema.clone();
    let raw_for_decode = raw.clone();
    let parts = tokio::task::spawn_blocking(move || decode_parts(&raw_for_decode, &|r, limit| decode(&schema, r, limit))).await.context("decoder task")??;
    if let [(part, decoded)] = &parts[..] {
        return write_retrying(&sinks, part, decoded, owner).await;
    }
    // Too large for one record batch: each part is a batch of its own, then the whole is
    // done (a replay decodes the same bytes, so it splits the same way).
    tracing::warn!(batch = %raw.id, parts = parts.len(), "batch too large to decode as one: writing it in parts");
    let mut summary = Summary::default();
    for (part, decoded) in &parts {
        summary.add(&write_retrying(&sinks, part, decoded, owner).await?);
    }
    let (ledger, rows, fingerprint) = (&sinks.ledger, summary.lake_rows as usize, raw.fingerprint());
    retrying("recording the batch done", sinks.retry_timeout, || async { ledger.record(&raw.id, LedgerState::Done, rows, fingerprint, owner.writer()).await.map_err(anyhow::Error::new) }).await?;
    Ok(summary)
}

/// Writes one decoded batch, retrying as [`Retry`] decides.
async fn write_retrying(sinks: &Arc<Sinks>, raw: &RawBatch, decoded: &Decoded, owner: &Owner) -> anyhow::Result<Summary> {
    let fingerprint = raw.fingerprint();
    let mut retry = Retry::new(sinks.retry_timeout);
    loop {
        let e = match write(sinks, raw, decoded, fingerprint, owner).await {
            Ok(summary) => {
                sinks.metrics.set_healthy(true);
                return Ok(summary);
            }
            Err(e) if e.downcast_ref::<Fenced>().is_some() => return Err(e),
            Err(e) => e,
        };
        sinks.metrics.set_healthy(false);
        match retry.decide(&e) {
            Decision::Retry(wait) => {
                sinks.metrics.sink_retries.get_or_create(&SinkLabel { sink: failed_sink(&e) }).inc();
                tracing::warn!(batch = %raw.id, error = %format!("{e:#}"), retry_in = ?wait, "batch not durable yet; retrying");
                tokio::time::sleep(wait).await;
            }
            Decision::Fail(Failure::Unavailable) => {
                return Err(e.context(format!("batch {} still failing after {:?} (`[runtime] retry_timeout`)", raw.id, sinks.retry_timeout)).context(Failure::Unavailable));
            }
            Decision::Fail(failure) => return Err(e.context(format!("batch {}", raw.id)).context(failure)),
        }
    }
}

/// This writer's intent of a batch whose fence has not passed: when the batch is given up
/// (fenced, or its task aborted as the partition is revoked) while armed, the intent is
/// marked abandoned, on a task of its own, so that no replay cuts along a batch nobody wrote.
/// Never armed once the fence passed in an earlier attempt (that attempt may have written).
struct Unconfirmed {
    sinks: Arc<Sinks>,
    id: sink::BatchId,
    fingerprint: u64,
    writer: String,
    armed: bool,
}

impl Drop for Unconfirmed {
    fn drop(&mut self) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        if !self.armed {
            return;
        }
        let (sinks, id, fingerprint, writer) = (self.sinks.clone(), self.id.clone(), self.fingerprint, std::mem::take(&mut self.writer));
        runtime.spawn(async move {
            let ledger = &sinks.ledger;
            let marked = retrying("marking an intent abandoned", sinks.retry_timeout, || async { ledger.record(&id, LedgerState::Abandoned, 0, fingerprint, &writer).await.map_err(anyhow::Error::new) }).await;
            if let Err(e) = marked {
                tracing::warn!(batch = %id, error = %format!("{e:#}"), "could not mark the intent abandoned; a replay cuts along it");
            }
        });
    }
}

/// The destination an error of `write` came from, attached to it as context (and read back
/// by downcasting, not by matching the message).
#[derive(Debug, Clone, Copy)]
enum Failed {
    Lake,
    ClickHouse,
    DeadLetters,
}

impl std::fmt::Display for Failed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Lake => "writing the lake",
            Self::ClickHouse => "inserting into ClickHouse",
            Self::DeadLetters => "writing dead letters",
        })
    }
}

/// The metrics label of the destination `e` came from (`ledger` when none is named).
fn failed_sink(e: &anyhow::Error) -> &'static str {
    match e.downcast_ref::<Failed>() {
        Some(Failed::Lake) => "lake",
        Some(Failed::ClickHouse) => "clickhouse",
        Some(Failed::DeadLetters) => "dead_letter",
        None => "ledger",
    }
}

/// Most bytes of Arrow memory one decoded batch may take; above it the batch is decoded in
/// halves. Far below 2 GiB, where the i32 offsets of a string or list column overflow.
const MAX_DECODED_BYTES: usize = 1 << 30;

/// Decodes `raw` with `decode` (`None`: more than the limit of Arrow bytes); a batch that
/// decodes to more than [`MAX_DECODED_BYTES`] (a few compressed messages can inflate to
/// gigabytes) is decoded as halves by message, recursively, each a batch of its own range.
/// A single message is decoded whatever its size (the decoder bounds it).
fn decode_parts(raw: &Arc<RawBatch>, decode: &dyn Fn(&RawBatch, usize) -> anyhow::Result<Option<Decoded>>) -> anyhow::Result<Vec<(Arc<RawBatch>, Decoded)>> {
    let limit = if raw.messages.len() < 2 { usize::MAX } else { MAX_DECODED_BYTES };
    if let Some(decoded) = decode(raw, limit)? {
        return Ok(vec![(raw.clone(), decoded)]);
    }
    let mid = raw.messages[raw.messages.len() / 2].0;
    let mut parts = decode_parts(&Arc::new(raw.slice(raw.id.first_offset, mid - 1)), decode)?;
    parts.extend(decode_parts(&Arc::new(raw.slice(mid, raw.id.last_offset)), decode)?);
    Ok(parts)
}

/// Decodes `raw` into one record batch, or `None` when that would take more than `limit`
/// bytes of Arrow memory.
fn decode(schema: &Arc<Schema>, raw: &RawBatch, limit: usize) -> anyhow::Result<Option<Decoded>> {
    let mut decoder = Decoder::new(schema.clone())?.with_source(&raw.id.topic, raw.id.partition);
    let mut rejects = Vec::new();
    let mut letters = Vec::new();
    for (offset, payload) in &raw.messages {
        decoder.decode_at(payload, *offset, &mut rejects);
        letters.extend(rejects.drain(..).map(|r| DeadLetter::from_decode(*offset, r)));
    }
    let batches: Vec<RecordBatch> = std::iter::from_fn(|| decoder.flush()).collect();
    if batches.iter().map(RecordBatch::get_array_memory_size).sum::<usize>() > limit {
        return Ok(None);
    }
    let rows = match batches.len() {
        0 => RecordBatch::new_empty(decoder.schema()),
        1 => batches.into_iter().next().expect("one batch"),
        _ => arrow::compute::concat_batches(&decoder.schema(), &batches)?,
    };
    Ok(Some(Decoded { rows, letters }))
}

async fn write(sinks: &Arc<Sinks>, raw: &RawBatch, decoded: &Decoded, fingerprint: u64, owner: &Owner) -> anyhow::Result<Summary> {
    let id = &raw.id;
    let recorded = sinks.ledger.state(id).await?;
    if let Some(Recorded { fingerprint: Some(before), .. }) = recorded {
        if before != fingerprint {
            return Err(anyhow::anyhow!(
                "the ledger records batch {id} with other messages than the topic holds now (fingerprint {before:016x}, now {fingerprint:016x}): \
                 the topic was deleted and created again, or the brokers are another cluster's. Nothing of it was written. \
                 Ingest the new topic under another topic name or table (the ledger {} and the sinks' deduplication remember the old one's batches)",
                sinks.ledger.name()
            )
            .context(Failure::Conflict));
        }
    }
    let (rows, letters) = if recorded.is_some_and(|r| r.state == LedgerState::Done) {
        (decoded.rows.num_rows(), decoded.letters.clone())
    } else {
        // This writer's own intent, also when replaying another's: an intent is abandoned
        // only by the writer that recorded it, so one this writer may write stays recorded.
        sinks.ledger.record(id, LedgerState::Intent, decoded.rows.num_rows(), fingerprint, owner.writer()).await?;
        let range = (id.first_offset, id.last_offset);
        let mut unconfirmed = Unconfirmed { sinks: sinks.clone(), id: id.clone(), fingerprint, writer: owner.writer().to_string(), armed: !owner.passed(range) };
        if let Err(e) = owner.confirm(range).await {
            if e.downcast_ref::<Fenced>().is_some() {
                tracing::warn!(batch = %id, "the partition has another owner now: batch given up, nothing of it written");
            } else {
                unconfirmed.armed = false;
            }
            return Err(e);
        }
        unconfirmed.armed = false;
        let stored = write_sinks(sinks, raw, &decoded.rows, decoded.letters.clone(), recorded.is_some()).await?;
        sinks.ledger.record(id, LedgerState::Done, stored.0, fingerprint, owner.writer()).await?;
        stored
    };
    let m = &sinks.metrics;
    m.rows_written.get_or_create(&SinkLabel { sink: "lake" }).inc_by(rows as u64);
    m.rows_written.get_or_create(&SinkLabel { sink: "clickhouse" }).inc_by(rows as u64);
    m.rows_written.get_or_create(&SinkLabel { sink: "dead_letter" }).inc_by(letters.len() as u64);
    let mut summary = Summary {
        messages: raw.messages.len() as u64,
        bytes: raw.bytes as u64,
        records: (rows + letters.len()) as u64,
        lake_rows: rows as u64,
        clickhouse_rows: rows as u64,
        batches: 1,
        ..Summary::default()
    };
    for letter in &letters {
        *summary.rejected.entry(letter.kind.clone()).or_insert(0) += 1;
        m.rejects.get_or_create(&ReasonLabel { reason: letter.kind.clone() }).inc();
    }
    Ok(summary)
}

/// Writes the lake, ClickHouse and the dead letters concurrently. When ClickHouse refuses
/// rows for their data, they are found (`Probe`), moved to the dead letters, and the rest
/// is written to both sinks again, so the lake and ClickHouse hold the same rows. Returns
/// the rows stored and the dead letters written.
async fn write_sinks(sinks: &Sinks, raw: &RawBatch, rows: &RecordBatch, mut letters: Vec<DeadLetter>, maybe_present: bool) -> anyhow::Result<(usize, Vec<DeadLetter>)> {
    let id = &raw.id;
    let timed = |sink: &'static str, t: Instant| sinks.metrics.sink_write_seconds.get_or_create(&SinkLabel { sink }).observe(t.elapsed().as_secs_f64());
    let lake = async {
        let t = Instant::now();
        let r = sinks.lake.write(rows, id).await;
        timed("lake", t);
        r.context(Failed::Lake)
    };
    let clickhouse = async {
        let t = Instant::now();
        let r = sinks.clickhouse.insert_once(rows, id, maybe_present).await;
        timed("clickhouse", t);
        r
    };
    let dead = async {
        let t = Instant::now();
        let r = sinks.dead_letters.write(&sinks.schema, id, &letters).await;
        timed("dead_letter", t);
        r.context(Failed::DeadLetters)
    };
    let (lake, clickhouse, dead) = tokio::join!(lake, clickhouse, dead);
    let first_files = lake?;
    match clickhouse {
        Ok(_) => {
            dead?;
            return Ok((rows.num_rows(), letters));
        }
        Err(e) if is_data_error(&e) => tracing::warn!(batch = %id, error = %e, "ClickHouse refuses rows of this batch; isolating them"),
        Err(e) => return Err(anyhow::Error::new(e).context(Failed::ClickHouse)),
    }
    let refused = sinks.probe.refused_rows(rows, id).await.context("isolating the rows ClickHouse refuses")?;
    let mut keep = vec![true; rows.num_rows()];
    let offsets = rows.column_by_name("_offset").context("source columns")?.as_primitive::<Int64Type>();
    let lines = rows.column_by_name("_line").context("source columns")?.as_primitive::<UInt32Type>();
    for (row, reason) in &refused {
        keep[*row] = false;
        let (offset, line) = (offsets.value(*row), lines.value(*row) as usize);
        letters.push(DeadLetter::from_sink_rejection(offset, line, raw.record(offset, line), reason));
    }
    let kept = filter_record_batch(rows, &BooleanArray::from(keep))?;
    sinks.clickhouse.insert_once(&kept, id, true).await.context(Failed::ClickHouse)?;
    let final_files = sinks.lake.write(&kept, id).await.context(Failed::Lake)?;
    let stale: Vec<_> = first_files.into_iter().map(|f| f.path).filter(|p| !final_files.iter().any(|f| &f.path == p)).collect();
    sinks.lake.remove(&stale).await.context("removing lake files of refused rows")?;
    sinks.dead_letters.write(&sinks.schema, id, &letters).await.context(Failed::DeadLetters)?;
    Ok((kept.num_rows(), letters))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    /// A batch too large to decode as one comes out as parts of whole messages, each with
    /// its own range, covering the batch.
    #[test]
    fn a_batch_too_large_to_decode_as_one_is_decoded_in_parts() {
        let raw = Arc::new(RawBatch {
            id: sink::BatchId { topic: "t".into(), partition: 0, first_offset: 10, last_offset: 16 },
            messages: (10..=16).map(|o| (o, vec![b'x'; 10])).collect(),
            bytes: 70,
        });
        // At most two messages fit.
        let fake = |r: &RawBatch, limit: usize| -> anyhow::Result<Option<Decoded>> {
            let rows = RecordBatch::new_empty(Arc::new(arrow_schema::Schema::empty()));
            Ok((r.messages.len() <= 2 || limit == usize::MAX).then_some(Decoded { rows, letters: Vec::new() }))
        };
        let parts = decode_parts(&raw, &fake).unwrap();
        let ranges: Vec<(i64, i64, usize)> = parts.iter().map(|(p, _)| (p.id.first_offset, p.id.last_offset, p.messages.len())).collect();
        assert_eq!(ranges, [(10, 10, 1), (11, 12, 2), (13, 14, 2), (15, 16, 2)]);
    }
}
