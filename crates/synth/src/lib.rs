//! Deterministic synthetic Cloudflare Logpush records for the `gateway_http` and
//! `gateway_dns` datasets — valid ones with realistic skew, sizes and encodings, and
//! malformed ones of each [`BadKind`] — for tests and benchmarks of the decoder.
//!
//! ```
//! use synth::{Dataset, Generator, RecordKind};
//!
//! let mut g = Generator::new(Dataset::GatewayDns, 42).with_bad_ratio(0.01);
//! let mut line = Vec::new();
//! if g.next_record(&mut line) == RecordKind::Valid {
//!     let v: serde_json::Value = serde_json::from_slice(&line).unwrap();
//!     assert!(v.get("Datetime").is_some());
//! }
//! ```

mod bad;
mod dns;
mod http;
mod json;
mod pools;
#[cfg(test)]
mod tests;

use pools::{below, chance, Pools, Rng};
use rand::{RngCore, SeedableRng};

/// Which dataset to synthesise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dataset {
    GatewayHttp,
    GatewayDns,
}

impl Dataset {
    /// The Logpush dataset name: `"gateway_http"` or `"gateway_dns"`.
    pub fn name(self) -> &'static str {
        match self {
            Dataset::GatewayHttp => "gateway_http",
            Dataset::GatewayDns => "gateway_dns",
        }
    }

    /// The dataset called `s` (as returned by [`Dataset::name`]).
    pub fn from_name(s: &str) -> Option<Self> {
        match s {
            "gateway_http" => Some(Dataset::GatewayHttp),
            "gateway_dns" => Some(Dataset::GatewayDns),
            _ => None,
        }
    }
}

/// What a generated record is meant to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordKind {
    /// Decodes under the dataset's schema.
    Valid,
    /// Must be rejected by the decoder, for the given reason.
    Bad(BadKind),
}

/// One class of malformed record; each must be rejected by the decoder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BadKind {
    /// A syntax error at a field boundary (missing comma or colon, stray character, …).
    MalformedJson,
    /// A valid record cut in the middle.
    Truncated,
    /// Bytes 0xFF 0xFE inside a string value.
    InvalidUtf8,
    /// A value of the wrong JSON type (dns `QuerySize`, http `HTTPStatusCode`).
    WrongType,
    /// An integer outside its type's range (dns `SrcPort`, http `SourcePort`).
    OutOfRange,
    /// No `Datetime` key.
    MissingRequired,
    /// An invalid IP address (dns `DstIP`, http `SourceIP`).
    InvalidIp,
    /// A `Datetime` that is no timestamp.
    InvalidTimestamp,
    /// A top-level array, number, string or literal instead of an object.
    NotAnObject,
    /// A record of ~1.1 MiB (over the 1 MiB limit), padded in dns `DeviceName` / http `UserAgent`.
    Oversize,
    /// A top-level key given twice.
    DuplicateKey,
}

impl BadKind {
    /// The reason kind the decoder gives such a record (`RejectReason::kind`).
    pub fn reject_kind(self) -> &'static str {
        match self {
            BadKind::MalformedJson | BadKind::Truncated => "malformed_json",
            BadKind::InvalidUtf8 => "invalid_utf8",
            BadKind::WrongType => "wrong_type",
            BadKind::OutOfRange => "out_of_range",
            BadKind::MissingRequired => "missing_field",
            BadKind::InvalidIp | BadKind::InvalidTimestamp => "invalid_value",
            BadKind::NotAnObject => "not_an_object",
            BadKind::Oversize => "too_large",
            BadKind::DuplicateKey => "duplicate_key",
        }
    }

    /// Every kind.
    pub const ALL: [BadKind; 11] = [
        BadKind::MalformedJson,
        BadKind::Truncated,
        BadKind::InvalidUtf8,
        BadKind::WrongType,
        BadKind::OutOfRange,
        BadKind::MissingRequired,
        BadKind::InvalidIp,
        BadKind::InvalidTimestamp,
        BadKind::NotAnObject,
        BadKind::Oversize,
        BadKind::DuplicateKey,
    ];
}

/// 2026-11-23T00:00:00Z.
const DEFAULT_START: i64 = 1_795_392_000;
/// Latest start that keeps the 48 h window within year 9999.
const MAX_START: i64 = 253_402_300_799 - 2 * 86_400;

/// A deterministic stream of synthetic Logpush records, one JSON object per call.
pub struct Generator {
    dataset: Dataset,
    rng: Rng,
    pools: Pools,
    rec: json::Record,
    dns: dns::Scratch,
    http: http::Scratch,
    start: i64,
    live: Option<Live>,
    bad_always: bool,
    bad_threshold: u64,
    bad_order: [BadKind; 11],
    bad_pos: usize,
}

impl Generator {
    /// Same dataset + seed → the same byte sequence, on every platform.
    pub fn new(dataset: Dataset, seed: u64) -> Self {
        let salt = match dataset {
            Dataset::GatewayHttp => 0x6874_7470,
            Dataset::GatewayDns => 0x646e_7300,
        };
        Generator {
            dataset,
            rng: Rng::seed_from_u64(seed ^ salt),
            pools: Pools::build(),
            rec: json::Record::new(),
            dns: dns::Scratch::new(),
            http: http::Scratch::new(),
            start: DEFAULT_START,
            live: None,
            bad_always: false,
            bad_threshold: 0,
            bad_order: BadKind::ALL,
            bad_pos: 0,
        }
    }

    /// Fraction in \[0,1\] of records that are malformed (clamped; NaN is 0). Bad records
    /// cycle through every [`BadKind`] in a freshly shuffled order per round of 11.
    pub fn with_bad_ratio(mut self, ratio: f64) -> Self {
        let r = if ratio.is_nan() {
            0.0
        } else {
            ratio.clamp(0.0, 1.0)
        };
        self.bad_always = r >= 1.0;
        // r < 1, so r * 2^64 < 2^64; `as` saturates anyway.
        self.bad_threshold = (r * 18_446_744_073_709_551_616.0) as u64;
        self
    }

    /// Base timestamp (unix seconds, clamped to years 1970..9999): records' `Datetime`
    /// values fall in `start .. start + 48 h` (default 2026-11-23T00:00:00Z).
    pub fn with_start(mut self, unix_seconds: i64) -> Self {
        self.start = unix_seconds.clamp(0, MAX_START);
        self
    }

    /// Records in arrival order, as a live feed delivers them: `per_second` records a second
    /// from the start, each up to 5 s late, instead of spread over 48 h (so a batch touches
    /// one or two hourly partitions). A `per_second` of 0 is taken as 1.
    pub fn live(mut self, per_second: u32) -> Self {
        self.live = Some(Live {
            step_nanos: 1_000_000_000 / u64::from(per_second.max(1)),
            emitted: 0,
        });
        self
    }

    /// Appends one record (JSON object bytes, no trailing newline) to `out`; returns what it is.
    pub fn next_record(&mut self, out: &mut Vec<u8>) -> RecordKind {
        let draw = self.rng.next_u64();
        let bad = self.bad_always || draw < self.bad_threshold;

        // Per-record style: string escaping, how many empty keys are written, key order.
        let rec = &mut self.rec;
        rec.clear(self.rng.next_u64());
        rec.esc = match below(&mut self.rng, 1000) {
            0..=849 => json::Escape::Minimal,
            850..=949 => json::Escape::Go,
            _ => json::Escape::Ascii,
        };
        rec.p_empty = match below(&mut self.rng, 100) {
            0..=59 => 30,
            60..=89 => 250,
            _ => 1000,
        };
        let profiles = match self.dataset {
            Dataset::GatewayDns => &dns::PROFILES,
            Dataset::GatewayHttp => &http::PROFILES,
        };
        rec.keep = profiles[pools::weighted(&mut self.rng, &profiles.map(|p| p.1))].0;
        let time = match &mut self.live {
            None => pools::record_time(&mut self.rng, self.start),
            Some(live) => live.next_time(&mut self.rng, self.start),
        };
        match self.dataset {
            Dataset::GatewayDns => dns::fill(&mut self.rng, &self.pools, rec, &mut self.dns, time),
            Dataset::GatewayHttp => {
                http::fill(&mut self.rng, &self.pools, rec, &mut self.http, time)
            }
        }
        if chance(&mut self.rng, 50) {
            // Producers do not guarantee key order: swap a few keys.
            let n = rec.frags.len() as u32;
            for _ in 0..1 + below(&mut self.rng, 3) {
                let a = below(&mut self.rng, n) as usize;
                let b = below(&mut self.rng, n) as usize;
                rec.frags.swap(a, b);
            }
        }

        if !bad {
            rec.write_object(out);
            return RecordKind::Valid;
        }
        if self.bad_pos == 0 {
            for i in (1..self.bad_order.len()).rev() {
                let j = below(&mut self.rng, i as u32 + 1) as usize;
                self.bad_order.swap(i, j);
            }
        }
        let kind = self.bad_order[self.bad_pos];
        self.bad_pos = (self.bad_pos + 1) % self.bad_order.len();
        bad::write(kind, self.dataset, &mut self.rng, rec, out);
        RecordKind::Bad(kind)
    }
}

/// The clock of a live feed: the n-th record happens n steps after the start, minus a delay.
struct Live {
    step_nanos: u64,
    emitted: u64,
}

impl Live {
    /// (unix seconds, nanoseconds) of the next record.
    fn next_time(&mut self, rng: &mut Rng, start: i64) -> (i64, u32) {
        const MAX_DELAY_NANOS: u64 = 5_000_000_000;
        let at = self
            .emitted
            .saturating_mul(self.step_nanos)
            .saturating_add(MAX_DELAY_NANOS - pools::below64(rng, MAX_DELAY_NANOS));
        self.emitted += 1;
        (
            start
                .saturating_add((at / 1_000_000_000) as i64)
                .min(MAX_START),
            (at % 1_000_000_000) as u32,
        )
    }
}
