//! Pipeline files (`pipelines/<name>.toml`): reading, `${ENV}` interpolation, validation.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context as _};
use serde::Deserialize;

/// Default for `[batch] max_messages`.
pub const DEFAULT_BATCH_MESSAGES: usize = 500_000;
/// Default for `[batch] max_bytes`: 128 MiB of message bytes.
pub const DEFAULT_BATCH_BYTES: usize = 128 << 20;
/// Default for `[batch] max_age`.
pub const DEFAULT_BATCH_AGE: Duration = Duration::from_secs(30);
/// Default for `[runtime] max_concurrent_batches`.
pub const DEFAULT_MAX_CONCURRENT_BATCHES: usize = 4;
/// Default for `[runtime] max_in_flight_bytes`: 512 MiB.
pub const DEFAULT_MAX_IN_FLIGHT_BYTES: usize = 512 << 20;
/// Default for `[runtime] retry_timeout`.
pub const DEFAULT_RETRY_TIMEOUT: Duration = Duration::from_secs(600);
/// Default for `[runtime] shutdown_timeout`.
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(30);

/// A pipeline file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineFile {
    /// Pipeline name: metrics label, default consumer group.
    pub name: String,
    /// Schema file, relative to the pipeline file.
    pub schema: PathBuf,
    /// Where records come from.
    pub source: SourceConfig,
    /// When a batch is cut.
    #[serde(default)]
    pub batch: BatchConfig,
    /// The Parquet lake.
    pub lake: sink::parquet::LakeConfig,
    /// The ClickHouse table.
    pub clickhouse: sink::clickhouse::ClickHouseConfig,
    /// Where rejected records go.
    pub dead_letter: DeadLetterConfig,
    /// Process limits and endpoints.
    #[serde(default)]
    pub runtime: RuntimeConfig,
}

/// `[source]`: the Kafka topics and consumer group.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    /// Bootstrap brokers, `host:port[,host:port…]`.
    pub brokers: String,
    /// Topics to consume.
    pub topics: Vec<String>,
    /// Consumer group; processes with the same group share the partitions.
    pub group_id: String,
    /// Any librdkafka consumer setting, passed through (e.g. `security.protocol`,
    /// `sasl.mechanisms`, `sasl.username`, `sasl.password = "${KAFKA_PASSWORD}"`).
    #[serde(default)]
    pub librdkafka: BTreeMap<String, String>,
}

/// `[batch]`: a partition's batch is cut at whichever limit comes first.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchConfig {
    /// Most Kafka messages per batch (default 500,000); a message may hold several NDJSON
    /// records. Files of earlier versions call it `max_rows`.
    #[serde(default = "default_batch_messages", alias = "max_rows")]
    pub max_messages: usize,
    /// Most message bytes per batch (default 128 MiB).
    #[serde(default = "default_batch_bytes")]
    pub max_bytes: usize,
    /// Longest time a batch stays open (default 30s).
    #[serde(default = "default_batch_age", with = "humantime_serde")]
    pub max_age: Duration,
}

impl Default for BatchConfig {
    fn default() -> Self {
        Self { max_messages: DEFAULT_BATCH_MESSAGES, max_bytes: DEFAULT_BATCH_BYTES, max_age: DEFAULT_BATCH_AGE }
    }
}

fn default_batch_messages() -> usize {
    DEFAULT_BATCH_MESSAGES
}
fn default_batch_bytes() -> usize {
    DEFAULT_BATCH_BYTES
}
fn default_batch_age() -> Duration {
    DEFAULT_BATCH_AGE
}

/// `[dead_letter]`: where rejected records go; at least one of the two.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeadLetterConfig {
    /// Object-store URL of a prefix (`file://…`, `s3://bucket/prefix`, `memory://`): one
    /// NDJSON object per batch, overwritten when a batch is replayed.
    pub url: Option<String>,
    /// Kafka topic (on the source's cluster): one message per record, keyed
    /// `topic-partition-offset-line`, so a compacted topic keeps each record once.
    pub topic: Option<String>,
    /// Largest message the topic takes (its `max.message.bytes`; default 1,000,000): a dead
    /// letter larger than that goes to the topic with its raw bytes cut, pointing at the
    /// object-store copy (which needs `url`).
    #[serde(default = "default_dead_letter_message")]
    pub max_message_bytes: usize,
}

/// Default for `[dead_letter] max_message_bytes`: Kafka's default `max.message.bytes`.
pub const DEFAULT_DEAD_LETTER_MESSAGE_BYTES: usize = 1_000_000;

fn default_dead_letter_message() -> usize {
    DEFAULT_DEAD_LETTER_MESSAGE_BYTES
}

/// `[runtime]`: process limits and endpoints.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuntimeConfig {
    /// Most message bytes being processed at once; consumption pauses above it (default 512 MiB).
    #[serde(default = "default_in_flight")]
    pub max_in_flight_bytes: usize,
    /// Most batches decoded and written at the same time (default 4); the others wait
    /// their turn, about in the order they were cut (all run at once while the run drains
    /// at its end). Many small concurrent inserts slow ClickHouse down.
    #[serde(default = "default_concurrency")]
    pub max_concurrent_batches: usize,
    /// Address serving `/metrics` (Prometheus) and `/health`; none when absent.
    pub metrics_listen: Option<SocketAddr>,
    /// How long SIGINT/SIGTERM waits for in-flight batches before exiting (default 30s).
    #[serde(default = "default_shutdown", with = "humantime_serde")]
    pub shutdown_timeout: Duration,
    /// How long a batch that cannot be made durable is retried before the run fails
    /// (default 10m); the sinks' own retries of transient errors happen within each try.
    #[serde(default = "default_retry", with = "humantime_serde")]
    pub retry_timeout: Duration,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        Self {
            max_in_flight_bytes: DEFAULT_MAX_IN_FLIGHT_BYTES,
            max_concurrent_batches: DEFAULT_MAX_CONCURRENT_BATCHES,
            metrics_listen: None,
            shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
            retry_timeout: DEFAULT_RETRY_TIMEOUT,
        }
    }
}

fn default_in_flight() -> usize {
    DEFAULT_MAX_IN_FLIGHT_BYTES
}
fn default_concurrency() -> usize {
    DEFAULT_MAX_CONCURRENT_BATCHES
}
fn default_shutdown() -> Duration {
    DEFAULT_SHUTDOWN_TIMEOUT
}
fn default_retry() -> Duration {
    DEFAULT_RETRY_TIMEOUT
}

/// A pipeline file read and checked, with its schema loaded.
#[derive(Debug)]
pub struct Pipeline {
    /// The file as written, after interpolation.
    pub file: PipelineFile,
    /// The dataset schema it names.
    pub schema: transform::Schema,
}

impl Pipeline {
    /// Reads `path`, replaces `${VAR}` (or `${VAR:-default}`) in every string with the
    /// environment variable (`$${` for a literal `${`), checks every key and limit, and
    /// loads the schema.
    ///
    /// # Errors
    /// When the file cannot be read, has an unknown key, names a missing variable, breaks
    /// a limit, or its schema is invalid; the message names the file and the key.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading pipeline file {}", path.display()))?;
        Self::parse(&text, path, &|name| std::env::var(name).ok())
    }

    /// As [`Pipeline::load`] for the `text` of the file at `path` (its schema is read
    /// relative to it), with variables from `lookup`.
    ///
    /// # Errors
    /// As [`Pipeline::load`].
    pub fn parse(text: &str, path: &Path, lookup: &dyn Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        let mut value: toml::Value = toml::from_str(text).with_context(|| format!("{}: not valid TOML", path.display()))?;
        interpolate(&mut value, lookup).with_context(|| format!("{}", path.display()))?;
        let file: PipelineFile = value.try_into().map_err(|e: toml::de::Error| anyhow::anyhow!("{}: {}", path.display(), e.message()))?;
        let where_ = |key: &str| format!("{}: {key}", path.display());
        if file.source.topics.is_empty() {
            bail!("{}: list at least one topic", where_("[source] topics"));
        }
        if file.batch.max_messages == 0 || file.batch.max_bytes == 0 || file.batch.max_age.is_zero() {
            bail!("{}: limits must be greater than zero", where_("[batch]"));
        }
        if file.runtime.max_in_flight_bytes < file.batch.max_bytes {
            bail!("{}: must be at least [batch] max_bytes ({}), or no batch could ever start", where_("[runtime] max_in_flight_bytes"), file.batch.max_bytes);
        }
        if file.runtime.max_concurrent_batches == 0 {
            bail!("{}: must be at least 1", where_("[runtime] max_concurrent_batches"));
        }
        if file.dead_letter.url.is_none() && file.dead_letter.topic.is_none() {
            bail!("{}: give `url` (an object-store prefix), `topic` (a Kafka topic), or both", where_("[dead_letter]"));
        }
        let schema_path = path.parent().unwrap_or(Path::new(".")).join(&file.schema);
        let schema = transform::Schema::from_path(&schema_path).with_context(|| where_("schema"))?;
        Ok(Self { file, schema })
    }
}

/// Replaces `${NAME}` in every string of `value` using `lookup`.
fn interpolate(value: &mut toml::Value, lookup: &dyn Fn(&str) -> Option<String>) -> anyhow::Result<()> {
    match value {
        toml::Value::String(s) => *s = interpolate_str(s, lookup)?,
        toml::Value::Array(items) => items.iter_mut().try_for_each(|v| interpolate(v, lookup))?,
        toml::Value::Table(t) => t.iter_mut().try_for_each(|(_, v)| interpolate(v, lookup))?,
        _ => {}
    }
    Ok(())
}

/// `s` with `${VAR}` (or `${VAR:-default}`) replaced from the environment, as in pipeline
/// files (`$${` for a literal `${`).
///
/// # Errors
/// When a variable is not set and has no default, or a `${` is not closed.
pub fn expand_env(s: &str) -> anyhow::Result<String> {
    interpolate_str(s, &|name| std::env::var(name).ok())
}

fn interpolate_str(s: &str, lookup: &dyn Fn(&str) -> Option<String>) -> anyhow::Result<String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        if let Some(r) = rest.strip_prefix("$${") {
            out.push_str("${");
            rest = r;
        } else if let Some(r) = rest.strip_prefix("${") {
            let end = r.find('}').with_context(|| format!("unclosed `${{` in {s:?}"))?;
            let (name, default) = match r[..end].split_once(":-") {
                Some((name, default)) => (name, Some(default)),
                None => (&r[..end], None),
            };
            let value = lookup(name)
                .or_else(|| default.map(str::to_string))
                .with_context(|| format!("environment variable `{name}` is not set (used as `${{{name}}}`)"))?;
            out.push_str(&value);
            rest = &r[end + 1..];
        } else {
            out.push('$');
            rest = &rest[1..];
        }
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interpolates_and_escapes() {
        let env = |n: &str| (n == "PW").then(|| "s3cr\"et".to_string());
        assert_eq!(interpolate_str("a ${PW} b $${PW} $x", &env).unwrap(), "a s3cr\"et b ${PW} $x");
        assert_eq!(interpolate_str("${NOPE:-127.0.0.1:9092}/${PW:-x}", &env).unwrap(), "127.0.0.1:9092/s3cr\"et");
        let err = interpolate_str("${NOPE}", &env).unwrap_err().to_string();
        assert!(err.contains("`NOPE` is not set"), "{err}");
        assert!(interpolate_str("${PW", &env).is_err());
    }

    #[test]
    fn batch_limits_keep_their_old_name() {
        let old: BatchConfig = toml::from_str("max_rows = 7").unwrap();
        let new: BatchConfig = toml::from_str("max_messages = 7").unwrap();
        assert_eq!((old.max_messages, new.max_messages), (7, 7));
    }
}
