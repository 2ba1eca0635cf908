//! `lakeport verify`: do ClickHouse and the lake hold exactly the rows the ledger recorded,
//! batch by batch, and which dead letters did each batch leave?

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::Args;
use sink::clickhouse::{message_rows, with_quorum, Client, RollupTable};
use sink::dead_letter::DeadLetters;
use sink::ledger::{innermost, Ledger};
use sink::parquet::lake_files;

use crate::exit::Failure;
use crate::pipeline::{classified, Pipeline};

#[derive(Args)]
pub struct VerifyArgs {
    /// The pipeline file.
    pipeline: PathBuf,
    /// Only batches recorded this recently (`24h`, `30m`), and the rows of their partitions
    /// from the first of them on.
    #[arg(long, value_parser = humantime::parse_duration)]
    since: Option<Duration>,
}

/// What the sinks hold of one batch.
#[derive(Default)]
struct Held {
    clickhouse: u64,
    /// Rows of a message beyond its distinct lines: records there twice.
    clickhouse_repeats: u64,
    lake: u64,
    dead_letters: u64,
}

/// Rows of a partition that no recorded batch covers, in one sink.
#[derive(Default)]
struct Stray {
    rows: u64,
    first: i64,
    last: i64,
}

pub fn run(args: VerifyArgs) -> anyhow::Result<ExitCode> {
    let pipeline = Pipeline::load(&args.pipeline).context(Failure::Permanent)?;
    let file = &pipeline.file;
    let config = file.clickhouse.validate().context("[clickhouse]").context(Failure::Permanent)?;
    let lake = file.lake.validate().context("[lake]").context(Failure::Permanent)?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let letters = file.dead_letter.url.as_deref().map(DeadLetters::open).transpose().context("[dead_letter] url").context(Failure::Permanent)?;
    let (batches, done_before, messages, files, letters, rollups) = runtime.block_on(async {
        // On a cluster, reads that see every insert a majority of replicas acknowledged.
        let config = with_quorum(config.clone()).await.context("[clickhouse] cluster")?;
        let ledger = Ledger::existing(&config).await.context("reading the ledger")?;
        // Batches done before the sinks are read are judged; the ledger read again after
        // them covers what a live run wrote meanwhile (reported pending, not unrecorded).
        let recorded = ledger.batches(args.since).await.context("reading the ledger")?;
        // With --since, the footers of lake files that end before their partition's first
        // batch of the window are not read: those files are outside it.
        let mut window: HashMap<(String, i32), i64> = HashMap::new();
        for b in &recorded {
            window.entry((b.id.topic.clone(), b.id.partition)).and_modify(|first| *first = (*first).min(b.id.first_offset)).or_insert(b.id.first_offset);
        }
        let in_window = |b: &sink::BatchId| args.since.is_none() || window.get(&(b.topic.clone(), b.partition)).is_none_or(|&first| b.last_offset >= first);
        let done_before: HashSet<sink::BatchId> = recorded.into_iter().filter(|b| b.done_rows.is_some()).map(|b| b.id).collect();
        let messages = message_rows(&Client::new(&config)?, config.database(), config.table()).await.context("counting the ClickHouse rows")?;
        let files = lake_files(&lake, &pipeline.schema.name, in_window).await.context("listing the lake")?;
        let letters = match letters {
            Some(store) => store.counts(&pipeline.schema.name).await.context("listing the dead letters")?,
            None => Vec::new(),
        };
        let batches = innermost(ledger.batches(args.since).await.context("reading the ledger")?);
        let client = Client::new(&config)?;
        let mut rollups = Vec::new();
        for r in &pipeline.schema.clickhouse.rollups {
            let rollup = RollupTable::new(&pipeline.schema, r, config.database(), config.table());
            rollups.push((r.name.clone(), rollup.differing_days(&client, args.since).await.with_context(|| format!("comparing rollup {}", r.name))?));
        }
        anyhow::Ok((batches, done_before, messages, files, letters, rollups))
    })
    .map_err(classified)?;

    // Batches by partition, in offset order, for finding the batch of an offset.
    let mut by_partition: HashMap<(String, i32), Vec<usize>> = HashMap::new();
    for (i, b) in batches.iter().enumerate() {
        by_partition.entry((b.id.topic.clone(), b.id.partition)).or_default().push(i);
    }
    let batch_of = |topic: &str, partition: i32, offset: i64| -> Result<usize, bool> {
        let Some(list) = by_partition.get(&(topic.to_string(), partition)) else { return Err(args.since.is_none()) };
        let at = list.partition_point(|&i| batches[i].id.first_offset <= offset);
        match at.checked_sub(1).map(|k| list[k]) {
            Some(i) if offset <= batches[i].id.last_offset => Ok(i),
            // Before the first batch verified: outside the window of --since.
            _ if offset < batches[list[0]].id.first_offset => Err(args.since.is_none()),
            _ => Err(true),
        }
    };
    let mut held: Vec<Held> = batches.iter().map(|_| Held::default()).collect();
    let mut strays: HashMap<(&'static str, String, i32), Stray> = HashMap::new();
    let mut stray = |sink: &'static str, topic: &str, partition: i32, first: i64, last: i64, rows: u64| {
        let s = strays.entry((sink, topic.to_string(), partition)).or_insert(Stray { rows: 0, first, last });
        (s.rows, s.first, s.last) = (s.rows + rows, s.first.min(first), s.last.max(last));
    };
    for m in &messages {
        match batch_of(&m.topic, m.partition, m.offset) {
            Ok(i) => (held[i].clickhouse, held[i].clickhouse_repeats) = (held[i].clickhouse + m.rows, held[i].clickhouse_repeats + m.rows - m.lines),
            Err(true) => stray("clickhouse", &m.topic, m.partition, m.offset, m.offset, m.rows),
            Err(false) => {}
        }
    }
    let index: HashMap<&sink::BatchId, usize> = batches.iter().enumerate().map(|(i, b)| (&b.id, i)).collect();
    for f in &files {
        match index.get(&f.batch) {
            Some(&i) => held[i].lake += f.rows,
            // Ignored only when it ends before the window of --since.
            None if batch_of(&f.batch.topic, f.batch.partition, f.batch.last_offset) != Err(false) => {
                stray("lake", &f.batch.topic, f.batch.partition, f.batch.first_offset, f.batch.last_offset, f.rows)
            }
            None => {}
        }
    }
    for (id, count) in &letters {
        match index.get(id) {
            Some(&i) => held[i].dead_letters += count,
            None if batch_of(&id.topic, id.partition, id.last_offset) != Err(false) => stray("dead letters", &id.topic, id.partition, id.first_offset, id.last_offset, *count),
            None => {}
        }
    }

    let (mut disagree, mut pending, mut rows) = (0, 0, 0);
    let dead_letters: u64 = held.iter().map(|h| h.dead_letters).sum();
    for (b, h) in batches.iter().zip(&held) {
        let Some(want) = b.done_rows.filter(|_| done_before.contains(&b.id)) else {
            pending += 1;
            let state = if b.done_rows.is_some() { "done while verify read the sinks" } else { "an intent without done (a run is writing it, or stopped mid-batch: the next run completes it)" };
            println!("PENDING    {}: {state}; clickhouse {}, lake {}", b.id, h.clickhouse, h.lake);
            continue;
        };
        rows += want;
        for (sink, have, repeats) in [("clickhouse", h.clickhouse, h.clickhouse_repeats), ("lake", h.lake, 0)] {
            let verdict = match have {
                _ if repeats > 0 || have > want => "DUPLICATED",
                0 if want > 0 => "MISSING",
                _ if have < want => "PARTIAL",
                _ => continue,
            };
            disagree += 1;
            let repeated = if repeats > 0 { format!(", {repeats} of them repeats") } else { String::new() };
            println!("{verdict:<10} {sink:<10} {}: the ledger recorded {want} rows, {sink} holds {have}{repeated}", b.id);
        }
    }
    let mut strays: Vec<_> = strays.into_iter().collect();
    strays.sort_by(|a, b| a.0.cmp(&b.0));
    for ((sink, topic, partition), s) in &strays {
        disagree += 1;
        println!("UNRECORDED {sink:<10} {topic}[{partition}] offsets {}..={}: {} rows or letters no recorded batch covers", s.first, s.last, s.rows);
    }
    for (name, days) in &rollups {
        for (day, held, wanted) in days {
            disagree += 1;
            println!(
                "ROLLUP     {name} {day}: other aggregates than the table's rows give ({held} keys, the table gives {wanted}: missed or twice-counted inserts); refill: lakeport migrate {} --backfill-rollups --rollup {name} --since {day} --until {day}",
                args.pipeline.display()
            );
        }
    }
    let window = args.since.map_or(String::new(), |d| format!(" recorded in the last {}", humantime::format_duration(d)));
    println!(
        "verified {} batches{window} ({rows} rows, {dead_letters} dead letters) against {}.{}, {} rollup(s), the lake and the dead letters: {disagree} disagreements, {pending} pending",
        batches.len(),
        config.database(),
        config.table(),
        rollups.len()
    );
    if disagree > 0 {
        return Err(anyhow::anyhow!("{disagree} disagreements between the ledger and the sinks (listed above)")).context(Failure::Disagree);
    }
    Ok(ExitCode::SUCCESS)
}
