//! `lakeport migrate`: create or evolve a dataset's ClickHouse table.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Args;
use sink::ledger::Ledger;
use sink::clickhouse::{apply_migration, plan_migration, with_quorum, Client, ClickHouseConfig, RollupTable};

use super::load_schema;
use crate::pipeline::{classified, Pipeline};

#[derive(Args)]
pub struct MigrateArgs {
    /// A pipeline file (its [clickhouse] section names the server and table), or a schema
    /// file / dataset name together with --clickhouse-url.
    target: String,
    /// Print the statements without running them.
    #[arg(long)]
    dry_run: bool,
    /// Also apply changes that lose or reinterpret data (type changes, removed columns).
    #[arg(long)]
    allow_destructive: bool,
    /// Create the tables on every replica of this cluster of the server's remote_servers
    /// (`ON CLUSTER`, `Replicated…MergeTree`, a `Distributed` table `<table>_all`); the
    /// pipeline's `[clickhouse] cluster` otherwise.
    #[arg(long)]
    cluster: Option<String>,
    /// ClickHouse HTTP URL, when TARGET is a schema.
    #[arg(long, env = "LAKEPORT_CLICKHOUSE_URL")]
    clickhouse_url: Option<String>,
    /// Database, when TARGET is a schema.
    #[arg(long, default_value = "lakeport")]
    database: String,
    /// Table: another than the pipeline's (a rebuilt table for `lakeport backfill --table`),
    /// or, when TARGET is a schema, another than the dataset name.
    #[arg(long)]
    table: Option<String>,
    /// Then refill the rollups (all, or those named by --rollup) from the dataset's table,
    /// one UTC day at a time: each day's rollup rows are replaced, so it can be run again.
    /// Run it while no pipeline writes the days it refills.
    #[arg(long)]
    backfill_rollups: bool,
    /// With --backfill-rollups: only this rollup (repeatable).
    #[arg(long, requires = "backfill_rollups")]
    rollup: Vec<String>,
    /// With --backfill-rollups: from this UTC day on (YYYY-MM-DD).
    #[arg(long, requires = "backfill_rollups", value_parser = day)]
    since: Option<String>,
    /// With --backfill-rollups: up to this UTC day (YYYY-MM-DD, inclusive).
    #[arg(long, requires = "backfill_rollups", value_parser = day)]
    until: Option<String>,
    /// Folder dataset names are looked up in.
    #[arg(long, default_value = "schemas")]
    schemas_dir: PathBuf,
}

pub fn run(args: MigrateArgs) -> anyhow::Result<ExitCode> {
    let (schema, config) = if is_pipeline(Path::new(&args.target)) {
        let p = Pipeline::load(Path::new(&args.target))?;
        let (mut schema, mut config) = (p.schema, p.file.clickhouse);
        if let Some(table) = args.table.clone().filter(|t| *t != config.table) {
            // Rollups are the database's, filled from the pipeline's table: one table feeds them.
            if !schema.clickhouse.rollups.is_empty() {
                println!("-- note: rollups are filled from {}, not from {table}: after pointing the pipeline at {table}, `lakeport migrate PIPELINE --allow-destructive --backfill-rollups` rebuilds them from it", config.table);
                schema.clickhouse.rollups.clear();
            }
            config.table = table;
        }
        (schema, config)
    } else {
        let schema = load_schema(&args.target, &args.schemas_dir)?;
        let url = args.clickhouse_url.clone().context("TARGET is a schema: give --clickhouse-url (or LAKEPORT_CLICKHOUSE_URL), or pass a pipeline file")?;
        let mut config = ClickHouseConfig::new(url, args.table.clone().unwrap_or_else(|| schema.name.clone()));
        config.database = args.database.clone();
        (schema, config)
    };
    // Statements name their database; the client itself starts in `default`, which exists
    // before the target database does.
    let mut config = config;
    if args.cluster.is_some() {
        config.cluster = args.cluster.clone();
    }
    let mut admin = config.clone();
    admin.database = "default".into();
    let (config, admin) = (config.validate()?, admin.validate()?);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async {
        let client = Client::new(&with_quorum(admin).await?)?;
        let plan = plan_migration(&client, &schema, config.database(), config.table(), config.cluster(), args.allow_destructive).await?;
        for note in &plan.notes {
            println!("-- note: {note}");
        }
        if plan.statements.is_empty() {
            println!("-- {}.{} is up to date with {} v{}: nothing to do", config.database(), config.table(), schema.name, schema.version);
        }
        for sql in &plan.statements {
            println!("{sql};");
        }
        if args.dry_run {
            if !plan.statements.is_empty() {
                println!("-- dry run: nothing was changed");
            }
            return Ok(ExitCode::SUCCESS);
        }
        if !plan.statements.is_empty() {
            apply_migration(&client, &plan).await?;
            println!("-- applied {} statement(s) to {}.{}", plan.statements.len(), config.database(), config.table());
        }
        if args.backfill_rollups {
            for name in &args.rollup {
                anyhow::ensure!(schema.clickhouse.rollups.iter().any(|r| &r.name == name), "--rollup {name}: the schema declares no such rollup");
            }
            // A batch begun and not done is inserted again by the next run; refilled meanwhile,
            // a rollup could count it twice (the refill forgets the day's insert tokens).
            match Ledger::existing(&config).await {
                Ok(ledger) => {
                    let open = ledger.batches(None).await?.into_iter().filter(|b| b.done_rows.is_none()).count();
                    anyhow::ensure!(open == 0, "{open} batch(es) of {}.{} are begun and not done (a run is writing, or stopped mid-batch): let a run finish them (exit 0), stop the pipeline, then refill the rollups", config.database(), config.table());
                }
                Err(sink::Error::ClickHouseNoTable { .. }) => {}
                Err(e) => return Err(e.into()),
            }
            let chosen = schema.clickhouse.rollups.iter().filter(|r| args.rollup.is_empty() || args.rollup.contains(&r.name));
            for r in chosen {
                let rollup = RollupTable::new(&schema, r, config.database(), config.table());
                let days = rollup.days(&client, args.since.as_deref(), args.until.as_deref()).await?;
                for (i, d) in days.iter().enumerate() {
                    let rows = rollup.refill_day(&client, d).await.with_context(|| format!("refilling rollup {} for {d} (run it again to finish)", r.name))?;
                    println!("-- rollup {}: {d} refilled, {rows} row(s) [{}/{}]", r.name, i + 1, days.len());
                }
                println!("-- rollup {}: {} day(s) refilled", r.name, days.len());
            }
        }
        Ok(ExitCode::SUCCESS)
    })
    .map_err(classified)
}

/// A UTC day, `YYYY-MM-DD`.
fn day(s: &str) -> Result<String, String> {
    let b = s.as_bytes();
    let shaped = b.len() == 10 && b.iter().enumerate().all(|(i, c)| if i == 4 || i == 7 { *c == b'-' } else { c.is_ascii_digit() });
    shaped.then(|| s.to_string()).ok_or_else(|| format!("`{s}` is not a day (YYYY-MM-DD)"))
}

/// A pipeline file has a `schema` key and a `[clickhouse]` table; a schema has neither.
fn is_pipeline(path: &Path) -> bool {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|t| toml::from_str::<toml::Table>(&t).ok())
        .is_some_and(|t| t.contains_key("schema") && t.contains_key("clickhouse"))
}
