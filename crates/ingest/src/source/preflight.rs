//! A first connection to the brokers, before the group consumer starts: a TLS handshake or
//! SASL authentication the brokers refuse fails the run at once, with librdkafka's reason.
//! (The group consumer hears of it only when polled, and its metadata requests would time
//! out and be retried meanwhile.)

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use rdkafka::config::{ClientConfig, RDKafkaLogLevel};
use rdkafka::consumer::{BaseConsumer, Consumer as _, ConsumerContext};
use rdkafka::error::KafkaError;
use rdkafka::ClientContext;

use crate::exit::Failure;
use crate::pipeline::{kafka_class, SourceConfig};

/// How long one metadata request of the check waits before the events are looked at.
const STEP: Duration = Duration::from_millis(500);

/// Events served between two metadata requests: more than librdkafka queues in a step.
const EVENTS: usize = 1000;

/// Remembers the first error a retry cannot heal, with its reason, and whether a broker
/// closed a TLS connection right after the handshake.
#[derive(Default)]
struct Refusal {
    permanent: Mutex<Option<(KafkaError, String)>>,
    closed_after_handshake: AtomicBool,
}

impl ClientContext for Refusal {
    fn error(&self, error: KafkaError, reason: &str) {
        if kafka_class(&error) == sink::ErrorClass::Permanent {
            self.permanent.lock().unwrap_or_else(|e| e.into_inner()).get_or_insert((error, reason.to_string()));
        }
    }

    /// Only read: the group consumer logs the same connection failures.
    fn log(&self, _level: RDKafkaLogLevel, _facility: &str, message: &str) {
        // TLS 1.3 tells a client that the server refused its (missing) certificate only
        // after the handshake: the first Kafka request meets a closed connection.
        if message.contains("Disconnected") && message.contains("in state APIVERSION_QUERY") {
            self.closed_after_handshake.store(true, Ordering::Relaxed);
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
        if let Some((error, reason)) = probe.context().permanent.lock().unwrap_or_else(|e| e.into_inner()).take() {
            return Err(anyhow::Error::new(error).context(format!("the brokers refused the connection: {reason} (check [source] brokers and [source.librdkafka])")).context(Failure::Permanent));
        }
        if answered {
            return Ok(());
        }
        if Instant::now() >= deadline {
            // Retried (a TLS proxy whose brokers are down looks the same), with a hint.
            let certificate = ["ssl.certificate.location", "ssl.certificate.pem", "ssl.keystore.location"].iter().any(|k| source.librdkafka.contains_key(*k));
            if probe.context().closed_after_handshake.load(Ordering::Relaxed) && !certificate {
                tracing::warn!("the brokers close every TLS connection right after the handshake: if they ask for a client certificate, set ssl.certificate.location and ssl.key.location in [source.librdkafka]");
            }
            return Ok(());
        }
    }
}
