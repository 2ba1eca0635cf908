//! Where a lake file goes: `<root>/<dataset>/<col>=<value>/…/<topic>-<partition>-<first>-<last>-pNNN.parquet`.

use std::fmt::Write as _;

use object_store::path::{Path, PathPart};

use crate::BatchId;

/// Hive's directory value for a null (or empty) partition value.
pub(crate) const NULL_PARTITION: &str = "__HIVE_DEFAULT_PARTITION__";

/// Escapes `value` for one path segment the way Hive does (`FileUtils.escapePathName`):
/// `%XX` (uppercase hex of the UTF-8 bytes) for control characters and
/// `"` `#` `%` `'` `*` `/` `:` `=` `?` `\` `{` `[` `]` `^`, plus `}` `<` `>` `|` `~` and `` ` ``,
/// which object stores advise against. A value that is exactly `.` or `..` becomes `%2E` /
/// `%2E%2E`, and the literal `__HIVE_DEFAULT_PARTITION__` gets its first `_` escaped so that
/// it does not read back as null. Every reader that decodes Hive paths (Hive, Spark, Trino,
/// DuckDB, pyarrow) turns the result back into `value`.
pub(crate) fn escape(value: &str) -> String {
    if value == "." || value == ".." {
        return value.replace('.', "%2E");
    }
    let mut out = String::with_capacity(value.len());
    for (i, c) in value.char_indices() {
        let reserved = i == 0 && value == NULL_PARTITION;
        if reserved || c.is_control() || "\"#%'*/:=?\\{}[]^<>|~`".contains(c) {
            let mut utf8 = [0; 4];
            for b in c.encode_utf8(&mut utf8).bytes() {
                let _ = write!(out, "%{b:02X}");
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The directory segment `column=value` of a partition value; null and the empty string
/// both become `column=__HIVE_DEFAULT_PARTITION__`, as in Hive and Spark.
pub(crate) fn partition_segment(column: &str, value: Option<&str>) -> String {
    match value {
        None | Some("") => format!("{column}={NULL_PARTITION}"),
        Some(v) => format!("{column}={}", escape(v)),
    }
}

/// The object holding part `part` of the rows of batch `id` in partition directory
/// `segments` under `root`: `<root>/<segments…>/<escaped topic>-<partition>-<first>-<last>-pNNN.parquet`.
/// The same batch always maps to the same names.
pub(crate) fn object_path(root: &Path, segments: &[String], id: &BatchId, part: usize) -> Path {
    let token = BatchId { topic: escape(&id.topic), ..id.clone() }.token();
    let file = format!("{token}-p{part:03}.parquet");
    segments.iter().chain([&file]).fold(root.clone(), |path, segment| {
        path.child(PathPart::parse(segment).expect("escaped segments hold no `/`, control character, `.` or `..`"))
    })
}
