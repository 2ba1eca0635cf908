//! How a run ends: the failure classes and the exit code of each, so that a scheduler can
//! tell "retry later" from "a human must fix something".
//!
//! | code | meaning |
//! |---|---|
//! | 0 | done: caught up (scheduled run), or stopped by a signal with everything read committed |
//! | 1 | any other failure (an internal error, an unreadable file) |
//! | 2 | a limit the user set was broken (`convert --max-rejects`) |
//! | 3 | [`Failure::Permanent`]: a setting, credential, table, column or schema is wrong |
//! | 4 | [`Failure::Unavailable`]: a service stayed unreachable for the whole `retry_timeout` |
//! | 5 | [`Failure::Unread`]: a scheduled run could not read partitions it should have |
//! | 6 | [`Failure::Conflict`]: the source no longer holds what the ledger recorded |
//! | 7 | [`Failure::Interrupted`]: a signal stopped the run before every batch was durable |
//! | 8 | [`Failure::Disagree`]: `verify` found the sinks holding other rows than the ledger recorded, or `backfill` left batches unloaded |

use std::fmt;

/// Exit code when a run completed but broke a limit the user set (e.g. `--max-rejects`).
pub const EXIT_LIMIT: u8 = 2;

/// Why a run failed, attached to its error as context (found again with [`code`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// Retrying cannot help: fix the setting, credential, table or schema named.
    Permanent,
    /// A destination or the broker stayed unavailable for the whole retry timeout.
    Unavailable,
    /// A scheduled run could not read partitions it should have (no assignment).
    Unread,
    /// The source's messages differ from what the ledger recorded for their offsets.
    Conflict,
    /// A signal stopped the run with batches not yet durable; the next run reads them again.
    Interrupted,
    /// A sink holds more or fewer rows of a batch than the ledger recorded.
    Disagree,
}

impl Failure {
    /// The process exit code of this failure.
    pub fn code(self) -> u8 {
        match self {
            Self::Permanent => 3,
            Self::Unavailable => 4,
            Self::Unread => 5,
            Self::Conflict => 6,
            Self::Interrupted => 7,
            Self::Disagree => 8,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Permanent => "not retried: this cannot heal by itself",
            Self::Unavailable => "gave up waiting",
            Self::Unread => "partitions left unread",
            Self::Conflict => "the source does not match the ledger",
            Self::Interrupted => "interrupted",
            Self::Disagree => "the sinks disagree with the ledger",
        })
    }
}

/// The exit code of a failed command: its [`Failure`]'s, else 1.
pub fn code(error: &anyhow::Error) -> u8 {
    error.downcast_ref::<Failure>().map_or(1, |f| f.code())
}

#[cfg(test)]
mod tests {
    use anyhow::Context as _;

    use super::*;

    #[test]
    fn the_class_is_found_under_later_context() {
        let e = Err::<(), _>(anyhow::anyhow!("table missing")).context(Failure::Permanent).context("batch t[0] 1..=2").unwrap_err();
        assert_eq!(code(&e), 3);
        assert_eq!(code(&anyhow::anyhow!("plain")), 1);
    }
}
