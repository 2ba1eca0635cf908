//! Per-partition progress: batches are dispatched in offset order and complete in any
//! order; the committable offset is one past the end of the longest completed prefix.

use std::collections::{BTreeMap, HashMap};

/// A topic partition.
pub type Partition = (String, i32);

#[derive(Default)]
struct State {
    /// Dispatched batches by first offset: (last offset, done).
    batches: BTreeMap<i64, (i64, bool)>,
    /// Next offset to commit (one past the last completed prefix), once known.
    committable: Option<i64>,
    /// Last offset committed to Kafka.
    committed: Option<i64>,
}

/// Progress of every assigned partition.
#[derive(Default)]
pub struct Progress {
    parts: HashMap<Partition, State>,
}

impl Progress {
    /// Records a batch covering `first..=last` as in flight.
    pub fn dispatched(&mut self, tp: &Partition, first: i64, last: i64) {
        self.parts.entry(tp.clone()).or_default().batches.insert(first, (last, false));
    }

    /// Marks the batch starting at `first` durable everywhere and advances the committable
    /// offset over every completed batch at the front.
    pub fn completed(&mut self, tp: &Partition, first: i64) {
        let Some(state) = self.parts.get_mut(tp) else { return };
        if let Some(entry) = state.batches.get_mut(&first) {
            entry.1 = true;
        }
        while let Some((&f, &(last, true))) = state.batches.first_key_value() {
            state.batches.remove(&f);
            state.committable = Some(last + 1);
        }
    }

    /// Offsets that may be committed and are not yet: `(partition, next offset)`.
    pub fn to_commit(&self) -> Vec<(Partition, i64)> {
        self.parts
            .iter()
            .filter_map(|(tp, s)| match (s.committable, s.committed) {
                (Some(c), Some(done)) if c <= done => None,
                (Some(c), _) => Some((tp.clone(), c)),
                _ => None,
            })
            .collect()
    }

    /// Records that Kafka holds `offset` as the partition's committed offset.
    pub fn committed(&mut self, tp: &Partition, offset: i64) {
        let s = self.parts.entry(tp.clone()).or_default();
        s.committed = Some(s.committed.map_or(offset, |c| c.max(offset)));
    }

    /// Batches of `tp` dispatched and not yet completed.
    pub fn in_flight(&self, tp: &Partition) -> usize {
        self.parts.get(tp).map_or(0, |s| s.batches.values().filter(|(_, done)| !done).count())
    }

    /// Batches in flight over all partitions.
    pub fn total_in_flight(&self) -> usize {
        self.parts.keys().map(|tp| self.in_flight(tp)).sum()
    }

    /// The last committed offset of `tp`, if any.
    pub fn committed_offset(&self, tp: &Partition) -> Option<i64> {
        self.parts.get(tp).and_then(|s| s.committed)
    }

    /// Forgets a partition (revoked): its in-flight batches will not be committed here.
    pub fn forget(&mut self, tp: &Partition) {
        self.parts.remove(tp);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commits_only_the_completed_prefix_in_offset_order() {
        let tp = ("t".to_string(), 0);
        let mut p = Progress::default();
        p.dispatched(&tp, 0, 9);
        p.dispatched(&tp, 10, 19);
        p.dispatched(&tp, 20, 29);
        p.completed(&tp, 10);
        assert!(p.to_commit().is_empty(), "batch 0..=9 is still in flight");
        p.completed(&tp, 0);
        assert_eq!(p.to_commit(), vec![(tp.clone(), 20)]);
        p.committed(&tp, 20);
        assert!(p.to_commit().is_empty());
        assert_eq!(p.in_flight(&tp), 1);
        p.completed(&tp, 20);
        assert_eq!(p.to_commit(), vec![(tp.clone(), 30)]);
        p.forget(&tp);
        assert!(p.to_commit().is_empty());
        // A partition assigned again with nothing left to read still knows its commit.
        p.committed(&tp, 30);
        assert_eq!(p.committed_offset(&tp), Some(30));
    }
}
