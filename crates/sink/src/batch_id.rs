//! The identity of a batch: where its rows came from.

use std::fmt;

/// The source coordinates of the rows of one batch: a Kafka topic partition and the first
/// and last offsets it covers. Everything a sink derives from a batch (object names,
/// deduplication tokens) is derived from this, so writing the same batch again has the
/// same effect as writing it once.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BatchId {
    /// Source topic.
    pub topic: String,
    /// Source partition.
    pub partition: i32,
    /// First offset covered (inclusive).
    pub first_offset: i64,
    /// Last offset covered (inclusive).
    pub last_offset: i64,
}

impl BatchId {
    /// A stable text form, `topic-partition-first-last`, with offsets zero-padded to 20
    /// digits so that names sort in offset order.
    pub fn token(&self) -> String {
        format!("{}-{}-{:020}-{:020}", self.topic, self.partition, self.first_offset, self.last_offset)
    }
}

impl BatchId {
    /// The batch of an object name's stem: a [`BatchId::token`], `%XX`-escaped as lake and
    /// dead-letter names are.
    pub(crate) fn from_escaped_token(text: &str) -> Option<Self> {
        let token = percent_encoding::percent_decode_str(text).decode_utf8().ok()?;
        let mut parts = token.rsplitn(4, '-');
        let (last, first, partition, topic) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        Some(Self { topic: topic.to_string(), partition: partition.parse().ok()?, first_offset: first.parse().ok()?, last_offset: last.parse().ok()? })
    }
}

impl fmt::Display for BatchId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}[{}] offsets {}..={}", self.topic, self.partition, self.first_offset, self.last_offset)
    }
}
