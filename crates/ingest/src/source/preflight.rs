//! A first connection to the brokers, before the group consumer starts: a TLS handshake or
//! SASL authentication the brokers refuse fails the run at once, with librdkafka's reason.
//! (The group consumer hears of it only when polled, and its metadata requests would time
//! out and be retried meanwhile.)

use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer as _, ConsumerContext};
use rdkafka::error::KafkaError;
use rdkafka::ClientContext;

use crate::exit::Failure;
use crate::pipeline::{kafka_class, SourceConfig};

/// How long one metadata request of the check waits before the events are looked at.
const STEP: Duration = Duration::from_millis(500);

/// Events served between two metadata requests: more than librdkafka queues in a step.
const EVENTS: usize = 1000;

/// Remembers the first error a retry cannot heal, with its reason.
#[derive(Default)]
struct Refusal(Mutex<Option<(KafkaError, String)>>);

impl ClientContext for Refusal {
    fn error(&self, error: KafkaError, reason: &str) {
        if kafka_class(&error) == sink::ErrorClass::Permanent {
            self.0.lock().unwrap_or_else(|e| e.into_inner()).get_or_insert((error, reason.to_string()));
        }
    }
}

impl ConsumerContext for Refusal {}

/// Connects to the brokers of `source` with its librdkafka settings and asks for metadata,
/// for at most `timeout`. Brokers that answer, or stay silent (unavailability is the
/// retries' business), pass.
///
/// # Errors
/// A [`Failure::Permanent`] error with librdkafka's reason when the brokers refuse the
/// connection (an untrusted certificate, a missing client certificate, bad credentials).
pub fn check_brokers(source: &SourceConfig, timeout: Duration) -> anyhow::Result<()> {
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", &source.brokers).set("group.id", &source.group_id);
    for (k, v) in &source.librdkafka {
        config.set(k, v);
    }
    let probe: BaseConsumer<Refusal> = config.create_with_context(Refusal::default()).context("creating the Kafka consumer (check [source] and [source.librdkafka])").context(Failure::Permanent)?;
    let deadline = Instant::now() + timeout;
    loop {
        let answered = probe.fetch_metadata(None, STEP).is_ok();
        // Not subscribed: polling serves events (errors, logs) only, one per call, and says
        // nothing of how many are left.
        for _ in 0..EVENTS {
            let _ = probe.poll(Duration::ZERO);
        }
        if let Some((error, reason)) = probe.context().0.lock().unwrap_or_else(|e| e.into_inner()).take() {
            return Err(anyhow::Error::new(error).context(format!("the brokers refused the connection: {reason} (check [source] brokers and [source.librdkafka])")).context(Failure::Permanent));
        }
        if answered || Instant::now() >= deadline {
            return Ok(());
        }
    }
}
