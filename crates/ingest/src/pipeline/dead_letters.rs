//! The dead-letter destinations of a pipeline: an object-store prefix (in `sink`) and/or a
//! Kafka topic (here, since this crate owns Kafka).

use std::time::Duration;

use anyhow::Context as _;
use rdkafka::config::ClientConfig;
use rdkafka::producer::{FutureProducer, FutureRecord};
use sink::dead_letter::{DeadLetter, DeadLetters};
use sink::BatchId;
use transform::Schema;

use super::config::{DeadLetterConfig, SourceConfig};

/// librdkafka settings of the source that also apply to the dead-letter producer.
const SHARED_PREFIXES: [&str; 4] = ["security.", "sasl.", "ssl.", "client."];

/// Where a pipeline's dead letters go.
pub struct DeadLetterSinks {
    store: Option<DeadLetters>,
    topic: Option<(FutureProducer, String)>,
}

impl DeadLetterSinks {
    /// Opens the configured destinations.
    ///
    /// # Errors
    /// When the store URL is invalid or the producer cannot be created.
    pub fn open(config: &DeadLetterConfig, source: &SourceConfig) -> anyhow::Result<Self> {
        let store = config.url.as_deref().map(DeadLetters::open).transpose().context("[dead_letter] url")?;
        let topic = match &config.topic {
            None => None,
            Some(topic) => {
                let mut c = ClientConfig::new();
                c.set("bootstrap.servers", &source.brokers).set("enable.idempotence", "true").set("message.max.bytes", "67108864");
                for (k, v) in source.librdkafka.iter().filter(|(k, _)| SHARED_PREFIXES.iter().any(|p| k.starts_with(p))) {
                    c.set(k, v);
                }
                Some((c.create().context("[dead_letter] creating the Kafka producer")?, topic.clone()))
            }
        };
        Ok(Self { store, topic })
    }

    /// Makes the dead letters of batch `id` durable in every destination.
    ///
    /// # Errors
    /// When a destination refuses them (the batch is then retried).
    pub async fn write(&self, schema: &Schema, id: &BatchId, letters: &[DeadLetter]) -> anyhow::Result<()> {
        if let Some(store) = &self.store {
            store.write(schema, id, letters).await?;
        }
        if let Some((producer, topic)) = &self.topic {
            let sends = letters.iter().map(|l| {
                let key = format!("{}-{}-{}-{}", id.topic, id.partition, l.offset, l.line);
                let payload = l.to_json(schema, id).to_string();
                async move {
                    let record = FutureRecord::to(topic).key(&key).payload(&payload);
                    producer.send(record, Duration::from_secs(60)).await.map_err(|(e, _)| e)
                }
            });
            for result in futures::future::join_all(sends).await {
                result.with_context(|| format!("producing a dead letter to {topic}"))?;
            }
        }
        Ok(())
    }
}
