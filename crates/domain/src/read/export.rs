//! The walk behind `GET /api/export`: the pages of a cursor walk of `/api/read`, read one after
//! the other within one answer until the caller's sink is full, and the cursor that resumes right
//! after the last event the sink took. So the concatenated answers of an export are exactly the
//! cursor walk of `/api/read` for the same query, in order, whatever the page size.
//!
//! It reads no counters: an export needs no `total_records`, and each page's count would cost about
//! as much again as the page.

use crate::event::Event;
use crate::ports::ReadStore;
use crate::query::ReadQuery;
use crate::read::{cursor_after, fetch, merge, plan, position_of, ReadContext, ReadError};

/// Walks `query` from where it starts (its cursor, or its page) and hands each event to `take`, in
/// order. `take` keeps the event and answers whether it has room for another; the walk stops when
/// it has none, or when the events end. Answers the cursor that resumes after the last event taken
/// when more may follow, or `None` when none remain.
pub async fn export<R: ReadStore>(
    store: &R,
    ctx: &ReadContext,
    query: &ReadQuery,
    mut take: impl FnMut(&Event) -> bool,
) -> Result<Option<String>, ReadError> {
    let plan = plan::Plan::choose(store, &ctx.tenant, ctx.shards, query).await?;
    let mut query = query.clone();
    loop {
        let (window, _) = merge::window(store, &plan, &query).await?;
        let events = fetch(store, &ctx.tenant, &window.entries).await?;
        let last_fetched = events.len().checked_sub(1);
        for (i, (entry, event)) in events.into_iter().enumerate() {
            if !take(&event) {
                // Full: the next answer starts after this event, unless nothing is left at all.
                let at_end = Some(i) == last_fetched
                    && window.entries.last() == Some(entry)
                    && !window.has_more;
                return Ok((!at_end).then(|| cursor_after(ctx, &query, entry)));
            }
        }
        match (window.has_more, window.entries.last()) {
            (true, Some(last)) => {
                query.after = Some(position_of(&query, last));
                query.page = query.page.next();
            }
            _ => return Ok(None),
        }
    }
}
