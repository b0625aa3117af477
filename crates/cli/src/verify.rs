//! `audit-log verify --tenant T`: reads everything the tenant's sealed log is made of and checks it
//! the way a distrustful client would, with nothing but the public key.
//!
//! 1. **The log**: every id→leaf lookup, every tile and the head; the tiles and the head are
//!    recomputed from the leaves (`seal::audit::check_tree`).
//! 2. **The events**: each stored event's leaf is recomputed and must be its id's latest leaf
//!    (`seal::audit::check_events`): altered, deleted, inserted and foreign, by event id.
//! 3. **The checkpoints**: every one in the table and every copy in the S3 bucket. Each must be
//!    signed by the key (ECDSA P-256 over the body's bytes), must equal its copy, and its root must
//!    be the root of the leaves' prefix of its size, which makes every checkpoint consistent with
//!    every later one.
//!
//! Exit status: 0 when clean, 1 on any finding, 2 on an error (nothing could be concluded).

use std::collections::BTreeSet;
use std::io::IsTerminal as _;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use audit_aws::{sdk_config, Config, DynamoLog, KmsSigner, S3Archive};
use audit_domain::seal::audit::{check_events, check_tree, Finding, StoredVersion};
use audit_domain::seal::{items, Archive as _, LogStore as _, Signed, Signer as _};
use audit_domain::{time, Tenant};
use audit_tlog::{mth, Checkpoint};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

/// The findings, and what was read.
#[derive(Debug)]
pub struct Outcome {
    pub events: usize,
    pub leaves: usize,
    pub checkpoints: usize,
    pub findings: Vec<Finding>,
}

pub async fn verify(config: &Config, tenant: Tenant, json: bool, lag: Duration) -> ExitCode {
    match check(config, &tenant, lag).await {
        Ok(outcome) => {
            report(&tenant, &outcome, json);
            if outcome.findings.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(error) => {
            if json {
                println!(
                    "{}",
                    json!({"tenant": tenant.as_str(), "error": format!("{error:#}")})
                );
            }
            eprintln!("audit-log: verify could not finish: {error:#}");
            ExitCode::from(2)
        }
    }
}

fn spinner(message: &'static str) -> ProgressBar {
    let bar = if std::io::stderr().is_terminal() {
        ProgressBar::new_spinner()
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(ProgressStyle::with_template("{spinner} {msg} ({elapsed})").expect("a template"));
    bar.set_message(message);
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

/// Everything `verify` checks, without printing: the findings and what was read. An event
/// received less than `lag` ago may be missing from the log without a finding.
pub async fn check(config: &Config, tenant: &Tenant, lag: Duration) -> anyhow::Result<Outcome> {
    let sdk = sdk_config(&config.sdk).await;
    let dynamo = audit_aws::endpoint::dynamodb_client(&sdk);
    let log = DynamoLog::new(dynamo.clone(), &config.log_table);
    let mut findings = Vec::new();

    let bar = spinner("reading the log");
    let leaves: Vec<_> = log
        .scan_prefix(&items::lookup_prefix(tenant))
        .await
        .with_context(|| format!("log table {}", config.log_table))?
        .iter()
        .filter_map(items::parse_lookup)
        .collect();
    let (tiles, unreadable) =
        items::tiles_of(&log.query(&items::tile_pk(tenant)).await?).into_set();
    findings.extend(unreadable.into_iter().map(|tile| Finding::Tile { tile }));
    let head = match log.head(tenant).await {
        Ok(head) => head.map(|h| (h.size(), h.root())),
        Err(_) => {
            findings.push(Finding::Head {
                problem: "the head does not parse".to_owned(),
            });
            None
        }
    };
    let (hashes, tree_findings) = check_tree(&leaves, &tiles, head);
    findings.extend(tree_findings);
    bar.finish_and_clear();

    let bar = spinner("reading the events");
    let (events, unreadable) = audit_aws::log::scan_events(&dynamo, &config.table, tenant)
        .await
        .with_context(|| format!("events table {}", config.table))?;
    let now = time::now();
    let lag = chrono::Duration::from_std(lag).unwrap_or_default();
    let versions: Vec<StoredVersion> = events
        .iter()
        .map(|record| StoredVersion {
            record,
            settled: time::from_fixed(&record.received_at).is_none_or(|at| at + lag < now),
        })
        .collect();
    findings.extend(check_events(&versions, &leaves));
    for pk in unreadable {
        let id = pk.rsplit('#').next().unwrap_or_default().to_owned();
        findings.push(Finding::Altered { id });
    }
    bar.finish_and_clear();

    let bar = spinner("checking the checkpoints");
    let signer = KmsSigner::from_sdk(&sdk, &config.signing_key);
    let public_key = signer
        .public_key()
        .await
        .context("the checkpoint key's public key")?;
    let archive = S3Archive::from_sdk(&sdk, &config.checkpoint_bucket, 1);
    let stored = log.query(&items::signed_pk(tenant)).await?;
    let mut sizes = BTreeSet::new();
    for item in &stored {
        let size: u64 = item.s("sk").and_then(|s| s.parse().ok()).unwrap_or(0);
        sizes.insert(size);
        let problem = match items::parse_signed(item) {
            None => Some("unreadable".to_owned()),
            Some(signed) => {
                let copy = archive.get(tenant, size).await?;
                check_checkpoint(&signed, size, &public_key, &hashes, copy.as_ref())
            }
        };
        if let Some(problem) = problem {
            findings.push(Finding::Checkpoint { size, problem });
        }
    }
    for size in archive
        .sizes(tenant)
        .await
        .context("the checkpoint bucket")?
    {
        if !sizes.contains(&size) {
            findings.push(Finding::Checkpoint {
                size,
                problem: "missing from the table (its locked copy is in S3)".to_owned(),
            });
        }
    }
    bar.finish_and_clear();
    findings.sort();
    findings.dedup();
    Ok(Outcome {
        events: events.len(),
        leaves: leaves.len(),
        checkpoints: stored.len(),
        findings,
    })
}

/// What is wrong with one stored checkpoint, if anything.
fn check_checkpoint(
    signed: &Signed,
    size: u64,
    public_key: &[u8],
    leaves: &[audit_tlog::Hash],
    copy: Option<&Signed>,
) -> Option<String> {
    let Ok(checkpoint) = Checkpoint::parse(&signed.body) else {
        return Some("its body is not a checkpoint".to_owned());
    };
    if checkpoint.size().get() != size {
        return Some(format!("stored at {size} but says {}", checkpoint.size()));
    }
    if !signature_verifies(public_key, signed.body.as_bytes(), &signed.signature) {
        return Some("badly signed".to_owned());
    }
    match copy {
        None => return Some("no locked copy in S3".to_owned()),
        Some(copy) if copy != signed => {
            return Some("differs from its locked copy in S3".to_owned())
        }
        Some(_) => {}
    }
    let prefix = usize::try_from(size).ok().and_then(|n| leaves.get(..n));
    match prefix {
        None => Some(format!("the log holds only {} leaves", leaves.len())),
        Some(prefix) if mth(prefix) != *checkpoint.root() => {
            Some("inconsistent: its root is not the log's at its size".to_owned())
        }
        Some(_) => None,
    }
}

/// ECDSA P-256 with SHA-256, DER signature, DER SubjectPublicKeyInfo key.
pub fn signature_verifies(public_key: &[u8], message: &[u8], signature: &[u8]) -> bool {
    use p256::ecdsa::signature::Verifier as _;
    use p256::pkcs8::DecodePublicKey as _;
    let Ok(key) = p256::ecdsa::VerifyingKey::from_public_key_der(public_key) else {
        return false;
    };
    let Ok(signature) = p256::ecdsa::Signature::from_der(signature) else {
        return false;
    };
    key.verify(message, &signature).is_ok()
}

fn report(tenant: &Tenant, outcome: &Outcome, json: bool) {
    if json {
        let value = json!({
            "tenant": tenant.as_str(),
            "events": outcome.events,
            "leaves": outcome.leaves,
            "checkpoints": outcome.checkpoints,
            "clean": outcome.findings.is_empty(),
            "findings": outcome.findings,
        });
        println!("{value}");
        return;
    }
    println!(
        "tenant {}: {} events, {} leaves, {} checkpoints",
        tenant.as_str(),
        outcome.events,
        outcome.leaves,
        outcome.checkpoints
    );
    for finding in &outcome.findings {
        let line = match finding {
            Finding::Altered { id } => format!("altered      {id}"),
            Finding::Deleted { id } => format!("deleted      {id}"),
            Finding::Inserted { id } => format!("inserted     {id}"),
            Finding::Foreign { id, leaf_index } => format!("foreign      {id} (leaf {leaf_index})"),
            Finding::LeafIndex {
                leaf_index,
                problem,
            } => format!("leaf         {leaf_index}: {problem}"),
            Finding::Tile { tile } => {
                format!("tile         {tile}: does not hold the leaves' hashes")
            }
            Finding::Head { problem } => format!("head         {problem}"),
            Finding::Checkpoint { size, problem } => format!("checkpoint   {size}: {problem}"),
        };
        println!("{line}");
    }
    if outcome.findings.is_empty() {
        println!("clean");
    }
}
