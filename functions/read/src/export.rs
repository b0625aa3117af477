//! `GET /api/export`: the events of a `/api/read` query, as many as fit one Lambda answer, as NDJSON
//! or CSV, with `Link: <...>; rel="next"` while more remain. Each answer is itself audited: an event
//! `audit_log.exported` goes into the tenant's own log, through the queue the write function uses.

use audit_api::ApiError;
use audit_domain::auth::Principal;
use audit_domain::ports::{EventQueue, ReadStore};
use audit_domain::query::{ExportFormat, ExportQuery};
use audit_domain::read::{self, ReadContext};
use audit_domain::{time, Event, EventId, NewEvent};
use lambda_http::http::{header, StatusCode};
use lambda_http::{Body, Response};
use serde_json::json;
use std::time::{Duration, Instant};

/// How much one answer may hold. Lambda refuses a response over 6 MB (6,291,456 bytes) *as it
/// carries it*: the body inside a JSON envelope, where every `"` and `\` takes two bytes. So the
/// byte cap counts the body escaped, and stops with room for the largest event to spare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExportLimits {
    /// Events per answer. It bounds the answer's time as well: 5,000 events are 50 pages.
    pub max_events: usize,
    /// The body's bytes as Lambda's JSON envelope carries them.
    pub max_bytes: usize,
    /// Reading time, after which the answer ends at the event in hand. With a small `page_size` (one
    /// request per event) or a slow index, the event cap alone could outlast the read function's
    /// 10 s timeout and a client's patience; the rest follows by `Link` either way.
    pub max_time: Duration,
}

impl ExportLimits {
    /// 5,000 events, 5 MiB (about 1 MiB under Lambda's limit) or 4 s of reading, whichever comes
    /// first.
    pub const DEFAULT: Self = Self {
        max_events: 5_000,
        max_bytes: 5 * 1024 * 1024,
        max_time: Duration::from_secs(4),
    };
}

impl Default for ExportLimits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// More than any one event can take, escaped: a 1,000-byte description of control characters is
/// 7,000 bytes, metadata at most 4 KiB doubled, a name 700.
const LARGEST_EVENT: usize = 32 * 1024;

/// The fixed CSV header.
pub const CSV_HEADER: [&str; 6] = [
    "id",
    "created_at",
    "event_name",
    "description",
    "customer_id",
    "metadata",
];

/// The name of the event that records an export.
pub const EXPORTED_EVENT: &str = "audit_log.exported";

/// An answer's body as it grows, and what it holds.
struct Sink {
    body: Vec<u8>,
    /// How CSV records are written, for a CSV answer.
    csv: Option<csv::WriterBuilder>,
    events: usize,
    wire_bytes: usize,
    limits: ExportLimits,
    started: Instant,
}

impl Sink {
    fn new(format: ExportFormat, limits: ExportLimits) -> Self {
        let mut sink = Self {
            body: Vec::new(),
            csv: None,
            events: 0,
            wire_bytes: 0,
            limits,
            started: Instant::now(),
        };
        if format == ExportFormat::Csv {
            // RFC 4180: CRLF after each record, fields quoted when they hold `,` `"` or a line break.
            let mut builder = csv::WriterBuilder::new();
            builder
                .terminator(csv::Terminator::CRLF)
                .buffer_capacity(1024);
            sink.csv = Some(builder);
            sink.write_csv(&CSV_HEADER);
        }
        sink
    }

    /// Appends one CSV record to the body and counts its bytes.
    fn write_csv(&mut self, fields: &[&str]) {
        let builder = self.csv.as_ref().expect("a CSV answer");
        let start = self.body.len();
        let mut writer = builder.from_writer(&mut self.body);
        writer.write_record(fields).expect("memory takes writes");
        writer.flush().expect("memory takes writes");
        drop(writer);
        self.wire_bytes += escaped_len(&self.body[start..]);
    }

    /// Takes `event`; answers whether another would still fit.
    fn take(&mut self, event: &Event) -> bool {
        if self.csv.is_some() {
            let metadata = event.metadata.as_ref().map(|m| m.to_json());
            self.write_csv(&[
                event.id.as_str(),
                &time::to_rfc3339(&event.created_at),
                event.event_name.as_str(),
                event.description.as_str(),
                &event.customer_id.map(|c| c.to_string()).unwrap_or_default(),
                metadata.as_deref().unwrap_or(""),
            ]);
        } else {
            let start = self.body.len();
            serde_json::to_writer(&mut self.body, &event.view()).expect("a view serialises");
            self.body.push(b'\n');
            self.wire_bytes += escaped_len(&self.body[start..]);
        }
        self.events += 1;
        self.events < self.limits.max_events
            && self.wire_bytes + LARGEST_EVENT <= self.limits.max_bytes
            && self.started.elapsed() < self.limits.max_time
    }

    fn finish(self) -> (String, usize) {
        let body = String::from_utf8(self.body).expect("events are UTF-8");
        (body, self.events)
    }
}

/// Bytes of `bytes` inside a JSON string: `"`, `\` and the short escapes take two, other control
/// characters six (`\u0001`), everything else (UTF-8 included) one each.
fn escaped_len(bytes: &[u8]) -> usize {
    bytes
        .iter()
        .map(|&b| match b {
            b'"' | b'\\' | b'\n' | b'\r' | b'\t' | 0x08 | 0x0c => 2,
            0x00..=0x1f => 6,
            _ => 1,
        })
        .sum()
}

/// Answers one export request for `principal`, within `context`'s tenant, and records it.
pub(crate) async fn export<R: ReadStore, Q: EventQueue>(
    store: &R,
    queue: &Q,
    context: &ReadContext,
    principal: &Principal,
    params: impl IntoIterator<Item = (String, String)>,
    limits: ExportLimits,
    retention_days: u32,
) -> Result<Response<Body>, ApiError> {
    let params: Vec<(String, String)> = params.into_iter().collect();
    let query = ExportQuery::parse(params.iter().cloned(), &context.tenant, &context.cursor_key)?;
    let mut sink = Sink::new(query.format, limits);
    let next = read::export(store, context, &query.read, |event| sink.take(event)).await?;
    let (body, events) = sink.finish();

    let continued = params.iter().any(|(k, v)| k == "cursor" && !v.is_empty());
    let record = exported_event(
        context,
        principal,
        &query,
        events,
        continued,
        next.is_some(),
        retention_days,
    )?;
    queue.enqueue(&[record]).await?;
    tracing::info!(
        tenant = context.tenant.as_str(),
        key_id = principal.key_id.as_ref().map_or("-", |k| k.as_str()),
        format = query.format.as_str(),
        events,
        more = next.is_some(),
        "export served"
    );

    let now = time::now();
    let (content_type, extension) = match query.format {
        ExportFormat::Ndjson => ("application/x-ndjson; charset=utf-8", "ndjson"),
        ExportFormat::Csv => ("text/csv; charset=utf-8; header=present", "csv"),
    };
    let filename = format!(
        "audit-log-{}-{}.{extension}",
        file_safe(context.tenant.as_str()),
        now.format("%Y%m%dT%H%M%SZ")
    );
    let mut response = Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, content_type)
        .header(
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{filename}\""),
        )
        .header(header::CACHE_CONTROL, "no-store")
        .header("x-content-type-options", "nosniff")
        .header("export-events", events.to_string());
    if let Some(cursor) = next {
        response = response.header(header::LINK, next_link(&query, &cursor));
    }
    response.body(Body::Text(body)).map_err(ApiError::internal)
}

/// `</api/export?<the query's filters, sort and format>&cursor=...>; rel="next"`, relative to the
/// API's root. The filters are written as the cursor carries them, so that the two agree.
fn next_link(query: &ExportQuery, cursor: &str) -> String {
    let read = &query.read;
    let mut pairs: Vec<(&str, String)> = Vec::new();
    if let Some(prefix) = &read.filters.name_prefix {
        pairs.push(("event_name", prefix.clone()));
    }
    if let Some(customer) = read.filters.customer_id {
        pairs.push(("customer_id", customer.to_string()));
    }
    if let Some(from) = &read.filters.from {
        pairs.push(("from", time::to_rfc3339(from)));
    }
    if let Some(to) = &read.filters.to {
        pairs.push(("to", time::to_rfc3339(to)));
    }
    pairs.push(("sort", read.sort.as_str().to_owned()));
    pairs.push(("format", query.format.as_str().to_owned()));
    pairs.push(("cursor", cursor.to_owned()));
    let query: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", percent_encode(v)))
        .collect();
    format!("</api/export?{}>; rel=\"next\"", query.join("&"))
}

/// Percent-encodes all but RFC 3986's unreserved characters.
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The tenant as a file name may hold it.
fn file_safe(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The longest `event_name` filter an export record repeats; longer prefixes match no name anyway.
const RECORDED_PREFIX: usize = 200;

/// The event that records one export answer: who (the key's public id, never the key), what (the
/// filters, sort and format) and how many events it held.
fn exported_event(
    context: &ReadContext,
    principal: &Principal,
    query: &ExportQuery,
    events: usize,
    continued: bool,
    more: bool,
    retention_days: u32,
) -> Result<Event, ApiError> {
    let filters = &query.read.filters;
    let prefix = filters.name_prefix.as_deref().map(|p| {
        let mut end = p.len().min(RECORDED_PREFIX);
        while !p.is_char_boundary(end) {
            end -= 1;
        }
        &p[..end]
    });
    let now = time::now();
    let input = json!({
        "event_name": EXPORTED_EVENT,
        "description": format!("exported {events} events as {}", query.format.as_str()),
        "metadata": {
            "key_id": principal.key_id.as_ref().map(|k| k.as_str()),
            "format": query.format.as_str(),
            "events": events,
            "filters": {
                "event_name": prefix,
                // A filter may name a customer id past what a written event may hold
                // (2^53 − 1): such an id is recorded as its decimal string.
                "customer_id": filters.customer_id.map(|c| match c {
                    c if c <= audit_domain::event::MAX_EXACT_INTEGER => json!(c),
                    c => json!(c.to_string()),
                }),
                "from": filters.from.as_ref().map(time::to_rfc3339),
                "to": filters.to.as_ref().map(time::to_rfc3339),
            },
            "sort": query.read.sort.as_str(),
            "continued": continued,
            "more": more,
        },
    });
    let event = NewEvent::from_json(&input, now)
        .map_err(|e| ApiError::internal(std::io::Error::other(format!("export record: {e:?}"))))?;
    Ok(event.stamp(
        EventId::generate(),
        context.tenant.clone(),
        now,
        retention_days,
    ))
}

#[cfg(test)]
mod tests;
