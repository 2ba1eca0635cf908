//! `migrate`: create a dataset's database and table, or evolve the table additively.
//!
//! The plan compares the columns the schema implies (for the server's dialect) with the
//! table's real columns: a new column is added (`ALTER TABLE … ADD COLUMN … AFTER …`); a
//! column whose type changed, or that the schema no longer has, would lose or reinterpret
//! data, so it is refused with an explanation unless `allow_destructive` is set (then
//! `MODIFY COLUMN` / `DROP COLUMN`). On servers with insert tokens, a table that does not
//! keep them (created by an older lakeport or by hand) gets
//! `non_replicated_deduplication_window` set, so that a replayed batch is not inserted twice.
//! On modern servers, a skip index the table lacks is added and built for the parts already
//! there; a changed codec is not applied to existing columns. Each rollup of the schema gets its table and view (see [`RollupTable`]).
//! Running it again plans nothing.

use super::cluster::{create_distributed, distributed_name, on_cluster};
use super::ddl::{create_on_cluster, create_table, dialect_notes, index_definition, keep_tokens, quote_ident, quote_str, table_columns, ColumnDef};
use super::types::Dialect;
use super::dedup::table_deduplicates;
use super::rollup::{views_of, RollupTable};
use super::service::Client;
use crate::Error;

/// What `migrate` will do, in order, with notes for the operator.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// Statements to run, in order; empty when the table is up to date.
    pub statements: Vec<String>,
    /// Things the operator should know (e.g. type fallbacks on an old server).
    pub notes: Vec<String>,
}

/// Plans the migration of `database.table` to `schema` on the server behind `client`; with
/// a `cluster`, on every replica of it (`ON CLUSTER`, see [`create_on_cluster`]), the
/// `Distributed` table `<table>_all` created with the table and again after each change.
///
/// # Errors
/// [`Error::MigrationRefused`] for a destructive change without `allow_destructive`;
/// the client's errors when the server cannot be asked.
pub async fn plan(client: &Client, schema: &transform::Schema, database: &str, table: &str, cluster: Option<&str>, allow_destructive: bool) -> Result<Plan, Error> {
    let version = client.server_version().await?;
    let dialect = version.dialect();
    let mut plan = Plan::default();
    plan.notes.extend(dialect_notes(schema, dialect).into_iter().map(|note| format!("server {version}: {note}")));
    let existing = client.table_columns(database, table).await?;
    if existing.is_empty() {
        plan.statements.push(format!("CREATE DATABASE IF NOT EXISTS {}{}", quote_ident(database), on_cluster(cluster)));
        match cluster {
            Some(c) => plan.statements.extend(create_on_cluster(schema, database, table, dialect, c)),
            None => plan.statements.push(create_table(schema, database, table, dialect)),
        }
        plan.extend(plan_rollups(client, schema, database, table, dialect, cluster, allow_destructive).await?);
        return Ok(plan);
    }
    let qualified = format!("{}.{}{}", quote_ident(database), quote_ident(table), on_cluster(cluster));
    if version.has_dedup_token() && !table_deduplicates(client, database, table).await? {
        plan.notes.push(format!("{database}.{table} does not keep insert tokens: setting non_replicated_deduplication_window, so that a replayed batch is not inserted twice"));
        plan.statements.push(keep_tokens(&qualified));
    }
    let wanted = table_columns(schema, dialect);
    let refuse = |column: &str, problem: String| Error::MigrationRefused {
        table: format!("{database}.{table}"),
        subject: format!("column `{column}`"),
        problem,
        hint: "Pass --allow-destructive to apply it anyway, or create a new table (a new schema version) and backfill it.".into(),
    };
    for c in &existing {
        if !wanted.iter().any(|w| w.name == c.name) {
            if !allow_destructive {
                return Err(refuse(&c.name, "is in the table but not in the schema: dropping it would lose its data".into()));
            }
            plan.statements.push(format!("ALTER TABLE {qualified} DROP COLUMN {}", quote_ident(&c.name)));
        }
    }
    let mut previous: Option<&ColumnDef> = None;
    for w in &wanted {
        match existing.iter().find(|c| c.name == w.name) {
            None => {
                let after = previous.map(|p| format!(" AFTER {}", quote_ident(&p.name))).unwrap_or_default();
                plan.statements.push(format!("ALTER TABLE {qualified} ADD COLUMN {}{after}", w.definition()));
            }
            Some(c) if squash(&c.type_name) != squash(&w.type_name) => {
                if !allow_destructive {
                    return Err(refuse(&w.name, format!("is {} in the table and {} in the schema: converting it would reinterpret its data", c.type_name, w.type_name)));
                }
                plan.statements.push(format!("ALTER TABLE {qualified} MODIFY COLUMN {}", w.definition()));
            }
            Some(_) => {}
        }
        previous = Some(w);
    }
    if dialect == Dialect::Modern {
        let sql = format!("SELECT name FROM system.data_skipping_indices WHERE database = {} AND table = {} FORMAT TabSeparated", quote_str(database), quote_str(table));
        let have = client.query(&sql).await?;
        for ix in schema.clickhouse.indexes.iter().filter(|ix| !have.lines().any(|l| l == ix.name)) {
            // Parts written before it get the index too (a mutation).
            plan.statements.push(format!("ALTER TABLE {qualified} ADD {}", index_definition(ix)));
            plan.statements.push(format!("ALTER TABLE {qualified} MATERIALIZE INDEX {}", quote_ident(&ix.name)));
        }
    }
    if let Some(c) = cluster {
        // A Distributed table takes its columns when created: made again after a change.
        let all = distributed_name(table);
        let changed = !plan.statements.is_empty();
        if changed {
            plan.statements.push(format!("DROP TABLE IF EXISTS {}.{}{}", quote_ident(database), quote_ident(&all), on_cluster(cluster)));
        }
        if changed || client.table_columns(database, &all).await?.is_empty() {
            plan.statements.push(create_distributed(database, table, c));
        }
    }
    plan.extend(plan_rollups(client, schema, database, table, dialect, cluster, allow_destructive).await?);
    Ok(plan)
}

/// What brings each rollup of `schema` to its definition.
async fn plan_rollups(client: &Client, schema: &transform::Schema, database: &str, table: &str, dialect: Dialect, cluster: Option<&str>, allow_destructive: bool) -> Result<Plan, Error> {
    let mut plan = Plan::default();
    for r in &schema.clickhouse.rollups {
        let rollup = RollupTable::new(schema, r, database, table);
        if rollup.name() == table || rollup.name() == distributed_name(table) {
            return Err(Error::MigrationRefused {
                table: format!("{database}.{table}"),
                subject: format!("rollup `{}`", rollup.name()),
                problem: "has the name of the dataset's table".into(),
                hint: "Give the rollup another name in the schema file.".into(),
            });
        }
        let exists = !client.table_columns(database, rollup.name()).await?.is_empty();
        let (statements, notes) = rollup.migration(exists, &views_of(client, database, rollup.name()).await?, dialect, cluster, allow_destructive)?;
        plan.statements.extend(statements);
        plan.notes.extend(notes);
    }
    Ok(plan)
}

impl Plan {
    fn extend(&mut self, other: Plan) {
        self.statements.extend(other.statements);
        self.notes.extend(other.notes);
    }
}

/// Runs the statements of `plan` in order.
///
/// # Errors
/// The first statement the server refuses; those before it stay applied.
pub async fn apply(client: &Client, plan: &Plan) -> Result<(), Error> {
    for sql in &plan.statements {
        client.query(sql).await?;
    }
    Ok(())
}

/// A type spelling without white space, for comparing the server's with ours.
fn squash(ty: &str) -> String {
    ty.chars().filter(|c| !c.is_whitespace()).collect()
}
