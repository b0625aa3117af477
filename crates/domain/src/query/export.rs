//! The query of `GET /api/export`: the filters and sort of `/api/read`, parsed by the very same
//! code, and the `format` of the answer.

use super::{field, first_values, PageSize, ReadQuery};
use crate::cursor::CursorKey;
use crate::event::Tenant;
use crate::fields::FieldErrors;

/// What an export answer is written as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExportFormat {
    /// One JSON object per line, each the `log` of `GET /api/logs/{id}`.
    #[default]
    Ndjson,
    /// RFC 4180, with the fixed header `id,created_at,event_name,description,customer_id,metadata`.
    Csv,
}

impl ExportFormat {
    pub fn parse(text: &str) -> Result<Self, &'static str> {
        match text {
            "ndjson" => Ok(Self::Ndjson),
            "csv" => Ok(Self::Csv),
            _ => Err("must be one of ndjson, csv"),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ndjson => "ndjson",
            Self::Csv => "csv",
        }
    }
}

/// A valid export: the read it walks, and the format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportQuery {
    pub read: ReadQuery,
    pub format: ExportFormat,
}

impl ExportQuery {
    /// Parses query parameters as [`ReadQuery::parse`] does, and `format`. Without `page_size` (and
    /// without a cursor, which carries its own), the walk reads pages of the largest size: the page
    /// size changes how many reads an answer takes, never which events it holds or their order.
    pub fn parse<K, V>(
        params: impl IntoIterator<Item = (K, V)>,
        tenant: &Tenant,
        key: &CursorKey,
    ) -> Result<Self, FieldErrors>
    where
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut map = first_values(params);
        if !map.contains_key("page_size") && !map.contains_key("cursor") {
            map.insert("page_size".to_owned(), PageSize::MAX.to_string());
        }
        let mut errors = FieldErrors::new();
        let format = field(
            &mut errors,
            "format",
            map.get("format").map(|f| ExportFormat::parse(f)),
        )
        .unwrap_or_default();
        let read = ReadQuery::parse(&map, tenant, key);
        match read {
            Ok(read) => errors.into_result(|| ExportQuery { read, format }),
            Err(read_errors) => {
                for (name, message) in read_errors.iter() {
                    errors.add(name, message);
                }
                Err(errors)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(params: &[(&str, &str)]) -> Result<ExportQuery, FieldErrors> {
        ExportQuery::parse(
            params.iter().copied(),
            &Tenant::default(),
            &CursorKey::new(b"k".to_vec()),
        )
    }

    #[test]
    fn the_format_defaults_to_ndjson_and_pages_to_the_largest() {
        let q = parse(&[]).unwrap();
        assert_eq!(q.format, ExportFormat::Ndjson);
        assert_eq!(q.read.page_size.get(), PageSize::MAX);
        let q = parse(&[("format", "csv"), ("page_size", "7")]).unwrap();
        assert_eq!(q.format, ExportFormat::Csv);
        assert_eq!(q.read.page_size.get(), 7);
    }

    #[test]
    fn the_filters_and_sort_are_those_of_read() {
        let params = [
            ("event_name", "User."),
            ("customer_id", "18"),
            ("from", "2024-01-01T00:00:00Z"),
            ("to", "2024-02-01T00:00:00Z"),
            ("sort", "-event_name"),
            ("page_size", "100"),
        ];
        let read = ReadQuery::parse(
            params.iter().copied(),
            &Tenant::default(),
            &CursorKey::new(b"k".to_vec()),
        )
        .unwrap();
        assert_eq!(parse(&params).unwrap().read, read);
    }

    #[test]
    fn an_unknown_format_is_keyed_by_format_beside_the_reads_errors() {
        let errors = parse(&[("format", "xml"), ("sort", "size")]).unwrap_err();
        assert_eq!(errors.get("format"), Some("must be one of ndjson, csv"));
        assert_eq!(errors.get("sort"), Some("invalid sort value"));
        let errors = parse(&[("format", "CSV")]).unwrap_err();
        assert_eq!(errors.get("format"), Some("must be one of ndjson, csv"));
    }
}
