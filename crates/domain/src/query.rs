//! The query of `GET /api/read`, parsed once at the edge into values that can only be valid: a sort,
//! a page size, a page number, the filters, and where a followed cursor left off. Every problem is
//! collected, keyed by parameter, in the seed's (greenlight-style) wording.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use crate::counters::stats::Interval;
use crate::cursor::{Cursor, CursorKey, Position};
use crate::event::Tenant;
use crate::fields::FieldErrors;
use crate::time;

/// Page numbers deeper than this offset walk too many index keys: clients follow `next_cursor`.
pub const MAX_OFFSET: u64 = 10_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SortKey {
    CreatedAt,
    EventName,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    Asc,
    Desc,
}

/// One of the four sorts; each orders by its whole key, so every order is total.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Sort {
    pub key: SortKey,
    pub direction: Direction,
}

impl Sort {
    /// Newest first, as the seed answers without `sort`.
    pub const DEFAULT: Sort = Sort {
        key: SortKey::CreatedAt,
        direction: Direction::Desc,
    };

    pub fn parse(text: &str) -> Result<Self, &'static str> {
        let (direction, name) = match text.strip_prefix('-') {
            Some(rest) => (Direction::Desc, rest),
            None => (Direction::Asc, text),
        };
        let key = match name {
            "created_at" => SortKey::CreatedAt,
            "event_name" => SortKey::EventName,
            _ => return Err("invalid sort value"),
        };
        Ok(Self { key, direction })
    }

    pub fn as_str(&self) -> &'static str {
        match (self.key, self.direction) {
            (SortKey::CreatedAt, Direction::Asc) => "created_at",
            (SortKey::CreatedAt, Direction::Desc) => "-created_at",
            (SortKey::EventName, Direction::Asc) => "event_name",
            (SortKey::EventName, Direction::Desc) => "-event_name",
        }
    }
}

/// Parses an integer parameter the way the seed does: not an integer, too small, too large.
fn bounded_int(text: &str, max: i64, too_large: &'static str) -> Result<u32, &'static str> {
    match text.parse::<i64>() {
        Err(_) => Err("must be an integer value"),
        Ok(n) if n < 1 => Err("must be greater than zero"),
        Ok(n) if n > max => Err(too_large),
        Ok(n) => Ok(n as u32),
    }
}

/// Items per page: 1 to 100.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PageSize(u32);

impl PageSize {
    pub const MAX: u32 = 100;
    pub const DEFAULT: PageSize = PageSize(20);

    pub fn parse(text: &str) -> Result<Self, &'static str> {
        bounded_int(text, i64::from(Self::MAX), "must be a maximum of 100").map(Self)
    }

    pub fn new(n: u32) -> Option<Self> {
        (1..=Self::MAX).contains(&n).then_some(Self(n))
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

/// A page number: 1 to 10 million.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Page(u32);

impl Page {
    pub const MAX: u32 = 10_000_000;
    pub const FIRST: Page = Page(1);

    pub fn parse(text: &str) -> Result<Self, &'static str> {
        bounded_int(
            text,
            i64::from(Self::MAX),
            "must be a maximum of 10 million",
        )
        .map(Self)
    }

    pub fn new(n: u32) -> Option<Self> {
        (1..=Self::MAX).contains(&n).then_some(Self(n))
    }

    pub fn get(self) -> u32 {
        self.0
    }

    /// The page a `next_cursor` leads to. It stops at the maximum rather than failing: the number
    /// is only shown, the cursor's position is what pages.
    pub fn next(self) -> Self {
        Self((self.0 + 1).min(Self::MAX))
    }

    /// Index entries that come before this page.
    pub fn offset(self, size: PageSize) -> u64 {
        u64::from(self.0 - 1) * u64::from(size.0)
    }
}

/// What a read keeps. `name_prefix` is already lowercased, as the name index is keyed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Filters {
    pub name_prefix: Option<String>,
    pub customer_id: Option<u64>,
    /// Inclusive.
    pub from: Option<DateTime<Utc>>,
    /// Exclusive.
    pub to: Option<DateTime<Utc>>,
}

/// A valid read: filters, order, page, and the position of a followed cursor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadQuery {
    pub filters: Filters,
    pub sort: Sort,
    pub page_size: PageSize,
    pub page: Page,
    /// Where the previous page ended; `None` for a page by number.
    pub after: Option<Position>,
}

fn parse_customer_id(text: &str) -> Result<u64, String> {
    let whole = text
        .parse::<i64>()
        .map(i128::from)
        .or_else(|_| text.parse::<u64>().map(i128::from));
    match whole {
        Ok(n) => crate::event::customer_id_in_range(n),
        Err(_) => Err("must be an integer value".to_owned()),
    }
}

/// RFC 3339, also when a query string's `+` offset arrived decoded as a space.
fn parse_time(text: &str) -> Result<DateTime<Utc>, &'static str> {
    time::parse_rfc3339(text)
        .or_else(|| time::parse_rfc3339(&text.replace(' ', "+")))
        .ok_or("must be an RFC 3339 timestamp")
}

/// Records the error of a parameter that failed to parse and keeps the value of one that did.
fn field<T, E: Into<String>>(
    errors: &mut FieldErrors,
    name: &str,
    parsed: Option<Result<T, E>>,
) -> Option<T> {
    match parsed? {
        Ok(value) => Some(value),
        Err(message) => {
            errors.add(name, message);
            None
        }
    }
}

/// A cursor's value stands for an absent parameter; a present one must equal it.
fn agree<T: PartialEq>(explicit: Option<T>, carried: T, conflict: &mut bool) -> T {
    match explicit {
        Some(value) if value != carried => {
            *conflict = true;
            value
        }
        _ => carried,
    }
}

/// The filters `/api/read` and `/api/stats` share: `event_name` (a prefix, matched case-blind),
/// `customer_id`, `from` (inclusive) and `to` (exclusive).
fn parse_filters<'a>(get: &impl Fn(&str) -> Option<&'a str>, errors: &mut FieldErrors) -> Filters {
    let customer_id = field(
        errors,
        "customer_id",
        get("customer_id").map(parse_customer_id),
    );
    let from = field(errors, "from", get("from").map(parse_time));
    let to = field(errors, "to", get("to").map(parse_time));
    let name_prefix = get("event_name").map(str::to_lowercase);
    if let (Some(from), Some(to)) = (from, to) {
        errors.check(from < to, "to", "must be later than from");
    }
    Filters {
        name_prefix,
        customer_id,
        from,
        to,
    }
}

/// First values of the non-empty parameters.
fn first_values<K: AsRef<str>, V: AsRef<str>>(
    params: impl IntoIterator<Item = (K, V)>,
) -> HashMap<String, String> {
    let mut map: HashMap<String, String> = HashMap::new();
    for (k, v) in params {
        if !v.as_ref().is_empty() {
            map.entry(k.as_ref().to_owned())
                .or_insert_with(|| v.as_ref().to_owned());
        }
    }
    map
}

/// A valid `GET /api/stats` query: the filters of `/api/read` and the bucket width.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatsQuery {
    pub filters: Filters,
    pub interval: Interval,
}

impl StatsQuery {
    /// Parses query parameters as [`ReadQuery::parse`] does; `interval` is `minute`, `hour` (the
    /// default) or `day`.
    pub fn parse<K, V>(params: impl IntoIterator<Item = (K, V)>) -> Result<Self, FieldErrors>
    where
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let map = first_values(params);
        let get = |name: &str| map.get(name).map(String::as_str);
        let mut errors = FieldErrors::new();
        let filters = parse_filters(&get, &mut errors);
        let interval = field(
            &mut errors,
            "interval",
            Some(Interval::parse(get("interval"))),
        )
        .unwrap_or_default();
        errors.into_result(|| StatsQuery { filters, interval })
    }
}

impl ReadQuery {
    /// Parses query parameters (the first value of a repeated one counts; unknown ones are ignored;
    /// an empty value counts as absent). `tenant` and `key` check a cursor's origin and signature.
    pub fn parse<K, V>(
        params: impl IntoIterator<Item = (K, V)>,
        tenant: &Tenant,
        key: &CursorKey,
    ) -> Result<Self, FieldErrors>
    where
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let map = first_values(params);
        let get = |name: &str| map.get(name).map(String::as_str);
        let mut errors = FieldErrors::new();

        let sort = field(&mut errors, "sort", get("sort").map(Sort::parse));
        let page = field(&mut errors, "page", get("page").map(Page::parse));
        let page_size = field(
            &mut errors,
            "page_size",
            get("page_size").map(PageSize::parse),
        );
        let Filters {
            name_prefix,
            customer_id,
            from,
            to,
        } = parse_filters(&get, &mut errors);
        let cursor = match get("cursor") {
            None => None,
            Some(text) => {
                let cursor = Cursor::decode(text, key).filter(|c| &c.tenant == tenant);
                if cursor.is_none() {
                    errors.add("cursor", "invalid cursor");
                }
                cursor
            }
        };

        let query = match cursor {
            Some(cursor) => {
                let mut conflict = false;
                let carried = cursor.filters;
                let query = ReadQuery {
                    filters: Filters {
                        name_prefix: agree(
                            name_prefix.map(Some),
                            carried.name_prefix,
                            &mut conflict,
                        ),
                        customer_id: agree(
                            customer_id.map(Some),
                            carried.customer_id,
                            &mut conflict,
                        ),
                        from: agree(from.map(Some), carried.from, &mut conflict),
                        to: agree(to.map(Some), carried.to, &mut conflict),
                    },
                    sort: agree(sort, cursor.sort, &mut conflict),
                    page_size: agree(page_size, cursor.page_size, &mut conflict),
                    page: cursor.page,
                    after: Some(cursor.position),
                };
                if conflict {
                    errors.add("cursor", "invalid cursor");
                }
                query
            }
            None => {
                let query = ReadQuery {
                    filters: Filters {
                        name_prefix,
                        customer_id,
                        from,
                        to,
                    },
                    sort: sort.unwrap_or(Sort::DEFAULT),
                    page_size: page_size.unwrap_or(PageSize::DEFAULT),
                    page: page.unwrap_or(Page::FIRST),
                    after: None,
                };
                if errors.get("page").is_none() && errors.get("page_size").is_none() {
                    errors.check(
                        query.page.offset(query.page_size) <= MAX_OFFSET,
                        "page",
                        "too deep for page numbers, follow next_cursor",
                    );
                }
                query
            }
        };
        errors.into_result(|| query)
    }

    /// Entries to skip before the page starts: zero when a cursor already says where to start.
    pub fn offset(&self) -> u64 {
        match self.after {
            Some(_) => 0,
            None => self.page.offset(self.page_size),
        }
    }
}

mod export;

pub use export::{ExportFormat, ExportQuery};

#[cfg(test)]
mod tests;
