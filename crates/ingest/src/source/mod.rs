//! The Kafka source: the consumer, its group membership and rebalances, and the fence that
//! keeps a process that lost a partition from writing it.

mod consumer;
mod fence;
mod preflight;

pub use consumer::{build_consumer, commit_offsets, Consumer, RebalanceEvent};
pub use fence::{Fenced, Owner};
pub use preflight::check_brokers;
