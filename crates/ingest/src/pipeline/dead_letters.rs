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
use crate::exit::Failure;

/// librdkafka settings of the source that also apply to the dead-letter producer.
const SHARED_PREFIXES: [&str; 4] = ["security.", "sasl.", "ssl.", "client."];

/// Where a pipeline's dead letters go.
pub struct DeadLetterSinks {
    store: Option<DeadLetters>,
    topic: Option<(FutureProducer, String)>,
    /// Largest message the dead-letter topic takes.
    max_message: usize,
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
        Ok(Self { store, topic, max_message: config.max_message_bytes })
    }

    /// Makes the dead letters of batch `id` durable in every destination.
    ///
    /// # Errors
    /// When a destination refuses them (the batch is then retried).
    pub async fn write(&self, schema: &Schema, id: &BatchId, letters: &[DeadLetter]) -> anyhow::Result<()> {
        let mut object = None;
        if let Some(store) = &self.store {
            object = store.write(schema, id, letters).await?;
        }
        if let Some((producer, topic)) = &self.topic {
            let mut payloads = Vec::with_capacity(letters.len());
            for l in letters {
                payloads.push(fit(l.to_json(schema, id), self.max_message, object.as_ref().map(ToString::to_string)).with_context(|| format!("dead letter of {id} offset {} line {} for topic {topic}", l.offset, l.line)).context(Failure::Permanent)?);
            }
            let sends = letters.iter().zip(payloads).map(|(l, payload)| {
                let key = format!("{}-{}-{}-{}", id.topic, id.partition, l.offset, l.line);
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

/// Room kept for the fields other than the raw bytes when a dead letter is cut to fit.
const ROOM_FOR_FIELDS: usize = 16 << 10;

/// `letter` as a message of at most `max` bytes: as it is when it fits; else its raw bytes
/// cut to a prefix, with `raw_bytes` (the full length) and `raw_object` (the object-store
/// dead letter holding them whole). Without an object-store copy the record would be cut
/// with nowhere else to keep it: an error that says what to configure.
fn fit(mut letter: serde_json::Value, max: usize, object: Option<String>) -> anyhow::Result<String> {
    let text = letter.to_string();
    if text.len() <= max {
        return Ok(text);
    }
    let Some(object) = object else {
        anyhow::bail!(
            "it is {} bytes as JSON, more than the topic's `[dead_letter] max_message_bytes` ({max}); set `[dead_letter] url` too, so that the whole record is kept in object storage and the topic gets a shortened copy",
            text.len()
        );
    };
    let keep = max.saturating_sub(ROOM_FOR_FIELDS);
    for field in ["raw", "raw_base64"] {
        let Some(raw) = letter.get(field).and_then(|v| v.as_str()).map(str::to_owned) else { continue };
        let cut = (0..=keep.min(raw.len())).rev().find(|&i| raw.is_char_boundary(i)).unwrap_or(0);
        letter[field] = serde_json::json!(&raw[..cut]);
        letter["raw_bytes"] = serde_json::json!(raw.len());
        letter["raw_object"] = serde_json::json!(object);
    }
    let text = letter.to_string();
    anyhow::ensure!(text.len() <= max, "it is {} bytes as JSON even with its raw bytes cut, more than `[dead_letter] max_message_bytes` ({max})", text.len());
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dead_letter_too_large_for_the_topic_is_cut_with_a_pointer() {
        let letter = serde_json::json!({"offset": 7, "reason": "too large", "raw": "é".repeat(600_000)});
        assert_eq!(fit(letter.clone(), 2_000_000, None).unwrap(), letter.to_string());
        let err = fit(letter.clone(), 1_000_000, None).unwrap_err().to_string();
        assert!(err.contains("set `[dead_letter] url`"), "{err}");
        let cut: serde_json::Value = serde_json::from_str(&fit(letter, 1_000_000, Some("dl/x.ndjson".into())).unwrap()).unwrap();
        let raw = cut["raw"].as_str().unwrap();
        assert!(raw.len() <= 1_000_000 - ROOM_FOR_FIELDS && "é".repeat(600_000).starts_with(raw));
        assert_eq!((cut["raw_bytes"].as_u64(), cut["raw_object"].as_str()), (Some(1_200_000), Some("dl/x.ndjson")));
    }
}
