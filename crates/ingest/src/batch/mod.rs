//! Batching: one open batch per partition, cut by rows, bytes and age — or exactly where
//! an earlier run cut it, when the sinks' ledger says so.

mod batcher;

pub use batcher::{Batcher, Limits, RawBatch};
