use std::collections::BTreeSet;

use super::*;

fn text(path: &str) -> &'static str {
    let asset = asset(path).unwrap_or_else(|| panic!("{path} is not served"));
    std::str::from_utf8(asset.body).unwrap_or_else(|_| panic!("{path} is not UTF-8"))
}

fn index() -> &'static str {
    text(INDEX_PATH)
}

/// The values of every `name="..."` attribute in `html`.
fn attribute_values<'a>(html: &'a str, name: &str) -> Vec<&'a str> {
    let needle = format!(" {name}=\"");
    html.match_indices(&needle)
        .map(|(at, _)| {
            let rest = &html[at + needle.len()..];
            &rest[..rest.find('"').expect("an unterminated attribute")]
        })
        .collect()
}

/// The opening tags named `tag` (in any case) in `html`.
fn tags<'a>(html: &'a str, tag: &str) -> Vec<&'a str> {
    // ASCII lower-casing keeps every byte offset, so positions found in `lower` index `html`.
    let lower = html.to_ascii_lowercase();
    let needle = format!("<{tag}");
    lower
        .match_indices(&needle)
        .filter(|(at, _)| {
            let next = lower[at + needle.len()..].chars().next();
            matches!(next, Some(' ' | '>' | '\n'))
        })
        .map(|(at, _)| {
            let end = at + html[at..].find('>').expect("an unterminated tag");
            &html[at..=end]
        })
        .collect()
}

/// The modules a script imports, as the paths they resolve to (all under the asset prefix).
fn imports(script: &str) -> Vec<String> {
    script
        .lines()
        .filter(|line| line.starts_with("import "))
        .map(|line| {
            let from = line
                .split(" from '")
                .nth(1)
                .expect("an import without from");
            let module = &from[..from.find('\'').unwrap()];
            let name = module.strip_prefix("./").expect("imports are relative");
            format!("{ASSET_PREFIX}{name}")
        })
        .collect()
}

fn scripts() -> impl Iterator<Item = (&'static str, &'static str)> {
    paths()
        .filter(|p| p.ends_with(".js"))
        .map(|path| (path, text(path)))
}

#[test]
fn every_asset_is_served_with_the_type_of_its_extension() {
    for path in paths() {
        let expected = match path.rsplit_once('.').map(|(_, ext)| ext) {
            None if path == INDEX_PATH => "text/html; charset=utf-8",
            Some("js") => "text/javascript; charset=utf-8",
            Some("css") => "text/css; charset=utf-8",
            Some("svg") => "image/svg+xml",
            other => panic!("{path} has no known type ({other:?})"),
        };
        assert_eq!(asset(path).unwrap().content_type, expected, "{path}");
    }
}

#[test]
fn the_page_is_at_the_root_and_its_assets_under_the_prefix() {
    assert!(asset("/").is_some());
    for path in paths().filter(|p| *p != INDEX_PATH) {
        assert!(path.starts_with(ASSET_PREFIX), "{path}");
    }
}

#[test]
fn only_the_listed_paths_are_assets() {
    for path in [
        "",
        "/index.html",
        "/viewer",
        "/viewer/",
        "/viewer/app.js/",
        "/viewer/APP.JS",
        "/viewer/../Cargo.toml",
        "/viewer/%61pp.js",
        "/app.js",
        "/api/read",
    ] {
        assert!(asset(path).is_none(), "{path:?} was served");
    }
}

#[test]
fn every_asset_is_non_empty_utf8_text() {
    for path in paths() {
        assert!(!text(path).trim().is_empty(), "{path} is empty");
    }
}

#[test]
fn the_page_has_no_inline_script_or_style() {
    let html = index();
    for script in tags(html, "script") {
        assert!(script.contains(" src=\""), "inline script: {script}");
        assert!(
            script.contains(" type=\"module\""),
            "not a module: {script}"
        );
    }
    assert!(tags(html, "style").is_empty(), "a <style> element");
    let lower = html.to_ascii_lowercase();
    assert!(!lower.contains(" style="), "a style attribute");
    assert!(!lower.contains("javascript:"), "a javascript: URL");
    // No event-handler attributes (onclick=, onload=, ...).
    for (at, _) in lower.match_indices(" on") {
        let name: String = lower[at + 1..]
            .chars()
            .take_while(|c| c.is_ascii_alphabetic())
            .collect();
        let after = lower[at + 1 + name.len()..].chars().next();
        assert!(after != Some('='), "an event handler attribute: {name}");
    }
}

#[test]
fn nothing_refers_to_another_origin() {
    // The SVG namespace is a name, never fetched: the only absolute URL allowed.
    const SVG_NAMESPACE: &str = "http://www.w3.org/2000/svg";
    for path in paths() {
        let body = text(path).replace(SVG_NAMESPACE, "");
        for scheme in [
            "http:", "https:", "ws:", "wss:", "data:", "blob:", "file:", "//",
        ] {
            // A URL starts a string, an attribute value or a CSS url().
            for quote in ['\'', '"', '`', '('] {
                let url = format!("{quote}{scheme}");
                assert!(!body.contains(&url), "{path} contains {url}");
            }
        }
        assert!(
            !body.contains("http://") && !body.contains("https://"),
            "{path} has a URL"
        );
    }
    let css = text("/viewer/style.css");
    assert!(
        !css.contains("url(") && !css.contains("@import"),
        "the stylesheet loads something"
    );
    let html = index();
    for value in attribute_values(html, "src")
        .into_iter()
        .chain(attribute_values(html, "href"))
    {
        assert!(
            !value.starts_with("//") && !value.starts_with('/') && !value.contains(':'),
            "{value} is not a reference relative to the page"
        );
    }
}

#[test]
fn every_reference_in_the_page_and_its_modules_is_served() {
    let html = index();
    for value in attribute_values(html, "src")
        .into_iter()
        .chain(attribute_values(html, "href"))
    {
        if let Some(fragment) = value.strip_prefix('#') {
            assert!(
                html.contains(&format!(" id=\"{fragment}\"")),
                "#{fragment} names no element"
            );
        } else {
            let path = format!("/{value}");
            assert!(asset(&path).is_some(), "{value} is not served");
        }
    }
    for (path, script) in scripts() {
        for module in imports(script) {
            assert!(
                asset(&module).is_some(),
                "{path} imports {module}, not served"
            );
        }
    }
}

#[test]
fn every_asset_is_reached_from_the_page() {
    let html = index();
    let mut reached: BTreeSet<String> = BTreeSet::from([INDEX_PATH.to_owned()]);
    let mut pending: Vec<String> = attribute_values(html, "src")
        .into_iter()
        .chain(attribute_values(html, "href"))
        .filter(|v| !v.starts_with('#'))
        .map(|v| format!("/{v}"))
        .collect();
    while let Some(path) = pending.pop() {
        if reached.insert(path.clone()) && path.ends_with(".js") {
            pending.extend(imports(text(&path)));
        }
    }
    let served: BTreeSet<String> = paths().map(str::to_owned).collect();
    assert_eq!(
        reached, served,
        "an asset nothing uses, or a use of nothing served"
    );
}

#[test]
fn scripts_never_parse_strings_as_html_or_code() {
    for (path, script) in scripts() {
        for sink in [
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "setHTMLUnsafe",
            "parseHTMLUnsafe",
            "createContextualFragment",
            "document.write",
            "eval(",
            "new Function",
            "DOMParser",
        ] {
            assert!(!script.contains(sink), "{path} uses {sink}");
        }
    }
}

#[test]
fn every_element_the_controller_looks_up_is_in_the_page() {
    let html = index();
    let script = text("/viewer/app.js");
    let ids: Vec<&str> = script
        .match_indices("$('")
        .map(|(at, _)| {
            let rest = &script[at + 3..];
            &rest[..rest.find('\'').unwrap()]
        })
        .collect();
    assert!(ids.len() > 10, "the lookups were not found");
    for id in ids {
        assert!(html.contains(&format!(" id=\"{id}\"")), "no element #{id}");
    }
    for field in [
        "event_name",
        "customer_id",
        "from",
        "to",
        "page_size",
        "sort",
    ] {
        assert!(
            html.contains(&format!(" id=\"e-{field}\"")),
            "no place for a 422 on {field}"
        );
    }
}

#[test]
fn every_input_and_select_has_a_label() {
    let html = index();
    let labelled: BTreeSet<&str> = attribute_values(html, "for").into_iter().collect();
    for tag in tags(html, "input").into_iter().chain(tags(html, "select")) {
        let id = attribute_values(tag, "id");
        let id = id.first().unwrap_or_else(|| panic!("{tag} has no id"));
        assert!(labelled.contains(id), "{tag} has no label");
    }
}

#[test]
fn the_etag_names_the_body() {
    let app = asset("/viewer/app.js").unwrap();
    let css = asset("/viewer/style.css").unwrap();
    assert_eq!(app.etag(), asset("/viewer/app.js").unwrap().etag());
    assert_ne!(app.etag(), css.etag());
    assert_eq!(app.etag().len(), 18);
    assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
    assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
}

#[test]
fn a_matching_if_none_match_is_fresh() {
    let app = asset("/viewer/app.js").unwrap();
    let etag = app.etag();
    assert!(app.is_fresh(Some(&etag)));
    assert!(app.is_fresh(Some(&format!("W/{etag}"))));
    assert!(app.is_fresh(Some(&format!("\"0000000000000000\", {etag}"))));
    assert!(app.is_fresh(Some("*")));
    assert!(!app.is_fresh(None));
    assert!(!app.is_fresh(Some("\"0000000000000000\"")));
    assert!(!app.is_fresh(Some(etag.trim_matches('"'))));
}

#[test]
fn an_asset_answer_carries_its_type_cache_policy_etag_and_security_headers() {
    let css = asset("/viewer/style.css").unwrap();
    let headers = css.headers(&FrameAncestors::none());
    let value = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(value("Content-Type").as_deref(), Some(css.content_type));
    assert_eq!(value("Cache-Control").as_deref(), Some("no-cache"));
    assert_eq!(value("ETag"), Some(css.etag()));
    assert!(value("Content-Security-Policy").is_some());
    assert_eq!(value("X-Content-Type-Options").as_deref(), Some("nosniff"));
    let names: BTreeSet<&str> = headers.iter().map(|(n, _)| *n).collect();
    assert_eq!(names.len(), headers.len(), "a header named twice");
}
