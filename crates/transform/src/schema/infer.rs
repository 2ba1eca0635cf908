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
            for g in items.iter().map(guess) {
                match g {
                    Some(g @ (Guess::Bool | Guess::Int { .. } | Guess::Float | Guess::Text(_))) => {
                        item = Some(match item { None => g, Some(p) => merge(p, g) });
                    }
                    _ => return Some(Guess::Json),
                }
            }
            match item {
                Some(Guess::Json) => Guess::Json,
                Some(i) => Guess::List(Box::new(i)),
                None => Guess::List(Box::new(Guess::Text(TextKind::String))),
            }
        }
        Value::Object(m) if m.values().all(Value::is_string) => Guess::Map,
        Value::Object(_) => Guess::Json,
    })
}

fn merge(a: Guess, b: Guess) -> Guess {
    match (a, b) {
        (a, b) if a == b => a,
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

fn type_name(g: &Guess) -> String {
    match g {
        Guess::Bool => "bool".into(),
        Guess::Int { min, max } if *min >= 0 => {
            let t = [(u8::MAX as i128, "uint8"), (u16::MAX as i128, "uint16"), (u32::MAX as i128, "uint32")]
                .iter()
                .find(|(m, _)| max <= m)
                .map_or("uint64", |(_, t)| t);
            t.into()
        }
        Guess::Int { min, max } => {
            if *min >= i32::MIN as i128 && *max <= i32::MAX as i128 { "int32".into() } else { "int64".into() }
        }
        Guess::Float => "float64".into(),
        Guess::Text(TextKind::Ip) => "ip".into(),
        Guess::Text(TextKind::Timestamp) => "timestamp".into(),
        Guess::Text(TextKind::String) => "string".into(),
        Guess::List(i) => format!("list<{}>", type_name(i)),
        Guess::Map => "map<string,string>".into(),
        Guess::Json => "json".into(),
    }
}

fn render(name: &str, records: usize, fields: &[(String, Seen)]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Draft inferred by `lakeport schema infer` from {records} sample records: check every type,");
    let _ = writeln!(out, "# mark required fields, write descriptions, and set the storage hints.");
    let _ = writeln!(out, "name = {name:?}\nversion = 1\ndescription = \"\"\nunknown_fields = \"ignore\"");
    let mut names = std::collections::HashSet::new();
    let mut timestamp = None;
    for (key, seen) in fields {
        let mut col = snake_case(key);
        while !names.insert(col.clone()) {
            col.push('_');
        }
        let ty = seen.ty.as_ref().map_or_else(|| "string".to_string(), type_name);
        if ty == "timestamp" && timestamp.is_none() {
            timestamp = Some(col.clone());
        }
        let pct = seen.present * 100 / records;
        let _ = writeln!(
            out,
            "\n[[field]]\nname = {col:?}\nsource = [{key:?}]\ntype = {ty:?}\ndescription = \"Present in {pct}% of samples, null or empty in {} of them.\"",
            seen.nulls
        );
    }
    if let Some(ts) = timestamp {
        let _ = writeln!(out, "\n[[derived]]\nname = \"date\"\nfrom = {ts:?}\nkind = \"date\"");
        let _ = writeln!(out, "\n[[derived]]\nname = \"hour\"\nfrom = {ts:?}\nkind = \"hour\"");
        let _ = writeln!(out, "\n[clickhouse]\nengine = \"MergeTree\"\norder_by = []\npartition_by = \"date\"");
        let _ = writeln!(out, "\n[parquet]\npartition_by = [\"date\", \"hour\"]");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drafts_a_valid_schema() {
        let sample = br#"{"Datetime":"2026-11-23T07:01:02Z","SrcIP":"10.0.0.1","Port":53,"Tags":["a"],"Ok":true,"Meta":{"a":1}}
{"Datetime":"2026-11-23T08:01:02Z","SrcIP":"::1","Port":70000,"Tags":[],"Ok":false,"Weird":1.5}
not json"#;
        let toml = infer_schema(sample, "demo").unwrap();
        let schema = Schema::from_toml_str(&toml, "t").unwrap();
        let ty = |n: &str| schema.fields.iter().find(|f| f.name == n).unwrap().ty.to_string();
        assert_eq!(ty("datetime"), "timestamp");
        assert_eq!(ty("src_ip"), "ip");
        assert_eq!(ty("port"), "uint32");
        assert_eq!(ty("tags"), "list<string>");
        assert_eq!(ty("ok"), "bool");
        assert_eq!(ty("meta"), "json");
        assert_eq!(ty("weird"), "float64");
        assert_eq!(schema.derived.len(), 2);
    }

    #[test]
    fn refuses_samples_without_objects() {
        assert!(infer_schema(b"[1]\n2\n", "demo").is_err());
        assert!(infer_schema(b"{}", "Bad Name").is_err());
    }
}
