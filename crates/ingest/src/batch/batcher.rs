//! One open batch per partition; a batch is cut by rows, bytes or age, or at boundaries
//! forced by the ledger (so that a replay after a crash rebuilds the very same batches).

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use sink::BatchId;

use crate::commit::Partition;

/// When a batch is cut.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Most messages.
    pub max_messages: usize,
    /// Most message bytes.
    pub max_bytes: usize,
    /// Longest time open.
    pub max_age: Duration,
}

/// The raw messages of one batch, in offset order.
pub struct RawBatch {
    /// Source coordinates.
    pub id: BatchId,
    /// `(offset, payload)` of each message.
    pub messages: Vec<(i64, Vec<u8>)>,
    /// Sum of payload sizes.
    pub bytes: usize,
}

impl RawBatch {
    /// A fingerprint of the batch's messages (offsets and payloads), never 0: the ledger
    /// keeps it, so that a replay can tell the same messages from other messages at the
    /// same offsets (a topic deleted and created again, another cluster after a failover).
    pub fn fingerprint(&self) -> u64 {
        let mut h = twox_hash::XxHash3_64::with_seed(0);
        for (offset, payload) in &self.messages {
            std::hash::Hasher::write(&mut h, &offset.to_le_bytes());
            std::hash::Hasher::write(&mut h, &(payload.len() as u64).to_le_bytes());
            std::hash::Hasher::write(&mut h, payload);
        }
        std::hash::Hasher::finish(&h).max(1)
    }

    /// The messages of offsets `first..=last`, as the batch of that range.
    pub fn slice(&self, first: i64, last: i64) -> RawBatch {
        let messages: Vec<(i64, Vec<u8>)> = self.messages.iter().filter(|(o, _)| (first..=last).contains(o)).cloned().collect();
        let bytes = messages.iter().map(|(_, p)| p.len()).sum();
        RawBatch { id: BatchId { first_offset: first, last_offset: last, ..self.id.clone() }, messages, bytes }
    }

    /// The bytes of the record at 1-based `line` of the message at `offset`: that line of
    /// the payload, or the whole payload when it is compressed (or the line is not found).
    pub fn record(&self, offset: i64, line: usize) -> Vec<u8> {
        let Ok(i) = self.messages.binary_search_by_key(&offset, |(o, _)| *o) else { return Vec::new() };
        let payload = &self.messages[i].1;
        let compressed = transform::Compressed::detect(payload).is_some();
        match payload.split(|&b| b == b'\n').nth(line.saturating_sub(1)) {
            Some(record) if !compressed && line > 0 => record.strip_suffix(b"\r").unwrap_or(record).to_vec(),
            _ => payload.clone(),
        }
    }
}

/// Two recorded ranges of a partition that overlap without one lying inside the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Crossing(pub (i64, i64), pub (i64, i64));

impl std::fmt::Display for Crossing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Self(a, b) = self;
        write!(f, "recorded batches {}..={} and {}..={} cross", a.0, a.1, b.0, b.1)
    }
}

struct Open {
    messages: Vec<(i64, Vec<u8>)>,
    bytes: usize,
    opened: Instant,
    /// The recorded range this batch replays: its identity, whichever of its messages are
    /// still there (compaction or retention may have removed the first or the last).
    forced: Option<(i64, i64)>,
}

/// Open batches of every partition.
pub struct Batcher {
    limits: Limits,
    open: HashMap<Partition, Open>,
    /// Ranges an earlier run wrote (from the ledger), in offset order, per partition.
    forced: HashMap<Partition, VecDeque<(i64, i64)>>,
}

impl Batcher {
    pub fn new(limits: Limits) -> Self {
        Self { limits, open: HashMap::new(), forced: HashMap::new() }
    }

    /// Makes the next batches of `tp` cover exactly the recorded `ranges` (first, last; by
    /// first offset, the longest first), in order. A range inside another (a part of a
    /// batch too large to decode as one) is left to the one around it, which a replay
    /// splits the same way.
    ///
    /// # Errors
    /// Two ranges that cross: no cut replays both, so neither is forced.
    pub fn force(&mut self, tp: &Partition, ranges: &[(i64, i64)]) -> Result<(), Crossing> {
        let mut chain: VecDeque<(i64, i64)> = VecDeque::with_capacity(ranges.len());
        for &range in ranges {
            match chain.back() {
                Some(&outer) if range.0 <= outer.1 && range.1 <= outer.1 => {}
                Some(&before) if range.0 <= before.1 => return Err(Crossing(before, range)),
                _ => chain.push_back(range),
            }
        }
        self.forced.insert(tp.clone(), chain);
        Ok(())
    }

    /// Adds a message; returns the batches it completes (at most two: the one it closes
    /// before a forced boundary, and the one it ends).
    pub fn push(&mut self, tp: &Partition, offset: i64, payload: Vec<u8>) -> Vec<RawBatch> {
        let mut out = Vec::new();
        // A forced range this message lies beyond ends here even if its last message is
        // gone (compacted away): close the batch that started inside it, then drop it.
        while let Some(&(first, last)) = self.forced.get(tp).and_then(VecDeque::front) {
            if last >= offset {
                break;
            }
            if self.open.get(tp).is_some_and(|o| o.messages[0].0 >= first) {
                out.extend(self.cut(tp));
            }
            self.forced.get_mut(tp).map(VecDeque::pop_front);
        }
        let front = self.forced.get(tp).and_then(VecDeque::front).copied();
        if let Some((first, _)) = front {
            // A forced range starts here: close whatever is open before it.
            let starts_inside = self.open.get(tp).is_some_and(|o| o.messages[0].0 < first);
            if offset >= first && starts_inside {
                out.extend(self.cut(tp));
            }
        }
        let open = self.open.entry(tp.clone()).or_insert_with(|| Open { messages: Vec::new(), bytes: 0, opened: Instant::now(), forced: None });
        open.bytes += payload.len();
        open.messages.push((offset, payload));
        let batch_first = open.messages[0].0;
        if let Some(range) = front.filter(|&(first, _)| batch_first >= first) {
            open.forced = Some(range);
        }
        match front {
            Some((first, last)) if batch_first >= first && offset >= last => {
                self.forced.get_mut(tp).map(VecDeque::pop_front);
                out.extend(self.cut(tp));
            }
            // Inside a forced range: only its end cuts the batch.
            Some((first, _)) if batch_first >= first => {}
            _ if open.messages.len() >= self.limits.max_messages || open.bytes >= self.limits.max_bytes => {
                out.extend(self.cut(tp));
            }
            _ => {}
        }
        out
    }

    /// Cuts every batch open longer than the age limit (not those inside a forced range).
    pub fn cut_aged(&mut self, now: Instant) -> Vec<RawBatch> {
        let due: Vec<Partition> = self
            .open
            .iter()
            .filter(|(tp, o)| now.duration_since(o.opened) >= self.limits.max_age && !self.inside_forced(tp, o.messages[0].0))
            .map(|(tp, _)| tp.clone())
            .collect();
        due.iter().filter_map(|tp| self.cut(tp)).collect()
    }

    /// Cuts every open batch (shutdown, failure), except one inside a forced range that
    /// has not ended: that one is dropped uncommitted, so the next owner cuts it whole, at
    /// the recorded boundaries, instead of writing the range under a second identity.
    pub fn cut_all(&mut self) -> Vec<RawBatch> {
        let all: Vec<Partition> = self.open.keys().cloned().collect();
        let cut = all.iter().filter_map(|tp| self.cut_partition(tp)).collect();
        self.open.clear();
        cut
    }

    /// Cuts the open batch of one partition (it reached the end of a scheduled run),
    /// unless the batch lies inside a forced range that has not ended yet.
    pub fn cut_partition(&mut self, tp: &Partition) -> Option<RawBatch> {
        let first = self.open.get(tp)?.messages[0].0;
        if self.inside_forced(tp, first) {
            return None;
        }
        self.cut(tp)
    }

    /// Drops the open batch and forced ranges of a revoked partition.
    pub fn forget(&mut self, tp: &Partition) {
        self.open.remove(tp);
        self.forced.remove(tp);
    }

    /// Message bytes held in open batches that the limits cut (not those replaying a
    /// recorded range: only that range's end cuts them, so backpressure must not wait on
    /// them).
    pub fn open_bytes(&self) -> usize {
        self.open.values().filter(|o| o.forced.is_none()).map(|o| o.bytes).sum()
    }

    fn inside_forced(&self, tp: &Partition, first: i64) -> bool {
        self.forced.get(tp).and_then(VecDeque::front).is_some_and(|&(f, _)| first >= f)
    }

    fn cut(&mut self, tp: &Partition) -> Option<RawBatch> {
        let open = self.open.remove(tp)?;
        let (first, last) = open.forced.unwrap_or((open.messages.first()?.0, open.messages.last()?.0));
        Some(RawBatch {
            id: BatchId { topic: tp.topic.clone(), partition: tp.partition, first_offset: first, last_offset: last },
            messages: open.messages,
            bytes: open.bytes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PINNED_FINGERPRINT: u64 = 9_906_840_359_887_339_643;

    fn batcher(max_messages: usize) -> Batcher {
        Batcher::new(Limits { max_messages, max_bytes: usize::MAX, max_age: Duration::from_secs(3600) })
    }

    fn ranges(batches: &[RawBatch]) -> Vec<(i64, i64)> {
        batches.iter().map(|b| (b.id.first_offset, b.id.last_offset)).collect()
    }

    #[test]
    fn cuts_by_count_and_at_the_end() {
        let tp = Partition::new("t", 1);
        let mut b = batcher(3);
        let mut out = Vec::new();
        for o in 0..7 {
            out.extend(b.push(&tp, o, vec![0; 10]));
        }
        out.extend(b.cut_all());
        assert_eq!(ranges(&out), [(0, 2), (3, 5), (6, 6)]);
    }

    #[test]
    fn forced_ranges_override_limits_and_align_what_follows() {
        let tp = Partition::new("t", 0);
        let mut b = batcher(3);
        // An earlier run wrote 5..=9 and 10..=11; the replay starts at 2.
        b.force(&tp, &[(5, 9), (10, 11)]).unwrap();
        let mut out = Vec::new();
        for o in 2..14 {
            out.extend(b.push(&tp, o, vec![1]));
        }
        out.extend(b.cut_all());
        assert_eq!(ranges(&out), [(2, 4), (5, 9), (10, 11), (12, 13)]);
    }

    /// SIGTERM while a forced range is half read: the partial range must not be written
    /// under new boundaries (a second identity for the same offsets → duplicates).
    #[test]
    fn shutdown_inside_a_forced_range_cuts_nothing_of_it() {
        let tp = Partition::new("t", 0);
        let other = Partition::new("t", 1);
        let mut b = batcher(100);
        b.force(&tp, &[(5, 9)]).unwrap();
        let mut out = Vec::new();
        for o in 2..8 {
            out.extend(b.push(&tp, o, vec![1]));
        }
        out.extend(b.push(&other, 0, vec![1]));
        out.extend(b.cut_all());
        assert_eq!(ranges(&out), [(2, 4), (0, 0)]);
        assert!(b.open.is_empty(), "the partial forced batch is dropped, not kept");
    }

    #[test]
    fn fingerprints_tell_other_messages_at_the_same_offsets_apart() {
        let batch = |messages: Vec<(i64, Vec<u8>)>| RawBatch { id: BatchId { topic: "t".into(), partition: 0, first_offset: 0, last_offset: 1 }, bytes: 0, messages };
        let a = batch(vec![(0, b"ab".to_vec()), (1, b"c".to_vec())]);
        assert_eq!(a.fingerprint(), batch(vec![(0, b"ab".to_vec()), (1, b"c".to_vec())]).fingerprint());
        assert_ne!(a.fingerprint(), batch(vec![(0, b"a".to_vec()), (1, b"bc".to_vec())]).fingerprint());
        assert_ne!(a.fingerprint(), batch(vec![(0, b"ab".to_vec()), (1, b"d".to_vec())]).fingerprint());
        // Pinned: the value is stored in ledgers, so it must not change between versions.
        assert_eq!(a.fingerprint(), PINNED_FINGERPRINT);
    }

    #[test]
    fn forced_range_with_gaps_in_offsets() {
        let tp = Partition::new("t", 0);
        let mut b = batcher(100);
        b.force(&tp, &[(0, 10)]).unwrap();
        let mut out = Vec::new();
        for o in [0, 4, 12] {
            out.extend(b.push(&tp, o, vec![1]));
        }
        out.extend(b.cut_all());
        assert_eq!(ranges(&out), [(0, 10), (12, 12)], "the recorded range keeps its identity without its last message");
    }

    /// Compaction or retention removed the first message of a recorded range: the replayed
    /// batch keeps the recorded identity (same object names, same tokens), not a new one.
    #[test]
    fn a_forced_range_without_its_first_message_keeps_its_identity() {
        let tp = Partition::new("t", 0);
        let mut b = batcher(100);
        b.force(&tp, &[(100, 199), (200, 299)]).unwrap();
        let mut out = Vec::new();
        for o in (150..=199).chain(200..=299) {
            out.extend(b.push(&tp, o, vec![1]));
        }
        assert_eq!(ranges(&out), [(100, 199), (200, 299)]);
        assert_eq!(out[0].messages.len(), 50);
    }

    /// The parts of a batch decoded in halves lie inside it and are replayed through it;
    /// ranges that cross (an intent no writer abandoned beside a batch another wrote)
    /// cannot both be replayed.
    #[test]
    fn nested_ranges_replay_through_the_outer_one_and_crossing_ones_are_refused() {
        let tp = Partition::new("t", 0);
        let mut b = batcher(100);
        b.force(&tp, &[(0, 9), (0, 4), (5, 9), (10, 19)]).unwrap();
        let mut out = Vec::new();
        for o in 0..20 {
            out.extend(b.push(&tp, o, vec![1]));
        }
        assert_eq!(ranges(&out), [(0, 9), (10, 19)]);
        assert_eq!(b.force(&tp, &[(0, 9), (5, 14)]), Err(Crossing((0, 9), (5, 14))));
    }
}
