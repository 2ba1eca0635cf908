//! Offset commits: which offsets may be committed, in offset order per partition, once
//! every destination of a batch has reported it durable.

mod progress;

pub use progress::{Partition, Progress, Ticket};
