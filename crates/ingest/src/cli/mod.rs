//! The command line: one file per command.

mod backfill;
mod convert;
mod gen;
mod migrate;
mod pipeline;
mod produce;
pub mod progress;
mod run;
mod schema;
mod verify;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand, ValueEnum};
use transform::Schema;

#[derive(Parser)]
#[command(name = "lakeport", version, about = "Ingest Gateway HTTP/DNS logs into a Parquet lake and ClickHouse")]
pub struct Cli {
    /// Log output format (logs go to stderr; level from RUST_LOG, default info).
    #[arg(long, value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

/// Log output format.
#[derive(Clone, Copy, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

#[derive(Subcommand)]
pub enum Command {
    /// Check, print as ClickHouse DDL, or draft dataset schemas.
    #[command(subcommand)]
    Schema(schema::SchemaCommand),
    /// Draft pipeline files.
    #[command(subcommand)]
    Pipeline(pipeline::PipelineCommand),
    /// Convert an NDJSON file into a Parquet file, keeping rejected records with their reason.
    #[command(after_help = "Example:\n  lakeport convert --schema gateway_dns dns.ndjson.gz --out dns.parquet --rejects dns.rejects.ndjson")]
    Convert(convert::ConvertArgs),
    /// Generate synthetic Gateway log records (NDJSON), optionally with malformed ones.
    #[command(after_help = "Examples:\n  lakeport gen --dataset gateway_dns --count 10000 --start now --out dns.ndjson\n  lakeport gen --dataset gateway_http --count 10000 --kafka 127.0.0.1:9092 --topic gateway_http --partitions 3")]
    Gen(gen::GenArgs),
    /// Create or evolve a dataset's ClickHouse table (additive changes only, unless told).
    #[command(after_help = "Examples:\n  lakeport migrate pipelines/gateway_dns.toml --dry-run\n  lakeport migrate schemas/weblogs.toml --clickhouse-url http://127.0.0.1:8123 --database lakeport")]
    Migrate(migrate::MigrateArgs),
    /// Consume a pipeline's topics into the Parquet lake and ClickHouse.
    #[command(after_help = "Examples:\n  lakeport run pipelines/gateway_dns.toml --until-caught-up   # a scheduled run\n  lakeport run pipelines/gateway_dns.toml                     # continuous; metrics on [runtime] metrics_listen")]
    Run(run::RunArgs),
    /// Check that ClickHouse and the lake hold exactly the rows the ledger recorded, batch by batch.
    #[command(after_help = "Examples:\n  lakeport verify pipelines/gateway_dns.toml\n  lakeport verify pipelines/gateway_dns.toml --since 24h   # after each scheduled run")]
    Verify(verify::VerifyArgs),
    /// Load the lake's batches into a ClickHouse table (the pipeline's, or a rebuilt one), each exactly once.
    #[command(after_help = "Examples:\n  lakeport backfill pipelines/gateway_dns.toml --from-lake                        # repair the pipeline's table\n  lakeport migrate pipelines/gateway_dns.toml --table gateway_dns_v2 && lakeport backfill pipelines/gateway_dns.toml --from-lake --table gateway_dns_v2")]
    Backfill(backfill::BackfillArgs),
    /// Send the lines of an NDJSON file to a Kafka topic, one message per line.
    #[command(after_help = "Example:\n  lakeport produce dns.ndjson --kafka 127.0.0.1:9092 --topic gateway_dns")]
    Produce(produce::ProduceArgs),
}

pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Schema(c) => schema::run(c),
        Command::Pipeline(c) => pipeline::run(c),
        Command::Convert(a) => convert::run(a),
        Command::Gen(a) => gen::run(a),
        Command::Run(a) => run::run(a),
        Command::Migrate(a) => migrate::run(a),
        Command::Produce(a) => produce::run(a),
        Command::Verify(a) => verify::run(a),
        Command::Backfill(a) => backfill::run(a),
    }
}

pub fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    // Colours only on a terminal: log files and collectors get plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// Loads a schema given as a file path or as a dataset name in `schemas_dir`.
pub fn load_schema(spec: &str, schemas_dir: &Path) -> anyhow::Result<Schema> {
    let path = if spec.ends_with(".toml") || spec.contains('/') {
        PathBuf::from(spec)
    } else {
        schemas_dir.join(format!("{spec}.toml"))
    };
    Schema::from_path(&path).with_context(|| format!("loading schema {}", path.display()))
}
