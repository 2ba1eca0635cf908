//! Turning a valid record into one malformed record of a given [`BadKind`]. Each kind changes
//! exactly one thing, so the record is otherwise valid; none writes a raw newline byte.

use super::json::Record;
use super::pools::{below, between, chance, choose, Rng};
use super::{BadKind, Dataset};

/// Non-integer dns `QuerySize` values (the first is drawn twice as often).
const DNS_WRONG_TYPES: [&[u8]; 5] = [
    b"\"big\"",
    b"\"big\"",
    b"[151]",
    b"{\"bytes\":151}",
    b"\"151 bytes\"",
];
/// Non-integer http `HTTPStatusCode` values (the first is drawn twice as often).
const HTTP_WRONG_TYPES: [&[u8]; 5] = [b"true", b"true", b"\"OK\"", b"[200]", b"{\"code\":200}"];
/// dns `SrcPort` values outside u16 (the first is drawn twice as often).
const DNS_OUT_OF_RANGE: [&[u8]; 5] = [b"70000", b"70000", b"65536", b"-1", b"4294967296"];
/// http `SourcePort` values outside u16 (the first is drawn twice as often).
const HTTP_OUT_OF_RANGE: [&[u8]; 5] = [b"-1", b"-1", b"65536", b"99999999999", b"-32768"];
/// Invalid dns `DstIP` values (the first is drawn twice as often).
const DNS_INVALID_IPS: [&[u8]; 5] = [
    b"\"104.16.132.2290\"",
    b"\"104.16.132.2290\"",
    b"\"256.1.1.1\"",
    b"\"2001:db8::1::2\"",
    b"\"10.0.0\"",
];
/// Invalid http `SourceIP` values (the first is drawn twice as often).
const HTTP_INVALID_IPS: [&[u8]; 5] = [
    b"\"999.1.1.1\"",
    b"\"999.1.1.1\"",
    b"\"1.2.3.4.5\"",
    b"\"fe80::g1\"",
    b"\"localhost\"",
];
/// `Datetime` values that are no timestamp (the first is drawn twice as often).
const INVALID_TIMESTAMPS: [&[u8]; 6] = [
    b"\"yesterday\"",
    b"\"yesterday\"",
    b"\"2026-13-01T00:00:00Z\"",
    b"\"2026-11-23T25:61:00Z\"",
    b"\"23/11/2026 07:01\"",
    b"\"2026-11-31T10:00:00Z\"",
];

/// Writes `rec`, spoiled as `kind`, to `out`.
pub(crate) fn write(
    kind: BadKind,
    ds: Dataset,
    rng: &mut Rng,
    rec: &mut Record,
    out: &mut Vec<u8>,
) {
    let dns = ds == Dataset::GatewayDns;
    match kind {
        // These three write `out` themselves.
        BadKind::MalformedJson => return malformed(rng, rec, out),
        BadKind::Truncated => return truncated(rng, rec, out),
        BadKind::NotAnObject => return not_an_object(rng, rec, out),
        // The rest spoil `rec`, which is then written whole.
        BadKind::InvalidUtf8 => invalid_utf8(rng, rec, dns),
        BadKind::WrongType if dns => set_one_of(rng, rec, "QuerySize", &DNS_WRONG_TYPES),
        BadKind::WrongType => set_one_of(rng, rec, "HTTPStatusCode", &HTTP_WRONG_TYPES),
        BadKind::OutOfRange if dns => set_one_of(rng, rec, "SrcPort", &DNS_OUT_OF_RANGE),
        BadKind::OutOfRange => set_one_of(rng, rec, "SourcePort", &HTTP_OUT_OF_RANGE),
        BadKind::MissingRequired => rec.frags.retain(|f| f.key != "Datetime"),
        BadKind::InvalidIp if dns => set_one_of(rng, rec, "DstIP", &DNS_INVALID_IPS),
        BadKind::InvalidIp => set_one_of(rng, rec, "SourceIP", &HTTP_INVALID_IPS),
        BadKind::InvalidTimestamp => set_one_of(rng, rec, "Datetime", &INVALID_TIMESTAMPS),
        BadKind::Oversize => oversize(rng, rec, dns),
        BadKind::DuplicateKey => duplicate_key(rng, rec, dns),
    }
    rec.write_object(out);
}

/// Sets `key` to one of `values`, drawn uniformly.
fn set_one_of(rng: &mut Rng, rec: &mut Record, key: &'static str, values: &[&[u8]]) {
    rec.set_raw(key, choose(rng, values));
}

/// The whole record, cut at a random character boundary in its middle 80 %.
fn truncated(rng: &mut Rng, rec: &Record, out: &mut Vec<u8>) {
    let start = out.len();
    rec.write_object(out);
    let len = out.len() - start;
    let mut cut = between(rng, (len / 10) as u32, (len * 9 / 10) as u32).max(1) as usize;
    // Cut on a character boundary (a cut inside a character would be invalid UTF-8 instead).
    while cut > 1 && (out[start + cut] & 0xC0) == 0x80 {
        cut -= 1;
    }
    out.truncate(start + cut);
}

/// Bytes 0xFF 0xFE at the start or end of a string value (a name, URL or agent).
fn invalid_utf8(rng: &mut Rng, rec: &mut Record, dns: bool) {
    let keys: &[&'static str] = if dns {
        &["QueryName", "DeviceName", "Location", "QueryNameReversed"]
    } else {
        &["HTTPHost", "URL", "UserAgent", "DeviceName"]
    };
    let key = choose(rng, keys);
    let i = rec
        .find(key)
        .filter(|&i| rec.value(i).len() >= 2 && rec.value(i)[0] == b'"')
        .or_else(|| rec.find(keys[0]));
    let Some(i) = i else {
        rec.set_raw(keys[0], b"\"\xff\xfe\"");
        return;
    };
    let (f_start, f_end) = (rec.frags[i].start, rec.frags[i].end);
    let s = rec.buf.len();
    if chance(rng, 500) {
        rec.buf.extend_from_within(f_start..f_end - 1);
        rec.buf.extend_from_slice(&[0xff, 0xfe, b'"']);
    } else {
        rec.buf.extend_from_slice(&[b'"', 0xff, 0xfe]);
        rec.buf.extend_from_within(f_start + 1..f_end);
    }
    rec.frags[i].start = s;
    rec.frags[i].end = rec.buf.len();
}

/// A top-level array, number, string or literal (the record inside an array one time in three).
fn not_an_object(rng: &mut Rng, rec: &Record, out: &mut Vec<u8>) {
    match below(rng, 6) {
        0 | 1 => {
            out.push(b'[');
            rec.write_object(out);
            out.push(b']');
        }
        2 => out.extend_from_slice(b"[1,2,3]"),
        3 => out.extend_from_slice(b"42"),
        4 => out.extend_from_slice(b"\"gateway log\""),
        _ => out.extend_from_slice(choose(rng, &[&b"null"[..], b"true", b"[]"])),
    }
}

/// Pads dns `DeviceName` / http `UserAgent` with a repeated pattern to make the record ~1.1 MiB.
fn oversize(rng: &mut Rng, rec: &mut Record, dns: bool) {
    let key = if dns { "DeviceName" } else { "UserAgent" };
    let pattern: &[u8] = if dns {
        b"Laptop-MB810-"
    } else {
        b"Mozilla/5.0 (X11; Linux x86_64) "
    };
    // ~1.1 MiB for the whole record.
    let target = 1_153_434 + below(rng, 8192) as usize;
    let s = rec.buf.len();
    rec.buf.push(b'"');
    rec.buf.extend_from_slice(pattern);
    while 2 * (rec.buf.len() - s - 1) < target {
        let n = rec.buf.len() - s - 1;
        rec.buf.extend_from_within(s + 1..s + 1 + n);
    }
    let fill = target - (rec.buf.len() - s);
    rec.buf.extend_from_within(s + 1..s + 1 + fill);
    rec.buf.push(b'"');
    rec.set_span(key, s);
}

/// A second copy of a name key or `Datetime` (sometimes with another value) at a random place.
fn duplicate_key(rng: &mut Rng, rec: &mut Record, dns: bool) {
    let key = if chance(rng, 200) {
        "Datetime"
    } else if dns {
        "QueryName"
    } else {
        "HTTPHost"
    };
    let Some(i) = rec.find(key).or_else(|| rec.find("Datetime")) else {
        return;
    };
    let mut dup = rec.frags[i];
    if chance(rng, 500) {
        // A different value under the same key.
        let s = rec.buf.len();
        rec.buf.extend_from_slice(if key == "Datetime" {
            b"1795400000"
        } else {
            b"\"example.com\""
        });
        dup.start = s;
        dup.end = rec.buf.len();
    }
    let at = below(rng, rec.frags.len() as u32 + 1) as usize;
    rec.frags.insert(at, dup);
}

/// A syntax error at one field boundary.
fn malformed(rng: &mut Rng, rec: &Record, out: &mut Vec<u8>) {
    let n = rec.frags.len();
    if n < 2 {
        out.extend_from_slice(b"{\"Datetime\" 1795392000}");
        return;
    }
    let at = between(rng, 1, n as u32 - 1) as usize;
    let variant = below(rng, 6);
    out.push(b'{');
    for (i, f) in rec.frags.iter().enumerate() {
        if i > 0 {
            if i == at {
                match variant {
                    0 => out.push(b' '), // missing comma
                    1 => out.extend_from_slice(b",x"),
                    2 => out.extend_from_slice(b",,"),
                    _ => out.push(b','),
                }
            } else {
                out.push(b',');
            }
        }
        if i == at && variant == 3 {
            // missing colon
            out.push(b'"');
            out.extend_from_slice(f.key.as_bytes());
            out.extend_from_slice(b"\" ");
            out.extend_from_slice(&rec.buf[f.start..f.end]);
        } else if i == at && variant == 4 {
            // unquoted key
            out.extend_from_slice(f.key.as_bytes());
            out.push(b':');
            out.extend_from_slice(&rec.buf[f.start..f.end]);
        } else {
            rec.write_field(out, f);
        }
    }
    if variant == 5 {
        out.push(b','); // trailing comma
    }
    out.push(b'}');
}
