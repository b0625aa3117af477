//! The template read into a spec, and the errors a broken template gives.

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
    assert_eq!(
        spec().table.stream_view_type.as_deref(),
        Some("NEW_AND_OLD_IMAGES")
    );
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
  CountersTable:
    Type: AWS::DynamoDB::Table
    Properties:
      AttributeDefinitions: [{ AttributeName: pk, AttributeType: S }]
      KeySchema: [{ AttributeName: pk, KeyType: HASH }]
  LogTable:
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
fn template_keeps_the_counters_in_a_table_of_their_own_without_a_stream() {
    let counters = spec().counters_table;
    assert_eq!(
        counters.key_schema,
        vec![pair("pk", "HASH"), pair("sk", "RANGE")]
    );
    assert!(counters.indexes.is_empty());
    assert_eq!(counters.stream_view_type, None);
    assert_eq!(
        spec().table.stream_view_type.as_deref(),
        Some("NEW_AND_OLD_IMAGES")
    );
}

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
