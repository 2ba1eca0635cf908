//! Text columns: `string`, `ip` (canonical address text) and `json` (a value's JSON text).

use std::io::Write as _;
use std::net::IpAddr;
use std::sync::Arc;

use arrow_array::{ArrayRef, StringArray};
use arrow_buffer::{NullBufferBuilder, OffsetBuffer, ScalarBuffer};
use simd_json::Node;

use super::column::{take_offsets, take_with_capacity, Column, NullPolicy};
use super::json_text::write_value;
use super::value::ValueError;

/// The buffers of a UTF-8 array: offsets, bytes and validity.
pub(crate) struct Utf8Buf {
    offsets: Vec<i32>,
    data: Vec<u8>,
    nulls: NullBufferBuilder,
}

impl Utf8Buf {
    pub(crate) fn new() -> Self {
        Self { offsets: vec![0], data: Vec::new(), nulls: NullBufferBuilder::new(0) }
    }

    /// The byte buffer, to append one value's text directly; close it with `commit`.
    pub(crate) fn data(&mut self) -> &mut Vec<u8> {
        &mut self.data
    }

    /// Ends the value whose bytes were appended to `data()`.
    pub(crate) fn commit(&mut self) {
        // Batches are cut long before 2 GiB of text (see `Decoder`), so this cannot wrap.
        self.offsets.push(self.data.len() as i32);
        self.nulls.append_non_null();
    }

    pub(crate) fn push_str(&mut self, s: &str) {
        self.data.extend_from_slice(s.as_bytes());
        self.commit();
    }

    pub(crate) fn push_null(&mut self) {
        self.offsets.push(self.data.len() as i32);
        self.nulls.append_null();
    }

    pub(crate) fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    pub(crate) fn truncate(&mut self, len: usize) {
        if len < self.len() {
            self.offsets.truncate(len + 1);
            self.data.truncate(self.offsets[len] as usize);
            self.nulls.truncate(len);
        }
    }

    pub(crate) fn finish(&mut self) -> StringArray {
        let offsets = take_offsets(&mut self.offsets);
        let data = take_with_capacity(&mut self.data);
        // SAFETY: offsets start at 0, never decrease and end at data.len(); every value
        // appended is a whole `&str` or JSON text we wrote, so each slice is valid UTF-8.
        unsafe {
            StringArray::new_unchecked(
                OffsetBuffer::new_unchecked(ScalarBuffer::from(offsets)),
                data.into(),
                self.nulls.finish(),
            )
        }
    }
}

/// Implements the `Column` methods that only delegate to the inner `Utf8Buf`.
macro_rules! utf8_column_common {
    () => {
        fn push_null(&mut self) -> Result<(), ValueError> {
            if !self.policy.nullable {
                return Err(ValueError::Missing);
            }
            self.buf.push_null();
            Ok(())
        }
        fn len(&self) -> usize {
            self.buf.len()
        }
        fn truncate(&mut self, len: usize) {
            self.buf.truncate(len)
        }
        fn finish(&mut self) -> ArrayRef {
            Arc::new(self.buf.finish())
        }
    };
}

/// A `string` column, with optional trimming and lowercasing.
pub(crate) struct StringColumn {
    buf: Utf8Buf,
    policy: NullPolicy,
    trim: bool,
    lowercase: bool,
}

impl StringColumn {
    pub(crate) fn new(policy: NullPolicy, trim: bool, lowercase: bool) -> Self {
        Self { buf: Utf8Buf::new(), policy, trim, lowercase }
    }
}

impl Column for StringColumn {
    #[inline]
    fn push(&mut self, value: &[Node<'_>]) -> Result<(), ValueError> {
        match value[0] {
            Node::String(s) => {
                let s = if self.trim { s.trim() } else { s };
                if self.lowercase && s.bytes().any(|b| b.is_ascii_uppercase() || b >= 0x80) {
                    self.buf.push_str(&s.to_lowercase());
                } else {
                    self.buf.push_str(s);
                }
                Ok(())
            }
            Node::Static(_) if self.policy.lenient => {
                write_value(value, self.buf.data());
                self.buf.commit();
                Ok(())
            }
            _ => Err(ValueError::wrong_type(&value[0])),
        }
    }
    utf8_column_common!();
}

/// An `ip` column: IPv4 or IPv6 text, stored canonical (RFC 5952; IPv4-mapped IPv6 as IPv4).
pub(crate) struct IpColumn {
    buf: Utf8Buf,
    policy: NullPolicy,
}

impl IpColumn {
    pub(crate) fn new(policy: NullPolicy) -> Self {
        Self { buf: Utf8Buf::new(), policy }
    }
}

impl Column for IpColumn {
    #[inline]
    fn push(&mut self, value: &[Node<'_>]) -> Result<(), ValueError> {
        let Node::String(s) = value[0] else {
            return Err(ValueError::wrong_type(&value[0]));
        };
        match s.parse::<IpAddr>() {
            // std accepts only canonical dotted quads (no leading zeros): keep the text.
            Ok(IpAddr::V4(_)) => self.buf.push_str(s),
            Ok(IpAddr::V6(v6)) => {
                match v6.to_ipv4_mapped() {
                    Some(v4) => write!(self.buf.data(), "{v4}"),
                    None => write!(self.buf.data(), "{v6}"),
                }
                .map_err(|e| ValueError::invalid(&value[0], e.to_string()))?;
                self.buf.commit();
            }
            Err(_) => return Err(ValueError::invalid(&value[0], "not an IPv4 or IPv6 address")),
        }
        Ok(())
    }
    utf8_column_common!();
}

/// A `json` column: any value, stored as compact JSON text.
pub(crate) struct JsonColumn {
    buf: Utf8Buf,
    policy: NullPolicy,
}

impl JsonColumn {
    pub(crate) fn new(policy: NullPolicy) -> Self {
        Self { buf: Utf8Buf::new(), policy }
    }
}

impl Column for JsonColumn {
    fn push(&mut self, value: &[Node<'_>]) -> Result<(), ValueError> {
        write_value(value, self.buf.data());
        self.buf.commit();
        Ok(())
    }
    utf8_column_common!();
}
