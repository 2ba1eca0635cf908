//! From a message's bytes to records: decompression (by magic bytes) and line splitting.

use std::io::Read;

use super::reject::RejectReason;

/// A compressed message or file, known by its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compressed {
    Gzip,
    Zstd,
}

impl Compressed {
    /// The compression `bytes` start with, if any.
    pub fn detect(bytes: &[u8]) -> Option<Self> {
        if bytes.starts_with(&[0x1f, 0x8b]) {
            Some(Self::Gzip)
        } else if bytes.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Some(Self::Zstd)
        } else {
            None
        }
    }
}

/// Decompresses `message` into `out` when it starts with gzip or zstd magic bytes.
/// Returns `Ok(false)` when it is not compressed (and leaves `out` alone).
pub(crate) fn inflate(message: &[u8], limit: usize, out: &mut Vec<u8>) -> Result<bool, RejectReason> {
    let (format, result) = match Compressed::detect(message) {
        Some(Compressed::Gzip) => ("gzip", read_limited(flate2::read::MultiGzDecoder::new(message), limit, out)),
        Some(Compressed::Zstd) => match zstd::stream::read::Decoder::with_buffer(message) {
            Ok(d) => ("zstd", read_limited(d, limit, out)),
            Err(e) => ("zstd", Err(e)),
        },
        None => return Ok(false),
    };
    let outcome = match result {
        Ok(()) if out.len() > limit => Err(RejectReason::TooLarge { bytes: out.len(), limit }),
        Ok(()) => Ok(true),
        Err(e) => Err(RejectReason::Decompress { format, detail: e.to_string() }),
    };
    if outcome.is_err() {
        out.clear();
    }
    outcome
}

/// Reads at most `limit + 1` bytes, so that an over-limit stream is detected without
/// inflating a decompression bomb.
fn read_limited(r: impl Read, limit: usize, out: &mut Vec<u8>) -> std::io::Result<()> {
    out.clear();
    r.take(limit as u64 + 1).read_to_end(out).map(drop)
}

/// The records of a (decompressed) message: one per non-blank line, with its 1-based
/// line number. Trailing `\r` and surrounding white space are dropped.
pub(crate) fn lines(data: &[u8]) -> impl Iterator<Item = (usize, usize, usize)> + '_ {
    let mut start = 0;
    let mut line = 0;
    std::iter::from_fn(move || loop {
        if start >= data.len() {
            return None;
        }
        let end = memchr::memchr(b'\n', &data[start..]).map_or(data.len(), |i| start + i);
        let (s, e) = trim(data, start, end);
        start = end + 1;
        line += 1;
        if s < e {
            return Some((line, s, e));
        }
    })
}

fn trim(data: &[u8], mut s: usize, mut e: usize) -> (usize, usize) {
    while s < e && data[s].is_ascii_whitespace() {
        s += 1;
    }
    while e > s && data[e - 1].is_ascii_whitespace() {
        e -= 1;
    }
    (s, e)
}
