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
    /// Threads decoding chunks of the input side by side (beside one reading the input and
    /// one encoding Parquet); 1 does everything on one thread. Default: every core.
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
    threads: Option<u16>,
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
    let threads = args.threads.map_or_else(|| std::thread::available_parallelism().map_or(1, usize::from), usize::from);
    let summary = convert(input, schema, &args.out, &mut rejects, threads)?;
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

fn open_input(spec: &str) -> anyhow::Result<Box<dyn Read + Send>> {
    let raw: Box<dyn Read + Send> = if spec == "-" {
        Box::new(std::io::stdin())
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

/// Decodes NDJSON from `input` against `schema` into the Parquet file `out` with `threads`
/// decoders; writes every rejected record to `rejects` as one JSON line, in input order.
/// Memory stays bounded by the schema's `max_record_bytes` plus two chunks per thread,
/// whatever the input's line lengths; the file is the same for every thread count.
pub fn convert(input: impl Read + Send, schema: Schema, out: &Path, rejects: &mut dyn Write, threads: usize) -> anyhow::Result<Summary> {
    let start = Instant::now();
    let schema = Arc::new(schema);
    let mut decoder = Decoder::new(schema.clone())?;
    let mut writer = FileWriter::create(out, decoder.schema(), &WriterOptions::default(), &[])?;
    let mut summary = Summary::default();
    let mut chunks = LineChunks::new(input, schema.max_record_bytes);
    if threads <= 1 {
        let mut first_line = 1;
        while let Some(chunk) = chunks.next().context("reading input")? {
            let lines = chunk.lines();
            chunk.decode_at(&mut decoder, schema.max_record_bytes, first_line).write(&mut writer, rejects, &mut summary)?;
            first_line += lines;
        }
        summary.unknown_keys = decoder.unknown_keys();
    } else {
        summary.unknown_keys = in_parallel(chunks, &schema, decoder, threads, |decoded| decoded.write(&mut writer, rejects, &mut summary))?;
    }
    writer.finish()?;
    summary.read = summary.written + summary.rejected_total();
    summary.elapsed = start.elapsed();
    Ok(summary)
}

/// Reads chunks on one thread, decodes them on `threads` others (`decoder` and more of
/// `schema`) and hands them to `write` on the calling thread in input order, with at most two
/// chunks per thread in flight. Returns the unknown keys the decoders saw.
fn in_parallel<R: Read + Send>(mut chunks: LineChunks<R>, schema: &Arc<Schema>, decoder: Decoder, threads: usize, mut write: impl FnMut(Decoded) -> anyhow::Result<()>) -> anyhow::Result<u64> {
    let limit = schema.max_record_bytes;
    let mut decoders = vec![decoder];
    for _ in 1..threads {
        decoders.push(Decoder::new(schema.clone())?);
    }
    let (work_tx, work_rx) = std::sync::mpsc::sync_channel::<(usize, usize, Chunk<Vec<u8>>)>(threads);
    let work_rx = std::sync::Mutex::new(work_rx);
    let (done_tx, done_rx) = std::sync::mpsc::sync_channel::<anyhow::Result<(usize, Decoded)>>(threads);
    let (credit_tx, credit_rx) = std::sync::mpsc::sync_channel::<()>(2 * threads);
    std::thread::scope(|scope| {
        let reader_done = done_tx.clone();
        scope.spawn(move || {
            let mut first_line = 1;
            for seq in 0.. {
                if seq >= 2 * threads && credit_rx.recv().is_err() {
                    return;
                }
                let chunk = match chunks.next() {
                    Ok(Some(chunk)) => chunk.into_owned(),
                    Ok(None) => return,
                    Err(e) => return drop(reader_done.send(Err(anyhow::Error::new(e).context("reading input")))),
                };
                let lines = chunk.lines();
                if work_tx.send((seq, first_line, chunk)).is_err() {
                    return;
                }
                first_line += lines;
            }
        });
        let workers: Vec<_> = decoders
            .into_iter()
            .map(|mut decoder| {
                let (work_rx, done_tx) = (&work_rx, done_tx.clone());
                scope.spawn(move || {
                    loop {
                        let Ok((seq, first_line, chunk)) = work_rx.lock().expect("no worker panics").recv() else { break };
                        // A panic would leave a gap the writer waits at forever: make it an error.
                        let Ok(decoded) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| chunk.decode_at(&mut decoder, limit, first_line))) else {
                            let _ = done_tx.send(Err(anyhow::anyhow!("the decoder panicked on the chunk from line {first_line}: please report it with that input")));
                            break;
                        };
                        if done_tx.send(Ok((seq, decoded))).is_err() {
                            break;
                        }
                    }
                    decoder.unknown_keys()
                })
            })
            .collect();
        drop(done_tx);
        let mut pending = BTreeMap::new();
        let mut next = 0;
        let written = done_rx.iter().try_for_each(|done| {
            let (seq, decoded) = done?;
            pending.insert(seq, decoded);
            while let Some(decoded) = pending.remove(&next) {
                write(decoded)?;
                next += 1;
                let _ = credit_tx.try_send(());
            }
            anyhow::Ok(())
        });
        // On an error the channels close and the chunks still queued are dropped, so that
        // the reader and the workers stop.
        drop((done_rx, credit_tx));
        work_rx.lock().expect("no worker panics").iter().for_each(drop);
        let unknown = workers.into_iter().map(|w| w.join().expect("no worker panics")).sum();
        written.map(|()| unknown)
    })
}

/// A chunk's outcome, ready to be written.
struct Decoded {
    batches: Vec<arrow_array::RecordBatch>,
    /// Rejects with their line in the input.
    rejects: Vec<(usize, Reject)>,
    rows: u64,
    input_bytes: u64,
}

impl Decoded {
    fn write(self, writer: &mut FileWriter, rejects: &mut dyn Write, summary: &mut Summary) -> anyhow::Result<()> {
        summary.input_bytes += self.input_bytes;
        summary.written += self.rows;
        for (line, r) in &self.rejects {
            write_reject(rejects, r, *line)?;
            *summary.rejected.entry(r.reason.kind()).or_insert(0) += 1;
        }
        self.batches.iter().try_for_each(|b| writer.write(b)).map_err(Into::into)
    }
}

/// What [`LineChunks`] hands out next (borrowing its buffer), or a copy of it.
enum Chunk<L = Vec<u8>> {
    /// Whole lines (the last one without its line end at the end of the input).
    Lines(L),
    /// A line longer than the limit plus a chunk: its first `limit` bytes, its length (line
    /// end excluded) and the input it spans (line end included, when it has one). The rest
    /// of it was read and dropped, never held.
    Oversized { head: Vec<u8>, bytes: usize, spans: usize },
}

impl Chunk<&[u8]> {
    /// A copy that outlives the reader's buffer.
    fn into_owned(self) -> Chunk {
        match self {
            Chunk::Lines(lines) => Chunk::Lines(lines.to_vec()),
            Chunk::Oversized { head, bytes, spans } => Chunk::Oversized { head, bytes, spans },
        }
    }
}

impl<L: AsRef<[u8]>> Chunk<L> {
    /// Decodes the chunk, whose first line is `first_line` of the input, with `decoder`.
    fn decode_at(self, decoder: &mut Decoder, limit: usize, first_line: usize) -> Decoded {
        let mut found = Vec::new();
        let (rows, input_bytes) = match self {
            Chunk::Lines(lines) => (decoder.decode_lines(lines.as_ref(), &mut found) as u64, lines.as_ref().len() as u64),
            Chunk::Oversized { head, bytes, spans } => {
                found.push(Reject { line: 1, reason: RejectReason::TooLarge { bytes, limit }, raw: head });
                (0, spans as u64)
            }
        };
        let rejects = found.into_iter().map(|r| (first_line + r.line - 1, r)).collect();
        Decoded { batches: std::iter::from_fn(|| decoder.flush()).collect(), rejects, rows, input_bytes }
    }

    /// Input lines the chunk holds.
    fn lines(&self) -> usize {
        match self {
            Chunk::Lines(lines) => memchr::memchr_iter(b'\n', lines.as_ref()).count(),
            Chunk::Oversized { .. } => 1,
        }
    }
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

    fn next(&mut self) -> std::io::Result<Option<Chunk<&[u8]>>> {
        self.buf.drain(..std::mem::take(&mut self.consumed));
        // What is left after a skipped line may hold whole lines: search it too.
        let mut searched = 0;
        let end = loop {
            if let Some(i) = memchr::memrchr(b'\n', &self.buf[searched..]) {
                break searched + i + 1;
            }
            if self.eof {
                break self.buf.len();
            }
            if self.buf.len() > self.limit + CHUNK_BYTES {
                return self.skip_line().map(Some);
            }
            searched = self.buf.len();
            self.fill()?;
        };
        self.consumed = end;
        Ok((end > 0).then(|| Chunk::Lines(&self.buf[..end])))
    }

    /// Reads the rest of the line `buf` starts, keeping only its head.
    fn skip_line(&mut self) -> std::io::Result<Chunk<&'static [u8]>> {
        let head = self.buf[..self.limit].to_vec();
        let mut bytes = 0;
        loop {
            if let Some(i) = memchr::memchr(b'\n', &self.buf) {
                self.consumed = i + 1;
                return Ok(Chunk::Oversized { head, bytes: bytes + i, spans: bytes + i + 1 });
            }
            bytes += self.buf.len();
            self.buf.clear();
            if self.eof {
                return Ok(Chunk::Oversized { head, bytes, spans: bytes });
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The input an oversized line spans: its line end counted only when it has one.
    #[test]
    fn an_oversized_line_spans_its_bytes_and_line_end() {
        let long = vec![b'x'; CHUNK_BYTES * 3];
        for (end, spans) in [(&b"\n"[..], long.len() + 1), (&b""[..], long.len())] {
            let input = [&b"{}\n"[..], &long, end].concat();
            let mut chunks = LineChunks::new(&input[..], 16);
            assert!(matches!(chunks.next().unwrap(), Some(Chunk::Lines(b"{}\n"))));
            match chunks.next().unwrap() {
                Some(Chunk::Oversized { head, bytes, spans: s }) => assert_eq!((head.len(), bytes, s), (16, long.len(), spans)),
                _ => panic!("an oversized line"),
            }
            assert!(chunks.next().unwrap().is_none());
        }
    }
}
