//! Integer, float and bool columns, and the `Convert` trait that timestamp columns share.

use std::sync::Arc;

use arrow_array::{ArrayRef, ArrowPrimitiveType, BooleanArray, PrimitiveArray};
use arrow_buffer::{BooleanBufferBuilder, NullBufferBuilder, ScalarBuffer};
use arrow_schema::DataType;
use simd_json::{Node, StaticNode};

use super::column::{take_with_capacity, Column, NullPolicy};
use super::value::ValueError;

/// Turns one JSON value into a native value of a primitive column.
pub(crate) trait Convert<N>: Send {
    fn convert(&self, node: &Node<'_>, lenient: bool) -> Result<N, ValueError>;
}

/// A column of fixed-width values, e.g. `uint16` or `timestamp`.
pub(crate) struct PrimitiveColumn<T: ArrowPrimitiveType, C> {
    values: Vec<T::Native>,
    nulls: NullBufferBuilder,
    convert: C,
    policy: NullPolicy,
    data_type: DataType,
}

impl<T: ArrowPrimitiveType, C: Convert<T::Native>> PrimitiveColumn<T, C> {
    pub(crate) fn new(convert: C, policy: NullPolicy) -> Self {
        Self { values: Vec::new(), nulls: NullBufferBuilder::new(0), convert, policy, data_type: T::DATA_TYPE }
    }

    /// Sets the Arrow type (for types with parameters, such as a timestamp's time zone).
    pub(crate) fn with_data_type(mut self, data_type: DataType) -> Self {
        self.data_type = data_type;
        self
    }
}

impl<T: ArrowPrimitiveType, C: Convert<T::Native>> Column for PrimitiveColumn<T, C> {
    #[inline]
    fn push(&mut self, value: &[Node<'_>]) -> Result<(), ValueError> {
        let v = self.convert.convert(&value[0], self.policy.lenient)?;
        self.values.push(v);
        self.nulls.append_non_null();
        Ok(())
    }

    fn push_null(&mut self) -> Result<(), ValueError> {
        if !self.policy.nullable {
            return Err(ValueError::Missing);
        }
        self.values.push(T::Native::default());
        self.nulls.append_null();
        Ok(())
    }

    fn len(&self) -> usize {
        self.values.len()
    }

    fn truncate(&mut self, len: usize) {
        self.values.truncate(len);
        self.nulls.truncate(len);
    }

    fn finish(&mut self) -> ArrayRef {
        let values = ScalarBuffer::from(take_with_capacity(&mut self.values));
        let array = PrimitiveArray::<T>::new(values, self.nulls.finish()).with_data_type(self.data_type.clone());
        Arc::new(array)
    }
}

/// Reads a JSON integer, or with `lenient` a string of one, into any integer type.
pub(crate) struct IntConvert;

impl<N: TryFrom<i64> + TryFrom<u64>> Convert<N> for IntConvert {
    #[inline]
    fn convert(&self, node: &Node<'_>, lenient: bool) -> Result<N, ValueError> {
        let out_of_range = || ValueError::out_of_range(node);
        match *node {
            Node::Static(StaticNode::I64(v)) => N::try_from(v).map_err(|_| out_of_range()),
            Node::Static(StaticNode::U64(v)) => N::try_from(v).map_err(|_| out_of_range()),
            // An integer beyond 64 bits, which the parser reads as a float (rounded: -2^63 - 1
            // becomes -2^63).
            Node::Static(StaticNode::F64(v)) if v.fract() == 0.0 && v.abs() >= 9_223_372_036_854_775_808.0 => Err(out_of_range()),
            Node::String(s) if lenient => parse_int(s.trim()).ok_or_else(|| ValueError::wrong_type(node))?.map_err(|_| out_of_range()),
            _ => Err(ValueError::wrong_type(node)),
        }
    }
}

/// Parses decimal integer text; the outer `None` means it is not an integer at all.
pub(crate) fn parse_int<N: TryFrom<i64> + TryFrom<u64>>(s: &str) -> Option<Result<N, ()>> {
    if let Ok(v) = s.parse::<u64>() {
        return Some(N::try_from(v).map_err(drop));
    }
    if let Ok(v) = s.parse::<i64>() {
        return Some(N::try_from(v).map_err(drop));
    }
    let digits = s.strip_prefix('-').unwrap_or(s);
    (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())).then_some(Err(()))
}

/// Reads a JSON number, or with `lenient` a string of one, into a float type.
pub(crate) struct FloatConvert;

/// Float types a JSON number converts into.
pub(crate) trait FromF64 {
    fn from_f64(v: f64) -> Self;
}
impl FromF64 for f32 {
    fn from_f64(v: f64) -> Self {
        v as f32
    }
}
impl FromF64 for f64 {
    fn from_f64(v: f64) -> Self {
        v
    }
}

impl<N: FromF64> Convert<N> for FloatConvert {
    #[inline]
    fn convert(&self, node: &Node<'_>, lenient: bool) -> Result<N, ValueError> {
        let v = match *node {
            Node::Static(StaticNode::F64(v)) => v,
            Node::Static(StaticNode::I64(v)) => v as f64,
            Node::Static(StaticNode::U64(v)) => v as f64,
            Node::String(s) if lenient => s.trim().parse::<f64>().map_err(|_| ValueError::wrong_type(node))?,
            _ => return Err(ValueError::wrong_type(node)),
        };
        let n = N::from_f64(v);
        Ok(n)
    }
}

/// A `bool` column.
pub(crate) struct BoolColumn {
    values: BooleanBufferBuilder,
    nulls: NullBufferBuilder,
    policy: NullPolicy,
}

impl BoolColumn {
    pub(crate) fn new(policy: NullPolicy) -> Self {
        Self { values: BooleanBufferBuilder::new(0), nulls: NullBufferBuilder::new(0), policy }
    }
}

impl Column for BoolColumn {
    fn push(&mut self, value: &[Node<'_>]) -> Result<(), ValueError> {
        let v = match value[0] {
            Node::Static(StaticNode::Bool(b)) => b,
            Node::String(s) if self.policy.lenient => match s.trim() {
                "true" | "1" => true,
                "false" | "0" => false,
                _ => return Err(ValueError::wrong_type(&value[0])),
            },
            Node::Static(StaticNode::I64(v @ (0 | 1))) if self.policy.lenient => v == 1,
            Node::Static(StaticNode::U64(v @ (0 | 1))) if self.policy.lenient => v == 1,
            _ => return Err(ValueError::wrong_type(&value[0])),
        };
        self.values.append(v);
        self.nulls.append_non_null();
        Ok(())
    }

    fn push_null(&mut self) -> Result<(), ValueError> {
        if !self.policy.nullable {
            return Err(ValueError::Missing);
        }
        self.values.append(false);
        self.nulls.append_null();
        Ok(())
    }

    fn len(&self) -> usize {
        self.values.len()
    }

    fn truncate(&mut self, len: usize) {
        self.values.truncate(len);
        self.nulls.truncate(len);
    }

    fn finish(&mut self) -> ArrayRef {
        Arc::new(BooleanArray::new(self.values.finish(), self.nulls.finish()))
    }
}
