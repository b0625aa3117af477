//! The command line, parsed by clap's derive API. Each value goes through the domain's own parser
//! (`Tenant::parse`, `Scope::parse`, `KeyId::parse`, `time::parse_rfc3339`), so a bad value is
//! refused by clap, with the domain's reason, before anything reaches AWS.
//!
//! New top-level groups are new variants of [`Command`], each with its own subcommand enum or
//! arguments, as [`Command::Keys`] has [`KeysCommand`].

use std::path::PathBuf;

use audit_domain::auth::{KeyId, Scope};
use audit_domain::query::{ExportFormat, Sort};
use audit_domain::{time, Tenant};
use chrono::{DateTime, Utc};
use clap::builder::{PossibleValuesParser, TypedValueParser as _};
use clap::{Parser, Subcommand};

/// Where the CLI's configuration comes from: the top-level help says it after the commands.
const ENVIRONMENT: &str = "\
Configuration comes from the environment, as for the functions: AUDIT_TABLE, and the AWS SDK's
usual variables (AWS_ENDPOINT_URL for the emulator; unset, the SDK reaches AWS). `export` reads
through the API instead: AUDIT_URL and AUDIT_API_KEY, or --url and --key.";

/// The operator's CLI for the audit log's API keys and counters.
///
/// It reads the same configuration as the functions, so it works on the emulator's table when
/// AWS_ENDPOINT_URL is set and on the deployment's when it is unset. A new key's secret is printed
/// once and stored only as a hash.
#[derive(Debug, PartialEq, Parser)]
#[command(name = "audit-log", version, max_term_width = 100, after_help = ENVIRONMENT)]
pub struct Cli {
    // `None` when no command is given: `main` prints the help and succeeds, as `help` does.
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, PartialEq, Subcommand)]
pub enum Command {
    /// Create, list and revoke API keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Check a tenant's sealed log: its tiles, its events and its signed checkpoints.
    ///
    /// Reads every leaf, tile and checkpoint of the tenant's log, every event of the tenant, and
    /// every checkpoint copy in the checkpoint bucket; names each event found altered, deleted,
    /// inserted or written by a foreign writer, and each checkpoint missing, badly signed,
    /// inconsistent or different from its locked copy. Exit status: 0 clean, 1 findings, 2 error.
    Verify {
        /// The tenant whose log to check.
        #[arg(long, value_name = "TENANT", value_parser = tenant)]
        tenant: Tenant,
        /// One JSON object on stdout instead of lines, for machines.
        #[arg(long)]
        json: bool,
        /// Seconds an event may wait to be sealed before its absence from the log is a finding.
        #[arg(long, value_name = "SECONDS", default_value_t = 300)]
        lag: u64,
    },
    /// Check the event counters against the events, or rebuild them from the events.
    Counters {
        #[command(subcommand)]
        command: CountersCommand,
    },
    /// Export a tenant's events through the API, with the filters of `GET /api/read`, to a file.
    ///
    /// Follows `GET /api/export`'s `Link` to the end and shows the events written against the
    /// read's `total_records`. It writes a temporary file beside FILE and renames it at the end,
    /// so an interrupted export never leaves a truncated FILE.
    Export(ExportArgs),
}

/// The default `--url`: `make dev`'s runner.
pub const DEFAULT_URL: &str = "http://127.0.0.1:3050";

#[derive(Debug, PartialEq, clap::Args)]
pub struct ExportArgs {
    /// Events whose name starts with this, ignoring case.
    #[arg(long, value_name = "PREFIX")]
    pub event_name: Option<String>,
    /// Only this customer's events.
    #[arg(long, value_name = "ID")]
    pub customer_id: Option<u64>,
    /// Events at or after this RFC 3339 time.
    #[arg(long, value_name = "RFC3339", value_parser = any_time)]
    pub from: Option<DateTime<Utc>>,
    /// Events before this RFC 3339 time.
    #[arg(long, value_name = "RFC3339", value_parser = any_time)]
    pub to: Option<DateTime<Utc>>,
    /// created_at, -created_at (the default), event_name or -event_name.
    #[arg(long, value_name = "SORT", value_parser = sort, allow_hyphen_values = true)]
    pub sort: Option<Sort>,
    /// ndjson (one `log` object a line, the default) or csv (RFC 4180 with a header).
    #[arg(long, value_name = "FORMAT", value_parser = format, default_value = "ndjson")]
    pub format: ExportFormat,
    /// The file to write; it appears only once the export is complete.
    #[arg(long, short, value_name = "FILE")]
    pub output: PathBuf,
    /// The API's root URL [default: AUDIT_URL, else http://127.0.0.1:3050].
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// An API key with logs:read [default: AUDIT_API_KEY; none for `make dev`'s optional auth].
    #[arg(long, value_name = "KEY")]
    pub key: Option<String>,
}

#[derive(Debug, PartialEq, Subcommand)]
pub enum KeysCommand {
    /// Create a key for a tenant and print it, once.
    ///
    /// Only the hash of the secret is stored: the key cannot be shown again. Revoke it and create
    /// another if it is lost.
    Create {
        /// The tenant the key acts for: 1 to 64 characters of A-Z, a-z, 0-9, `_`, `.` and `-`.
        #[arg(long, value_name = "TENANT", value_parser = tenant)]
        tenant: Tenant,
        /// What the key may do; give `--scope` twice for both.
        #[arg(long = "scope", value_name = "SCOPE", required = true, value_parser = scope())]
        scopes: Vec<Scope>,
        /// When the key stops working, as an RFC 3339 time in the future (e.g.
        /// 2027-12-31T00:00:00Z). Without it the key works until it is revoked.
        #[arg(long = "expires", value_name = "RFC3339", value_parser = future_time)]
        expires_at: Option<DateTime<Utc>>,
    },
    /// List a tenant's keys: ids, scopes and times, never a secret or a hash.
    List {
        /// The tenant whose keys to list.
        #[arg(long, value_name = "TENANT", value_parser = tenant)]
        tenant: Tenant,
    },
    /// Revoke a key; every instance refuses it within the key cache lifetime (30 s by default).
    Revoke {
        /// The key's id: 16 characters, as `keys list` shows (the part after `alk_`).
        #[arg(value_name = "KEY_ID", value_parser = key_id)]
        id: KeyId,
    },
}

/// What `counters rebuild --help` says before its options: when to run it, and how.
const REBUILD_PROCEDURE: &str = "\
Rebuild is for repair, and for a table that held events before the count function ran. Run it while
the count function's event source mapping is disabled and nothing writes events: a delta the count
function applied during the scan would be written over (lost), and a stream record still pending for
an event the scan counted would be applied again once the mapping resumes (doubled). So:

  1. disable the drain's event source mapping (accepted events wait in the queue);
  2. wait until the count function has caught up (IteratorAge 0), then disable its event source
     mapping too;
  3. run `audit-log counters rebuild --yes`, then `audit-log counters check`;
  4. enable the count function's mapping, then the drain's.

The count function's shard checkpoints are left as they are, so it resumes where it stopped.";

#[derive(Debug, PartialEq, Subcommand)]
pub enum CountersCommand {
    /// Compare every counter with a count of the events, and exit 1 if any differs.
    ///
    /// Scans the whole table (events and counter items, one paginated Scan), counts each event
    /// as the count function does (per tenant and per event name; all-time, hour and minute by
    /// created_at), and names each counter whose item holds something else. On a live table a
    /// counter can be behind by the stream's lag: check again, or check while the table is quiet.
    Check {
        /// Only this tenant's counters (the scan still reads the whole table).
        #[arg(long, value_name = "TENANT", value_parser = tenant)]
        tenant: Option<Tenant>,
    },
    /// Recount the events and set every counter that differs to its count.
    ///
    /// Each counter is written absolutely (a counter that should be empty is deleted), so a second
    /// run writes nothing.
    #[command(after_long_help = REBUILD_PROCEDURE)]
    Rebuild {
        /// Only this tenant's counters (the scan still reads the whole table).
        #[arg(long, value_name = "TENANT", value_parser = tenant)]
        tenant: Option<Tenant>,
        /// Write without asking. Without it, rebuild asks on a terminal and refuses elsewhere.
        #[arg(long)]
        yes: bool,
    },
}

fn tenant(text: &str) -> Result<Tenant, String> {
    Tenant::parse(text)
}

/// `logs:read` or `logs:write`, listed in the help and suggested on a typo; `Scope::parse` makes
/// the value.
fn scope() -> impl clap::builder::TypedValueParser<Value = Scope> {
    PossibleValuesParser::new(Scope::ALL.map(Scope::as_str)).try_map(|text| {
        Scope::parse(&text).ok_or_else(|| format!("{text:?} is not logs:read or logs:write"))
    })
}

fn key_id(text: &str) -> Result<KeyId, String> {
    KeyId::parse(text)
        .ok_or_else(|| format!("{text:?} is not a key id (16 characters, as `keys list` shows)"))
}

fn any_time(text: &str) -> Result<DateTime<Utc>, String> {
    time::parse_rfc3339(text)
        .ok_or_else(|| format!("{text:?} is not an RFC 3339 time (e.g. 2026-12-01T00:00:00Z)"))
}

fn sort(text: &str) -> Result<Sort, String> {
    Sort::parse(text)
        .map_err(|_| format!("{text:?} is not created_at, -created_at, event_name or -event_name"))
}

fn format(text: &str) -> Result<ExportFormat, String> {
    ExportFormat::parse(text).map_err(|_| format!("{text:?} is not ndjson or csv"))
}

fn future_time(text: &str) -> Result<DateTime<Utc>, String> {
    let at = time::parse_rfc3339(text)
        .ok_or_else(|| format!("{text:?} is not an RFC 3339 time (e.g. 2027-12-31T00:00:00Z)"))?;
    if at <= time::now() {
        return Err(format!("{text} is in the past"));
    }
    Ok(at)
}

#[cfg(test)]
mod tests {
    use clap::error::ErrorKind;
    use clap::CommandFactory as _;

    use super::*;
    use audit_domain::auth::Scopes;

    fn parse(line: &str) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("audit-log").chain(line.split_whitespace()))
    }

    fn keys(line: &str) -> KeysCommand {
        match parse(line)
            .unwrap_or_else(|e| panic!("{line}: {e}"))
            .command
        {
            Some(Command::Keys { command }) => command,
            other => panic!("{line}: {other:?}"),
        }
    }

    fn counters(line: &str) -> CountersCommand {
        match parse(line)
            .unwrap_or_else(|e| panic!("{line}: {e}"))
            .command
        {
            Some(Command::Counters { command }) => command,
            other => panic!("{line}: {other:?}"),
        }
    }

    #[test]
    fn counters_take_an_optional_tenant_and_rebuild_a_yes() {
        let acme = Some(Tenant::parse("acme").unwrap());
        assert_eq!(
            counters("counters check"),
            CountersCommand::Check { tenant: None }
        );
        assert_eq!(
            counters("counters check --tenant acme"),
            CountersCommand::Check {
                tenant: acme.clone()
            }
        );
        assert_eq!(
            counters("counters rebuild"),
            CountersCommand::Rebuild {
                tenant: None,
                yes: false
            }
        );
        assert_eq!(
            counters("counters rebuild --yes --tenant acme"),
            CountersCommand::Rebuild {
                tenant: acme,
                yes: true
            }
        );
    }

    #[test]
    fn the_parser_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn create_takes_a_tenant_scopes_and_an_expiry() {
        assert_eq!(
            keys("keys create --tenant acme --scope logs:read --scope logs:write --expires 2999-01-01T00:00:00Z"),
            KeysCommand::Create {
                tenant: Tenant::parse("acme").unwrap(),
                scopes: vec![Scope::Read, Scope::Write],
                expires_at: time::parse_rfc3339("2999-01-01T00:00:00Z"),
            }
        );
        let KeysCommand::Create {
            expires_at, scopes, ..
        } = keys("keys create --scope logs:read --tenant t")
        else {
            panic!()
        };
        assert_eq!(
            (expires_at, Scopes::from_iter(scopes)),
            (None, Scopes::parse(["logs:read"]).unwrap())
        );
        let KeysCommand::Create { scopes, .. } =
            keys("keys create --tenant t --scope logs:write --scope logs:read --scope logs:write")
        else {
            panic!()
        };
        assert_eq!(Scopes::from_iter(scopes), Scopes::all());
    }

    #[test]
    fn bad_input_is_refused_with_a_reason() {
        use ErrorKind::*;
        for (line, kind, reason) in [
            ("keys create --tenant acme", MissingRequiredArgument, "--scope"),
            ("keys create --scope logs:read", MissingRequiredArgument, "--tenant"),
            (
                "keys create --tenant acme --scope logs:admin",
                InvalidValue,
                "possible values: logs:read, logs:write",
            ),
            (
                "keys create --tenant acme --scope logs:read --expires tomorrow",
                ValueValidation,
                "\"tomorrow\" is not an RFC 3339 time",
            ),
            (
                "keys create --tenant acme --scope logs:read --expires 2001-01-01T00:00:00Z",
                ValueValidation,
                "2001-01-01T00:00:00Z is in the past",
            ),
            (
                "keys create --tenant a#b --scope logs:read",
                ValueValidation,
                "invalid tenant \"a#b\"",
            ),
            (
                "keys create --tenant acme --tenant other --scope logs:read",
                ArgumentConflict,
                "cannot be used multiple times",
            ),
            (
                "keys create --tenant acme --scope logs:read --expires 2999-01-01T00:00:00Z --expires 2998-01-01T00:00:00Z",
                ArgumentConflict,
                "cannot be used multiple times",
            ),
            ("keys create --tenant acme --scope", InvalidValue, "--scope <SCOPE>"),
            ("keys list", MissingRequiredArgument, "--tenant"),
            ("keys list --tenant acme --colour red", UnknownArgument, "--colour"),
            (
                "keys revoke not-an-id",
                ValueValidation,
                "\"not-an-id\" is not a key id (16 characters",
            ),
            ("keys revoke", MissingRequiredArgument, "<KEY_ID>"),
            ("keys revoke 0123456789abcdef 0123456789abcdeg", UnknownArgument, "0123456789abcdeg"),
            ("keys rotate", InvalidSubcommand, "rotate"),
            ("keys", DisplayHelpOnMissingArgumentOrSubcommand, "Usage:"),
            ("tenants list", InvalidSubcommand, "tenants"),
            ("counters", DisplayHelpOnMissingArgumentOrSubcommand, "Usage:"),
            ("counters fix", InvalidSubcommand, "fix"),
            ("counters check --tenant a#b", ValueValidation, "invalid tenant \"a#b\""),
            ("counters check --yes", UnknownArgument, "--yes"),
            ("counters rebuild --yes --yes", ArgumentConflict, "cannot be used multiple times"),
        ] {
            let error = parse(line).expect_err(line);
            assert_eq!(error.kind(), kind, "{line}: {error}");
            let text = error.to_string();
            assert!(text.contains(reason), "{line}: {text:?} lacks {reason:?}");
            assert_eq!(error.exit_code(), 2, "{line}");
        }
    }

    #[test]
    fn list_revoke_and_help_parse() {
        assert_eq!(
            keys("keys list --tenant acme"),
            KeysCommand::List {
                tenant: Tenant::parse("acme").unwrap()
            }
        );
        assert_eq!(
            keys("keys revoke 0123456789abcdef"),
            KeysCommand::Revoke {
                id: KeyId::parse("0123456789abcdef").unwrap()
            }
        );
        assert_eq!(parse("").unwrap(), Cli { command: None });
    }

    #[test]
    fn every_command_has_help() {
        for (line, says) in [
            ("--help", "Create, list and revoke API keys"),
            ("-h", "Create, list and revoke API keys"),
            ("help", "Create, list and revoke API keys"),
            ("keys --help", "Create a key for a tenant"),
            ("help keys", "Create a key for a tenant"),
            (
                "keys create --help",
                "Only the hash of the secret is stored",
            ),
            ("keys create -h", "What the key may do"),
            ("help keys create", "Only the hash of the secret is stored"),
            ("keys list --help", "The tenant whose keys to list"),
            ("keys revoke --help", "16 characters, as `keys list` shows"),
            ("--help", "Check the event counters against the events"),
            ("counters --help", "exit 1 if any differs"),
            ("counters check --help", "stream's lag"),
            (
                "counters rebuild --help",
                "disable the drain's event source mapping",
            ),
            (
                "counters rebuild --help",
                "shard checkpoints are left as they are",
            ),
            ("help counters rebuild", "Rebuild is for repair"),
        ] {
            let help = parse(line).expect_err(line);
            assert_eq!(help.kind(), ErrorKind::DisplayHelp, "{line}: {help}");
            assert_eq!(help.exit_code(), 0, "{line}");
            let text = help.to_string();
            assert!(text.contains(says), "{line}: {text:?} lacks {says:?}");
        }
    }

    #[test]
    fn the_help_says_where_the_configuration_comes_from() {
        for line in ["--help", "-h"] {
            let text = parse(line).expect_err(line).to_string();
            for name in ["AUDIT_TABLE", "AWS_ENDPOINT_URL", "AWS SDK"] {
                assert!(text.contains(name), "{line}: {text:?} lacks {name}");
            }
        }
        let text = Cli::command().render_long_help().to_string();
        assert!(text.contains("AUDIT_TABLE"), "{text}");
    }
}
