//! `lakeport convert`: NDJSON file → Parquet file + rejects.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Args;
use serde_json::json;
use sink::parquet::{FileWriter, WriterOptions};
use transform::{Decoder, Reject, Schema};

use super::load_schema;
use crate::exit::EXIT_LIMIT;

/// Input is decoded in chunks of about this many bytes, cut at line ends.
const CHUNK_BYTES: usize = 8 << 20;

#[derive(Args)]
pub struct ConvertArgs {
    /// Schema file, or dataset name looked up in --schemas-dir.
    #[arg(long)]
    schema: String,
    /// NDJSON input file (gzip when it ends in .gz or starts with gzip magic); `-` for stdin.
    input: String,
    /// Parquet file to write (zstd).
    #[arg(long)]
    out: PathBuf,
    /// NDJSON file receiving every rejected record with its line, reason and raw bytes.
    #[arg(long)]
    rejects: Option<PathBuf>,
    /// Fail (exit code 2) when more than this many records are rejected.
    #[arg(long)]
    max_rejects: Option<u64>,
    /// Folder dataset names are looked up in.
    #[arg(long, default_value = "schemas")]
    schemas_dir: PathBuf,
}

/// What a conversion did.
#[derive(Debug, Default)]
pub struct Summary {
    pub read: u64,
    pub written: u64,
    pub rejected: BTreeMap<&'static str, u64>,
    pub unknown_keys: u64,
    pub input_bytes: u64,
    pub elapsed: Duration,
}

impl Summary {
    pub fn rejected_total(&self) -> u64 {
        self.rejected.values().sum()
    }

    pub fn print(&self, label: &str) {
        let secs = self.elapsed.as_secs_f64().max(1e-9);
        let by_reason: Vec<String> = self.rejected.iter().map(|(k, n)| format!("{k}={n}")).collect();
        println!(
            "{label}: read {} records ({:.1} MB), wrote {}, rejected {}{}, unknown keys {}; {:.2}s, {:.0} records/s, {:.1} MB/s",
            self.read,
            self.input_bytes as f64 / 1e6,
            self.written,
            self.rejected_total(),
            if by_reason.is_empty() { String::new() } else { format!(" ({})", by_reason.join(", ")) },
            self.unknown_keys,
            secs,
            self.read as f64 / secs,
            self.input_bytes as f64 / 1e6 / secs,
        );
    }
}

pub fn run(args: ConvertArgs) -> anyhow::Result<ExitCode> {
    let schema = load_schema(&args.schema, &args.schemas_dir)?;
    let input = open_input(&args.input)?;
    let mut rejects: Box<dyn Write> = match &args.rejects {
        Some(p) => Box::new(std::io::BufWriter::new(std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))?)),
        None => Box::new(std::io::sink()),
    };
    let summary = convert(input, schema, &args.out, &mut rejects)?;
    rejects.flush().context("writing rejects")?;
    summary.print(&format!("lakeport convert {}", args.input));
    if let Some(max) = args.max_rejects {
        if summary.rejected_total() > max {
            eprintln!("lakeport: {} records rejected, more than --max-rejects {max}", summary.rejected_total());
            return Ok(ExitCode::from(EXIT_LIMIT));
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn open_input(spec: &str) -> anyhow::Result<Box<dyn Read>> {
    let raw: Box<dyn Read> = if spec == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(std::fs::File::open(spec).with_context(|| format!("opening input {spec}"))?)
    };
    let mut buffered = BufReader::with_capacity(1 << 20, raw);
    let gzip = transform::Compressed::detect(buffered.fill_buf().context("reading input")?) == Some(transform::Compressed::Gzip);
    Ok(if gzip { Box::new(BufReader::new(flate2::read::MultiGzDecoder::new(buffered))) } else { Box::new(buffered) })
}

/// Decodes NDJSON from `input` against `schema` into the Parquet file `out`; writes every
/// rejected record to `rejects` as one JSON line.
pub fn convert(mut input: impl Read, schema: Schema, out: &Path, rejects: &mut dyn Write) -> anyhow::Result<Summary> {
    let start = Instant::now();
    let schema = Arc::new(schema);
    let mut decoder = Decoder::new(schema.clone())?;
    let mut writer = FileWriter::create(out, decoder.schema(), &WriterOptions::default(), &[])?;
    let mut summary = Summary::default();
    let mut buf: Vec<u8> = Vec::with_capacity(CHUNK_BYTES * 2);
    let mut found = Vec::new();
    let mut first_line = 1usize;
    let mut eof = false;
    while !eof {
        let filled = buf.len();
        buf.resize(filled + CHUNK_BYTES, 0);
        let n = read_full(&mut input, &mut buf[filled..]).context("reading input")?;
        buf.truncate(filled + n);
        eof = n == 0;
        // Decode up to the last line end; keep the partial line for the next round.
        let cut = if eof { buf.len() } else { match memchr_last(&buf) { Some(i) => i + 1, None => continue } };
        let chunk = &buf[..cut];
        summary.input_bytes += chunk.len() as u64;
        let rows = decoder.decode_lines(chunk, &mut found);
        summary.written += rows as u64;
        for r in found.drain(..) {
            write_reject(rejects, &r, first_line + r.line - 1)?;
            *summary.rejected.entry(r.reason.kind()).or_insert(0) += 1;
        }
        first_line += chunk.iter().filter(|&&b| b == b'\n').count();
        buf.drain(..cut);
        while let Some(batch) = decoder.flush() {
            writer.write(&batch)?;
        }
    }
    writer.finish()?;
    summary.read = summary.written + summary.rejected_total();
    summary.unknown_keys = decoder.unknown_keys();
    summary.elapsed = start.elapsed();
    Ok(summary)
}

fn memchr_last(buf: &[u8]) -> Option<usize> {
    buf.iter().rposition(|&b| b == b'\n')
}

fn read_full(r: &mut impl Read, mut buf: &mut [u8]) -> std::io::Result<usize> {
    let mut total = 0;
    while !buf.is_empty() {
        match r.read(buf) {
            Ok(0) => break,
            Ok(n) => {
                total += n;
                buf = &mut buf[n..];
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(total)
}

/// One reject as a JSON line: line number, reason kind and text, raw bytes (as text when
/// they are UTF-8, else base64-free hex so that nothing is lost).
pub fn write_reject(out: &mut dyn Write, r: &Reject, line: usize) -> anyhow::Result<()> {
    let mut obj = json!({ "line": line, "kind": r.reason.kind(), "reason": r.reason.to_string() });
    match std::str::from_utf8(&r.raw) {
        Ok(s) => obj["raw"] = json!(s),
        Err(_) => obj["raw_hex"] = json!(r.raw.iter().map(|b| format!("{b:02x}")).collect::<String>()),
    }
    serde_json::to_writer(&mut *out, &obj).context("writing rejects")?;
    out.write_all(b"\n").context("writing rejects")
}
