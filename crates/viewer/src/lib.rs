//! The viewer: a page of plain HTML, CSS and ES modules that reads the API from its own origin,
//! compiled into the binary that serves it (`include_bytes!`), so that a deployment serves it at the
//! API's URL with nothing to build, upload or fetch from elsewhere.
//!
//! The page is `GET /`; its assets are under [`ASSET_PREFIX`]. A server answers a `GET` of a path
//! [`asset`] knows with that asset's body and [`Asset::headers`], or `304` when
//! [`Asset::is_fresh`]. The assets need no API key: the page asks for one when the API refuses it.

mod headers;

pub use headers::{security_headers, FrameAncestors, InvalidFrameAncestors};

/// The page's own path.
pub const INDEX_PATH: &str = "/";

/// Where the page's assets are served. The page refers to them relatively (`viewer/app.js`), so it
/// also works under a path prefix such as an API stage.
pub const ASSET_PREFIX: &str = "/viewer/";

/// Assets are revalidated on every use. Their names carry no content hash (that would need a build
/// step), so a long `max-age` would keep an old `app.js` beside a new `index.html` after a deploy;
/// with the ETag a revalidation costs a `304` and no body.
pub const CACHE_CONTROL: &str = "no-cache";

/// One embedded file, as it is served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Asset {
    pub content_type: &'static str,
    pub body: &'static [u8],
    /// FNV-1a of the body, computed at compile time: the ETag.
    hash: u64,
}

const HTML: &str = "text/html; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const SVG: &str = "image/svg+xml";

macro_rules! embed {
    ($file:literal, $content_type:expr) => {
        Asset::new($content_type, include_bytes!(concat!("../assets/", $file)))
    };
}

/// Every path the viewer serves, and what it serves there.
static ASSETS: &[(&str, Asset)] = &[
    (INDEX_PATH, embed!("index.html", HTML)),
    ("/viewer/style.css", embed!("style.css", CSS)),
    ("/viewer/icon.svg", embed!("icon.svg", SVG)),
    ("/viewer/app.js", embed!("app.js", JS)),
    ("/viewer/api.js", embed!("api.js", JS)),
    ("/viewer/state.js", embed!("state.js", JS)),
    ("/viewer/dom.js", embed!("dom.js", JS)),
    ("/viewer/table.js", embed!("table.js", JS)),
    ("/viewer/chart.js", embed!("chart.js", JS)),
    ("/viewer/detail.js", embed!("detail.js", JS)),
    ("/viewer/export.js", embed!("export.js", JS)),
    ("/viewer/integrity.js", embed!("integrity.js", JS)),
    ("/viewer/verify.js", embed!("verify.js", JS)),
];

/// The asset served at `path` (the request's path, without its query), if any.
pub fn asset(path: &str) -> Option<Asset> {
    ASSETS
        .iter()
        .find(|(served, _)| *served == path)
        .map(|(_, asset)| *asset)
}

/// Every path [`asset`] answers, for routing and for tests.
pub fn paths() -> impl Iterator<Item = &'static str> {
    ASSETS.iter().map(|(path, _)| *path)
}

impl Asset {
    const fn new(content_type: &'static str, body: &'static [u8]) -> Self {
        Self {
            content_type,
            body,
            hash: fnv1a(body),
        }
    }

    /// A strong ETag: the same bytes give the same tag in every build.
    pub fn etag(&self) -> String {
        format!("\"{:016x}\"", self.hash)
    }

    /// Whether a request's `If-None-Match` names this body, so that `304 Not Modified` answers it.
    pub fn is_fresh(&self, if_none_match: Option<&str>) -> bool {
        let Some(tags) = if_none_match else {
            return false;
        };
        let etag = self.etag();
        // If-None-Match compares weakly: `W/"x"` matches `"x"`.
        tags.split(',')
            .map(|tag| tag.trim())
            .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == etag)
    }

    /// Every header of a `200` (or `304`) answer for this asset: its type, the cache policy, the
    /// ETag and [`security_headers`].
    pub fn headers(&self, frame_ancestors: &FrameAncestors) -> Vec<(&'static str, String)> {
        let mut headers = vec![
            ("Content-Type", self.content_type.to_owned()),
            ("Cache-Control", CACHE_CONTROL.to_owned()),
            ("ETag", self.etag()),
        ];
        headers.extend(security_headers(frame_ancestors));
        headers
    }
}

/// FNV-1a, 64 bits: stable across builds and Rust versions, and cheap enough for `const`.
const fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u64;
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        i += 1;
    }
    hash
}

#[cfg(test)]
mod tests;
