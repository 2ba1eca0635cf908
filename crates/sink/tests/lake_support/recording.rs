//! A store that passes everything to another one, counting multipart parts, tracking how
//! many are in flight at once, and optionally failing one of them.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

use futures::stream::BoxStream;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore, PutMultipartOptions, PutOptions,
    PutPayload, PutResult, Result, UploadPart,
};

#[derive(Debug, Default)]
pub struct Counters {
    pub puts: AtomicUsize,
    pub multipart_uploads: AtomicUsize,
    pub parts: AtomicUsize,
    pub in_flight: AtomicUsize,
    pub max_in_flight: AtomicUsize,
}

#[derive(Debug)]
pub struct Recording {
    inner: Arc<dyn ObjectStore>,
    pub counters: Arc<Counters>,
    /// 1-based number of the part that fails, if any.
    fail_part: Option<usize>,
}

impl Recording {
    pub fn new(inner: Arc<dyn ObjectStore>, fail_part: Option<usize>) -> Arc<Self> {
        Arc::new(Self { inner, counters: Arc::default(), fail_part })
    }
}

impl std::fmt::Display for Recording {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Recording({})", self.inner)
    }
}

#[async_trait::async_trait]
impl ObjectStore for Recording {
    async fn put_opts(&self, location: &Path, payload: PutPayload, opts: PutOptions) -> Result<PutResult> {
        self.counters.puts.fetch_add(1, SeqCst);
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(&self, location: &Path, opts: PutMultipartOptions) -> Result<Box<dyn MultipartUpload>> {
        self.counters.multipart_uploads.fetch_add(1, SeqCst);
        let inner = self.inner.put_multipart_opts(location, opts).await?;
        Ok(Box::new(RecordingUpload { inner, counters: Arc::clone(&self.counters), fail_part: self.fail_part }))
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        self.inner.get_opts(location, options).await
    }

    fn delete_stream(&self, locations: BoxStream<'static, Result<Path>>) -> BoxStream<'static, Result<Path>> {
        self.inner.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        self.inner.copy_opts(from, to, options).await
    }
}

#[derive(Debug)]
struct RecordingUpload {
    inner: Box<dyn MultipartUpload>,
    counters: Arc<Counters>,
    fail_part: Option<usize>,
}

#[async_trait::async_trait]
impl MultipartUpload for RecordingUpload {
    fn put_part(&mut self, data: PutPayload) -> UploadPart {
        let number = self.counters.parts.fetch_add(1, SeqCst) + 1;
        let counters = Arc::clone(&self.counters);
        let in_flight = counters.in_flight.fetch_add(1, SeqCst) + 1;
        counters.max_in_flight.fetch_max(in_flight, SeqCst);
        let upload = self.inner.put_part(data);
        let fail = self.fail_part == Some(number);
        Box::pin(async move {
            // Long enough for the writer to start the next parts if it does not wait.
            tokio::time::sleep(Duration::from_millis(30)).await;
            let result = if fail {
                Err(object_store::Error::Generic { store: "Recording", source: format!("part {number} fails on purpose").into() })
            } else {
                upload.await
            };
            counters.in_flight.fetch_sub(1, SeqCst);
            result
        })
    }

    async fn complete(&mut self) -> Result<PutResult> {
        self.inner.complete().await
    }

    async fn abort(&mut self) -> Result<()> {
        self.inner.abort().await
    }
}
