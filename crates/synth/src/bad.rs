//! Turning a valid record into one malformed record of a given [`BadKind`]. Each kind changes
//! exactly one thing, so the record is otherwise valid; none writes a raw newline byte.

use super::json::Record;
use super::pools::{below, between, chance, choose, Rng};
use super::{BadKind, Dataset};

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
        BadKind::MalformedJson => malformed(rng, rec, out),
        BadKind::Truncated => {
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
        BadKind::InvalidUtf8 => {
            let keys: &[&str] = if dns {
                &["QueryName", "DeviceName", "Location", "QueryNameReversed"]
            } else {
                &["HTTPHost", "URL", "UserAgent", "DeviceName"]
            };
            let key = choose(rng, keys);
            let i = rec
                .find(key)
                .filter(|&i| rec.value(i).len() >= 2 && rec.value(i)[0] == b'"')
                .or_else(|| rec.find(keys[0]));
            if let Some(i) = i {
                let (f_start, f_end) = (rec.frags[i].start, rec.frags[i].end);
                let s = rec.buf.len();
                let at_end = chance(rng, 500);
                if at_end {
                    rec.buf.extend_from_within(f_start..f_end - 1);
                    rec.buf.extend_from_slice(&[0xff, 0xfe, b'"']);
                } else {
                    rec.buf.extend_from_slice(&[b'"', 0xff, 0xfe]);
                    rec.buf.extend_from_within(f_start + 1..f_end);
                }
                rec.frags[i].start = s;
                rec.frags[i].end = rec.buf.len();
            } else {
                rec.set_raw(keys[0], b"\"\xff\xfe\"");
            }
            rec.write_object(out);
        }
        BadKind::WrongType => {
            if dns {
                let v: &[u8] = choose(
                    rng,
                    &[
                        &b"\"big\""[..],
                        b"\"big\"",
                        b"[151]",
                        b"{\"bytes\":151}",
                        b"\"151 bytes\"",
                    ],
                );
                rec.set_raw("QuerySize", v);
            } else {
                let v: &[u8] = choose(
                    rng,
                    &[
                        &b"true"[..],
                        b"true",
                        b"\"OK\"",
                        b"[200]",
                        b"{\"code\":200}",
                    ],
                );
                rec.set_raw("HTTPStatusCode", v);
            }
            rec.write_object(out);
        }
        BadKind::OutOfRange => {
            if dns {
                let v: &[u8] = choose(
                    rng,
                    &[&b"70000"[..], b"70000", b"65536", b"-1", b"4294967296"],
                );
                rec.set_raw("SrcPort", v);
            } else {
                let v: &[u8] = choose(
                    rng,
                    &[&b"-1"[..], b"-1", b"65536", b"99999999999", b"-32768"],
                );
                rec.set_raw("SourcePort", v);
            }
            rec.write_object(out);
        }
        BadKind::MissingRequired => {
            rec.frags.retain(|f| f.key != "Datetime");
            rec.write_object(out);
        }
        BadKind::InvalidIp => {
            if dns {
                let v: &[u8] = choose(
                    rng,
                    &[
                        &b"\"104.16.132.2290\""[..],
                        b"\"104.16.132.2290\"",
                        b"\"256.1.1.1\"",
                        b"\"2001:db8::1::2\"",
                        b"\"10.0.0\"",
                    ],
                );
                rec.set_raw("DstIP", v);
            } else {
                let v: &[u8] = choose(
                    rng,
                    &[
                        &b"\"999.1.1.1\""[..],
                        b"\"999.1.1.1\"",
                        b"\"1.2.3.4.5\"",
                        b"\"fe80::g1\"",
                        b"\"localhost\"",
                    ],
                );
                rec.set_raw("SourceIP", v);
            }
            rec.write_object(out);
        }
        BadKind::InvalidTimestamp => {
            let v: &[u8] = choose(
                rng,
                &[
                    &b"\"yesterday\""[..],
                    b"\"yesterday\"",
                    b"\"2026-13-01T00:00:00Z\"",
                    b"\"2026-11-23T25:61:00Z\"",
                    b"\"23/11/2026 07:01\"",
                    b"\"2026-11-31T10:00:00Z\"",
                ],
            );
            rec.set_raw("Datetime", v);
            rec.write_object(out);
        }
        BadKind::NotAnObject => match below(rng, 6) {
            0 | 1 => {
                out.push(b'[');
                rec.write_object(out);
                out.push(b']');
            }
            2 => out.extend_from_slice(b"[1,2,3]"),
            3 => out.extend_from_slice(b"42"),
            4 => out.extend_from_slice(b"\"gateway log\""),
            _ => out.extend_from_slice(choose(rng, &[&b"null"[..], b"true", b"[]"])),
        },
        BadKind::Oversize => {
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
            rec.write_object(out);
        }
        BadKind::DuplicateKey => {
            let key = if chance(rng, 200) {
                "Datetime"
            } else if dns {
                "QueryName"
            } else {
                "HTTPHost"
            };
            if let Some(i) = rec.find(key).or_else(|| rec.find("Datetime")) {
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
            rec.write_object(out);
        }
    }
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
