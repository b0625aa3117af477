//! API keys: what a key is (`alk_<key_id>_<secret>`), how its secret is hashed and compared, the
//! scopes it grants, and the `Principal` a verified request acts as. The verifier with its cache
//! lives in [`verifier`]; the DynamoDB store in the AWS crate.

mod verifier;

pub use verifier::{AuthError, AuthMode, AuthPolicy, Verifier};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use rand::Rng as _;
use sha2::{Digest, Sha256};

use crate::event::Tenant;

/// Every key starts with this, so that secret scanners and people recognise one.
pub const KEY_PREFIX: &str = "alk_";
/// Characters of the public key id.
pub const KEY_ID_LEN: usize = 16;
/// Random bytes of the secret: 256 bits.
pub const SECRET_BYTES: usize = 32;
/// Crockford's base 32 alphabet, lower-cased: no `i`, `l`, `o` or `u` to misread.
const KEY_ID_ALPHABET: &[u8] = b"0123456789abcdefghjkmnpqrstvwxyz";

/// What a key lets its holder do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    Read,
    Write,
}

impl Scope {
    pub const ALL: [Scope; 2] = [Scope::Read, Scope::Write];

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "logs:read" => Some(Self::Read),
            "logs:write" => Some(Self::Write),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "logs:read",
            Self::Write => "logs:write",
        }
    }
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of scopes, kept in a fixed order so that stored lists and printed ones are stable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Scopes {
    read: bool,
    write: bool,
}

impl Scopes {
    pub fn all() -> Self {
        Self::from_iter(Scope::ALL)
    }

    /// `None` if any entry is not a known scope, so a typo never silently grants less (or more).
    pub fn parse<'a>(texts: impl IntoIterator<Item = &'a str>) -> Option<Self> {
        texts
            .into_iter()
            .map(Scope::parse)
            .collect::<Option<Vec<_>>>()
            .map(Self::from_iter)
    }

    pub fn contains(&self, scope: Scope) -> bool {
        match scope {
            Scope::Read => self.read,
            Scope::Write => self.write,
        }
    }

    /// Only the tests ask; the CLI requires at least one `--scope` before it builds `Scopes`.
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        !self.read && !self.write
    }

    pub fn iter(&self) -> impl Iterator<Item = Scope> + '_ {
        Scope::ALL.into_iter().filter(|s| self.contains(*s))
    }

    pub fn to_strings(&self) -> Vec<String> {
        self.iter().map(|s| s.as_str().to_owned()).collect()
    }
}

impl FromIterator<Scope> for Scopes {
    fn from_iter<I: IntoIterator<Item = Scope>>(iter: I) -> Self {
        let mut scopes = Scopes::default();
        for scope in iter {
            match scope {
                Scope::Read => scopes.read = true,
                Scope::Write => scopes.write = true,
            }
        }
        scopes
    }
}

/// Who a verified request acts for: every read and write is confined to `tenant`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub tenant: Tenant,
    pub scopes: Scopes,
    /// The public id of the key the request presented; `None` for a keyless request under
    /// optional auth. What an audit of the request may record, never the key itself.
    pub key_id: Option<KeyId>,
}

/// The public half of a key: safe to log, print and store in clear.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(String);

impl KeyId {
    pub fn generate() -> Self {
        let mut rng = rand::thread_rng();
        let id = (0..KEY_ID_LEN)
            .map(|_| char::from(KEY_ID_ALPHABET[rng.gen_range(0..KEY_ID_ALPHABET.len())]))
            .collect();
        Self(id)
    }

    pub fn parse(text: &str) -> Option<Self> {
        (text.len() == KEY_ID_LEN && text.bytes().all(|b| KEY_ID_ALPHABET.contains(&b)))
            .then(|| Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for KeyId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A whole key as a client presents it. `Debug` shows only the id; [`ApiKey::expose`] is the one
/// way to get the full text, so that every place that shows a secret can be found by grep.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey {
    id: KeyId,
    secret: [u8; SECRET_BYTES],
}

impl ApiKey {
    /// A new key from the operating system's CSPRNG (via `rand`'s `ThreadRng`, a reseeded ChaCha).
    pub fn generate() -> Self {
        let mut secret = [0u8; SECRET_BYTES];
        rand::thread_rng().fill(&mut secret);
        Self {
            id: KeyId::generate(),
            secret,
        }
    }

    /// `alk_<16 id chars>_<43 base64url chars>`; anything else is `None`. The secret's alphabet
    /// includes `_`, so the id is taken by length rather than by splitting.
    pub fn parse(text: &str) -> Option<Self> {
        let rest = text.strip_prefix(KEY_PREFIX)?;
        let id = KeyId::parse(rest.get(..KEY_ID_LEN)?)?;
        let secret = rest.get(KEY_ID_LEN..)?.strip_prefix('_')?;
        // Strict decoding refuses non-canonical trailing bits, so one key has exactly one spelling.
        let bytes = URL_SAFE_NO_PAD.decode(secret).ok()?;
        Some(Self {
            id,
            secret: bytes.try_into().ok()?,
        })
    }

    pub fn id(&self) -> &KeyId {
        &self.id
    }

    /// The full key text. Shown once, at creation; never logged.
    pub fn expose(&self) -> String {
        format!(
            "{KEY_PREFIX}{}_{}",
            self.id,
            URL_SAFE_NO_PAD.encode(self.secret)
        )
    }

    pub fn hash(&self) -> SecretHash {
        SecretHash::of(&self.secret)
    }
}

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ApiKey({}, <secret redacted>)", self.id)
    }
}

/// SHA-256 of a key's secret: all that is stored.
///
/// Why a fast, unkeyed hash is enough here: slow hashes (argon2, bcrypt) and peppers exist to make
/// guessing low-entropy passwords expensive after a leak of the hashes. These secrets are 256 bits
/// from a CSPRNG, so there is no dictionary to try and brute force needs ~2^255 SHA-256 evaluations
/// whatever the hash's speed; a leaked table of hashes yields no key. A fast hash also keeps
/// verification at microseconds on every uncached request.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretHash([u8; 32]);

impl SecretHash {
    fn of(secret: &[u8]) -> Self {
        Self(Sha256::digest(secret).into())
    }

    /// Lower-case hex, as stored.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    pub fn from_hex(text: &str) -> Option<Self> {
        if text.len() != 64 || !text.is_ascii() {
            return None;
        }
        let mut bytes = [0u8; 32];
        for (i, byte) in bytes.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok()?;
        }
        Some(Self(bytes))
    }

    /// Equality in constant time: the time taken does not depend on where the first difference is,
    /// so timing reveals nothing about the stored hash.
    pub fn matches(&self, other: &SecretHash) -> bool {
        constant_time_eq(&self.0, &other.0)
    }
}

impl std::fmt::Debug for SecretHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretHash(<redacted>)")
    }
}

/// Folds the XOR of every byte pair, with no early exit. Lengths are public (always 32 here).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    // black_box keeps the optimiser from turning the fold into an early-exit comparison.
    std::hint::black_box(diff) == 0
}

/// What anyone may know about a key: everything but its secret. Listings show exactly this.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    pub key_id: KeyId,
    pub tenant: Tenant,
    pub scopes: Scopes,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl KeyInfo {
    /// Why this key may not be used at `now`, if it may not.
    pub fn refusal(&self, now: DateTime<Utc>) -> Option<&'static str> {
        if self.revoked_at.is_some_and(|at| at <= now) {
            Some("revoked")
        } else if self.expires_at.is_some_and(|at| at <= now) {
            Some("expired")
        } else {
            None
        }
    }
}

/// A stored key: its public facts and the hash its secret must match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRecord {
    pub info: KeyInfo,
    pub secret_hash: SecretHash,
}

/// Makes a new key. The returned [`ApiKey`] is the only copy of the secret: show it once.
pub fn issue(
    tenant: Tenant,
    scopes: Scopes,
    expires_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> (ApiKey, KeyRecord) {
    let key = ApiKey::generate();
    let record = KeyRecord {
        info: KeyInfo {
            key_id: key.id().clone(),
            tenant,
            scopes,
            created_at: now,
            expires_at,
            revoked_at: None,
        },
        secret_hash: key.hash(),
    };
    (key, record)
}

#[cfg(test)]
mod tests;
