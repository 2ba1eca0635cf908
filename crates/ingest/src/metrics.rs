//! Prometheus metrics and the `/metrics` + `/health` endpoint.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use axum::http::StatusCode;
use axum::routing::get;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// Every value of [`SinkLabel`]: their series exist from the start, at zero, so that
/// rates and alerts over them are defined before the first write (or failure).
const SINKS: [&str; 4] = ["lake", "clickhouse", "dead_letter", "ledger"];

/// Label naming a destination: `lake`, `clickhouse`, `dead_letter` or (retries) `ledger`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SinkLabel {
    pub sink: &'static str,
}

/// Label naming a reject reason (see `transform::RejectReason::kind`).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabel {
    pub reason: String,
}

/// Label naming a topic partition.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PartitionLabel {
    pub topic: String,
    pub partition: i32,
}

/// Every metric the runner reports.
pub struct Metrics {
    pub messages_consumed: Counter,
    pub bytes_consumed: Counter,
    pub rows_written: Family<SinkLabel, Counter>,
    pub rejects: Family<ReasonLabel, Counter>,
    pub batch_messages: Histogram,
    pub batch_bytes: Histogram,
    pub sink_write_seconds: Family<SinkLabel, Histogram>,
    pub sink_retries: Family<SinkLabel, Counter>,
    pub consumer_lag: Family<PartitionLabel, Gauge>,
    pub committed_offset: Family<PartitionLabel, Gauge>,
    pub in_flight_bytes: Gauge,
    registry: Registry,
    healthy: AtomicBool,
}

impl Metrics {
    pub fn new(pipeline: &str) -> Arc<Self> {
        let mut registry = Registry::with_prefix_and_labels("lakeport", [("pipeline".into(), pipeline.to_string().into())].into_iter());
        let m = Self {
            messages_consumed: Counter::default(),
            bytes_consumed: Counter::default(),
            rows_written: Family::default(),
            rejects: Family::default(),
            batch_messages: Histogram::new(exponential_buckets(1.0, 4.0, 12)),
            batch_bytes: Histogram::new(exponential_buckets(1024.0, 4.0, 12)),
            sink_write_seconds: Family::new_with_constructor(|| Histogram::new(exponential_buckets(0.001, 2.0, 16))),
            sink_retries: Family::default(),
            consumer_lag: Family::default(),
            committed_offset: Family::default(),
            in_flight_bytes: Gauge::default(),
            registry: Registry::default(),
            healthy: AtomicBool::new(true),
        };
        for sink in SINKS {
            let label = SinkLabel { sink };
            drop(m.sink_retries.get_or_create(&label));
            if sink != "ledger" {
                drop(m.rows_written.get_or_create(&label));
            }
        }
        registry.register("messages_consumed", "Kafka messages consumed", m.messages_consumed.clone());
        registry.register("bytes_consumed", "Kafka message bytes consumed", m.bytes_consumed.clone());
        registry.register("rows_written", "Rows made durable, by sink", m.rows_written.clone());
        registry.register("rejects", "Records sent to the dead letters, by reason", m.rejects.clone());
        registry.register("batch_messages", "Messages per batch", m.batch_messages.clone());
        registry.register("batch_bytes", "Message bytes per batch", m.batch_bytes.clone());
        registry.register("sink_write_seconds", "Time to make a batch durable, by sink", m.sink_write_seconds.clone());
        registry.register("sink_retries", "Failed sink writes that were retried, by sink", m.sink_retries.clone());
        registry.register("consumer_lag", "Messages between the high watermark and the consumer position", m.consumer_lag.clone());
        registry.register("committed_offset", "Last offset committed to Kafka", m.committed_offset.clone());
        registry.register("in_flight_bytes", "Message bytes being processed", m.in_flight_bytes.clone());
        Arc::new(Self { registry, ..m })
    }

    /// Marks the process unhealthy (`/health` answers 503) or healthy again.
    pub fn set_healthy(&self, healthy: bool) {
        self.healthy.store(healthy, Ordering::Relaxed);
    }

    /// The metrics in Prometheus' text format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }

    /// Serves `/metrics` and `/health` on `addr` until the process ends.
    pub async fn serve(self: Arc<Self>, addr: SocketAddr) -> std::io::Result<()> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        tracing::info!(%addr, "serving /metrics and /health");
        let metrics = self.clone();
        let health = self;
        let app = axum::Router::new()
            .route("/metrics", get(move || async move { metrics.encode() }))
            .route(
                "/health",
                get(move || async move {
                    if health.healthy.load(Ordering::Relaxed) { (StatusCode::OK, "ok") } else { (StatusCode::SERVICE_UNAVAILABLE, "unhealthy") }
                }),
            );
        axum::serve(listener, app).await
    }
}
