//! What a run did, for the final report and the progress line.

use std::collections::BTreeMap;
use std::time::Duration;

/// Totals of a run.
#[derive(Debug, Default, Clone)]
pub struct Summary {
    /// Kafka messages consumed and made durable.
    pub messages: u64,
    /// Message bytes.
    pub bytes: u64,
    /// Records decoded (= rows + rejects).
    pub records: u64,
    /// Rows written to the lake.
    pub lake_rows: u64,
    /// Rows written to ClickHouse.
    pub clickhouse_rows: u64,
    /// Records sent to the dead letters, by reason.
    pub rejected: BTreeMap<String, u64>,
    /// Batches made durable.
    pub batches: u64,
    /// Wall time.
    pub elapsed: Duration,
}

impl Summary {
    /// Adds one batch's outcome.
    pub fn add(&mut self, other: &Summary) {
        self.messages += other.messages;
        self.bytes += other.bytes;
        self.records += other.records;
        self.lake_rows += other.lake_rows;
        self.clickhouse_rows += other.clickhouse_rows;
        self.batches += other.batches;
        for (k, v) in &other.rejected {
            *self.rejected.entry(k.clone()).or_insert(0) += v;
        }
    }

    /// Records sent to the dead letters.
    pub fn rejected_total(&self) -> u64 {
        self.rejected.values().sum()
    }

    /// The final report, one line per fact.
    pub fn report(&self, pipeline: &str) -> String {
        let secs = self.elapsed.as_secs_f64().max(1e-9);
        let reasons: Vec<String> = self.rejected.iter().map(|(k, v)| format!("{k}={v}")).collect();
        format!(
            "lakeport run {pipeline}: {} messages ({:.1} MB), {} records in {} batches\n  lake: {} rows\n  clickhouse: {} rows\n  dead letters: {}{}\n  {:.1}s, {:.0} records/s, {:.1} MB/s",
            self.messages,
            self.bytes as f64 / 1e6,
            self.records,
            self.batches,
            self.lake_rows,
            self.clickhouse_rows,
            self.rejected_total(),
            if reasons.is_empty() { String::new() } else { format!(" ({})", reasons.join(", ")) },
            secs,
            self.records as f64 / secs,
            self.bytes as f64 / 1e6 / secs,
        )
    }
}
