//! The HTTP(S) client: queries and inserts as POST requests, compressed bodies, retries
//! (decided in [`super::retry`]).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use reqwest::header::CONTENT_ENCODING;
use tokio::sync::OnceCell;
use url::Url;

use super::body::{Codec, Marker};
use super::columns::TableColumn;
use super::config::{Compression, ValidatedConfig};
use super::ddl::quote_str;
use super::retry::{backoff, classify, error_code, Failure, Verdict};
use super::version::ServerVersion;
use crate::Error;

/// Idle pooled connections are dropped before the server's keep-alive ends (3 s on 18.16,
/// more on later versions), so a request never starts on a connection being closed.
const POOL_IDLE: Duration = Duration::from_secs(2);
/// Longest server message kept in an error.
const MAX_MESSAGE: usize = 2000;
/// Longest statement quoted in an error.
const MAX_QUERY: usize = 200;

/// A ClickHouse server's HTTP interface, as the configured user: queries, inserts and the
/// facts the writer and `migrate` need (version, a table's columns). Failed requests are
/// retried when a retry can help; see [`ClickHouseWriter`](super::ClickHouseWriter).
/// Clones share the connection pool and what they learnt of the server (its version).
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    config: ValidatedConfig,
    version: Arc<OnceCell<ServerVersion>>,
}

/// What one insert request took.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sent {
    /// Attempts made, the successful one included.
    pub attempts: u32,
    /// Body size before compression, in bytes.
    pub body_bytes: usize,
    /// Body size on the wire, in bytes.
    pub sent_bytes: usize,
}

impl Client {
    /// This client, making at most `attempts` tries per request (sharing the pool).
    pub(super) fn with_max_attempts(&self, attempts: u32) -> Self {
        let mut client = self.clone();
        client.config.retry.max_attempts = attempts;
        client
    }

    /// A client for the server of `config`. Sends nothing yet.
    ///
    /// # Errors
    /// [`Error::ClickHouseConfig`] when the HTTP client cannot be built (TLS set-up).
    pub fn new(config: &ValidatedConfig) -> Result<Self, Error> {
        let failed = |field, e: reqwest::Error| Error::ClickHouseConfig { field, reason: format!("cannot build an HTTP client: {e}") };
        let mut builder = reqwest::Client::builder().connect_timeout(config.connect_timeout).timeout(config.request_timeout).pool_idle_timeout(POOL_IDLE);
        if let Some(pem) = &config.tls.ca {
            builder = builder.tls_certs_merge(reqwest::Certificate::from_pem_bundle(pem).map_err(|e| failed("tls.ca_file", e))?);
        }
        if let Some(pem) = &config.tls.identity {
            builder = builder.identity(reqwest::Identity::from_pem(pem).map_err(|e| failed("tls.cert_file", e))?);
        }
        let http = builder.build().map_err(|e| failed("url", e))?;
        Ok(Self { http, config: config.clone(), version: Arc::new(OnceCell::new()) })
    }

    /// Runs `sql` and returns the answer's text (empty for statements without a result).
    /// Unqualified table names resolve in the user's default database, not the configured
    /// one (which may not exist yet): qualify them. The server buffers the answer, so an
    /// error midway is an error, not a truncated text. Failed attempts are retried like
    /// inserts, so send statements that can run twice (`IF NOT EXISTS`, `IF EXISTS`).
    ///
    /// # Errors
    /// [`Error::ClickHouseQuery`] when the server refuses the statement,
    /// [`Error::ClickHouseUnavailable`] when no attempt got an answer.
    pub async fn query(&self, sql: &str) -> Result<String, Error> {
        let url = self.url(&[("wait_end_of_query", "1")], None);
        self.request(sql, url, Bytes::from(sql.to_owned()), Codec::Identity).await.map(|(text, _)| text)
    }

    /// The `N` numbers (counts) a query answers with, in its first row.
    ///
    /// # Errors
    /// As [`Client::query`], or [`Error::ClickHouseAnswer`] when the answer is not `N` counts.
    pub async fn counts<const N: usize>(&self, sql: &str) -> Result<[u64; N], Error> {
        let text = self.query(sql).await?;
        let numbers: Vec<u64> = text.split_whitespace().map_while(|n| n.parse().ok()).take(N).collect();
        numbers.try_into().map_err(|_| Error::ClickHouseAnswer { query: sql.to_string(), reason: format!("`{}` is not {N} count(s)", text.trim()) })
    }

    /// The server's version, asked once and remembered.
    ///
    /// # Errors
    /// As [`Client::query`], or [`Error::ClickHouseAnswer`] when the answer is no version.
    pub async fn server_version(&self) -> Result<ServerVersion, Error> {
        let sql = "SELECT version()";
        let ask = || async {
            let text = self.query(sql).await?;
            ServerVersion::parse(&text).ok_or_else(|| Error::ClickHouseAnswer { query: sql.into(), reason: format!("`{}` is not a version", text.trim()) })
        };
        self.version.get_or_try_init(ask).await.copied()
    }

    /// The columns of `database.table` in table order, as `system.columns` lists them; empty
    /// when there is no such table.
    ///
    /// # Errors
    /// As [`Client::query`], or [`Error::ClickHouseAnswer`] when a line cannot be read.
    pub async fn table_columns(&self, database: &str, table: &str) -> Result<Vec<TableColumn>, Error> {
        let sql = format!(
            "SELECT name, type, default_kind FROM system.columns WHERE database = {} AND table = {} FORMAT JSONEachRow",
            quote_str(database),
            quote_str(table)
        );
        let text = self.query(&sql).await?;
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|line| {
                serde_json::from_str::<TableColumn>(line).map_err(|e| Error::ClickHouseAnswer { query: sql.clone(), reason: format!("{e} in `{line}`") })
            })
            .collect()
    }

    /// Sends `query` (an `INSERT … FORMAT …` statement) with `body` as its data, compressed
    /// as configured, with the extra query `settings`, retrying retriable failures.
    ///
    /// # Errors
    /// [`Error::ClickHouseRejected`] when the server refuses the data,
    /// [`Error::ClickHouseQuery`] for other refusals, [`Error::ClickHouseUnavailable`] when
    /// no attempt got an answer.
    pub async fn insert(&self, query: &str, body: Vec<u8>, settings: &[(&str, &str)]) -> Result<Sent, Error> {
        let codec = self.codec().await?;
        let body_bytes = body.len();
        let wire = tokio::task::spawn_blocking(move || codec.encode(body)).await.expect("compression does not panic");
        let sent_bytes = wire.len();
        let mut url = self.url(settings, Some(query));
        if let Marker::Param(key, value) = codec.marker() {
            url.query_pairs_mut().append_pair(key, value);
        }
        let (_, attempts) = self.request(query, url, wire, codec).await?;
        Ok(Sent { attempts, body_bytes, sent_bytes })
    }

    /// The configured base URL (no credentials: validation refuses them).
    fn base_url(&self) -> &str {
        self.config.url.as_str()
    }

    async fn codec(&self) -> Result<Codec, Error> {
        Ok(match self.config.compression {
            Compression::None => Codec::Identity,
            Compression::Gzip => Codec::Gzip,
            Compression::Zstd => match self.server_version().await? {
                v if v.has_zstd_body() => Codec::Zstd,
                v => return Err(Error::ClickHouseConfig { field: "compression", reason: format!("zstd needs ClickHouse 20.12 or later and this server is {v}: use lz4 (the default), gzip or none") }),
            },
            Compression::Auto | Compression::Lz4 => Codec::Lz4Blocks,
        })
    }

    fn url(&self, settings: &[(&str, &str)], query: Option<&str>) -> Url {
        let mut url = self.config.url.clone();
        {
            let mut pairs = url.query_pairs_mut();
            for (k, v) in &self.config.settings {
                pairs.append_pair(k, v);
            }
            for (k, v) in settings {
                pairs.append_pair(k, v);
            }
            if let Some(q) = query {
                pairs.append_pair("query", q);
            }
        }
        url
    }

    /// Sends until an attempt succeeds or [`classify`] says stop; the answer's text and the
    /// number of attempts.
    async fn request(&self, what: &str, url: Url, body: Bytes, codec: Codec) -> Result<(String, u32), Error> {
        let max = self.config.retry.max_attempts;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let failure = match self.send(url.clone(), body.clone(), codec).await {
                Ok(text) => return Ok((text, attempt)),
                Err(f) => f,
            };
            let verdict = classify(&failure);
            match (verdict, failure) {
                (Verdict::Retry(why), failure) if attempt < max => {
                    let wait = backoff(&self.config.retry, attempt);
                    tracing::warn!(url = %self.base_url(), attempt, max, ?wait, reason = why, error = %describe(&failure), "ClickHouse request failed; retrying");
                    tokio::time::sleep(wait).await;
                }
                (Verdict::Rejected, Failure::Server { code: Some(code), message, .. }) => {
                    return Err(Error::ClickHouseRejected { query: shorten(what, MAX_QUERY), code, message });
                }
                (Verdict::TooManyPartitions, Failure::Server { message, .. }) => {
                    return Err(Error::ClickHouseTooManyPartitions { query: shorten(what, MAX_QUERY), message });
                }
                (Verdict::Fail | Verdict::Rejected, Failure::Server { status, code, message }) => {
                    return Err(Error::ClickHouseQuery { query: shorten(what, MAX_QUERY), status, code, message });
                }
                (_, Failure::Transport(e)) if crate::tls::failure(&e).is_some() => {
                    let reason = crate::tls::failure(&e).map(ToString::to_string).unwrap_or_default();
                    return Err(Error::ClickHouseTls { url: self.base_url().into(), reason });
                }
                (_, failure) => {
                    return Err(Error::ClickHouseUnavailable { url: self.base_url().into(), attempts: attempt, last: describe(&failure) });
                }
            }
        }
    }

    async fn send(&self, url: Url, body: Bytes, codec: Codec) -> Result<String, Failure> {
        let mut request = self.http.post(url).basic_auth(&self.config.user, Some(&self.config.password.0)).body(body);
        if let Marker::Header(encoding) = codec.marker() {
            request = request.header(CONTENT_ENCODING, encoding);
        }
        let response = request.send().await.map_err(Failure::Transport)?;
        let status = response.status();
        let code = response.headers().get("x-clickhouse-exception-code").and_then(|v| v.to_str().ok()).map(str::to_owned);
        let text = response.text().await.map_err(Failure::Transport)?;
        if status.is_success() {
            return Ok(text);
        }
        let code = error_code(code.as_deref(), &text);
        Err(Failure::Server { status: status.as_u16(), code, message: shorten(text.trim(), MAX_MESSAGE) })
    }
}

/// `text` cut to at most `max` bytes (at a character boundary), `…` marking a cut.
fn shorten(text: &str, max: usize) -> String {
    match (0..=max.min(text.len())).rev().find(|&i| text.is_char_boundary(i)) {
        Some(cut) if cut < text.len() => format!("{}…", &text[..cut]),
        _ => text.to_string(),
    }
}

fn describe(failure: &Failure) -> String {
    match failure {
        Failure::Transport(e) => {
            let mut text = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(s) = source {
                text = format!("{text}: {s}");
                source = s.source();
            }
            text
        }
        Failure::Server { status, message, .. } => format!("HTTP {status}: {message}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shorten_cuts_at_character_boundaries() {
        assert_eq!(shorten("abc", 3), "abc");
        assert_eq!(shorten("abcd", 3), "abc…");
        assert_eq!(shorten("aé", 2), "a…");
        assert_eq!(shorten("", 0), "");
    }
}
