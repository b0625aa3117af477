//! The counter store adapter against the emulator: a chunk applied with a checkpoint condition,
//! the same chunk refused the second time, and the counters exact. Needs the emulator at
//! `AWS_ENDPOINT_URL` (default `http://127.0.0.1:4566`); `make test` starts it.

use audit_aws::counters::DynamoCounters;
use audit_domain::counters::{
    deltas, name_partition, plan, tenant_partition, Applied, Bucket, Change, CounterStore,
    EventImage, SequenceNumber, ShardId,
};
use audit_domain::{time, Tenant};
use audit_infra::{self as infra, InfraSpec, ResourceNames};

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn change(n: u64, name: &str, created_at: &str) -> Change {
    let image = EventImage {
        tenant: Tenant::default(),
        name_key: name.to_owned(),
        created_at: time::parse_rfc3339(created_at).unwrap(),
    };
    Change {
        sequence: SequenceNumber::parse(
            &(400_000_000_000_000_000_000u128 + u128::from(n)).to_string(),
        )
        .unwrap(),
        deltas: deltas(None, Some(&image)),
    }
}

#[tokio::test]
async fn a_chunk_applies_once_and_its_repeat_is_refused_as_checkpoint_moved() -> TestResult {
    let sdk = crate::common::sdk().await;
    let dynamo = aws_sdk_dynamodb::Client::new(&sdk);
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let spec = InfraSpec::from_template(infra::TEMPLATE)?;
    let created = infra::ensure(
        &dynamo,
        &sqs,
        &spec,
        &ResourceNames::unique("count-test"),
        None,
    )
    .await
    .expect("the emulator answers on AWS_ENDPOINT_URL (`make emulator` starts it)");
    let store = DynamoCounters::new(dynamo.clone(), &created.table);
    let shard = ShardId::parse("shardId-00000001795996800000-4c1d2e3f").unwrap();

    let first = plan(&[
        change(1, "a", "2026-11-30T02:30:00.000001Z"),
        change(2, "a", "2026-11-30T02:31:00Z"),
        change(3, "b", "2026-11-30T03:00:00Z"),
    ]);
    assert_eq!(first.len(), 1);
    let chunk = &first[0];
    assert_eq!(store.checkpoint(&shard).await?, None);
    assert_eq!(store.apply(&shard, None, chunk).await?, Applied::Applied);
    assert_eq!(store.checkpoint(&shard).await?, Some(chunk.last.clone()));
    // The same chunk with the same expected checkpoint, as a retry whose answer was lost would
    // send it: refused, and nothing is added twice.
    assert_eq!(
        store.apply(&shard, None, chunk).await?,
        Applied::CheckpointMoved
    );

    let tenant = tenant_partition(&Tenant::default());
    assert_eq!(store.get_total(&tenant).await?.sum, 3);
    assert_eq!(
        store
            .get_total(&name_partition(&Tenant::default(), "a"))
            .await?
            .sum,
        2
    );
    let minutes = store
        .sum(&tenant, "M#2026-11-30T02:30", "M#2026-11-30T02:59")
        .await?;
    assert_eq!(
        (minutes.sum, minutes.items_read, minutes.requests),
        (2, 2, 1)
    );
    let (hours, _) = store
        .buckets(&tenant, "H#2026-11-30T00", "H#2026-11-30T23")
        .await?;
    let two = time::parse_rfc3339("2026-11-30T02:00:00Z").unwrap();
    let three = time::parse_rfc3339("2026-11-30T03:00:00Z").unwrap();
    assert_eq!(
        hours,
        [(Bucket::hour_of(&two), 2), (Bucket::hour_of(&three), 1)]
    );

    // The next chunk names the checkpoint the first left, and it is padded to 40 digits in the item.
    let next = plan(&[change(4, "a", "2026-11-30T02:30:30Z")]);
    assert_eq!(
        store.apply(&shard, None, &next[0]).await?,
        Applied::CheckpointMoved
    );
    assert_eq!(
        store.apply(&shard, Some(&chunk.last), &next[0]).await?,
        Applied::Applied
    );
    assert_eq!(store.get_total(&tenant).await?.sum, 4);
    let item = dynamo
        .get_item()
        .table_name(&created.table)
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S("CS#count".into()),
        )
        .key(
            "sk",
            aws_sdk_dynamodb::types::AttributeValue::S(shard.as_str().into()),
        )
        .send()
        .await?
        .item
        .unwrap();
    assert_eq!(
        item["seq"].as_s().unwrap(),
        "0000000000000000000400000000000000000004"
    );

    infra::remove(&dynamo, &sqs, &created).await;
    Ok(())
}
