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
    // Parquet lake
    /// A lake setting is invalid.
    #[error("lake config: `{field}` {problem}")]
    LakeConfig {
        /// The setting.
        field: &'static str,
        /// What is wrong and how to fix it.
        problem: String,
    },
    /// The lake's object store could not be set up.
    #[error("cannot open the lake at {url}: {source}; check the URL and the store's settings in the environment (AWS_*, GOOGLE_*, AZURE_*)")]
    LakeStore {
        /// The lake URL (it holds no credentials).
        url: String,
        /// What object_store said.
        source: object_store::Error,
    },
    /// A dataset's schema or a batch does not fit the lake writer.
    #[error("lake writer of dataset `{dataset}`: {problem}")]
    LakeSchema {
        /// The dataset.
        dataset: String,
        /// What does not fit.
        problem: String,
    },
    /// Uploading a lake object failed, after object_store's retries of transient errors.
    #[error("upload of lake object {path} failed: {source}; nothing of it became visible: check the store's reachability and permissions, then write the batch again")]
    LakeUpload {
        /// The object's path in the store.
        path: String,
        /// What object_store said.
        source: object_store::Error,
    },
}
