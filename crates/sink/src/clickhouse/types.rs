//! Logical type → ClickHouse column type, for modern servers and for 18.x.

use transform::LogicalType;

/// Which ClickHouse type system to target (a server's: [`ServerVersion::dialect`](super::ServerVersion::dialect)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Dialect {
    /// ClickHouse 23 and later: DateTime64, IPv6, Bool, Map, Date32, LowCardinality.
    Modern,
    /// ClickHouse 18.16 (Debian's package): none of those; the closest older types.
    Legacy,
}

/// The ClickHouse type of a column of `ty`; `nullable` wraps scalars in `Nullable`
/// (ClickHouse has no nullable arrays or maps: a null list is stored as an empty one).
pub fn column_type(ty: &LogicalType, nullable: bool, low_cardinality: bool, dialect: Dialect) -> String {
    let legacy = dialect == Dialect::Legacy;
    let base = match ty {
        LogicalType::List(item) => return format!("Array({})", column_type(item, false, low_cardinality, dialect)),
        LogicalType::Map if legacy => "String".to_string(),
        LogicalType::Map => return "Map(String, String)".to_string(),
        LogicalType::String | LogicalType::Json => "String".into(),
        LogicalType::Bool if legacy => "UInt8".into(),
        LogicalType::Bool => "Bool".into(),
        LogicalType::Int8 => "Int8".into(),
        LogicalType::Int16 => "Int16".into(),
        LogicalType::Int32 => "Int32".into(),
        LogicalType::Int64 => "Int64".into(),
        LogicalType::UInt8 => "UInt8".into(),
        LogicalType::UInt16 => "UInt16".into(),
        LogicalType::UInt32 => "UInt32".into(),
        LogicalType::UInt64 => "UInt64".into(),
        LogicalType::Float32 => "Float32".into(),
        LogicalType::Float64 => "Float64".into(),
        LogicalType::Timestamp if legacy => "DateTime('UTC')".into(),
        LogicalType::Timestamp => "DateTime64(9, 'UTC')".into(),
        LogicalType::Date if legacy => "Date".into(),
        LogicalType::Date => "Date32".into(),
        LogicalType::Ip if legacy => "String".into(),
        LogicalType::Ip => "IPv6".into(),
        other => other.to_string(),
    };
    let lc = low_cardinality && !legacy && base == "String";
    match (nullable, lc) {
        (true, true) => format!("LowCardinality(Nullable({base}))"),
        (false, true) => format!("LowCardinality({base})"),
        (true, false) => format!("Nullable({base})"),
        (false, false) => base,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modern_and_legacy_types() {
        let t = |s: &str, n, lc, d| column_type(&LogicalType::parse(s).unwrap(), n, lc, d);
        assert_eq!(t("timestamp", false, false, Dialect::Modern), "DateTime64(9, 'UTC')");
        assert_eq!(t("timestamp", true, false, Dialect::Legacy), "Nullable(DateTime('UTC'))");
        assert_eq!(t("ip", true, false, Dialect::Modern), "Nullable(IPv6)");
        assert_eq!(t("string", true, true, Dialect::Modern), "LowCardinality(Nullable(String))");
        assert_eq!(t("string", true, true, Dialect::Legacy), "Nullable(String)");
        assert_eq!(t("list<uint32>", true, false, Dialect::Modern), "Array(UInt32)");
        assert_eq!(t("map<string,string>", true, false, Dialect::Modern), "Map(String, String)");
        assert_eq!(t("bool", false, false, Dialect::Legacy), "UInt8");
    }
}
