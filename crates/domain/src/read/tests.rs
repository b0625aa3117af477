//! The read path against a reference: for random events, filters, sorts and page sizes, following
//! `next_cursor` yields exactly the reference-sorted list, page numbers give its slices, totals
//! match, and no page reads more than O(page) index entries.

use chrono::{DateTime, Duration, Utc};
use proptest::prelude::*;

use super::*;
use crate::event::{Description, EventName};
use crate::ports::Metered;
use crate::query::{Direction, Filters, Page, PageSize, Sort};
use crate::testing::MemoryReader;
use crate::time;

const NAMES: [&str; 7] = [
    "user.signed_in",
    "User.Signed_In",
    "user.signed_out",
    "new customer",
    "invoice.paid",
    "a",
    "ab",
];
const PREFIXES: [&str; 7] = [
    "u",
    "USER.SIGNED_",
    "user.signed_out",
    "new",
    "a",
    "zzz",
    "invoice.paid.more",
];

fn base() -> DateTime<Utc> {
    time::parse_rfc3339("2024-06-01T00:00:00Z").unwrap()
}

fn event(seed: (u128, usize, Option<u64>, i64, bool)) -> Event {
    let (id, name, customer, second, other_tenant) = seed;
    Event {
        id: EventId::parse(&ulid::Ulid::from(id).to_string()).unwrap(),
        tenant: if other_tenant {
            Tenant::parse("other").unwrap()
        } else {
            Tenant::default()
        },
        event_name: EventName::parse(NAMES[name].to_owned()).unwrap(),
        description: Description::parse("d".to_owned()).unwrap(),
        customer_id: customer,
        created_at: base() + Duration::seconds(second),
        received_at: base(),
        metadata: None,
        expires_at: None,
    }
}

/// Seconds after `base()`: a few distinct ones (so that many events share a `created_at` and the id
/// decides), whole minutes, and any second of four hours, so that ranges hold whole hours and
/// minutes of counters as well as partial minutes at their ends.
fn seconds() -> impl Strategy<Value = i64> {
    prop_oneof![0i64..12, (0i64..240).prop_map(|m| m * 60), 0i64..4 * 3600]
}

fn events() -> impl Strategy<Value = Vec<Event>> {
    let one = (
        any::<u128>(),
        0..NAMES.len(),
        prop_oneof![Just(None), (1u64..4).prop_map(Some)],
        seconds(),
        prop::bool::weighted(0.1),
    );
    prop::collection::vec(one.prop_map(event), 0..60)
}

fn filters() -> impl Strategy<Value = Filters> {
    (
        prop::option::of(prop::sample::select(PREFIXES.to_vec())),
        prop::option::of(1u64..4),
        prop::option::of(seconds()),
        prop::option::of(prop_oneof![1i64..8, seconds().prop_map(|s| s + 1)]),
    )
        .prop_map(|(prefix, customer_id, from, span)| Filters {
            name_prefix: prefix.map(str::to_lowercase),
            customer_id,
            from: from.map(|s| base() + Duration::seconds(s)),
            to: span.map(|d| base() + Duration::seconds(from.unwrap_or(0) + d)),
        })
}

fn sorts() -> impl Strategy<Value = Sort> {
    prop::sample::select(vec![
        "created_at",
        "-created_at",
        "event_name",
        "-event_name",
    ])
    .prop_map(|s| Sort::parse(s).unwrap())
}

/// The filtered list in sort order, computed the obvious way.
fn reference(events: &[Event], filters: &Filters, sort: Sort) -> Vec<EventId> {
    let mut kept: Vec<&Event> = events
        .iter()
        .filter(|e| e.tenant == Tenant::default())
        .filter(|e| {
            filters
                .name_prefix
                .as_ref()
                .is_none_or(|p| e.event_name.key().starts_with(p))
        })
        .filter(|e| filters.customer_id.is_none_or(|c| e.customer_id == Some(c)))
        .filter(|e| filters.from.is_none_or(|t| e.created_at >= t))
        .filter(|e| filters.to.is_none_or(|t| e.created_at < t))
        .collect();
    kept.sort_by_key(|e| {
        let name = match sort.key {
            SortKey::EventName => e.event_name.key(),
            SortKey::CreatedAt => String::new(),
        };
        (name, e.created_at, e.id.clone())
    });
    if sort.direction == Direction::Desc {
        kept.reverse();
    }
    kept.into_iter().map(|e| e.id.clone()).collect()
}

fn context(shards: u32) -> ReadContext {
    ReadContext {
        tenant: Tenant::default(),
        shards,
        cursor_key: CursorKey::new(b"proptest".to_vec()),
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
}

fn ids(page: &ReadPage) -> Vec<EventId> {
    page.logs.iter().map(|e| e.id.clone()).collect()
}

/// Index entries a page may read: `(page_size + 1)` per merged partition, the catalogue, and the
/// page's items. The customer-with-name-filter plans are the documented exception.
fn entry_bound(
    store: &MemoryReader,
    ctx: &ReadContext,
    filters: &Filters,
    sort: Sort,
    size: u32,
) -> Option<u64> {
    if filters.customer_id.is_some() {
        return None;
    }
    let names = store.name_count(&ctx.tenant, filters.name_prefix.as_deref().unwrap_or(""));
    let partitions = match (sort.key, &filters.name_prefix) {
        (SortKey::CreatedAt, None) => u64::from(ctx.shards),
        (SortKey::CreatedAt, Some(_)) => names,
        // A name walk stops once it holds page_size + 1 entries, whatever the number of names.
        (SortKey::EventName, _) => 1,
    };
    Some((u64::from(size) + 1) * partitions + names + u64::from(size))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn cursors_and_page_numbers_walk_the_reference_list(
        events in events(),
        filters in filters(),
        sort in sorts(),
        size in 1u32..6,
        shards in 1u32..5,
    ) {
        let store = MemoryReader::new(&events, shards);
        let ctx = context(shards);
        let expected = reference(&events, &filters, sort);
        let page_size = PageSize::new(size).unwrap();
        let last_page = (expected.len() as u64).div_ceil(u64::from(size)).max(1);
        let bound = entry_bound(&store, &ctx, &filters, sort, size);
        let rt = runtime();

        let mut query = ReadQuery { filters: filters.clone(), sort, page_size, page: Page::FIRST, after: None };
        let mut walked = Vec::new();
        for number in 1..=last_page {
            let metered = Metered::new(&store);
            let page = rt.block_on(read(&metered, &ctx, &query)).unwrap();
            prop_assert_eq!(u64::from(page.current_page), number);
            prop_assert_eq!(page.total_records, expected.len() as u64);
            prop_assert_eq!(page.last_page, last_page);
            prop_assert_eq!(page.first_page, 1);
            if let Some(bound) = bound {
                prop_assert!(metered.cost().items_read <= bound, "{:?} > {}", metered.cost(), bound);
            }
            walked.extend(ids(&page));
            match page.next_cursor {
                Some(text) => {
                    prop_assert!(number < last_page, "a cursor after the last page");
                    let cursor = Cursor::decode(&text, &ctx.cursor_key).unwrap();
                    query = ReadQuery { page: cursor.page, after: Some(cursor.position), ..query };
                }
                None => {
                    prop_assert_eq!(number, last_page, "no cursor before the last page");
                    break;
                }
            }
        }
        prop_assert_eq!(&walked, &expected);

        for number in 1..=(last_page as u32 + 1) {
            let query = ReadQuery {
                filters: filters.clone(), sort, page_size, page: Page::new(number).unwrap(), after: None,
            };
            let page = rt.block_on(read(&store, &ctx, &query)).unwrap();
            let start = ((number - 1) * size) as usize;
            let slice: Vec<EventId> = expected.iter().skip(start).take(size as usize).cloned().collect();
            prop_assert_eq!(ids(&page), slice);
            prop_assert_eq!(page.next_cursor.is_some(), expected.len() > start + size as usize);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// An export's answers, each a sink of `room` events, concatenate to the reference list,
    /// whatever the page size; every answer but the last is full and links on.
    #[test]
    fn export_answers_concatenate_to_the_reference_list(
        events in events(),
        filters in filters(),
        sort in sorts(),
        size in 1u32..6,
        room in 1usize..9,
        shards in 1u32..5,
    ) {
        let store = MemoryReader::new(&events, shards);
        let ctx = context(shards);
        let expected = reference(&events, &filters, sort);
        let rt = runtime();
        let mut query = ReadQuery {
            filters: filters.clone(), sort, page_size: PageSize::new(size).unwrap(),
            page: Page::FIRST, after: None,
        };
        let mut exported = Vec::new();
        for answer in 0.. {
            prop_assert!(answer <= expected.len(), "the export does not end");
            let mut taken = Vec::new();
            let next = rt.block_on(export(&store, &ctx, &query, |event| {
                taken.push(event.id.clone());
                taken.len() < room
            })).unwrap();
            prop_assert!(taken.len() <= room);
            exported.extend(taken.iter().cloned());
            match next {
                Some(text) => {
                    prop_assert_eq!(taken.len(), room, "a linked answer is full");
                    let cursor = Cursor::decode(&text, &ctx.cursor_key).unwrap();
                    prop_assert_eq!(&cursor.filters, &filters);
                    query = ReadQuery { page: cursor.page, after: Some(cursor.position), ..query };
                }
                None => break,
            }
        }
        prop_assert_eq!(&exported, &expected);
    }
}

#[test]
fn nothing_matching_is_an_empty_first_and_last_page() {
    let store = MemoryReader::new(&[], 8);
    let query = ReadQuery {
        filters: Filters::default(),
        sort: Sort::DEFAULT,
        page_size: PageSize::DEFAULT,
        page: Page::FIRST,
        after: None,
    };
    let page = runtime()
        .block_on(read(&store, &context(8), &query))
        .unwrap();
    assert_eq!(
        page.to_json(),
        json!({"logs": [], "metadata": {
            "current_page": 1, "page_size": 20, "first_page": 1, "last_page": 1, "total_records": 0
        }})
    );
}

#[test]
fn an_unknown_name_prefix_reads_only_the_catalogue() {
    let events: Vec<Event> = (0..5).map(|i| event((i, 0, None, 0, false))).collect();
    let store = MemoryReader::new(&events, 8);
    let query = ReadQuery::parse(
        [("event_name", "nope")],
        &Tenant::default(),
        &context(8).cursor_key,
    )
    .unwrap();
    let metered = Metered::new(&store);
    let page = runtime()
        .block_on(read(&metered, &context(8), &query))
        .unwrap();
    assert_eq!(page.total_records, 0);
    assert_eq!(metered.cost().requests, 1);
}

#[test]
fn reads_are_send_so_lambda_can_run_them() {
    fn is_send<T: Send>(_: &T) {}
    let store = MemoryReader::new(&[], 1);
    let ctx = context(1);
    let query =
        ReadQuery::parse(Vec::<(String, String)>::new(), &ctx.tenant, &ctx.cursor_key).unwrap();
    is_send(&read(&store, &ctx, &query));
}

#[test]
fn a_customer_sorted_by_name_is_sorted_up_to_the_limit_and_refused_beyond_it() {
    // One customer with one event more than the limit, one second apart.
    let events: Vec<Event> = (0..=CUSTOMER_NAME_SORT_LIMIT as i64)
        .map(|i| event((i as u128 + 1, (i % 3) as usize, Some(7), i, false)))
        .collect();
    let store = MemoryReader::new(&events, 8);
    let ctx = context(8);
    let parse = |params: &[(&str, &str)]| {
        ReadQuery::parse(params.iter().copied(), &ctx.tenant, &ctx.cursor_key).unwrap()
    };
    let refused = runtime().block_on(read(
        &store,
        &ctx,
        &parse(&[("customer_id", "7"), ("sort", "event_name")]),
    ));
    let Err(ReadError::TooBroad(errors)) = refused else {
        panic!("expected a refusal, got {refused:?}");
    };
    assert!(errors
        .get("sort")
        .unwrap()
        .contains("narrow it with from and to"));

    // A time range that holds exactly the limit is answered, in name order.
    let to = (base() + Duration::seconds(CUSTOMER_NAME_SORT_LIMIT as i64)).to_rfc3339();
    let page = runtime()
        .block_on(read(
            &store,
            &ctx,
            &parse(&[("customer_id", "7"), ("sort", "event_name"), ("to", &to)]),
        ))
        .unwrap();
    assert_eq!(page.total_records, CUSTOMER_NAME_SORT_LIMIT as u64);
    let names: Vec<&str> = page.logs.iter().map(|e| e.event_name.as_str()).collect();
    let mut sorted = names.clone();
    sorted.sort_by_key(|n| n.to_lowercase());
    assert_eq!(names, sorted);
    // Sorted by time, the same customer is not limited.
    let by_time = runtime()
        .block_on(read(&store, &ctx, &parse(&[("customer_id", "7")])))
        .unwrap();
    assert_eq!(by_time.total_records, CUSTOMER_NAME_SORT_LIMIT as u64 + 1);
}
