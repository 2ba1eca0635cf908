//! Hand-written JSON output: escaped strings, integers, base64, Logpush `Datetime` values, and
//! [`Record`], a top-level object kept as separate key/value fragments so that later stages
//! can reorder, replace, duplicate or drop keys before the object is written out.

use super::pools::Rng;

/// How a string's characters are escaped. All three are valid JSON for the same text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Escape {
    /// Only what JSON requires (`"`, `\`, control characters), like serde_json.
    Minimal,
    /// Like Go's `encoding/json`: also `<`, `>`, `&`, U+2028 and U+2029 as `\uXXXX`.
    Go,
    /// Every non-ASCII character as `\uXXXX` (surrogate pairs above U+FFFF).
    Ascii,
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Byte classes: 0 plain, 1 always escaped, 2 escaped in Go mode (`<>&`), 3 non-ASCII.
const CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = if i < 0x20 || i == b'"' as usize || i == b'\\' as usize {
            1
        } else if i == b'<' as usize || i == b'>' as usize || i == b'&' as usize {
            2
        } else if i >= 0x80 {
            3
        } else {
            0
        };
        i += 1;
    }
    t
};

/// Appends `s` as a quoted, escaped JSON string.
pub(crate) fn write_str(out: &mut Vec<u8>, s: &str, esc: Escape) {
    write_str_bytes(out, s.as_bytes(), esc);
}

/// Appends UTF-8 text `s` as a quoted, escaped JSON string (invalid UTF-8 in Ascii mode
/// becomes `\ufffd`; callers only pass text built from `&str` pieces).
pub(crate) fn write_str_bytes(out: &mut Vec<u8>, s: &[u8], esc: Escape) {
    out.reserve(s.len() + 2);
    out.push(b'"');
    let mut start = 0;
    let mut i = 0;
    while i < s.len() {
        if let Some(chunk) = s.get(i..i + 8) {
            match first_candidate(chunk, esc) {
                None => {
                    i += 8;
                    continue;
                }
                Some(k) => i += k,
            }
        }
        if !needs_escape(s, i, esc) {
            i += 1;
            continue;
        }
        out.extend_from_slice(&s[start..i]);
        i += write_escape(out, &s[i..]);
        start = i;
    }
    out.extend_from_slice(&s[start..]);
    out.push(b'"');
}

/// Index of the first byte of the 8-byte `chunk` that may need escaping (a control byte,
/// `"`, `\`, and per mode `<>&` / non-ASCII), or None when all 8 are plain (SWAR).
#[inline]
fn first_candidate(chunk: &[u8], esc: Escape) -> Option<usize> {
    let mut w = [0u8; 8];
    w.copy_from_slice(chunk);
    let w = u64::from_le_bytes(w);
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let zero = |x: u64| x.wrapping_sub(LO) & !x & HI;
    let mut hit = w.wrapping_sub(LO * 0x20) & !w & HI
        | zero(w ^ (LO * b'"' as u64))
        | zero(w ^ (LO * b'\\' as u64));
    match esc {
        Escape::Minimal => {}
        Escape::Go => {
            hit |= zero(w ^ (LO * b'<' as u64))
                | zero(w ^ (LO * b'>' as u64))
                | zero(w ^ (LO * b'&' as u64))
                | zero(w ^ (LO * 0xE2))
        }
        Escape::Ascii => hit |= w & HI,
    }
    // The lowest flagged byte is a true hit (borrows only propagate upwards).
    (hit != 0).then(|| (hit.trailing_zeros() / 8) as usize)
}

/// Whether the character starting at `s[i]` is escaped in mode `esc` (in Go mode a
/// non-ASCII one only if it is U+2028 or U+2029).
#[inline]
fn needs_escape(s: &[u8], i: usize, esc: Escape) -> bool {
    let b = s[i];
    match CLASS[b as usize] {
        0 => false,
        1 => true,
        2 => esc == Escape::Go,
        _ => match esc {
            Escape::Minimal => false,
            Escape::Ascii => true,
            Escape::Go => {
                b == 0xE2
                    && s.get(i + 1) == Some(&0x80)
                    && matches!(s.get(i + 2), Some(0xA8 | 0xA9))
            }
        },
    }
}

/// Appends the escape of the character at the start of `s` (non-empty); returns its length
/// in bytes.
fn write_escape(out: &mut Vec<u8>, s: &[u8]) -> usize {
    let b = s[0];
    if b < 0x80 {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            _ => write_u_escape(out, b as u16),
        }
        return 1;
    }
    let (cp, len) = decode_utf8(s);
    if cp >= 0x10000 {
        let v = cp - 0x10000;
        write_u_escape(out, 0xD800 | (v >> 10) as u16);
        write_u_escape(out, 0xDC00 | (v & 0x3ff) as u16);
    } else {
        write_u_escape(out, cp as u16);
    }
    len
}

fn write_u_escape(out: &mut Vec<u8>, u: u16) {
    out.extend_from_slice(&[
        b'\\',
        b'u',
        HEX[(u >> 12) as usize & 15],
        HEX[(u >> 8) as usize & 15],
        HEX[(u >> 4) as usize & 15],
        HEX[u as usize & 15],
    ]);
}

/// Decodes one UTF-8 scalar at the start of `s` (non-empty, first byte ≥ 0x80); returns
/// (code point, byte length), or (U+FFFD, 1) on a malformed sequence.
fn decode_utf8(s: &[u8]) -> (u32, usize) {
    let b0 = s[0] as u32;
    let (len, init) = match b0 {
        0xC2..=0xDF => (2, b0 & 0x1f),
        0xE0..=0xEF => (3, b0 & 0x0f),
        0xF0..=0xF4 => (4, b0 & 0x07),
        _ => return (0xFFFD, 1),
    };
    if s.len() < len {
        return (0xFFFD, 1);
    }
    let mut cp = init;
    for &c in &s[1..len] {
        if c & 0xC0 != 0x80 {
            return (0xFFFD, 1);
        }
        cp = (cp << 6) | (c as u32 & 0x3f);
    }
    (cp, len)
}

/// Appends an unsigned integer.
#[inline]
pub(crate) fn write_u64(out: &mut Vec<u8>, v: u64) {
    let mut b = itoa::Buffer::new();
    out.extend_from_slice(b.format(v).as_bytes());
}

/// Appends a signed integer.
#[inline]
pub(crate) fn write_i64(out: &mut Vec<u8>, v: i64) {
    let mut b = itoa::Buffer::new();
    out.extend_from_slice(b.format(v).as_bytes());
}

/// Appends standard base64 (with padding) of `data`, without quotes.
pub(crate) fn write_base64(out: &mut Vec<u8>, data: &[u8]) {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut chunks = data.chunks_exact(3);
    for c in &mut chunks {
        let n = (c[0] as u32) << 16 | (c[1] as u32) << 8 | c[2] as u32;
        out.extend_from_slice(&[
            A[(n >> 18) as usize & 63],
            A[(n >> 12) as usize & 63],
            A[(n >> 6) as usize & 63],
            A[n as usize & 63],
        ]);
    }
    match *chunks.remainder() {
        [a] => {
            let n = (a as u32) << 16;
            out.extend_from_slice(&[
                A[(n >> 18) as usize & 63],
                A[(n >> 12) as usize & 63],
                b'=',
                b'=',
            ]);
        }
        [a, b] => {
            let n = (a as u32) << 16 | (b as u32) << 8;
            out.extend_from_slice(&[
                A[(n >> 18) as usize & 63],
                A[(n >> 12) as usize & 63],
                A[(n >> 6) as usize & 63],
                b'=',
            ]);
        }
        _ => {}
    }
}

/// Appends `n` random bytes as lowercase hex, without quotes.
pub(crate) fn write_hex(out: &mut Vec<u8>, rng: &mut Rng, n: usize) {
    use rand::RngCore;
    let mut left = n;
    while left > 0 {
        let v = rng.next_u64();
        for k in 0..left.min(8) {
            let b = (v >> (8 * k)) as u8;
            out.extend_from_slice(&[HEX[(b >> 4) as usize], HEX[(b & 15) as usize]]);
        }
        left = left.saturating_sub(8);
    }
}

/// The three Logpush `timestamp_format`s (RFC 3339 in three precisions).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TimeFormat {
    Rfc3339,
    Rfc3339Millis,
    Rfc3339Nanos,
    UnixSeconds,
    UnixNanos,
}

/// (year, month, day) of a day count since 1970-01-01 (proleptic Gregorian; H. Hinnant's algorithm).
pub(crate) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = (z - era * 146_097) as u64;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe as i64 + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn push2(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&[b'0' + (v / 10 % 10) as u8, b'0' + (v % 10) as u8]);
}

/// Appends a `Datetime` value: `secs` must lie in years 1970..=9999 (the caller clamps).
/// Unix nanoseconds are written as an exact integer; when they would not fit in i64 or
/// would read as microseconds (< 10^17), seconds are written instead.
pub(crate) fn write_datetime(out: &mut Vec<u8>, secs: i64, nanos: u32, fmt: TimeFormat) {
    match fmt {
        TimeFormat::UnixSeconds => write_i64(out, secs),
        TimeFormat::UnixNanos => {
            match secs
                .checked_mul(1_000_000_000)
                .and_then(|v| v.checked_add(i64::from(nanos)))
            {
                Some(v) if v >= 100_000_000_000_000_000 => write_i64(out, v),
                _ => write_i64(out, secs),
            }
        }
        _ => {
            let days = secs.div_euclid(86_400);
            let sod = secs.rem_euclid(86_400) as u32;
            let (y, m, d) = civil_from_days(days);
            let y = y.clamp(0, 9999) as u32;
            out.push(b'"');
            push2(out, y / 100);
            push2(out, y % 100);
            out.push(b'-');
            push2(out, m);
            out.push(b'-');
            push2(out, d);
            out.push(b'T');
            push2(out, sod / 3600);
            out.push(b':');
            push2(out, sod / 60 % 60);
            out.push(b':');
            push2(out, sod % 60);
            let (frac, digits) = match fmt {
                TimeFormat::Rfc3339Millis => (nanos / 1_000_000, 3),
                TimeFormat::Rfc3339Nanos => (nanos, 9),
                _ => (0, 0),
            };
            if digits > 0 {
                out.push(b'.');
                let mut buf = [b'0'; 9];
                let mut f = frac;
                for k in (0..digits).rev() {
                    buf[k] = b'0' + (f % 10) as u8;
                    f /= 10;
                }
                out.extend_from_slice(&buf[..digits]);
            }
            out.extend_from_slice(b"Z\"");
        }
    }
}

/// Which keys a producer writes: a Logpush job's field list.
pub(crate) type KeyFilter = fn(&str) -> bool;

/// One top-level key and its value's JSON text, `buf[start..end]` of its [`Record`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Frag {
    pub key: &'static str,
    pub start: usize,
    pub end: usize,
}

/// A JSON object under construction: values are appended to `buf`, keys kept in `frags`.
/// Also carries the per-record style (escaping, how often empty values are written).
pub(crate) struct Record {
    pub buf: Vec<u8>,
    pub frags: Vec<Frag>,
    pub esc: Escape,
    /// Per mille: how often a key whose value is empty ("" / [] / 0) is written at all.
    pub p_empty: u32,
    /// Per mille: how often an integer value is replaced by `""` or left out (both null).
    pub p_null_int: u32,
    /// Which keys this record's producer (a Logpush job's field list) includes.
    pub keep: KeyFilter,
    /// SplitMix64 state for the small per-field decisions (reseeded from the main RNG per record).
    noise: u64,
}

impl Record {
    pub fn new() -> Self {
        Record {
            buf: Vec::with_capacity(4096),
            frags: Vec::with_capacity(96),
            esc: Escape::Minimal,
            p_empty: 500,
            p_null_int: 20,
            keep: |_| true,
            noise: 0,
        }
    }

    /// Empties the record and reseeds its decision source.
    pub fn clear(&mut self, seed: u64) {
        self.buf.clear();
        self.frags.clear();
        self.noise = seed;
    }

    /// True with probability `permille`/1000 (SplitMix64; deterministic on every platform).
    #[inline]
    pub fn roll(&mut self, permille: u32) -> bool {
        self.draw1000() < permille
    }

    /// Uniform-ish in 0..1000 (bias < 10^-6).
    #[inline]
    fn draw1000(&mut self) -> u32 {
        self.noise = self.noise.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.noise;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        (((z >> 32) * 1000) >> 32) as u32
    }

    /// Starts a value: returns its start offset for [`Record::end`].
    #[inline]
    pub fn begin(&self) -> usize {
        self.buf.len()
    }

    /// Ends a value begun at `start` under `key` (dropped if the job's field list lacks `key`).
    #[inline]
    pub fn end(&mut self, key: &'static str, start: usize) {
        if (self.keep)(key) {
            self.frags.push(Frag {
                key,
                start,
                end: self.buf.len(),
            });
        } else {
            self.buf.truncate(start);
        }
    }

    /// Whether this record's field list includes `key` (to skip building costly values).
    #[inline]
    pub fn wants(&self, key: &str) -> bool {
        (self.keep)(key)
    }

    /// `key` with raw JSON `value`.
    pub fn raw(&mut self, key: &'static str, value: &[u8]) {
        let s = self.begin();
        self.buf.extend_from_slice(value);
        self.end(key, s);
    }

    /// `key` with a string value (always written).
    pub fn str(&mut self, key: &'static str, v: &str) {
        let s = self.begin();
        write_str(&mut self.buf, v, self.esc);
        self.end(key, s);
    }

    /// `key` with a string value; an empty value is written (as `""`) only sometimes.
    pub fn opt_str(&mut self, key: &'static str, v: &str) {
        if !v.is_empty() || self.roll(self.p_empty) {
            self.str(key, v);
        }
    }

    /// An empty list, written as `[]` only sometimes.
    pub fn empty_list(&mut self, key: &'static str) {
        if self.roll(self.p_empty) {
            self.raw(key, b"[]");
        }
    }

    /// `key` with an integer; occasionally `""` or left out (null).
    pub fn int(&mut self, key: &'static str, v: u64) {
        if self.p_null_int > 0 && self.roll(self.p_null_int) {
            if self.roll(500) {
                self.raw(key, b"\"\"");
            }
            return;
        }
        self.int_always(key, v);
    }

    /// `key` with an integer whose zero means "none": a zero is written like an empty value.
    pub fn int_or_zero(&mut self, key: &'static str, v: u64) {
        if v == 0 {
            if self.roll(self.p_empty) {
                if self.roll(100) {
                    self.raw(key, b"\"\"");
                } else {
                    self.raw(key, b"0");
                }
            }
        } else {
            self.int(key, v);
        }
    }

    pub fn int_always(&mut self, key: &'static str, v: u64) {
        let s = self.begin();
        write_u64(&mut self.buf, v);
        self.end(key, s);
    }

    pub fn bool(&mut self, key: &'static str, v: bool) {
        self.raw(key, if v { b"true" } else { b"false" });
    }

    /// `key` with a list of strings; an empty list only sometimes.
    pub fn str_list<'a, I: IntoIterator<Item = &'a str>>(&mut self, key: &'static str, items: I) {
        let s = self.begin();
        self.buf.push(b'[');
        let mut n = 0;
        for it in items {
            if n > 0 {
                self.buf.push(b',');
            }
            write_str(&mut self.buf, it, self.esc);
            n += 1;
        }
        self.buf.push(b']');
        if n == 0 && !self.roll(self.p_empty) {
            self.buf.truncate(s);
            return;
        }
        self.end(key, s);
    }

    /// `key` with a list of integers; an empty list only sometimes.
    pub fn int_list<I: IntoIterator<Item = u64>>(&mut self, key: &'static str, items: I) {
        let s = self.begin();
        self.buf.push(b'[');
        let mut n = 0;
        for v in items {
            if n > 0 {
                self.buf.push(b',');
            }
            write_u64(&mut self.buf, v);
            n += 1;
        }
        self.buf.push(b']');
        if n == 0 && !self.roll(self.p_empty) {
            self.buf.truncate(s);
            return;
        }
        self.end(key, s);
    }

    /// Index of the first fragment with `key`.
    pub fn find(&self, key: &str) -> Option<usize> {
        self.frags.iter().position(|f| f.key == key)
    }

    /// Value bytes of fragment `i`.
    pub fn value(&self, i: usize) -> &[u8] {
        let f = self.frags[i];
        &self.buf[f.start..f.end]
    }

    /// Sets `key` to raw JSON `value`: replaces its value if present, else inserts the key
    /// before the first key that sorts after it (the reference order is alphabetical).
    pub fn set_raw(&mut self, key: &'static str, value: &[u8]) {
        let s = self.buf.len();
        self.buf.extend_from_slice(value);
        self.set_span(key, s);
    }

    /// Like [`Record::set_raw`] for a value already appended to `buf` from `start`.
    pub fn set_span(&mut self, key: &'static str, start: usize) {
        let frag = Frag {
            key,
            start,
            end: self.buf.len(),
        };
        if let Some(i) = self.find(key) {
            self.frags[i] = frag;
        } else {
            let at = self
                .frags
                .iter()
                .position(|f| f.key > key)
                .unwrap_or(self.frags.len());
            self.frags.insert(at, frag);
        }
    }

    /// Writes `"key":value` of fragment `f`.
    pub fn write_field(&self, out: &mut Vec<u8>, f: &Frag) {
        out.push(b'"');
        out.extend_from_slice(f.key.as_bytes());
        out.extend_from_slice(b"\":");
        out.extend_from_slice(&self.buf[f.start..f.end]);
    }

    /// Writes the whole object.
    pub fn write_object(&self, out: &mut Vec<u8>) {
        out.reserve(self.buf.len() + self.frags.len() * 24 + 2);
        out.push(b'{');
        for (i, f) in self.frags.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            self.write_field(out, f);
        }
        out.push(b'}');
    }
}

/// A `Datetime` format: RFC 3339 (plain, .nnnnnnnnn, .mmm), unix seconds or unix nanoseconds.
pub(crate) fn time_format(rng: &mut Rng) -> TimeFormat {
    match super::pools::below(rng, 100) {
        0..=34 => TimeFormat::Rfc3339,
        35..=49 => TimeFormat::Rfc3339Nanos,
        50..=54 => TimeFormat::Rfc3339Millis,
        55..=69 => TimeFormat::UnixSeconds,
        _ => TimeFormat::UnixNanos,
    }
}

impl Record {
    /// `key` with an IP address `text`: rarely `""` (absent), an upper-case IPv6 or an
    /// IPv4-mapped IPv6 form of an IPv4 address (both valid, not canonical).
    pub fn ip(&mut self, key: &'static str, text: &str, v6: bool) {
        let s = self.begin();
        match self.draw1000() {
            0..=9 => self.buf.extend_from_slice(b"\"\""),
            10..=14 if v6 => {
                self.buf.push(b'"');
                self.buf
                    .extend(text.bytes().map(|b| b.to_ascii_uppercase()));
                self.buf.push(b'"');
            }
            10..=14 => {
                self.buf.extend_from_slice(b"\"::ffff:");
                self.buf.extend_from_slice(text.as_bytes());
                self.buf.push(b'"');
            }
            _ => write_str(&mut self.buf, text, self.esc),
        }
        self.end(key, s);
    }
}
