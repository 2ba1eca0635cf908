//! `LowCardinality(T)` columns: a dictionary of the distinct values, then one index per row.
//!
//! ClickHouse 18.16 stores a plain `T` column sent for a `LowCardinality(T)` one as it is and
//! fails on it later ("Bad cast from type DB::ColumnString to DB::ColumnLowCardinality"),
//! whatever `low_cardinality_allow_in_native_format` says (26.9 converts it). So the writer
//! sends the real serialization, which both read alike (key version 1, "shared
//! dictionaries with additional keys"):
//!
//! - state prefix (before the column's data, see [`Enc::put_prefix`](super::Enc)): UInt64 1;
//! - nothing more when the column has no rows (an Array of only empty arrays);
//! - UInt64 flags: index width (0 = UInt8, 1 = UInt16, 2 = UInt32) | 1 << 9 (keys follow) |
//!   1 << 10 (they replace any earlier dictionary);
//! - UInt64 number of keys, then the keys as a column of `T` without its `Nullable`;
//! - UInt64 number of rows, then one index per row.
//!
//! Key 0 is T's default value, as ClickHouse's own dictionaries have it. Under
//! `LowCardinality(Nullable(T))` index 0 means NULL, so a real default value gets a key of
//! its own.

use std::collections::HashMap;

use arrow_array::Array;

use super::scalar::Scalar;
use super::{first_null, put_u64, Bad};

const HAS_ADDITIONAL_KEYS: u64 = 1 << 9;
const NEED_UPDATE_DICTIONARY: u64 = 1 << 10;

/// Appends the data of a `LowCardinality` column of `inner` values (not its prefix).
pub(super) fn write(inner: &Scalar, nullable: bool, array: &dyn Array, out: &mut Vec<u8>) -> Result<(), Bad> {
    let rows = array.len();
    if rows == 0 {
        return Ok(());
    }
    if !nullable {
        if let Some(row) = first_null(array) {
            return Err(Bad::null(row));
        }
    }
    let mut keys = Vec::new();
    inner.put_default(&mut keys);
    let mut ids: HashMap<Box<[u8]>, u32, foldhash::fast::RandomState> = HashMap::default();
    if !nullable {
        ids.insert(keys.clone().into_boxed_slice(), 0);
    }
    let mut count: u32 = 1;
    let mut indexes = Vec::with_capacity(rows);
    inner.each(array, |row, value| {
        let id = if nullable && array.is_null(row) {
            0
        } else if let Some(&id) = ids.get(value) {
            id
        } else {
            keys.extend_from_slice(value);
            ids.insert(value.into(), count);
            count += 1;
            count - 1
        };
        indexes.push(id);
    })?;
    let width = match count {
        0..=0x100 => 0,
        0x101..=0x1_0000 => 1,
        _ => 2,
    };
    put_u64(out, width | HAS_ADDITIONAL_KEYS | NEED_UPDATE_DICTIONARY);
    put_u64(out, u64::from(count));
    out.extend_from_slice(&keys);
    put_u64(out, rows as u64);
    match width {
        0 => out.extend(indexes.iter().map(|&i| i as u8)),
        1 => indexes.iter().for_each(|&i| out.extend_from_slice(&(i as u16).to_le_bytes())),
        _ => indexes.iter().for_each(|&i| out.extend_from_slice(&i.to_le_bytes())),
    }
    Ok(())
}
