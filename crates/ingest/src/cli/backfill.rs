//! `lakeport backfill --from-lake`: loads the batches the lake holds into a ClickHouse
//! table — the pipeline's, to repair it, or a new one (another sort key, a rebuilt table) —
//! each exactly once, however often it is run.
//!
//! Only batches the pipeline's ledger recorded done, whose lake files hold every row it
//! recorded, are loaded; batches a run has not finished are reported pending. The rows the
//! table holds of a batch's offsets are counted: all there and recorded in the target
//! table's ledger, nothing is written; otherwise it is recorded there (`intent`, then
//! `done`, with the source batch's fingerprint), put in with
//! [`ClickHouseWriter::replace`] (which deletes a part already there and inserts without
//! the token a deduplicating table would drop it for) and counted again. So a second run,
//! or a run after a crash, adds nothing twice, and a pipeline pointed at the new table
//! later cuts the same batches.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use arrow::compute::concat_batches;
use clap::Args;
use sink::clickhouse::{with_quorum, ClickHouseWriter};
use sink::ledger::{innermost, Ledger, LedgerState};
use sink::parquet::{lake_files, LakeFile, LakeReader};
use sink::BatchId;

use crate::exit::Failure;
use crate::pipeline::{classified, process_name, retrying, Pipeline};

#[derive(Args)]
pub struct BackfillArgs {
    /// The pipeline file.
    pipeline: PathBuf,
    /// Load the batches the Parquet lake holds.
    #[arg(long, required = true)]
    from_lake: bool,
    /// Into this table of the pipeline's database (create it first with `lakeport migrate
    /// PIPELINE --table NEW`); the pipeline's own table otherwise.
    #[arg(long)]
    table: Option<String>,
    /// Only batches the ledger recorded this recently (`24h`, `7d`).
    #[arg(long, value_parser = humantime::parse_duration)]
    since: Option<Duration>,
}

/// What a backfill did, batch by batch.
#[derive(Default)]
struct Loaded {
    batches: usize,
    inserted: usize,
    present: usize,
    skipped: usize,
    /// Batches a run had not finished: the next backfill loads them.
    pending: usize,
}

pub fn run(args: BackfillArgs) -> anyhow::Result<ExitCode> {
    let pipeline = Pipeline::load(&args.pipeline).context(Failure::Permanent)?;
    let file = &pipeline.file;
    let source = file.clickhouse.validate().context("[clickhouse]").context(Failure::Permanent)?;
    let mut target = file.clickhouse.clone();
    if let Some(table) = &args.table {
        target.table = table.clone();
    }
    let target = target.validate().context("--table").context(Failure::Permanent)?;
    let target_name = format!("{}.{}", target.database(), target.table());
    let lake = file.lake.validate().context("[lake]").context(Failure::Permanent)?;
    let reader = LakeReader::new(&lake, &pipeline.schema).context("[lake]").context(Failure::Permanent)?;
    let timeout = file.runtime.retry_timeout;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let loaded = runtime.block_on(async {
        let source = with_quorum(source).await.context("[clickhouse] cluster")?;
        let target = with_quorum(target).await.context("[clickhouse] cluster")?;
        let source_ledger = Ledger::existing(&source).await.context("reading the pipeline's ledger (has the pipeline run?)")?;
        let batches = innermost(source_ledger.batches(args.since).await.context("reading the ledger")?);
        let mut files: HashMap<BatchId, Vec<LakeFile>> = HashMap::new();
        // With --since, only the footers of the window's batches are read.
        let wanted: HashSet<&BatchId> = batches.iter().map(|b| &b.id).collect();
        for f in lake_files(&lake, &pipeline.schema.name, |b| args.since.is_none() || wanted.contains(b)).await.context("listing the lake")? {
            files.entry(f.batch.clone()).or_default().push(f);
        }
        // Read again after the listing: files of batches a live run wrote meanwhile are pending,
        // not unrecorded.
        let recorded_since: HashSet<BatchId> = source_ledger.batches(args.since).await.context("reading the ledger")?.into_iter().map(|b| b.id).collect();
        let writer = match ClickHouseWriter::open(target.clone()).await {
            Err(e @ sink::Error::ClickHouseNoTable { .. }) => {
                return Err(anyhow::Error::new(e).context(format!("create it first: lakeport migrate {} --table {}", args.pipeline.display(), target.table())).context(Failure::Permanent));
            }
            opened => opened.context("[clickhouse] reading the server and the table")?,
        };
        let target_ledger = Ledger::open(&target).await.context("opening the target table's ledger")?;
        let name = format!("backfill-{}", process_name());
        let mut loaded = Loaded::default();
        let total = batches.len();
        for (i, b) in batches.iter().enumerate() {
            let (id, mut parts) = (&b.id, files.remove(&b.id).unwrap_or_default());
            let in_lake: u64 = parts.iter().map(|f| f.rows).sum();
            let Some(want) = b.done_rows else {
                loaded.pending += 1;
                println!("PENDING {id}: not recorded done (a run is writing it, or stopped mid-batch: the next run finishes it)");
                continue;
            };
            if in_lake != want {
                loaded.skipped += 1;
                println!("SKIPPED {id}: the ledger recorded {want} rows, the lake holds {in_lake} (lakeport verify tells more)");
                continue;
            }
            let rows = usize::try_from(want)?;
            let fingerprint = retrying("reading the ledger", timeout, || async { Ok(source_ledger.state(id).await?) }).await?.and_then(|r| r.fingerprint).unwrap_or(0);
            let count = || retrying("counting the batch's rows", timeout, || async { Ok(writer.rows_of(id).await?) });
            let recorded = || retrying("reading the target's ledger", timeout, || async { Ok(target_ledger.state(id).await?) });
            // Already there and recorded (a rerun): nothing is written, not even the ledger.
            let present = count().await? == rows;
            if present && recorded().await?.is_some_and(|r| r.state == LedgerState::Done) {
                (loaded.present, loaded.batches) = (loaded.present + rows, loaded.batches + 1);
                continue;
            }
            if !present {
                parts.sort_by(|a, b| a.path.cmp(&b.path));
                let mut read = Vec::with_capacity(parts.len());
                for part in &parts {
                    read.push(reader.read(part).await.with_context(|| format!("reading batch {id}")).context(Failure::Permanent)?);
                }
                let batch = concat_batches(&read[0].schema(), &read).with_context(|| format!("the lake files of {id} have different columns")).context(Failure::Permanent)?;
                drop(read);
                retrying("recording the batch's intent", timeout, || async { Ok(target_ledger.record(id, LedgerState::Intent, rows, fingerprint, &name).await?) }).await?;
                // Counts again first, every attempt: a retry after a lost answer adds nothing twice.
                retrying("inserting into ClickHouse", timeout, || async { Ok(writer.replace(&batch, id).await?) }).await?;
                let held = count().await?;
                if held != rows {
                    return Err(anyhow::anyhow!("{target_name} holds {held} rows of {id} after the insert, the lake {rows} (another backfill or a run writing the same table?)")).context(Failure::Disagree);
                }
            }
            retrying("recording the batch done", timeout, || async { Ok(target_ledger.record(id, LedgerState::Done, rows, fingerprint, &name).await?) }).await?;
            if present {
                loaded.present += rows;
            } else {
                loaded.inserted += rows;
            }
            loaded.batches += 1;
            println!("[{}/{total}] {id}: {rows} rows {}", i + 1, if present { "already there" } else { "inserted" });
        }
        // Lake files of no batch in the ledger: the window of --since ends before them, a run
        // recorded them meanwhile (pending), or the ledger lost them (verify reports them).
        if args.since.is_none() {
            for (id, parts) in &files {
                if recorded_since.contains(id) {
                    loaded.pending += 1;
                    println!("PENDING {id}: written while the lake was listed");
                } else {
                    loaded.skipped += 1;
                    println!("SKIPPED {id}: {} rows in the lake the ledger does not record (lakeport verify tells more)", parts.iter().map(|f| f.rows).sum::<u64>());
                }
            }
        }
        anyhow::Ok(loaded)
    })
    .map_err(classified)?;
    println!(
        "backfilled {} batches from the lake into {target_name}: {} rows inserted, {} already there, {} batches skipped, {} pending",
        loaded.batches,
        loaded.inserted,
        loaded.present,
        loaded.skipped,
        loaded.pending
    );
    if loaded.inserted > 0 && args.table.is_none() && !pipeline.schema.clickhouse.rollups.is_empty() {
        println!("note: the rollups count the rows inserted; where rows of those batches were deleted from the table, not from its rollups, `lakeport verify` tells and `lakeport migrate --backfill-rollups` refills them");
    }
    if loaded.skipped > 0 {
        return Err(anyhow::anyhow!("{} batches were not loaded (listed above)", loaded.skipped)).context(Failure::Disagree);
    }
    Ok(ExitCode::SUCCESS)
}
