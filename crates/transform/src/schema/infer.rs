//! Drafting a schema from sample records, for a data engineer to edit.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::Value;

use super::ident::{check_ident, snake_case};
use crate::decode::{looks_like_ip, looks_like_timestamp};
use crate::{Error, Schema};

/// What the samples showed of one key.
#[derive(Default)]
struct Seen {
    order: usize,
    present: usize,
    nulls: usize,
    ty: Option<Guess>,
}

#[derive(Clone, PartialEq)]
enum Guess {
    Bool,
    Int { min: i128, max: i128 },
    Float,
    Text(TextKind),
    List(Box<Guess>),
    /// Only `[]` seen: a list of what later samples show.
    EmptyList,
    Map,
    Json,
}

#[derive(Clone, Copy, PartialEq)]
enum TextKind {
    Ip,
    Timestamp,
    String,
}

/// Drafts a schema (TOML text) named `name` from newline-delimited JSON sample records.
/// Every top-level key becomes a nullable field with the narrowest type that holds all its
/// sample values; the draft validates as is. Lines that are not JSON objects are skipped.
///
/// # Errors
/// [`Error::Infer`] when `name` is not a valid identifier or no line is a JSON object.
pub fn infer_schema(samples: &[u8], name: &str) -> Result<String, Error> {
    check_ident(name).map_err(|p| Error::Infer(p.to_string()))?;
    let mut keys: BTreeMap<String, Seen> = BTreeMap::new();
    let mut records = 0usize;
    for line in samples.split(|&b| b == b'\n') {
        let Ok(Value::Object(obj)) = serde_json::from_slice::<Value>(line) else { continue };
        records += 1;
        for (k, v) in obj {
            let next = keys.len();
            let seen = keys.entry(k).or_insert_with(|| Seen { order: next, ..Seen::default() });
            seen.present += 1;
            match guess(&v) {
                None => seen.nulls += 1,
                Some(g) => seen.ty = Some(match seen.ty.take() { None => g, Some(prev) => merge(prev, g) }),
            }
        }
    }
    if records == 0 {
        return Err(Error::Infer("no line of the sample is a JSON object".into()));
    }
    let mut fields: Vec<(String, Seen)> = keys.into_iter().collect();
    fields.sort_by_key(|(_, s)| s.order);
    let toml = render(name, records, &fields);
    Schema::from_toml_str(&toml, "inferred schema").map_err(|e| Error::Infer(format!("the draft does not validate: {e}")))?;
    Ok(toml)
}

fn guess(v: &Value) -> Option<Guess> {
    Some(match v {
        Value::Null => return None,
        Value::String(s) if s.is_empty() => return None,
        Value::Bool(_) => Guess::Bool,
        Value::Number(n) => match n.as_i64().map(i128::from).or_else(|| n.as_u64().map(i128::from)) {
            Some(i) => Guess::Int { min: i, max: i },
            None => Guess::Float,
        },
        Value::String(s) if looks_like_ip(s) => Guess::Text(TextKind::Ip),
        Value::String(s) if looks_like_timestamp(s) => Guess::Text(TextKind::Timestamp),
        Value::String(_) => Guess::Text(TextKind::String),
        Value::Array(items) => {
            let mut item: Option<Guess> = None;
            // Null items say nothing of the item type.
            for g in items.iter().filter_map(guess) {
                match g {
                    Guess::Bool | Guess::Int { .. } | Guess::Float | Guess::Text(_) => item = Some(match item { None => g, Some(p) => merge(p, g) }),
                    _ => return Some(Guess::Json),
                }
            }
            match item {
                Some(Guess::Json) => Guess::Json,
                Some(i) => Guess::List(Box::new(i)),
                None => Guess::EmptyList,
            }
        }
        Value::Object(m) if m.values().all(Value::is_string) => Guess::Map,
        Value::Object(_) => Guess::Json,
    })
}

fn merge(a: Guess, b: Guess) -> Guess {
    match (a, b) {
        (a, b) if a == b => a,
        (Guess::EmptyList, l @ Guess::List(_)) | (l @ Guess::List(_), Guess::EmptyList) => l,
        // Logpush times arrive as unix seconds / nanoseconds or as RFC 3339 text.
        (Guess::Int { .. }, t @ Guess::Text(TextKind::Timestamp)) | (t @ Guess::Text(TextKind::Timestamp), Guess::Int { .. }) => t,
        (Guess::Int { min: a0, max: a1 }, Guess::Int { min: b0, max: b1 }) => Guess::Int { min: a0.min(b0), max: a1.max(b1) },
        (Guess::Int { .. } | Guess::Float, Guess::Int { .. } | Guess::Float) => Guess::Float,
        (Guess::Text(_), Guess::Text(_)) => Guess::Text(TextKind::String),
        (Guess::List(a), Guess::List(b)) => match merge(*a, *b) {
            Guess::Json => Guess::Json,
            i => Guess::List(Box::new(i)),
        },
        _ => Guess::Json,
    }
}

/// The type of field `col`: integers are 64-bit (a sample's maximum says nothing of later
/// records), but ports; integers a time's name calls a time are timestamps.
fn type_name(g: &Guess, col: &str) -> String {
    match g {
        Guess::Bool => "bool".into(),
        Guess::Int { min, max } if is_time_name(col) && [*min, *max].iter().all(|v| looks_like_epoch(*v)) => "timestamp".into(),
        Guess::Int { min, max } if col.ends_with("port") && *min >= 0 && *max <= i128::from(u16::MAX) => "uint16".into(),
        Guess::Int { min, .. } if *min >= 0 => "uint64".into(),
        Guess::Int { .. } => "int64".into(),
        Guess::Float => "float64".into(),
        Guess::Text(TextKind::Ip) => "ip".into(),
        Guess::Text(TextKind::Timestamp) => "timestamp".into(),
        Guess::Text(TextKind::String) => "string".into(),
        Guess::EmptyList => "list<string>".into(),
        Guess::List(i) => format!("list<{}>", type_name(i, "")),
        Guess::Map => "map<string,string>".into(),
        Guess::Json => "json".into(),
    }
}

/// Names of an event's time, the most telling first.
const TIME_NAMES: [&str; 5] = ["datetime", "timestamp", "event_time", "time", "ts"];

fn is_time_name(col: &str) -> bool {
    TIME_NAMES.contains(&col) || col.ends_with("_time") || col.ends_with("_at") || col.ends_with("_timestamp")
}

/// Unix seconds (2001–2286), milliseconds, microseconds or nanoseconds of those years.
fn looks_like_epoch(v: i128) -> bool {
    [1, 1_000, 1_000_000, 1_000_000_000].iter().any(|scale| (1_000_000_000 * scale..10_000_000_000 * scale).contains(&v))
}

/// The timestamp that sorts and partitions the table: a field named like one, else the one
/// seen in most samples.
fn event_time<'a>(columns: &'a [Column<'_>]) -> Option<&'a str> {
    let times = columns.iter().filter(|c| c.ty == "timestamp");
    let by_name = TIME_NAMES.iter().find_map(|n| times.clone().find(|c| c.name == *n));
    by_name.or_else(|| times.max_by_key(|c| (c.seen.present - c.seen.nulls, std::cmp::Reverse(c.seen.order)))).map(|c| c.name.as_str())
}

/// A drafted field.
struct Column<'a> {
    name: String,
    ty: String,
    key: &'a str,
    seen: &'a Seen,
}

fn render(name: &str, records: usize, fields: &[(String, Seen)]) -> String {
    let mut names = std::collections::HashSet::new();
    let columns: Vec<Column<'_>> = fields
        .iter()
        .map(|(key, seen)| {
            let mut col = snake_case(key);
            while !names.insert(col.clone()) {
                col.push('_');
            }
            let ty = seen.ty.as_ref().map_or_else(|| "string".to_string(), |g| type_name(g, &col));
            Column { name: col, ty, key, seen }
        })
        .collect();
    let time = event_time(&columns);
    let mut out = String::new();
    let _ = writeln!(out, "# Drafted by `lakeport schema infer` from {records} sample records. It works as written; review:");
    let _ = writeln!(out, "# - each `type` (a field seen only null or empty is a string; integers are 64-bit);");
    match time {
        Some(t) => {
            let _ = writeln!(out, "# - `{t}` is required: it sorts the ClickHouse table and gives `date` and `hour`,");
            let _ = writeln!(out, "#   which partition both sinks; other fields are nullable (mark `required` or set `default`);");
        }
        None => {
            let _ = writeln!(out, "# - no timestamp was found: the table is unsorted and unpartitioned; add one;");
        }
    }
    let _ = writeln!(out, "# - [clickhouse] order_by: lead with the columns analysts filter on (account, tenant, …);");
    let _ = writeln!(out, "# - descriptions: they become ClickHouse column comments. Then `lakeport schema check`.");
    let _ = writeln!(out, "name = {name:?}\nversion = 1\ndescription = \"\"\nunknown_fields = \"ignore\"");
    for Column { name: col, ty, key, seen } in &columns {
        let pct = seen.present * 100 / records;
        let _ = writeln!(out, "\n# in {pct}% of the samples, null or empty in {} of them", seen.nulls);
        let _ = writeln!(out, "[[field]]\nname = {col:?}\nsource = [{key:?}]\ntype = {ty:?}");
        if ty == "timestamp" {
            let _ = writeln!(out, "unit = \"auto\"");
        }
        if Some(col.as_str()) == time {
            let _ = writeln!(out, "required = true");
        }
        let _ = writeln!(out, "description = \"\"");
    }
    if let Some(ts) = time {
        let _ = writeln!(out, "\n[[derived]]\nname = \"date\"\nfrom = {ts:?}\nkind = \"date\"");
        let _ = writeln!(out, "\n[[derived]]\nname = \"hour\"\nfrom = {ts:?}\nkind = \"hour\"");
        let _ = writeln!(out, "\n[clickhouse]\nengine = \"MergeTree\"\norder_by = [{ts:?}]\npartition_by = \"date\"");
        let _ = writeln!(out, "\n[parquet]\npartition_by = [\"date\", \"hour\"]");
    } else {
        let _ = writeln!(out, "\n[clickhouse]\nengine = \"MergeTree\"\norder_by = []");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drafts_a_valid_schema() {
        let sample = br#"{"Datetime":"2026-11-23T07:01:02Z","SrcIP":"10.0.0.1","Port":53,"Count":3,"Tags":["a"],"Ids":[],"Ok":true,"Meta":{"a":1}}
{"Datetime":1795417262000000000,"SrcIP":"::1","Port":8080,"Count":-2,"Tags":[],"Ids":[7,null],"Ok":false,"Weird":1.5,"SeenAt":1795417262}
not json"#;
        let toml = infer_schema(sample, "demo").unwrap();
        let schema = Schema::from_toml_str(&toml, "t").unwrap();
        let field = |n: &str| schema.fields.iter().find(|f| f.name == n).unwrap();
        let ty = |n: &str| field(n).ty.to_string();
        assert_eq!(ty("datetime"), "timestamp", "integer or RFC 3339 text");
        assert!(field("datetime").required);
        assert_eq!(ty("seen_at"), "timestamp", "unix seconds under a time's name");
        assert_eq!(ty("src_ip"), "ip");
        assert_eq!(ty("port"), "uint16");
        assert_eq!(ty("count"), "int64", "not the samples' narrowest");
        assert_eq!(ty("tags"), "list<string>");
        assert_eq!(ty("ids"), "list<uint64>", "an empty list says nothing of the item type");
        assert_eq!(ty("ok"), "bool");
        assert_eq!(ty("meta"), "json");
        assert_eq!(ty("weird"), "float64");
        assert_eq!(schema.derived.len(), 2);
        assert_eq!(schema.clickhouse.order_by, ["datetime"]);
        assert!(schema.fields.iter().all(|f| f.description.is_empty()), "descriptions are the user's");
    }

    #[test]
    fn refuses_samples_without_objects() {
        assert!(infer_schema(b"[1]\n2\n", "demo").is_err());
        assert!(infer_schema(b"{}", "Bad Name").is_err());
    }
}
