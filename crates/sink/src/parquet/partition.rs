//! Splitting a batch's rows by Hive partition, and row sets into files and encoder slices.

use std::collections::BTreeMap;
use std::ops::Range;

use arrow::array::{ArrayRef, RecordBatch, UInt64Array};
use arrow::compute::{partition, take_record_batch};
use arrow::datatypes::DataType;
use arrow::error::ArrowError;
use arrow::util::display::{ArrayFormatter, FormatOptions};

use super::layout::partition_segment;

/// Rows of a batch, as ranges in batch order.
pub(super) type Rows = Vec<Range<usize>>;

/// Whether a column of this type can be a Hive partition column.
pub(super) fn partitionable(ty: &DataType) -> bool {
    ty.is_integer() || matches!(ty, DataType::Utf8 | DataType::Boolean | DataType::Date32)
}

/// The rows of `batch` by partition directory (its `column=value` segments, for the columns
/// at `columns`), sorted by directory. Runs of equal values are found with arrow's
/// `partition` kernel, so rows keep their order and time-ordered input gives few ranges.
/// Rows are grouped by directory, not by value: values that escape to the same directory
/// (null and `""`) share a file.
pub(super) fn group_rows(batch: &RecordBatch, columns: &[(usize, String)]) -> Result<Vec<(Vec<String>, Rows)>, ArrowError> {
    if columns.is_empty() {
        return Ok(vec![(Vec::new(), std::iter::once(0..batch.num_rows()).collect())]);
    }
    let arrays: Vec<ArrayRef> = columns.iter().map(|(i, _)| batch.column(*i).clone()).collect();
    let options = FormatOptions::default();
    let formatters = arrays.iter().map(|a| ArrayFormatter::try_new(a.as_ref(), &options)).collect::<Result<Vec<_>, _>>()?;
    let mut groups: BTreeMap<Vec<String>, Rows> = BTreeMap::new();
    for range in partition(&arrays)?.ranges() {
        let segments = columns
            .iter()
            .zip(&arrays)
            .zip(&formatters)
            .map(|(((_, name), array), format)| {
                let value = array.is_valid(range.start).then(|| format.value(range.start).to_string());
                partition_segment(name, value.as_deref())
            })
            .collect();
        let rows = groups.entry(segments).or_default();
        match rows.last_mut() {
            Some(last) if last.end == range.start => last.end = range.end,
            _ => rows.push(range),
        }
    }
    Ok(groups.into_iter().collect())
}

/// `rows` cut, in order, into sets of at most `max` rows.
pub(super) fn split(rows: &[Range<usize>], max: usize) -> Vec<Rows> {
    let mut out = Vec::new();
    let mut current = Rows::new();
    let mut len = 0;
    for range in rows {
        let mut start = range.start;
        while start < range.end {
            let end = range.end.min(start + (max - len));
            current.push(start..end);
            len += end - start;
            start = end;
            if len == max {
                out.push(std::mem::take(&mut current));
                len = 0;
            }
        }
    }
    if len > 0 {
        out.push(current);
    }
    out
}

/// The `rows` of `batch` as one batch: a zero-copy slice when they are one range, else a copy.
pub(super) fn gather(batch: &RecordBatch, rows: &[Range<usize>]) -> Result<RecordBatch, ArrowError> {
    if let [range] = rows {
        return Ok(batch.slice(range.start, range.len()));
    }
    let indices: UInt64Array = rows.iter().flat_map(|r| r.clone().map(|i| i as u64)).collect();
    take_record_batch(batch, &indices)
}

/// Number of rows in `rows`.
pub(super) fn count(rows: &[Range<usize>]) -> usize {
    rows.iter().map(Range::len).sum()
}
