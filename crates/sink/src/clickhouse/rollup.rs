//! Rollups (`[[clickhouse.rollup]]` in a schema): per rollup, an `AggregatingMergeTree`
//! table of aggregate states per bucket and dimensions, filled by a materialized view over
//! the dataset's table as rows are inserted, so that a batch inserted once (see
//! [`ClickHouseWriter::insert_once`](super::ClickHouseWriter::insert_once)) is counted once.
//! The statements `migrate` runs for them, the day-by-day refill from the dataset's table
//! (`migrate --backfill-rollups`), and the comparison `verify` makes.

use transform::{Aggregate, ColumnRef, Interval, LogicalType, Rollup, Schema};

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
        // Over the query and the types of the columns it reads: a retyped column changes what
        // the view writes, so it is a new definition too.
        let r = self.rollup;
        let read = std::iter::once(r.time.as_str()).chain(r.dimensions.iter().map(String::as_str)).chain(r.unnest.as_ref().map(|u| u.column.as_str())).chain(r.measures.iter().filter_map(|m| m.aggregate.column()));
        let types: String = read.map(|c| format!("{c}:{:?};", self.schema.column_type(c))).collect();
        let hash = (self.states(None) + &types).bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3));
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
                // SYNC on modern servers: an Atomic database drops late, and the replicated
                // table made again at once would find its ZooKeeper path still taken.
                let sync = if dialect == Dialect::Modern { " SYNC" } else { "" };
                let drop = |t: &str| format!("DROP TABLE IF EXISTS {}{}{sync}", self.qualified(t), on_cluster(cluster));
                let mut statements: Vec<String> = views.iter().map(|v| drop(v)).collect();
                if exists {
                    statements.push(drop(name));
                }
                statements.extend(self.create_statements(dialect, cluster));
                Ok((statements, vec![format!("rollup {name} is new: it counts rows inserted from now on; {refill}")]))
            }
        }
    }

    /// The condition on the dataset's table for UTC day `day` (`YYYY-MM-DD`), with its
    /// partition column when that is a derived date (the schema allows a rollup only where
    /// the table is partitioned by day of the rollup's time column), so that one day is read.
    fn day_filter(&self, day: &str) -> String {
        let start = format!("toDateTime({}, 'UTC')", quote_str(&format!("{day} 00:00:00")));
        let mut filter = format!("{b} >= {start} AND {b} < {start} + 86400", b = self.bucket_expr());
        if let Some(ColumnRef::Derived(d)) = self.schema.clickhouse.partition_by.as_deref().and_then(|p| self.schema.column(p)) {
            filter.push_str(&format!(" AND {} = {}", quote_ident(&d.name), quote_str(day)));
        }
        filter
    }

    /// The UTC days the dataset's table holds rows of, from `since` to `until` (inclusive,
    /// `YYYY-MM-DD`), leaving out the days its TTL has cut into (refilling those would
    /// replace whole aggregates by partial ones).
    ///
    /// # Errors
    /// The client's.
    pub async fn days(&self, client: &Client, since: Option<&str>, until: Option<&str>) -> Result<Vec<String>, Error> {
        let day = format!("toDate({})", self.bucket_expr());
        let mut filter = vec![self.retained(&self.bucket_expr(), None)];
        filter.extend(since.map(|s| format!("{day} >= toDate({})", quote_str(s))));
        filter.extend(until.map(|u| format!("{day} <= toDate({})", quote_str(u))));
        let filter = format!(" WHERE {}", filter.join(" AND "));
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
        let [rows] = client.counts(&sql).await?;
        Ok(rows)
    }

    /// The condition that keeps the days whose rows the table still holds in full (the day
    /// its TTL is cutting into, and those before, are left out), and, with `since`, the days
    /// from that long ago on; `bucket` is the bucket's expression on the side asked.
    fn retained(&self, bucket: &str, since: Option<std::time::Duration>) -> String {
        let day = format!("toDate({bucket})");
        let mut filter = vec!["1".to_string()];
        filter.extend(self.schema.clickhouse.ttl.as_ref().map(|ttl| format!("{day} > toDate(now() - INTERVAL {} DAY)", ttl.days)));
        filter.extend(since.map(|d| format!("{day} >= toDate(now() - INTERVAL {} SECOND)", d.as_secs())));
        filter.join(" AND ")
    }

    /// The UTC days on which the rollup holds other aggregates than the table's rows give
    /// under the view's query: `(day, rollup keys, table keys)`, compared by key count and an
    /// order-free checksum of the exact measures (counts, integer sums, distinct counts; not
    /// quantiles or float sums). Only days the table holds in full are compared (see the TTL).
    ///
    /// # Errors
    /// The client's; [`Error::ClickHouseAnswer`] for an answer that is not a day and two numbers.
    pub async fn differing_days(&self, client: &Client, since: Option<std::time::Duration>) -> Result<Vec<(String, u64, u64)>, Error> {
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
        // A sum of nulls only is null: hashed as text, so that it cannot drop its key.
        let merged: Vec<String> = exact.iter().map(|(name, merge)| format!("ifNull(toString({merge}({q})), 'NULL') AS {q}", q = quote_ident(name))).collect();
        let merged = if merged.is_empty() { "1 AS _none".to_string() } else { merged.join(", ") };
        let hashed: Vec<String> = self.keys().into_iter().chain(exact.iter().map(|(name, _)| quote_ident(name))).collect();
        let bucket = quote_ident(&self.rollup.bucket);
        let sides = [
            format!("(SELECT * FROM {} WHERE {})", self.qualified(&self.rollup.name), self.retained(&bucket, since)),
            format!("({})", self.states(Some(&self.retained(&self.bucket_expr(), since)))),
        ];
        let mut days: [std::collections::BTreeMap<String, (u64, u64)>; 2] = Default::default();
        for (side, from) in sides.iter().enumerate() {
            let sql = format!(
                "SELECT toDate({bucket}) AS day, count(), sum(cityHash64({})) FROM (SELECT {keys}, {merged} FROM {from} GROUP BY {keys}) GROUP BY day ORDER BY day FORMAT TabSeparated",
                hashed.join(", ")
            );
            for line in client.query(&sql).await?.lines() {
                let mut cells = line.split('\t');
                match (cells.next(), cells.next().map(str::parse::<u64>), cells.next().map(str::parse::<u64>)) {
                    (Some(day), Some(Ok(rows)), Some(Ok(sum))) => days[side].insert(day.to_string(), (rows, sum)),
                    _ => return Err(Error::ClickHouseAnswer { query: sql, reason: format!("`{line}` is not a day and two numbers") }),
                };
            }
        }
        let [held, wanted] = days;
        let all: std::collections::BTreeSet<&String> = held.keys().chain(wanted.keys()).collect();
        Ok(all
            .into_iter()
            .filter(|d| held.get(*d) != wanted.get(*d))
            .map(|d| (d.clone(), held.get(d).map_or(0, |h| h.0), wanted.get(d).map_or(0, |w| w.0)))
            .collect())
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
    // Exactly `<rollup>_mv_` and eight hex digits: not the views of a rollup named `<rollup>_mv_x`.
    let ours = |name: &str| name.strip_prefix(&prefix).is_some_and(|h| h.len() == 8 && h.bytes().all(|b| b.is_ascii_hexdigit()));
    Ok(client.query(&sql).await?.lines().filter(|n| ours(n)).map(str::to_string).collect())
}
