//! The object store a lake URL names, with its retry and timeout settings.

use std::sync::Arc;
use std::time::Duration;

use object_store::aws::AmazonS3Builder;
use object_store::azure::MicrosoftAzureBuilder;
use object_store::gcp::GoogleCloudStorageBuilder;
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{BackoffConfig, ClientOptions, ObjectStore, ObjectStoreScheme, RetryConfig};

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
    let client = ClientOptions::new().with_timeout(c.request_timeout).with_connect_timeout(CONNECT_TIMEOUT);
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
                    let mut builder = AmazonS3Builder::from_env().with_url(url.as_str()).with_retry(retry).with_client_options(client);
                    if let Some(endpoint) = &c.endpoint {
                        builder = builder.with_endpoint(endpoint).with_allow_http(endpoint.starts_with("http:"));
                    }
                    Arc::new(builder.build().map_err(failed)?)
                }
                ObjectStoreScheme::GoogleCloudStorage => Arc::new(
                    GoogleCloudStorageBuilder::from_env()
                        .with_url(url.as_str())
                        .with_retry(retry)
                        .with_client_options(client)
                        .build()
                        .map_err(failed)?,
                ),
                _ => Arc::new(
                    MicrosoftAzureBuilder::from_env()
                        .with_url(url.as_str())
                        .with_retry(retry)
                        .with_client_options(client)
                        .build()
                        .map_err(failed)?,
                ),
            };
            Ok((store, prefix.clone()))
        }
    }
}
