//! `lakeport pipeline new`: draft a pipeline file for a dataset.

use std::process::ExitCode;

use clap::Subcommand;
use transform::check_ident;

/// The shipped gateway_dns pipeline, the model of every draft.
const MODEL: &str = include_str!("../../../../pipelines/gateway_dns.toml");

#[derive(Subcommand)]
pub enum PipelineCommand {
    /// Print a pipeline file for dataset NAME (topic, group, table and folders named after
    /// it; schema `../schemas/NAME.toml`), to save as `pipelines/NAME.toml`.
    #[command(after_help = "Example:\n  lakeport pipeline new weblogs > pipelines/weblogs.toml")]
    New {
        /// Dataset name: lower-case letters, digits and `_`.
        name: String,
    },
}

pub fn run(command: PipelineCommand) -> anyhow::Result<ExitCode> {
    let PipelineCommand::New { name } = command;
    check_ident(&name).map_err(|p| anyhow::anyhow!("dataset name `{name}`: {p}"))?;
    print!("{}", draft(&name));
    Ok(ExitCode::SUCCESS)
}

fn draft(name: &str) -> String {
    MODEL.replace("gateway_dns", name).replace("GATEWAY_DNS", &name.to_uppercase())
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_draft_names_only_its_dataset() {
        let text = super::draft("weblogs");
        assert!(!text.contains("gateway") && !text.contains("GATEWAY"), "{text}");
        assert!(text.contains("schema = \"../schemas/weblogs.toml\"") && text.contains("LAKEPORT_WEBLOGS_TOPIC:-weblogs"), "{text}");
    }
}
