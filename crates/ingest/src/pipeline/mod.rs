//! The pipeline: its configuration, the work done for one batch, and the run loop that
//! ties the Kafka source, the batcher, the sinks and the committer together.

mod config;
mod dead_letters;
mod process;
mod retry;
mod runner;
mod summary;

pub use config::{expand_env, Pipeline, SourceConfig};
pub use retry::{classified, kafka_class, retrying, Decision, Retry};
pub use runner::{process_name, run, RunOptions};
pub use summary::Summary;
