//! Reading a schema file and checking every rule of the schema language.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use serde::Deserialize;

use super::ident::check_ident;
use super::model::*;
use super::types::LogicalType;
use crate::decode::check_default;
use crate::Error;

/// Default for `max_record_bytes`: 1 MiB.
pub const DEFAULT_MAX_RECORD_BYTES: usize = 1 << 20;
/// Largest `max_record_bytes` accepted: 64 MiB.
pub const MAX_MAX_RECORD_BYTES: usize = 64 << 20;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSchema {
    name: String,
    version: u32,
    #[serde(default)]
    description: String,
    #[serde(default)]
    unknown_fields: UnknownFields,
    max_record_bytes: Option<usize>,
    #[serde(default, rename = "field")]
    fields: Vec<RawField>,
    #[serde(default)]
    derived: Vec<RawDerived>,
    #[serde(default)]
    clickhouse: RawClickHouse,
    #[serde(default)]
    parquet: RawParquet,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawField {
    name: String,
    source: Option<RawSource>,
    #[serde(rename = "type")]
    ty: String,
    #[serde(default)]
    required: bool,
    default: Option<toml::Value>,
    #[serde(default)]
    description: String,
    unit: Option<TimestampUnit>,
    #[serde(default)]
    trim: bool,
    #[serde(default)]
    lowercase: bool,
    #[serde(default)]
    lenient: bool,
    #[serde(default)]
    low_cardinality: bool,
    codec: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawSource {
    Path(String),
    Keys(Vec<String>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDerived {
    name: String,
    from: String,
    kind: DerivedKind,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawClickHouse {
    #[serde(default)]
    engine: Engine,
    #[serde(default)]
    order_by: Vec<String>,
    partition_by: Option<String>,
    #[serde(default)]
    partition_granularity: PartitionGranularity,
    ttl: Option<Ttl>,
    #[serde(default, rename = "index")]
    indexes: Vec<SkipIndex>,
    #[serde(default, rename = "rollup")]
    rollups: Vec<RawRollup>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRollup {
    name: String,
    time: String,
    interval: Interval,
    bucket: Option<String>,
    #[serde(default)]
    dimensions: Vec<String>,
    unnest: Option<Unnest>,
    measures: Vec<RawMeasure>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMeasure {
    name: String,
    #[serde(rename = "fn")]
    function: RawFunction,
    column: Option<String>,
    level: Option<f64>,
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
enum RawFunction {
    Count,
    Sum,
    Uniq,
    UniqExact,
    Quantile,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawParquet {
    #[serde(default)]
    partition_by: Vec<String>,
}

impl Schema {
    /// Reads and validates a schema file.
    ///
    /// # Errors
    /// [`Error::Io`] when the file cannot be read, [`Error::Syntax`] when it is not valid
    /// TOML of the schema language, [`Error::Invalid`] when a rule is broken.
    pub fn from_path(path: impl AsRef<Path>) -> Result<Self, Error> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io { path: path.into(), source })?;
        Self::from_toml_str(&text, &path.display().to_string())
    }

    /// Parses and validates schema text; `origin` names it in messages.
    ///
    /// # Errors
    /// As [`Schema::from_path`], without `Io`.
    pub fn from_toml_str(text: &str, origin: &str) -> Result<Self, Error> {
        let raw: RawSchema = toml::from_str(text).map_err(|e| Error::Syntax {
            origin: origin.to_string(),
            message: e.to_string().trim_end().to_string(),
        })?;
        Checker { origin }.schema(raw)
    }
}

struct Checker<'a> {
    origin: &'a str,
}

impl Checker<'_> {
    fn err(&self, place: impl Into<String>, problem: impl Into<String>, hint: impl Into<String>) -> Error {
        Error::Invalid {
            origin: self.origin.to_string(),
            place: place.into(),
            problem: problem.into(),
            hint: hint.into(),
        }
    }

    fn schema(&self, raw: RawSchema) -> Result<Schema, Error> {
        check_ident(&raw.name).map_err(|p| self.err("name", p.to_string(), "use a lowercase name such as `gateway_dns`"))?;
        if raw.version == 0 {
            return Err(self.err("version", "version 0 is not allowed", "start at version = 1"));
        }
        let max_record_bytes = raw.max_record_bytes.unwrap_or(DEFAULT_MAX_RECORD_BYTES);
        if max_record_bytes == 0 || max_record_bytes > MAX_MAX_RECORD_BYTES {
            return Err(self.err(
                "max_record_bytes",
                format!("{max_record_bytes} is out of range"),
                format!("use a value from 1 to {MAX_MAX_RECORD_BYTES}"),
            ));
        }
        if raw.fields.is_empty() {
            return Err(self.err("[[field]]", "the schema has no fields", "add at least one [[field]] table"));
        }
        let mut names = HashSet::new();
        let mut fields = Vec::with_capacity(raw.fields.len());
        for f in raw.fields {
            let field = self.field(f)?;
            if !names.insert(field.name.clone()) {
                return Err(self.err(format!("field \"{}\"", field.name), "the name is used twice", "give every column its own name"));
            }
            fields.push(field);
        }
        self.sources(&fields)?;
        let mut derived = Vec::with_capacity(raw.derived.len());
        for d in raw.derived {
            let place = format!("derived \"{}\"", d.name);
            check_ident(&d.name).map_err(|p| self.err(&place, p.to_string(), "use a lowercase name such as `date`"))?;
            if !names.insert(d.name.clone()) {
                return Err(self.err(&place, "the name is used twice", "give every column its own name"));
            }
            let from = fields
                .iter()
                .position(|f| f.name == d.from && f.ty == LogicalType::Timestamp)
                .ok_or_else(|| self.err(&place, format!("`from = \"{}\"` is not a timestamp field", d.from), "name a field of type timestamp"))?;
            derived.push(Derived { name: d.name, from, kind: d.kind });
        }
        let mut schema = Schema {
            name: raw.name,
            version: raw.version,
            description: raw.description,
            unknown_fields: raw.unknown_fields,
            max_record_bytes,
            fields,
            derived,
            clickhouse: ClickHouseHints::default(),
            parquet: ParquetHints { partition_by: raw.parquet.partition_by },
            origin: self.origin.to_string(),
        };
        schema.clickhouse = self.clickhouse(&schema, raw.clickhouse)?;
        self.parquet(&schema)?;
        Ok(schema)
    }

    fn field(&self, f: RawField) -> Result<Field, Error> {
        let place = format!("field \"{}\"", f.name);
        check_ident(&f.name).map_err(|p| self.err(&place, p.to_string(), "use a snake_case name such as `src_ip`"))?;
        let ty = LogicalType::parse(&f.ty).ok_or_else(|| {
            self.err(
                &place,
                format!("unknown type `{}`", f.ty),
                "use string, bool, int8…int64, uint8…uint64, float32, float64, timestamp, date, ip, json, list<T> of a scalar T, or map<string,string>",
            )
        })?;
        let source = match f.source {
            None => vec![f.name.clone()],
            Some(RawSource::Path(p)) => p.split('.').map(str::to_string).collect(),
            Some(RawSource::Keys(k)) => k,
        };
        if source.is_empty() || source.iter().any(String::is_empty) {
            return Err(self.err(&place, "`source` has an empty key", "write `source = \"Key\"`, `\"parent.child\"` or [\"key.with.dots\"]"));
        }
        let is_string = matches!(ty, LogicalType::String) || ty == LogicalType::List(Box::new(LogicalType::String));
        if (f.trim || f.lowercase || f.low_cardinality) && !is_string {
            return Err(self.err(&place, "`trim`, `lowercase` and `low_cardinality` apply to string fields only", "remove them or change the type"));
        }
        if f.unit.is_some() && ty != LogicalType::Timestamp {
            return Err(self.err(&place, "`unit` applies to timestamp fields only", "remove `unit`"));
        }
        if f.required && f.default.is_some() {
            return Err(self.err(&place, "a field cannot be both required and have a default", "remove one of them"));
        }
        let default = match f.default {
            None => None,
            Some(toml::Value::String(s)) => Some(DefaultValue::Str(s)),
            Some(toml::Value::Integer(i)) => Some(DefaultValue::Int(i)),
            Some(toml::Value::Float(x)) => Some(DefaultValue::Float(x)),
            Some(toml::Value::Boolean(b)) => Some(DefaultValue::Bool(b)),
            Some(other) => {
                let problem = if ty.is_scalar() && ty != LogicalType::Json { format!("the default {other} is not a string, number or bool") } else { format!("a {ty} field cannot have a default") };
                return Err(self.err(&place, problem, format!("give a default of type {ty}")));
            }
        };
        let field = Field {
            name: f.name,
            source,
            ty,
            required: f.required,
            default,
            description: f.description,
            unit: f.unit.unwrap_or_default(),
            trim: f.trim,
            lowercase: f.lowercase,
            lenient: f.lenient,
            low_cardinality: f.low_cardinality,
            codec: f.codec.map(|c| check_codec(&c).map_err(|p| self.err(&place, p, "write codecs as ClickHouse does, e.g. `Delta, ZSTD(3)`"))).transpose()?,
        };
        check_default(&field).map_err(|p| self.err(&place, p.to_string(), format!("give a default of type {}", field.ty)))?;
        Ok(field)
    }

    /// Two fields may not read the same key, nor one a key inside another's value.
    fn sources(&self, fields: &[Field]) -> Result<(), Error> {
        let mut seen: HashMap<&[String], &str> = HashMap::new();
        for f in fields {
            if let Some(other) = seen.insert(&f.source, &f.name) {
                return Err(self.err(format!("field \"{}\"", f.name), format!("reads the same source `{}` as field \"{other}\"", f.source_path()), "remove one of them"));
            }
        }
        for f in fields {
            for n in 1..f.source.len() {
                if let Some(parent) = seen.get(&f.source[..n]) {
                    return Err(self.err(
                        format!("field \"{}\"", f.name),
                        format!("its source `{}` lies inside field \"{parent}\"'s value", f.source_path()),
                        "read the parent as json, or only its children",
                    ));
                }
            }
        }
        Ok(())
    }

    fn clickhouse(&self, schema: &Schema, mut raw: RawClickHouse) -> Result<ClickHouseHints, Error> {
        for col in &raw.order_by {
            let place = "[clickhouse] order_by";
            let (ty, nullable) = schema.column_type(col).ok_or_else(|| self.err(place, format!("no column `{col}`"), "name a field or derived column"))?;
            if nullable {
                return Err(self.err(place, format!("column `{col}` is nullable; ClickHouse refuses nullable sorting keys"), format!("make `{col}` required or give it a default")));
            }
            if !ty.is_scalar() || ty == LogicalType::Json {
                return Err(self.err(place, format!("column `{col}` is a {ty}"), "sort by scalar columns only"));
            }
        }
        if let Some(col) = &raw.partition_by {
            match schema.column_type(col) {
                Some((LogicalType::Date | LogicalType::Timestamp, false)) => {}
                Some((_, true)) => return Err(self.err("[clickhouse] partition_by", format!("column `{col}` is nullable; ClickHouse refuses nullable partition keys"), "derive it from a required timestamp")),
                _ => return Err(self.err("[clickhouse] partition_by", format!("`{col}` is not a date or timestamp column"), "name a date, timestamp or derived date column")),
            }
        }
        if let Some(ttl) = &raw.ttl {
            match schema.column_type(&ttl.column) {
                Some((LogicalType::Date | LogicalType::Timestamp, false)) if ttl.days > 0 => {}
                _ => return Err(self.err("[clickhouse] ttl", format!("`{}` must be a non-nullable date or timestamp column and days ≥ 1", ttl.column), "name a required timestamp such as `datetime`")),
            }
        }
        for (i, ix) in raw.indexes.iter().enumerate() {
            let place = format!("[[clickhouse.index]] \"{}\"", ix.name);
            check_ident(&ix.name).map_err(|p| self.err(&place, p.to_string(), "use a lowercase name such as `query_name_bloom`"))?;
            if raw.indexes[..i].iter().any(|o| o.name == ix.name) {
                return Err(self.err(&place, "the name is used twice", "give every index its own name"));
            }
            match schema.column_type(&ix.column) {
                Some((LogicalType::Json | LogicalType::Map, _)) | None => return Err(self.err(&place, format!("`{}` is not a scalar or list column", ix.column), "name a field or derived column")),
                _ => {}
            }
            check_index_type(&ix.kind).map_err(|p| self.err(&place, p, "use minmax, set(N), bloom_filter, bloom_filter(0.01), tokenbf_v1(size, hashes, seed) or ngrambf_v1(n, size, hashes, seed)"))?;
            if ix.granularity == 0 {
                return Err(self.err(&place, "granularity 0", "use 1 or more granules per index entry"));
            }
        }
        let mut rollups: Vec<Rollup> = Vec::with_capacity(raw.rollups.len());
        let rollups_raw = std::mem::take(&mut raw.rollups);
        for r in rollups_raw {
            let rollup = self.rollup(schema, &raw, r)?;
            if rollups.iter().any(|o| o.name == rollup.name) {
                return Err(self.err(format!("[[clickhouse.rollup]] \"{}\"", rollup.name), "the name is used twice", "give every rollup its own name"));
            }
            rollups.push(rollup);
        }
        Ok(ClickHouseHints {
            engine: raw.engine,
            order_by: raw.order_by,
            partition_by: raw.partition_by,
            partition_granularity: raw.partition_granularity,
            ttl: raw.ttl,
            indexes: raw.indexes,
            rollups,
        })
    }

    fn rollup(&self, schema: &Schema, table: &RawClickHouse, raw: RawRollup) -> Result<Rollup, Error> {
        let (raw_partition, granularity, engine) = (&table.partition_by, table.partition_granularity, table.engine);
        let place = format!("[[clickhouse.rollup]] \"{}\"", raw.name);
        check_ident(&raw.name).map_err(|p| self.err(&place, p.to_string(), "use a lowercase name such as `gateway_dns_minute`"))?;
        if schema.column_type(&raw.time) != Some((LogicalType::Timestamp, false)) {
            return Err(self.err(&place, format!("`time = \"{}\"` is not a required timestamp column", raw.time), "name a required timestamp such as `datetime`"));
        }
        // The view writes a block's rows into the rollup's daily partitions: the table must
        // take the same days (or fewer) in one insert, or the view fails after the table
        // took the rows; and rows a merge removes must not have been counted.
        let daily = match raw_partition.as_deref().and_then(|p| schema.column(p)) {
            Some(ColumnRef::Derived(d)) => d.kind == DerivedKind::Date && schema.fields[d.from].name == raw.time,
            Some(ColumnRef::Field(f)) => f.name == raw.time,
            None => false,
        };
        if !daily || granularity != PartitionGranularity::Day || engine != Engine::MergeTree {
            return Err(self.err(
                &place,
                "a rollup needs a MergeTree table partitioned by day of its time column",
                format!("set [clickhouse] engine = \"MergeTree\", partition_by = a date derived from `{}` (or `{}` itself), partition_granularity = \"day\"", raw.time, raw.time),
            ));
        }
        let bucket = raw.bucket.unwrap_or_else(|| format!("{:?}", raw.interval).to_lowercase());
        // Names of the rollup's table must not be columns of the dataset: the view's
        // aliases would shadow them inside its aggregates.
        let mut own = HashSet::new();
        let mut new_name = |name: &str, what: &str| -> Result<(), Error> {
            check_ident(name).map_err(|p| self.err(&place, format!("{what} `{name}`: {p}"), "use a lowercase name"))?;
            if schema.column(name).is_some() || !own.insert(name.to_string()) {
                return Err(self.err(&place, format!("{what} `{name}` is already a column"), format!("name the {what} differently")));
            }
            Ok(())
        };
        new_name(&bucket, "bucket")?;
        for d in &raw.dimensions {
            let ok = match schema.column_type(d) {
                Some((LogicalType::Date, false)) => true,
                Some((t, _)) => t == LogicalType::String || t.is_integer(),
                None => return Err(self.err(&place, format!("dimension `{d}` is not a column"), "name a field or derived column")),
            };
            if !ok || raw.dimensions.iter().filter(|o| *o == d).count() > 1 {
                return Err(self.err(&place, format!("dimension `{d}` is listed twice or is not a string, integer or required date"), "group by each string or integer column once"));
            }
        }
        if let Some(u) = &raw.unnest {
            if !matches!(schema.column_type(&u.column), Some((LogicalType::List(item), _)) if item.is_text() || item.is_integer()) {
                return Err(self.err(&place, format!("unnest column `{}` is not a list of strings or integers", u.column), "name a list column such as `query_category_ids`"));
            }
            new_name(&u.name, "unnest name")?;
        }
        if raw.measures.is_empty() {
            return Err(self.err(&place, "no measures", "add `measures = [{ name = \"rows\", fn = \"count\" }]`"));
        }
        let mut measures = Vec::with_capacity(raw.measures.len());
        for m in raw.measures {
            new_name(&m.name, "measure")?;
            let what = format!("measure `{}`", m.name);
            let column = |numeric: bool| -> Result<String, Error> {
                let c = m.column.clone().ok_or_else(|| self.err(&place, format!("{what} names no column"), "add `column = \"…\"`"))?;
                match schema.column_type(&c) {
                    Some((t, _)) if t.is_integer() || matches!(t, LogicalType::Float32 | LogicalType::Float64) => Ok(c),
                    Some((t, _)) if !numeric && t.is_scalar() && t != LogicalType::Json => Ok(c),
                    _ => Err(self.err(&place, format!("{what}: `{c}` is not a {} column", if numeric { "numeric" } else { "scalar" }), "name a column of the dataset")),
                }
            };
            let aggregate = match m.function {
                RawFunction::Count if m.column.is_none() => Aggregate::Count,
                RawFunction::Count => return Err(self.err(&place, format!("{what}: count takes no column"), "remove `column`")),
                RawFunction::Sum => Aggregate::Sum(column(true)?),
                RawFunction::Uniq => Aggregate::Uniq(column(false)?),
                RawFunction::UniqExact => Aggregate::UniqExact(column(false)?),
                RawFunction::Quantile => match m.level {
                    Some(level) if level > 0.0 && level < 1.0 => Aggregate::Quantile { level, column: column(true)? },
                    _ => return Err(self.err(&place, format!("{what}: quantile needs a level between 0 and 1"), "add `level = 0.95`")),
                },
            };
            if m.function != RawFunction::Quantile && m.level.is_some() {
                return Err(self.err(&place, format!("{what}: only quantile takes a level"), "remove `level`"));
            }
            measures.push(Measure { name: m.name, aggregate });
        }
        Ok(Rollup { name: raw.name, time: raw.time, interval: raw.interval, bucket, dimensions: raw.dimensions, unnest: raw.unnest, measures })
    }

    fn parquet(&self, schema: &Schema) -> Result<(), Error> {
        let mut seen = HashSet::new();
        for col in &schema.parquet.partition_by {
            let place = "[parquet] partition_by";
            if !seen.insert(col) {
                return Err(self.err(place, format!("`{col}` is listed twice"), "list each column once"));
            }
            match schema.column_type(col) {
                Some((LogicalType::String | LogicalType::Bool | LogicalType::Date, _)) => {}
                Some((t, _)) if t.is_scalar() && !matches!(t, LogicalType::Float32 | LogicalType::Float64 | LogicalType::Timestamp | LogicalType::Json | LogicalType::Ip) => {}
                Some((t, _)) => return Err(self.err(place, format!("`{col}` is a {t}, which makes a poor partition"), "partition by a string, integer, bool or derived date/hour column")),
                None => return Err(self.err(place, format!("no column `{col}`"), "name a field or derived column")),
            }
        }
        Ok(())
    }
}

/// `NAME` or `NAME(args)`, with its name and numeric arguments (`None` when it is not that shape).
fn call(item: &str) -> Option<(&str, Vec<f64>)> {
    let item = item.trim();
    let Some((name, rest)) = item.split_once('(') else { return Some((item, Vec::new())) };
    let args = rest.strip_suffix(')')?;
    let args: Option<Vec<f64>> = args.split(',').map(|a| a.trim().parse::<f64>().ok()).collect();
    Some((name.trim(), args?))
}

/// A column's codec list: ClickHouse's codecs, each with its arguments in range; it comes
/// back in one spelling (`Delta(4), ZSTD(3)`).
fn check_codec(codec: &str) -> Result<String, String> {
    let mut out = Vec::new();
    // No codec takes more than one argument: a comma always ends a codec.
    for item in codec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (name, args) = call(item).ok_or_else(|| format!("codec `{item}` is not NAME or NAME(number)"))?;
        let ok = match (name, args.as_slice()) {
            ("NONE" | "LZ4" | "DoubleDelta" | "Gorilla" | "T64" | "FPC", []) => true,
            ("ZSTD", []) | ("LZ4HC", []) | ("Delta", []) => true,
            ("ZSTD", [l]) => (1.0..=22.0).contains(l) && l.fract() == 0.0,
            ("LZ4HC", [l]) => (1.0..=12.0).contains(l) && l.fract() == 0.0,
            ("Delta", [b]) => [1.0, 2.0, 4.0, 8.0].contains(b),
            _ => false,
        };
        if !ok {
            return Err(format!("codec `{item}`: not one of NONE, LZ4, LZ4HC(1-12), ZSTD(1-22), Delta(1|2|4|8), DoubleDelta, Gorilla, T64, FPC"));
        }
        out.push(item.replace(' ', ""));
    }
    if out.is_empty() {
        return Err("no codec".into());
    }
    Ok(out.join(", "))
}

/// A skip index type ClickHouse knows, with its arguments' count.
fn check_index_type(kind: &str) -> Result<(), String> {
    let (name, args) = call(kind).ok_or_else(|| format!("`{kind}` is not TYPE or TYPE(numbers)"))?;
    let ok = match name {
        "minmax" => args.is_empty(),
        "set" => args.len() == 1 && args[0] >= 0.0,
        "bloom_filter" => args.is_empty() || (args.len() == 1 && args[0] > 0.0 && args[0] < 1.0),
        "tokenbf_v1" => args.len() == 3,
        "ngrambf_v1" => args.len() == 4,
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(format!("index type `{kind}` is not one lakeport knows, or has the wrong arguments"))
    }
}
