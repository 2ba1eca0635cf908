//! Rollups (`[[clickhouse.rollup]]` in a schema): per rollup, an `AggregatingMergeTree`
//! table of aggregate states per bucket and dimensions, filled by a materialized view over
//! the dataset's table as rows are inserted, so that a batch inserted once (see
//! [`ClickHouseWriter::insert_once`](super::ClickHouseWriter::insert_once)) is counted once.
//! The statements `migrate` runs for them, the day-by-day refill from the dataset's table
//! (`migrate --backfill-rollups`), and the comparison `verify` makes.

use transform::{Aggregate, ColumnRef, DerivedKind, Interval, LogicalType, Rollup, Schema};

use super::cluster::{on_cluster, replicated};
use super::ddl::{quote_ident, quote_str};
use super::service::Client;
use super::types::Dialect;
use crate::Error;

/// One rollup of a dataset's table `database.table`.
#[derive(Debug, Clone, Copy)]
pub struct RollupTable<'a> {
    schema: &'a Schema,
    rollup: &'a Rollup,
    database: &'a str,
    table: &'a str,
}

impl<'a> RollupTable<'a> {
    /// The rollup `rollup` of `schema`'s table `database.table`.
    pub fn new(schema: &'a Schema, rollup: &'a Rollup, database: &'a str, table: &'a str) -> Self {
        Self { schema, rollup, database, table }
    }

    /// The rollup's table name.
    pub fn name(&self) -> &str {
        &self.rollup.name
    }

    fn qualified(&self, name: &str) -> String {
        format!("{}.{}", quote_ident(self.database), quote_ident(name))
    }

    /// The start of a row's bucket, as a `DateTime('UTC')`.
    fn bucket_expr(&self) -> String {
        let f = match self.rollup.interval {
            Interval::Minute => "toStartOfMinute",
            Interval::Hour => "toStartOfHour",
            Interval::Day => "toStartOfDay",
        };
        format!("{f}(toDateTime({}), 'UTC')", quote_ident(&self.rollup.time))
    }

    /// The grouping keys, quoted: bucket, dimensions, the unnested element.
    fn keys(&self) -> Vec<String> {
        let r = self.rollup;
        std::iter::once(&r.bucket).chain(&r.dimensions).chain(r.unnest.as_ref().map(|u| &u.name)).map(|k| quote_ident(k)).collect()
    }

    /// `SELECT <keys>, <states> FROM <table> [WHERE filter] GROUP BY <keys>`: the view's query
    /// and the refill's.
    fn states(&self, filter: Option<&str>) -> String {
        let r = self.rollup;
        let mut cols = vec![format!("{} AS {}", self.bucket_expr(), quote_ident(&r.bucket))];
        for d in &r.dimensions {
            let (ty, nullable) = self.schema.column_type(d).expect("checked dimension");
            let zero = if ty == LogicalType::String { "''" } else { "0" };
            // A key cannot be null: nulls group as the type's zero.
            cols.push(if nullable { format!("ifNull({q}, {zero}) AS {q}", q = quote_ident(d)) } else { quote_ident(d) });
        }
        if let Some(u) = &r.unnest {
            cols.push(format!("arrayJoin({}) AS {}", quote_ident(&u.column), quote_ident(&u.name)));
        }
        for m in &r.measures {
            let state = match &m.aggregate {
                Aggregate::Count => "countState()".to_string(),
                Aggregate::Sum(c) => format!("sumState({})", quote_ident(c)),
                Aggregate::Uniq(c) => format!("uniqState({})", quote_ident(c)),
                Aggregate::UniqExact(c) => format!("uniqExactState({})", quote_ident(c)),
                Aggregate::Quantile { level, column } => format!("quantileState({level})({})", quote_ident(column)),
            };
            cols.push(format!("{state} AS {}", quote_ident(&m.name)));
        }
        let filter = filter.map(|f| format!(" WHERE {f}")).unwrap_or_default();
        format!("SELECT {} FROM {}{filter} GROUP BY {}", cols.join(", "), self.qualified(self.table), self.keys().join(", "))
    }

    /// The view's name: the rollup's, with a hash of its query, so that a changed
    /// definition is seen as a new view.
    pub fn view_name(&self) -> String {
        // FNV-1a: stable across builds and platforms (std's hasher is not).
        let hash = self.states(None).bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3));
        format!("{}_mv_{:08x}", self.rollup.name, hash as u32)
    }

    /// The rollup's table, its column types taken from the view's query (`AS SELECT … WHERE
    /// 0`), partitioned by UTC day; replicated on a cluster; on modern servers it keeps insert
    /// tokens, so that a repeated insert into the dataset's table is not counted twice.
    fn create_table(&self, dialect: Dialect, cluster: Option<&str>) -> String {
        let engine = match cluster {
            Some(_) => replicated("AggregatingMergeTree", self.database, &self.rollup.name),
            None => "AggregatingMergeTree".to_string(),
        };
        let settings = if dialect == Dialect::Modern && cluster.is_none() { " SETTINGS non_replicated_deduplication_window = 1000" } else { "" };
        format!(
            "CREATE TABLE IF NOT EXISTS {}{} ENGINE = {engine} PARTITION BY toDate({}) ORDER BY ({}){settings} AS {}",
            self.qualified(&self.rollup.name),
            on_cluster(cluster),
            quote_ident(&self.rollup.bucket),
            self.keys().join(", "),
            self.states(Some("0"))
        )
    }

    /// The statements that create the rollup's table and its view, in that order (the
    /// dataset's table must exist).
    pub fn create_statements(&self, dialect: Dialect, cluster: Option<&str>) -> [String; 2] {
        [self.create_table(dialect, cluster), self.create_view(cluster)]
    }

    fn create_view(&self, cluster: Option<&str>) -> String {
        format!("CREATE MATERIALIZED VIEW IF NOT EXISTS {}{} TO {} AS {}", self.qualified(&self.view_name()), on_cluster(cluster), self.qualified(&self.rollup.name), self.states(None))
    }

    /// The statements that bring the rollup to its definition (see [`plan`](super::plan_migration)),
    /// and the notes for the operator. `views` are the rollup's views the server has.
    ///
    /// # Errors
    /// [`Error::MigrationRefused`] when the definition changed and `allow_destructive` is not set.
    pub(super) fn migration(&self, table_exists: bool, views: &[String], dialect: Dialect, cluster: Option<&str>, allow_destructive: bool) -> Result<(Vec<String>, Vec<String>), Error> {
        let want = self.view_name();
        let refill = format!("fill it from {}.{} with `lakeport migrate … --backfill-rollups`", self.database, self.table);
        let name = &self.rollup.name;
        match (table_exists, views) {
            (true, [v]) if *v == want => Ok((vec![], vec![])),
            (true, []) => Ok((vec![self.create_view(cluster)], vec![format!("rollup {name} had no view: rows inserted meanwhile are missing from it; {refill}")])),
            (true, _) if !allow_destructive => Err(Error::MigrationRefused {
                table: format!("{}.{}", self.database, self.table),
                subject: format!("rollup `{name}`"),
                problem: "changed its definition: its rows hold the old aggregates".into(),
                hint: "Declare the new definition as a rollup of another name (and backfill it), or pass --allow-destructive to rebuild this one from the dataset's table (rows past the table's TTL cannot be refilled).".into(),
            }),
            (exists, _) => {
                let mut statements: Vec<String> = views.iter().map(|v| format!("DROP TABLE IF EXISTS {}{}", self.qualified(v), on_cluster(cluster))).collect();
                if exists {
                    statements.push(format!("DROP TABLE IF EXISTS {}{}", self.qualified(name), on_cluster(cluster)));
                }
                statements.extend(self.create_statements(dialect, cluster));
                Ok((statements, vec![format!("rollup {name} is new: it counts rows inserted from now on; {refill}")]))
            }
        }
    }

    /// The condition on the dataset's table for UTC day `day` (`YYYY-MM-DD`), with the
    /// table's partition column when it is the day of the rollup's time column.
    fn day_filter(&self, day: &str) -> String {
        let start = format!("toDateTime({}, 'UTC')", quote_str(&format!("{day} 00:00:00")));
        let mut filter = format!("{b} >= {start} AND {b} < {start} + 86400", b = self.bucket_expr());
        let partition = self.schema.clickhouse.partition_by.as_deref().and_then(|p| self.schema.column(p));
        if let Some(ColumnRef::Derived(d)) = partition {
            if d.kind == DerivedKind::Date && self.schema.fields[d.from].name == self.rollup.time {
                filter.push_str(&format!(" AND {} = {}", quote_ident(&d.name), quote_str(day)));
            }
        }
        filter
    }

    /// The UTC days the dataset's table holds rows of, from `since` to `until` (inclusive,
    /// `YYYY-MM-DD`).
    ///
    /// # Errors
    /// The client's.
    pub async fn days(&self, client: &Client, since: Option<&str>, until: Option<&str>) -> Result<Vec<String>, Error> {
        let day = format!("toDate({})", self.bucket_expr());
        let mut filter: Vec<String> = Vec::new();
        filter.extend(since.map(|s| format!("{day} >= toDate({})", quote_str(s))));
        filter.extend(until.map(|u| format!("{day} <= toDate({})", quote_str(u))));
        let filter = if filter.is_empty() { String::new() } else { format!(" WHERE {}", filter.join(" AND ")) };
        let text = client.query(&format!("SELECT DISTINCT {day} AS d FROM {}{filter} ORDER BY d FORMAT TabSeparated", self.qualified(self.table))).await?;
        Ok(text.lines().map(str::to_string).collect())
    }

    /// Replaces the rollup's rows of UTC day `day` by the aggregates of the dataset's rows of
    /// that day; returns the rollup rows written. Running it again gives the same rows; rows
    /// inserted into that day while it runs may be counted twice or not at all.
    ///
    /// # Errors
    /// The client's; between the two statements the day is empty until it is run again.
    pub async fn refill_day(&self, client: &Client, day: &str) -> Result<u64, Error> {
        let target = self.qualified(&self.rollup.name);
        client.query(&format!("ALTER TABLE {target} DROP PARTITION {}", quote_str(day))).await?;
        client.query(&format!("INSERT INTO {target} {}", self.states(Some(&self.day_filter(day))))).await?;
        let sql = format!("SELECT count() FROM {target} WHERE toDate({}) = toDate({}) FORMAT TabSeparated", quote_ident(&self.rollup.bucket), quote_str(day));
        let text = client.query(&sql).await?;
        text.trim().parse().map_err(|_| Error::ClickHouseAnswer { query: sql, reason: format!("`{}` is not a count", text.trim()) })
    }

    /// Rows and an order-free checksum of the rollup's merged exact measures (counts, sums
    /// of integers, distinct counts; not quantiles or float sums): first as the rollup holds
    /// them, then as the dataset's table gives them. Equal when the rollup counted every row once.
    ///
    /// # Errors
    /// The client's; [`Error::ClickHouseAnswer`] for an answer that is not two numbers.
    pub async fn checksums(&self, client: &Client) -> Result<[(u64, u64); 2], Error> {
        let exact: Vec<(&str, &str)> = self
            .rollup
            .measures
            .iter()
            .filter_map(|m| {
                let merge = match &m.aggregate {
                    Aggregate::Count => "countMerge",
                    Aggregate::Sum(c) if self.schema.column_type(c).is_some_and(|(t, _)| t.is_integer()) => "sumMerge",
                    Aggregate::Uniq(_) => "uniqMerge",
                    Aggregate::UniqExact(_) => "uniqExactMerge",
                    _ => return None,
                };
                Some((m.name.as_str(), merge))
            })
            .collect();
        let keys = self.keys().join(", ");
        let merged: Vec<String> = exact.iter().map(|(name, merge)| format!("{merge}({q}) AS {q}", q = quote_ident(name))).collect();
        let merged = if merged.is_empty() { "1 AS _none".to_string() } else { merged.join(", ") };
        let hashed: Vec<String> = self.keys().into_iter().chain(exact.iter().map(|(name, _)| quote_ident(name))).collect();
        let mut out = [(0, 0); 2];
        for (i, from) in [self.qualified(&self.rollup.name), format!("({})", self.states(None))].iter().enumerate() {
            let sql = format!(
                "SELECT count(), sum(cityHash64({})) FROM (SELECT {keys}, {merged} FROM {from} GROUP BY {keys}) FORMAT TabSeparated",
                hashed.join(", ")
            );
            let text = client.query(&sql).await?;
            let mut n = text.split_whitespace().map(str::parse::<u64>);
            out[i] = match (n.next(), n.next()) {
                (Some(Ok(rows)), Some(Ok(sum))) => (rows, sum),
                _ => return Err(Error::ClickHouseAnswer { query: sql, reason: format!("`{}` is not two numbers", text.trim()) }),
            };
        }
        Ok(out)
    }
}

/// The names of the views of `rollup` the server has in `database`.
///
/// # Errors
/// The client's.
pub(super) async fn views_of(client: &Client, database: &str, rollup: &str) -> Result<Vec<String>, Error> {
    let prefix = format!("{rollup}_mv_");
    let sql = format!(
        "SELECT name FROM system.tables WHERE database = {} AND engine = 'MaterializedView' AND substring(name, 1, {}) = {} ORDER BY name FORMAT TabSeparated",
        quote_str(database),
        prefix.len(),
        quote_str(&prefix)
    );
    Ok(client.query(&sql).await?.lines().map(str::to_string).collect())
}
