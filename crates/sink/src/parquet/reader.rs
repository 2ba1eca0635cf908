//! [`LakeReader`]: a lake file read back as rows of the batch it was written from — its
//! columns, and the partition columns from its path (`lakeport backfill --from-lake`).

use std::sync::Arc;

use arrow::array::{new_null_array, ArrayRef, RecordBatch, StringArray};
use arrow::compute::{cast, concat_batches};
use arrow::datatypes::{Field, Schema, SchemaRef};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt as _};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use super::config::ValidLakeConfig;
use super::layout::NULL_PARTITION;
use super::writer::PARTITION_BY_KEY;
use super::{store, LakeFile};
use crate::Error;

/// Reads the lake files of one dataset.
#[derive(Debug)]
pub struct LakeReader {
    store: Arc<dyn ObjectStore>,
    /// The decoder's columns: the dataset's, then the source columns.
    schema: SchemaRef,
    /// The schema's partition columns.
    partition_by: Vec<String>,
}

impl LakeReader {
    /// Opens the store of `config` for the dataset of `schema`.
    ///
    /// # Errors
    /// As [`LakeWriter::new`](super::LakeWriter::new).
    pub fn new(config: &ValidLakeConfig, schema: &transform::Schema) -> Result<Self, Error> {
        let (store, _) = store::open(config)?;
        Ok(Self { store, schema: schema.arrow_schema_with_source(), partition_by: schema.parquet.partition_by.clone() })
    }

    /// The rows of `file` with the dataset's columns in the schema's order: stored columns
    /// from the file, the columns it was partitioned by (its `lakeport.partition_by`
    /// metadata; the schema's for files without) from their `column=value` directory (Hive's null
    /// directory gives null, or `""` where the column is not nullable). A column the file
    /// lacks (added to the schema later) is left out, so ClickHouse fills its default.
    ///
    /// # Errors
    /// [`Error::LakeRead`] when the object cannot be read or decoded, lacks a source column,
    /// holds a column of another type than the schema's, or its path lacks a partition
    /// directory or holds a value its column's type cannot take.
    pub async fn read(&self, file: &LakeFile) -> Result<RecordBatch, Error> {
        let failed = |reason: String| Error::LakeRead { path: file.path.clone(), source: reason.into() };
        let read_failed = |e: object_store::Error| Error::LakeRead { path: file.path.clone(), source: e.into() };
        let location = Path::parse(&file.path).map_err(|e| failed(e.to_string()))?;
        let bytes = self.store.get(&location).await.map_err(read_failed)?.bytes().await.map_err(read_failed)?;
        let (stored, partitioned) = tokio::task::spawn_blocking(move || -> Result<_, parquet::errors::ParquetError> {
            let reader = ParquetRecordBatchReaderBuilder::try_new(bytes)?;
            // The partition columns the file was written with (the schema's may have changed since).
            let metadata = reader.metadata().file_metadata().key_value_metadata();
            let partitioned = metadata.and_then(|kv| kv.iter().find(|kv| kv.key == PARTITION_BY_KEY)).map(|kv| kv.value.clone().unwrap_or_default());
            let partitioned = partitioned.map(|v| v.split(',').filter(|c| !c.is_empty()).map(str::to_string).collect::<Vec<_>>());
            let schema = reader.schema().clone();
            let batches = reader.with_batch_size(64 * 1024).build()?.collect::<Result<Vec<_>, _>>()?;
            Ok((concat_batches(&schema, &batches)?, partitioned))
        })
        .await
        .expect("decoding does not panic")
        .map_err(|e| failed(e.to_string()))?;
        let partitioned = partitioned.as_ref().unwrap_or(&self.partition_by);
        let rows = stored.num_rows();
        let (mut fields, mut columns): (Vec<Field>, Vec<ArrayRef>) = (Vec::new(), Vec::new());
        for field in self.schema.fields() {
            let name = field.name();
            let column = if partitioned.contains(name) {
                let value = partition_value(&file.path, name).ok_or_else(|| failed(format!("no `{name}=…` directory in the path")))?;
                let value = value.or_else(|| (!field.is_nullable()).then(String::new));
                match value {
                    None => new_null_array(field.data_type(), rows),
                    Some(v) => {
                        let text: ArrayRef = Arc::new(StringArray::from(vec![v.as_str(); rows]));
                        let typed = cast(&text, field.data_type()).map_err(|e| failed(format!("partition `{name}={v}`: {e}")))?;
                        if typed.null_count() > 0 {
                            return Err(failed(format!("partition `{name}={v}` is not a {}", field.data_type())));
                        }
                        typed
                    }
                }
            } else {
                match stored.column_by_name(name) {
                    Some(c) if c.data_type() == field.data_type() => c.clone(),
                    Some(c) => return Err(failed(format!("column `{name}` is {} in the file, {} in the schema", c.data_type(), field.data_type()))),
                    None if transform::SOURCE_COLUMNS.iter().any(|(s, _)| s == name) => return Err(failed(format!("no source column `{name}`"))),
                    None => continue,
                }
            };
            fields.push(field.as_ref().clone());
            columns.push(column);
        }
        RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).map_err(|e| failed(e.to_string()))
    }
}

/// The value of partition column `column` in `path` (`…/column=value/…`), `%XX`-unescaped;
/// `Some(None)` for Hive's null directory, `None` when the path has no such directory.
fn partition_value(path: &str, column: &str) -> Option<Option<String>> {
    let prefix = format!("{column}=");
    let segment = path.split('/').rev().skip(1).find_map(|s| s.strip_prefix(prefix.as_str()))?;
    if segment == NULL_PARTITION {
        return Some(None);
    }
    Some(Some(percent_encoding::percent_decode_str(segment).decode_utf8_lossy().into_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parquet::{lake_files, LakeConfig, LakeWriter};
    use crate::BatchId;

    /// Rows written under one `partition_by` read back the same under a schema that has since
    /// dropped it: the file's metadata names the columns its path holds.
    #[test]
    fn files_read_back_as_written_after_partition_by_changed() {
        let dir = tempfile::tempdir().unwrap();
        let schema = |partition_by: &str| {
            let text = format!("name = \"demo\"\nversion = 1\n[[field]]\nname = \"host\"\ntype = \"string\"\nrequired = true\n[[field]]\nname = \"day\"\ntype = \"date\"\nrequired = true\n[[field]]\nname = \"bytes\"\ntype = \"uint32\"\n[parquet]\npartition_by = [{partition_by}]\n");
            transform::Schema::from_toml_str(&text, "demo.toml").unwrap()
        };
        let (then, now) = (schema("\"host\", \"day\""), schema(""));
        let mut decoder = transform::Decoder::new(Arc::new(then.clone())).unwrap().with_source("t", 0);
        let mut rejects = Vec::new();
        for (offset, line) in [r#"{"host":"a/b=%","day":"2026-11-23","bytes":1}"#, r#"{"host":"..","day":"2026-11-24","bytes":2}"#, r#"{"host":"a/b=%","day":"2026-11-23","bytes":3}"#].iter().enumerate() {
            decoder.decode_at(line.as_bytes(), offset as i64, &mut rejects);
        }
        let batch = decoder.flush().unwrap();
        let config = LakeConfig::new(dir.path().to_str().unwrap()).validate().unwrap();
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(LakeWriter::new(&config, &then).unwrap().write(&batch, &BatchId { topic: "t".into(), partition: 0, first_offset: 0, last_offset: 2 })).unwrap();
        let reader = LakeReader::new(&config, &now).unwrap();
        let files = rt.block_on(lake_files(&config, "demo", |_| true)).unwrap();
        assert_eq!(files.len(), 2);
        let read: Vec<RecordBatch> = files.iter().map(|f| rt.block_on(reader.read(f)).unwrap()).collect();
        let read = concat_batches(&read[0].schema(), &read).unwrap();
        let sorted = arrow::compute::take_record_batch(&read, &arrow::compute::sort_to_indices(read.column_by_name("_offset").unwrap(), None, None).unwrap()).unwrap();
        let names = |b: &RecordBatch| b.schema().fields().iter().map(|f| (f.name().clone(), f.data_type().clone())).collect::<Vec<_>>();
        assert_eq!(names(&sorted), names(&batch));
        assert_eq!(sorted.columns(), batch.columns());
    }

    #[test]
    fn partition_values_come_back_from_the_path() {
        let path = "lake/ds/date=2026-11-23/host=a%2Fb%3D/ds-0-00000000000000000001-00000000000000000002-p000.parquet";
        assert_eq!(partition_value(path, "date"), Some(Some("2026-11-23".into())));
        assert_eq!(partition_value(path, "host"), Some(Some("a/b=".into())));
        assert_eq!(partition_value("lake/ds/host=__HIVE_DEFAULT_PARTITION__/x.parquet", "host"), Some(None));
        assert_eq!(partition_value(path, "hour"), None);
        // The file name is not a directory.
        assert_eq!(partition_value("lake/ds/hour=1.parquet", "hour"), None);
    }
}
