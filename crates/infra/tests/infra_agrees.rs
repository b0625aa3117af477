//! Proves that what local bootstrap creates on the emulator is what `infra/template.yaml` deploys:
//! the table, its indexes, TTL, the queue and its redrive to the dead-letter queue. Needs the
//! emulator at `AWS_ENDPOINT_URL` (default `http://127.0.0.1:4566`).

use audit_infra::{self as infra, InfraSpec, ResourceNames};

type TestResult = Result<(), Box<dyn std::error::Error>>;

async fn clients() -> (aws_sdk_dynamodb::Client, aws_sdk_sqs::Client) {
    let config = audit_infra::emulator_sdk_config(&audit_infra::emulator_endpoint()).await;
    (
        aws_sdk_dynamodb::Client::new(&config),
        aws_sdk_sqs::Client::new(&config),
    )
}

#[tokio::test]
async fn bootstrap_creates_what_the_template_defines() -> TestResult {
    let (dynamo, sqs) = clients().await;
    let spec = InfraSpec::from_template(infra::TEMPLATE)?;
    let names = ResourceNames::unique("infra-agrees");

    let created = infra::ensure(&dynamo, &sqs, &spec, &names, None).await?;
    let live = infra::describe(&dynamo, &sqs, &created).await?;

    assert_eq!(live.normalized(), spec.clone().normalized());
    infra::remove(&dynamo, &sqs, &created).await;
    Ok(())
}

#[tokio::test]
async fn bootstrap_twice_reuses_the_resources() -> TestResult {
    let (dynamo, sqs) = clients().await;
    let spec = InfraSpec::from_template(infra::TEMPLATE)?;
    let names = ResourceNames::unique("infra-twice");

    let first = infra::ensure(&dynamo, &sqs, &spec, &names, None).await?;
    let second = infra::ensure(&dynamo, &sqs, &spec, &names, None).await?;
    assert_eq!(first, second);
    // A different override must not fail on the existing queue either.
    let third = infra::ensure(&dynamo, &sqs, &spec, &names, Some(2)).await?;
    assert_eq!(first, third);
    let live = infra::describe(&dynamo, &sqs, &first).await?;
    assert_eq!(live.normalized(), spec.normalized());
    infra::remove(&dynamo, &sqs, &first).await;
    Ok(())
}

#[tokio::test]
async fn visibility_override_changes_only_the_queue_visibility() -> TestResult {
    let (dynamo, sqs) = clients().await;
    let spec = InfraSpec::from_template(infra::TEMPLATE)?;
    let names = ResourceNames::unique("infra-override");

    let created = infra::ensure(&dynamo, &sqs, &spec, &names, Some(1)).await?;
    let live = infra::describe(&dynamo, &sqs, &created).await?;

    let mut expected = spec.normalized();
    expected.queue.visibility_timeout = 1;
    assert_eq!(live.normalized(), expected);
    infra::remove(&dynamo, &sqs, &created).await;
    Ok(())
}

#[tokio::test]
async fn describe_notices_an_index_that_drifted_from_the_template() -> TestResult {
    let (dynamo, sqs) = clients().await;
    let spec = InfraSpec::from_template(infra::TEMPLATE)?;
    let mut drifted = spec.clone();
    let by_customer = drifted
        .table
        .indexes
        .iter_mut()
        .find(|index| index.name == "by_customer")
        .expect("the template has by_customer");
    by_customer.projection_type = "KEYS_ONLY".to_owned();
    by_customer.non_key_attributes.clear();
    let names = ResourceNames::unique("infra-drift");

    let created = infra::ensure(&dynamo, &sqs, &drifted, &names, None).await?;
    let live = infra::describe(&dynamo, &sqs, &created).await?.normalized();

    assert_eq!(live, drifted.normalized());
    assert_ne!(live, spec.normalized());
    infra::remove(&dynamo, &sqs, &created).await;
    Ok(())
}
