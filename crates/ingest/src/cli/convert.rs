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
use transform::{Decoder, Reject, RejectReason, Schema};

use super::load_schema;
use crate::exit::EXIT_LIMIT;

/// Input is decoded in chunks of about this many bytes, cut at line ends.
const CHUNK_BYTES: usize = 8 << 20;

#[derive(Args)]
pub struct ConvertArgs {
    /// Schema file, or dataset name looked up in --schemas-dir.
    #[arg(long)]
    schema: String,
    /// NDJSON input file (gzip or zstd when it starts with their magic bytes); `-` for stdin.
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
    Ok(match transform::Compressed::detect(buffered.fill_buf().context("reading input")?) {
        Some(transform::Compressed::Gzip) => Box::new(BufReader::new(flate2::read::MultiGzDecoder::new(buffered))),
        Some(transform::Compressed::Zstd) => Box::new(zstd::stream::read::Decoder::with_buffer(buffered).context("reading zstd input")?),
        None => Box::new(buffered),
    })
}

/// Decodes NDJSON from `input` against `schema` into the Parquet file `out`; writes every
/// rejected record to `rejects` as one JSON line. Memory stays bounded by the schema's
/// `max_record_bytes` plus two chunks, whatever the input's line lengths.
pub fn convert(input: impl Read, schema: Schema, out: &Path, rejects: &mut dyn Write) -> anyhow::Result<Summary> {
    let start = Instant::now();
    let schema = Arc::new(schema);
    let mut decoder = Decoder::new(schema.clone())?;
    let mut writer = FileWriter::create(out, decoder.schema(), &WriterOptions::default(), &[])?;
    let mut summary = Summary::default();
    let mut chunks = LineChunks::new(input, schema.max_record_bytes);
    let mut found = Vec::new();
    let mut first_line = 1usize;
    while let Some(chunk) = chunks.next().context("reading input")? {
        match chunk {
            Chunk::Lines(lines) => {
                summary.input_bytes += lines.len() as u64;
                summary.written += decoder.decode_lines(lines, &mut found) as u64;
                for r in found.drain(..) {
                    write_reject(rejects, &r, first_line + r.line - 1)?;
                    *summary.rejected.entry(r.reason.kind()).or_insert(0) += 1;
                }
                first_line += memchr::memchr_iter(b'\n', lines).count();
            }
            Chunk::Oversized { head, bytes } => {
                summary.input_bytes += bytes as u64 + 1;
                let reason = RejectReason::TooLarge { bytes, limit: schema.max_record_bytes };
                write_reject(rejects, &Reject { line: 1, reason, raw: head }, first_line)?;
                *summary.rejected.entry("too_large").or_insert(0) += 1;
                first_line += 1;
            }
        }
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

/// What [`LineChunks`] hands out next.
enum Chunk<'a> {
    /// Whole lines (the last one without its line end at the end of the input).
    Lines(&'a [u8]),
    /// A line longer than the limit plus a chunk: its first `limit` bytes and its length,
    /// line end excluded. The rest of it was read and dropped, never held.
    Oversized { head: Vec<u8>, bytes: usize },
}

/// Cuts a stream into chunks of whole lines, holding at most the record limit plus two
/// chunks in memory.
struct LineChunks<R> {
    input: R,
    buf: Vec<u8>,
    /// Bytes of `buf` handed out, dropped at the next call.
    consumed: usize,
    limit: usize,
    eof: bool,
}

impl<R: Read> LineChunks<R> {
    fn new(input: R, limit: usize) -> Self {
        Self { input, buf: Vec::with_capacity(CHUNK_BYTES * 2), consumed: 0, limit, eof: false }
    }

    fn next(&mut self) -> std::io::Result<Option<Chunk<'_>>> {
        self.buf.drain(..self.consumed);
        let end = loop {
            let filled = self.buf.len();
            if !self.eof {
                self.fill()?;
            }
            if self.eof {
                break self.buf.len();
            }
            if let Some(i) = memchr::memrchr(b'\n', &self.buf[filled..]) {
                break filled + i + 1;
            }
            if self.buf.len() > self.limit + CHUNK_BYTES {
                return self.skip_line().map(Some);
            }
        };
        self.consumed = end;
        Ok((end > 0).then(|| Chunk::Lines(&self.buf[..end])))
    }

    /// Reads the rest of the line `buf` starts, keeping only its head.
    fn skip_line(&mut self) -> std::io::Result<Chunk<'static>> {
        let head = self.buf[..self.limit].to_vec();
        let mut bytes = 0;
        loop {
            if let Some(i) = memchr::memchr(b'\n', &self.buf) {
                self.consumed = i + 1;
                return Ok(Chunk::Oversized { head, bytes: bytes + i });
            }
            bytes += self.buf.len();
            self.buf.clear();
            if self.eof {
                return Ok(Chunk::Oversized { head, bytes });
            }
            self.fill()?;
        }
    }

    /// Appends up to a chunk of input to `buf`.
    fn fill(&mut self) -> std::io::Result<()> {
        let filled = self.buf.len();
        self.buf.resize(filled + CHUNK_BYTES, 0);
        let n = read_full(&mut self.input, &mut self.buf[filled..])?;
        self.buf.truncate(filled + n);
        self.eof = n < CHUNK_BYTES;
        Ok(())
    }
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
/// they are UTF-8, else base64-free hex so that nothing is lost; of a line too long to hold,
/// its first `max_record_bytes`).
pub fn write_reject(out: &mut dyn Write, r: &Reject, line: usize) -> anyhow::Result<()> {
    let mut obj = json!({ "line": line, "kind": r.reason.kind(), "reason": r.reason.to_string() });
    match std::str::from_utf8(&r.raw) {
        Ok(s) => obj["raw"] = json!(s),
        Err(_) => obj["raw_hex"] = json!(r.raw.iter().map(|b| format!("{b:02x}")).collect::<String>()),
    }
    serde_json::to_writer(&mut *out, &obj).context("writing rejects")?;
    out.write_all(b"\n").context("writing rejects")
}
