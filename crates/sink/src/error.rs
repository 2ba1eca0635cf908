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
    #[error("upload of lake object {path} failed: {source}; nothing of it became visible: check the store's reachability, permissions and certificate ([lake] endpoint, [lake.tls]), then write the batch again")]
    LakeUpload {
        /// The object's path in the store.
        path: String,
        /// What object_store said.
        source: object_store::Error,
    },
    /// Reading the lake back (a listing, a file's footer) failed.
    #[error("cannot read lake object {path}: {source}")]
    LakeRead {
        /// The object or prefix.
        path: String,
        /// What the store or the Parquet reader said.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    // ClickHouse
    /// A ClickHouse writer setting is invalid.
    #[error("clickhouse config: `{field}` {reason}")]
    ClickHouseConfig {
        /// The setting.
        field: &'static str,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// No attempt got a useful answer from ClickHouse: connection refused or reset, timeouts,
    /// or a retriable server error every time.
    #[error("clickhouse at {url}: {attempts} attempt(s) failed, the last with: {last}; check that the server is up and reachable, then write the batch again")]
    ClickHouseUnavailable {
        /// The server's base URL (it holds no credentials).
        url: String,
        /// Attempts made.
        attempts: u32,
        /// What the last attempt got.
        last: String,
    },
    /// The TLS handshake with ClickHouse failed: its certificate is not trusted, or it
    /// refused ours. A retry meets the same certificates.
    #[error("clickhouse at {url}: TLS failed: {reason}; check [clickhouse.tls] (ca_file for a private CA, cert_file and key_file when the server asks for a client certificate)")]
    ClickHouseTls {
        /// The server's base URL.
        url: String,
        /// What TLS reported.
        reason: String,
    },
    /// ClickHouse refused a statement with an error that a retry would meet again (syntax,
    /// unknown table or column, access, settings).
    #[error("clickhouse refused `{query}` (HTTP {status}, code {code:?}): {message}")]
    ClickHouseQuery {
        /// The statement (without its data).
        query: String,
        /// HTTP status.
        status: u16,
        /// ClickHouse error code, when the answer has one.
        code: Option<u32>,
        /// The server's message.
        message: String,
    },
    /// ClickHouse refused the inserted rows themselves (a data error such as codes 6, 27,
    /// 53, 70, 117): the same rows fail again, so isolate them (bisect the batch) and send
    /// them to the dead letters.
    #[error("clickhouse rejected the rows of `{query}` (code {code}): {message}; bisect the batch to isolate the bad rows")]
    ClickHouseRejected {
        /// The insert statement (without its data).
        query: String,
        /// ClickHouse error code.
        code: u32,
        /// The server's message.
        message: String,
    },
    /// One insert touched more partitions of the table than the server's
    /// `max_partitions_per_insert_block` allows (records spread over many dates); the
    /// writer splits the batch and inserts the parts.
    #[error("clickhouse refused `{query}`: {message}; the batch's rows span too many partitions for one insert")]
    ClickHouseTooManyPartitions {
        /// The insert statement (without its data).
        query: String,
        /// The server's message.
        message: String,
    },
    /// The table the writer inserts into does not exist.
    #[error("clickhouse table {database}.{table} does not exist (system.columns lists no column); create it first (lakeport migrate)")]
    ClickHouseNoTable {
        /// Database.
        database: String,
        /// Table.
        table: String,
    },
    /// A batch column does not fit the table: missing on one side or of a type the other
    /// cannot take. Nothing was sent.
    #[error("batch does not fit clickhouse table {table}: column `{column}`: {reason} (table type {table_type}, batch type {batch_type})")]
    ClickHouseMismatch {
        /// The table.
        table: String,
        /// The column.
        column: String,
        /// Its ClickHouse type, `none` when the table lacks it.
        table_type: String,
        /// Its Arrow type, `none` when the batch lacks it.
        batch_type: String,
        /// What does not fit and how to fix it.
        reason: String,
    },
    /// A value cannot be held by its column's ClickHouse type (an invalid address, a date
    /// out of range, a null in a column that is not Nullable, …). Nothing was sent.
    #[error("clickhouse column `{column}`, row {row}: {reason}; send the row to the dead letters or widen the column type")]
    ClickHouseValue {
        /// The column.
        column: String,
        /// The row of the batch.
        row: usize,
        /// What is wrong with the value.
        reason: String,
    },
    /// ClickHouse answered a query with something the client cannot read.
    #[error("clickhouse answered `{query}` unexpectedly: {reason}")]
    ClickHouseAnswer {
        /// The statement.
        query: String,
        /// What was wrong with the answer.
        reason: String,
    },
    // Migrations
    /// `migrate` would lose or reinterpret data; nothing was changed.
    #[error("migrating {table}: {subject} {problem}; nothing was changed. {hint}")]
    MigrationRefused {
        /// The table, `database.table`.
        table: String,
        /// What would change: ``column `name` `` or ``rollup `name` ``.
        subject: String,
        /// What the change would do.
        problem: String,
        /// How to go ahead anyway, or what to do instead.
        hint: String,
    },
}

/// Whether an error can heal by itself: what the pipeline does about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// A service is unreachable, slow or overloaded: retry with backoff.
    Transient,
    /// A setting, credential, table, column or schema is wrong: the same request fails
    /// again, so fail fast and say what to fix.
    Permanent,
    /// The rows themselves are refused: isolate them into the dead letters.
    Data,
}

impl Error {
    /// The class of this error; see [`ErrorClass`].
    pub fn class(&self) -> ErrorClass {
        use object_store::Error as Store;
        match self {
            Self::Io { .. } | Self::LakeRead { .. } | Self::ClickHouseUnavailable { .. } | Self::ClickHouseAnswer { .. } => ErrorClass::Transient,
            Self::LakeUpload { source, .. } if crate::tls::failure(source).is_some() => ErrorClass::Permanent,
            Self::LakeUpload { source, .. } => match source {
                Store::NotFound { .. }
                | Store::PermissionDenied { .. }
                | Store::Unauthenticated { .. }
                | Store::NotSupported { .. }
                | Store::NotImplemented { .. }
                | Store::UnknownConfigurationKey { .. }
                | Store::InvalidPath { .. } => ErrorClass::Permanent,
                _ => ErrorClass::Transient,
            },
            Self::ClickHouseRejected { .. } | Self::ClickHouseValue { .. } => ErrorClass::Data,
            Self::Parquet { .. }
            | Self::LakeConfig { .. }
            | Self::LakeStore { .. }
            | Self::LakeSchema { .. }
            | Self::ClickHouseConfig { .. }
            | Self::ClickHouseTls { .. }
            | Self::ClickHouseQuery { .. }
            | Self::ClickHouseTooManyPartitions { .. }
            | Self::ClickHouseNoTable { .. }
            | Self::ClickHouseMismatch { .. }
            | Self::MigrationRefused { .. } => ErrorClass::Permanent,
        }
    }
}
