//! `audit-log`: the operator's CLI for API keys, counters and exports. It reads the same configuration as
//! the functions (`Config::from_env`, `sdk_config`), so it works on the emulator's table under
//! `make` and on AWS's when `AWS_ENDPOINT_URL` is unset. A new key's secret is printed once and
//! stored only as a hash.

mod args;
mod counters;
mod export;

use std::process::ExitCode;

use anyhow::Context as _;
use args::{Cli, Command, CountersCommand, KeysCommand};
use audit_aws::counters::DynamoCounters;
use audit_aws::{sdk_config, Config, DynamoKeys};
use audit_cli::verify;
use audit_domain::auth::{self, KeyInfo, Scopes};
use audit_domain::time;
use clap::{CommandFactory as _, Parser as _};

#[tokio::main]
async fn main() -> ExitCode {
    // A usage error prints clap's message and exits 2; --help and --version print and exit 0.
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            // Printing fails only if stdout or stderr is closed; the exit code still tells.
            let _ = error.print();
            return ExitCode::from(u8::try_from(error.exit_code()).unwrap_or(2));
        }
    };
    let Some(command) = cli.command else {
        // No command: the help, as `help` prints it, and success (as before clap).
        let _ = Cli::command().print_long_help();
        return ExitCode::SUCCESS;
    };
    match run(command).await {
        Ok(code) => code,
        Err(error) => {
            eprintln!("audit-log: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Verify { tenant, json, lag } => {
            let config = Config::from_env()?;
            Ok(verify::verify(&config, tenant, json, std::time::Duration::from_secs(lag)).await)
        }
        Command::Keys { command } => {
            let config = Config::from_env()?;
            keys(command, &config).await.map(|()| ExitCode::SUCCESS)
        }
        Command::Counters { command } => {
            let config = Config::from_env()?;
            let store =
                DynamoCounters::from_sdk(&sdk_config(&config.sdk).await, &config.counters_table);
            match command {
                CountersCommand::Check { tenant } => {
                    counters::check(&store, tenant, &config.table).await
                }
                CountersCommand::Rebuild { tenant, yes } => {
                    counters::rebuild(&store, tenant, yes, &config.table).await
                }
            }
        }
        // An export reads through the API, not the table: it needs none of the functions' settings.
        Command::Export(args) => {
            let output = args.output.clone();
            let written = export::export(args).await?;
            eprintln!(
                "wrote {} events to {} ({} answers)",
                written.events,
                output.display(),
                written.answers
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn keys(command: KeysCommand, config: &Config) -> anyhow::Result<()> {
    let keys = DynamoKeys::from_sdk(&sdk_config(&config.sdk).await, &config.table);
    let context = || {
        format!(
            "table {} (is AUDIT_TABLE right, and does the table exist?)",
            config.table
        )
    };
    match command {
        KeysCommand::Create {
            tenant,
            scopes,
            expires_at,
        } => {
            let scopes = Scopes::from_iter(scopes);
            let (key, record) = auth::issue(tenant, scopes, expires_at, time::now());
            keys.create(&record).await.with_context(context)?;
            println!("key:     {}", key.expose());
            println!("         (shown once: store it now; only its hash is kept)");
            print_info(&record.info);
        }
        KeysCommand::List { tenant } => {
            let listed = keys.list(&tenant).await.with_context(context)?;
            if listed.is_empty() {
                println!("no keys for tenant {}", tenant.as_str());
            }
            for (i, info) in listed.iter().enumerate() {
                if i > 0 {
                    println!();
                }
                print_info(info);
            }
        }
        KeysCommand::Revoke { id } => {
            match keys.revoke(&id, time::now()).await.with_context(context)? {
                Some(info) => {
                    println!("revoked; every instance refuses it within the key cache lifetime (30 s by default)");
                    print_info(&info);
                }
                None => anyhow::bail!("no key has the id {id}"),
            }
        }
    }
    Ok(())
}

fn print_info(info: &KeyInfo) {
    let when = |t: &Option<chrono::DateTime<chrono::Utc>>| {
        t.as_ref().map_or_else(|| "-".to_owned(), time::to_rfc3339)
    };
    let scopes: Vec<&str> = info.scopes.iter().map(|s| s.as_str()).collect();
    println!("id:      {}", info.key_id);
    println!("tenant:  {}", info.tenant.as_str());
    println!("scopes:  {}", scopes.join(" "));
    println!("created: {}", time::to_rfc3339(&info.created_at));
    println!("expires: {}", when(&info.expires_at));
    println!("revoked: {}", when(&info.revoked_at));
}
