//! `lakeport schema check | ddl | infer`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Subcommand, ValueEnum};
use sink::clickhouse::{create_table, dialect_notes, Dialect, RollupTable};
use transform::{check_ident, infer_schema, Schema};

use super::load_schema;

#[derive(Subcommand)]
pub enum SchemaCommand {
    /// Validate schema files (default: every .toml in the schemas folder).
    #[command(after_help = "Example:\n  lakeport schema check schemas/weblogs.toml")]
    Check {
        /// Schema files to check.
        files: Vec<PathBuf>,
        /// Folder searched when no file is given.
        #[arg(long, default_value = "schemas")]
        schemas_dir: PathBuf,
    },
    /// Print the ClickHouse CREATE TABLE statement for a schema.
    #[command(after_help = "Example:\n  lakeport schema ddl gateway_dns --dialect legacy")]
    Ddl {
        /// A schema file, or a dataset name looked up in the schemas folder.
        schema: String,
        /// Database the table is created in.
        #[arg(long, default_value = "lakeport")]
        database: String,
        /// Target server generation.
        #[arg(long, value_enum, default_value_t = DialectArg::Modern)]
        dialect: DialectArg,
        /// Folder dataset names are looked up in.
        #[arg(long, default_value = "schemas")]
        schemas_dir: PathBuf,
    },
    /// Draft a schema from sample NDJSON records; it works as written, review it.
    #[command(after_help = "Example:\n  lakeport schema infer samples.ndjson --name weblogs > schemas/weblogs.toml")]
    Infer {
        /// NDJSON sample file.
        sample: PathBuf,
        /// Dataset name of the draft.
        #[arg(long)]
        name: String,
    },
}

/// Target ClickHouse generation.
#[derive(Clone, Copy, ValueEnum)]
pub enum DialectArg {
    /// ClickHouse 23 and later.
    Modern,
    /// ClickHouse 18.16.
    Legacy,
}

pub fn run(command: SchemaCommand) -> anyhow::Result<ExitCode> {
    match command {
        SchemaCommand::Check { files, schemas_dir } => check(files, &schemas_dir),
        SchemaCommand::Ddl { schema, database, dialect, schemas_dir } => {
            check_ident(&database).map_err(|p| anyhow::anyhow!("--database: {p}"))?;
            let schema = load_schema(&schema, &schemas_dir)?;
            let dialect = match dialect {
                DialectArg::Modern => Dialect::Modern,
                DialectArg::Legacy => Dialect::Legacy,
            };
            for note in dialect_notes(&schema, dialect) {
                println!("-- ClickHouse 18.x: {note}");
            }
            println!("{};", create_table(&schema, &database, &schema.name, dialect));
            for r in &schema.clickhouse.rollups {
                for sql in RollupTable::new(&schema, r, &database, &schema.name).create_statements(dialect, None) {
                    println!("{sql};");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        SchemaCommand::Infer { sample, name } => {
            let bytes = std::fs::read(&sample).with_context(|| format!("reading {}", sample.display()))?;
            print!("{}", infer_schema(&bytes, &name)?);
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn check(mut files: Vec<PathBuf>, dir: &std::path::Path) -> anyhow::Result<ExitCode> {
    if files.is_empty() {
        let entries = std::fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))?;
        files = entries.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.extension().is_some_and(|x| x == "toml")).collect();
        files.sort();
        anyhow::ensure!(!files.is_empty(), "no .toml schema files in {}", dir.display());
    }
    let mut failed = 0;
    for path in &files {
        match Schema::from_path(path) {
            Ok(s) => println!("ok    {} ({} v{}: {} fields, {} derived)", path.display(), s.name, s.version, s.fields.len(), s.derived.len()),
            Err(e) => {
                failed += 1;
                println!("error {:#}", anyhow::Error::new(e));
            }
        }
    }
    Ok(if failed == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
