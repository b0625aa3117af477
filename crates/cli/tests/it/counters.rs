//! `audit-log counters` against the emulator. Events are stored as the drain stores them, with no
//! count function running, so every counter starts missing: check names them and exits 1, rebuild
//! writes them, check then agrees, and a counter corrupted by hand is named again. The expected
//! counts come from a brute force over the test's own events and their RFC 3339 text, not from
//! the domain's recount.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use audit_aws::counters::DynamoCounters;
use audit_aws::DynamoStore;
use audit_domain::event::{Description, EventName};
use audit_domain::layout::{CatalogueRecord, EventRecord};
use audit_domain::ports::{EventStore as _, Record};
use audit_domain::{time, Event, EventId, Tenant};
use audit_infra::{self as infra, InfraSpec, ResourceNames};
use aws_sdk_dynamodb::types::AttributeValue;

use crate::{cli_with_counters, endpoint};

const SHOWN: usize = 20;

/// (tenant, event name, created_at, customer)
const EVENTS: &[(&str, &str, &str, Option<u64>)] = &[
    ("acme", "User.Login", "2026-11-30T02:30:00.000001Z", None),
    (
        "acme",
        "user.login",
        "2026-11-30T02:30:59.999999Z",
        Some(18),
    ),
    ("acme", "user.login", "2026-11-30T03:05:00Z", None),
    ("acme", "key.rotated", "2026-12-01T10:00:00Z", None),
    ("acme", "key.rotated", "2026-12-01T10:00:30Z", Some(18)),
    ("other", "user.login", "2026-11-30T02:30:10Z", None),
];

fn event(tenant: &str, name: &str, created_at: &str, customer_id: Option<u64>) -> Event {
    let created_at = time::parse_rfc3339(created_at).unwrap();
    Event {
        id: EventId::generate(),
        tenant: Tenant::parse(tenant).unwrap(),
        event_name: EventName::parse(name.to_owned()).unwrap(),
        description: Description::parse(format!("{name} happened")).unwrap(),
        customer_id,
        created_at,
        received_at: created_at,
        metadata: None,
        expires_at: None,
    }
}

/// What every counter item should hold, by brute force: `C#<tenant>` and `C#<tenant>#<lowercase
/// name>`, each with `T`, `H#` + the first 13 characters of the time and `M#` + the first 16.
fn brute_force(events: &[(&str, &str, &str, Option<u64>)]) -> BTreeMap<(String, String), i64> {
    let mut counts = BTreeMap::new();
    for (tenant, name, at, _) in events {
        for pk in [
            format!("C#{tenant}"),
            format!("C#{tenant}#{}", name.to_lowercase()),
        ] {
            for sk in [
                "T".to_owned(),
                format!("H#{}", &at[..13]),
                format!("M#{}", &at[..16]),
            ] {
                *counts.entry((pk.clone(), sk)).or_insert(0) += 1;
            }
        }
    }
    counts
}

fn run(table: &str, counters_table: &str, args: &[&str]) -> (Option<i32>, String, String) {
    let output = cli_with_counters(table, counters_table, args);
    (
        output.status.code(),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

fn s(text: &str) -> AttributeValue {
    AttributeValue::S(text.to_owned())
}

async fn put(
    dynamo: &aws_sdk_dynamodb::Client,
    table: &str,
    pk: &str,
    sk: &str,
    attr: (&str, AttributeValue),
) {
    dynamo
        .put_item()
        .table_name(table)
        .item("pk", s(pk))
        .item("sk", s(sk))
        .item(attr.0, attr.1)
        .send()
        .await
        .unwrap();
}

/// Every counter item of the table, as (pk, sk) -> n.
async fn stored_counters(
    dynamo: &aws_sdk_dynamodb::Client,
    table: &str,
) -> BTreeMap<(String, String), i64> {
    let mut found = BTreeMap::new();
    let mut start = None;
    loop {
        let page = dynamo
            .scan()
            .table_name(table)
            .set_exclusive_start_key(start)
            .send()
            .await
            .unwrap();
        for item in page.items.unwrap_or_default() {
            let (Some(AttributeValue::S(pk)), Some(AttributeValue::S(sk))) =
                (item.get("pk"), item.get("sk"))
            else {
                continue;
            };
            if pk.starts_with("C#") {
                let n = item["n"].as_n().unwrap().parse().unwrap();
                found.insert((pk.clone(), sk.clone()), n);
            }
        }
        match page.last_evaluated_key {
            Some(key) if !key.is_empty() => start = Some(key),
            _ => return found,
        }
    }
}

#[tokio::test]
async fn check_finds_what_rebuild_repairs_and_names_a_corrupted_counter() {
    let sdk = audit_infra::emulator_sdk_config(&endpoint()).await;
    let dynamo = aws_sdk_dynamodb::Client::new(&sdk);
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let spec = InfraSpec::from_template(infra::TEMPLATE).unwrap();
    let created = infra::ensure(
        &dynamo,
        &sqs,
        &spec,
        &ResourceNames::unique("cli-count"),
        None,
    )
    .await
    .expect("the emulator answers on AWS_ENDPOINT_URL");
    let table = created.table.as_str();
    let counters_table = created.counters_table.as_str();

    // The events and their catalogue names (each once: one batch takes no duplicate keys),
    // through the drain's own store adapter.
    let mut records = Vec::new();
    let mut names = BTreeSet::new();
    for (tenant, name, at, customer) in EVENTS {
        let e = event(tenant, name, at, *customer);
        let name = CatalogueRecord::new(&e);
        if names.insert((name.pk.clone(), name.sk.clone())) {
            records.push(Record::Name(name));
        }
        records.push(Record::Event(EventRecord::new(&e, 8)));
    }
    let store = DynamoStore::new(dynamo.clone(), table);
    for _ in 0..10 {
        records = store.write(records).await.unwrap();
        if records.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(records.is_empty(), "the emulator kept items unprocessed");
    // A count function's checkpoint, which rebuild must leave alone.
    let seq = "0000000000000000000400000000000000000042";
    put(
        &dynamo,
        counters_table,
        "CS#count",
        "shardId-1",
        ("seq", s(seq)),
    )
    .await;

    let expected = brute_force(EVENTS);
    let n = expected.len();
    assert!(n > SHOWN, "enough counters to show the bound");

    // No count function ran: every counter is missing.
    let (code, out, err) = run(table, counters_table, &["counters", "check"]);
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(out.contains(&format!("{} events", EVENTS.len())), "{out}");
    assert!(
        out.contains(&format!("compared {n} counters: {n} differ\n")),
        "{out}"
    );
    assert_eq!(
        out.lines()
            .filter(|l| l.contains(": stored 0, expected "))
            .count(),
        SHOWN,
        "{out}"
    );
    assert!(
        out.contains(&format!("  and {} more\n", n - SHOWN)),
        "{out}"
    );
    assert!(out.contains("  C#acme T: stored 0, expected 5\n"), "{out}");

    // Without --yes and without a terminal, rebuild refuses and writes nothing.
    let (code, _, err) = run(table, counters_table, &["counters", "rebuild"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("--yes"), "{err}");
    assert!(stored_counters(&dynamo, counters_table).await.is_empty());

    let (code, out, err) = run(table, counters_table, &["counters", "rebuild", "--yes"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(
        out.contains(&format!("rebuilt: {n} counters set, 0 deleted")),
        "{out}"
    );
    let stored = stored_counters(&dynamo, counters_table).await;
    assert_eq!(stored, expected);
    // The read side sees the same numbers through its own helpers.
    let counters = DynamoCounters::new(dynamo.clone(), counters_table);
    assert_eq!(
        counters.get_total("C#acme#user.login").await.unwrap().sum,
        3
    );
    let checkpoint = dynamo
        .get_item()
        .table_name(counters_table)
        .key("pk", s("CS#count"))
        .key("sk", s("shardId-1"))
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    assert_eq!(checkpoint["seq"].as_s().unwrap(), seq);

    let (code, out, _) = run(table, counters_table, &["counters", "check"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.ends_with(&format!("compared {n} counters: all agree\n")),
        "{out}"
    );
    // Twice is harmless: nothing left to write.
    let (code, out, _) = run(table, counters_table, &["counters", "rebuild", "--yes"]);
    assert_eq!(
        (code, out.ends_with("nothing to write\n")),
        (Some(0), true),
        "{out}"
    );
    assert_eq!(stored_counters(&dynamo, counters_table).await, expected);

    // Corrupt acme's counters three ways: doubled, lost, and one for a name with no events.
    let doubled = ("C#acme#user.login", "H#2026-11-30T02");
    let lost = ("C#acme", "M#2026-12-01T10:00");
    let right = |pk: &str, sk: &str| expected[&(pk.to_owned(), sk.to_owned())];
    let n_of = |v: i64| ("n", AttributeValue::N(v.to_string()));
    put(
        &dynamo,
        counters_table,
        doubled.0,
        doubled.1,
        n_of(2 * right(doubled.0, doubled.1)),
    )
    .await;
    dynamo
        .delete_item()
        .table_name(counters_table)
        .key("pk", s(lost.0))
        .key("sk", s(lost.1))
        .send()
        .await
        .unwrap();
    put(&dynamo, counters_table, "C#acme#ghost", "T", n_of(4)).await;
    // A counter left at 0 by a removal is agreement.
    put(&dynamo, counters_table, "C#acme#gone", "T", n_of(0)).await;

    let (code, out, _) = run(table, counters_table, &["counters", "check"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains(&format!("compared {} counters: 3 differ\n", n + 2)),
        "{out}"
    );
    for line in [
        format!(
            "  {} {}: stored {}, expected {}\n",
            doubled.0,
            doubled.1,
            2 * right(doubled.0, doubled.1),
            right(doubled.0, doubled.1)
        ),
        format!(
            "  {} {}: stored 0, expected {}\n",
            lost.0,
            lost.1,
            right(lost.0, lost.1)
        ),
        "  C#acme#ghost T: stored 4, expected 0\n".to_owned(),
    ] {
        assert!(out.contains(&line), "{out} lacks {line}");
    }
    assert!(!out.contains("gone"), "{out}");
    assert!(!out.contains("more"), "{out}");
    // The other tenant's counters are right, and --tenant looks at them alone.
    let (code, out, _) = run(
        table,
        counters_table,
        &["counters", "check", "--tenant", "other"],
    );
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("1 event and 6 counter items of tenant other"),
        "{out}"
    );
    assert_eq!(
        run(
            table,
            counters_table,
            &["counters", "check", "--tenant", "acme"]
        )
        .0,
        Some(1)
    );

    let (code, out, _) = run(
        table,
        counters_table,
        &["counters", "rebuild", "--tenant", "acme", "--yes"],
    );
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("rebuilt: 2 counters set, 1 deleted"), "{out}");
    let mut repaired = expected.clone();
    repaired.insert(("C#acme#gone".to_owned(), "T".to_owned()), 0);
    assert_eq!(stored_counters(&dynamo, counters_table).await, repaired);
    assert_eq!(
        run(table, counters_table, &["counters", "check"]).0,
        Some(0)
    );

    infra::remove(&dynamo, &sqs, &created).await;
}
