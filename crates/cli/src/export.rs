//! `audit-log export`: reads `GET /api/export` through the API with a key, follows `Link` to the
//! end, and writes the answers to a temporary file beside the output, renamed into place only once
//! the last answer is written. CSV answers each start with the header: the file keeps the first.

use std::fs::File;
use std::io::{BufWriter, Write as _};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};
use audit_domain::query::ExportFormat;
use audit_domain::time;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::Value;

use crate::args::{ExportArgs, DEFAULT_URL};

/// What an export wrote.
pub struct Written {
    pub events: u64,
    pub answers: u64,
}

pub async fn export(args: ExportArgs) -> anyhow::Result<Written> {
    let root = args
        .url
        .clone()
        .or_else(|| std::env::var("AUDIT_URL").ok().filter(|u| !u.is_empty()))
        .unwrap_or_else(|| DEFAULT_URL.to_owned());
    let root = root.trim_end_matches('/').to_owned();
    let key = args.key.clone().or_else(|| {
        std::env::var("AUDIT_API_KEY")
            .ok()
            .filter(|k| !k.is_empty())
    });
    let api = Api {
        http: reqwest::Client::new(),
        root,
        key,
    };
    let filters = filters(&args);

    // The bar's length: how many events the same query matches, from one read of one event.
    let mut read_query = filters.clone();
    read_query.push(("page_size", "1".to_owned()));
    let page: Value = serde_json::from_str(&api.get("/api/read", &read_query).await?.1)
        .context("the read answer is not JSON")?;
    let total = page["metadata"]["total_records"].as_u64().unwrap_or(0);

    let temporary = temporary_path(&args.output)?;
    let result = write_all(&api, &filters, args.format, &temporary, total).await;
    match result {
        Ok(written) => {
            std::fs::rename(&temporary, &args.output).with_context(|| {
                format!(
                    "could not rename {} to {}",
                    temporary.display(),
                    args.output.display()
                )
            })?;
            Ok(written)
        }
        Err(error) => {
            let _ = std::fs::remove_file(&temporary);
            Err(error)
        }
    }
}

/// The query parameters of the filters, as `/api/read` and `/api/export` take them.
fn filters(args: &ExportArgs) -> Vec<(&'static str, String)> {
    let mut params = Vec::new();
    params.extend(args.event_name.clone().map(|n| ("event_name", n)));
    params.extend(args.customer_id.map(|c| ("customer_id", c.to_string())));
    params.extend(args.from.as_ref().map(|t| ("from", time::to_rfc3339(t))));
    params.extend(args.to.as_ref().map(|t| ("to", time::to_rfc3339(t))));
    params.extend(args.sort.map(|s| ("sort", s.as_str().to_owned())));
    params
}

/// `.<name>.<pid>.part` in the output's own directory, so that the rename stays on one file system.
fn temporary_path(output: &Path) -> anyhow::Result<PathBuf> {
    let name = output
        .file_name()
        .with_context(|| format!("{} is not a file name", output.display()))?;
    let mut temporary = std::ffi::OsString::from(".");
    temporary.push(name);
    temporary.push(format!(".{}.part", std::process::id()));
    Ok(output.with_file_name(temporary))
}

async fn write_all(
    api: &Api,
    filters: &[(&'static str, String)],
    format: ExportFormat,
    temporary: &Path,
    total: u64,
) -> anyhow::Result<Written> {
    let file = File::create(temporary)
        .with_context(|| format!("could not create {}", temporary.display()))?;
    let mut out = BufWriter::new(file);
    let bar = ProgressBar::new(total).with_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} events written ({elapsed})")
            .expect("a valid template"),
    );
    let mut query = filters.to_vec();
    query.push(("format", format.as_str().to_owned()));
    let mut next = Some(api.url("/api/export", &query));
    let mut written = Written {
        events: 0,
        answers: 0,
    };
    let mut header: Option<String> = None;
    while let Some(url) = next.take() {
        let (headers, body) = api.fetch(&url).await?;
        let events: u64 = headers
            .get("export-events")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .context("the export answer does not say how many events it holds")?;
        let mut text = body.as_str();
        if format == ExportFormat::Csv {
            let line_end = text.find('\n').map_or(text.len(), |i| i + 1);
            match &header {
                None => header = Some(text[..line_end].to_owned()),
                Some(first) if text.starts_with(first.as_str()) => text = &text[first.len()..],
                Some(_) => bail!("an export answer has another CSV header than the first"),
            }
        }
        out.write_all(text.as_bytes())
            .with_context(|| format!("could not write {}", temporary.display()))?;
        written.events += events;
        written.answers += 1;
        if written.events > bar.length().unwrap_or(0) {
            // Events written after the count was read: the bar grows rather than overflows.
            bar.set_length(written.events);
        }
        bar.set_position(written.events);
        next = headers
            .get(reqwest::header::LINK)
            .and_then(|v| v.to_str().ok())
            .and_then(next_target)
            .map(|target| format!("{}{target}", api.root));
    }
    bar.finish_and_clear();
    let file = out
        .into_inner()
        .map_err(|e| e.into_error())
        .with_context(|| format!("could not write {}", temporary.display()))?;
    file.sync_all()
        .with_context(|| format!("could not write {}", temporary.display()))?;
    Ok(written)
}

/// The target of `<...>; rel="next"` in a `Link` header.
fn next_target(link: &str) -> Option<&str> {
    link.split(',').find_map(|part| {
        let (target, params) = part.trim().strip_prefix('<')?.split_once('>')?;
        let next = params
            .split(';')
            .any(|p| matches!(p.trim(), "rel=\"next\"" | "rel=next"));
        next.then_some(target)
    })
}

struct Api {
    http: reqwest::Client,
    root: String,
    key: Option<String>,
}

impl Api {
    fn url(&self, path: &str, query: &[(&str, String)]) -> String {
        let mut url = format!("{}{path}", self.root);
        let encoded: Vec<String> = query
            .iter()
            .map(|(k, v)| format!("{k}={}", encode(v)))
            .collect();
        if !encoded.is_empty() {
            url.push('?');
            url.push_str(&encoded.join("&"));
        }
        url
    }

    async fn get(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> anyhow::Result<(reqwest::header::HeaderMap, String)> {
        self.fetch(&self.url(path, query)).await
    }

    /// A `200`'s headers and body; any other answer is an error that quotes the API's.
    async fn fetch(&self, url: &str) -> anyhow::Result<(reqwest::header::HeaderMap, String)> {
        let mut request = self.http.get(url);
        if let Some(key) = &self.key {
            request = request.bearer_auth(key);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("could not reach {} (is AUDIT_URL right?)", self.root))?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.text().await.context("the answer broke off")?;
        if !status.is_success() {
            bail!(
                "GET {} answered {status}: {}",
                strip_query(url),
                body.trim()
            );
        }
        Ok((headers, body))
    }
}

/// The URL without its query (which holds cursors and filters, and is long).
fn strip_query(url: &str) -> &str {
    url.split('?').next().unwrap_or(url)
}

/// Percent-encodes all but RFC 3986's unreserved characters.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_link_is_found_among_others() {
        assert_eq!(
            next_target("</api/export?cursor=a.b>; rel=\"next\""),
            Some("/api/export?cursor=a.b")
        );
        assert_eq!(
            next_target("</x>; rel=\"prev\", </api/export?c=1>; rel=next"),
            Some("/api/export?c=1")
        );
        assert_eq!(next_target("</x>; rel=\"prev\""), None);
    }

    #[test]
    fn the_temporary_file_sits_beside_the_output() {
        let path = temporary_path(Path::new("/tmp/out/log.csv")).unwrap();
        assert_eq!(path.parent(), Some(Path::new("/tmp/out")));
        let name = path.file_name().unwrap().to_str().unwrap();
        assert!(
            name.starts_with(".log.csv.") && name.ends_with(".part"),
            "{name}"
        );
        assert!(temporary_path(Path::new("/")).is_err());
    }

    #[test]
    fn values_are_percent_encoded() {
        assert_eq!(encode("a b+c/é"), "a%20b%2Bc%2F%C3%A9");
        assert_eq!(encode("2026-01-01T00:00:00Z"), "2026-01-01T00%3A00%3A00Z");
    }
}
