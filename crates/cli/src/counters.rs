//! `audit-log counters check` and `counters rebuild`: a recount of the table's events against the
//! stored counters (`DynamoCounters::recount`, `Recount::compare`), printed as a short report, and
//! for rebuild the differing counters written back (`DynamoCounters::set_counters`). Progress goes
//! to stderr and is hidden when stderr is not a terminal; the report goes to stdout.

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use audit_aws::counters::{DynamoCounters, ScanProgress};
use audit_domain::counters::{Comparison, Difference, Recount};
use audit_domain::Tenant;
use indicatif::{ProgressBar, ProgressStyle};

/// Differences printed one by one; past this the report says how many more there are.
pub const SHOWN: usize = 20;

/// Exit code when counters differ (and stay so).
const DIFFER: u8 = 1;

/// `table` names the table in an error from DynamoDB.
pub async fn check(
    counters: &DynamoCounters,
    tenant: Option<Tenant>,
    table: &str,
) -> anyhow::Result<ExitCode> {
    let comparison = scan_and_report(counters, tenant.as_ref(), table).await?;
    Ok(if comparison.agrees() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(DIFFER)
    })
}

pub async fn rebuild(
    counters: &DynamoCounters,
    tenant: Option<Tenant>,
    yes: bool,
    table: &str,
) -> anyhow::Result<ExitCode> {
    // Refused before the scan, which may be long, rather than after it.
    if !yes && !std::io::stdin().is_terminal() {
        anyhow::bail!("rebuild writes counters: pass --yes to run it without a terminal");
    }
    let comparison = scan_and_report(counters, tenant.as_ref(), table).await?;
    if comparison.agrees() {
        println!("nothing to write");
        return Ok(ExitCode::SUCCESS);
    }
    let writes = comparison.differences.len();
    if !yes && !confirm(&format!("write {writes} counters? [y/N] "))? {
        println!("nothing written");
        return Ok(ExitCode::from(DIFFER));
    }
    let bar = ProgressBar::new(writes as u64).with_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} counters written ({elapsed})")
            .expect("a valid template"),
    );
    let result = counters
        .set_counters(
            comparison.differences.iter().map(|d| (&d.key, d.expected)),
            |n| bar.inc(n as u64),
        )
        .await;
    bar.finish_and_clear();
    result.with_context(|| {
        format!("writing counters to table {table}; running rebuild again writes what is left")
    })?;
    let deleted = comparison
        .differences
        .iter()
        .filter(|d| d.expected == 0)
        .count();
    println!(
        "rebuilt: {} counters set, {deleted} deleted (they count no event); shard checkpoints left as they are",
        writes - deleted
    );
    Ok(ExitCode::SUCCESS)
}

async fn scan_and_report(
    counters: &DynamoCounters,
    tenant: Option<&Tenant>,
    table: &str,
) -> anyhow::Result<Comparison> {
    let spinner = ProgressBar::new_spinner().with_style(
        ProgressStyle::with_template("{spinner} {msg} ({elapsed})").expect("a valid template"),
    );
    spinner.enable_steady_tick(Duration::from_millis(120));
    spinner.set_message("scanning the table");
    let result = counters
        .recount(table, tenant, |p| spinner.set_message(progress_line(p)))
        .await;
    spinner.finish_and_clear();
    let (recount, scan) = result.with_context(|| {
        format!(
            "scanning tables {table} and {} (are AUDIT_TABLE and AUDIT_COUNTERS_TABLE right, and \
             do the tables exist?)",
            counters.table()
        )
    })?;
    let comparison = recount.compare();
    print!("{}", report(&recount, &scan, tenant, &comparison));
    Ok(comparison)
}

fn progress_line(p: &ScanProgress) -> String {
    format!(
        "scanned {} items: {} events, {} counter items",
        p.scanned, p.events, p.counters
    )
}

/// The report, as text: what was scanned, what was compared, and the differences, at most
/// [`SHOWN`] of them.
pub fn report(
    recount: &Recount,
    scan: &ScanProgress,
    tenant: Option<&Tenant>,
    comparison: &Comparison,
) -> String {
    let scope = tenant.map_or_else(
        || "every tenant".to_owned(),
        |t| format!("tenant {}", t.as_str()),
    );
    let mut out = format!(
        "scanned {} in {}: {} and {} of {scope}\n",
        several(scan.scanned, "item"),
        several(scan.requests, "request"),
        several(recount.events(), "event"),
        several(recount.stored_counters() as u64, "counter item"),
    );
    let compared = several(comparison.compared as u64, "counter");
    if comparison.agrees() {
        out.push_str(&format!("compared {compared}: all agree\n"));
        return out;
    }
    out.push_str(&format!(
        "compared {compared}: {} differ\n",
        comparison.differences.len()
    ));
    for difference in comparison.differences.iter().take(SHOWN) {
        out.push_str(&format!("  {}\n", describe(difference)));
    }
    if comparison.differences.len() > SHOWN {
        out.push_str(&format!(
            "  and {} more\n",
            comparison.differences.len() - SHOWN
        ));
    }
    out
}

/// `C#acme#user.login M#2026-11-30T02:30: stored 3, expected 2`: the item's key as the table
/// spells it, so that an operator can look it up.
fn describe(difference: &Difference) -> String {
    format!(
        "{} {}: stored {}, expected {}",
        difference.key.pk(),
        difference.key.sk(),
        difference.stored,
        difference.expected
    )
}

fn several(n: u64, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

fn confirm(question: &str) -> anyhow::Result<bool> {
    eprint!("{question}");
    std::io::stderr().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use audit_domain::counters::{Bucket, CounterKey, Dimension};
    use audit_domain::layout::EventRecord;
    use audit_domain::Event;

    fn recount_with(events: usize, stored: &[(&str, i64)]) -> Recount {
        let mut recount = Recount::new(None);
        let at = audit_domain::time::parse_rfc3339("2026-11-30T02:30:00Z").unwrap();
        for i in 0..events {
            let event = Event {
                id: audit_domain::EventId::generate(),
                tenant: Tenant::default(),
                event_name: format!("name.{i}").try_into().unwrap(),
                description: "d".to_owned().try_into().unwrap(),
                customer_id: None,
                created_at: at,
                received_at: at,
                metadata: None,
                expires_at: None,
            };
            recount.event(&EventRecord::new(&event, 8));
        }
        for (sk, n) in stored {
            let key = CounterKey::new(
                Tenant::default(),
                Dimension::Tenant,
                Bucket::parse_sk(sk).unwrap(),
            );
            recount.stored(key, *n);
        }
        recount
    }

    fn report_of(recount: &Recount) -> String {
        report(recount, &ScanProgress::default(), None, &recount.compare())
    }

    #[test]
    fn an_agreeing_table_says_so() {
        let recount = recount_with(0, &[("T", 0)]);
        let text = report_of(&recount);
        assert!(text.ends_with("compared 1 counter: all agree\n"), "{text}");
    }

    #[test]
    fn differences_name_the_item_and_both_values() {
        let recount = recount_with(2, &[("T", 5)]);
        let text = report_of(&recount);
        assert!(
            text.starts_with(
                "scanned 0 items in 0 requests: 2 events and 1 counter item of every tenant\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("  C#default T: stored 5, expected 2\n"),
            "{text}"
        );
        assert!(
            text.contains("  C#default#name.1 M#2026-11-30T02:30: stored 0, expected 1\n"),
            "{text}"
        );
        assert!(!text.contains("more"), "{text}");
    }

    #[test]
    fn past_the_bound_the_rest_are_counted_not_listed() {
        // 10 events of distinct names: 3 tenant counters (one stored wrong) + 30 name counters.
        let recount = recount_with(10, &[("T", 1)]);
        let comparison = recount.compare();
        assert_eq!(comparison.differences.len(), 33);
        let text = report_of(&recount);
        assert_eq!(
            text.lines().filter(|l| l.contains(": stored ")).count(),
            SHOWN
        );
        assert!(text.contains("compared 33 counters: 33 differ\n"), "{text}");
        assert!(
            text.ends_with(&format!("  and {} more\n", 33 - SHOWN)),
            "{text}"
        );
    }
}
