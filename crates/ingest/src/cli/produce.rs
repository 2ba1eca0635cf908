//! `lakeport produce`: NDJSON lines to Kafka, one message per line (also behind
//! `lakeport gen --kafka`: demos, tests, benchmarks, replaying dead letters' raw records).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use std::time::Duration;

use anyhow::Context as _;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::producer::{FutureProducer, FutureRecord, Producer as _};

#[derive(Args)]
pub struct ProduceArgs {
    /// NDJSON file; `-` for stdin.
    input: PathBuf,
    /// Bootstrap brokers.
    #[arg(long)]
    kafka: String,
    /// Topic; created with --partitions if missing.
    #[arg(long)]
    topic: String,
    /// Partitions of a topic created here.
    #[arg(long, default_value_t = 1)]
    partitions: i32,
    /// A librdkafka setting, repeatable: `-X security.protocol=ssl -X ssl.ca.location=ca.pem`.
    /// `${VAR}` in a value is read from the environment, so a secret stays out of the process
    /// list: `-X 'sasl.password=${KAFKA_PASSWORD}'` (single quotes: the shell leaves it).
    #[arg(short = 'X', long = "kafka-setting", value_name = "KEY=VALUE", value_parser = parse_setting)]
    settings: Vec<(String, String)>,
}

/// `KEY=VALUE` of `-X`, with `${VAR}` in the value taken from the environment.
pub fn parse_setting(s: &str) -> Result<(String, String), String> {
    let (key, value) = s.split_once('=').ok_or_else(|| format!("`{s}` is not KEY=VALUE"))?;
    let value = crate::pipeline::expand_env(value).map_err(|e| format!("{key}: {e:#}"))?;
    Ok((key.to_string(), value))
}

pub fn run(args: ProduceArgs) -> anyhow::Result<ExitCode> {
    let lines = if args.input.as_os_str() == "-" {
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin().lock(), &mut buf).context("reading stdin")?;
        buf
    } else {
        std::fs::read(&args.input).with_context(|| format!("reading {}", args.input.display()))?
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let sent = runtime.block_on(produce_lines(&args.kafka, &args.settings, &args.topic, args.partitions, &lines))?;
    eprintln!("lakeport produce: {sent} messages to {}", args.topic);
    Ok(ExitCode::SUCCESS)
}

/// Sends every non-empty line of `lines` as one message to `topic` (created with
/// `partitions` partitions when missing), spread round-robin over the partitions, with the
/// librdkafka `settings` too; returns how many were acknowledged.
pub async fn produce_lines(brokers: &str, settings: &[(String, String)], topic: &str, partitions: i32, lines: &[u8]) -> anyhow::Result<usize> {
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", brokers).set("message.max.bytes", "10000000").set("linger.ms", "5");
    for (key, value) in settings {
        config.set(key, value);
    }
    let admin: AdminClient<DefaultClientContext> = config.create().context("creating the Kafka admin client")?;
    let created = admin
        .create_topics(&[NewTopic::new(topic, partitions, TopicReplication::Fixed(1))], &AdminOptions::new().operation_timeout(Some(Duration::from_secs(30))))
        .await
        .context("creating the topic")?;
    for result in created {
        match result {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((t, e)) => anyhow::bail!("creating topic {t}: {e}"),
        }
    }
    let producer: FutureProducer = config.create().context("creating the Kafka producer")?;
    let mut pending = Vec::new();
    let mut sent = 0;
    for (i, line) in lines.split(|&b| b == b'\n').filter(|l| !l.is_empty()).enumerate() {
        let partition = i as i32 % partitions.max(1);
        let record: FutureRecord<'_, (), [u8]> = FutureRecord::to(topic).payload(line).partition(partition);
        pending.push(producer.send(record, Duration::from_secs(60)));
        if pending.len() >= 10_000 {
            sent += settle(&mut pending).await?;
        }
    }
    sent += settle(&mut pending).await?;
    producer.flush(Duration::from_secs(60)).context("flushing the producer")?;
    Ok(sent)
}

async fn settle<F>(pending: &mut Vec<F>) -> anyhow::Result<usize>
where
    F: std::future::Future<Output = Result<rdkafka::producer::future_producer::Delivery, (rdkafka::error::KafkaError, rdkafka::message::OwnedMessage)>>,
{
    let n = pending.len();
    for result in futures::future::join_all(pending.drain(..)).await {
        result.map_err(|(e, _)| e).context("producing a record")?;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::parse_setting;

    #[test]
    fn settings_take_secrets_from_the_environment() {
        let home = std::env::var("HOME").expect("HOME is set");
        assert_eq!(parse_setting("sasl.password=${HOME}"), Ok(("sasl.password".into(), home)));
        assert_eq!(parse_setting("a=$${HOME}=b"), Ok(("a".into(), "${HOME}=b".into())));
        assert!(parse_setting("sasl.password=${LAKEPORT_NO_SUCH_VARIABLE}").unwrap_err().contains("LAKEPORT_NO_SUCH_VARIABLE"));
        assert!(parse_setting("no-equals").is_err());
    }
}
