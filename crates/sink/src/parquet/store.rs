//! The object store a lake URL names, with its retry and timeout settings.

use std::sync::Arc;
use std::time::Duration;

use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::azure::{AzureConfigKey, MicrosoftAzureBuilder};
use object_store::gcp::{GoogleCloudStorageBuilder, GoogleConfigKey};
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{BackoffConfig, Certificate, ClientConfigKey, ClientOptions, ObjectStore, ObjectStoreScheme, RetryConfig};

use super::config::{Location, ValidLakeConfig};
use crate::Error;

/// Connecting to the store gives up after this long (then the request is retried).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Opens the store of `config` and returns it with the lake's root inside it.
///
/// Local folders are created if missing and written with fsync, so a write that returned is
/// durable as on a cloud store. Cloud stores read credentials from the environment and retry
/// transient failures (5xx, throttling, connection errors, timeouts) themselves, with
/// exponential backoff from 100 ms to 15 s, `max_retries` times within `retry_timeout`.
pub(crate) fn open(config: &ValidLakeConfig) -> Result<(Arc<dyn ObjectStore>, Path), Error> {
    let failed = |source| Error::LakeStore { url: config.url().to_string(), source };
    let c = &config.config;
    let retry = RetryConfig { backoff: BackoffConfig::default(), max_retries: c.max_retries, retry_timeout: c.retry_timeout };
    let timeouts = [(ClientConfigKey::Timeout, humantime(c.request_timeout)), (ClientConfigKey::ConnectTimeout, humantime(CONNECT_TIMEOUT))];
    match &config.location {
        Location::Local(dir) => {
            std::fs::create_dir_all(dir).map_err(|source| Error::Io { path: dir.clone(), source })?;
            let store = LocalFileSystem::new_with_prefix(dir).map_err(failed)?.with_fsync(true);
            Ok((Arc::new(store), Path::default()))
        }
        Location::Memory(prefix) => Ok((Arc::new(InMemory::new()), prefix.clone())),
        Location::Cloud { url, scheme, prefix } => {
            let store: Arc<dyn ObjectStore> = match scheme {
                ObjectStoreScheme::AmazonS3 => {
                    // Client settings from the environment (AWS_ALLOW_HTTP, AWS_PROXY_URL, …)
                    // stay: only the timeouts are set here.
                    let mut builder = timeouts.iter().fold(AmazonS3Builder::from_env().with_url(url.as_str()).with_retry(retry), |b, (k, v)| b.with_config(AmazonS3ConfigKey::Client(*k), v));
                    if let Some(endpoint) = &c.endpoint {
                        builder = builder.with_endpoint(endpoint).with_allow_http(endpoint.starts_with("http:"));
                    }
                    let endpoint = builder.get_config_value(&AmazonS3ConfigKey::Endpoint).unwrap_or_default();
                    let allow_http = builder.get_config_value(&AmazonS3ConfigKey::Client(ClientConfigKey::AllowHttp)).is_some_and(|v| v == "true");
                    if endpoint.starts_with("http:") && !allow_http {
                        return Err(Error::LakeConfig {
                            field: "endpoint",
                            problem: format!("{endpoint} (from AWS_ENDPOINT) is plain http, which the S3 client refuses: set AWS_ALLOW_HTTP=true for a trusted network, or use https"),
                        });
                    }
                    if let Some(ca) = &config.ca {
                        builder = builder.clone().with_client_options(trusting(ca, |k| builder.get_config_value(&AmazonS3ConfigKey::Client(k))).map_err(failed)?);
                    }
                    Arc::new(builder.build().map_err(failed)?)
                }
                ObjectStoreScheme::GoogleCloudStorage => {
                    let builder = GoogleCloudStorageBuilder::from_env().with_url(url.as_str()).with_retry(retry);
                    let mut builder = timeouts.iter().fold(builder, |b, (k, v)| b.with_config(GoogleConfigKey::Client(*k), v));
                    if let Some(ca) = &config.ca {
                        builder = builder.clone().with_client_options(trusting(ca, |k| builder.get_config_value(&GoogleConfigKey::Client(k))).map_err(failed)?);
                    }
                    Arc::new(builder.build().map_err(failed)?)
                }
                _ => {
                    let builder = MicrosoftAzureBuilder::from_env().with_url(url.as_str()).with_retry(retry);
                    let mut builder = timeouts.iter().fold(builder, |b, (k, v)| b.with_config(AzureConfigKey::Client(*k), v));
                    if let Some(ca) = &config.ca {
                        builder = builder.clone().with_client_options(trusting(ca, |k| builder.get_config_value(&AzureConfigKey::Client(k))).map_err(failed)?);
                    }
                    Arc::new(builder.build().map_err(failed)?)
                }
            };
            Ok((store, prefix.clone()))
        }
    }
}

/// Every client setting a builder holds (from the environment, the timeouts), readable back.
const CLIENT_KEYS: [ClientConfigKey; 20] = {
    use ClientConfigKey as K;
    [
        K::AllowHttp, K::AllowInvalidCertificates, K::NoSystemCertificates, K::ConnectTimeout, K::DefaultContentType, K::Http1Only, K::Http2KeepAliveInterval,
        K::Http2KeepAliveTimeout, K::Http2KeepAliveWhileIdle, K::Http2MaxFrameSize, K::Http2Only, K::PoolIdleTimeout, K::PoolMaxIdlePerHost, K::ProxyUrl,
        K::ProxyCaCertificate, K::ProxyExcludes, K::RandomizeAddresses, K::ReadTimeout, K::Timeout, K::UserAgent,
    ]
};

/// The client settings `get` reads from a builder, trusting the CAs of the PEM bundle `ca`
/// too (object_store sets a root certificate only through a whole `ClientOptions`).
fn trusting(ca: &[u8], get: impl Fn(ClientConfigKey) -> Option<String>) -> Result<ClientOptions, object_store::Error> {
    let options = CLIENT_KEYS.into_iter().filter_map(|k| get(k).map(|v| (k, v))).fold(ClientOptions::new(), |o, (k, v)| o.with_config(k, v));
    Ok(Certificate::from_pem_bundle(ca)?.into_iter().fold(options, ClientOptions::with_root_certificate))
}

/// `d` as object_store's configuration values take durations.
fn humantime(d: Duration) -> String {
    format!("{}ms", d.as_millis())
}
