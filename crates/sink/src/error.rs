use std::path::PathBuf;

/// Errors of the sink crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A local file could not be created or written.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Parquet encoding failed.
    #[error("parquet encoding of {path} failed: {source}")]
    Parquet {
        /// The file being written.
        path: PathBuf,
        /// What the encoder said.
        source: ::parquet::errors::ParquetError,
    },
}
