//! `audit-log keys` against the emulator: create prints a key that verifies, list never shows a
//! secret or a hash, revoke marks the key.

use audit_aws::DynamoKeys;
use audit_domain::auth::{ApiKey, AuthMode, AuthPolicy, Scope, Verifier};
use audit_infra::{self as infra, InfraSpec, ResourceNames};

use crate::{cli, endpoint, stdout};

#[tokio::test]
async fn keys_are_created_listed_and_revoked() {
    let sdk = audit_infra::emulator_sdk_config(&endpoint()).await;
    let dynamo = aws_sdk_dynamodb::Client::new(&sdk);
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let names = ResourceNames::unique("cli");
    let spec = InfraSpec::from_template(infra::TEMPLATE).unwrap();
    let created = infra::ensure(&dynamo, &sqs, &spec, &names, None)
        .await
        .expect("the emulator answers on AWS_ENDPOINT_URL");
    let table = created.table.as_str();

    let out = stdout(&cli(
        table,
        &["keys", "create", "--tenant", "acme", "--scope", "logs:read"],
    ));
    let text = out
        .lines()
        .find_map(|l| l.strip_prefix("key:"))
        .unwrap()
        .trim();
    let key = ApiKey::parse(text).expect("a well-formed key");
    assert!(out.contains("scopes:  logs:read\n"), "{out}");

    let verifier = Verifier::new(
        DynamoKeys::new(dynamo.clone(), table),
        AuthPolicy::new(AuthMode::Required).with_ttl(std::time::Duration::ZERO),
    );
    let principal = verifier.authorize(Some(text), Scope::Read).await.unwrap();
    assert_eq!(principal.tenant.as_str(), "acme");

    let listed = stdout(&cli(table, &["keys", "list", "--tenant", "acme"]));
    assert!(listed.contains(key.id().as_str()), "{listed}");
    assert!(!listed.contains(&text[21..]), "the secret is never listed");
    assert!(!listed.contains(&key.hash().to_hex()), "nor its hash");
    assert!(listed.contains("revoked: -"), "{listed}");

    let revoked = stdout(&cli(table, &["keys", "revoke", key.id().as_str()]));
    assert!(revoked.contains(key.id().as_str()), "{revoked}");
    let listed = stdout(&cli(table, &["keys", "list", "--tenant", "acme"]));
    assert!(!listed.contains("revoked: -"), "{listed}");
    assert!(verifier.authorize(Some(text), Scope::Read).await.is_err());

    let unknown = cli(table, &["keys", "revoke", "0123456789abcdef"]);
    assert!(!unknown.status.success());
    assert_eq!(
        cli(table, &["keys", "create", "--tenant", "acme"])
            .status
            .code(),
        Some(2)
    );

    infra::remove(&dynamo, &sqs, &created).await;
}
