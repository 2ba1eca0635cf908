//! `lakeport run PIPELINE`: the main job.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::Args;

use crate::exit::Failure;
use crate::pipeline::{run as run_pipeline, Pipeline, RunOptions};

#[derive(Args)]
pub struct RunArgs {
    /// Pipeline file, e.g. pipelines/gateway_dns.toml.
    pipeline: PathBuf,
    /// Scheduled run: stop once every partition reached the high watermark it had at start,
    /// everything is written and committed; exit 0, or non-zero on any failure.
    #[arg(long)]
    until_caught_up: bool,
    /// Never draw a progress bar, even on a terminal.
    #[arg(long)]
    no_progress: bool,
}

pub fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let pipeline = Pipeline::load(&args.pipeline).context(Failure::Permanent)?;
    let name = pipeline.file.name.clone();
    let options = RunOptions { until_caught_up: args.until_caught_up, progress_bar: !args.no_progress };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let result = runtime.block_on(run_pipeline(pipeline, options));
    // Blocking work still running (a decode of an abandoned batch) is not waited for.
    runtime.shutdown_timeout(Duration::from_secs(1));
    println!("{}", result?.report(&name));
    Ok(ExitCode::SUCCESS)
}
