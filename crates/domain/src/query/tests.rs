//! Parameter tables for `GET /api/read`: every message, defaults, and how a cursor combines with
//! the parameters sent beside it.

use super::*;
use crate::cursor::{Cursor, Position};

fn key() -> CursorKey {
    CursorKey::new(b"query test key".to_vec())
}

fn parse(params: &[(&str, &str)]) -> Result<ReadQuery, FieldErrors> {
    ReadQuery::parse(params.iter().copied(), &Tenant::default(), &key())
}

fn errors(params: &[(&str, &str)]) -> Vec<(String, String)> {
    match parse(params) {
        Ok(q) => panic!("expected errors for {params:?}, got {q:?}"),
        Err(e) => e
            .iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
    }
}

fn one_error(params: &[(&str, &str)]) -> (String, String) {
    let all = errors(params);
    assert_eq!(all.len(), 1, "{params:?}: {all:?}");
    all.into_iter().next().unwrap()
}

#[test]
fn defaults_are_newest_first_page_one_of_twenty() {
    let q = parse(&[]).unwrap();
    assert_eq!(q.sort, Sort::DEFAULT);
    assert_eq!(q.sort.as_str(), "-created_at");
    assert_eq!(q.page.get(), 1);
    assert_eq!(q.page_size.get(), 20);
    assert_eq!(q.filters, Filters::default());
    assert_eq!(q.after, None);
}

#[test]
fn every_sort_parses_and_prints_back() {
    for text in ["created_at", "-created_at", "event_name", "-event_name"] {
        assert_eq!(Sort::parse(text).unwrap().as_str(), text);
    }
}

#[test]
fn each_invalid_parameter_has_its_message() {
    let cases: &[(&str, &str, &str)] = &[
        ("sort", "time", "invalid sort value"),
        ("sort", "+created_at", "invalid sort value"),
        ("sort", "--created_at", "invalid sort value"),
        ("sort", "Created_At", "invalid sort value"),
        ("page", "0", "must be greater than zero"),
        ("page", "-1", "must be greater than zero"),
        ("page", "10000001", "must be a maximum of 10 million"),
        ("page", "abc", "must be an integer value"),
        ("page", "1.5", "must be an integer value"),
        ("page", "99999999999999999999", "must be an integer value"),
        ("page_size", "0", "must be greater than zero"),
        ("page_size", "-5", "must be greater than zero"),
        ("page_size", "101", "must be a maximum of 100"),
        ("page_size", "ten", "must be an integer value"),
        ("customer_id", "abc", "must be an integer value"),
        ("customer_id", "1.0", "must be an integer value"),
        ("customer_id", "-1", "must be zero or a positive integer"),
        (
            "customer_id",
            "9223372036854775808",
            "must not be more than 9223372036854775807",
        ),
        ("from", "yesterday", "must be an RFC 3339 timestamp"),
        ("from", "2024-01-01", "must be an RFC 3339 timestamp"),
        (
            "to",
            "2024-13-01T00:00:00Z",
            "must be an RFC 3339 timestamp",
        ),
        ("cursor", "garbage", "invalid cursor"),
        ("cursor", "a.b", "invalid cursor"),
    ];
    for (field, value, message) in cases {
        assert_eq!(
            one_error(&[(field, value)]),
            (field.to_string(), message.to_string()),
            "{field}={value}"
        );
    }
}

#[test]
fn boundary_values_are_accepted() {
    let cases: &[(&str, &str)] = &[
        ("page", "1"),
        ("page_size", "1"),
        ("page_size", "100"),
        ("customer_id", "0"),
        ("customer_id", "9223372036854775807"),
        ("page", "+2"),
    ];
    for (field, value) in cases {
        assert!(parse(&[(field, value)]).is_ok(), "{field}={value}");
    }
    let q = parse(&[("page", "10000000"), ("page_size", "1")]);
    assert!(
        q.is_err(),
        "page 10M is valid but too deep without a cursor"
    );
}

#[test]
fn all_errors_are_reported_at_once() {
    let all = errors(&[
        ("sort", "time"),
        ("page", "0"),
        ("page_size", "x"),
        ("customer_id", "-3"),
    ]);
    let fields: Vec<&str> = all.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(fields, ["customer_id", "page", "page_size", "sort"]);
}

#[test]
fn to_must_be_later_than_from() {
    let at = "2024-05-01T00:00:00Z";
    assert_eq!(
        one_error(&[("from", at), ("to", at)]),
        ("to".to_owned(), "must be later than from".to_owned())
    );
    assert_eq!(
        one_error(&[("from", "2024-05-02T00:00:00Z"), ("to", at)]).1,
        "must be later than from"
    );
    let q = parse(&[("from", at), ("to", "2024-05-01T00:00:00.000001Z")]).unwrap();
    assert!(q.filters.from < q.filters.to);
}

#[test]
fn a_plus_offset_decoded_as_a_space_still_parses() {
    let q = parse(&[("from", "2024-05-01T02:00:00 02:00")]).unwrap();
    assert_eq!(q.filters.from, time::parse_rfc3339("2024-05-01T00:00:00Z"));
}

#[test]
fn the_name_prefix_is_lowercased_and_empty_values_are_absent() {
    let q = parse(&[
        ("event_name", "User.Sign"),
        ("customer_id", ""),
        ("sort", ""),
    ])
    .unwrap();
    assert_eq!(q.filters.name_prefix.as_deref(), Some("user.sign"));
    assert_eq!(q.filters.customer_id, None);
    assert_eq!(q.sort, Sort::DEFAULT);
    assert_eq!(
        parse(&[("event_name", "")]).unwrap().filters.name_prefix,
        None
    );
}

#[test]
fn unknown_parameters_are_ignored_and_the_first_repeat_counts() {
    let q = parse(&[("colour", "blue"), ("page", "2"), ("page", "x")]).unwrap();
    assert_eq!(q.page.get(), 2);
}

#[test]
fn page_numbers_are_capped_by_offset() {
    // (page - 1) * page_size may be at most 10,000.
    assert!(parse(&[("page", "501"), ("page_size", "20")]).is_ok());
    assert_eq!(
        one_error(&[("page", "502"), ("page_size", "20")]),
        (
            "page".to_owned(),
            "too deep for page numbers, follow next_cursor".to_owned()
        )
    );
    assert!(parse(&[("page", "10001"), ("page_size", "1")]).is_ok());
    assert!(parse(&[("page", "10002"), ("page_size", "1")]).is_err());
}

fn signed(tenant: &str, filters: Filters, sort: &str, page_size: u32) -> String {
    Cursor {
        tenant: Tenant::parse(tenant).unwrap(),
        filters,
        sort: Sort::parse(sort).unwrap(),
        page_size: PageSize::new(page_size).unwrap(),
        page: Page::new(4).unwrap(),
        position: Position {
            name_key: None,
            ts: "2024-05-01T00:00:00.000000Z#01ARZ3NDEKTSV4RRFFQ69G5FAV".to_owned(),
        },
    }
    .encode(&key())
}

fn carried_filters() -> Filters {
    Filters {
        name_prefix: Some("user".to_owned()),
        customer_id: Some(18),
        from: time::parse_rfc3339("2024-01-01T00:00:00Z"),
        to: None,
    }
}

#[test]
fn a_cursor_alone_carries_everything() {
    let text = signed("default", carried_filters(), "created_at", 5);
    let q = parse(&[("cursor", &text)]).unwrap();
    assert_eq!(q.filters, carried_filters());
    assert_eq!(q.sort.as_str(), "created_at");
    assert_eq!(q.page_size.get(), 5);
    assert_eq!(q.page.get(), 4);
    assert_eq!(q.offset(), 0);
    assert!(q.after.is_some());
}

#[test]
fn a_cursor_with_the_same_query_string_is_accepted_and_decides_the_page() {
    let text = signed("default", carried_filters(), "created_at", 5);
    let params = [
        ("cursor", text.as_str()),
        ("event_name", "USER"),
        ("customer_id", "18"),
        ("from", "2024-01-01T01:00:00+01:00"),
        ("sort", "created_at"),
        ("page_size", "5"),
        ("page", "1"),
    ];
    let q = parse(&params).unwrap();
    assert_eq!(q.page.get(), 4);
}

#[test]
fn a_cursor_with_different_parameters_is_refused() {
    let text = signed("default", carried_filters(), "created_at", 5);
    let changed: &[(&str, &str)] = &[
        ("event_name", "use"),
        ("customer_id", "19"),
        ("from", "2024-01-02T00:00:00Z"),
        ("to", "2025-01-01T00:00:00Z"),
        ("sort", "-created_at"),
        ("page_size", "6"),
    ];
    for (field, value) in changed {
        assert_eq!(
            one_error(&[("cursor", &text), (field, value)]),
            ("cursor".to_owned(), "invalid cursor".to_owned()),
            "{field}={value}"
        );
    }
}

#[test]
fn another_tenants_cursor_is_refused() {
    let text = signed("acme", Filters::default(), "created_at", 5);
    assert_eq!(one_error(&[("cursor", &text)]).1, "invalid cursor");
}

#[test]
fn an_invalid_parameter_beside_a_cursor_is_reported_as_itself() {
    let text = signed("default", Filters::default(), "created_at", 5);
    assert_eq!(one_error(&[("cursor", &text), ("sort", "time")]).0, "sort");
}
