//! What the lake holds, batch by batch: the rows of every file, read from the footers of
//! the objects under `<root>/<dataset>/`, keyed by the batch their name carries.

use futures::{StreamExt as _, TryStreamExt as _};
use object_store::{ObjectMeta, ObjectStore, ObjectStoreExt as _};
use parquet::file::metadata::{FooterTail, ParquetMetaDataReader};

use super::config::ValidLakeConfig;
use super::store;
use crate::{BatchId, Error};

/// Footers read at once.
const CONCURRENT_READS: usize = 16;

/// Bytes read from the end of a file at first: the whole footer of most files in one request.
const FOOTER_GUESS: u64 = 64 * 1024;

/// One lake file of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LakeFile {
    /// The batch its name carries.
    pub batch: BatchId,
    /// Its path in the store.
    pub path: String,
    /// Rows in its footer.
    pub rows: u64,
}

/// The Parquet files of `dataset` in the lake of `config` whose batch is `wanted`, with
/// their rows (footers read concurrently; the others' are not read).
///
/// # Errors
/// [`Error::LakeStore`] when the store cannot be opened, [`Error::LakeRead`] when a listing
/// or a footer cannot be read; a `.parquet` object whose name is not a batch's is an
/// [`Error::LakeRead`] too (something else writes there).
pub async fn lake_files(config: &ValidLakeConfig, dataset: &str, wanted: impl Fn(&BatchId) -> bool) -> Result<Vec<LakeFile>, Error> {
    let (store, prefix) = store::open(config)?;
    let root = prefix.join(dataset);
    let objects: Vec<_> = store.list(Some(&root)).try_collect().await.map_err(|e| read_error(root.as_ref(), e.into()))?;
    let mut named = Vec::new();
    for object in objects.into_iter().filter(|o| o.location.as_ref().ends_with(".parquet")) {
        let name = object.location.filename().unwrap_or_default();
        let batch = batch_of(name).ok_or_else(|| read_error(object.location.as_ref(), "the name is not <topic>-<partition>-<first>-<last>-pNNN.parquet".into()))?;
        if wanted(&batch) {
            named.push((batch, object));
        }
    }
    let store = &*store;
    futures::stream::iter(named)
        .map(|(batch, object)| async move { Ok(LakeFile { batch, rows: footer_rows(store, &object).await?, path: object.location.to_string() }) })
        .buffer_unordered(CONCURRENT_READS)
        .try_collect()
        .await
}

/// The rows a file's footer counts: its last [`FOOTER_GUESS`] bytes, and the rest of the
/// metadata only when it is longer.
async fn footer_rows(store: &dyn ObjectStore, object: &ObjectMeta) -> Result<u64, Error> {
    let (path, size) = (object.location.as_ref(), object.size);
    let end = store.get_range(&object.location, size.saturating_sub(FOOTER_GUESS)..size).await.map_err(|e| read_error(path, e.into()))?;
    let short = || read_error(path, "shorter than a Parquet footer".into());
    let last: &[u8; 8] = end.len().checked_sub(8).and_then(|at| end[at..].try_into().ok()).ok_or_else(short)?;
    // The last 8 bytes give the length of the metadata before them.
    let tail = FooterTail::try_new(last).map_err(|e| read_error(path, e.into()))?;
    let length = tail.metadata_length() as u64;
    let start = size.checked_sub(8 + length).ok_or_else(short)?;
    let metadata = match (end.len() as u64).checked_sub(8 + length) {
        Some(at) => end.slice(at as usize..end.len() - 8),
        None => store.get_range(&object.location, start..size - 8).await.map_err(|e| read_error(path, e.into()))?,
    };
    let metadata = ParquetMetaDataReader::decode_metadata(&metadata).map_err(|e| read_error(path, e.into()))?;
    Ok(u64::try_from(metadata.file_metadata().num_rows()).unwrap_or(0))
}

fn read_error(path: &str, source: Box<dyn std::error::Error + Send + Sync>) -> Error {
    Error::LakeRead { path: path.to_string(), source }
}

/// The batch of a file name `<escaped topic>-<partition>-<first>-<last>-pNNN.parquet`.
fn batch_of(name: &str) -> Option<BatchId> {
    let (token, part) = name.strip_suffix(".parquet")?.rsplit_once('-')?;
    part.strip_prefix('p')?.parse::<u32>().ok()?;
    BatchId::from_escaped_token(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_give_back_their_batch() {
        let id = BatchId { topic: "_dns-logs.v2".into(), partition: 3, first_offset: 7, last_offset: 1234 };
        let path = super::super::layout::object_path(&object_store::path::Path::from("lake/ds"), &["date=2026-11-23".into()], &id, 2);
        assert_eq!(batch_of(path.filename().unwrap()), Some(id));
        assert_eq!(batch_of("x-1-2-p000.parquet"), None);
        assert_eq!(batch_of("notes.parquet"), None);
    }

    /// A footer within the first read, one beyond it (a second read), and files too short.
    #[test]
    fn footers_of_every_length_give_their_rows() {
        use arrow::array::{ArrayRef, Int64Array, RecordBatch};
        use parquet::arrow::ArrowWriter;
        use parquet::file::metadata::KeyValue;
        use parquet::file::properties::WriterProperties;
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let store = object_store::memory::InMemory::new();
        let rows = |bytes: Vec<u8>| {
            let path = object_store::path::Path::from("f.parquet");
            rt.block_on(async {
                store.put(&path, bytes.into()).await.unwrap();
                footer_rows(&store, &store.head(&path).await.unwrap()).await
            })
        };
        for note in [0, 2 * FOOTER_GUESS as usize] {
            let batch = RecordBatch::try_from_iter([("n", std::sync::Arc::new(Int64Array::from(vec![1, 2, 3])) as ArrayRef)]).unwrap();
            let properties = WriterProperties::builder().set_key_value_metadata(Some(vec![KeyValue::new("note".into(), "x".repeat(note))])).build();
            let mut bytes = Vec::new();
            let mut writer = ArrowWriter::try_new(&mut bytes, batch.schema(), Some(properties)).unwrap();
            writer.write(&batch).unwrap();
            writer.close().unwrap();
            assert_eq!(rows(bytes.clone()).unwrap(), 3, "a footer of {note} more bytes");
            // Only the footer's length left: the metadata it names is not there.
            let cut = bytes[bytes.len() - 8..].to_vec();
            assert!(matches!(rows(cut), Err(Error::LakeRead { .. })));
        }
        assert!(matches!(rows(b"PAR1".to_vec()), Err(Error::LakeRead { .. })));
    }
}
