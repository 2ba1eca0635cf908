//! `lakeport gen`: synthetic Gateway records.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Args;
use synth::{Dataset, Generator, RecordKind};

#[derive(Args)]
pub struct GenArgs {
    /// Dataset: gateway_http or gateway_dns.
    #[arg(long, value_parser = parse_dataset)]
    dataset: Dataset,
    /// Number of records.
    #[arg(long, default_value_t = 1000)]
    count: u64,
    /// Seed: the same seed gives the same bytes.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Start of the 48 h the records' times span: RFC 3339 (`2026-11-23T00:00:00Z`), or
    /// `now` for the 48 h that end now (so `now()` / `today()` queries find them).
    #[arg(long, value_parser = parse_start, default_value = "2026-11-23T00:00:00Z")]
    start: i64,
    /// Records in arrival order at this many a second from --start, each up to 5 s late, as
    /// a live feed delivers them (a batch then touches one or two hourly partitions);
    /// default: spread over the 48 h.
    #[arg(long, value_name = "RECORDS_PER_SECOND")]
    live: Option<u32>,
    /// Fraction (0–1) of malformed records, spread over every rejection class.
    #[arg(long, default_value_t = 0.0)]
    bad_ratio: f64,
    /// Output file (`.gz` for gzip); default stdout.
    #[arg(long, conflicts_with = "kafka")]
    out: Option<PathBuf>,
    /// Also write each record's expected outcome here, one line per record: `valid`, or
    /// the reason kind the decoder must reject it with (an oracle for tests).
    #[arg(long)]
    labels: Option<PathBuf>,
    /// Produce the records to Kafka (bootstrap brokers) instead, one record per message.
    #[arg(long, requires = "topic")]
    kafka: Option<String>,
    /// Topic to produce to; created with --partitions if missing.
    #[arg(long)]
    topic: Option<String>,
    /// Partitions of a topic created by --kafka.
    #[arg(long, default_value_t = 1)]
    partitions: i32,
    /// With --kafka: a librdkafka setting, repeatable (`-X security.protocol=ssl`; `${VAR}`
    /// from the environment: `-X 'sasl.password=${KAFKA_PASSWORD}'`).
    #[arg(short = 'X', long = "kafka-setting", value_name = "KEY=VALUE", value_parser = super::produce::parse_setting, requires = "kafka")]
    settings: Vec<(String, String)>,
}

pub fn parse_dataset(s: &str) -> Result<Dataset, String> {
    Dataset::from_name(s).ok_or_else(|| format!("unknown dataset `{s}`: use gateway_http or gateway_dns"))
}

/// Unix seconds of a `--start` value.
fn parse_start(s: &str) -> Result<i64, String> {
    let time = match s {
        "now" => std::time::SystemTime::now() - std::time::Duration::from_secs(48 * 3600),
        _ => humantime::parse_rfc3339_weak(s).map_err(|e| format!("`{s}` is not `now` or an RFC 3339 time such as 2026-11-23T00:00:00Z: {e}"))?,
    };
    let secs = time.duration_since(std::time::UNIX_EPOCH).map_err(|_| format!("`{s}` is before 1970"))?.as_secs();
    i64::try_from(secs).map_err(|_| format!("`{s}` is too late"))
}

pub fn run(args: GenArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!((0.0..=1.0).contains(&args.bad_ratio), "--bad-ratio must be between 0 and 1, got {}", args.bad_ratio);
    if let (Some(brokers), Some(topic)) = (&args.kafka, &args.topic) {
        let mut records = Vec::new();
        let kinds = generate(&args, &mut records)?;
        let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
        let sent = runtime.block_on(super::produce::produce_lines(brokers, &args.settings, topic, args.partitions, &records))?;
        eprintln!("lakeport gen: produced {sent} {} records to {topic} ({})", args.dataset.name(), summary(&kinds));
        return Ok(ExitCode::SUCCESS);
    }
    let out: Box<dyn Write> = match &args.out {
        None => Box::new(std::io::stdout().lock()),
        Some(p) => {
            let f = std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))?;
            if p.extension().is_some_and(|e| e == "gz") {
                Box::new(flate2::write::GzEncoder::new(f, flate2::Compression::fast()))
            } else {
                Box::new(f)
            }
        }
    };
    let mut out = std::io::BufWriter::with_capacity(1 << 20, out);
    let kinds = generate(&args, &mut out)?;
    out.into_inner().map_err(|e| e.into_error()).context("flushing output")?.flush().context("flushing output")?;
    eprintln!("lakeport gen: {} {} records ({})", args.count, args.dataset.name(), summary(&kinds));
    Ok(ExitCode::SUCCESS)
}

/// `valid=N, malformed_json=N, …`.
fn summary(kinds: &BTreeMap<String, u64>) -> String {
    kinds.iter().map(|(k, n)| format!("{k}={n}")).collect::<Vec<_>>().join(", ")
}

/// Writes the records of `args`, one per line (and their labels); returns how many of each
/// kind.
fn generate(args: &GenArgs, out: &mut impl Write) -> anyhow::Result<BTreeMap<String, u64>> {
    let mut labels = match &args.labels {
        Some(p) => Some(std::io::BufWriter::new(std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))?)),
        None => None,
    };
    let mut g = Generator::new(args.dataset, args.seed).with_start(args.start).with_bad_ratio(args.bad_ratio);
    if let Some(per_second) = args.live {
        g = g.live(per_second);
    }
    let mut kinds = BTreeMap::new();
    let mut buf = Vec::with_capacity(4096);
    for _ in 0..args.count {
        buf.clear();
        let (kind, label) = match g.next_record(&mut buf) {
            RecordKind::Valid => ("valid".to_string(), "valid"),
            // Named as `run`, the metrics and the dead letters name their rejection.
            RecordKind::Bad(b) => (b.reject_kind().to_string(), b.reject_kind()),
        };
        *kinds.entry(kind).or_insert(0) += 1;
        buf.push(b'\n');
        out.write_all(&buf).context("writing records")?;
        if let Some(l) = &mut labels {
            writeln!(l, "{label}").context("writing labels")?;
        }
    }
    if let Some(l) = labels {
        l.into_inner().map_err(|e| e.into_error()).context("flushing labels")?;
    }
    Ok(kinds)
}
