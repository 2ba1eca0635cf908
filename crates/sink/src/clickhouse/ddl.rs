//! `CREATE TABLE` for a dataset schema, from its storage hints.

use std::fmt::Write as _;

use transform::{Engine, LogicalType, PartitionGranularity, Schema, UnknownFields, EXTRA_COLUMN};

use super::types::{column_type, Dialect};

/// Quotes an identifier for ClickHouse (schema identifiers are validated already; this
/// still escapes, so a quoted name can never end the quote).
pub(crate) fn quote_ident(name: &str) -> String {
    format!("`{}`", name.replace('\\', "\\\\").replace('`', "\\`"))
}

/// Quotes a string literal for ClickHouse.
pub(crate) fn quote_str(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// The `CREATE TABLE IF NOT EXISTS` statement for `schema` in `database`, for servers of
/// `dialect`. On a legacy server, what it cannot express (TTL, LowCardinality, modern
/// types) is replaced by the closest equivalent and listed in a leading SQL comment.
pub fn create_table(schema: &Schema, database: &str, dialect: Dialect) -> String {
    let mut sql = String::new();
    if dialect == Dialect::Legacy {
        let _ = writeln!(
            sql,
            "-- ClickHouse 18.x: DateTime64 → DateTime (seconds), IPv6/Map → String, Bool → UInt8, Date32 → Date, no LowCardinality{}",
            if schema.clickhouse.ttl.is_some() { ", TTL left out (needs 19.6+)" } else { "" }
        );
    }
    let _ = writeln!(sql, "CREATE TABLE IF NOT EXISTS {}.{}\n(", quote_ident(database), quote_ident(&schema.name));
    let mut cols = Vec::new();
    for f in &schema.fields {
        let ty = column_type(&f.ty, f.nullable(), f.low_cardinality, dialect);
        cols.push(format!("    {} {ty} COMMENT {}", quote_ident(&f.name), quote_str(&f.description)));
    }
    for d in &schema.derived {
        let (ty, nullable) = schema.column_type(&d.name).expect("derived columns are columns");
        cols.push(format!("    {} {}", quote_ident(&d.name), column_type(&ty, nullable, false, dialect)));
    }
    if schema.unknown_fields == UnknownFields::Keep {
        cols.push(format!("    {} Nullable(String) COMMENT 'Unknown keys of the record, as a JSON object'", quote_ident(EXTRA_COLUMN)));
    }
    let _ = writeln!(sql, "{}\n)", cols.join(",\n"));
    let engine = match schema.clickhouse.engine {
        Engine::MergeTree => "MergeTree",
        Engine::ReplacingMergeTree => "ReplacingMergeTree",
    };
    let hints = &schema.clickhouse;
    let _ = writeln!(sql, "ENGINE = {engine}");
    if let Some(col) = &hints.partition_by {
        let is_date = schema.column_type(col).is_some_and(|(t, _)| t == LogicalType::Date);
        let expr = match (hints.partition_granularity, is_date) {
            (PartitionGranularity::Day, true) => quote_ident(col),
            (PartitionGranularity::Day, false) => format!("toDate({})", quote_ident(col)),
            (PartitionGranularity::Month, _) => format!("toYYYYMM({})", quote_ident(col)),
        };
        let _ = writeln!(sql, "PARTITION BY {expr}");
    }
    let order: Vec<String> = hints.order_by.iter().map(|c| quote_ident(c)).collect();
    let _ = writeln!(sql, "ORDER BY ({})", order.join(", "));
    if let (Some(ttl), Dialect::Modern) = (&hints.ttl, dialect) {
        let _ = writeln!(sql, "TTL toDateTime({}) + INTERVAL {} DAY", quote_ident(&ttl.column), ttl.days);
    }
    sql.push_str("SETTINGS index_granularity = 8192");
    sql
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_cannot_be_escaped() {
        assert_eq!(quote_ident("a`b"), "`a\\`b`");
        assert_eq!(quote_str("it's \\"), "'it\\'s \\\\'");
    }
}
