//! Why a record was refused, with its raw bytes.

use std::fmt;

/// A record (or a whole message) the decoder refused, kept for the dead-letter output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reject {
    /// 1-based line of the record within the (decompressed) message; 0 when the whole
    /// message was refused before it could be split into records.
    pub line: usize,
    /// Why.
    pub reason: RejectReason,
    /// The record's bytes as received (after decompression), or the whole message.
    pub raw: Vec<u8>,
}

/// Why a record was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RejectReason {
    /// The message looked compressed (by its magic bytes) but did not decompress.
    Decompress {
        /// `gzip` or `zstd`.
        format: &'static str,
        /// What the decompressor said.
        detail: String,
    },
    /// A record, or a decompressed message, is larger than the limit.
    TooLarge {
        /// Its size in bytes (for a message: at least this).
        bytes: usize,
        /// The limit in bytes.
        limit: usize,
    },
    /// The bytes are not valid UTF-8.
    InvalidUtf8 {
        /// Where, as the parser reports it.
        detail: String,
    },
    /// The bytes are not one complete JSON value.
    MalformedJson {
        /// What the parser said, with the byte offset.
        detail: String,
    },
    /// The record is JSON but not an object.
    NotAnObject {
        /// The JSON kind found.
        found: &'static str,
    },
    /// A key appears twice in one object.
    DuplicateKey {
        /// The key's path, e.g. `QueryName`.
        path: String,
    },
    /// A required field is missing, null or empty.
    MissingField {
        /// The field's source path.
        path: String,
        /// The output column.
        column: String,
    },
    /// A value does not fit its field: wrong JSON type, out of range or invalid.
    InvalidValue {
        /// The field's source path.
        path: String,
        /// The output column.
        column: String,
        /// The expected logical type.
        expected: String,
        /// What was found and why it does not fit.
        found: String,
        /// `wrong_type`, `out_of_range` or `invalid_value`.
        kind: &'static str,
    },
}

impl RejectReason {
    /// A stable snake_case label for metrics and summaries, e.g. `malformed_json`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Decompress { .. } => "decompress",
            Self::TooLarge { .. } => "too_large",
            Self::InvalidUtf8 { .. } => "invalid_utf8",
            Self::MalformedJson { .. } => "malformed_json",
            Self::NotAnObject { .. } => "not_an_object",
            Self::DuplicateKey { .. } => "duplicate_key",
            Self::MissingField { .. } => "missing_field",
            Self::InvalidValue { kind, .. } => kind,
        }
    }
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Decompress { format, detail } => write!(f, "message starts like {format} but does not decompress: {detail}"),
            Self::TooLarge { bytes, limit } => write!(f, "{bytes} bytes exceed the limit of {limit} bytes"),
            Self::InvalidUtf8 { detail } => write!(f, "invalid UTF-8: {detail}"),
            Self::MalformedJson { detail } => write!(f, "malformed JSON: {detail}"),
            Self::NotAnObject { found } => write!(f, "expected a JSON object, found {found}"),
            Self::DuplicateKey { path } => write!(f, "key `{path}` appears twice"),
            Self::MissingField { path, column } => write!(f, "required field `{path}` (column {column}) is missing, null or empty"),
            Self::InvalidValue { path, column, expected, found, .. } => {
                write!(f, "field `{path}` (column {column}): expected {expected}, {found}")
            }
        }
    }
}

impl fmt::Display for Reject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "message: {}", self.reason)
        } else {
            write!(f, "line {}: {}", self.line, self.reason)
        }
    }
}
