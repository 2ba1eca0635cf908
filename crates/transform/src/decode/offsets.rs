//! Offsets and validity shared by the variable-length columns (`list`, `map`).

use arrow_buffer::{NullBuffer, NullBufferBuilder, OffsetBuffer, ScalarBuffer};

use super::column::take_offsets;
use super::value::ValueError;

/// Row `i` of a list or map column spans child entries `offsets[i]..offsets[i + 1]`.
pub(crate) struct Offsets {
    offsets: Vec<i32>,
    nulls: NullBufferBuilder,
    nullable: bool,
}

impl Offsets {
    pub(crate) fn new(nullable: bool) -> Self {
        Self { offsets: vec![0], nulls: NullBufferBuilder::new(0), nullable }
    }

    /// Ends a row whose children end at `child_len`.
    pub(crate) fn push_valid(&mut self, child_len: usize) {
        // Batches are cut long before 2^31 children (see `Decoder`), so this cannot wrap.
        self.offsets.push(child_len as i32);
        self.nulls.append_non_null();
    }

    /// Appends a null row, or `Err(Missing)` when the column holds no nulls.
    pub(crate) fn push_null(&mut self) -> Result<(), ValueError> {
        if !self.nullable {
            return Err(ValueError::Missing);
        }
        let last = *self.offsets.last().unwrap_or(&0);
        self.offsets.push(last);
        self.nulls.append_null();
        Ok(())
    }

    pub(crate) fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    /// Drops rows past `len`; returns how many children the remaining rows keep, for the
    /// caller to truncate its children to, or `None` when nothing was dropped.
    pub(crate) fn truncate(&mut self, len: usize) -> Option<usize> {
        if len >= self.len() {
            return None;
        }
        self.offsets.truncate(len + 1);
        self.nulls.truncate(len);
        Some(self.offsets[len] as usize)
    }

    pub(crate) fn finish(&mut self) -> (OffsetBuffer<i32>, Option<NullBuffer>) {
        let offsets = take_offsets(&mut self.offsets);
        // SAFETY: offsets start at 0 and never decrease (each row ends at or after the last).
        (unsafe { OffsetBuffer::new_unchecked(ScalarBuffer::from(offsets)) }, self.nulls.finish())
    }
}
