//! `map<string,string>` columns: a JSON object whose values are strings.

use std::sync::Arc;

use arrow_array::{ArrayRef, MapArray, StructArray};
use arrow_schema::{DataType, FieldRef};
use simd_json::Node;

use super::column::{Column, NullPolicy};
use super::json_text::write_value;
use super::offsets::Offsets;
use super::string::Utf8Buf;
use super::value::{describe, value_len, ValueError};
use crate::schema::map_entries_field;

pub(crate) struct MapColumn {
    rows: Offsets,
    keys: Utf8Buf,
    values: Utf8Buf,
    policy: NullPolicy,
}

impl MapColumn {
    pub(crate) fn new(policy: NullPolicy) -> Self {
        Self { rows: Offsets::new(policy.nullable), keys: Utf8Buf::new(), values: Utf8Buf::new(), policy }
    }
}

impl Column for MapColumn {
    fn push(&mut self, value: &[Node<'_>]) -> Result<(), ValueError> {
        let Node::Object { len, .. } = value[0] else {
            return Err(ValueError::wrong_type(&value[0]));
        };
        let start = self.keys.len();
        let mut pos = 1;
        for _ in 0..len {
            let Node::String(key) = value[pos] else { unreachable_key() };
            let v = &value[pos + 1..];
            let n = value_len(v);
            match v[0] {
                Node::String(s) => self.values.push_str(s),
                _ if self.policy.lenient && !is_null(&v[0]) => {
                    write_value(&v[..n], self.values.data());
                    self.values.commit();
                }
                _ => {
                    self.keys.truncate(start);
                    self.values.truncate(start);
                    return Err(ValueError::Invalid {
                        found: format!("{} under key {key:?}", describe(&v[0])),
                        why: "map values must be strings".into(),
                    });
                }
            }
            self.keys.push_str(key);
            pos += 1 + n;
        }
        self.rows.push_valid(self.keys.len());
        Ok(())
    }

    fn push_null(&mut self) -> Result<(), ValueError> {
        self.rows.push_null()
    }

    fn len(&self) -> usize {
        self.rows.len()
    }

    fn truncate(&mut self, len: usize) {
        if let Some(entries) = self.rows.truncate(len) {
            self.keys.truncate(entries);
            self.values.truncate(entries);
        }
    }

    fn finish(&mut self) -> ArrayRef {
        let entries_field = map_entries_field();
        let DataType::Struct(fields) = entries_field.data_type().clone() else { unreachable!("map entries are a struct") };
        let keys: ArrayRef = Arc::new(self.keys.finish());
        let values: ArrayRef = Arc::new(self.values.finish());
        let entries = StructArray::new(fields, vec![keys, values], None);
        let (offsets, nulls) = self.rows.finish();
        let field: FieldRef = Arc::new(entries_field);
        Arc::new(MapArray::new(field, offsets, entries, nulls, false))
    }
}

fn is_null(node: &Node<'_>) -> bool {
    matches!(node, Node::Static(simd_json::StaticNode::Null))
}

/// simd-json guarantees object keys are strings.
fn unreachable_key() -> ! {
    unreachable!("simd-json object keys are always strings")
}
