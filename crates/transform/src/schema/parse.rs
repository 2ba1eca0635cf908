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

    fn clickhouse(&self, schema: &Schema, raw: RawClickHouse) -> Result<ClickHouseHints, Error> {
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
        Ok(ClickHouseHints {
            engine: raw.engine,
            order_by: raw.order_by,
            partition_by: raw.partition_by,
            partition_granularity: raw.partition_granularity,
            ttl: raw.ttl,
        })
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
