//! The read side: turning a valid `ReadQuery` into one page of events and the seed's page metadata.
//!
//! Cost is O(page): the page's index entries are read with `Limit` from each partition the plan
//! names (`plan`), merged (`merge`), and the page's items fetched with one batch get.
//! `total_records` is read from the counters the count function keeps (`count`), at a cost set by
//! the range's length and the names it matches, not by how many events are stored. `next_cursor`
//! comes from the page read alone, so a walk ends where the index ends even while the counters
//! catch up.

mod count;
mod export;
mod merge;
mod plan;
#[cfg(test)]
mod tests;

use std::collections::HashMap;

use serde_json::{json, Value};

use crate::cursor::{Cursor, CursorKey, Position};
use crate::event::{Event, Tenant};
use crate::fields::FieldErrors;
use crate::id::EventId;
use crate::layout;
use crate::ports::{KeyEntry, ReadStore, StoreError};
use crate::query::{ReadQuery, SortKey};

pub use count::{series, Series, SeriesBucket, CUSTOMER_SERIES_LIMIT};
pub use export::export;
pub use merge::CUSTOMER_NAME_SORT_LIMIT;

/// What every read of one deployment shares.
#[derive(Debug, Clone)]
pub struct ReadContext {
    pub tenant: Tenant,
    /// `by_time` shards; must equal the writers' `AUDIT_SHARDS`.
    pub shards: u32,
    pub cursor_key: CursorKey,
}

/// One page and the seed's metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadPage {
    pub logs: Vec<Event>,
    pub current_page: u32,
    pub page_size: u32,
    pub first_page: u32,
    pub last_page: u64,
    pub total_records: u64,
    /// Present exactly when another page follows.
    pub next_cursor: Option<String>,
}

impl ReadPage {
    /// The body of `200 GET /api/read`.
    pub fn to_json(&self) -> Value {
        let mut metadata = json!({
            "current_page": self.current_page,
            "page_size": self.page_size,
            "first_page": self.first_page,
            "last_page": self.last_page,
            "total_records": self.total_records,
        });
        if let Some(cursor) = &self.next_cursor {
            metadata["next_cursor"] = json!(cursor);
        }
        let logs: Vec<_> = self.logs.iter().map(Event::view).collect();
        json!({ "logs": logs, "metadata": metadata })
    }
}

/// Why a query got no page.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The store failed: a 500, with the details in the log.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The query is valid but would read too much to answer: a 422 that says how to narrow it.
    #[error("the query is too broad")]
    TooBroad(FieldErrors),
}

/// The events of a window's entries, in the window's order, each with its entry. An index entry can
/// outlive its item briefly (TTL deletion, index lag): such an entry is skipped.
async fn fetch<'w, R: ReadStore>(
    store: &R,
    tenant: &Tenant,
    entries: &'w [KeyEntry],
) -> Result<Vec<(&'w KeyEntry, Event)>, StoreError> {
    let ids: Vec<(&KeyEntry, EventId)> = entries
        .iter()
        .filter_map(|e| layout::id_of_ts(&e.ts).map(|id| (e, id)))
        .collect();
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let wanted: Vec<EventId> = ids.iter().map(|(_, id)| id.clone()).collect();
    let events = store.get_many(tenant, &wanted).await?.value;
    let mut found: HashMap<EventId, Event> =
        events.into_iter().map(|e| (e.id.clone(), e)).collect();
    Ok(ids
        .into_iter()
        .filter_map(|(entry, id)| found.remove(&id).map(|event| (entry, event)))
        .collect())
}

/// The signed cursor that resumes `query` right after `last`, on the next page.
fn cursor_after(ctx: &ReadContext, query: &ReadQuery, last: &KeyEntry) -> String {
    Cursor {
        tenant: ctx.tenant.clone(),
        filters: query.filters.clone(),
        sort: query.sort,
        page_size: query.page_size,
        page: query.page.next(),
        position: position_of(query, last),
    }
    .encode(&ctx.cursor_key)
}

/// Where a walk stands after `entry`, in the sort's own key.
fn position_of(query: &ReadQuery, entry: &KeyEntry) -> Position {
    Position {
        name_key: match query.sort.key {
            SortKey::EventName => Some(entry.name_key.clone().unwrap_or_default()),
            SortKey::CreatedAt => None,
        },
        ts: entry.ts.clone(),
    }
}

/// `total_records` alone: what [`read`] counts beside the page, without the page. For measuring
/// the count's cost apart from the page's (`bench-reads`), on a table too large for the emulator to
/// serve pages of in reasonable time.
pub async fn total_records<R: ReadStore>(
    store: &R,
    ctx: &ReadContext,
    query: &ReadQuery,
) -> Result<u64, ReadError> {
    let plan = plan::Plan::choose(store, &ctx.tenant, ctx.shards, query).await?;
    let scope = count::Scope::of_plan(&plan, &ctx.tenant, ctx.shards, &query.filters);
    let now_us = crate::time::now().timestamp_micros();
    Ok(count::total(store, &scope, &query.filters, now_us).await?)
}

/// Reads the page `query` asks for.
pub async fn read<R: ReadStore>(
    store: &R,
    ctx: &ReadContext,
    query: &ReadQuery,
) -> Result<ReadPage, ReadError> {
    let plan = plan::Plan::choose(store, &ctx.tenant, ctx.shards, query).await?;
    let scope = count::Scope::of_plan(&plan, &ctx.tenant, ctx.shards, &query.filters);
    let now_us = crate::time::now().timestamp_micros();
    let ((window, known_total), counted) = futures::try_join!(
        merge::window(store, &plan, query),
        futures::TryFutureExt::err_into(count::total(store, &scope, &query.filters, now_us))
    )?;
    let total_records = known_total.unwrap_or(counted);

    let logs: Vec<Event> = fetch(store, &ctx.tenant, &window.entries)
        .await?
        .into_iter()
        .map(|(_, event)| event)
        .collect();
    let next_cursor = match (window.has_more, window.entries.last()) {
        (true, Some(last)) => Some(cursor_after(ctx, query, last)),
        _ => None,
    };

    let page_size = query.page_size.get();
    Ok(ReadPage {
        logs,
        current_page: query.page.get(),
        page_size,
        first_page: 1,
        last_page: total_records.div_ceil(u64::from(page_size)).max(1),
        total_records,
        next_cursor,
    })
}
