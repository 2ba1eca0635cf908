//! Uploading one object so that it appears whole or not at all.

use std::sync::Arc;

use bytes::Bytes;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt as _, PutPayloadMut, WriteMultipart};

/// How objects are uploaded.
#[derive(Debug, Clone, Copy)]
pub(super) struct UploadOptions {
    /// Bytes per multipart part; an object no larger goes up in one PUT.
    pub part_bytes: usize,
    /// Most parts in flight.
    pub max_concurrency: usize,
    /// Write under a hidden name (`.name.<writer>.staging`) and rename when complete. For
    /// local folders: their store stages writes as `name#N`, which a crash would leave
    /// visible to Hive-style readers; files starting with `.` they skip. The name is the
    /// writer's own, so that two writers of the same object (a replay beside a write given
    /// up, still finishing) never rename each other's file.
    pub hidden_staging: bool,
}

/// An object being uploaded: bytes are buffered until they outgrow one part, then streamed
/// as a multipart upload that is completed only by [`Upload::finish`].
pub(super) struct Upload {
    store: Arc<dyn ObjectStore>,
    /// Where the bytes go: the final path, or its hidden staging sibling.
    path: Path,
    /// The final path.
    target: Path,
    options: UploadOptions,
    state: State,
}

enum State {
    Buffer(PutPayloadMut),
    Multipart(WriteMultipart),
}

impl Upload {
    pub(super) fn new(store: Arc<dyn ObjectStore>, target: Path, options: UploadOptions) -> Self {
        let path = if options.hidden_staging { staging_path(&target) } else { target.clone() };
        Self { store, path, target, options, state: State::Buffer(PutPayloadMut::new()) }
    }

    /// Appends `bytes` (without copying), a part at a time, waiting for a free upload slot
    /// before handing over each part: at most `max_concurrency` parts are in flight (one
    /// more for a moment when the buffer turns into a multipart upload).
    pub(super) async fn put(&mut self, mut bytes: Bytes) -> Result<(), object_store::Error> {
        let part_bytes = self.options.part_bytes;
        while !bytes.is_empty() {
            let chunk = bytes.split_to(part_bytes.min(bytes.len()));
            match &mut self.state {
                State::Buffer(buffer) if buffer.content_length() + chunk.len() <= part_bytes => buffer.push(chunk),
                State::Buffer(buffer) => {
                    let upload = self.store.put_multipart(&self.path).await?;
                    let mut multipart = WriteMultipart::new_with_chunk_size(upload, part_bytes);
                    std::mem::take(buffer).freeze().into_iter().chain([chunk]).for_each(|b| multipart.put(b));
                    self.state = State::Multipart(multipart);
                }
                State::Multipart(multipart) => {
                    multipart.wait_for_capacity(self.options.max_concurrency).await?;
                    multipart.put(chunk);
                }
            }
        }
        Ok(())
    }

    /// Makes the object visible: one PUT of the buffer, or the multipart upload's last part
    /// and completion (aborted by object_store if that fails).
    pub(super) async fn finish(self) -> Result<(), object_store::Error> {
        match self.state {
            State::Buffer(buffer) => self.store.put(&self.path, buffer.freeze()).await.map(drop)?,
            State::Multipart(multipart) => multipart.finish().await.map(drop)?,
        }
        if self.path != self.target {
            self.store.rename(&self.path, &self.target).await?;
        }
        Ok(())
    }

    /// Gives up: a multipart upload is aborted (its parts deleted); nothing becomes visible.
    pub(super) async fn abort(self) {
        if let State::Multipart(multipart) = self.state {
            if let Err(e) = multipart.abort().await {
                tracing::warn!(path = %self.path, error = %e, "could not abort a multipart upload; the store's lifecycle rules must remove its parts");
            }
        }
    }
}

/// `dir/.name.<process>-<n>.staging` for `dir/name`: hidden, and this upload's own.
fn staging_path(target: &Path) -> Path {
    static UPLOADS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = UPLOADS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let name = target.filename().unwrap_or_default();
    let parts: Vec<_> = target.parts().collect();
    let dir = Path::from_iter(parts[..parts.len().saturating_sub(1)].iter().cloned());
    dir.join(format!(".{name}.{}-{n}.staging", std::process::id()).as_str())
}
