//! `lakeport demo`: the main job on embedded defaults (for now: synthetic logs → Parquet).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Args;
use transform::synth::Dataset;

use super::{convert, gen, load_schema};

#[derive(Args)]
pub struct DemoArgs {
    /// Records per dataset.
    #[arg(long, default_value_t = 100_000)]
    count: u64,
    /// Fraction of malformed records mixed in.
    #[arg(long, default_value_t = 0.01)]
    bad_ratio: f64,
    /// Output folder.
    #[arg(long, default_value = ".lakeport/demo")]
    out: PathBuf,
    /// Folder schemas are read from.
    #[arg(long, default_value = "schemas")]
    schemas_dir: PathBuf,
}

pub fn run(args: DemoArgs) -> anyhow::Result<ExitCode> {
    for dataset in [Dataset::GatewayHttp, Dataset::GatewayDns] {
        let name = dataset.name();
        let dir = args.out.join(name);
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let mut input = Vec::new();
        gen::generate(dataset, 1, args.bad_ratio, args.count, &mut input)?;
        let schema = load_schema(name, &args.schemas_dir)?;
        let out = dir.join("part-0.parquet");
        let rejects_path = dir.join("rejects.ndjson");
        let mut rejects = std::io::BufWriter::new(std::fs::File::create(&rejects_path).with_context(|| format!("creating {}", rejects_path.display()))?);
        let summary = convert::convert(&input[..], schema, &out, &mut rejects)?;
        summary.print(&format!("{name} → {}", out.display()));
        println!("{name}: rejected records with reasons in {}", rejects_path.display());
    }
    Ok(ExitCode::SUCCESS)
}
