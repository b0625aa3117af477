//! Reading the tables and queues out of the SAM template, parameters resolved to their defaults.

use serde_yaml::{Mapping, Value};

use super::*;

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
        let counters_table: TableProperties =
            typed(properties(COUNTERS_TABLE_ID)?, COUNTERS_TABLE_ID)?;
        let log_table: TableProperties = typed(properties(LOG_TABLE_ID)?, LOG_TABLE_ID)?;
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
            counters_table: counters_table.into_spec(),
            log_table: log_table.into_spec(),
            queue: queue.into_spec(QUEUE_ID)?,
            dead_letter_queue: dead_letter_queue.into_spec(DEAD_LETTER_QUEUE_ID)?,
        })
    }

    /// Sorts what has no meaningful order (attributes, indexes, projected attributes), so that two
    /// specs compare equal whatever order a template or a service lists them in. Key schemas keep
    /// their order: HASH before RANGE is meaningful.
    pub fn normalized(mut self) -> InfraSpec {
        for table in [
            &mut self.table,
            &mut self.counters_table,
            &mut self.log_table,
        ] {
            table.attributes.sort();
            table.indexes.sort_by(|a, b| a.name.cmp(&b.name));
            for index in &mut table.indexes {
                index.non_key_attributes.sort();
            }
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
    stream_specification: Option<StreamProperties>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct StreamProperties {
    stream_view_type: String,
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
            stream_view_type: self.stream_specification.map(|s| s.stream_view_type),
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
