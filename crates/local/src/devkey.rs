//! `make dev`'s API key: one key for tenant `dev` with both scopes, kept in a gitignored file so
//! that it survives restarts. On start it is reused if it still verifies against the table (the
//! emulator may have been reset, or the key revoked), and otherwise replaced by a new one.

use std::path::Path;

use anyhow::Context as _;
use audit_aws::DynamoKeys;
use audit_domain::auth::{self, ApiKey, AuthMode, AuthPolicy, Scope, Scopes, Verifier};
use audit_domain::{time, Tenant};

/// The tenant of the development key.
pub const DEV_TENANT: &str = "dev";

/// The stored key if it still verifies with both scopes, else a new one, written to `path`.
pub async fn ensure(path: &Path, keys: DynamoKeys) -> anyhow::Result<ApiKey> {
    let verifier = Verifier::new(
        keys.clone(),
        AuthPolicy::new(AuthMode::Required).with_ttl(std::time::Duration::ZERO),
    );
    if let Some(key) = std::fs::read_to_string(path)
        .ok()
        .and_then(|text| ApiKey::parse(text.trim()))
    {
        let mut usable = true;
        for scope in Scope::ALL {
            let principal = verifier.authorize(Some(&key.expose()), scope).await;
            usable &= principal.is_ok_and(|p| p.tenant.as_str() == DEV_TENANT);
        }
        if usable {
            return Ok(key);
        }
    }
    let tenant = Tenant::parse(DEV_TENANT).expect("a valid tenant");
    let (key, record) = auth::issue(tenant, Scopes::all(), None, time::now());
    keys.create(&record)
        .await
        .context("could not store the dev API key")?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    write_private(path, &key.expose())
        .with_context(|| format!("could not write {}", path.display()))?;
    Ok(key)
}

/// Writes the key readable by its owner only.
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    writeln!(file, "{text}")
}
