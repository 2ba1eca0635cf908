//! One lake file: rows encoded to Parquet off the async runtime, one row group at a time,
//! each uploaded as soon as it is complete.

use std::ops::Range;
use std::sync::Arc;

use arrow::array::RecordBatch;
use bytes::Bytes;
use object_store::path::Path;
use object_store::ObjectStore;
use parquet::arrow::ArrowWriter;
use parquet::errors::ParquetError;
use parquet::file::properties::WriterProperties;

use super::partition::{gather, split, Rows};
use super::upload::{Upload, UploadOptions};
use crate::Error;

/// Rows handed to the encoder at a time: its row-group byte limit is checked between slices.
const SLICE_ROWS: usize = 8192;

/// Encodes `rows` of `batch` as one Parquet file at `path` and uploads it; returns its size
/// in bytes.
///
/// The object appears whole or not at all (see [`Upload`]). In memory at most: the row group
/// being encoded, the previous one being uploaded (its parts are slices of it, at most
/// `max_concurrency` in flight) and less than one part waiting to fill.
pub(super) async fn write(
    store: &Arc<dyn ObjectStore>,
    path: &Path,
    batch: RecordBatch,
    rows: &[Range<usize>],
    props: WriterProperties,
    options: UploadOptions,
) -> Result<u64, Error> {
    let writer = ArrowWriter::try_new(Vec::new(), batch.schema(), Some(props)).map_err(|e| encode_error(path, e))?;
    let encoder = Encoder { writer, batch, slices: split(rows, SLICE_ROWS).into_iter() };
    let mut upload = Upload::new(Arc::clone(store), path.clone(), options);
    match encode(encoder, &mut upload, path).await {
        Ok(size) => upload.finish().await.map(|()| size).map_err(|e| upload_error(path, e)),
        Err(e) => {
            upload.abort().await;
            Err(e)
        }
    }
}

/// Runs the encoder step by step on the blocking pool, handing each step's bytes to `upload`.
async fn encode(mut encoder: Encoder, upload: &mut Upload, path: &Path) -> Result<u64, Error> {
    let mut size = 0;
    loop {
        let joined = tokio::task::spawn_blocking(move || {
            let step = encoder.step();
            (encoder, step)
        })
        .await;
        let (returned, step) = match joined {
            Ok(done) => done,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => return Err(encode_error(path, ParquetError::External(Box::new(e)))),
        };
        encoder = returned;
        let (bytes, done) = step.map_err(|e| encode_error(path, e))?;
        size += bytes.len() as u64;
        upload.put(bytes).await.map_err(|e| upload_error(path, e))?;
        if done {
            return Ok(size);
        }
    }
}

fn encode_error(path: &Path, source: ParquetError) -> Error {
    Error::Parquet { path: path.as_ref().into(), source }
}

fn upload_error(path: &Path, source: object_store::Error) -> Error {
    Error::LakeUpload { path: path.to_string(), source }
}

/// The encoder's state, moved to a blocking thread for each step.
struct Encoder {
    writer: ArrowWriter<Vec<u8>>,
    batch: RecordBatch,
    slices: std::vec::IntoIter<Rows>,
}

impl Encoder {
    /// Encodes slices until a row group is complete and returns its bytes, or, once every
    /// row is written, finishes the file and returns the rest with `true`.
    fn step(&mut self) -> Result<(Bytes, bool), ParquetError> {
        let row_groups = self.writer.flushed_row_groups().len();
        for slice in self.slices.by_ref() {
            self.writer.write(&gather(&self.batch, &slice)?)?;
            if self.writer.flushed_row_groups().len() > row_groups {
                return Ok((self.take()?, false));
            }
        }
        self.writer.finish()?;
        Ok((self.take()?, true))
    }

    /// The encoded bytes so far.
    fn take(&mut self) -> Result<Bytes, ParquetError> {
        self.writer.sync()?;
        Ok(Bytes::from(std::mem::take(self.writer.inner_mut())))
    }
}
