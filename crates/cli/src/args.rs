//! The command line, parsed by hand: three commands do not need a parser crate.

use audit_domain::auth::{KeyId, Scopes};
use audit_domain::{time, Tenant};
use chrono::{DateTime, Utc};

pub const USAGE: &str = "\
usage:
  audit-log keys create --tenant T --scope logs:read [--scope logs:write] [--expires RFC3339]
  audit-log keys list --tenant T
  audit-log keys revoke KEY_ID

Configuration comes from the environment, as for the functions: AUDIT_TABLE, and the AWS SDK's
usual variables (AWS_ENDPOINT_URL for the emulator; unset, the SDK reaches AWS).";

#[derive(Debug, PartialEq)]
pub enum Command {
    Create {
        tenant: Tenant,
        scopes: Scopes,
        expires_at: Option<DateTime<Utc>>,
    },
    List {
        tenant: Tenant,
    },
    Revoke {
        id: KeyId,
    },
    Help,
}

impl Command {
    pub fn parse(args: &[String]) -> Result<Self, String> {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        match args.as_slice() {
            [] | ["help" | "-h" | "--help", ..] => Ok(Self::Help),
            ["keys", "create", rest @ ..] => create(rest),
            ["keys", "list", rest @ ..] => {
                let options = options(rest, &["--tenant"])?;
                Ok(Self::List {
                    tenant: tenant(&options)?,
                })
            }
            ["keys", "revoke", id] => {
                KeyId::parse(id)
                    .map(|id| Self::Revoke { id })
                    .ok_or_else(|| {
                        format!("{id:?} is not a key id (16 characters, as `keys list` shows)")
                    })
            }
            _ => Err(format!("unknown command: {}", args.join(" "))),
        }
    }
}

fn create(rest: &[&str]) -> Result<Command, String> {
    let options = options(rest, &["--tenant", "--scope", "--expires"])?;
    let scopes: Vec<&str> = values(&options, "--scope").collect();
    let scopes =
        Scopes::parse(scopes.iter().copied()).ok_or("--scope must be logs:read or logs:write")?;
    if scopes.is_empty() {
        return Err("give at least one --scope (logs:read, logs:write)".into());
    }
    let expires_at = match one(&options, "--expires")? {
        None => None,
        Some(text) => {
            let at = time::parse_rfc3339(text)
                .ok_or_else(|| format!("--expires must be an RFC 3339 time, got {text:?}"))?;
            if at <= time::now() {
                return Err("--expires is in the past".into());
            }
            Some(at)
        }
    };
    Ok(Command::Create {
        tenant: tenant(&options)?,
        scopes,
        expires_at,
    })
}

type Options<'a> = Vec<(&'a str, &'a str)>;

/// `--name value` pairs, each name one of `known`.
fn options<'a>(rest: &[&'a str], known: &[&str]) -> Result<Options<'a>, String> {
    let mut pairs = Vec::new();
    let mut iter = rest.iter();
    while let Some(&name) = iter.next() {
        if !known.contains(&name) {
            return Err(format!("unknown option {name:?}"));
        }
        let value = iter.next().ok_or_else(|| format!("{name} needs a value"))?;
        pairs.push((name, *value));
    }
    Ok(pairs)
}

fn values<'a>(options: &'a Options<'a>, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    options
        .iter()
        .filter(move |(n, _)| *n == name)
        .map(|(_, v)| *v)
}

fn one<'a>(options: &'a Options<'a>, name: &'a str) -> Result<Option<&'a str>, String> {
    let mut found = values(options, name);
    let first = found.next();
    match found.next() {
        Some(_) => Err(format!("{name} may be given once")),
        None => Ok(first),
    }
}

fn tenant(options: &Options<'_>) -> Result<Tenant, String> {
    let text = one(options, "--tenant")?.ok_or("--tenant is required")?;
    Tenant::parse(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> Result<Command, String> {
        let args: Vec<String> = line.split_whitespace().map(str::to_owned).collect();
        Command::parse(&args)
    }

    #[test]
    fn create_takes_a_tenant_scopes_and_an_expiry() {
        let command = parse("keys create --tenant acme --scope logs:read --scope logs:write --expires 2999-01-01T00:00:00Z").unwrap();
        assert_eq!(
            command,
            Command::Create {
                tenant: Tenant::parse("acme").unwrap(),
                scopes: Scopes::all(),
                expires_at: time::parse_rfc3339("2999-01-01T00:00:00Z"),
            }
        );
        let Command::Create {
            expires_at, scopes, ..
        } = parse("keys create --scope logs:read --tenant t").unwrap()
        else {
            panic!()
        };
        assert_eq!(
            (expires_at, scopes),
            (None, Scopes::parse(["logs:read"]).unwrap())
        );
    }

    #[test]
    fn bad_input_is_refused_with_a_reason() {
        for line in [
            "keys create --tenant acme",
            "keys create --scope logs:read",
            "keys create --tenant acme --scope logs:admin",
            "keys create --tenant acme --scope logs:read --expires tomorrow",
            "keys create --tenant acme --scope logs:read --expires 2001-01-01T00:00:00Z",
            "keys create --tenant a#b --scope logs:read",
            "keys create --tenant acme --tenant other --scope logs:read",
            "keys create --tenant acme --scope",
            "keys list",
            "keys list --tenant acme --colour red",
            "keys revoke not-an-id",
            "keys revoke",
            "keys rotate",
        ] {
            assert!(parse(line).is_err(), "{line}");
        }
    }

    #[test]
    fn list_revoke_and_help_parse() {
        assert_eq!(
            parse("keys list --tenant acme").unwrap(),
            Command::List {
                tenant: Tenant::parse("acme").unwrap()
            }
        );
        assert_eq!(
            parse("keys revoke 0123456789abcdef").unwrap(),
            Command::Revoke {
                id: KeyId::parse("0123456789abcdef").unwrap()
            }
        );
        assert_eq!(parse("").unwrap(), Command::Help);
        assert_eq!(parse("--help").unwrap(), Command::Help);
    }
}
