//! [`LakeWriter`]: a decoded batch → one Parquet object per Hive partition it touches.

use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt as _};

use super::config::ValidLakeConfig;
use super::partition::{count, group_rows, partitionable, split};
use super::upload::UploadOptions;
use super::{object, store, WriterOptions};
use crate::{BatchId, Error};

/// The key-value metadata key of a lake file's partition columns, comma-separated.
pub(super) const PARTITION_BY_KEY: &str = "lakeport.partition_by";

/// Writes the batches of one dataset to the lake. Cheap to share: `write` takes `&self` and
/// may run for several batches at once.
///
/// ```
/// use std::sync::Arc;
/// use object_store::{memory::InMemory, path::Path, ObjectStoreExt as _};
/// use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
/// use sink::{parquet::{LakeConfig, LakeWriter}, BatchId};
/// use transform::{Decoder, Schema};
///
/// let schema = Schema::from_toml_str(r#"
///     name = "demo"
///     version = 1
///     [[field]]
///     name = "host"
///     type = "string"
///     [[field]]
///     name = "bytes"
///     type = "uint32"
///     [parquet]
///     partition_by = ["host"]
/// "#, "demo.toml").unwrap();
/// let mut decoder = Decoder::new(Arc::new(schema.clone())).unwrap();
/// decoder.decode(b"{\"host\":\"a/b\",\"bytes\":1}\n{\"host\":\"c\",\"bytes\":2}\n");
/// let batch = decoder.flush().unwrap();
///
/// let store = Arc::new(InMemory::new());
/// let config = LakeConfig::new("memory://").validate().unwrap();
/// let writer = LakeWriter::with_store(store.clone(), Path::from("lake"), &config, &schema).unwrap();
/// let id = BatchId { topic: "demo".into(), partition: 0, first_offset: 10, last_offset: 11 };
/// let rt = tokio::runtime::Runtime::new().unwrap();
/// let files = rt.block_on(writer.write(&batch, &id)).unwrap();
/// assert_eq!(files[0].path.as_ref(), "lake/demo/host=a%2Fb/demo-0-00000000000000000010-00000000000000000011-p000.parquet");
/// assert_eq!(files[1].path.as_ref(), "lake/demo/host=c/demo-0-00000000000000000010-00000000000000000011-p000.parquet");
///
/// let bytes = rt.block_on(async { store.get(&files[1].path).await?.bytes().await }).unwrap();
/// let read = ParquetRecordBatchReaderBuilder::try_new(bytes).unwrap().build().unwrap().next().unwrap().unwrap();
/// assert_eq!(read.column(0).as_ref(), batch.column(1).slice(1, 1).as_ref()); // `host` is in the path only
/// ```
#[derive(Debug)]
pub struct LakeWriter {
    store: Arc<dyn ObjectStore>,
    /// `<prefix>/<dataset>`.
    root: Path,
    dataset: String,
    /// The dataset's Arrow schema, as the decoder produces it.
    schema: SchemaRef,
    /// Partition columns: index in `schema` and name, in path order.
    partition_by: Vec<(usize, String)>,
    encoding: WriterOptions,
    upload: UploadOptions,
    max_file_rows: usize,
}

/// An object written by [`LakeWriter::write`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrittenFile {
    /// Its path in the store (including the lake's prefix).
    pub path: Path,
    /// Rows it holds.
    pub rows: usize,
    /// Its size in bytes.
    pub bytes: u64,
}

impl LakeWriter {
    /// Opens the store `config` names (see [`LakeConfig::url`](super::LakeConfig::url)) for
    /// the dataset of `schema`.
    ///
    /// # Errors
    /// [`Error::LakeStore`] when the store cannot be set up (e.g. a malformed bucket name),
    /// [`Error::Io`] when a local lake folder cannot be created, [`Error::LakeSchema`] as in
    /// [`LakeWriter::with_store`].
    pub fn new(config: &ValidLakeConfig, schema: &transform::Schema) -> Result<Self, Error> {
        let (store, prefix) = store::open(config)?;
        Self::with_store(store, prefix, config, schema)
    }

    /// Writes under `prefix` of an existing `store` (the URL of `config` is not used).
    ///
    /// # Errors
    /// [`Error::LakeSchema`] when a partition column of `schema` is not a string, integer,
    /// bool or date column.
    pub fn with_store(store: Arc<dyn ObjectStore>, prefix: Path, config: &ValidLakeConfig, schema: &transform::Schema) -> Result<Self, Error> {
        let arrow_schema = schema.arrow_schema();
        let partition_by = schema
            .parquet
            .partition_by
            .iter()
            .map(|name| match arrow_schema.index_of(name) {
                Ok(i) if partitionable(arrow_schema.field(i).data_type()) => Ok((i, name.clone())),
                Ok(i) => Err(format!("partition column `{name}` is {}; use a string, integer, bool or date column", arrow_schema.field(i).data_type())),
                Err(_) => Err(format!("partition column `{name}` is not a column of the dataset")),
            })
            .collect::<Result<Vec<_>, _>>()
            .and_then(|columns| match columns.len() < arrow_schema.fields().len() {
                true => Ok(columns),
                false => Err("every column is a partition column, leaving files without columns; keep one out of `partition_by`".into()),
            })
            .map_err(|problem| Error::LakeSchema { dataset: schema.name.clone(), problem })?;
        let c = &config.config;
        Ok(Self {
            store,
            root: prefix.join(schema.name.as_str()),
            dataset: schema.name.clone(),
            schema: arrow_schema,
            partition_by,
            encoding: config.writer_options(),
            upload: UploadOptions {
                part_bytes: c.multipart_part_bytes,
                max_concurrency: c.max_concurrent_uploads,
                hidden_staging: matches!(config.location, super::config::Location::Local(_)),
            },
            max_file_rows: c.max_file_rows,
        })
    }

    /// Writes `batch`, whose rows come from `id`: one object per Hive partition directory its
    /// rows fall in (more when a directory gets over `max_file_rows` rows), named after `id`,
    /// so writing the same batch again replaces the same objects. Partition columns are in
    /// the path, not in the files. The batch has the dataset's columns, optionally followed
    /// by more (such as the decoder's source columns), which are stored too. Returns the
    /// objects in path order; an empty batch writes nothing.
    ///
    /// # Errors
    /// [`Error::LakeSchema`] when `batch` does not start with the dataset's columns,
    /// [`Error::Parquet`] when encoding fails, [`Error::LakeUpload`] when the store failed
    /// (after its retries). Objects written before the failure stay; write the batch again.
    pub async fn write(&self, batch: &RecordBatch, id: &BatchId) -> Result<Vec<WrittenFile>, Error> {
        let schema_error = |problem: String| Error::LakeSchema { dataset: self.dataset.clone(), problem };
        let fields = batch.schema_ref().fields();
        if fields.len() < self.schema.fields().len() || fields[..self.schema.fields().len()] != self.schema.fields()[..] {
            return Err(schema_error(format!("batch of {id} does not start with the dataset's columns and types")));
        }
        if batch.num_rows() == 0 {
            return Ok(Vec::new());
        }
        let groups = group_rows(batch, &self.partition_by).map_err(|e| schema_error(e.to_string()))?;
        let stored: Vec<usize> = (0..fields.len()).filter(|i| !self.partition_by.iter().any(|(p, _)| p == i)).collect();
        let stored = batch.project(&stored).map_err(|e| schema_error(e.to_string()))?;
        let metadata = self.metadata(id);
        let mut written = Vec::new();
        for (segments, rows) in groups {
            for (part, rows) in split(&rows, self.max_file_rows).into_iter().enumerate() {
                let path = super::layout::object_path(&self.root, &segments, id, part);
                let props = self.encoding.properties(stored.schema_ref(), &metadata);
                let bytes = object::write(&self.store, &path, stored.clone(), &rows, props, self.upload).await?;
                tracing::debug!(%path, rows = count(&rows), bytes, batch = %id, "lake file written");
                written.push(WrittenFile { path, rows: count(&rows), bytes });
            }
        }
        Ok(written)
    }

    /// Deletes objects an earlier write of a batch left that its final write did not
    /// replace (when rows were taken out of the batch, a partition can lose all its rows).
    ///
    /// # Errors
    /// [`Error::LakeUpload`] when the store refuses a delete after its retries.
    pub async fn remove(&self, paths: &[Path]) -> Result<(), Error> {
        for path in paths {
            match self.store.delete(path).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(source) => return Err(Error::LakeUpload { path: path.to_string(), source }),
            }
        }
        Ok(())
    }

    /// Key-value metadata of the files of batch `id` (the dataset and schema version come
    /// from the schema).
    fn metadata(&self, id: &BatchId) -> Vec<(String, String)> {
        let partition_by: Vec<&str> = self.partition_by.iter().map(|(_, name)| name.as_str()).collect();
        [
            ("lakeport.source_topic", id.topic.clone()),
            ("lakeport.source_partition", id.partition.to_string()),
            ("lakeport.first_offset", id.first_offset.to_string()),
            ("lakeport.last_offset", id.last_offset.to_string()),
            (PARTITION_BY_KEY, partition_by.join(",")),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }
}
