//! Dead letters: records that could not be stored, with the reason, the dataset, its schema
//! version, the source coordinates and the raw bytes, as NDJSON objects in object storage.
//!
//! One object per batch, `<prefix>/<dataset>/<topic>-<partition>-<first>-<last>.ndjson`,
//! named from the [`BatchId`] like the lake's objects, so a replayed batch overwrites its
//! dead letters instead of repeating them. Each line:
//!
//! ```json
//! {"dataset":"gateway_dns","schema_version":1,"topic":"dns","partition":0,"offset":41,
//!  "line":2,"stage":"decode","kind":"wrong_type","reason":"field `QuerySize` …","raw":"{…}"}
//! ```
//!
//! `raw` holds the bytes as text when they are UTF-8, else `raw_base64` holds them.

use std::sync::Arc;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use bytes::Bytes;
use futures::TryStreamExt as _;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt as _, PutPayload};
use serde_json::json;
use transform::{Reject, Schema};

use crate::parquet::{open_store, LakeConfig};
use crate::{BatchId, Error};

/// One record that could not be stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    /// Offset of the message it came from.
    pub offset: i64,
    /// 1-based line within the message (0: the whole message).
    pub line: usize,
    /// The stage that refused it: `decode` or `clickhouse`.
    pub stage: &'static str,
    /// A stable label of the reason (a `RejectReason::kind`, or `clickhouse_rejected`).
    pub kind: String,
    /// The reason, for people.
    pub reason: String,
    /// The record's bytes.
    pub raw: Vec<u8>,
}

impl DeadLetter {
    /// A record the decoder refused, from the message at `offset`.
    pub fn from_decode(offset: i64, reject: Reject) -> Self {
        Self { offset, line: reject.line, stage: "decode", kind: reject.reason.kind().to_string(), reason: reject.reason.to_string(), raw: reject.raw }
    }

    /// The dead letter as one JSON object (the line format above).
    pub fn to_json(&self, schema: &Schema, id: &BatchId) -> serde_json::Value {
        let mut line = json!({
            "dataset": schema.name, "schema_version": schema.version,
            "topic": id.topic, "partition": id.partition, "offset": self.offset, "line": self.line,
            "stage": self.stage, "kind": self.kind, "reason": self.reason,
        });
        match std::str::from_utf8(&self.raw) {
            Ok(s) => line["raw"] = json!(s),
            Err(_) => line["raw_base64"] = json!(STANDARD.encode(&self.raw)),
        }
        line
    }

    /// A record ClickHouse refused, with the server's error text.
    pub fn from_sink_rejection(offset: i64, line: usize, raw: Vec<u8>, error: &str) -> Self {
        Self { offset, line, stage: "clickhouse", kind: "clickhouse_rejected".into(), reason: error.to_string(), raw }
    }
}

/// Writes dead letters under one object-store prefix.
#[derive(Debug)]
pub struct DeadLetters {
    store: Arc<dyn ObjectStore>,
    prefix: Path,
}

impl DeadLetters {
    /// Opens the store of `url` (`file://`, `s3://`, `gs://`, `az://`, `memory://`), with
    /// credentials from the environment as for the lake.
    ///
    /// # Errors
    /// When the URL is not a supported store or the store cannot be set up.
    pub fn open(url: &str) -> Result<Self, Error> {
        let (store, prefix) = open_store(&LakeConfig::new(url).validate()?)?;
        Ok(Self { store, prefix })
    }

    /// How many dead letters each batch of `dataset` left, by the batch its object is named
    /// after.
    ///
    /// # Errors
    /// [`Error::LakeRead`] when a listing or an object cannot be read, or an `.ndjson`
    /// object's name is not a batch's.
    pub async fn counts(&self, dataset: &str) -> Result<Vec<(BatchId, u64)>, Error> {
        let root = self.prefix.clone().join(dataset);
        let read_error = |path: &str, source: Box<dyn std::error::Error + Send + Sync>| Error::LakeRead { path: path.to_string(), source };
        let objects: Vec<_> = self.store.list(Some(&root)).try_collect().await.map_err(|e| read_error(root.as_ref(), e.into()))?;
        let mut counts = Vec::new();
        for object in objects {
            let path = object.location.to_string();
            let Some(token) = object.location.filename().and_then(|n| n.strip_suffix(".ndjson")) else { continue };
            // `write` escapes the name, then the path encodes its `%`s again: undo the path's.
            let token = percent_encoding::percent_decode_str(token).decode_utf8().unwrap_or_default();
            let id = BatchId::from_escaped_token(&token).ok_or_else(|| read_error(&path, "the name is not <topic>-<partition>-<first>-<last>.ndjson".into()))?;
            let body = self.store.get(&object.location).await.map_err(|e| read_error(&path, e.into()))?.bytes().await.map_err(|e| read_error(&path, e.into()))?;
            counts.push((id, body.iter().filter(|&&b| b == b'\n').count() as u64));
        }
        Ok(counts)
    }

    /// Writes the dead letters of batch `id` (nothing when there are none); returns the
    /// object written.
    ///
    /// # Errors
    /// [`Error::LakeUpload`] when the store refuses the object after its retries.
    pub async fn write(&self, schema: &Schema, id: &BatchId, letters: &[DeadLetter]) -> Result<Option<Path>, Error> {
        if letters.is_empty() {
            return Ok(None);
        }
        let mut body = Vec::new();
        for l in letters {
            serde_json::to_writer(&mut body, &l.to_json(schema, id)).expect("a JSON value serialises");
            body.push(b'\n');
        }
        let name = format!("{}.ndjson", crate::parquet::escape(&id.token()));
        let path = self.prefix.clone().join(schema.name.as_str()).join(name.as_str());
        self.store
            .put(&path, PutPayload::from(Bytes::from(body)))
            .await
            .map_err(|source| Error::LakeUpload { path: path.to_string(), source })?;
        Ok(Some(path))
    }
}
