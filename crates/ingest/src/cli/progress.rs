//! Progress of `lakeport run`: a bar on a terminal, a log line every 10 s otherwise.

use std::collections::HashMap;
use std::io::IsTerminal as _;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use crate::commit::Partition;
use crate::pipeline::Summary;

const LOG_EVERY: Duration = Duration::from_secs(10);

/// Reports progress of a run.
pub struct Reporter {
    bar: Option<ProgressBar>,
    targets: HashMap<Partition, i64>,
    started: Instant,
    last_log: Mutex<Instant>,
}

impl Reporter {
    /// A bar when `bar` is asked for and stderr is a terminal; log lines otherwise.
    pub fn new(bar: bool, targets: &HashMap<Partition, i64>) -> Self {
        let bar = (bar && std::io::stderr().is_terminal()).then(|| {
            let b = ProgressBar::new_spinner();
            b.set_style(ProgressStyle::with_template("{spinner} {elapsed_precise} {msg}").unwrap_or_else(|_| ProgressStyle::default_spinner()));
            b.enable_steady_tick(Duration::from_millis(250));
            b
        });
        Self { bar, targets: targets.clone(), started: Instant::now(), last_log: Mutex::new(Instant::now()) }
    }

    /// Shows the totals so far, the lag left (scheduled runs) and what the run waits for.
    pub fn update(&self, summary: &Summary, positions: &HashMap<Partition, i64>, status: &str) {
        let secs = self.started.elapsed().as_secs_f64().max(1e-9);
        let lag: i64 = self.targets.iter().map(|(tp, t)| (t - positions.get(tp).copied().unwrap_or(0)).max(0)).sum();
        let lag = if self.targets.is_empty() { String::new() } else { format!(", lag {lag} messages") };
        let status = if status.is_empty() { String::new() } else { format!("; {status}") };
        let line = format!("{} records ({} rows, {} rejected){lag}, {:.0} records/s{status}", summary.records, summary.lake_rows, summary.rejected_total(), summary.records as f64 / secs);
        match &self.bar {
            Some(bar) => bar.set_message(line),
            None => {
                let mut last = self.last_log.lock().unwrap_or_else(|e| e.into_inner());
                if last.elapsed() >= LOG_EVERY {
                    *last = Instant::now();
                    tracing::info!("progress: {line}");
                }
            }
        }
    }

    /// Removes the bar.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
