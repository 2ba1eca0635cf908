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
use super::{store, LakeFile};
use crate::Error;

/// Reads the lake files of one dataset.
#[derive(Debug)]
pub struct LakeReader {
    store: Arc<dyn ObjectStore>,
    /// The decoder's columns: the dataset's, then the source columns.
    schema: SchemaRef,
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
    /// from the file, partition columns from their `column=value` directory (Hive's null
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
        let stored = tokio::task::spawn_blocking(move || -> Result<RecordBatch, parquet::errors::ParquetError> {
            let reader = ParquetRecordBatchReaderBuilder::try_new(bytes)?;
            let schema = reader.schema().clone();
            let batches = reader.with_batch_size(64 * 1024).build()?.collect::<Result<Vec<_>, _>>()?;
            Ok(concat_batches(&schema, &batches)?)
        })
        .await
        .expect("decoding does not panic")
        .map_err(|e| failed(e.to_string()))?;
        let rows = stored.num_rows();
        let (mut fields, mut columns): (Vec<Field>, Vec<ArrayRef>) = (Vec::new(), Vec::new());
        for field in self.schema.fields() {
            let name = field.name();
            let column = if self.partition_by.contains(name) {
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
