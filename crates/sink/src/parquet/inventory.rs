//! What the lake holds, batch by batch: the rows of every file, read from the footers of
//! the objects under `<root>/<dataset>/`, keyed by the batch their name carries.

use futures::TryStreamExt as _;
use object_store::{ObjectStore as _, ObjectStoreExt as _};
use parquet::file::metadata::{FooterTail, ParquetMetaDataReader};

use super::config::ValidLakeConfig;
use super::store;
use crate::{BatchId, Error};

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

/// Every Parquet file of `dataset` in the lake of `config`, with its rows.
///
/// # Errors
/// [`Error::LakeStore`] when the store cannot be opened, [`Error::LakeRead`] when a listing
/// or a footer cannot be read; a `.parquet` object whose name is not a batch's is an
/// [`Error::LakeRead`] too (something else writes there).
pub async fn lake_files(config: &ValidLakeConfig, dataset: &str) -> Result<Vec<LakeFile>, Error> {
    let (store, prefix) = store::open(config)?;
    let root = prefix.join(dataset);
    let read_error = |path: &str, source: Box<dyn std::error::Error + Send + Sync>| Error::LakeRead { path: path.to_string(), source };
    let objects: Vec<_> = store.list(Some(&root)).try_collect().await.map_err(|e| read_error(root.as_ref(), e.into()))?;
    let mut files = Vec::new();
    for object in objects.into_iter().filter(|o| o.location.as_ref().ends_with(".parquet")) {
        let path = object.location.to_string();
        let name = object.location.filename().unwrap_or_default();
        let batch = batch_of(name).ok_or_else(|| read_error(&path, "the name is not <topic>-<partition>-<first>-<last>-pNNN.parquet".into()))?;
        // The footer only: its last 8 bytes give the length of the metadata before them.
        let tail = store.get_range(&object.location, object.size.saturating_sub(8)..object.size).await.map_err(|e| read_error(&path, e.into()))?;
        let tail = FooterTail::try_new(&tail[..].try_into().map_err(|_| read_error(&path, "shorter than a Parquet footer".into()))?).map_err(|e| read_error(&path, e.into()))?;
        let start = object.size.saturating_sub(8 + tail.metadata_length() as u64);
        let metadata = store.get_range(&object.location, start..object.size - 8).await.map_err(|e| read_error(&path, e.into()))?;
        let metadata = ParquetMetaDataReader::decode_metadata(&metadata).map_err(|e| read_error(&path, e.into()))?;
        let rows = u64::try_from(metadata.file_metadata().num_rows()).unwrap_or(0);
        files.push(LakeFile { batch, path, rows });
    }
    Ok(files)
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
}
