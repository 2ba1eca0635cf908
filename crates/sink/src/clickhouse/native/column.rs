//! One column: which Arrow type fills which ClickHouse type ([`Enc::plan`]), and the
//! wrappers around scalar values: `Nullable`, `LowCardinality`, `Array`, `Map`.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef, UInt32Array};
use arrow_buffer::NullBuffer;
use arrow_schema::DataType;

use super::super::columns::ChType;
use super::scalar::{Rescale, Scalar};
use super::{first_null, lowcard, put_u64, Bad};

/// Why no encoding fills a ClickHouse column from an Arrow column.
#[derive(Debug, thiserror::Error)]
pub(super) enum NoPlan {
    #[error("Arrow map entries of type {0} are not a key-value struct")]
    MapEntries(DataType),
    #[error("an Array column takes an Arrow List")]
    ArrayNeedsList,
    #[error("a Map column takes an Arrow Map")]
    MapNeedsMap,
    #[error("the writer cannot fill {0} columns")]
    Unsupported(String),
    #[error("Nullable and LowCardinality may hold only scalar types")]
    NestedWrapper,
    #[error("no encoding from this Arrow type into this ClickHouse type")]
    NoEncoding,
}

/// How one Arrow column becomes one ClickHouse column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Enc {
    /// A scalar type; the Arrow column must hold no null.
    Scalar(Scalar),
    /// `Nullable(T)`: a byte per row (1 = NULL), then the values, defaults under the NULLs.
    Nullable(Scalar),
    /// `LowCardinality(T)` or `LowCardinality(Nullable(T))`: see [`lowcard`].
    LowCardinality { inner: Scalar, nullable: bool },
    /// `Array(T)` from a List: each row's end as a UInt64 running count of items, then the
    /// items as one column. A null list is an empty array.
    Array(Box<Enc>),
    /// `Map(K, V)` from a Map: the row ends as for Array, then the keys, then the values.
    /// A null map is an empty map.
    Map(Box<Enc>, Box<Enc>),
}

impl Enc {
    /// The encoding of Arrow `arrow` values into a ClickHouse `ch` column, or why there is
    /// none.
    pub(super) fn plan(arrow: &DataType, ch: &ChType) -> Result<Self, NoPlan> {
        Ok(match (arrow, ch) {
            (_, ChType::Nullable(inner)) => Self::Nullable(scalar(arrow, inner)?),
            (_, ChType::LowCardinality(inner)) => match inner.as_ref() {
                ChType::Nullable(inner) => Self::LowCardinality { inner: scalar(arrow, inner)?, nullable: true },
                inner => Self::LowCardinality { inner: scalar(arrow, inner)?, nullable: false },
            },
            (DataType::List(item), ChType::Array(ch_item)) => Self::Array(Box::new(Self::plan(item.data_type(), ch_item)?)),
            (DataType::Map(entries, _), ChType::Map(k, v)) => match entries.data_type() {
                DataType::Struct(kv) if kv.len() == 2 => Self::Map(Box::new(Self::plan(kv[0].data_type(), k)?), Box::new(Self::plan(kv[1].data_type(), v)?)),
                other => return Err(NoPlan::MapEntries(other.clone())),
            },
            (_, ChType::Array(_)) => return Err(NoPlan::ArrayNeedsList),
            (_, ChType::Map(..)) => return Err(NoPlan::MapNeedsMap),
            _ => Self::Scalar(scalar(arrow, ch)?),
        })
    }

    /// Appends the column's serialization state prefix, written before its data: only
    /// `LowCardinality` has one, wherever it is nested.
    pub(super) fn put_prefix(&self, out: &mut Vec<u8>) {
        match self {
            Self::LowCardinality { .. } => put_u64(out, 1),
            Self::Array(item) => item.put_prefix(out),
            Self::Map(k, v) => {
                k.put_prefix(out);
                v.put_prefix(out);
            }
            Self::Scalar(_) | Self::Nullable(_) => {}
        }
    }

    /// Appends the column's data for every row of `array`.
    pub(super) fn write(&self, array: &dyn Array, out: &mut Vec<u8>) -> Result<(), Bad> {
        match self {
            Self::Scalar(scalar) => match first_null(array) {
                Some(row) => Err(Bad::null(row)),
                None => scalar.write(array, out),
            },
            Self::Nullable(scalar) => {
                match array.nulls() {
                    Some(nulls) => out.extend(nulls.iter().map(|valid| u8::from(!valid))),
                    None => out.resize(out.len() + array.len(), 0),
                }
                scalar.write(array, out)
            }
            Self::LowCardinality { inner, nullable } => lowcard::write(inner, *nullable, array, out),
            Self::Array(item) => {
                let list = array.as_list::<i32>();
                let (ends, items) = flatten(list.value_offsets(), list.nulls(), list.values())?;
                ends.iter().for_each(|&e| put_u64(out, e));
                item.write(&items, out).map_err(|bad| bad.in_row_of(&ends))
            }
            Self::Map(k, v) => {
                let map = array.as_map();
                let entries: ArrayRef = Arc::new(map.entries().clone());
                let (ends, entries) = flatten(map.value_offsets(), map.nulls(), &entries)?;
                ends.iter().for_each(|&e| put_u64(out, e));
                let entries = entries.as_struct();
                k.write(entries.column(0), out).map_err(|bad| bad.in_row_of(&ends))?;
                v.write(entries.column(1), out).map_err(|bad| bad.in_row_of(&ends))
            }
        }
    }
}

/// The scalar encoding of Arrow `arrow` values into ClickHouse `ch` values.
fn scalar(arrow: &DataType, ch: &ChType) -> Result<Scalar, NoPlan> {
    use ChType as C;
    use DataType as A;
    Ok(match (arrow, ch) {
        (A::Int8, C::Int8) | (A::UInt8, C::UInt8) => Scalar::Copy(1),
        (A::Int16, C::Int16) | (A::UInt16, C::UInt16) => Scalar::Copy(2),
        (A::Int32, C::Int32) | (A::UInt32, C::UInt32) | (A::Float32, C::Float32) | (A::Date32, C::Date32) => Scalar::Copy(4),
        (A::Int64, C::Int64) | (A::UInt64, C::UInt64) | (A::Float64, C::Float64) => Scalar::Copy(8),
        (A::Boolean, C::Bool | C::UInt8) => Scalar::Bool,
        (A::Utf8, C::String) => Scalar::String,
        (A::Utf8, C::FixedString(n)) => Scalar::FixedString(*n),
        (A::Utf8, C::Ipv4) => Scalar::Ipv4,
        (A::Utf8, C::Ipv6) => Scalar::Ipv6,
        (A::Utf8, C::Uuid) => Scalar::Uuid,
        (A::Timestamp(unit, _), C::DateTime) => Scalar::DateTime(Rescale::new(*unit, 0)),
        (A::Timestamp(unit, _), C::DateTime64(p)) => Scalar::DateTime64(Rescale::new(*unit, *p)),
        (A::Date32, C::Date) => Scalar::Date,
        (A::Map(entries, _), C::String) if is_text_map(entries.data_type()) => Scalar::MapJson,
        (_, C::Other(t)) => return Err(NoPlan::Unsupported(t.clone())),
        (_, C::Nullable(_) | C::LowCardinality(_) | C::Array(_) | C::Map(..)) => return Err(NoPlan::NestedWrapper),
        _ => return Err(NoPlan::NoEncoding),
    })
}

fn is_text_map(entries: &DataType) -> bool {
    matches!(entries, DataType::Struct(kv) if kv.len() == 2 && kv.iter().all(|f| f.data_type() == &DataType::Utf8))
}

/// Each row's end as a running count of items, and the items the ends index: the rows'
/// own slice of `items`, or, when a null row covers items (Arrow allows it), only the items
/// of the valid rows.
fn flatten(offsets: &[i32], nulls: Option<&NullBuffer>, items: &ArrayRef) -> Result<(Vec<u64>, ArrayRef), Bad> {
    let (first, last) = (offsets[0] as usize, offsets[offsets.len() - 1] as usize);
    let rows = offsets.windows(2).enumerate();
    let hidden = |n: &NullBuffer| rows.clone().any(|(row, w)| n.is_null(row) && w[0] != w[1]);
    let Some(nulls) = nulls.filter(|n| hidden(n)) else {
        let ends = offsets[1..].iter().map(|&o| (o as usize - first) as u64).collect();
        return Ok((ends, items.slice(first, last - first)));
    };
    let mut keep = Vec::new();
    let mut ends = Vec::with_capacity(offsets.len() - 1);
    for (row, w) in rows {
        if nulls.is_valid(row) {
            keep.extend(w[0] as u32..w[1] as u32);
        }
        ends.push(keep.len() as u64);
    }
    let items = arrow::compute::take(items.as_ref(), &UInt32Array::from(keep), None)
        .map_err(|e| Bad { row: 0, reason: format!("cannot drop the items under null rows: {e}") })?;
    Ok((ends, items))
}
