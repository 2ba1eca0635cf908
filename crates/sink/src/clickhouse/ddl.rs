//! `CREATE TABLE` for a dataset schema, from its storage hints.

use std::fmt::Write as _;

use transform::{DerivedKind, Engine, LogicalType, PartitionGranularity, Schema, UnknownFields, EXTRA_COLUMN, SOURCE_COLUMNS};

use super::cluster::{create_distributed, on_cluster, replicated};
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

/// One column of a dataset's table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnDef {
    /// Column name.
    pub name: String,
    /// ClickHouse type, as the server spells it.
    pub type_name: String,
    /// Column comment.
    pub comment: String,
    /// Compression codecs (`Delta(4), ZSTD(3)`), on servers that take them.
    pub codec: Option<String>,
}

impl ColumnDef {
    /// `name Type [CODEC(…)] COMMENT '…'`, as in `CREATE TABLE` and `ADD COLUMN`.
    pub fn definition(&self) -> String {
        let codec = self.codec.as_ref().map(|c| format!(" CODEC({c})")).unwrap_or_default();
        format!("{} {}{codec} COMMENT {}", quote_ident(&self.name), self.type_name, quote_str(&self.comment))
    }
}

/// `INDEX name column TYPE kind GRANULARITY n`, as in `CREATE TABLE` and `ADD INDEX`.
pub(crate) fn index_definition(ix: &transform::SkipIndex) -> String {
    format!("INDEX {} {} TYPE {} GRANULARITY {}", quote_ident(&ix.name), quote_ident(&ix.column), ix.kind, ix.granularity)
}

/// The comments of the source coordinate columns, in `SOURCE_COLUMNS` order.
const SOURCE_COMMENTS: [&str; 4] = [
    "Kafka topic the row was read from",
    "Kafka partition the row was read from",
    "Kafka offset of the message holding the row",
    "1-based line of the record within its message",
];

/// The columns of a dataset's table, in order: fields, derived columns, `_extra` (when
/// unknown keys are kept), and the source coordinates every pipeline writes.
pub fn table_columns(schema: &Schema, dialect: Dialect) -> Vec<ColumnDef> {
    let mut cols: Vec<ColumnDef> = schema
        .fields
        .iter()
        .map(|f| ColumnDef {
            name: f.name.clone(),
            type_name: column_type(&f.ty, f.nullable(), f.low_cardinality, dialect),
            comment: f.description.clone(),
            codec: f.codec.clone().filter(|_| dialect == Dialect::Modern),
        })
        .collect();
    for d in &schema.derived {
        let (ty, nullable) = schema.column_type(&d.name).expect("derived columns are columns");
        let what = match d.kind {
            DerivedKind::Date => "UTC date",
            DerivedKind::Hour => "UTC hour (0-23)",
        };
        let comment = format!("{what} of {}", schema.fields[d.from].name);
        cols.push(ColumnDef { name: d.name.clone(), type_name: column_type(&ty, nullable, false, dialect), comment, codec: None });
    }
    if schema.unknown_fields == UnknownFields::Keep {
        cols.push(ColumnDef { name: EXTRA_COLUMN.into(), type_name: "Nullable(String)".into(), comment: "Unknown keys of the record, as a JSON object".into(), codec: None });
    }
    for ((name, ty), comment) in SOURCE_COLUMNS.iter().zip(SOURCE_COMMENTS) {
        let low_cardinality = *ty == LogicalType::String;
        cols.push(ColumnDef { name: (*name).into(), type_name: column_type(ty, false, low_cardinality, dialect), comment: comment.into(), codec: None });
    }
    cols
}

/// What `create_table` cannot express on a server of `dialect`, for the operator.
pub fn dialect_notes(schema: &Schema, dialect: Dialect) -> Vec<String> {
    let mut notes = Vec::new();
    if dialect == Dialect::Legacy {
        notes.push("DateTime64 → DateTime (seconds), IPv6/Map → String, Bool → UInt8, Date32 → Date, no LowCardinality".into());
        if schema.clickhouse.ttl.is_some() {
            notes.push("TTL left out (it needs 19.6 or later): rows do not expire; drop old partitions with ALTER TABLE … DROP PARTITION".into());
        }
        if schema.fields.iter().any(|f| f.codec.is_some()) {
            notes.push("column codecs left out (they need 19.1 or later): columns use the server's default compression".into());
        }
        if !schema.clickhouse.indexes.is_empty() {
            notes.push("skip indexes left out (they need 19.6 or later): queries read every granule of the parts their partition and sort key select".into());
        }
    }
    notes
}

/// The `CREATE TABLE IF NOT EXISTS database.table` statement for `schema`, for servers of
/// `dialect` (see [`dialect_notes`] for what an old server cannot express). On modern
/// servers the table keeps the last 1000 insert tokens, so that a repeated insert of a
/// batch (same `insert_deduplication_token`) adds no rows.
pub fn create_table(schema: &Schema, database: &str, table: &str, dialect: Dialect) -> String {
    create(schema, database, table, dialect, None)
}

/// The statements that create `database.table` for `schema` on every replica of
/// `cluster`: the table `ON CLUSTER` with the `Replicated` form of its engine (which keeps
/// insert tokens and block hashes across replicas), then the `Distributed` table
/// `<table>_all` over it.
pub fn create_on_cluster(schema: &Schema, database: &str, table: &str, dialect: Dialect, cluster: &str) -> [String; 2] {
    [create(schema, database, table, dialect, Some(cluster)), create_distributed(database, table, cluster)]
}

fn create(schema: &Schema, database: &str, table: &str, dialect: Dialect, cluster: Option<&str>) -> String {
    let mut sql = String::new();
    let _ = writeln!(sql, "CREATE TABLE IF NOT EXISTS {}.{}{}\n(", quote_ident(database), quote_ident(table), on_cluster(cluster));
    // 18.x takes a replica's table with column comments for another structure than the
    // one in ZooKeeper ("too different from local table structure"): none there.
    let bare = cluster.is_some() && dialect == Dialect::Legacy;
    let mut cols: Vec<String> = table_columns(schema, dialect).iter().map(|c| if bare { format!("    {} {}", quote_ident(&c.name), c.type_name) } else { format!("    {}", c.definition()) }).collect();
    if dialect == Dialect::Modern {
        cols.extend(schema.clickhouse.indexes.iter().map(|ix| format!("    {}", index_definition(ix))));
    }
    let _ = writeln!(sql, "{}\n)", cols.join(",\n"));
    let engine = match schema.clickhouse.engine {
        Engine::MergeTree => "MergeTree",
        Engine::ReplacingMergeTree => "ReplacingMergeTree",
    };
    let engine = if cluster.is_some() { replicated(engine, database, table) } else { engine.to_string() };
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
    // An empty sort key is `tuple()`: an unsorted table.
    let _ = writeln!(sql, "ORDER BY {}({})", if order.is_empty() { "tuple" } else { "" }, order.join(", "));
    if let (Some(ttl), Dialect::Modern) = (&hints.ttl, dialect) {
        let _ = writeln!(sql, "TTL toDateTime({}) + INTERVAL {} DAY", quote_ident(&ttl.column), ttl.days);
    }
    sql.push_str("SETTINGS index_granularity = 8192");
    if dialect == Dialect::Modern && cluster.is_none() {
        let _ = write!(sql, ", {DEDUP_WINDOW}");
    }
    sql
}

/// The table setting that makes a plain MergeTree drop a repeated insert token: the last
/// 1000 inserted parts are remembered (replicated engines deduplicate by default).
const DEDUP_WINDOW: &str = "non_replicated_deduplication_window = 1000";

/// The statement that turns token deduplication on for an existing table `qualified`.
pub fn keep_tokens(qualified: &str) -> String {
    format!("ALTER TABLE {qualified} MODIFY SETTING {DEDUP_WINDOW}")
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
