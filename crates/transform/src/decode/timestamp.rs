//! Timestamp and date conversions: RFC 3339 text and unix integers of any unit.

use chrono::{DateTime, NaiveDate};
use simd_json::{Node, StaticNode};

use super::primitive::{parse_int, Convert};
use super::value::ValueError;
use crate::schema::TimestampUnit;

const NANOS_PER_SEC: i64 = 1_000_000_000;
/// Days from 0001-01-01 (chrono's day 1 of the common era) to 1970-01-01.
const UNIX_EPOCH_DAYS_FROM_CE: i32 = 719_163;

/// Reads a timestamp into nanoseconds since the epoch, UTC.
pub(crate) struct TimestampConvert {
    pub unit: TimestampUnit,
}

impl Convert<i64> for TimestampConvert {
    #[inline]
    fn convert(&self, node: &Node<'_>, _lenient: bool) -> Result<i64, ValueError> {
        let out_of_range = || ValueError::out_of_range(node);
        match *node {
            Node::Static(StaticNode::I64(v)) => scale(v, self.unit).ok_or_else(out_of_range),
            Node::Static(StaticNode::U64(v)) => i64::try_from(v).ok().and_then(|v| scale(v, self.unit)).ok_or_else(out_of_range),
            Node::String(s) => {
                if let Some(v) = parse_int::<i64>(s) {
                    return v.ok().and_then(|v| scale(v, self.unit)).ok_or_else(out_of_range);
                }
                parse_rfc3339(s).ok_or_else(|| ValueError::invalid(node, "not an RFC 3339 timestamp or unix integer"))
            }
            _ => Err(ValueError::wrong_type(node)),
        }
    }
}

/// Scales an integer in `unit` to nanoseconds; `auto` picks the unit from the magnitude.
pub(crate) fn scale(v: i64, unit: TimestampUnit) -> Option<i64> {
    let unit = match unit {
        TimestampUnit::Auto => match v.unsigned_abs() {
            0..100_000_000_000 => TimestampUnit::S,
            100_000_000_000..100_000_000_000_000 => TimestampUnit::Ms,
            100_000_000_000_000..100_000_000_000_000_000 => TimestampUnit::Us,
            _ => TimestampUnit::Ns,
        },
        u => u,
    };
    match unit {
        TimestampUnit::S => v.checked_mul(NANOS_PER_SEC),
        TimestampUnit::Ms => v.checked_mul(1_000_000),
        TimestampUnit::Us => v.checked_mul(1_000),
        TimestampUnit::Ns | TimestampUnit::Auto => Some(v),
    }
}

/// Parses RFC 3339 text into nanoseconds since the epoch. The common shape
/// (`YYYY-MM-DDTHH:MM:SS[.f…](Z|±HH:MM)`) takes a fast path; anything else goes to chrono.
pub(crate) fn parse_rfc3339(s: &str) -> Option<i64> {
    fast_rfc3339(s.as_bytes()).or_else(|| {
        let t = DateTime::parse_from_rfc3339(s).ok()?;
        t.timestamp_nanos_opt()
    })
}

fn fast_rfc3339(b: &[u8]) -> Option<i64> {
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        b[r].iter().try_fold(0u32, |acc, &c| c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0')))
    };
    let date = NaiveDate::from_ymd_opt(num(0..4)? as i32, num(5..7)?, num(8..10)?)?;
    let (h, m, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if h > 23 || m > 59 || sec > 59 {
        return None;
    }
    let mut i = 19;
    let mut frac: i64 = 0;
    if b[i] == b'.' {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            if i - start < 9 {
                frac = frac * 10 + i64::from(b[i] - b'0');
            }
            i += 1;
        }
        let digits = i - start;
        if digits == 0 {
            return None;
        }
        for _ in digits..9 {
            frac *= 10;
        }
    }
    let offset_secs: i64 = match b.get(i..)? {
        b"Z" | b"z" => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let d = |c: &u8| c.is_ascii_digit().then(|| i64::from(c - b'0'));
            let (oh, om) = (d(h1)? * 10 + d(h2)?, d(m1)? * 10 + d(m2)?);
            if oh > 23 || om > 59 {
                return None;
            }
            let off = oh * 3600 + om * 60;
            if *sign == b'+' { off } else { -off }
        }
        _ => return None,
    };
    let days = i64::from(date.num_days_from_ce() - UNIX_EPOCH_DAYS_FROM_CE);
    let secs = days * 86_400 + i64::from(h * 3600 + m * 60 + sec) - offset_secs;
    secs.checked_mul(NANOS_PER_SEC)?.checked_add(frac)
}

use chrono::Datelike;

/// Reads a `YYYY-MM-DD` date into days since the epoch.
pub(crate) struct DateConvert;

impl Convert<i32> for DateConvert {
    fn convert(&self, node: &Node<'_>, _lenient: bool) -> Result<i32, ValueError> {
        match node {
            Node::String(s) => NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .map(|d| d.num_days_from_ce() - UNIX_EPOCH_DAYS_FROM_CE)
                .map_err(|_| ValueError::invalid(node, "not a YYYY-MM-DD date")),
            _ => Err(ValueError::wrong_type(node)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_path_agrees_with_chrono() {
        for s in [
            "2026-11-23T07:01:02Z",
            "2021-07-27T00:01:07Z",
            "1969-12-31T23:59:59.999999999Z",
            "2026-11-23T07:01:02.5+01:30",
            "2026-11-23t07:01:02.123456789123-08:00",
            "2000-02-29T00:00:00Z",
        ] {
            let want = DateTime::parse_from_rfc3339(s).unwrap().timestamp_nanos_opt().unwrap();
            assert_eq!(fast_rfc3339(s.as_bytes()), Some(want), "{s}");
        }
    }

    #[test]
    fn refuses_bad_text() {
        for s in ["yesterday", "2026-02-30T00:00:00Z", "2026-11-23T24:00:00Z", "2026-11-23T07:01:02", "2026-11-23T07:01:02.Z", ""] {
            assert_eq!(parse_rfc3339(s), None, "{s}");
        }
    }

    #[test]
    fn auto_unit_by_magnitude() {
        let s = 1_763_881_262i64;
        for v in [s, s * 1_000, s * 1_000_000, s * 1_000_000_000] {
            assert_eq!(scale(v, TimestampUnit::Auto), Some(s * NANOS_PER_SEC), "{v}");
        }
        assert_eq!(scale(i64::MAX / 10, TimestampUnit::S), None);
    }
}
