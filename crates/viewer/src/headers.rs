//! The security headers every viewer answer carries, and the one part of them a deployment chooses:
//! which pages may frame the viewer.

use std::fmt;

/// The pages allowed to embed the viewer in a frame: the source list of CSP's `frame-ancestors`.
///
/// It is parsed once, at start-up, so that a value which could add a directive of its own (a `;`),
/// split a header (a line break) or widen the policy by accident never reaches a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameAncestors(String);

/// A `frame-ancestors` value that is not a list of CSP sources.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}: {text:?}")]
pub struct InvalidFrameAncestors {
    text: String,
    reason: &'static str,
}

impl FrameAncestors {
    /// No page may frame the viewer: the default.
    pub fn none() -> Self {
        Self("'none'".to_owned())
    }

    /// A space-separated list of CSP sources: `'none'` alone, or any of `'self'`, a scheme
    /// (`https:`) and hosts (`https://admin.example.com`, `*.example.com:8443`).
    pub fn parse(text: &str) -> Result<Self, InvalidFrameAncestors> {
        let invalid = |reason| InvalidFrameAncestors {
            text: text.to_owned(),
            reason,
        };
        let sources: Vec<&str> = text.split_ascii_whitespace().collect();
        if sources.is_empty() {
            return Err(invalid("frame-ancestors needs at least one source"));
        }
        if sources.len() > 1 && sources.contains(&"'none'") {
            return Err(invalid("'none' cannot be combined with other sources"));
        }
        if !sources.iter().all(|source| is_source(source)) {
            return Err(invalid(
                "frame-ancestors takes 'none', 'self', schemes and hosts",
            ));
        }
        Ok(Self(sources.join(" ")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn is_none(&self) -> bool {
        self.0 == "'none'"
    }
}

impl Default for FrameAncestors {
    fn default() -> Self {
        Self::none()
    }
}

impl fmt::Display for FrameAncestors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One source of CSP's grammar, as far as a frame ancestor can be one: the two keywords, or a
/// scheme or host source made only of the characters those may hold. Quotes (other keywords),
/// `;`, `,` and anything outside printable ASCII are refused.
fn is_source(source: &str) -> bool {
    if source == "'none'" || source == "'self'" {
        return true;
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || "-._~*:/%[]".contains(c);
    !source.is_empty() && source.chars().all(allowed) && !source.starts_with(':')
}

/// The policy for the page and its assets. Everything comes from the viewer's own origin: no
/// inline script or style (`'self'` only, no `'unsafe-inline'`), no plugins, no `<base>`, forms
/// only to the same origin. Trusted Types is enforced as well: the page never parses data as HTML,
/// and with this policy a browser that supports it refuses any attempt to.
fn content_security_policy(frame_ancestors: &FrameAncestors) -> String {
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        &format!("frame-ancestors {frame_ancestors}"),
        "require-trusted-types-for 'script'",
        "trusted-types 'none'",
    ]
    .join("; ")
}

/// The headers that keep the viewer's answers from being framed, sniffed or leaking their URL:
/// `Content-Security-Policy`, `X-Content-Type-Options`, `Referrer-Policy`,
/// `Cross-Origin-Opener-Policy`, and `X-Frame-Options` for browsers without `frame-ancestors` when
/// no page may frame it.
pub fn security_headers(frame_ancestors: &FrameAncestors) -> Vec<(&'static str, String)> {
    let mut headers = vec![
        (
            "Content-Security-Policy",
            content_security_policy(frame_ancestors),
        ),
        ("X-Content-Type-Options", "nosniff".to_owned()),
        ("Referrer-Policy", "no-referrer".to_owned()),
        ("Cross-Origin-Opener-Policy", "same-origin".to_owned()),
    ];
    if frame_ancestors.is_none() {
        headers.push(("X-Frame-Options", "DENY".to_owned()));
    }
    headers
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header<'a>(headers: &'a [(&'static str, String)], name: &str) -> Option<&'a str> {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn directives(policy: &str) -> Vec<(String, String)> {
        policy
            .split(';')
            .map(str::trim)
            .filter(|d| !d.is_empty())
            .map(|d| match d.split_once(' ') {
                Some((name, value)) => (name.to_owned(), value.to_owned()),
                None => (d.to_owned(), String::new()),
            })
            .collect()
    }

    #[test]
    fn the_policy_allows_only_the_viewers_own_origin() {
        let headers = security_headers(&FrameAncestors::none());
        let policy = header(&headers, "Content-Security-Policy").unwrap();
        let directives = directives(policy);
        let value = |name: &str| {
            directives
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(value("default-src"), Some("'self'"));
        assert_eq!(value("script-src"), Some("'self'"));
        assert_eq!(value("style-src"), Some("'self'"));
        assert_eq!(value("object-src"), Some("'none'"));
        assert_eq!(value("base-uri"), Some("'none'"));
        assert_eq!(value("form-action"), Some("'self'"));
        assert_eq!(value("frame-ancestors"), Some("'none'"));
        assert_eq!(value("require-trusted-types-for"), Some("'script'"));
        for (name, value) in &directives {
            assert!(
                !value.contains("unsafe") && !value.contains('*') && !value.contains("data:"),
                "{name} {value} loosens the policy"
            );
        }
    }

    #[test]
    fn every_answer_is_unsniffed_and_sends_no_referrer() {
        let headers = security_headers(&FrameAncestors::none());
        assert_eq!(header(&headers, "X-Content-Type-Options"), Some("nosniff"));
        assert_eq!(header(&headers, "Referrer-Policy"), Some("no-referrer"));
        assert_eq!(header(&headers, "X-Frame-Options"), Some("DENY"));
    }

    #[test]
    fn configured_ancestors_replace_none_and_drop_x_frame_options() {
        let ancestors = FrameAncestors::parse("'self'  https://admin.example.com").unwrap();
        let headers = security_headers(&ancestors);
        let policy = header(&headers, "Content-Security-Policy").unwrap();
        assert!(policy.contains("; frame-ancestors 'self' https://admin.example.com;"));
        assert_eq!(header(&headers, "X-Frame-Options"), None);
    }

    #[test]
    fn frame_ancestors_accept_keywords_schemes_and_hosts() {
        for text in [
            "'none'",
            "'self'",
            "https:",
            "https://admin.example.com",
            "*.example.com",
            "https://admin.example.com:8443/console/",
            "http://[::1]:3000",
            "'self' https://a.example https://b.example",
        ] {
            assert!(FrameAncestors::parse(text).is_ok(), "{text} was refused");
        }
    }

    #[test]
    fn frame_ancestors_refuse_what_could_change_the_policy() {
        for text in [
            "",
            "   ",
            "'none' 'self'",
            "https://a.example; script-src *",
            "https://a.example,https://b.example",
            "'unsafe-inline'",
            "https://a.example\r\nSet-Cookie: x=1",
            "https://ä.example",
            "\"self\"",
            ":443",
        ] {
            assert!(
                FrameAncestors::parse(text).is_err(),
                "{text:?} was accepted"
            );
        }
    }

    #[test]
    fn the_default_is_that_no_page_may_frame_the_viewer() {
        assert_eq!(FrameAncestors::default().as_str(), "'none'");
    }
}
