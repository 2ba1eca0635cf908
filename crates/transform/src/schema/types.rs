//! Logical types of the schema language and their Arrow types.

use std::fmt;
use std::sync::Arc;

use arrow_schema::{DataType, Field as ArrowField, Fields, TimeUnit};

/// The type of a field, as written in a schema file (`type = "list<uint32>"`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LogicalType {
    /// UTF-8 text.
    String,
    /// `true` / `false`.
    Bool,
    /// Signed 8-bit integer.
    Int8,
    /// Signed 16-bit integer.
    Int16,
    /// Signed 32-bit integer.
    Int32,
    /// Signed 64-bit integer.
    Int64,
    /// Unsigned 8-bit integer.
    UInt8,
    /// Unsigned 16-bit integer.
    UInt16,
    /// Unsigned 32-bit integer.
    UInt32,
    /// Unsigned 64-bit integer.
    UInt64,
    /// 32-bit float.
    Float32,
    /// 64-bit float.
    Float64,
    /// An instant, stored as nanoseconds since the epoch, UTC.
    Timestamp,
    /// A calendar date.
    Date,
    /// An IPv4 or IPv6 address, stored as canonical text.
    Ip,
    /// Any JSON value, stored as its JSON text.
    Json,
    /// A list of a scalar type.
    List(Box<LogicalType>),
    /// An object of string values.
    Map,
}

/// The Arrow timezone of every timestamp column.
pub const UTC: &str = "UTC";

impl LogicalType {
    /// Parses the spelling used in schema files, e.g. `uint16` or `list<ip>`.
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        if let Some(inner) = s.strip_prefix("list<").and_then(|r| r.strip_suffix('>')) {
            let item = Self::parse(inner)?;
            return item.is_scalar().then(|| Self::List(Box::new(item)));
        }
        if let Some(inner) = s.strip_prefix("map<").and_then(|r| r.strip_suffix('>')) {
            let (k, v) = inner.split_once(',')?;
            return (k.trim() == "string" && v.trim() == "string").then_some(Self::Map);
        }
        Some(match s {
            "string" => Self::String,
            "bool" => Self::Bool,
            "int8" => Self::Int8,
            "int16" => Self::Int16,
            "int32" => Self::Int32,
            "int64" => Self::Int64,
            "uint8" => Self::UInt8,
            "uint16" => Self::UInt16,
            "uint32" => Self::UInt32,
            "uint64" => Self::UInt64,
            "float32" => Self::Float32,
            "float64" => Self::Float64,
            "timestamp" => Self::Timestamp,
            "date" => Self::Date,
            "ip" => Self::Ip,
            "json" => Self::Json,
            _ => return None,
        })
    }

    /// Whether it is a signed or unsigned integer.
    pub fn is_integer(&self) -> bool {
        matches!(self, Self::Int8 | Self::Int16 | Self::Int32 | Self::Int64 | Self::UInt8 | Self::UInt16 | Self::UInt32 | Self::UInt64)
    }

    /// Whether values of this type are single values (not lists or maps).
    pub fn is_scalar(&self) -> bool {
        !matches!(self, Self::List(_) | Self::Map)
    }

    /// Whether this type stores text (an empty string is then a value, not a null).
    pub fn is_text(&self) -> bool {
        matches!(self, Self::String)
    }

    /// The Arrow type of a column of this type.
    pub fn arrow_type(&self) -> DataType {
        match self {
            Self::String | Self::Ip | Self::Json => DataType::Utf8,
            Self::Bool => DataType::Boolean,
            Self::Int8 => DataType::Int8,
            Self::Int16 => DataType::Int16,
            Self::Int32 => DataType::Int32,
            Self::Int64 => DataType::Int64,
            Self::UInt8 => DataType::UInt8,
            Self::UInt16 => DataType::UInt16,
            Self::UInt32 => DataType::UInt32,
            Self::UInt64 => DataType::UInt64,
            Self::Float32 => DataType::Float32,
            Self::Float64 => DataType::Float64,
            Self::Timestamp => DataType::Timestamp(TimeUnit::Nanosecond, Some(UTC.into())),
            Self::Date => DataType::Date32,
            Self::List(item) => DataType::List(Arc::new(ArrowField::new(
                "item",
                item.arrow_type(),
                false,
            ))),
            Self::Map => DataType::Map(Arc::new(map_entries_field()), false),
        }
    }
}

/// The `entries` struct field of a `map<string,string>` column.
pub(crate) fn map_entries_field() -> ArrowField {
    ArrowField::new(
        "entries",
        DataType::Struct(Fields::from(vec![
            ArrowField::new("keys", DataType::Utf8, false),
            ArrowField::new("values", DataType::Utf8, false),
        ])),
        false,
    )
}

impl fmt::Display for LogicalType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            Self::List(item) => return write!(f, "list<{item}>"),
            Self::Map => "map<string,string>",
            Self::String => "string",
            Self::Bool => "bool",
            Self::Int8 => "int8",
            Self::Int16 => "int16",
            Self::Int32 => "int32",
            Self::Int64 => "int64",
            Self::UInt8 => "uint8",
            Self::UInt16 => "uint16",
            Self::UInt32 => "uint32",
            Self::UInt64 => "uint64",
            Self::Float32 => "float32",
            Self::Float64 => "float64",
            Self::Timestamp => "timestamp",
            Self::Date => "date",
            Self::Ip => "ip",
            Self::Json => "json",
        };
        f.write_str(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spelling_round_trips() {
        for s in [
            "string", "bool", "int8", "uint64", "float32", "timestamp", "date", "ip", "json",
            "list<uint32>", "list<ip>", "map<string,string>",
        ] {
            assert_eq!(LogicalType::parse(s).unwrap().to_string(), s);
        }
        assert_eq!(LogicalType::parse("map<string, string>"), Some(LogicalType::Map));
    }

    #[test]
    fn rejects_unknown_and_nested_containers() {
        for s in ["str", "list<list<int8>>", "list<map<string,string>>", "map<string,int8>", "list<>"] {
            assert_eq!(LogicalType::parse(s), None, "{s}");
        }
    }
}
