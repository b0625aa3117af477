//! The opaque `next_cursor`: where a page ended, together with everything that defined the list
//! (tenant, filters, sort, page size), signed so that a client can neither alter nor forge it.
//!
//! Form: `base64url(JSON payload) "." base64url(HMAC-SHA256(key, base64url(JSON payload)))`. The
//! MAC covers the encoded text itself, so any change to any byte of either half is refused.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::event::Tenant;
use crate::query::{Filters, Page, PageSize, Sort, SortKey};
use crate::time;

type HmacSha256 = Hmac<Sha256>;

/// Bumped when the payload changes meaning; older cursors then read as invalid.
const VERSION: u8 = 1;

/// The secret that signs cursors. Its `Debug` hides the bytes so that it cannot be logged by accident.
#[derive(Clone)]
pub struct CursorKey(Vec<u8>);

impl CursorKey {
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        Self(bytes.into())
    }

    fn mac(&self) -> HmacSha256 {
        // HMAC accepts keys of any length; this cannot fail.
        HmacSha256::new_from_slice(&self.0).expect("HMAC takes keys of any length")
    }
}

impl std::fmt::Debug for CursorKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CursorKey(<redacted>)")
    }
}

/// The last entry of a page, in the sort's own key: `ts` for time sorts, `(name_key, ts)` for name
/// sorts. Every index sorts by the unique `ts`, so "strictly after this position" is exact. A
/// decoded `ts` is visible ASCII, so moving its last byte by one stays valid UTF-8.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Position {
    pub name_key: Option<String>,
    pub ts: String,
}

/// A decoded, verified cursor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub tenant: Tenant,
    pub filters: Filters,
    pub sort: Sort,
    pub page_size: PageSize,
    /// The page this cursor leads to, shown as `current_page` when it is followed.
    pub page: Page,
    pub position: Position,
}

/// Short field names keep the cursor small in URLs.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Payload {
    v: u8,
    t: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    n: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    c: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    f: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    u: Option<String>,
    s: String,
    z: u32,
    p: u32,
    k: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    m: Option<String>,
}

impl Cursor {
    pub fn encode(&self, key: &CursorKey) -> String {
        let payload = Payload {
            v: VERSION,
            t: self.tenant.as_str().to_owned(),
            n: self.filters.name_prefix.clone(),
            c: self.filters.customer_id,
            f: self.filters.from.as_ref().map(time::to_fixed),
            u: self.filters.to.as_ref().map(time::to_fixed),
            s: self.sort.as_str().to_owned(),
            z: self.page_size.get(),
            p: self.page.get(),
            k: self.position.ts.clone(),
            m: self.position.name_key.clone(),
        };
        let json = serde_json::to_vec(&payload).expect("the payload is plain data");
        let body = URL_SAFE_NO_PAD.encode(json);
        let mut mac = key.mac();
        mac.update(body.as_bytes());
        let tag = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        format!("{body}.{tag}")
    }

    /// `None` for anything this service did not sign with `key`, or that does not make sense.
    pub fn decode(text: &str, key: &CursorKey) -> Option<Self> {
        let (body, tag) = text.split_once('.')?;
        let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
        let mut mac = key.mac();
        mac.update(body.as_bytes());
        mac.verify_slice(&tag).ok()?;

        let payload: Payload = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(body).ok()?).ok()?;
        if payload.v != VERSION {
            return None;
        }
        let time = |text: Option<String>| match text {
            None => Some(None),
            Some(text) => time::from_fixed(&text).map(Some),
        };
        let sort = Sort::parse(&payload.s).ok()?;
        let position = Position {
            name_key: payload.m,
            ts: payload.k,
        };
        // A name sort resumes within a name, a time sort only by ts; the position must fit its sort.
        let fits = match sort.key {
            SortKey::EventName => position.name_key.is_some(),
            SortKey::CreatedAt => position.name_key.is_none(),
        };
        if !fits || position.ts.is_empty() || !position.ts.bytes().all(|b| b.is_ascii_graphic()) {
            return None;
        }
        Some(Cursor {
            tenant: Tenant::parse(&payload.t).ok()?,
            filters: Filters {
                name_prefix: payload.n,
                customer_id: payload.c,
                from: time(payload.f)?,
                to: time(payload.u)?,
            },
            sort,
            page_size: PageSize::new(payload.z)?,
            page: Page::new(payload.p)?,
            position,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> CursorKey {
        CursorKey::new(b"test key, 32 bytes or so........".to_vec())
    }

    fn cursor() -> Cursor {
        Cursor {
            tenant: Tenant::default(),
            filters: Filters {
                name_prefix: Some("user".to_owned()),
                customer_id: Some(18),
                from: time::parse_rfc3339("2024-10-01T00:00:00Z"),
                to: time::parse_rfc3339("2024-11-01T00:00:00.5Z"),
            },
            sort: Sort::parse("-event_name").unwrap(),
            page_size: PageSize::new(7).unwrap(),
            page: Page::new(3).unwrap(),
            position: Position {
                name_key: Some("user.signed_in".to_owned()),
                ts: "2024-10-05T00:00:00.000000Z#01ARZ3NDEKTSV4RRFFQ69G5FAV".to_owned(),
            },
        }
    }

    #[test]
    fn a_cursor_round_trips() {
        let text = cursor().encode(&key());
        assert_eq!(Cursor::decode(&text, &key()), Some(cursor()));
    }

    #[test]
    fn the_cursor_is_url_safe() {
        let text = cursor().encode(&key());
        assert!(
            text.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)),
            "{text}"
        );
    }

    #[test]
    fn flipping_any_byte_is_refused() {
        let text = cursor().encode(&key());
        for i in 0..text.len() {
            for flip in [0x01u8, 0x02, 0x04, 0x08, 0x10, 0x20] {
                let mut bytes = text.clone().into_bytes();
                bytes[i] ^= flip;
                let Ok(altered) = String::from_utf8(bytes) else {
                    continue;
                };
                assert_eq!(
                    Cursor::decode(&altered, &key()),
                    None,
                    "byte {i} ^ {flip:#x}"
                );
            }
        }
    }

    #[test]
    fn truncated_or_extended_cursors_are_refused() {
        let text = cursor().encode(&key());
        for end in 0..text.len() {
            assert_eq!(Cursor::decode(&text[..end], &key()), None, "{end}");
        }
        assert_eq!(Cursor::decode(&format!("{text}A"), &key()), None);
        assert_eq!(Cursor::decode(&format!("A{text}"), &key()), None);
    }

    #[test]
    fn a_cursor_signed_with_another_key_is_refused() {
        let text = cursor().encode(&CursorKey::new(b"another key".to_vec()));
        assert_eq!(Cursor::decode(&text, &key()), None);
    }

    #[test]
    fn a_well_signed_payload_that_does_not_fit_its_sort_is_refused() {
        let mut c = cursor();
        c.position.name_key = None;
        assert_eq!(Cursor::decode(&c.encode(&key()), &key()), None);
    }

    #[test]
    fn the_key_is_not_printed() {
        assert_eq!(format!("{:?}", key()), "CursorKey(<redacted>)");
    }
}
