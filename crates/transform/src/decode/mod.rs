//! The decoder: message bytes → Arrow rows + rejects.
//!
//! `framing` splits a message into records, simd-json parses each record into a tape, and
//! `record` walks the tape into one `Column` per field (`primitive`, `string`, `timestamp`,
//! `list`, `map`), chosen by `column::make_column`.

mod column;
mod framing;
mod json_text;
mod list;
mod map;
mod offsets;
mod primitive;
mod record;
mod reject;
mod string;
mod timestamp;
mod value;

use std::collections::VecDeque;
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use simd_json::{Buffers, Tape};

pub(crate) use column::check_default;
pub use framing::Compressed;
pub use json_text::write_str as write_json_string;
pub use reject::{Reject, RejectReason};

use crate::{Error, Schema};

/// Default limit on a decompressed message: 64 MiB.
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 64 << 20;
/// Input bytes after which the decoder cuts a batch by itself, keeping every offset of
/// the Arrow arrays far from `i32::MAX`.
const AUTO_CUT_INPUT_BYTES: usize = 256 << 20;
/// Rows after which the decoder cuts a batch by itself.
const AUTO_CUT_ROWS: usize = 1 << 20;

/// Decodes messages of one dataset into Arrow record batches.
///
/// Call [`Decoder::decode`] for each message, then [`Decoder::flush`] to take the rows as
/// record batches whose schema is [`Decoder::schema`]. A record that cannot be stored is
/// returned as a [`Reject`] and leaves no trace in the batch; the other records of its
/// message are unaffected.
pub struct Decoder {
    schema: Arc<Schema>,
    rows: record::Rows,
    max_record_bytes: usize,
    max_message_bytes: usize,
    /// Input bytes decoded into the current batch.
    input_bytes: usize,
    ready: VecDeque<RecordBatch>,
    inflated: Vec<u8>,
    work: Vec<u8>,
    buffers: Buffers,
    tape: Option<Tape<'static>>,
}

impl Decoder {
    /// Builds a decoder for `schema`.
    ///
    /// # Errors
    /// [`Error::Invalid`] when a field's default does not fit its type (a schema read with
    /// [`Schema::from_path`] has been checked for that already).
    pub fn new(schema: Arc<Schema>) -> Result<Self, Error> {
        Ok(Self {
            rows: record::Rows::new(&schema)?,
            max_record_bytes: schema.max_record_bytes,
            schema,
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
            input_bytes: 0,
            ready: VecDeque::new(),
            inflated: Vec::new(),
            work: Vec::new(),
            buffers: Buffers::default(),
            tape: Some(Tape::null()),
        })
    }

    /// Appends the source coordinate columns ([`crate::SOURCE_COLUMNS`]) to every row:
    /// `topic` and `partition` here, the offset given to [`Decoder::decode_at`], and the
    /// record's line within its message.
    pub fn with_source(mut self, topic: &str, partition: i32) -> Self {
        self.rows.set_source(record::Source::new(topic, partition), &self.schema);
        self
    }

    /// As [`Decoder::decode_into`] for the message at `offset` of the source partition.
    pub fn decode_at(&mut self, message: &[u8], offset: i64, rejects: &mut Vec<Reject>) -> usize {
        if let Some(src) = self.rows.source_mut() {
            src.offset = offset;
        }
        self.decode_into(message, rejects)
    }

    /// Sets the largest decompressed message accepted (default 64 MiB); a larger one is
    /// rejected whole.
    pub fn with_max_message_bytes(mut self, bytes: usize) -> Self {
        self.max_message_bytes = bytes;
        self
    }

    /// The Arrow schema of the batches.
    pub fn schema(&self) -> SchemaRef {
        self.rows.arrow_schema().clone()
    }

    /// Rows decoded and not yet taken by [`Decoder::flush`].
    pub fn buffered_rows(&self) -> usize {
        self.rows.len() + self.ready.iter().map(RecordBatch::num_rows).sum::<usize>()
    }

    /// Keys seen in records that no field reads, since the decoder was built.
    pub fn unknown_keys(&self) -> u64 {
        self.rows.unknown_keys()
    }

    /// Decodes one message (one JSON record, or several separated by newlines; gzip or
    /// zstd compressed when it starts with their magic bytes) and returns its rejects.
    pub fn decode(&mut self, message: &[u8]) -> Vec<Reject> {
        let mut rejects = Vec::new();
        self.decode_into(message, &mut rejects);
        rejects
    }

    /// As [`Decoder::decode`], appending rejects to `rejects`; returns the rows appended.
    pub fn decode_into(&mut self, message: &[u8], rejects: &mut Vec<Reject>) -> usize {
        let before = self.buffered_rows();
        let mut inflated = std::mem::take(&mut self.inflated);
        let data = match framing::inflate(message, self.max_message_bytes, &mut inflated) {
            Ok(true) => &inflated[..],
            Ok(false) => message,
            Err(reason) => {
                rejects.push(Reject { line: 0, reason, raw: message.to_vec() });
                self.inflated = inflated;
                return 0;
            }
        };
        self.decode_records(data, true, rejects);
        self.inflated = inflated;
        self.buffered_rows() - before
    }

    /// Decodes newline-delimited records taken as they are: no decompression, and no
    /// attempt to read several lines as one pretty-printed record. For callers that cut a
    /// larger stream (a file) into chunks at line ends. Returns the rows appended.
    pub fn decode_lines(&mut self, data: &[u8], rejects: &mut Vec<Reject>) -> usize {
        let before = self.buffered_rows();
        self.decode_records(data, false, rejects);
        self.buffered_rows() - before
    }

    fn decode_records(&mut self, data: &[u8], whole_fallback: bool, rejects: &mut Vec<Reject>) {
        // simd-json unescapes strings in place and reads ahead: parse a padded copy, keep
        // `data` intact for the raw bytes of rejects.
        let mut work = std::mem::take(&mut self.work);
        work.clear();
        work.extend_from_slice(data);
        work.resize(data.len() + simd_json::INPUT_PADDING, b' ');
        let mut tape = self.tape.take().unwrap_or_else(Tape::null).reset();
        let mut lines = framing::lines(data).peekable();
        while let Some((line, start, end)) = lines.next() {
            if self.input_bytes >= AUTO_CUT_INPUT_BYTES || self.rows.len() >= AUTO_CUT_ROWS {
                self.cut();
            }
            let len = end - start;
            self.input_bytes += len;
            let outcome = if len > self.max_record_bytes {
                Err(RejectReason::TooLarge { bytes: len, limit: self.max_record_bytes })
            } else {
                match simd_json::fill_tape_padded(&mut work[start..], len, &mut self.buffers, &mut tape) {
                    Ok(()) => self.rows.push_record(&tape.0, line),
                    Err(e) if whole_fallback && line == 1 && lines.peek().is_some() => match self.decode_whole(data) {
                        // One pretty-printed object spread over several lines.
                        Some(outcome) => {
                            if let Err(reason) = outcome {
                                rejects.push(Reject { line, reason, raw: data.to_vec() });
                            }
                            break;
                        }
                        None => Err(parse_error(&e)),
                    },
                    Err(e) => Err(parse_error(&e)),
                }
            };
            if let Err(reason) = outcome {
                rejects.push(Reject { line, reason, raw: data[start..end].to_vec() });
            }
            tape = tape.reset();
        }
        self.tape = Some(tape.reset());
        self.work = work;
    }

    /// Tries `data` as one multi-line JSON record: `None` when it is not one, else the
    /// outcome of appending it.
    fn decode_whole(&mut self, data: &[u8]) -> Option<Result<(), RejectReason>> {
        if data.len() > self.max_record_bytes {
            return None;
        }
        let mut whole = Vec::with_capacity(data.len() + simd_json::INPUT_PADDING);
        whole.extend_from_slice(data);
        whole.resize(data.len() + simd_json::INPUT_PADDING, b' ');
        let mut tape = Tape::null().reset();
        simd_json::fill_tape_padded(&mut whole, data.len(), &mut self.buffers, &mut tape).ok()?;
        Some(self.rows.push_record(&tape.0, 1))
    }

    fn cut(&mut self) {
        if self.rows.len() > 0 {
            self.ready.push_back(self.rows.finish());
        }
        self.input_bytes = 0;
    }

    /// Takes decoded rows as a record batch; `None` when there are none. Call it until it
    /// returns `None`: after very large inputs (256 MiB or a million rows without a flush)
    /// the decoder has cut batches by itself, and they come out first.
    pub fn flush(&mut self) -> Option<RecordBatch> {
        if self.ready.is_empty() {
            self.cut();
        }
        self.ready.pop_front()
    }
}

/// Classifies a simd-json error.
fn parse_error(e: &simd_json::Error) -> RejectReason {
    match e.error() {
        simd_json::ErrorType::InvalidUtf8 => RejectReason::InvalidUtf8 { detail: e.to_string() },
        _ => RejectReason::MalformedJson { detail: e.to_string() },
    }
}

/// Whether `s` is an IPv4 or IPv6 address (for schema inference).
pub(crate) fn looks_like_ip(s: &str) -> bool {
    s.parse::<std::net::IpAddr>().is_ok()
}

/// Whether `s` is an RFC 3339 timestamp (for schema inference).
pub(crate) fn looks_like_timestamp(s: &str) -> bool {
    timestamp::parse_rfc3339(s).is_some()
}
