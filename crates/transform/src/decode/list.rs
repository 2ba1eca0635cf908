//! `list<T>` columns: a JSON array of scalars, items never null.

use std::sync::Arc;

use arrow_array::{ArrayRef, ListArray};
use arrow_schema::Field as ArrowField;
use simd_json::Node;

use super::column::{push_value, Column, NullPolicy};
use super::offsets::Offsets;
use super::value::{describe, value_len, ValueError};
use crate::schema::LogicalType;

pub(crate) struct ListColumn {
    rows: Offsets,
    items: Box<dyn Column>,
    item_type: LogicalType,
}

impl ListColumn {
    pub(crate) fn new(items: Box<dyn Column>, item_type: LogicalType, policy: NullPolicy) -> Self {
        Self { rows: Offsets::new(policy.nullable), items, item_type }
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
        self.rows.push_valid(self.items.len());
        Ok(())
    }

    fn push_null(&mut self) -> Result<(), ValueError> {
        self.rows.push_null()
    }

    fn len(&self) -> usize {
        self.rows.len()
    }

    fn truncate(&mut self, len: usize) {
        if let Some(items) = self.rows.truncate(len) {
            self.items.truncate(items);
        }
    }

    fn finish(&mut self) -> ArrayRef {
        let field = Arc::new(ArrowField::new("item", self.item_type.arrow_type(), false));
        let (offsets, nulls) = self.rows.finish();
        Arc::new(ListArray::new(field, offsets, self.items.finish(), nulls))
    }
}
