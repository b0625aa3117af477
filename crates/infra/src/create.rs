//! Creating the template's resources on an emulator, and reading live ones back.

use std::collections::HashMap;

use aws_sdk_dynamodb::client::Waiters as _;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, StreamSpecification, StreamViewType,
    TimeToLiveSpecification, TimeToLiveStatus,
};
use aws_sdk_sqs::types::QueueAttributeName;

use super::*;

/// Creates the table (with its indexes and TTL), the dead-letter queue and the queue redriving to it,
/// reusing whatever already exists. `visibility_timeout_override` lets tests see a failed message
/// again after a second or two instead of the template's 180 s.
pub async fn ensure(
    dynamo: &aws_sdk_dynamodb::Client,
    sqs: &aws_sdk_sqs::Client,
    spec: &InfraSpec,
    names: &ResourceNames,
    visibility_timeout_override: Option<u32>,
) -> Result<Created, InfraError> {
    ensure_table(dynamo, &spec.table, &names.table).await?;
    ensure_table(dynamo, &spec.counters_table, &names.counters_table).await?;
    ensure_table(dynamo, &spec.log_table, &names.log_table).await?;

    let dlq = &spec.dead_letter_queue;
    let dlq_attributes = queue_attributes(dlq.visibility_timeout, dlq.message_retention, None);
    let dead_letter_queue_url = ensure_queue(sqs, &names.dead_letter_queue, dlq_attributes).await?;

    let queue = &spec.queue;
    let redrive = match queue.max_receive_count {
        None => None,
        Some(max_receive_count) => {
            let target = queue_arn(sqs, &dead_letter_queue_url).await?;
            let policy = serde_json::json!({
                "deadLetterTargetArn": target,
                "maxReceiveCount": max_receive_count,
            });
            Some(policy.to_string())
        }
    };
    let visibility = visibility_timeout_override.unwrap_or(queue.visibility_timeout);
    let attributes = queue_attributes(visibility, queue.message_retention, redrive);
    let queue_url = ensure_queue(sqs, &names.queue, attributes).await?;

    Ok(Created {
        table: names.table.clone(),
        counters_table: names.counters_table.clone(),
        log_table: names.log_table.clone(),
        signing_key: names.signing_key.clone(),
        queue_url,
        dead_letter_queue_url,
    })
}

/// The template's `CheckpointKey` on an emulator: an `ECC_NIST_P256` `SIGN_VERIFY` key under
/// `alias`, created unless the alias already names one.
pub async fn ensure_signing_key(kms: &aws_sdk_kms::Client, alias: &str) -> Result<(), InfraError> {
    if kms.describe_key().key_id(alias).send().await.is_ok() {
        return Ok(());
    }
    let key = kms
        .create_key()
        .key_spec(aws_sdk_kms::types::KeySpec::EccNistP256)
        .key_usage(aws_sdk_kms::types::KeyUsageType::SignVerify)
        .description("audit log checkpoints (local)")
        .send()
        .await
        .map_err(|err| aws_error("CreateKey", err))?;
    let id = key
        .key_metadata
        .map(|m| m.key_id)
        .ok_or_else(|| unexpected(alias, "CreateKey returned no key"))?;
    kms.create_alias()
        .alias_name(alias)
        .target_key_id(id)
        .send()
        .await
        .map_err(|err| aws_error("CreateAlias", err))?;
    Ok(())
}

/// The template's `CheckpointBucket` on an emulator: a bucket with Object Lock enabled (so also
/// versioned), created unless it exists. Each object is locked by its own `COMPLIANCE` retention.
pub async fn ensure_checkpoint_bucket(
    s3: &aws_sdk_s3::Client,
    name: &str,
) -> Result<(), InfraError> {
    if s3.head_bucket().bucket(name).send().await.is_ok() {
        return Ok(());
    }
    s3.create_bucket()
        .bucket(name)
        .object_lock_enabled_for_bucket(true)
        .send()
        .await
        .map_err(|err| aws_error("CreateBucket", err))?;
    Ok(())
}

async fn ensure_table(
    dynamo: &aws_sdk_dynamodb::Client,
    spec: &TableSpec,
    name: &str,
) -> Result<(), InfraError> {
    let build = |err| aws_error("CreateTable (building the request)", err);
    let key_schema = |pairs: &[(String, String)]| {
        pairs
            .iter()
            .map(|(attribute, key_type)| {
                KeySchemaElement::builder()
                    .attribute_name(attribute)
                    .key_type(KeyType::from(key_type.as_str()))
                    .build()
            })
            .collect::<Result<Vec<_>, _>>()
    };
    let mut request = dynamo
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .set_key_schema(Some(key_schema(&spec.key_schema).map_err(build)?));
    if let Some(view) = &spec.stream_view_type {
        let stream = StreamSpecification::builder()
            .stream_enabled(true)
            .stream_view_type(StreamViewType::from(view.as_str()))
            .build()
            .map_err(build)?;
        request = request.stream_specification(stream);
    }
    for (attribute, scalar_type) in &spec.attributes {
        let definition = AttributeDefinition::builder()
            .attribute_name(attribute)
            .attribute_type(ScalarAttributeType::from(scalar_type.as_str()))
            .build()
            .map_err(build)?;
        request = request.attribute_definitions(definition);
    }
    for index in &spec.indexes {
        let non_key =
            (!index.non_key_attributes.is_empty()).then(|| index.non_key_attributes.clone());
        let projection = Projection::builder()
            .projection_type(ProjectionType::from(index.projection_type.as_str()))
            .set_non_key_attributes(non_key)
            .build();
        let index = GlobalSecondaryIndex::builder()
            .index_name(&index.name)
            .set_key_schema(Some(key_schema(&index.key_schema).map_err(build)?))
            .projection(projection)
            .build()
            .map_err(build)?;
        request = request.global_secondary_indexes(index);
    }
    match request.send().await {
        Ok(_) => tracing::info!(table = name, "created table"),
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_resource_in_use_exception()) =>
        {
            tracing::debug!(table = name, "table exists, reusing it");
        }
        Err(err) => return Err(aws_error("CreateTable", err)),
    }
    dynamo
        .wait_until_table_exists()
        .table_name(name)
        .wait(TABLE_ACTIVE_TIMEOUT)
        .await
        .map_err(|err| aws_error("DescribeTable (waiting for ACTIVE)", err))?;

    let Some(ttl_attribute) = &spec.ttl_attribute else {
        return Ok(());
    };
    // Enabling TTL twice is an error on AWS, so look first.
    if ttl_status(dynamo, name).await?.is_some() {
        return Ok(());
    }
    let ttl = TimeToLiveSpecification::builder()
        .attribute_name(ttl_attribute)
        .enabled(true)
        .build()
        .map_err(|err| aws_error("UpdateTimeToLive (building the request)", err))?;
    dynamo
        .update_time_to_live()
        .table_name(name)
        .time_to_live_specification(ttl)
        .send()
        .await
        .map_err(|err| aws_error("UpdateTimeToLive", err))?;
    Ok(())
}

/// The TTL attribute, when TTL is enabled or being enabled.
async fn ttl_status(
    dynamo: &aws_sdk_dynamodb::Client,
    table: &str,
) -> Result<Option<String>, InfraError> {
    let out = dynamo
        .describe_time_to_live()
        .table_name(table)
        .send()
        .await
        .map_err(|err| aws_error("DescribeTimeToLive", err))?;
    let Some(ttl) = out.time_to_live_description() else {
        return Ok(None);
    };
    let on = matches!(
        ttl.time_to_live_status(),
        Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling)
    );
    Ok(ttl.attribute_name().filter(|_| on).map(str::to_owned))
}

fn queue_attributes(
    visibility_timeout: u32,
    message_retention: u32,
    redrive_policy: Option<String>,
) -> HashMap<QueueAttributeName, String> {
    let mut attributes = HashMap::from([
        (
            QueueAttributeName::VisibilityTimeout,
            visibility_timeout.to_string(),
        ),
        (
            QueueAttributeName::MessageRetentionPeriod,
            message_retention.to_string(),
        ),
    ]);
    if let Some(policy) = redrive_policy {
        attributes.insert(QueueAttributeName::RedrivePolicy, policy);
    }
    attributes
}

/// CreateQueue is idempotent only when the attributes match; when it refuses because the queue exists
/// with other attributes (the error code differs between AWS, moto and LocalStack), reuse the queue.
async fn ensure_queue(
    sqs: &aws_sdk_sqs::Client,
    name: &str,
    attributes: HashMap<QueueAttributeName, String>,
) -> Result<String, InfraError> {
    let created = sqs
        .create_queue()
        .queue_name(name)
        .set_attributes(Some(attributes))
        .send()
        .await;
    let url = match created {
        Ok(out) => out.queue_url,
        Err(err) if err.as_service_error().is_some() => {
            match sqs.get_queue_url().queue_name(name).send().await {
                Ok(existing) => {
                    tracing::debug!(queue = name, "queue exists, reusing it");
                    existing.queue_url
                }
                Err(_) => return Err(aws_error("CreateQueue", err)),
            }
        }
        Err(err) => return Err(aws_error("CreateQueue", err)),
    };
    url.ok_or_else(|| unexpected(name, "CreateQueue returned no QueueUrl"))
}

/// The ARN of the queue at `url`.
/// Deletes what `ensure` created: the table and both queues. Best effort, for tests, benchmarks and
/// load runs that made their own resources on the emulator: a leftover costs only memory there.
pub async fn remove(
    dynamo: &aws_sdk_dynamodb::Client,
    sqs: &aws_sdk_sqs::Client,
    created: &Created,
) {
    for table in [&created.table, &created.counters_table, &created.log_table] {
        let _ = dynamo.delete_table().table_name(table).send().await;
    }
    for url in [&created.queue_url, &created.dead_letter_queue_url] {
        let _ = sqs.delete_queue().queue_url(url).send().await;
    }
}

pub async fn queue_arn(sqs: &aws_sdk_sqs::Client, url: &str) -> Result<String, InfraError> {
    let mut attributes = get_queue_attributes(sqs, url, &[QueueAttributeName::QueueArn]).await?;
    attributes
        .remove(&QueueAttributeName::QueueArn)
        .ok_or_else(|| unexpected(url, "no QueueArn attribute"))
}

async fn get_queue_attributes(
    sqs: &aws_sdk_sqs::Client,
    url: &str,
    names: &[QueueAttributeName],
) -> Result<HashMap<QueueAttributeName, String>, InfraError> {
    let out = sqs
        .get_queue_attributes()
        .queue_url(url)
        .set_attribute_names(Some(names.to_vec()))
        .send()
        .await
        .map_err(|err| aws_error("GetQueueAttributes", err))?;
    Ok(out.attributes.unwrap_or_default())
}

/// Reads the live resources back into a spec, in the template's terms. It fails when the queue
/// redrives anywhere but to `created.dead_letter_queue_url`, which a spec cannot express.
pub async fn describe(
    dynamo: &aws_sdk_dynamodb::Client,
    sqs: &aws_sdk_sqs::Client,
    created: &Created,
) -> Result<InfraSpec, InfraError> {
    let table = describe_table(dynamo, &created.table).await?;
    let counters_table = describe_table(dynamo, &created.counters_table).await?;
    let log_table = describe_table(dynamo, &created.log_table).await?;
    let (queue, redrive_target) = describe_queue(sqs, &created.queue_url).await?;
    let (dead_letter_queue, _) = describe_queue(sqs, &created.dead_letter_queue_url).await?;
    if let Some(target) = redrive_target {
        let dlq_arn = queue_arn(sqs, &created.dead_letter_queue_url).await?;
        if target != dlq_arn {
            let problem = format!("redrives to {target}, not to the dead-letter queue {dlq_arn}");
            return Err(unexpected(&created.queue_url, problem));
        }
    }
    Ok(InfraSpec {
        table,
        counters_table,
        log_table,
        queue,
        dead_letter_queue,
    })
}

async fn describe_table(
    dynamo: &aws_sdk_dynamodb::Client,
    name: &str,
) -> Result<TableSpec, InfraError> {
    let out = dynamo
        .describe_table()
        .table_name(name)
        .send()
        .await
        .map_err(|err| aws_error("DescribeTable", err))?;
    let table = out
        .table()
        .ok_or_else(|| unexpected(name, "DescribeTable returned no table"))?;
    let key_schema = |keys: &[KeySchemaElement]| {
        keys.iter()
            .map(|k| {
                (
                    k.attribute_name().to_owned(),
                    k.key_type().as_str().to_owned(),
                )
            })
            .collect()
    };
    let mut indexes = Vec::new();
    for index in table.global_secondary_indexes() {
        let index_name = index.index_name().unwrap_or_default().to_owned();
        let projection = index.projection();
        let projection_type = projection
            .and_then(Projection::projection_type)
            .ok_or_else(|| {
                unexpected(name, format!("index {index_name} has no projection type"))
            })?;
        indexes.push(IndexSpec {
            key_schema: key_schema(index.key_schema()),
            projection_type: projection_type.as_str().to_owned(),
            non_key_attributes: projection
                .map(|p| p.non_key_attributes().to_vec())
                .unwrap_or_default(),
            name: index_name,
        });
    }
    Ok(TableSpec {
        attributes: table
            .attribute_definitions()
            .iter()
            .map(|a| {
                (
                    a.attribute_name().to_owned(),
                    a.attribute_type().as_str().to_owned(),
                )
            })
            .collect(),
        key_schema: key_schema(table.key_schema()),
        indexes,
        ttl_attribute: ttl_status(dynamo, name).await?,
        stream_view_type: table
            .stream_specification()
            .filter(|s| s.stream_enabled())
            .and_then(|s| s.stream_view_type())
            .map(|v| v.as_str().to_owned()),
    })
}

/// The queue's spec and, if it has a redrive policy, the ARN it redrives to.
async fn describe_queue(
    sqs: &aws_sdk_sqs::Client,
    url: &str,
) -> Result<(QueueSpec, Option<String>), InfraError> {
    let names = [
        QueueAttributeName::VisibilityTimeout,
        QueueAttributeName::MessageRetentionPeriod,
        QueueAttributeName::RedrivePolicy,
    ];
    let attributes = get_queue_attributes(sqs, url, &names).await?;
    let number = |name: &QueueAttributeName| {
        attributes
            .get(name)
            .and_then(|v| v.parse::<u32>().ok())
            .ok_or_else(|| unexpected(url, format!("{} missing or not a number", name.as_str())))
    };
    let (max_receive_count, target) = match attributes.get(&QueueAttributeName::RedrivePolicy) {
        None => (None, None),
        Some(policy) => {
            let bad = || unexpected(url, format!("unreadable RedrivePolicy {policy}"));
            let policy: serde_json::Value = serde_json::from_str(policy).map_err(|_| bad())?;
            // AWS documents maxReceiveCount as a number but has accepted and returned strings.
            let count = match &policy["maxReceiveCount"] {
                serde_json::Value::Number(n) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
                serde_json::Value::String(s) => s.parse().ok(),
                _ => None,
            };
            let target = policy["deadLetterTargetArn"].as_str().map(str::to_owned);
            (Some(count.ok_or_else(bad)?), Some(target.ok_or_else(bad)?))
        }
    };
    let spec = QueueSpec {
        visibility_timeout: number(&QueueAttributeName::VisibilityTimeout)?,
        message_retention: number(&QueueAttributeName::MessageRetentionPeriod)?,
        max_receive_count,
    };
    Ok((spec, target))
}
