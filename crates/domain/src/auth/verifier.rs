//! Verifying the key a request presents: parse, look up (through a small cache), compare the hash
//! in constant time, check expiry, revocation and scope, and yield the `Principal`.
//!
//! The cache lives as long as a warm Lambda instance. A found key is kept for `ttl` (30 s by
//! default), which is therefore how long a revocation may take to reach every instance; an unknown
//! key id is remembered for `miss_ttl` (5 s), so a client retrying a wrong key costs one read per
//! 5 s rather than one per request, while a key created a moment ago works within seconds.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use super::{ApiKey, KeyId, KeyRecord, Principal, Scope, Scopes};
use crate::event::Tenant;
use crate::ports::{KeyStore, StoreError};

/// Whether a request without any key is served.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AuthMode {
    /// Every request needs a valid key. The default everywhere.
    #[default]
    Required,
    /// A request with no key at all acts for the anonymous tenant with every scope; a request that
    /// presents a key is verified exactly as in `Required`. For a laptop, never for AWS.
    Optional,
}

impl AuthMode {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "required" => Some(Self::Required),
            "optional" => Some(Self::Optional),
            _ => None,
        }
    }
}

/// How a verifier decides and caches.
#[derive(Debug, Clone)]
pub struct AuthPolicy {
    pub mode: AuthMode,
    /// Who a keyless request acts for in `Optional` mode.
    pub anonymous: Tenant,
    /// How long a found key is trusted without reading it again: the revocation delay.
    pub ttl: Duration,
    /// How long an unknown key id is remembered as unknown.
    pub miss_ttl: Duration,
}

impl AuthPolicy {
    pub const DEFAULT_TTL: Duration = Duration::from_secs(30);
    pub const DEFAULT_MISS_TTL: Duration = Duration::from_secs(5);

    pub fn new(mode: AuthMode) -> Self {
        Self {
            mode,
            anonymous: Tenant::default(),
            ttl: Self::DEFAULT_TTL,
            miss_ttl: Self::DEFAULT_MISS_TTL,
        }
    }

    /// The same policy with a cache lifetime of `ttl`; misses are kept no longer than hits.
    pub fn with_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self.miss_ttl = self.miss_ttl.min(ttl);
        self
    }
}

/// Why a request is refused.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// No key, or one that is malformed, unknown, expired or revoked (401). `key_id` is the public
    /// id when the key parsed, for the log; `reason` is for the log only, never for the client.
    #[error("invalid or missing API key ({reason})")]
    Unauthenticated {
        key_id: Option<KeyId>,
        reason: &'static str,
    },
    /// A valid key without the scope the route needs (403).
    #[error("API key {key_id} lacks the {scope} scope")]
    Forbidden { key_id: KeyId, scope: Scope },
    /// The key store could not answer (500).
    #[error("could not verify the API key")]
    Unavailable(#[source] StoreError),
}

/// Upper bound on cached key ids, so that a flood of random ids cannot grow an instance's memory.
const MAX_CACHED: usize = 10_000;

struct Cached {
    at: Instant,
    record: Option<Arc<KeyRecord>>,
}

impl Cached {
    /// A found key is trusted for `ttl`, an unknown id remembered for `miss_ttl`.
    fn is_fresh(&self, policy: &AuthPolicy) -> bool {
        let ttl = match self.record {
            Some(_) => policy.ttl,
            None => policy.miss_ttl,
        };
        self.at.elapsed() < ttl
    }
}

/// Verifies presented keys against a [`KeyStore`], caching lookups per instance.
pub struct Verifier<K> {
    store: K,
    policy: AuthPolicy,
    cache: Mutex<HashMap<KeyId, Cached>>,
}

impl<K: KeyStore> Verifier<K> {
    pub fn new(store: K, policy: AuthPolicy) -> Self {
        Self {
            store,
            policy,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// Who the request acts as, given the key text it presented (`None`: no key at all).
    pub async fn authorize(
        &self,
        presented: Option<&str>,
        needed: Scope,
    ) -> Result<Principal, AuthError> {
        self.authorize_at(presented, needed, crate::time::now())
            .await
    }

    /// [`Verifier::authorize`] at a given time, so that expiry can be tested.
    pub async fn authorize_at(
        &self,
        presented: Option<&str>,
        needed: Scope,
        now: DateTime<Utc>,
    ) -> Result<Principal, AuthError> {
        let Some(text) = presented else {
            return match self.policy.mode {
                AuthMode::Optional => Ok(Principal {
                    tenant: self.policy.anonymous.clone(),
                    scopes: Scopes::all(),
                    key_id: None,
                }),
                AuthMode::Required => Err(unauthenticated(None, "missing")),
            };
        };
        let key = ApiKey::parse(text).ok_or_else(|| unauthenticated(None, "malformed"))?;
        let id = key.id().clone();
        let record = self
            .record(&id)
            .await
            .map_err(AuthError::Unavailable)?
            .ok_or_else(|| unauthenticated(Some(&id), "unknown"))?;
        // The hash comparison comes before any other check, so a wrong secret learns nothing else.
        if !record.secret_hash.matches(&key.hash()) {
            return Err(unauthenticated(Some(&id), "wrong secret"));
        }
        if let Some(reason) = record.info.refusal(now) {
            return Err(unauthenticated(Some(&id), reason));
        }
        if !record.info.scopes.contains(needed) {
            return Err(AuthError::Forbidden {
                key_id: id,
                scope: needed,
            });
        }
        Ok(Principal {
            tenant: record.info.tenant.clone(),
            scopes: record.info.scopes,
            key_id: Some(id),
        })
    }

    async fn record(&self, id: &KeyId) -> Result<Option<Arc<KeyRecord>>, StoreError> {
        if let Some(hit) = self.cached(id) {
            return Ok(hit);
        }
        // Store errors are not cached: the next request tries again.
        let record = self.store.find(id).await?.map(Arc::new);
        let mut cache = self.cache.lock().expect("the cache lock is never poisoned");
        if cache.len() >= MAX_CACHED {
            cache.retain(|_, c| c.is_fresh(&self.policy));
            if cache.len() >= MAX_CACHED {
                cache.clear();
            }
        }
        cache.insert(
            id.clone(),
            Cached {
                at: Instant::now(),
                record: record.clone(),
            },
        );
        Ok(record)
    }

    /// `Some(entry)` while the entry is fresh.
    fn cached(&self, id: &KeyId) -> Option<Option<Arc<KeyRecord>>> {
        let cache = self.cache.lock().expect("the cache lock is never poisoned");
        let entry = cache.get(id)?;
        entry.is_fresh(&self.policy).then(|| entry.record.clone())
    }
}

fn unauthenticated(key_id: Option<&KeyId>, reason: &'static str) -> AuthError {
    AuthError::Unauthenticated {
        key_id: key_id.cloned(),
        reason,
    }
}
