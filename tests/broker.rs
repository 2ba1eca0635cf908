//! Broker faults, with librdkafka's mock cluster (a Kafka broker in the test process, on a
//! loopback port, that answers requests with the errors it is told to): a group that never
//! assigns, and broker errors during a run.

mod common;

use std::time::Duration;

use common::*;
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer as _};
use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};
use rdkafka::ClientConfig;

/// A mock cluster of one broker holding `topic` with `partitions` partitions and the lines
/// of `input` as messages, spread round-robin.
fn mock_with(topic: &str, partitions: i32, input: &[String]) -> MockCluster<'static, rdkafka::producer::DefaultProducerContext> {
    let mock = MockCluster::new(1).unwrap();
    mock.create_topic(topic, partitions, 1).unwrap();
    let producer: BaseProducer = ClientConfig::new().set("bootstrap.servers", mock.bootstrap_servers()).create().unwrap();
    for (i, line) in input.iter().enumerate() {
        let partition = i as i32 % partitions;
        producer.send(BaseRecord::<(), str>::to(topic).payload(line.as_str()).partition(partition)).map_err(|(e, _)| e).unwrap();
        producer.poll(Duration::ZERO);
    }
    producer.flush(Duration::from_secs(30)).unwrap();
    mock
}

fn generated(count: usize, seed: u64) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("input.ndjson");
    let mut c = lakeport();
    c.args(["gen", "--dataset", "gateway_dns", "--count", &count.to_string(), "--seed", &seed.to_string(), "--bad-ratio", "0", "--out"]).arg(&file);
    ok(c);
    std::fs::read_to_string(&file).unwrap().lines().map(str::to_string).collect()
}

/// The group never finishes a join (every SyncGroup answered "rebalance in progress"): a
/// scheduled run gets no partition. With messages left unread it must exit 5 and say so,
/// not report success; with nothing to read, 0.
#[test]
fn a_scheduled_run_that_gets_no_partition_fails_and_says_why() {
    let env = PipelineEnv::new("unassigned");
    let dir = tempfile::tempdir().unwrap();
    let pipeline = pipeline_file(dir.path(), "gateway_dns", &[]);
    let input = generated(120, 5);
    let mock = mock_with(&env.topic, 2, &input);
    let empty_topic = format!("{}_empty", env.topic);
    mock.create_topic(&empty_topic, 1, 1).unwrap();
    mock.request_errors(RDKafkaApiKey::SyncGroup, &[RDKafkaRespErr::RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS; 2000]);
    env.migrate("gateway_dns", &pipeline);
    let scheduled = |topic: &str| {
        let mut c = env.lakeport("gateway_dns");
        c.env("LAKEPORT_KAFKA_BROKERS", mock.bootstrap_servers()).env("LAKEPORT_GATEWAY_DNS_TOPIC", topic);
        c.arg("run").arg(&pipeline).args(["--until-caught-up", "--no-progress"]);
        run_to_end(c)
    };
    let (code, text, took) = scheduled(&env.topic);
    assert_eq!(code, Some(5), "{text}");
    assert!(text.contains("assigned this process no partition") && text.contains("120 message(s) are not committed"), "{text}");
    assert!(took < Duration::from_secs(90), "took {took:?}");
    let (code, text, _) = scheduled(&empty_topic);
    assert_eq!(code, Some(0), "nothing to read:\n{text}");
    assert!(text.contains("nothing to do"), "{text}");
}

/// Broker errors during a scheduled run — fetches answered "not leader", commits and offset
/// reads answered "coordinator not available", connections dropped — are waited out: every
/// record lands once in ClickHouse and the lake.
#[test]
fn broker_errors_are_retried_without_loss_or_duplicates() {
    let env = PipelineEnv::new("brokererr");
    let dir = tempfile::tempdir().unwrap();
    let pipeline = pipeline_file(dir.path(), "gateway_dns", &[("max_messages = 200000", "max_messages = 300"), ("max_age = \"10s\"", "max_age = \"1s\"")]);
    let input = generated(3000, 6);
    let mock = mock_with(&env.topic, 3, &input);
    use RDKafkaRespErr::*;
    mock.request_errors(RDKafkaApiKey::Fetch, &[RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION, RD_KAFKA_RESP_ERR__TRANSPORT, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION, RD_KAFKA_RESP_ERR__TRANSPORT].repeat(5));
    mock.request_errors(RDKafkaApiKey::OffsetCommit, &[RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE; 6]);
    mock.request_errors(RDKafkaApiKey::OffsetFetch, &[RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE; 3]);
    mock.request_errors(RDKafkaApiKey::Heartbeat, &[RD_KAFKA_RESP_ERR__TRANSPORT; 3]);
    env.migrate("gateway_dns", &pipeline);
    let (code, text, _) = run_to_end({
        let mut c = env.lakeport("gateway_dns");
        c.env("LAKEPORT_KAFKA_BROKERS", mock.bootstrap_servers());
        c.arg("run").arg(&pipeline).args(["--until-caught-up", "--no-progress"]);
        c
    });
    assert_eq!(code, Some(0), "{text}");
    let ch = clickhouse(&format!("SELECT count(), uniqExact(_topic, _partition, _offset, _line) FROM `{}`.gateway_dns FORMAT TabSeparated", env.database));
    assert_eq!(ch.trim(), "3000\t3000", "ClickHouse: rows and unique coordinates\n{text}");
    assert_eq!(lake_counts(&env.lake), (3000, 3000), "lake: rows and unique coordinates");
}

/// A partition (on the real broker: the mock cluster writes no markers) that ends in a
/// transaction's commit marker: the last offset holds no message a reader sees, yet a
/// scheduled run must end, having read every record once. (tansu does not filter aborted
/// transactions for read-committed readers, so only a committed one is produced.)
#[test]
fn a_partition_ending_in_a_transaction_marker_is_caught_up() {
    use rdkafka::producer::{FutureProducer, FutureRecord};

    let env = PipelineEnv::new("txn");
    let dir = tempfile::tempdir().unwrap();
    let pipeline = pipeline_file(dir.path(), "gateway_dns", &[]);
    let input = generated(50, 8);
    // The real broker: the mock cluster writes no transaction markers.
    let brokers = service("LAKEPORT_TEST_KAFKA_BROKERS");
    ok({
        let mut c = lakeport();
        c.args(["produce", "/dev/null", "--kafka", &brokers, "--topic", &env.topic]);
        c
    });
    let producer: FutureProducer = ClientConfig::new().set("bootstrap.servers", &brokers).set("transactional.id", unique("txn")).create().unwrap();
    producer.init_transactions(Duration::from_secs(30)).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    producer.begin_transaction().unwrap();
    for line in &input {
        runtime.block_on(producer.send(FutureRecord::<(), str>::to(&env.topic).payload(line.as_str()).partition(0), Duration::from_secs(30))).map_err(|(e, _)| e).unwrap();
    }
    producer.commit_transaction(Duration::from_secs(30)).unwrap();
    env.migrate("gateway_dns", &pipeline);
    let (code, text, _) = run_to_end({
        let mut c = env.lakeport("gateway_dns");
        c.arg("run").arg(&pipeline).args(["--until-caught-up", "--no-progress"]);
        c
    });
    assert_eq!(code, Some(0), "{text}");
    let ch = clickhouse(&format!("SELECT count(), uniqExact(_offset), max(_offset) FROM `{}`.gateway_dns FORMAT TabSeparated", env.database));
    assert_eq!(ch.trim(), "50\t50\t49", "the transaction's records, once");
}

/// The broker is killed mid-run and started again a few seconds later, keeping its topics
/// and the group's offsets (tansu on the test S3 server): the scheduled run rides it out and
/// ends with every record once in each sink; a second run finds nothing left to read.
#[test]
fn a_broker_restarted_mid_run_loses_and_duplicates_nothing() {
    const RECORDS: usize = 20_000;
    let env = PipelineEnv::new("restart");
    let dir = tempfile::tempdir().unwrap();
    let mut broker = PrivateServer::durable_broker(&dir.path().join(unique("tansu")));
    let brokers = broker.brokers();
    ok({
        let mut c = lakeport();
        c.args(["gen", "--dataset", "gateway_dns", "--count", &RECORDS.to_string(), "--seed", "9", "--bad-ratio", "0"])
            .args(["--kafka", &brokers, "--topic", &env.topic, "--partitions", "2"]);
        c
    });
    let pipeline = pipeline_file(dir.path(), "gateway_dns", &[("max_messages = 200000", "max_messages = 500")]);
    let run = || {
        let mut c = env.lakeport("gateway_dns");
        c.env("LAKEPORT_KAFKA_BROKERS", &brokers).arg("run").arg(&pipeline).args(["--until-caught-up", "--no-progress"]);
        c
    };
    env.migrate("gateway_dns", &pipeline);
    let first = Background::spawn(run(), &dir.path().join("run.log"));
    first.wait_for_rows(&env.database, "gateway_dns");
    broker.kill();
    std::thread::sleep(Duration::from_secs(4));
    broker.up();
    let (code, text) = first.wait();
    assert_eq!(code, Some(0), "{text}");
    let count = clickhouse(&format!("SELECT count(), uniqExact(_topic, _partition, _offset, _line) FROM `{}`.gateway_dns FORMAT TabSeparated", env.database));
    assert_eq!(count.trim(), format!("{RECORDS}\t{RECORDS}"), "{text}");
    assert_eq!(lake_counts(&env.lake), (RECORDS as u64, RECORDS as u64), "lake: rows and unique coordinates");
    let (code, text, _) = run_to_end(run());
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains(" 0 messages"), "the group's offsets survived the restart:\n{text}");
}

/// The network between lakeport and the broker fails mid-run: answers stall for 4 s, then
/// every connection is reset and new ones are refused for 3 s. The scheduled run rides it
/// out and ends with every record once in each sink. (Should the session lapse anyway and
/// tansu keep the lapsed member, so that the group never assigns again, the run must exit
/// 5 saying so; the next run, with a new group as that message advises, completes.)
#[test]
fn a_stalled_and_reset_broker_connection_loses_and_duplicates_nothing() {
    const RECORDS: usize = 20_000;
    let env = PipelineEnv::new("netfault");
    let dir = tempfile::tempdir().unwrap();
    let broker = PrivateServer::broker_behind_proxy(&dir.path().join("broker"));
    let proxy = common::proxy::Proxy::listen(broker.ports()[1], broker.ports()[0]);
    let brokers = format!("127.0.0.1:{}", proxy.port);
    ok({
        let mut c = lakeport();
        c.args(["gen", "--dataset", "gateway_dns", "--count", &RECORDS.to_string(), "--seed", "10", "--bad-ratio", "0"])
            .args(["--kafka", &brokers, "--topic", &env.topic, "--partitions", "2"]);
        c
    });
    let pipeline = pipeline_file(dir.path(), "gateway_dns", &[("max_messages = 200000", "max_messages = 500")]);
    env.migrate("gateway_dns", &pipeline);
    let run = {
        let mut c = env.lakeport("gateway_dns");
        c.env("LAKEPORT_KAFKA_BROKERS", &brokers).arg("run").arg(&pipeline).args(["--until-caught-up", "--no-progress"]);
        Background::spawn(c, &dir.path().join("run.log"))
    };
    run.wait_for_rows(&env.database, "gateway_dns");
    proxy.hold_answers(true);
    std::thread::sleep(Duration::from_secs(4));
    proxy.cut(true);
    proxy.hold_answers(false);
    std::thread::sleep(Duration::from_secs(3));
    proxy.cut(false);
    let (code, mut text) = run.wait();
    if code == Some(5) {
        assert!(text.contains("assigned this process no partition"), "{text}");
        let (code, again, _) = run_to_end({
            let mut c = env.lakeport("gateway_dns");
            c.env("LAKEPORT_KAFKA_BROKERS", &brokers).env("LAKEPORT_GROUP_ID", unique("group")).arg("run").arg(&pipeline).args(["--until-caught-up", "--no-progress"]);
            c
        });
        assert_eq!(code, Some(0), "the run with a new group:\n{again}");
        text = again;
    } else {
        assert_eq!(code, Some(0), "{text}");
    }
    let count = clickhouse(&format!("SELECT count(), uniqExact(_topic, _partition, _offset, _line) FROM `{}`.gateway_dns FORMAT TabSeparated", env.database));
    assert_eq!(count.trim(), format!("{RECORDS}\t{RECORDS}"), "{text}");
    assert_eq!(lake_counts(&env.lake), (RECORDS as u64, RECORDS as u64), "lake: rows and unique coordinates");
}
