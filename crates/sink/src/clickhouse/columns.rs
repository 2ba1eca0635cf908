//! A table's real columns, as the server reports them in `system.columns`, and their type
//! strings parsed into the few shapes the Native encoder distinguishes.

/// One column of a ClickHouse table, as `system.columns` reports it (one JSONEachRow line
/// of `SELECT name, type, default_kind FROM system.columns` reads into it).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct TableColumn {
    /// Column name.
    pub name: String,
    /// Type as the server spells it, e.g. `LowCardinality(Nullable(String))`.
    #[serde(rename = "type")]
    pub type_name: String,
    /// `DEFAULT`, `MATERIALIZED`, `ALIAS`, `EPHEMERAL`, or empty when the column has no
    /// default expression.
    pub default_kind: String,
}

impl TableColumn {
    /// Whether the server fills the column from an expression when an insert omits it.
    pub fn has_default(&self) -> bool {
        !self.default_kind.is_empty()
    }

    /// Whether an insert may name the column (`MATERIALIZED` and `ALIAS` columns are computed).
    pub fn insertable(&self) -> bool {
        !matches!(self.default_kind.as_str(), "MATERIALIZED" | "ALIAS")
    }
}

/// A ClickHouse data type, as far as the Native encoder needs to know it. Time zones are
/// left out: `DateTime` and `DateTime64` values are instants since the epoch whatever the
/// zone, which only changes how they print.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ChType {
    Int8,
    Int16,
    Int32,
    Int64,
    UInt8,
    UInt16,
    UInt32,
    UInt64,
    Float32,
    Float64,
    Bool,
    String,
    FixedString(usize),
    Date,
    Date32,
    DateTime,
    /// Ticks of 10^-precision seconds, precision 0–9.
    DateTime64(u32),
    Ipv4,
    Ipv6,
    Uuid,
    Nullable(Box<ChType>),
    LowCardinality(Box<ChType>),
    Array(Box<ChType>),
    Map(Box<ChType>, Box<ChType>),
    /// Any other type (Decimal, Enum8, Tuple, …): the encoder cannot fill such a column.
    Other(String),
}

impl ChType {
    /// Parses a type string as `system.columns` spells it. Never fails: what it does not
    /// know becomes [`ChType::Other`].
    pub(crate) fn parse(text: &str) -> Self {
        let text = text.trim();
        let (name, args) = match (text.find('('), text.strip_suffix(')')) {
            (Some(open), Some(inner)) if open < inner.len() => (&text[..open], split_args(&inner[open + 1..])),
            _ => (text, Vec::new()),
        };
        let one = |wrap: fn(Box<ChType>) -> ChType| match args.as_slice() {
            [inner] => wrap(Box::new(Self::parse(inner))),
            _ => Self::Other(text.to_string()),
        };
        match (name, args.len()) {
            ("Nullable", _) => one(Self::Nullable),
            ("LowCardinality", _) => one(Self::LowCardinality),
            ("Array", _) => one(Self::Array),
            ("Map", 2) => Self::Map(Box::new(Self::parse(args[0])), Box::new(Self::parse(args[1]))),
            ("FixedString", 1) => args[0].trim().parse().map_or_else(|_| Self::Other(text.to_string()), Self::FixedString),
            ("DateTime", 0 | 1) => Self::DateTime,
            ("DateTime64", 1 | 2) => match args[0].trim().parse() {
                Ok(p) if p <= 9 => Self::DateTime64(p),
                _ => Self::Other(text.to_string()),
            },
            (_, 0) => match name {
                "Int8" => Self::Int8,
                "Int16" => Self::Int16,
                "Int32" => Self::Int32,
                "Int64" => Self::Int64,
                "UInt8" => Self::UInt8,
                "UInt16" => Self::UInt16,
                "UInt32" => Self::UInt32,
                "UInt64" => Self::UInt64,
                "Float32" => Self::Float32,
                "Float64" => Self::Float64,
                "Bool" => Self::Bool,
                "String" => Self::String,
                "Date" => Self::Date,
                "Date32" => Self::Date32,
                "IPv4" => Self::Ipv4,
                "IPv6" => Self::Ipv6,
                "UUID" => Self::Uuid,
                _ => Self::Other(text.to_string()),
            },
            _ => Self::Other(text.to_string()),
        }
    }
}

/// Splits type arguments at the commas outside parentheses and quotes: `String, Array(UInt8)`
/// → [`String`, `Array(UInt8)`]. Arguments are trimmed; an empty list gives no argument.
fn split_args(args: &str) -> Vec<&str> {
    let (mut parts, mut depth, mut quoted, mut escaped, mut start) = (Vec::new(), 0usize, false, false, 0);
    for (i, c) in args.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '\'' => quoted = !quoted,
            '(' if !quoted => depth += 1,
            ')' if !quoted => depth = depth.saturating_sub(1),
            ',' if !quoted && depth == 0 => {
                parts.push(args[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    let last = args[start..].trim();
    if !(parts.is_empty() && last.is_empty()) {
        parts.push(last);
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::ChType::*;
    use super::*;

    #[test]
    fn parses_what_servers_report() {
        let p = ChType::parse;
        assert_eq!(p("UInt64"), UInt64);
        assert_eq!(p("DateTime('UTC')"), DateTime);
        assert_eq!(p("DateTime"), DateTime);
        assert_eq!(p("DateTime64(9, 'UTC')"), DateTime64(9));
        assert_eq!(p("DateTime64(3)"), DateTime64(3));
        assert_eq!(p("FixedString(16)"), FixedString(16));
        assert_eq!(p("LowCardinality(Nullable(String))"), LowCardinality(Box::new(Nullable(Box::new(String)))));
        assert_eq!(p("Array(Nullable(IPv6))"), Array(Box::new(Nullable(Box::new(Ipv6)))));
        assert_eq!(p("Map(LowCardinality(String), Array(UInt8))"), Map(Box::new(LowCardinality(Box::new(String))), Box::new(Array(Box::new(UInt8)))));
        assert_eq!(p("Nullable(DateTime('Europe/Paris, odd\\'zone'))"), Nullable(Box::new(DateTime)));
    }

    #[test]
    fn unknown_or_malformed_types_are_other() {
        for t in ["Decimal(18, 4)", "Enum8('a' = 1, 'b' = 2)", "DateTime64(12)", "FixedString(x)", "Map(String)", "Nullable()", "UInt8(3)", "Tuple(a UInt8)"] {
            assert_eq!(ChType::parse(t), Other(t.to_string()), "{t}");
        }
        assert_eq!(ChType::parse("Array(Decimal(9, 2))"), Array(Box::new(Other("Decimal(9, 2)".into()))));
    }

    /// Every prefix and suffix of real type strings (what a cut answer would give) parses
    /// without a panic.
    #[test]
    fn split_at_every_byte_never_panics() {
        let t = "Map(LowCardinality(String), Array(Nullable(DateTime64(9, 'Asia/Ho_Chi_Minh,\\')'))))";
        for i in 0..=t.len() {
            ChType::parse(&t[..i]);
            ChType::parse(&t[i..]);
        }
    }

    #[test]
    fn materialized_columns_cannot_be_inserted() {
        let c = |kind: &str| TableColumn { name: "c".into(), type_name: "UInt8".into(), default_kind: kind.into() };
        assert!(c("").insertable() && !c("").has_default());
        assert!(c("DEFAULT").insertable() && c("DEFAULT").has_default());
        assert!(!c("MATERIALIZED").insertable() && !c("ALIAS").insertable());
    }
}
