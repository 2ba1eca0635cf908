//! Walking one parsed record and appending its values to the columns.

use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::types::{Date32Type, UInt8Type};
use arrow_array::{ArrayRef, Int32Array, Int64Array, RecordBatch, RecordBatchOptions, StringArray, TimestampNanosecondArray, UInt32Array};
use arrow_schema::SchemaRef;
use foldhash::fast::FixedState;
use simd_json::Node;

use super::column::{make_column, push_value, take_with_capacity, Column};
use super::json_text::{write_str, write_value};
use super::reject::RejectReason;
use super::string::Utf8Buf;
use super::value::{kind, value_len, ValueError};
use crate::schema::{DerivedKind, Schema, UnknownFields};
use crate::Error;

const NANOS_PER_DAY: i64 = 86_400_000_000_000;
const NANOS_PER_HOUR: i64 = 3_600_000_000_000;

/// Where a key of an object leads.
#[derive(Clone, Copy)]
enum Slot {
    /// A field's value: index into `Rows::columns`.
    Field(usize),
    /// A nested object some fields read from: index into `Rows::objects`.
    Object(usize),
}

/// The keys of one object level that fields read, with a guess of their order.
struct ObjectKeys {
    entries: Vec<(Box<str>, Slot)>,
    index: HashMap<Box<str>, usize, FixedState>,
    /// `order[i]`: the entry seen at position `i` of the previous record. Producers write
    /// keys in a stable order, so one string compare usually replaces a hash lookup.
    order: Vec<u32>,
    /// Dotted path of this object plus a dot (empty at the top level), for `_extra` keys.
    prefix: String,
}

impl ObjectKeys {
    fn new(prefix: String) -> Self {
        Self { entries: Vec::new(), index: HashMap::default(), order: Vec::new(), prefix }
    }

    fn insert(&mut self, key: &str, slot: Slot) {
        self.index.insert(key.into(), self.entries.len());
        self.entries.push((key.into(), slot));
    }

    #[inline]
    fn lookup(&mut self, position: usize, key: &str) -> Option<Slot> {
        if let Some(&e) = self.order.get(position) {
            if let Some((k, slot)) = self.entries.get(e as usize) {
                if same_key(k.as_bytes(), key.as_bytes()) {
                    return Some(*slot);
                }
            }
        }
        let e = *self.index.get(key)?;
        if position >= self.order.len() {
            self.order.resize(position + 1, u32::MAX);
        }
        self.order[position] = e as u32;
        Some(self.entries[e].1)
    }
}

/// Key equality without a `memcmp` call: JSON keys are short, so a few 8-byte loads
/// compare them faster than the library call does.
#[inline]
fn same_key(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    if n < 8 {
        return a == b;
    }
    let word = |s: &[u8], i: usize| u64::from_le_bytes(s[i..i + 8].try_into().expect("8 bytes"));
    let mut i = 0;
    while i + 8 < n {
        if word(a, i) != word(b, i) {
            return false;
        }
        i += 8;
    }
    word(a, n - 8) == word(b, n - 8)
}

/// Per-field facts the walker needs for messages and null handling.
struct FieldInfo {
    path: String,
    column: String,
    expected: String,
    is_text: bool,
}

/// The source coordinate columns (see `SOURCE_COLUMNS`).
pub(crate) struct Source {
    pub topic: String,
    pub partition: i32,
    /// Offset of the message being decoded.
    pub offset: i64,
    offsets: Vec<i64>,
    lines: Vec<u32>,
}

impl Source {
    pub(crate) fn new(topic: &str, partition: i32) -> Self {
        Self { topic: topic.to_string(), partition, offset: 0, offsets: Vec::new(), lines: Vec::new() }
    }

    fn finish(&mut self, rows: usize) -> [ArrayRef; 4] {
        [
            Arc::new(StringArray::from_iter_values(std::iter::repeat_n(&self.topic, rows))),
            Arc::new(Int32Array::from_value(self.partition, rows)),
            Arc::new(Int64Array::from(take_with_capacity(&mut self.offsets))),
            Arc::new(UInt32Array::from(take_with_capacity(&mut self.lines))),
        ]
    }
}

/// The columns of the batch being built, and the walk that fills them.
pub(crate) struct Rows {
    source: Option<Source>,
    schema: SchemaRef,
    derived: Vec<(usize, DerivedKind)>,
    columns: Vec<Box<dyn Column>>,
    info: Vec<FieldInfo>,
    objects: Vec<ObjectKeys>,
    /// `seen[c] == stamp` when column `c` got a value in the current record.
    seen: Vec<u32>,
    stamp: u32,
    extra: Option<Utf8Buf>,
    extra_pending: Vec<u8>,
    rows: usize,
    unknown_keys: u64,
}

impl Rows {
    pub(crate) fn new(schema: &Schema) -> Result<Self, Error> {
        let mut columns = Vec::with_capacity(schema.fields.len());
        let mut info = Vec::with_capacity(schema.fields.len());
        let mut objects = vec![ObjectKeys::new(String::new())];
        for (c, f) in schema.fields.iter().enumerate() {
            columns.push(make_column(f).map_err(|problem| Error::Invalid {
                origin: schema.origin.clone(),
                place: format!("field \"{}\"", f.name),
                problem: problem.to_string(),
                hint: "fix the default".into(),
            })?);
            info.push(FieldInfo { path: f.source_path(), column: f.name.clone(), expected: f.ty.to_string(), is_text: f.ty.is_text() });
            let (last, parents) = f.source.split_last().expect("validated: source is not empty");
            let mut obj = 0;
            for (depth, key) in parents.iter().enumerate() {
                obj = match objects[obj].index.get(key.as_str()).map(|&e| objects[obj].entries[e].1) {
                    Some(Slot::Object(o)) => o,
                    _ => {
                        let child = objects.len();
                        objects.push(ObjectKeys::new(format!("{}.", f.source[..=depth].join("."))));
                        objects[obj].insert(key, Slot::Object(child));
                        child
                    }
                };
            }
            objects[obj].insert(last, Slot::Field(c));
        }
        Ok(Self {
            source: None,
            schema: schema.arrow_schema(),
            derived: schema.derived.iter().map(|d| (d.from, d.kind)).collect(),
            seen: vec![0; columns.len()],
            columns,
            info,
            objects,
            stamp: 0,
            extra: (schema.unknown_fields == UnknownFields::Keep).then(Utf8Buf::new),
            extra_pending: Vec::new(),
            rows: 0,
            unknown_keys: 0,
        })
    }

    pub(crate) fn len(&self) -> usize {
        self.rows
    }

    /// Adds the source coordinate columns to every row from now on.
    pub(crate) fn set_source(&mut self, source: Source, schema: &Schema) {
        self.source = Some(source);
        self.schema = schema.arrow_schema_with_source();
    }

    pub(crate) fn source_mut(&mut self) -> Option<&mut Source> {
        self.source.as_mut()
    }

    pub(crate) fn unknown_keys(&self) -> u64 {
        self.unknown_keys
    }

    pub(crate) fn arrow_schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// Appends one parsed record (`tape[0]` is its top-level value) read from `line` of its
    /// message, or undoes whatever it appended and says why it was refused.
    pub(crate) fn push_record(&mut self, tape: &[Node<'_>], line: usize) -> Result<(), RejectReason> {
        self.stamp = self.stamp.wrapping_add(1);
        if self.stamp == 0 {
            self.seen.fill(0);
            self.stamp = 1;
        }
        self.extra_pending.clear();
        let result = match tape.first() {
            Some(Node::Object { len, .. }) => self.walk(0, tape, 1, *len).and_then(|_| self.fill_missing()),
            Some(other) => Err(RejectReason::NotAnObject { found: kind(other) }),
            None => Err(RejectReason::MalformedJson { detail: "empty input".into() }),
        };
        match result {
            Ok(()) => {
                self.push_extra();
                if let Some(src) = &mut self.source {
                    src.offsets.push(src.offset);
                    src.lines.push(u32::try_from(line).unwrap_or(u32::MAX));
                }
                self.rows += 1;
                Ok(())
            }
            Err(reason) => {
                for col in &mut self.columns {
                    col.truncate(self.rows);
                }
                Err(reason)
            }
        }
    }

    /// Walks the `len` keys of an object whose first key is at `tape[pos]`; returns the
    /// position after the object.
    fn walk(&mut self, obj: usize, tape: &[Node<'_>], mut pos: usize, len: usize) -> Result<usize, RejectReason> {
        for i in 0..len {
            let Node::String(key) = tape[pos] else {
                return Err(RejectReason::MalformedJson { detail: "object key is not a string".into() });
            };
            let value = &tape[pos + 1..];
            let n = value_len(value);
            match self.objects[obj].lookup(i, key) {
                Some(Slot::Field(c)) => self.push_field(c, &value[..n])?,
                Some(Slot::Object(child)) => match value[0] {
                    Node::Object { len, .. } => {
                        self.walk(child, tape, pos + 2, len)?;
                    }
                    // A null or "" parent means its children are missing.
                    Node::Static(simd_json::StaticNode::Null) | Node::String("") => {}
                    _ => {
                        return Err(RejectReason::InvalidValue {
                            path: format!("{}{key}", self.objects[obj].prefix),
                            column: "(parent of nested fields)".into(),
                            expected: "object".into(),
                            found: super::value::describe(&value[0]),
                            kind: "wrong_type",
                        })
                    }
                },
                None => self.unknown(obj, key, &value[..n]),
            }
            pos += 1 + n;
        }
        Ok(pos)
    }

    #[inline]
    fn push_field(&mut self, c: usize, value: &[Node<'_>]) -> Result<(), RejectReason> {
        if self.seen[c] == self.stamp {
            return Err(RejectReason::DuplicateKey { path: self.info[c].path.clone() });
        }
        self.seen[c] = self.stamp;
        push_value(self.columns[c].as_mut(), value, self.info[c].is_text).map_err(|e| self.value_error(c, e))
    }

    fn fill_missing(&mut self) -> Result<(), RejectReason> {
        for c in 0..self.columns.len() {
            if self.seen[c] != self.stamp {
                self.columns[c].push_null().map_err(|e| self.value_error(c, e))?;
            }
        }
        Ok(())
    }

    fn value_error(&self, c: usize, e: ValueError) -> RejectReason {
        let info = &self.info[c];
        let (path, column, expected) = (info.path.clone(), info.column.clone(), info.expected.clone());
        let (kind, found) = match e {
            ValueError::Missing => return RejectReason::MissingField { path, column },
            ValueError::WrongType { found } => ("wrong_type", found),
            ValueError::OutOfRange { found } => ("out_of_range", format!("{found}, out of range")),
            ValueError::Invalid { found, why } => ("invalid_value", format!("{found}: {why}")),
        };
        RejectReason::InvalidValue { path, column, expected, found: format!("found {found}"), kind }
    }

    fn unknown(&mut self, obj: usize, key: &str, value: &[Node<'_>]) {
        self.unknown_keys += 1;
        if self.extra.is_some() {
            let out = &mut self.extra_pending;
            out.push(if out.is_empty() { b'{' } else { b',' });
            let prefix = &self.objects[obj].prefix;
            if prefix.is_empty() {
                write_str(key, out);
            } else {
                write_str(&format!("{prefix}{key}"), out);
            }
            out.push(b':');
            write_value(value, out);
        }
    }

    fn push_extra(&mut self) {
        if let Some(extra) = &mut self.extra {
            if self.extra_pending.is_empty() {
                extra.push_null();
            } else {
                extra.data().extend_from_slice(&self.extra_pending);
                extra.data().push(b'}');
                extra.commit();
            }
        }
    }

    /// Takes the rows appended so far as a record batch.
    pub(crate) fn finish(&mut self) -> RecordBatch {
        let mut arrays: Vec<ArrayRef> = self.columns.iter_mut().map(|c| c.finish()).collect();
        for &(from, kind) in &self.derived {
            let ts = arrays[from].as_any().downcast_ref::<TimestampNanosecondArray>().expect("validated: derived from a timestamp");
            let array: ArrayRef = match kind {
                DerivedKind::Date => Arc::new(ts.unary::<_, Date32Type>(|t| t.div_euclid(NANOS_PER_DAY) as i32)),
                DerivedKind::Hour => Arc::new(ts.unary::<_, UInt8Type>(|t| (t.rem_euclid(NANOS_PER_DAY) / NANOS_PER_HOUR) as u8)),
            };
            arrays.push(array);
        }
        if let Some(extra) = &mut self.extra {
            arrays.push(Arc::new(extra.finish()));
        }
        if let Some(src) = &mut self.source {
            arrays.extend(src.finish(self.rows));
        }
        let rows = std::mem::take(&mut self.rows);
        let options = RecordBatchOptions::new().with_row_count(Some(rows));
        RecordBatch::try_new_with_options(self.schema.clone(), arrays, &options).expect("columns match the schema they were built from")
    }
}
