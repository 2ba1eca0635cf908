//! Writing record batches to one local Parquet file.

use std::fs::File;
use std::path::{Path, PathBuf};

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use parquet::arrow::ArrowWriter;

use super::WriterOptions;
use crate::Error;

/// Writes batches of one schema to a local Parquet file. The file is written under a
/// temporary name and renamed into place by [`FileWriter::finish`], so a reader never
/// sees a partial file.
pub struct FileWriter {
    path: PathBuf,
    tmp: PathBuf,
    writer: ArrowWriter<File>,
}

impl FileWriter {
    /// Creates `path`'s temporary sibling and starts a Parquet file of `schema`.
    ///
    /// # Errors
    /// [`Error::Io`] when the file cannot be created, [`Error::Parquet`] when the schema
    /// cannot be written as Parquet.
    pub fn create(path: &Path, schema: SchemaRef, options: &WriterOptions, metadata: &[(String, String)]) -> Result<Self, Error> {
        let tmp = path.with_file_name(format!(
            ".{}.tmp",
            path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default()
        ));
        let file = File::create(&tmp).map_err(|source| Error::Io { path: tmp.clone(), source })?;
        let props = options.properties(&schema, metadata);
        let writer = ArrowWriter::try_new(file, schema, Some(props)).map_err(|source| Error::Parquet { path: path.into(), source })?;
        Ok(Self { path: path.into(), tmp, writer })
    }

    /// Appends a batch.
    ///
    /// # Errors
    /// [`Error::Parquet`] when encoding or writing fails.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<(), Error> {
        self.writer.write(batch).map_err(|source| Error::Parquet { path: self.path.clone(), source })
    }

    /// Bytes written so far plus those buffered for the current row group.
    pub fn bytes(&self) -> usize {
        self.writer.bytes_written() + self.writer.in_progress_size()
    }

    /// Writes the footer, syncs the file and moves it to its final name.
    ///
    /// # Errors
    /// [`Error::Parquet`] or [`Error::Io`] when closing, syncing or renaming fails.
    pub fn finish(self) -> Result<(), Error> {
        let file = self.writer.into_inner().map_err(|source| Error::Parquet { path: self.path.clone(), source })?;
        file.sync_all().map_err(|source| Error::Io { path: self.tmp.clone(), source })?;
        std::fs::rename(&self.tmp, &self.path).map_err(|source| Error::Io { path: self.path.clone(), source })
    }
}
