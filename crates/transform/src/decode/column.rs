//! One column being filled: the trait every type family implements, and `make_column`.

use arrow_array::types::*;
use arrow_array::ArrayRef;
use simd_json::{Node, StaticNode};

use super::list::ListColumn;
use super::map::MapColumn;
use super::primitive::{BoolColumn, FloatConvert, IntConvert, PrimitiveColumn};
use super::string::{IpColumn, JsonColumn, StringColumn};
use super::timestamp::{DateConvert, TimestampConvert};
use super::value::ValueError;
use crate::schema::{DefaultValue, Field, LogicalType};

/// A column under construction. Values are appended one per record; `truncate` undoes the
/// values of a record that is rejected after some of its columns were filled.
pub(crate) trait Column: Send {
    /// Appends the value at `value[0]` (which spans `value_len(value)` nodes); never null.
    fn push(&mut self, value: &[Node<'_>]) -> Result<(), ValueError>;
    /// Appends the value for a missing key or null: the default, a null, or
    /// `Err(Missing)` when the column holds no nulls.
    fn push_null(&mut self) -> Result<(), ValueError>;
    /// Number of values appended.
    fn len(&self) -> usize;
    /// Drops values past `len`.
    fn truncate(&mut self, len: usize);
    /// Takes the values as an Arrow array, leaving the column empty.
    fn finish(&mut self) -> ArrayRef;
}

/// Appends a value to `col`, routing JSON null, and `""` in a column whose type is not
/// text, to `push_null`. Every caller goes through here, so `push` never sees a null.
#[inline]
pub(crate) fn push_value(col: &mut dyn Column, value: &[Node<'_>], is_text: bool) -> Result<(), ValueError> {
    match value[0] {
        Node::Static(StaticNode::Null) => col.push_null(),
        Node::String("") if !is_text => col.push_null(),
        _ => col.push(value),
    }
}

/// Takes a buffer's contents, leaving it empty with room for as many items, so that the
/// next batch of a similar size fills it without reallocating.
pub(crate) fn take_with_capacity<T>(v: &mut Vec<T>) -> Vec<T> {
    let next = Vec::with_capacity(v.len());
    std::mem::replace(v, next)
}

/// As [`take_with_capacity`] for an offsets buffer, which always starts with a 0.
pub(crate) fn take_offsets(v: &mut Vec<i32>) -> Vec<i32> {
    let mut next = Vec::with_capacity(v.len());
    next.push(0);
    std::mem::replace(v, next)
}

/// How a scalar column treats a missing value.
#[derive(Clone, Copy)]
pub(crate) struct NullPolicy {
    pub nullable: bool,
    pub lenient: bool,
}

/// Why a field's default cannot be used.
#[derive(Debug, thiserror::Error)]
pub(crate) enum BadDefault {
    #[error("a {0} field cannot have a default")]
    NotScalar(LogicalType),
    #[error("the default does not fit type {0}: {1}")]
    DoesNotFit(LogicalType, String),
}

/// Builds the column that decodes `field`. Fails, saying why, when the field's default does
/// not fit its type.
pub(crate) fn make_column(field: &Field) -> Result<Box<dyn Column>, BadDefault> {
    let policy = NullPolicy { nullable: field.nullable(), lenient: field.lenient };
    let col = scalar_or_container(field, &field.ty, policy);
    let Some(default) = &field.default else { return Ok(col) };
    if !field.ty.is_scalar() || field.ty == LogicalType::Json {
        return Err(BadDefault::NotScalar(field.ty.clone()));
    }
    let default = match default {
        DefaultValue::Str(s) => Scalar::Str(s.clone()),
        DefaultValue::Int(i) => Scalar::Static(StaticNode::I64(*i)),
        DefaultValue::Float(f) => Scalar::Static(StaticNode::F64(*f)),
        DefaultValue::Bool(b) => Scalar::Static(StaticNode::Bool(*b)),
    };
    let mut probe = scalar_or_container(field, &field.ty, policy);
    default.with_node(|n| probe.push(n)).map_err(|e| BadDefault::DoesNotFit(field.ty.clone(), e.to_string()))?;
    Ok(Box::new(Defaulted { inner: col, default }))
}

/// Checks that a field's default (if any) fits its type.
pub(crate) fn check_default(field: &Field) -> Result<(), BadDefault> {
    make_column(field).map(drop)
}

fn scalar_or_container(field: &Field, ty: &LogicalType, policy: NullPolicy) -> Box<dyn Column> {
    match ty {
        LogicalType::List(item) => {
            let item_policy = NullPolicy { nullable: false, lenient: policy.lenient };
            Box::new(ListColumn::new(scalar_or_container(field, item, item_policy), (**item).clone(), policy))
        }
        LogicalType::Map => Box::new(MapColumn::new(policy)),
        LogicalType::String => Box::new(StringColumn::new(policy, field.trim, field.lowercase)),
        LogicalType::Ip => Box::new(IpColumn::new(policy)),
        LogicalType::Json => Box::new(JsonColumn::new(policy)),
        LogicalType::Bool => Box::new(BoolColumn::new(policy)),
        LogicalType::Int8 => Box::new(PrimitiveColumn::<Int8Type, _>::new(IntConvert, policy)),
        LogicalType::Int16 => Box::new(PrimitiveColumn::<Int16Type, _>::new(IntConvert, policy)),
        LogicalType::Int32 => Box::new(PrimitiveColumn::<Int32Type, _>::new(IntConvert, policy)),
        LogicalType::Int64 => Box::new(PrimitiveColumn::<Int64Type, _>::new(IntConvert, policy)),
        LogicalType::UInt8 => Box::new(PrimitiveColumn::<UInt8Type, _>::new(IntConvert, policy)),
        LogicalType::UInt16 => Box::new(PrimitiveColumn::<UInt16Type, _>::new(IntConvert, policy)),
        LogicalType::UInt32 => Box::new(PrimitiveColumn::<UInt32Type, _>::new(IntConvert, policy)),
        LogicalType::UInt64 => Box::new(PrimitiveColumn::<UInt64Type, _>::new(IntConvert, policy)),
        LogicalType::Float32 => Box::new(PrimitiveColumn::<Float32Type, _>::new(FloatConvert, policy)),
        LogicalType::Float64 => Box::new(PrimitiveColumn::<Float64Type, _>::new(FloatConvert, policy)),
        LogicalType::Timestamp => Box::new(
            PrimitiveColumn::<TimestampNanosecondType, _>::new(TimestampConvert { unit: field.unit }, policy)
                .with_data_type(ty.arrow_type()),
        ),
        LogicalType::Date => Box::new(PrimitiveColumn::<Date32Type, _>::new(DateConvert, policy)),
    }
}

/// A scalar default value, owned.
enum Scalar {
    Str(String),
    Static(StaticNode),
}

impl Scalar {
    fn with_node<R>(&self, f: impl FnOnce(&[Node<'_>]) -> R) -> R {
        match self {
            Self::Str(s) => f(&[Node::String(s)]),
            Self::Static(v) => f(&[Node::Static(*v)]),
        }
    }
}

/// A column whose missing values take a default.
struct Defaulted {
    inner: Box<dyn Column>,
    default: Scalar,
}

impl Column for Defaulted {
    fn push(&mut self, value: &[Node<'_>]) -> Result<(), ValueError> {
        self.inner.push(value)
    }
    fn push_null(&mut self) -> Result<(), ValueError> {
        let inner = &mut self.inner;
        self.default.with_node(|n| inner.push(n))
    }
    fn len(&self) -> usize {
        self.inner.len()
    }
    fn truncate(&mut self, len: usize) {
        self.inner.truncate(len)
    }
    fn finish(&mut self) -> ArrayRef {
        self.inner.finish()
    }
}
