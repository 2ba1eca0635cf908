//! Per-partition progress: batches are dispatched in offset order and complete in any
//! order; the committable offset is one past the end of the longest completed prefix.
//!
//! Each assignment of a partition is an *epoch*. A batch is dispatched under the epoch of
//! its partition and completes only under that same epoch and exact range: a batch of an
//! earlier ownership that finishes late (after a drain timeout gave it up) cannot mark a
//! batch of the current ownership done. Giving a partition up aborts its batches' tasks.

use std::collections::{BTreeMap, HashMap};

use tokio::task::AbortHandle;

/// A topic partition: the unit of assignment, batching and commits (a `BatchId` names one
/// and a range of its offsets).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Partition {
    pub topic: String,
    pub partition: i32,
}

impl Partition {
    pub fn new(topic: impl Into<String>, partition: i32) -> Self {
        Self { topic: topic.into(), partition }
    }
}

impl std::fmt::Display for Partition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}[{}]", self.topic, self.partition)
    }
}

/// One dispatched batch: its exact range and the epoch of the assignment it belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket {
    pub first: i64,
    pub last: i64,
    epoch: u64,
}

impl Ticket {
    /// The ownership (assignment) of its partition the batch belongs to, unique in a process.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }
}

/// A batch in flight, done or failed, by first offset.
struct Entry {
    last: i64,
    task: Option<AbortHandle>,
    state: EntryState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EntryState {
    InFlight,
    Done,
    /// Failed for good: no longer waited for, and nothing from it on is committed.
    Failed,
}

#[derive(Default)]
struct State {
    epoch: u64,
    batches: BTreeMap<i64, Entry>,
    /// Next offset to commit (one past the last completed prefix), once known.
    committable: Option<i64>,
    /// Last offset committed to Kafka.
    committed: Option<i64>,
}

/// Progress of every assigned partition.
#[derive(Default)]
pub struct Progress {
    parts: HashMap<Partition, State>,
    last_epoch: u64,
}

impl Progress {
    /// Starts a new ownership of `tp` (assigned), committed up to `committed` if known.
    pub fn assign(&mut self, tp: &Partition, committed: Option<i64>) {
        self.last_epoch += 1;
        let state = State { epoch: self.last_epoch, committed, ..State::default() };
        if let Some(old) = self.parts.insert(tp.clone(), state) {
            abort(old);
        }
    }

    /// Records a batch covering `first..=last` of an assigned partition as in flight;
    /// `None` when `tp` is not assigned (nothing may be written for it).
    pub fn dispatched(&mut self, tp: &Partition, first: i64, last: i64) -> Option<Ticket> {
        let state = self.parts.get_mut(tp)?;
        state.batches.insert(first, Entry { last, task: None, state: EntryState::InFlight });
        Some(Ticket { first, last, epoch: state.epoch })
    }

    /// Attaches the task writing the batch of `ticket`, so that losing the partition aborts it.
    pub fn running(&mut self, tp: &Partition, ticket: Ticket, task: AbortHandle) {
        match self.entry(tp, ticket) {
            Some(entry) if entry.state == EntryState::InFlight => entry.task = Some(task),
            _ => task.abort(),
        }
    }

    /// Marks the batch of `ticket` durable everywhere and advances the committable offset
    /// over every completed batch at the front. Returns false (and changes nothing) when
    /// the ticket is not of the current ownership or its range is not the one dispatched.
    pub fn completed(&mut self, tp: &Partition, ticket: Ticket) -> bool {
        let Some(entry) = self.entry(tp, ticket) else { return false };
        entry.state = EntryState::Done;
        entry.task = None;
        let state = self.parts.get_mut(tp).expect("entry found above");
        while let Some(e) = state.batches.first_entry() {
            if e.get().state != EntryState::Done {
                break;
            }
            state.committable = Some(e.remove().last + 1);
        }
        true
    }

    /// Marks the batch of `ticket` failed: it is no longer in flight, and nothing from its
    /// first offset on is committed.
    pub fn failed(&mut self, tp: &Partition, ticket: Ticket) {
        if let Some(entry) = self.entry(tp, ticket) {
            entry.state = EntryState::Failed;
            entry.task = None;
        }
    }

    fn entry(&mut self, tp: &Partition, ticket: Ticket) -> Option<&mut Entry> {
        let state = self.parts.get_mut(tp).filter(|s| s.epoch == ticket.epoch)?;
        state.batches.get_mut(&ticket.first).filter(|e| e.last == ticket.last)
    }

    /// Every committable offset, committed already or not: `(partition, next offset)`.
    pub fn committable(&self) -> Vec<(Partition, i64)> {
        self.parts.iter().filter_map(|(tp, s)| Some((tp.clone(), s.committable?))).collect()
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
        if let Some(s) = self.parts.get_mut(tp) {
            s.committed = Some(s.committed.map_or(offset, |c| c.max(offset)));
        }
    }

    /// Batches of `tp` dispatched and not yet completed.
    pub fn in_flight(&self, tp: &Partition) -> usize {
        self.parts.get(tp).map_or(0, |s| s.batches.values().filter(|e| e.state == EntryState::InFlight).count())
    }

    /// Batches in flight over all partitions.
    pub fn total_in_flight(&self) -> usize {
        self.parts.keys().map(|tp| self.in_flight(tp)).sum()
    }

    /// While the batch of `ticket` is in flight for the current ownership of `tp`: an offset
    /// whose commit claims nothing not yet durable (the committable offset, else the last
    /// committed one, else this ownership's first batch). `None` once it is not.
    pub fn fence_offset(&self, tp: &Partition, ticket: Ticket) -> Option<i64> {
        let state = self.parts.get(tp).filter(|s| s.epoch == ticket.epoch)?;
        state.batches.get(&ticket.first).filter(|e| e.last == ticket.last && e.state == EntryState::InFlight)?;
        state.committable.or(state.committed).or_else(|| state.batches.keys().next().copied())
    }

    /// A fence commit of `offset` was accepted; it may have reached the broker after a newer
    /// commit and set the partition back to it, so a newer offset is sent again.
    pub fn fence_committed(&mut self, tp: &Partition, offset: i64) {
        if let Some(s) = self.parts.get_mut(tp).filter(|s| s.committed.is_some_and(|c| c > offset)) {
            s.committed = Some(offset);
        }
    }

    /// The last committed offset of `tp`, if any.
    pub fn committed_offset(&self, tp: &Partition) -> Option<i64> {
        self.parts.get(tp).and_then(|s| s.committed)
    }

    /// Ends the ownership of `tp` (revoked, or abandoned at shutdown): its batches still in
    /// flight are aborted and will never be committed here.
    pub fn forget(&mut self, tp: &Partition) {
        if let Some(state) = self.parts.remove(tp) {
            abort(state);
        }
    }

    /// Ends the ownership of every partition (see [`Progress::forget`]).
    pub fn forget_all(&mut self) {
        for (_, state) in self.parts.drain() {
            abort(state);
        }
    }
}

fn abort(state: State) {
    for task in state.batches.into_values().filter_map(|e| e.task) {
        task.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commits_only_the_completed_prefix_in_offset_order() {
        let tp = Partition::new("t", 0);
        let mut p = Progress::default();
        assert!(p.dispatched(&tp, 0, 9).is_none(), "not assigned");
        p.assign(&tp, None);
        let a = p.dispatched(&tp, 0, 9).unwrap();
        let b = p.dispatched(&tp, 10, 19).unwrap();
        let c = p.dispatched(&tp, 20, 29).unwrap();
        assert!(p.completed(&tp, b));
        assert!(p.to_commit().is_empty(), "batch 0..=9 is still in flight");
        assert!(p.completed(&tp, a));
        assert_eq!(p.to_commit(), vec![(tp.clone(), 20)]);
        p.committed(&tp, 20);
        assert!(p.to_commit().is_empty());
        assert_eq!(p.in_flight(&tp), 1);
        assert!(p.completed(&tp, c));
        assert_eq!(p.to_commit(), vec![(tp.clone(), 30)]);
        p.forget(&tp);
        assert!(p.to_commit().is_empty());
        // A partition assigned again with nothing left to read still knows its commit.
        p.assign(&tp, Some(30));
        assert_eq!(p.committed_offset(&tp), Some(30));
    }

    /// A batch given up after a drain timeout (100..=150) finishes after the partition came
    /// back and a batch with the same first offset but other bounds (100..=400) is in flight:
    /// it must not mark that batch done (its offsets would be committed unwritten).
    #[test]
    fn a_batch_of_an_earlier_ownership_completes_nothing() {
        let tp = Partition::new("t", 0);
        let mut p = Progress::default();
        p.assign(&tp, Some(100));
        let abandoned = p.dispatched(&tp, 100, 150).unwrap();
        p.forget(&tp);
        p.assign(&tp, Some(100));
        let current = p.dispatched(&tp, 100, 400).unwrap();
        assert!(!p.completed(&tp, abandoned));
        assert!(p.to_commit().is_empty(), "nothing of 100..=400 is durable yet");
        assert_eq!(p.in_flight(&tp), 1);
        assert!(p.completed(&tp, current));
        assert_eq!(p.to_commit(), vec![(tp.clone(), 401)]);
    }

    #[test]
    fn a_failed_batch_is_not_waited_for_and_blocks_what_follows() {
        let tp = Partition::new("t", 0);
        let mut p = Progress::default();
        p.assign(&tp, None);
        let (a, b) = (p.dispatched(&tp, 0, 9).unwrap(), p.dispatched(&tp, 10, 19).unwrap());
        p.failed(&tp, a);
        assert_eq!(p.in_flight(&tp), 1);
        assert!(p.completed(&tp, b));
        assert!(p.to_commit().is_empty() && p.committable().is_empty(), "nothing past a failed batch is committed");
        assert_eq!(p.total_in_flight(), 0);
    }

    #[test]
    fn the_fence_repeats_a_durable_offset_and_only_for_the_current_ownership() {
        let tp = Partition::new("t", 0);
        let mut p = Progress::default();
        p.assign(&tp, None);
        let (a, b) = (p.dispatched(&tp, 5, 9).unwrap(), p.dispatched(&tp, 10, 19).unwrap());
        assert_eq!(p.fence_offset(&tp, b), Some(5), "nothing committed: where this ownership started");
        assert!(p.completed(&tp, a));
        assert_eq!(p.fence_offset(&tp, b), Some(10));
        p.committed(&tp, 10);
        assert_eq!(p.fence_offset(&tp, b), Some(10));
        assert_eq!(p.fence_offset(&tp, a), None, "done");
        p.committed(&tp, 20);
        p.fence_committed(&tp, 10);
        assert_eq!(p.to_commit(), [], "nothing newer than 10 is committable");
        assert_eq!(p.committed_offset(&tp), Some(10), "sent again once newer");
        p.forget(&tp);
        p.assign(&tp, Some(10));
        assert_eq!(p.fence_offset(&tp, b), None, "an earlier ownership");
    }

    #[test]
    fn completion_must_match_the_exact_range() {
        let tp = Partition::new("t", 0);
        let mut p = Progress::default();
        p.assign(&tp, None);
        let t = p.dispatched(&tp, 0, 9).unwrap();
        assert!(!p.completed(&tp, Ticket { last: 5, ..t }));
        assert!(p.to_commit().is_empty());
    }

    #[tokio::test]
    async fn losing_a_partition_aborts_its_tasks() {
        let tp = Partition::new("t", 0);
        let mut p = Progress::default();
        p.assign(&tp, None);
        let t = p.dispatched(&tp, 0, 9).unwrap();
        let task = tokio::spawn(std::future::pending::<()>());
        p.running(&tp, t, task.abort_handle());
        p.forget(&tp);
        assert!(task.await.unwrap_err().is_cancelled());
    }
}
