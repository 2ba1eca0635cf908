//! The one retry policy of a batch: which failures are waited out, for how long, and which
//! end the run at once. The sinks' clients retry single requests themselves (ClickHouse:
//! `[clickhouse.retry]`, object stores: their own backoff); this decides about the batch.
//!
//! - transient (a service unreachable, slow, overloaded): retried with doubling backoff
//!   (200 ms up to 10 s) until `retry_timeout`, then [`Failure::Unavailable`];
//! - permanent (a setting, credential, table, column or schema): [`Failure::Permanent`] at
//!   once, with the error that says what to fix;
//! - data (rows ClickHouse refuses): isolated by the caller before it gets here; one that
//!   still arrives is permanent for this batch.

use std::time::{Duration, Instant};

use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use sink::ErrorClass;

use crate::exit::Failure;

const FIRST_BACKOFF: Duration = Duration::from_millis(200);
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// What to do after a failed attempt.
#[derive(Debug, PartialEq, Eq)]
pub enum Decision {
    /// Wait this long, then try again.
    Retry(Duration),
    /// Give up: the run fails with this class.
    Fail(Failure),
}

/// Retries of one batch.
pub struct Retry {
    timeout: Duration,
    started: Instant,
    backoff: Duration,
}

impl Retry {
    /// A policy giving transient failures `timeout` from now.
    pub fn new(timeout: Duration) -> Self {
        Self { timeout, started: Instant::now(), backoff: FIRST_BACKOFF }
    }

    /// The decision on `error`.
    pub fn decide(&mut self, error: &anyhow::Error) -> Decision {
        if let Some(failure) = error.downcast_ref::<Failure>() {
            return Decision::Fail(*failure);
        }
        match class(error) {
            ErrorClass::Transient if self.started.elapsed() < self.timeout => {
                let wait = self.backoff;
                self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
                Decision::Retry(wait)
            }
            ErrorClass::Transient => Decision::Fail(Failure::Unavailable),
            ErrorClass::Permanent | ErrorClass::Data => Decision::Fail(Failure::Permanent),
        }
    }
}

/// Runs `attempt` until it succeeds; transient errors are retried until `timeout`.
///
/// # Errors
/// The last error, described as `what`, as [`Failure::Permanent`] or, once `timeout`
/// passed, [`Failure::Unavailable`] naming `retry_timeout` (every caller's timeout).
pub async fn retrying<T, F, Fut>(what: &str, timeout: Duration, mut attempt: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<T>>,
{
    let mut retry = Retry::new(timeout);
    loop {
        let e = match attempt().await {
            Ok(v) => return Ok(v),
            Err(e) => e.context(what.to_string()),
        };
        match retry.decide(&e) {
            Decision::Retry(wait) => {
                tracing::warn!(error = %format!("{e:#}"), retry_in = ?wait, "request failed; retrying");
                tokio::time::sleep(wait).await;
            }
            // Its own timeout ran out (not a failure already decided further down).
            Decision::Fail(Failure::Unavailable) if e.downcast_ref::<Failure>().is_none() => return Err(e.context(format!("still failing after {timeout:?} (`[runtime] retry_timeout`)")).context(Failure::Unavailable)),
            Decision::Fail(failure) => return Err(e.context(failure)),
        }
    }
}

/// [`retrying`] for a blocking Kafka request (metadata, watermarks, committed offsets), run
/// on the blocking pool.
///
/// # Errors
/// As [`retrying`].
pub async fn kafka_request<T, F>(what: &str, timeout: Duration, request: F) -> anyhow::Result<T>
where
    T: Send + 'static,
    F: Fn() -> Result<T, KafkaError> + Send + Sync + 'static,
{
    let request = std::sync::Arc::new(request);
    retrying(what, timeout, || {
        let r = request.clone();
        async move { tokio::task::spawn_blocking(move || r()).await?.map_err(anyhow::Error::new) }
    })
    .await
}

/// The class of an error from writing a batch: the sink's own verdict where a sink error
/// is in the chain; Kafka producer errors of the dead-letter topic by their code.
pub fn class(error: &anyhow::Error) -> ErrorClass {
    for cause in error.chain() {
        if let Some(e) = cause.downcast_ref::<sink::Error>() {
            return e.class();
        }
        if let Some(e) = cause.downcast_ref::<KafkaError>() {
            return kafka_class(e);
        }
        if cause.downcast_ref::<arrow::error::ArrowError>().is_some() {
            return ErrorClass::Permanent;
        }
    }
    ErrorClass::Transient
}

/// `error` of a command that asks the services directly (`migrate`, `verify`; their clients
/// retry what can heal for the whole `retry_timeout`), with the failure its sink or Kafka
/// error implies: transient → unavailable (4), else permanent (3). Others are left as they are.
pub fn classified(error: anyhow::Error) -> anyhow::Error {
    let from_service = error.chain().any(|c| c.is::<sink::Error>() || c.is::<KafkaError>());
    if error.downcast_ref::<Failure>().is_some() || !from_service {
        return error;
    }
    // The policy's own verdict, with no time left to retry in.
    match Retry::new(Duration::ZERO).decide(&error) {
        Decision::Fail(failure) => error.context(failure),
        Decision::Retry(_) => unreachable!("no time is left to retry in"),
    }
}

/// Kafka errors that a retry cannot heal: access, TLS (an untrusted or refused certificate),
/// sizes, unknown topics, fatal states.
pub fn kafka_class(error: &KafkaError) -> ErrorClass {
    use RDKafkaErrorCode as C;
    let code = match error {
        KafkaError::MessageProduction(c) | KafkaError::MessageConsumption(c) | KafkaError::Global(c) => *c,
        KafkaError::ClientCreation(_) | KafkaError::ClientConfig(..) | KafkaError::Subscription(_) | KafkaError::MessageConsumptionFatal(_) => return ErrorClass::Permanent,
        _ => return ErrorClass::Transient,
    };
    match code {
        C::MessageSizeTooLarge
        | C::InvalidMessageSize
        | C::TopicAuthorizationFailed
        | C::GroupAuthorizationFailed
        | C::ClusterAuthorizationFailed
        | C::SaslAuthenticationFailed
        | C::Authentication
        | C::SSL
        | C::InvalidConfig
        | C::Fatal
        | C::UnknownTopic
        | C::InvalidGroupId
        | C::InconsistentGroupProtocol => ErrorClass::Permanent,
        _ => ErrorClass::Transient,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unavailable() -> anyhow::Error {
        anyhow::Error::new(sink::Error::ClickHouseUnavailable { url: "http://x".into(), attempts: 3, last: "refused".into() }).context("inserting")
    }

    /// Whatever gives up waiting (a ledger read, a Kafka request) names the setting to raise.
    #[tokio::test]
    async fn giving_up_names_retry_timeout() {
        let e = retrying("reading the batch ledger", Duration::ZERO, || async { Err::<(), _>(unavailable()) }).await.unwrap_err();
        assert_eq!(e.downcast_ref::<Failure>(), Some(&Failure::Unavailable));
        assert!(format!("{e:#}").contains("`[runtime] retry_timeout`"), "{e:#}");
    }

    #[test]
    fn transient_failures_back_off_until_the_timeout() {
        let mut r = Retry::new(Duration::from_secs(3600));
        assert_eq!(r.decide(&unavailable()), Decision::Retry(Duration::from_millis(200)));
        assert_eq!(r.decide(&unavailable()), Decision::Retry(Duration::from_millis(400)));
        for _ in 0..10 {
            r.decide(&unavailable());
        }
        assert_eq!(r.decide(&unavailable()), Decision::Retry(MAX_BACKOFF));
        let mut expired = Retry::new(Duration::ZERO);
        assert_eq!(expired.decide(&unavailable()), Decision::Fail(Failure::Unavailable));
    }

    #[test]
    fn permanent_and_data_failures_are_not_retried() {
        let mut r = Retry::new(Duration::from_secs(3600));
        let no_table = anyhow::Error::new(sink::Error::ClickHouseNoTable { database: "d".into(), table: "t".into() }).context("x");
        assert_eq!(r.decide(&no_table), Decision::Fail(Failure::Permanent));
        let refused = sink::Error::ClickHouseQuery { query: "INSERT".into(), status: 403, code: Some(516), message: "Authentication failed".into() };
        assert_eq!(r.decide(&anyhow::Error::new(refused)), Decision::Fail(Failure::Permanent));
        let rejected = sink::Error::ClickHouseRejected { query: "INSERT".into(), code: 53, message: "type".into() };
        assert_eq!(r.decide(&anyhow::Error::new(rejected)), Decision::Fail(Failure::Permanent));
        let too_large = anyhow::Error::new(KafkaError::MessageProduction(RDKafkaErrorCode::MessageSizeTooLarge)).context("dead letter");
        assert_eq!(r.decide(&too_large), Decision::Fail(Failure::Permanent));
        let conflict = anyhow::anyhow!("fingerprint differs").context(Failure::Conflict);
        assert_eq!(r.decide(&conflict), Decision::Fail(Failure::Conflict));
    }

    #[test]
    fn unknown_errors_and_broker_hiccups_are_transient() {
        assert_eq!(class(&anyhow::anyhow!("something")), ErrorClass::Transient);
        let down = anyhow::Error::new(KafkaError::MessageProduction(RDKafkaErrorCode::AllBrokersDown));
        assert_eq!(class(&down), ErrorClass::Transient);
    }
}
