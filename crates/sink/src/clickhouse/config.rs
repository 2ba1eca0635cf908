//! Configuration of the ClickHouse writer: where the server is, who we are, how requests are
//! compressed, timed out and retried.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use url::Url;

use crate::tls::{Tls, TlsConfig};
use crate::Error;

/// Default database.
pub const DEFAULT_DATABASE: &str = "default";
/// Default user.
pub const DEFAULT_USER: &str = "default";
/// Default longest wait for a connection.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Default longest wait for a whole request.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// Default attempts per request, the first included.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 10;
/// Default wait before the second attempt.
pub const DEFAULT_INITIAL_BACKOFF: Duration = Duration::from_millis(100);
/// Default longest wait between two attempts.
pub const DEFAULT_MAX_BACKOFF: Duration = Duration::from_secs(10);

/// Query settings the client sets itself; a configured value would be overridden or leak.
const RESERVED_SETTINGS: &[&str] = &["query", "user", "password", "insert_deduplicate", "insert_deduplication_token", "async_insert", "wait_end_of_query", "decompress", "compress"];

/// Where and how to write to ClickHouse, as read from the pipeline's configuration file.
/// Build the writer from [`ClickHouseConfig::validate`]'s result.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClickHouseConfig {
    /// Base URL of the server's HTTP(S) interface, e.g. `http://127.0.0.1:8123`. Required.
    /// Credentials do not belong here: see `user`, `password_env`, `password_file`.
    pub url: String,
    /// Database of the table. Default `default`.
    #[serde(default = "default_database")]
    pub database: String,
    /// Table the writer inserts into. Required.
    pub table: String,
    /// User name. Default `default`.
    #[serde(default = "default_user")]
    pub user: String,
    /// Name of the environment variable holding the password. At most one of this and
    /// `password_file`; with neither the password is empty. Default none.
    #[serde(default)]
    pub password_env: Option<String>,
    /// File holding the password (trailing line breaks are ignored). Default none.
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// ClickHouse query settings sent with every request, e.g.
    /// `{ max_insert_threads = "4" }`. Default none.
    #[serde(default)]
    pub settings: BTreeMap<String, String>,
    /// Request body compression. Default `auto`.
    #[serde(default)]
    pub compression: Compression,
    /// Longest wait for a TCP (and TLS) connection. Default 5s.
    #[serde(default = "default_connect_timeout", with = "humantime_serde")]
    pub connect_timeout: Duration,
    /// Longest wait for one request, upload and answer. Default 60s.
    #[serde(default = "default_request_timeout", with = "humantime_serde")]
    pub request_timeout: Duration,
    /// Retries of failed requests.
    #[serde(default)]
    pub retry: RetryConfig,
    /// `https` URLs: a private CA, a client certificate.
    #[serde(default)]
    pub tls: TlsConfig,
    /// A cluster of the server's `remote_servers` (one shard, every replica holding the
    /// table): `migrate` creates the database and tables `ON CLUSTER`, the table as
    /// `Replicated…MergeTree` with a `Distributed` table `<table>_all` over it, and the
    /// ledger replicated too; inserts (data and ledger) wait for a majority of the replicas
    /// and reads see every such insert, on whichever replica `url` names. Default none.
    #[serde(default)]
    pub cluster: Option<String>,
}

/// How failed requests are retried: exponential backoff with jitter, on retriable failures
/// only (see the module documentation).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryConfig {
    /// Attempts per request, the first included; at least 1. Default 10.
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    /// Wait before the second attempt; it doubles with every further attempt. Default 100ms.
    #[serde(default = "default_initial_backoff", with = "humantime_serde")]
    pub initial_backoff: Duration,
    /// Longest wait between two attempts. Default 10s.
    #[serde(default = "default_max_backoff", with = "humantime_serde")]
    pub max_backoff: Duration,
}

/// Compression of request bodies.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    /// The fastest for both ends: [`Compression::Lz4`] (2.3× the inserts per second of gzip
    /// at half the client CPU, `cargo bench -p sink --bench clickhouse`).
    #[default]
    Auto,
    /// None.
    None,
    /// `Content-Encoding: gzip`: every version.
    Gzip,
    /// `Content-Encoding: zstd`: ClickHouse 20.12 and later; twice LZ4's ratio for a slow link.
    Zstd,
    /// ClickHouse's own compressed blocks of LZ4 (`decompress=1`), as its native clients
    /// send: every version.
    Lz4,
}

fn default_database() -> String {
    DEFAULT_DATABASE.into()
}
fn default_user() -> String {
    DEFAULT_USER.into()
}
fn default_connect_timeout() -> Duration {
    DEFAULT_CONNECT_TIMEOUT
}
fn default_request_timeout() -> Duration {
    DEFAULT_REQUEST_TIMEOUT
}
fn default_max_attempts() -> u32 {
    DEFAULT_MAX_ATTEMPTS
}
fn default_initial_backoff() -> Duration {
    DEFAULT_INITIAL_BACKOFF
}
fn default_max_backoff() -> Duration {
    DEFAULT_MAX_BACKOFF
}

impl Default for RetryConfig {
    fn default() -> Self {
        Self { max_attempts: DEFAULT_MAX_ATTEMPTS, initial_backoff: DEFAULT_INITIAL_BACKOFF, max_backoff: DEFAULT_MAX_BACKOFF }
    }
}

/// A configuration that passed [`ClickHouseConfig::validate`], its password resolved.
#[derive(Debug, Clone)]
pub struct ValidatedConfig {
    pub(super) url: Url,
    pub(super) database: String,
    pub(super) table: String,
    pub(super) user: String,
    pub(super) password: Secret,
    pub(super) settings: Vec<(String, String)>,
    pub(super) compression: Compression,
    pub(super) connect_timeout: Duration,
    pub(super) request_timeout: Duration,
    pub(super) retry: RetryConfig,
    pub(super) tls: Tls,
    pub(super) cluster: Option<String>,
}

/// A password: never printed.
#[derive(Clone, Default)]
pub(super) struct Secret(pub(super) String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

fn invalid(field: &'static str, reason: impl Into<String>) -> Error {
    Error::ClickHouseConfig { field, reason: reason.into() }
}

impl ClickHouseConfig {
    /// A configuration with every default, for the table `table` of the server at `url`.
    pub fn new(url: impl Into<String>, table: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            database: default_database(),
            table: table.into(),
            user: default_user(),
            password_env: None,
            password_file: None,
            settings: BTreeMap::new(),
            compression: Compression::Auto,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            retry: RetryConfig::default(),
            tls: TlsConfig::default(),
            cluster: None,
        }
    }

    /// Checks every field and reads the password from its variable or file.
    ///
    /// # Errors
    /// [`Error::ClickHouseConfig`] naming the field and what to change.
    pub fn validate(&self) -> Result<ValidatedConfig, Error> {
        let url = Url::parse(&self.url).map_err(|e| invalid("url", format!("`{}` is not a URL: {e}", self.url)))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(invalid("url", format!("scheme `{}` is not http or https", url.scheme())));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(invalid("url", "holds credentials; set `user` and `password_env` or `password_file` instead"));
        }
        if url.query().is_some() {
            return Err(invalid("url", "has a query string; put query settings in `settings`"));
        }
        let tls = self.tls.load().map_err(|(field, reason)| invalid(field, reason))?;
        if url.scheme() == "http" && (tls.ca.is_some() || tls.identity.is_some()) {
            return Err(invalid("tls", "is set but `url` is plain http; use https"));
        }
        if let Some(cluster) = &self.cluster {
            if cluster.is_empty() || !cluster.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
                return Err(invalid("cluster", format!("`{cluster}` is not a cluster name of remote_servers (letters, digits, `_`, `-`)")));
            }
        }
        for (field, value) in [("database", &self.database), ("table", &self.table), ("user", &self.user)] {
            if value.is_empty() {
                return Err(invalid(field, "is empty"));
            }
        }
        for name in self.settings.keys() {
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                return Err(invalid("settings", format!("`{name}` is not a setting name")));
            }
            if RESERVED_SETTINGS.contains(&name.as_str()) {
                return Err(invalid("settings", format!("`{name}` is set by the writer itself; remove it")));
            }
        }
        if self.connect_timeout.is_zero() || self.request_timeout.is_zero() {
            return Err(invalid("connect_timeout / request_timeout", "must be longer than 0s"));
        }
        let retry = &self.retry;
        if retry.max_attempts == 0 {
            return Err(invalid("retry.max_attempts", "must be at least 1"));
        }
        if retry.initial_backoff > retry.max_backoff {
            return Err(invalid("retry.initial_backoff", format!("{:?} exceeds retry.max_backoff {:?}", retry.initial_backoff, retry.max_backoff)));
        }
        Ok(ValidatedConfig {
            url,
            database: self.database.clone(),
            table: self.table.clone(),
            user: self.user.clone(),
            password: self.password()?,
            settings: self.settings.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            compression: self.compression,
            connect_timeout: self.connect_timeout,
            request_timeout: self.request_timeout,
            retry: retry.clone(),
            tls,
            cluster: self.cluster.clone(),
        })
    }

    fn password(&self) -> Result<Secret, Error> {
        match (&self.password_env, &self.password_file) {
            (Some(_), Some(_)) => Err(invalid("password_env / password_file", "both are set; keep one")),
            (Some(var), None) => std::env::var(var)
                .map(Secret)
                .map_err(|_| invalid("password_env", format!("environment variable `{var}` is not set (or not UTF-8)"))),
            (None, Some(path)) => std::fs::read_to_string(path)
                .map(|s| Secret(s.trim_end_matches(['\r', '\n']).to_string()))
                .map_err(|e| invalid("password_file", format!("cannot read {}: {e}", path.display()))),
            (None, None) => Ok(Secret::default()),
        }
    }
}

impl ValidatedConfig {
    /// Database of the table.
    pub fn database(&self) -> &str {
        &self.database
    }

    /// Table the writer inserts into.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// The cluster every replica of which holds the table, if any.
    pub fn cluster(&self) -> Option<&str> {
        self.cluster.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(toml_text: &str) -> Result<ClickHouseConfig, String> {
        toml::from_str(toml_text).map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_and_durations() {
        let c = parse("url = 'http://h:8123'\ntable = 't'\n[retry]\ninitial_backoff = '250ms'").unwrap();
        assert_eq!((c.database.as_str(), c.user.as_str()), ("default", "default"));
        assert_eq!(c.retry.initial_backoff, Duration::from_millis(250));
        assert_eq!(c.retry.max_attempts, DEFAULT_MAX_ATTEMPTS);
        assert_eq!(c.compression, Compression::Auto);
        assert!(parse("url = 'http://h'\ntable = 't'\npassword = 'x'").unwrap_err().contains("unknown field `password`"));
    }

    #[test]
    fn validation_names_the_field() {
        let err = |f: fn(&mut ClickHouseConfig)| {
            let mut c = ClickHouseConfig::new("http://127.0.0.1:8123", "t");
            f(&mut c);
            c.validate().unwrap_err().to_string()
        };
        assert!(err(|c| c.url = "http://u:secret@h".into()).contains("credentials"));
        assert!(!err(|c| c.url = "http://u:secret@h".into()).contains("secret"));
        assert!(err(|c| c.url = "ftp://h".into()).contains("url"));
        assert!(err(|c| c.table.clear()).contains("table"));
        assert!(err(|c| { c.settings.insert("async_insert".into(), "1".into()); }).contains("set by the writer"));
        assert!(err(|c| { c.settings.insert("decompress".into(), "0".into()); }).contains("set by the writer"));
        assert!(err(|c| c.retry.max_attempts = 0).contains("retry.max_attempts"));
        assert!(err(|c| c.password_env = Some("LAKEPORT_SURELY_UNSET_VARIABLE".into())).contains("LAKEPORT_SURELY_UNSET_VARIABLE"));
        assert!(err(|c| c.password_file = Some("/nonexistent/pw".into())).contains("/nonexistent/pw"));
    }

    #[test]
    fn password_file_is_read_and_never_printed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pw");
        std::fs::write(&path, "s3cret\n").unwrap();
        let mut c = ClickHouseConfig::new("https://h/ch/", "t");
        c.password_file = Some(path);
        let v = c.validate().unwrap();
        assert_eq!(v.password.0, "s3cret");
        assert!(!format!("{v:?}").contains("s3cret"));
    }
}
