//! `LakeWriter::new` on an `s3://` URL with an endpoint override, credentials taken from the
//! environment. The only test of its binary: it sets `AWS_*` variables before anything runs.

mod lake_support;

use lake_support::*;
use object_store::path::Path;
use sink::parquet::LakeWriter;

#[tokio::test]
async fn s3_url_and_environment_credentials_open_the_lake() {
    for (var, from) in [
        ("AWS_ACCESS_KEY_ID", "LAKEPORT_TEST_S3_ACCESS_KEY_ID"),
        ("AWS_SECRET_ACCESS_KEY", "LAKEPORT_TEST_S3_SECRET_ACCESS_KEY"),
        ("AWS_REGION", "LAKEPORT_TEST_S3_REGION"),
    ] {
        std::env::set_var(var, env(from));
    }
    let (store, bucket) = s3_bucket().await;
    let schema = dns_schema();
    let config = config(&format!("s3://{bucket}/lake"), |c| c.endpoint = Some(env("LAKEPORT_TEST_S3_ENDPOINT")));
    let writer = LakeWriter::new(&config, &schema).unwrap();
    let batch = dns_batch(&schema, 300, 21);
    let written = writer.write(&batch, &batch_id("dns", 0, 300)).await.unwrap();

    let listed: Vec<_> = list(store.as_ref(), &Path::from("lake/gateway_dns")).await.into_iter().map(|(p, size, _)| (p, size)).collect();
    assert_eq!(listed, written.iter().map(|f| (f.path.to_string(), f.bytes)).collect::<Vec<_>>());
}
