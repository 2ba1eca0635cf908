//! Arrow → ClickHouse Native format: a whole batch as one block, each column encoded
//! straight from its Arrow array into the table's real column type.
//!
//! A block, as the HTTP interface reads it (protocol revision 0: no block info, no
//! per-column serialization flag): varuint column count, varuint row count, then per column
//! its name and type name (varuint length + bytes each), the type's state prefix
//! ([`Enc::put_prefix`]) and its data ([`Enc::write`], values in [`scalar`], dictionaries in
//! [`lowcard`]).

mod column;
mod lowcard;
mod scalar;
#[cfg(test)]
mod tests;

use arrow_array::{Array, RecordBatch};
use arrow_schema::{DataType, Schema};

use super::columns::{ChType, TableColumn};
use crate::Error;
use column::Enc;

/// Encodes record batches of one Arrow schema into Native blocks for one table's columns.
/// Built once per (schema, table); checks every column on the way.
///
/// ```
/// use std::sync::Arc;
/// use arrow_array::{RecordBatch, UInt16Array};
/// use arrow_schema::{DataType, Field, Schema};
/// use sink::clickhouse::{NativeEncoder, TableColumn};
///
/// let schema = Schema::new(vec![Field::new("port", DataType::UInt16, false)]);
/// let table = [TableColumn { name: "port".into(), type_name: "UInt16".into(), default_kind: String::new() }];
/// let encoder = NativeEncoder::new("db.t", &schema, &table).unwrap();
/// let batch = RecordBatch::try_new(Arc::new(schema), vec![Arc::new(UInt16Array::from(vec![53, 443]))]).unwrap();
/// // 1 column, 2 rows, "port", "UInt16", 53, 443
/// assert_eq!(encoder.encode(&batch).unwrap(), b"\x01\x02\x04port\x06UInt16\x35\x00\xbb\x01");
/// ```
#[derive(Debug)]
pub struct NativeEncoder {
    table: String,
    columns: Vec<Planned>,
}

#[derive(Debug)]
struct Planned {
    name: String,
    type_name: String,
    arrow: DataType,
    index: usize,
    enc: Enc,
}

impl NativeEncoder {
    /// Plans the encoding of batches of `schema` into the `columns` of table `table` (a name
    /// for messages). Every batch column must be a table column of a type it can fill; table
    /// columns the batch lacks must have a default expression.
    ///
    /// # Errors
    /// [`Error::ClickHouseMismatch`] naming the first column that does not fit, with both
    /// types.
    pub fn new(table: &str, schema: &Schema, columns: &[TableColumn]) -> Result<Self, Error> {
        let mismatch = |column: &str, table_type: &str, batch_type: String, reason: String| Error::ClickHouseMismatch {
            table: table.to_string(),
            column: column.to_string(),
            table_type: table_type.to_string(),
            batch_type,
            reason,
        };
        let mut planned = Vec::with_capacity(schema.fields().len());
        for (index, field) in schema.fields().iter().enumerate() {
            let batch_type = field.data_type().to_string();
            let Some(col) = columns.iter().find(|c| &c.name == field.name()) else {
                return Err(mismatch(field.name(), "none", batch_type, "the table has no such column; add it (migrate) or drop it from the schema".into()));
            };
            if !col.insertable() {
                return Err(mismatch(field.name(), &col.type_name, batch_type, format!("a {} column cannot be inserted", col.default_kind)));
            }
            let enc = Enc::plan(field.data_type(), &ChType::parse(&col.type_name)).map_err(|reason| mismatch(&col.name, &col.type_name, batch_type, reason.to_string()))?;
            planned.push(Planned { name: col.name.clone(), type_name: col.type_name.clone(), arrow: field.data_type().clone(), index, enc });
        }
        if let Some(col) = columns.iter().find(|c| !c.has_default() && schema.field_with_name(&c.name).is_err()) {
            return Err(mismatch(&col.name, &col.type_name, "none".into(), "the batch lacks this column and the table has no DEFAULT for it".into()));
        }
        Ok(Self { table: table.to_string(), columns: planned })
    }

    /// The inserted columns, in block order.
    pub fn column_names(&self) -> impl Iterator<Item = &str> {
        self.columns.iter().map(|c| c.name.as_str())
    }

    /// One Native block holding every row of `batch`.
    ///
    /// # Errors
    /// [`Error::ClickHouseValue`] for a value its column's type cannot hold (an invalid
    /// address, a date out of range, a null in a column that is not Nullable, …), naming the
    /// column and the row; [`Error::ClickHouseMismatch`] when `batch` does not have the
    /// schema the encoder was built for.
    pub fn encode(&self, batch: &RecordBatch) -> Result<Vec<u8>, Error> {
        let mut out = Vec::with_capacity(batch.get_array_memory_size() + 64);
        put_varuint(&mut out, self.columns.len() as u64);
        put_varuint(&mut out, batch.num_rows() as u64);
        for col in &self.columns {
            let array = batch.columns().get(col.index).filter(|a| a.data_type() == &col.arrow && batch.schema_ref().field(col.index).name() == &col.name);
            let Some(array) = array else {
                return Err(Error::ClickHouseMismatch {
                    table: self.table.clone(),
                    column: col.name.clone(),
                    table_type: col.type_name.clone(),
                    batch_type: batch.schema_ref().field_with_name(&col.name).map_or("none".into(), |f| f.data_type().to_string()),
                    reason: format!("the encoder was built for batches with this column at position {} as {}", col.index, col.arrow),
                });
            };
            put_str(&mut out, col.name.as_bytes());
            put_str(&mut out, col.type_name.as_bytes());
            col.enc.put_prefix(&mut out);
            col.enc.write(array.as_ref(), &mut out).map_err(|bad| Error::ClickHouseValue { column: col.name.clone(), row: bad.row, reason: bad.reason })?;
        }
        Ok(out)
    }
}

/// A value that cannot be encoded: its row within the array being encoded, and why.
#[derive(Debug, PartialEq, Eq)]
struct Bad {
    row: usize,
    reason: String,
}

impl Bad {
    fn null(row: usize) -> Self {
        Self { row, reason: "null, but the column is not Nullable".into() }
    }

    /// The same failure, at the row of the parent whose items end at `ends`.
    fn in_row_of(self, ends: &[u64]) -> Self {
        Self { row: ends.partition_point(|&end| end <= self.row as u64), reason: format!("in an item: {}", self.reason) }
    }
}

/// The first null row of `array`, if any.
fn first_null(array: &dyn Array) -> Option<usize> {
    array.nulls().filter(|n| n.null_count() > 0).and_then(|n| n.iter().position(|valid| !valid))
}

/// Appends `v` as a LEB128 varuint, ClickHouse's `VarUInt`.
fn put_varuint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Appends a ClickHouse `String`: varuint length, then the bytes.
fn put_str(out: &mut Vec<u8>, s: &[u8]) {
    put_varuint(out, s.len() as u64);
    out.extend_from_slice(s);
}

fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}
