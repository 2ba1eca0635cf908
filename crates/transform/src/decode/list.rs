//! `list<T>` columns: a JSON array of scalars, items never null.

use std::sync::Arc;

use arrow_array::{ArrayRef, ListArray};
use arrow_buffer::{NullBufferBuilder, OffsetBuffer, ScalarBuffer};
use arrow_schema::Field as ArrowField;
use simd_json::Node;

use super::column::{push_value, Column, NullPolicy};
use super::value::{describe, value_len, ValueError};
use crate::schema::LogicalType;

pub(crate) struct ListColumn {
    offsets: Vec<i32>,
    nulls: NullBufferBuilder,
    items: Box<dyn Column>,
    item_type: LogicalType,
    policy: NullPolicy,
}

impl ListColumn {
    pub(crate) fn new(items: Box<dyn Column>, item_type: LogicalType, policy: NullPolicy) -> Self {
        Self { offsets: vec![0], nulls: NullBufferBuilder::new(0), items, item_type, policy }
    }
}

impl Column for ListColumn {
    fn push(&mut self, value: &[Node<'_>]) -> Result<(), ValueError> {
        let Node::Array { len, .. } = value[0] else {
            return Err(ValueError::wrong_type(&value[0]));
        };
        let is_text = self.item_type.is_text();
        let mut pos = 1;
        for i in 0..len {
            let n = value_len(&value[pos..]);
            push_value(self.items.as_mut(), &value[pos..pos + n], is_text).map_err(|e| match e {
                ValueError::Missing => ValueError::Invalid {
                    found: format!("{} at index {i}", describe(&value[pos])),
                    why: format!("list items must be {} values, not null or empty", self.item_type),
                },
                other => other,
            })?;
            pos += n;
        }
        self.offsets.push(self.items.len() as i32);
        self.nulls.append_non_null();
        Ok(())
    }

    fn push_null(&mut self) -> Result<(), ValueError> {
        if !self.policy.nullable {
            return Err(ValueError::Missing);
        }
        self.offsets.push(self.items.len() as i32);
        self.nulls.append_null();
        Ok(())
    }

    fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    fn truncate(&mut self, len: usize) {
        if len < self.len() {
            self.offsets.truncate(len + 1);
            self.items.truncate(self.offsets[len] as usize);
            self.nulls.truncate(len);
        }
    }

    fn finish(&mut self) -> ArrayRef {
        let offsets = std::mem::replace(&mut self.offsets, vec![0]);
        let field = Arc::new(ArrowField::new("item", self.item_type.arrow_type(), false));
        // SAFETY: offsets start at 0 and never decrease; the last is the item count.
        let offsets = unsafe { OffsetBuffer::new_unchecked(ScalarBuffer::from(offsets)) };
        Arc::new(ListArray::new(field, offsets, self.items.finish(), self.nulls.finish()))
    }
}
