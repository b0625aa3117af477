//! Resource bootstrap from the SAM template. `infra/template.yaml` is the one source of truth for the
//! table, its indexes, the queue and the dead-letter queue: this module reads it and creates the same
//! resources on an emulator (moto or LocalStack), so that local runs and tests never drift from what
//! is deployed. `describe` reads live resources back so a test can prove that the two agree.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::client::Waiters as _;
use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TimeToLiveSpecification, TimeToLiveStatus,
};
use aws_sdk_sqs::types::QueueAttributeName;
use serde_yaml::{Mapping, Value};

/// The deployed template, compiled in so that bootstrap cannot read a different copy.
pub const TEMPLATE: &str = include_str!("../../../infra/template.yaml");

/// Logical ids that `ensure` maps onto emulator resources.
const TABLE_ID: &str = "EventsTable";
const QUEUE_ID: &str = "EventsQueue";
const DEAD_LETTER_QUEUE_ID: &str = "EventsDeadLetterQueue";
/// SQS defaults, for attributes a template leaves out (the live queue reports them anyway).
const SQS_DEFAULT_VISIBILITY_TIMEOUT: u32 = 30;
const SQS_DEFAULT_MESSAGE_RETENTION: u32 = 345_600;
/// Real AWS takes seconds to a few minutes to activate a table with indexes; emulators are instant.
const TABLE_ACTIVE_TIMEOUT: Duration = Duration::from_secs(300);

/// The table as the template defines it: `(name, type)` attributes, `(name, HASH|RANGE)` keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSpec {
    pub attributes: Vec<(String, String)>,
    pub key_schema: Vec<(String, String)>,
    pub indexes: Vec<IndexSpec>,
    pub ttl_attribute: Option<String>,
}

/// One global secondary index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexSpec {
    pub name: String,
    pub key_schema: Vec<(String, String)>,
    pub projection_type: String,
    pub non_key_attributes: Vec<String>,
}

/// The queue attributes that matter to delivery; times in seconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueSpec {
    pub visibility_timeout: u32,
    pub message_retention: u32,
    /// Receives before SQS moves a message to the dead-letter queue; `None` means no redrive.
    pub max_receive_count: Option<u32>,
}

/// Everything the service needs from its infrastructure, as one comparable value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InfraSpec {
    pub table: TableSpec,
    pub queue: QueueSpec,
    pub dead_letter_queue: QueueSpec,
}

/// Physical names to create; tests make them unique so that they run in parallel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceNames {
    pub table: String,
    pub queue: String,
    pub dead_letter_queue: String,
}

/// What `ensure` created or found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Created {
    pub table: String,
    pub queue_url: String,
    pub dead_letter_queue_url: String,
}

type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why bootstrap failed. SDK error types stay inside: callers see the message and the source chain.
#[derive(Debug, thiserror::Error)]
pub enum InfraError {
    /// The template is not YAML at all.
    #[error("the template is not valid YAML")]
    Yaml(#[source] serde_yaml::Error),
    /// The template lacks something, or uses a construct this module does not resolve.
    #[error("template, {at}: {problem}")]
    Template { at: String, problem: String },
    /// A call to the emulator (or AWS) failed.
    #[error("{operation} failed: {message}")]
    Aws {
        operation: &'static str,
        message: String,
        #[source]
        source: BoxError,
    },
    /// A live resource answered with something that cannot be read back into a spec.
    #[error("{resource}: {problem}")]
    Unexpected { resource: String, problem: String },
}

fn aws_error<E>(operation: &'static str, err: E) -> InfraError
where
    E: std::error::Error + Send + Sync + 'static,
{
    InfraError::Aws {
        operation,
        message: DisplayErrorContext(&err).to_string(),
        source: Box::new(err),
    }
}

fn template_error(at: &str, problem: impl Into<String>) -> InfraError {
    InfraError::Template {
        at: at.to_owned(),
        problem: problem.into(),
    }
}

fn unexpected(resource: &str, problem: impl Into<String>) -> InfraError {
    InfraError::Unexpected {
        resource: resource.to_owned(),
        problem: problem.into(),
    }
}

impl InfraSpec {
    /// Reads the table and both queues out of a SAM/CloudFormation template. `!Ref` to a parameter
    /// resolves to its `Default`, as a deploy without overrides would.
    pub fn from_template(yaml: &str) -> Result<InfraSpec, InfraError> {
        let root: Value = serde_yaml::from_str(yaml).map_err(InfraError::Yaml)?;
        let empty = Mapping::new();
        let parameters = root
            .get("Parameters")
            .and_then(Value::as_mapping)
            .unwrap_or(&empty);
        let properties = |id: &str| -> Result<Value, InfraError> {
            let mut props = root
                .get("Resources")
                .and_then(|r| r.get(id))
                .and_then(|r| r.get("Properties"))
                .cloned()
                .ok_or_else(|| template_error(id, "resource or its Properties missing"))?;
            resolve_parameters(&mut props, parameters, id)?;
            Ok(props)
        };
        let table: TableProperties = typed(properties(TABLE_ID)?, TABLE_ID)?;
        let queue_props = properties(QUEUE_ID)?;
        // `ensure` always redrives the queue to the dead-letter queue; the template must say the same.
        if let Some(redrive) = queue_props.get("RedrivePolicy") {
            if get_att_resource(redrive.get("deadLetterTargetArn")) != Some(DEAD_LETTER_QUEUE_ID) {
                let at = format!("{QUEUE_ID}.RedrivePolicy.deadLetterTargetArn");
                let problem = format!("must be !GetAtt {DEAD_LETTER_QUEUE_ID}.Arn");
                return Err(template_error(&at, problem));
            }
        }
        let queue: QueueProperties = typed(queue_props, QUEUE_ID)?;
        let dead_letter_queue: QueueProperties =
            typed(properties(DEAD_LETTER_QUEUE_ID)?, DEAD_LETTER_QUEUE_ID)?;
        Ok(InfraSpec {
            table: table.into_spec(),
            queue: queue.into_spec(QUEUE_ID)?,
            dead_letter_queue: dead_letter_queue.into_spec(DEAD_LETTER_QUEUE_ID)?,
        })
    }

    /// Sorts what has no meaningful order (attributes, indexes, projected attributes), so that two
    /// specs compare equal whatever order a template or a service lists them in. Key schemas keep
    /// their order: HASH before RANGE is meaningful.
    pub fn normalized(mut self) -> InfraSpec {
        self.table.attributes.sort();
        self.table.indexes.sort_by(|a, b| a.name.cmp(&b.name));
        for index in &mut self.table.indexes {
            index.non_key_attributes.sort();
        }
        self
    }
}

/// Replaces `!Ref Param` and `{Ref: Param}` with the parameter's `Default`, everywhere in `value`.
/// Refs to resources and other intrinsics stay: a property that needs them fails to deserialize.
fn resolve_parameters(value: &mut Value, parameters: &Mapping, at: &str) -> Result<(), InfraError> {
    let reference = match &*value {
        Value::Tagged(tagged) if tagged.tag == "Ref" => tagged.value.as_str(),
        Value::Mapping(m) if m.len() == 1 => m.get("Ref").and_then(Value::as_str),
        _ => None,
    };
    if let Some(name) = reference.filter(|name| parameters.contains_key(*name)) {
        let default = parameters[name].get("Default").ok_or_else(|| {
            template_error(at, format!("Ref {name}: the parameter has no Default"))
        })?;
        *value = default.clone();
        return Ok(());
    }
    match value {
        Value::Sequence(items) => items
            .iter_mut()
            .try_for_each(|item| resolve_parameters(item, parameters, at)),
        Value::Mapping(m) => m.iter_mut().try_for_each(|(key, item)| {
            let at = format!("{at}.{}", key.as_str().unwrap_or("?"));
            resolve_parameters(item, parameters, &at)
        }),
        Value::Tagged(tagged) => resolve_parameters(&mut tagged.value, parameters, at),
        _ => Ok(()),
    }
}

fn typed<T: serde::de::DeserializeOwned>(value: Value, id: &str) -> Result<T, InfraError> {
    serde_yaml::from_value(value).map_err(|err| template_error(id, err.to_string()))
}

/// The resolved target resource of `!GetAtt X.Arn`, `!GetAtt [X, Arn]` or `{Fn::GetAtt: ...}`.
fn get_att_resource(value: Option<&Value>) -> Option<&str> {
    let args = match value? {
        Value::Tagged(tagged) if tagged.tag == "GetAtt" => &tagged.value,
        Value::Mapping(m) if m.len() == 1 => m.get("Fn::GetAtt")?,
        _ => return None,
    };
    match args {
        Value::String(dotted) => dotted.split('.').next(),
        Value::Sequence(parts) => parts.first()?.as_str(),
        _ => None,
    }
}

/// The subset of `AWS::DynamoDB::Table` properties the spec holds; the rest is ignored.
#[derive(serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TableProperties {
    attribute_definitions: Vec<AttributeDefinitionProperty>,
    key_schema: Vec<KeyProperty>,
    #[serde(default)]
    global_secondary_indexes: Vec<IndexProperties>,
    time_to_live_specification: Option<TtlProperties>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AttributeDefinitionProperty {
    attribute_name: String,
    attribute_type: String,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct KeyProperty {
    attribute_name: String,
    key_type: String,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct IndexProperties {
    index_name: String,
    key_schema: Vec<KeyProperty>,
    projection: ProjectionProperties,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ProjectionProperties {
    projection_type: String,
    #[serde(default)]
    non_key_attributes: Vec<String>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TtlProperties {
    attribute_name: String,
    enabled: Scalar,
}

/// The subset of `AWS::SQS::Queue` properties the spec holds.
#[derive(serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct QueueProperties {
    visibility_timeout: Option<Scalar>,
    message_retention_period: Option<Scalar>,
    redrive_policy: Option<RedriveProperties>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct RedriveProperties {
    max_receive_count: Scalar,
}

/// CloudFormation takes numbers and booleans both bare and quoted (a parameter's value is a string).
#[derive(serde::Deserialize)]
#[serde(untagged)]
enum Scalar {
    Bool(bool),
    Number(u64),
    Text(String),
}

impl Scalar {
    fn is_true(&self) -> bool {
        match self {
            Scalar::Bool(b) => *b,
            Scalar::Text(s) => s.eq_ignore_ascii_case("true"),
            Scalar::Number(_) => false,
        }
    }

    fn to_u32(&self, at: &str) -> Result<u32, InfraError> {
        let number = match self {
            Scalar::Number(n) => u32::try_from(*n).ok(),
            Scalar::Text(s) => s.trim().parse().ok(),
            Scalar::Bool(_) => None,
        };
        number.ok_or_else(|| template_error(at, "not a non-negative 32-bit integer"))
    }
}

fn key_pairs(keys: Vec<KeyProperty>) -> Vec<(String, String)> {
    keys.into_iter()
        .map(|k| (k.attribute_name, k.key_type))
        .collect()
}

impl TableProperties {
    fn into_spec(self) -> TableSpec {
        let indexes = self
            .global_secondary_indexes
            .into_iter()
            .map(|index| IndexSpec {
                name: index.index_name,
                key_schema: key_pairs(index.key_schema),
                projection_type: index.projection.projection_type,
                non_key_attributes: index.projection.non_key_attributes,
            })
            .collect();
        TableSpec {
            attributes: self
                .attribute_definitions
                .into_iter()
                .map(|a| (a.attribute_name, a.attribute_type))
                .collect(),
            key_schema: key_pairs(self.key_schema),
            indexes,
            ttl_attribute: self
                .time_to_live_specification
                .filter(|ttl| ttl.enabled.is_true())
                .map(|ttl| ttl.attribute_name),
        }
    }
}

impl QueueProperties {
    fn into_spec(self, id: &str) -> Result<QueueSpec, InfraError> {
        let number = |value: Option<Scalar>, key: &str, default: u32| match value {
            None => Ok(default),
            Some(value) => value.to_u32(&format!("{id}.{key}")),
        };
        let max_receive_count = self
            .redrive_policy
            .map(|r| {
                r.max_receive_count
                    .to_u32(&format!("{id}.RedrivePolicy.maxReceiveCount"))
            })
            .transpose()?;
        Ok(QueueSpec {
            visibility_timeout: number(
                self.visibility_timeout,
                "VisibilityTimeout",
                SQS_DEFAULT_VISIBILITY_TIMEOUT,
            )?,
            message_retention: number(
                self.message_retention_period,
                "MessageRetentionPeriod",
                SQS_DEFAULT_MESSAGE_RETENTION,
            )?,
            max_receive_count,
        })
    }
}

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
        queue_url,
        dead_letter_queue_url,
    })
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

async fn queue_arn(sqs: &aws_sdk_sqs::Client, url: &str) -> Result<String, InfraError> {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(a: &str, b: &str) -> (String, String) {
        (a.to_owned(), b.to_owned())
    }

    fn index(name: &str, hash: &str, projection: &str, non_key: &[&str]) -> IndexSpec {
        IndexSpec {
            name: name.to_owned(),
            key_schema: vec![pair(hash, "HASH"), pair("ts", "RANGE")],
            projection_type: projection.to_owned(),
            non_key_attributes: non_key.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn spec() -> InfraSpec {
        InfraSpec::from_template(TEMPLATE).expect("the template parses")
    }

    #[test]
    fn template_defines_the_three_indexes_of_the_data_model() {
        let indexes = spec().normalized().table.indexes;
        let expected = vec![
            index("by_customer", "cp", "INCLUDE", &["name_key"]),
            index("by_name", "np", "KEYS_ONLY", &[]),
            index("by_time", "tp", "KEYS_ONLY", &[]),
        ];
        assert_eq!(indexes, expected);
    }

    #[test]
    fn template_keys_the_table_on_pk_and_sk_with_string_attributes() {
        let table = spec().normalized().table;
        assert_eq!(
            table.key_schema,
            vec![pair("pk", "HASH"), pair("sk", "RANGE")]
        );
        let expected: Vec<_> = ["cp", "np", "pk", "sk", "tp", "ts"]
            .iter()
            .map(|a| pair(a, "S"))
            .collect();
        assert_eq!(table.attributes, expected);
    }

    #[test]
    fn template_expires_events_on_expires_at() {
        assert_eq!(spec().table.ttl_attribute.as_deref(), Some("expires_at"));
    }

    #[test]
    fn template_queue_redrives_after_the_default_max_receive_count() {
        let spec = spec();
        assert_eq!(
            spec.queue,
            QueueSpec {
                visibility_timeout: 180,
                message_retention: 1_209_600,
                max_receive_count: Some(5)
            }
        );
        assert_eq!(
            spec.dead_letter_queue,
            QueueSpec {
                visibility_timeout: 30,
                message_retention: 1_209_600,
                max_receive_count: None
            }
        );
    }

    const MINIMAL: &str = r#"
Parameters:
  Receives: { Type: Number, Default: "7" }
Resources:
  EventsTable:
    Type: AWS::DynamoDB::Table
    Properties:
      AttributeDefinitions: [{ AttributeName: pk, AttributeType: S }]
      KeySchema: [{ AttributeName: pk, KeyType: HASH }]
  EventsDeadLetterQueue: { Type: AWS::SQS::Queue, Properties: {} }
  EventsQueue:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: "60"
      RedrivePolicy:
        deadLetterTargetArn: { "Fn::GetAtt": [EventsDeadLetterQueue, Arn] }
        maxReceiveCount: { Ref: Receives }
"#;

    #[test]
    fn long_form_intrinsics_and_quoted_numbers_resolve() {
        let spec = InfraSpec::from_template(MINIMAL).unwrap();
        assert_eq!(spec.queue.max_receive_count, Some(7));
        assert_eq!(spec.queue.visibility_timeout, 60);
        assert_eq!(spec.queue.message_retention, SQS_DEFAULT_MESSAGE_RETENTION);
        assert!(spec.table.indexes.is_empty());
        assert_eq!(spec.table.ttl_attribute, None);
    }

    #[test]
    fn ref_to_a_parameter_without_default_is_an_error() {
        let yaml = MINIMAL.replace("Default: \"7\"", "MinValue: 1");
        let err = InfraSpec::from_template(&yaml).unwrap_err();
        assert!(
            matches!(&err, InfraError::Template { at, .. } if at.contains("maxReceiveCount")),
            "{err}"
        );
    }

    #[test]
    fn redrive_to_another_queue_is_an_error() {
        let yaml = MINIMAL.replace("[EventsDeadLetterQueue, Arn]", "[SomeOtherQueue, Arn]");
        let err = InfraSpec::from_template(&yaml).unwrap_err();
        assert!(
            matches!(&err, InfraError::Template { at, .. } if at.contains("deadLetterTargetArn")),
            "{err}"
        );
    }

    #[test]
    fn missing_table_is_an_error() {
        let yaml = MINIMAL.replace("EventsTable:", "OtherTable:");
        let err = InfraSpec::from_template(&yaml).unwrap_err();
        assert!(
            matches!(&err, InfraError::Template { at, .. } if at == "EventsTable"),
            "{err}"
        );
    }

    #[test]
    fn unresolvable_tag_in_a_used_property_is_an_error() {
        let yaml = MINIMAL.replace(
            "VisibilityTimeout: \"60\"",
            "VisibilityTimeout: !Sub \"${X}\"",
        );
        let err = InfraSpec::from_template(&yaml).unwrap_err();
        assert!(
            matches!(&err, InfraError::Template { at, .. } if at == "EventsQueue"),
            "{err}"
        );
    }
}
