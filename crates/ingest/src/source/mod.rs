//! The Kafka source: the consumer, its group membership and rebalances.

mod consumer;

pub use consumer::{build_consumer, commit_offsets, Consumer, RebalanceEvent};
