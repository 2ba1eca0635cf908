//! `lakeport`: ingest Gateway logs from Kafka into a Parquet lake and ClickHouse. The
//! binary is [`main`]; the library exists so that fuzz targets reach the pipeline-file
//! parser ([`Pipeline::parse`]).

mod batch;
mod cli;
mod commit;
mod exit;
mod metrics;
mod pipeline;
mod source;

use std::process::ExitCode;

use clap::Parser;

pub use pipeline::Pipeline;

/// The `lakeport` command line.
pub fn main() -> ExitCode {
    let args = cli::Cli::parse();
    cli::init_logging(args.log_format);
    match cli::run(args.command) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("lakeport: error: {e:#}");
            ExitCode::from(exit::code(&e))
        }
    }
}
