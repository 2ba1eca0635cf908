//! Which failed requests are retried, and how long to wait: the one place that decides.
//!
//! - Retried: transport failures (connection refused or reset, timeouts), HTTP 429 and 5xx
//!   answers without a ClickHouse error code (a proxy or load balancer in the way), and the
//!   ClickHouse codes of [`RETRIABLE`], each a state of the server that passes.
//! - Refused rows: the codes of [`DATA_ERRORS`] say the inserted data is wrong; the same rows
//!   fail again, so the caller gets [`Error::ClickHouseRejected`](crate::Error) and can
//!   bisect the batch to isolate them.
//! - Everything else with a ClickHouse code (syntax, unknown table or column, access denied,
//!   unknown setting, …) fails again too: no retry.

use std::time::Duration;

use rand::Rng;

use super::config::RetryConfig;

/// ClickHouse error codes worth retrying, with the reason.
const RETRIABLE: &[(u32, &str)] = &[
    (159, "TIMEOUT_EXCEEDED: the server was too slow this time"),
    (202, "TOO_MANY_SIMULTANEOUS_QUERIES: the server is overloaded"),
    (203, "NO_FREE_CONNECTION: a connection pool is exhausted for now"),
    (209, "SOCKET_TIMEOUT: a network hiccup inside the cluster"),
    (210, "NETWORK_ERROR: a network hiccup inside the cluster"),
    (225, "NO_ZOOKEEPER: Keeper is unreachable for now"),
    (236, "ABORTED: the operation was interrupted"),
    (241, "MEMORY_LIMIT_EXCEEDED: memory frees up as other queries finish"),
    (242, "TABLE_IS_READ_ONLY: a replica lost its Keeper session and is recovering"),
    (244, "UNEXPECTED_ZOOKEEPER_ERROR: a replica's Keeper nodes change as it restarts or renews its session"),
    (252, "TOO_MANY_PARTS: inserts outpace merges; backing off lets merges catch up"),
    (285, "TOO_FEW_LIVE_REPLICAS: replicas are coming back"),
    (286, "UNSATISFIED_QUORUM_FOR_PREVIOUS_WRITE: the previous quorum insert completes"),
    (289, "REPLICA_IS_NOT_IN_QUORUM: the replica is fetching what quorum inserts wrote"),
    (319, "UNKNOWN_STATUS_OF_INSERT: the insert may or may not have landed; the retry carries the same deduplication token"),
    (364, "RECEIVED_ERROR_TOO_MANY_REQUESTS: a remote server throttles"),
    (394, "QUERY_WAS_CANCELLED: the server is shutting down or restarting"),
    (439, "CANNOT_SCHEDULE_TASK: a thread pool is exhausted for now"),
    (574, "DISTRIBUTED_TOO_MANY_PENDING_BYTES: a Distributed table throttles its inserts"),
    (745, "SERVER_OVERLOADED: the server sheds load"),
    (762, "HTTP_CONNECTION_LIMIT_REACHED: connections free up"),
    (999, "KEEPER_EXCEPTION: a transient Keeper failure"),
];

/// ClickHouse error codes that refuse the inserted rows themselves, with the reason.
const DATA_ERRORS: &[(u32, &str)] = &[
    (6, "CANNOT_PARSE_TEXT"),
    (26, "CANNOT_PARSE_QUOTED_STRING"),
    (27, "CANNOT_PARSE_INPUT_ASSERTION_FAILED"),
    (38, "CANNOT_PARSE_DATE"),
    (41, "CANNOT_PARSE_DATETIME"),
    (53, "TYPE_MISMATCH: a value does not fit its column"),
    (69, "ARGUMENT_OUT_OF_BOUND"),
    (70, "CANNOT_CONVERT_TYPE: a value does not convert to its column's type"),
    (72, "CANNOT_PARSE_NUMBER"),
    (117, "INCORRECT_DATA"),
    (131, "TOO_LARGE_STRING_SIZE"),
    (321, "VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE"),
    (349, "CANNOT_INSERT_NULL_IN_ORDINARY_COLUMN"),
    (376, "CANNOT_PARSE_UUID"),
    (441, "CANNOT_PARSE_DOMAIN_VALUE_FROM_STRING"),
    (467, "CANNOT_PARSE_BOOL"),
    (469, "VIOLATED_CONSTRAINT: a row breaks a CONSTRAINT of the table"),
    (632, "UNEXPECTED_DATA_AFTER_PARSED_VALUE"),
    (675, "CANNOT_PARSE_IPV4"),
    (676, "CANNOT_PARSE_IPV6"),
];

/// Why one attempt failed.
#[derive(Debug)]
pub(super) enum Failure {
    /// No answer: the connection, the upload or the wait for the answer failed.
    Transport(reqwest::Error),
    /// The server answered with an error.
    Server { status: u16, code: Option<u32>, message: String },
}

/// What to do about a failure.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Verdict {
    /// Try again after a backoff; the reason is logged.
    Retry(&'static str),
    /// The rows are wrong: give them back for isolation.
    Rejected,
    /// One insert touches more partitions than `max_partitions_per_insert_block` allows:
    /// the same insert fails again, a smaller one does not (split the batch).
    TooManyPartitions,
    /// It would fail again: give up now.
    Fail,
}

/// The verdict on a failure: see the module documentation.
pub(super) fn classify(failure: &Failure) -> Verdict {
    match failure {
        Failure::Transport(e) if e.is_builder() || crate::tls::failure(e).is_some() => Verdict::Fail,
        Failure::Transport(_) => Verdict::Retry("no answer from the server (connection, upload or timeout)"),
        // Code 252 is also TOO_MANY_PARTS (inserts outpace merges), which passes.
        Failure::Server { code: Some(252), message, .. } if message.contains("Too many partitions for single INSERT block") => Verdict::TooManyPartitions,
        Failure::Server { code: Some(code), .. } => {
            if let Some((_, why)) = RETRIABLE.iter().find(|(c, _)| c == code) {
                Verdict::Retry(why)
            } else if DATA_ERRORS.iter().any(|(c, _)| c == code) {
                Verdict::Rejected
            } else {
                Verdict::Fail
            }
        }
        Failure::Server { status: 429, code: None, .. } => Verdict::Retry("HTTP 429: throttled"),
        Failure::Server { status: 500..=599, code: None, .. } => Verdict::Retry("HTTP 5xx without a ClickHouse error: a proxy or a server starting"),
        Failure::Server { .. } => Verdict::Fail,
    }
}

/// The ClickHouse error code of an error answer: the `X-ClickHouse-Exception-Code` header
/// when the server sends it, else the `Code: N` the message starts with (every version
/// writes `Code: 60. DB::Exception: …` or, up to 19.x, `Code: 60, e.displayText() = …`).
pub(super) fn error_code(header: Option<&str>, body: &str) -> Option<u32> {
    if let Some(code) = header.and_then(|h| h.trim().parse().ok()) {
        return Some(code);
    }
    let rest = body.trim_start().strip_prefix("Code:")?.trim_start();
    let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
    rest[..digits].parse().ok()
}

/// The wait before attempt `attempt + 1` (`attempt` ≥ 1 attempts have failed): doubling
/// from `initial_backoff` up to `max_backoff`, of which a random half is taken off so that
/// writers that failed together do not retry together.
pub(super) fn backoff(retry: &RetryConfig, attempt: u32) -> Duration {
    let doubled = retry.initial_backoff.saturating_mul(1u32 << attempt.saturating_sub(1).min(20));
    let ceiling = doubled.min(retry.max_backoff);
    ceiling.mul_f64(1.0 - rand::rng().random_range(0.0..0.5))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(status: u16, body: &str) -> Failure {
        Failure::Server { status, code: error_code(None, body), message: body.into() }
    }

    #[test]
    fn classification() {
        assert!(matches!(classify(&server(500, "Code: 252. DB::Exception: Too many parts (300).")), Verdict::Retry(r) if r.starts_with("TOO_MANY_PARTS")));
        let partitions = "Code: 252. DB::Exception: Too many partitions for single INSERT block (more than 100). The limit is controlled by 'max_partitions_per_insert_block' setting.";
        assert_eq!(classify(&server(500, partitions)), Verdict::TooManyPartitions);
        assert!(matches!(classify(&server(500, "Code: 241, e.displayText() = DB::Exception: Memory limit")), Verdict::Retry(_)));
        assert_eq!(classify(&server(500, "Code: 117. DB::Exception: Incorrect data")), Verdict::Rejected);
        assert_eq!(classify(&server(500, "Code: 27, e.displayText() = DB::Exception: Cannot parse input")), Verdict::Rejected);
        assert_eq!(classify(&server(400, "Code: 62. DB::Exception: Syntax error")), Verdict::Fail);
        assert_eq!(classify(&server(404, "Code: 60. DB::Exception: Table x.y doesn't exist")), Verdict::Fail);
        assert!(matches!(classify(&server(503, "Service Unavailable")), Verdict::Retry(_)));
        assert!(matches!(classify(&server(429, "slow down")), Verdict::Retry(_)));
        assert_eq!(classify(&server(403, "Forbidden")), Verdict::Fail);
        assert!(RETRIABLE.iter().all(|(c, _)| !DATA_ERRORS.iter().any(|(d, _)| d == c)));
    }

    #[test]
    fn error_codes_from_header_or_message() {
        assert_eq!(error_code(Some("159"), "whatever"), Some(159));
        assert_eq!(error_code(None, "Code: 60. DB::Exception: …"), Some(60));
        assert_eq!(error_code(None, "\nCode: 81, e.displayText() = DB::Exception"), Some(81));
        let msg = "Code: 1234567890123. x";
        for i in 0..=msg.len() {
            error_code(None, &msg[..i]);
            error_code(Some(&msg[i..]), &msg[i..]);
        }
        assert_eq!(error_code(None, "Bad Gateway"), None);
    }

    #[test]
    fn backoff_doubles_up_to_the_ceiling_with_jitter() {
        let r = RetryConfig { max_attempts: 10, initial_backoff: Duration::from_millis(100), max_backoff: Duration::from_secs(1) };
        for (attempt, ceiling) in [(1, 100), (2, 200), (3, 400), (4, 800), (5, 1000), (60, 1000)] {
            let d = backoff(&r, attempt).as_millis();
            assert!(d >= ceiling / 2 && d <= ceiling, "attempt {attempt}: {d} ms");
        }
    }
}
