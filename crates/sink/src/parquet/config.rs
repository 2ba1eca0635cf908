//! Configuration of the Parquet lake: where it is, how files are cut, encoded and uploaded.

use std::path::PathBuf;
use std::time::Duration;

use object_store::path::Path;
use object_store::ObjectStoreScheme;
use serde::Deserialize;
use url::Url;

use super::properties::{DEFAULT_ROW_GROUP_BYTES, DEFAULT_ROW_GROUP_ROWS, DEFAULT_ZSTD_LEVEL};
use super::WriterOptions;
use crate::tls::TlsConfig;
use crate::Error;

/// Default most rows per file.
const DEFAULT_MAX_FILE_ROWS: usize = 4 << 20;
/// Default multipart-upload part size.
const DEFAULT_MULTIPART_PART_BYTES: usize = 16 << 20;
/// Default most parts of one file in flight.
const DEFAULT_MAX_CONCURRENT_UPLOADS: usize = 4;
/// Default timeout of one request to the store.
const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// Default retries of a failed request.
const DEFAULT_MAX_RETRIES: usize = 10;
/// Default time after which a request is no longer retried.
const DEFAULT_RETRY_TIMEOUT: Duration = Duration::from_secs(180);
/// Smallest part S3 accepts (all but the last part of an upload); GCS and Azure get the same rule.
const MIN_CLOUD_PART_BYTES: usize = 5 << 20;
/// Largest part S3 accepts.
const MAX_PART_BYTES: usize = 5 << 30;

/// Where and how the Parquet lake is written. Read from TOML/JSON (`deny_unknown_fields`);
/// check it with [`LakeConfig::validate`] before use.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LakeConfig {
    /// Root of the lake (required): `s3://bucket/prefix`, `gs://bucket/prefix`,
    /// `az://container/prefix`, `file:///abs/folder`, a plain folder path (local, the default
    /// scheme; relative to the working directory) or `memory://` (tests). Credentials come from the environment (`AWS_*`,
    /// `GOOGLE_*`, `AZURE_*`, as `object_store` reads them), never from this URL.
    pub url: String,
    /// S3 only: endpoint of an S3-compatible store, e.g. `http://127.0.0.1:9000` (plain HTTP
    /// is then allowed). Default: AWS, or `AWS_ENDPOINT` from the environment.
    pub endpoint: Option<String>,
    /// Page compression: `zstd` (default), `snappy`, `lz4` or `none`.
    pub compression: Codec,
    /// zstd level, 1–22 (default 3); used with `compression = "zstd"`.
    pub zstd_level: i32,
    /// Most rows per row group (default 1,048,576).
    pub row_group_rows: usize,
    /// Most encoded bytes per row group (default 128 MiB); also bounds a write's memory.
    pub row_group_bytes: usize,
    /// Most rows per file (default 4,194,304): a partition group of a batch with more rows
    /// is written as several `-pNNN` parts. Keep it unchanged while batches may be replayed.
    pub max_file_rows: usize,
    /// Bytes per multipart-upload part (default 16 MiB; at least 5 MiB on S3, GCS and Azure,
    /// at most 5 GiB). A file smaller than this is uploaded in one PUT.
    pub multipart_part_bytes: usize,
    /// Most parts of one file uploading at once (default 4).
    pub max_concurrent_uploads: usize,
    /// Timeout of one request to the store (default 60s; e.g. `"90s"`).
    #[serde(with = "humantime_serde")]
    pub request_timeout: Duration,
    /// Retries of a request that failed transiently (5xx, throttling, connection errors),
    /// with exponential backoff from 100 ms to 15 s (default 10).
    pub max_retries: usize,
    /// No retry starts later than this after a request's first try (default 3m).
    #[serde(with = "humantime_serde")]
    pub retry_timeout: Duration,
    /// Cloud stores over https: `ca_file`, a private CA trusted besides the system's roots
    /// (the object-store client takes no client certificate).
    pub tls: TlsConfig,
}

/// Page compression codec of lake files.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Codec {
    /// zstd at [`LakeConfig::zstd_level`].
    #[default]
    Zstd,
    /// Snappy.
    Snappy,
    /// LZ4 (raw).
    Lz4,
    /// No compression.
    None,
}

impl Default for LakeConfig {
    fn default() -> Self {
        Self {
            url: String::new(),
            endpoint: None,
            compression: Codec::Zstd,
            zstd_level: DEFAULT_ZSTD_LEVEL,
            row_group_rows: DEFAULT_ROW_GROUP_ROWS,
            row_group_bytes: DEFAULT_ROW_GROUP_BYTES,
            max_file_rows: DEFAULT_MAX_FILE_ROWS,
            multipart_part_bytes: DEFAULT_MULTIPART_PART_BYTES,
            max_concurrent_uploads: DEFAULT_MAX_CONCURRENT_UPLOADS,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            max_retries: DEFAULT_MAX_RETRIES,
            retry_timeout: DEFAULT_RETRY_TIMEOUT,
            tls: TlsConfig::default(),
        }
    }
}

/// A [`LakeConfig`] that passed [`LakeConfig::validate`]: its URL is parsed, its numbers are
/// in range.
#[derive(Debug, Clone)]
pub struct ValidLakeConfig {
    pub(super) config: LakeConfig,
    pub(super) location: Location,
    /// The CA bundle of `tls.ca_file`, PEM.
    pub(super) ca: Option<Vec<u8>>,
}

/// Which store the lake URL names, and the lake's root inside it.
#[derive(Debug, Clone)]
pub(super) enum Location {
    /// A local folder.
    Local(PathBuf),
    /// A fresh in-memory store, under this prefix.
    Memory(Path),
    /// S3, GCS or Azure, under this prefix.
    Cloud { url: Url, scheme: ObjectStoreScheme, prefix: Path },
}

impl LakeConfig {
    /// A configuration with every default and this `url`.
    pub fn new(url: impl Into<String>) -> Self {
        Self { url: url.into(), ..Self::default() }
    }

    /// Parses the URL and checks every setting.
    ///
    /// # Errors
    /// [`Error::LakeConfig`] naming the setting, what is wrong and how to fix it.
    pub fn validate(&self) -> Result<ValidLakeConfig, Error> {
        let location = self.location()?;
        let cloud = matches!(location, Location::Cloud { .. });
        let bad = |field, problem: String| Err(Error::LakeConfig { field, problem });
        if let Some(endpoint) = &self.endpoint {
            if !matches!(&location, Location::Cloud { scheme: ObjectStoreScheme::AmazonS3, .. }) {
                return bad("endpoint", "is for s3:// URLs only; remove it".into());
            }
            if !Url::parse(endpoint).is_ok_and(|u| matches!(u.scheme(), "http" | "https")) {
                return bad("endpoint", format!("`{endpoint}` is not an http(s) URL; write e.g. http://127.0.0.1:9000"));
            }
        }
        if self.compression == Codec::Zstd && !(1..=22).contains(&self.zstd_level) {
            return bad("zstd_level", format!("{} is outside 1..=22; 3 is a good default", self.zstd_level));
        }
        let min_part = if cloud { MIN_CLOUD_PART_BYTES } else { 1 };
        let positive = [
            ("row_group_rows", self.row_group_rows),
            ("row_group_bytes", self.row_group_bytes),
            ("max_file_rows", self.max_file_rows),
            ("max_concurrent_uploads", self.max_concurrent_uploads),
        ];
        if let Some((field, _)) = positive.iter().find(|(_, v)| *v == 0) {
            return bad(field, "must be at least 1".into());
        }
        if !(min_part..=MAX_PART_BYTES).contains(&self.multipart_part_bytes) {
            return bad(
                "multipart_part_bytes",
                format!("{} is outside {min_part}..={MAX_PART_BYTES} bytes for this store", self.multipart_part_bytes),
            );
        }
        for (field, duration) in [("request_timeout", self.request_timeout), ("retry_timeout", self.retry_timeout)] {
            if duration.is_zero() {
                return bad(field, "must be above zero, e.g. \"60s\"".into());
            }
        }
        let tls = self.tls.load().map_err(|(field, problem)| Error::LakeConfig { field, problem })?;
        if tls.identity.is_some() {
            return bad("tls.cert_file", "is not supported: the object-store client sends no client certificate".into());
        }
        if tls.ca.is_some() && !cloud {
            return bad("tls.ca_file", "is for s3://, gs:// and az:// lakes only; remove it".into());
        }
        Ok(ValidLakeConfig { config: self.clone(), location, ca: tls.ca })
    }

    fn location(&self) -> Result<Location, Error> {
        let bad = |problem: String| Error::LakeConfig { field: "url", problem };
        if self.url.is_empty() {
            return Err(bad("is required, e.g. s3://bucket/lake or /var/lib/lakeport/lake".into()));
        }
        let url = match Url::parse(&self.url) {
            Err(url::ParseError::RelativeUrlWithoutBase) => return Ok(Location::Local(PathBuf::from(&self.url))),
            Err(e) => return Err(bad(format!("cannot be parsed ({e})"))),
            Ok(url) => url,
        };
        if !url.username().is_empty() || url.password().is_some() || url.query().is_some() || url.fragment().is_some() {
            return Err(bad("must not carry credentials or ?query: set them in the environment (AWS_*, GOOGLE_*, AZURE_*)".into()));
        }
        let unsupported = || bad(format!("`{}` is not supported: use s3://, gs://, az://, file:// or memory://", url.scheme()));
        let (scheme, prefix) = ObjectStoreScheme::parse(&url).map_err(|_| unsupported())?;
        match scheme {
            ObjectStoreScheme::Local => url.to_file_path().map(Location::Local).map_err(|()| bad("is not an absolute file path".into())),
            ObjectStoreScheme::Memory => Ok(Location::Memory(prefix)),
            ObjectStoreScheme::AmazonS3 | ObjectStoreScheme::GoogleCloudStorage | ObjectStoreScheme::MicrosoftAzure => {
                Ok(Location::Cloud { url, scheme, prefix })
            }
            _ => Err(unsupported()),
        }
    }
}

impl ValidLakeConfig {
    /// Parquet encoding settings.
    pub(super) fn writer_options(&self) -> WriterOptions {
        let c = &self.config;
        WriterOptions { compression: c.compression, zstd_level: c.zstd_level, row_group_rows: c.row_group_rows, row_group_bytes: c.row_group_bytes }
    }

    /// The lake URL as configured (it holds no credentials: [`LakeConfig::validate`] refuses them).
    pub(super) fn url(&self) -> &str {
        &self.config.url
    }
}
