//! Where a lake file goes: `<root>/<dataset>/<col>=<value>/…/<topic>-<partition>-<first>-<last>-pNNN.parquet`.

use std::fmt::Write as _;

use object_store::path::{Path, PathPart};

use crate::BatchId;

/// Hive's directory value for a null (or empty) partition value.
pub(crate) const NULL_PARTITION: &str = "__HIVE_DEFAULT_PARTITION__";

/// Escapes `value` for one path segment the way Hive does (`FileUtils.escapePathName`):
/// `%XX` (uppercase hex of the UTF-8 bytes) for control characters and
/// `"` `#` `%` `'` `*` `/` `:` `=` `?` `\` `{` `[` `]` `^`, plus `}` `<` `>` `|` `~` and `` ` ``,
/// which object stores advise against; every dot of a value that is `.` or `..`; and a
/// leading `.` or `_`, because Hadoop-style listings (Hive, Spark, pyarrow) skip names that
/// start with them (this also keeps a literal `__HIVE_DEFAULT_PARTITION__` from reading
/// back as null). Readers that decode Hive paths turn the result back into `value`.
pub(crate) fn escape(value: &str) -> String {
    let dots = value == "." || value == "..";
    let mut out = String::with_capacity(value.len());
    for (i, c) in value.char_indices() {
        let hidden = i == 0 && matches!(c, '.' | '_');
        if dots || hidden || c.is_control() || "\"#%'*/:=?\\{}[]^<>|~`".contains(c) {
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
        path.join(PathPart::parse(segment).expect("escaped segments hold no `/`, control character, `.` or `..`"))
    })
}
