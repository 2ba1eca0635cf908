//! Scalar columns: each Arrow value becomes one value of a scalar ClickHouse type, written
//! the way ClickHouse's binary serialization of that type writes it.

use std::net::{IpAddr, Ipv4Addr};

use arrow_array::cast::AsArray;
use arrow_array::Array;
use arrow_buffer::ArrowNativeType;
use arrow::array::ArrayData;
use arrow_schema::TimeUnit;

use super::{put_str, Bad};

/// How one scalar Arrow column becomes values of one scalar ClickHouse type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Scalar {
    /// Fixed-width little-endian values copied as they are: integers, floats, Date32 → Date32.
    Copy(usize),
    /// Boolean → `Bool` or `UInt8`: one byte, 0 or 1.
    Bool,
    /// Utf8 → `String`: varuint length, then the bytes.
    String,
    /// Utf8 → `FixedString(n)`: the bytes, zero-padded to n.
    FixedString(usize),
    /// Utf8 address text → `IPv4`: the address as a little-endian u32.
    Ipv4,
    /// Utf8 address text → `IPv6`: 16 bytes in network order, IPv4 as `::ffff:a.b.c.d`.
    Ipv6,
    /// Utf8 UUID text → `UUID`: the high then the low 64 bits, each little-endian.
    Uuid,
    /// Timestamp → `DateTime`: little-endian u32 seconds, rounded down.
    DateTime(Rescale),
    /// Timestamp → `DateTime64(p)`: little-endian i64 ticks of 10^-p s, rounded down.
    DateTime64(Rescale),
    /// Date32 → `Date`: little-endian u16 days.
    Date,
    /// Map(Utf8, Utf8) → `String` holding the map as a JSON object.
    MapJson,
}

/// A timestamp of one Arrow unit in ticks of 10^-p seconds: `floor(value × mul / div)`,
/// one of `mul` and `div` being 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Rescale {
    mul: i64,
    div: i64,
}

impl Rescale {
    /// From `unit` to ticks of 10^-`precision` seconds (precision ≤ 9).
    pub(super) fn new(unit: TimeUnit, precision: u32) -> Self {
        let digits = match unit {
            TimeUnit::Second => 0,
            TimeUnit::Millisecond => 3,
            TimeUnit::Microsecond => 6,
            TimeUnit::Nanosecond => 9,
        };
        if precision >= digits {
            Self { mul: 10i64.pow(precision - digits), div: 1 }
        } else {
            Self { mul: 1, div: 10i64.pow(digits - precision) }
        }
    }

    fn apply(self, value: i64) -> Option<i64> {
        value.checked_mul(self.mul).map(|v| v.div_euclid(self.div))
    }
}

impl Scalar {
    /// Appends the type's default value (what ClickHouse stores under a NULL).
    pub(super) fn put_default(&self, out: &mut Vec<u8>) {
        let width = match *self {
            Self::String | Self::MapJson => 1,
            Self::Copy(w) | Self::FixedString(w) => w,
            Self::Bool => 1,
            Self::Date => 2,
            Self::Ipv4 | Self::DateTime(_) => 4,
            Self::DateTime64(_) => 8,
            Self::Ipv6 | Self::Uuid => 16,
        };
        out.resize(out.len() + width, 0);
    }

    /// Appends every value of `array`, in row order; a null row gets the default value.
    pub(super) fn write(&self, array: &dyn Array, out: &mut Vec<u8>) -> Result<(), Bad> {
        match *self {
            Self::Copy(width) => out.extend_from_slice(raw(&array.to_data(), width)),
            Self::String => {
                let strings = array.as_string::<i32>();
                let data = strings.value_data();
                out.reserve(data.len() + strings.len());
                for w in strings.value_offsets().windows(2) {
                    put_str(out, &data[w[0].as_usize()..w[1].as_usize()]);
                }
            }
            _ => self.each(array, |_, value| out.extend_from_slice(value))?,
        }
        Ok(())
    }

    /// Calls `f(row, encoded value)` for every row in order; a null row gets the default.
    pub(super) fn each(&self, array: &dyn Array, mut f: impl FnMut(usize, &[u8])) -> Result<(), Bad> {
        let mut buf = Vec::with_capacity(64);
        let rows = 0..array.len();
        let bad = |row, reason: String| Bad { row, reason };
        match *self {
            Self::Copy(width) => raw(&array.to_data(), width).chunks_exact(width).enumerate().for_each(|(row, v)| f(row, v)),
            Self::Bool => {
                let bools = array.as_boolean();
                rows.for_each(|row| f(row, &[u8::from(bools.value(row))]));
            }
            Self::String => {
                let strings = array.as_string::<i32>();
                for row in rows {
                    buf.clear();
                    put_str(&mut buf, strings.value(row).as_bytes());
                    f(row, &buf);
                }
            }
            Self::FixedString(n) => {
                let strings = array.as_string::<i32>();
                for row in rows {
                    buf.clear();
                    if array.is_valid(row) {
                        let value = strings.value(row).as_bytes();
                        if value.len() > n {
                            return Err(bad(row, format!("{} bytes do not fit FixedString({n})", value.len())));
                        }
                        buf.extend_from_slice(value);
                    }
                    buf.resize(n, 0);
                    f(row, &buf);
                }
            }
            Self::Ipv4 | Self::Ipv6 | Self::Uuid => {
                let strings = array.as_string::<i32>();
                for row in rows {
                    buf.clear();
                    if array.is_null(row) {
                        self.put_default(&mut buf);
                    } else {
                        let text = strings.value(row);
                        self.put_parsed(text, &mut buf).ok_or_else(|| bad(row, format!("`{text}` is not {}", self.what())))?;
                    }
                    f(row, &buf);
                }
            }
            Self::DateTime(r) | Self::DateTime64(r) => {
                let data = array.to_data();
                for (row, &v) in values::<i64>(&data).iter().enumerate() {
                    let ticks = if array.is_valid(row) { r.apply(v) } else { Some(0) };
                    match (*self, ticks) {
                        (Self::DateTime(_), Some(s)) if (0..=i64::from(u32::MAX)).contains(&s) => f(row, &(s as u32).to_le_bytes()),
                        (Self::DateTime64(_), Some(t)) => f(row, &t.to_le_bytes()),
                        _ => return Err(bad(row, format!("timestamp {v} is outside the range of {}", self.what()))),
                    }
                }
            }
            Self::Date => {
                let data = array.to_data();
                for (row, &days) in values::<i32>(&data).iter().enumerate() {
                    let days = if array.is_valid(row) { days } else { 0 };
                    let days = u16::try_from(days).map_err(|_| bad(row, format!("day {days} is outside Date's 1970-01-01 ..= 2149-06-06")))?;
                    f(row, &days.to_le_bytes());
                }
            }
            Self::MapJson => {
                let map = array.as_map();
                let (keys, items) = (map.keys().as_string::<i32>(), map.values().as_string::<i32>());
                let mut json = Vec::with_capacity(256);
                for (row, w) in map.value_offsets().windows(2).enumerate() {
                    json.clear();
                    if array.is_valid(row) {
                        json.push(b'{');
                        for (n, i) in (w[0].as_usize()..w[1].as_usize()).enumerate() {
                            if n > 0 {
                                json.push(b',');
                            }
                            transform::write_json_string(keys.value(i), &mut json);
                            json.push(b':');
                            transform::write_json_string(items.value(i), &mut json);
                        }
                        json.push(b'}');
                    }
                    buf.clear();
                    put_str(&mut buf, &json);
                    f(row, &buf);
                }
            }
        }
        Ok(())
    }

    /// Appends the value of `text` for an address or UUID type; `None` when it is not one.
    fn put_parsed(&self, text: &str, out: &mut Vec<u8>) -> Option<()> {
        match self {
            Self::Ipv4 => out.extend_from_slice(&text.parse::<Ipv4Addr>().ok()?.to_bits().to_le_bytes()),
            Self::Ipv6 => out.extend_from_slice(&match text.parse::<IpAddr>().ok()? {
                IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
                IpAddr::V6(v6) => v6.octets(),
            }),
            _ => {
                let bits = parse_uuid(text)?;
                out.extend_from_slice(&((bits >> 64) as u64).to_le_bytes());
                out.extend_from_slice(&(bits as u64).to_le_bytes());
            }
        }
        Some(())
    }

    fn what(&self) -> &'static str {
        match self {
            Self::Ipv4 => "an IPv4 address",
            Self::Ipv6 => "an IPv4 or IPv6 address",
            Self::Uuid => "a UUID (8-4-4-4-12 hex digits)",
            Self::DateTime(_) => "DateTime (1970-01-01 ..= 2106-02-07)",
            _ => "DateTime64 (±292 years around 1970 at this precision)",
        }
    }
}

/// A UUID written as 32 hex digits, hyphenated 8-4-4-4-12 or not.
fn parse_uuid(text: &str) -> Option<u128> {
    let b = text.as_bytes();
    let hyphens = b.len() == 36 && [8, 13, 18, 23].iter().all(|&i| b[i] == b'-');
    if !(hyphens || b.len() == 32) {
        return None;
    }
    let mut digits = b.iter().enumerate().filter(|&(i, _)| !(hyphens && [8, 13, 18, 23].contains(&i)));
    digits.try_fold(0u128, |acc, (_, &c)| Some(acc << 4 | u128::from((c as char).to_digit(16)? as u8)))
}

/// The bytes of a fixed-width array's values (the array's own slice of its buffer).
fn raw(data: &ArrayData, width: usize) -> &[u8] {
    &data.buffers()[0].as_slice()[data.offset() * width..(data.offset() + data.len()) * width]
}

/// The values of a primitive array (the array's own slice of its buffer).
fn values<T: ArrowNativeType>(data: &ArrayData) -> &[T] {
    &data.buffers()[0].typed_data::<T>()[data.offset()..data.offset() + data.len()]
}
