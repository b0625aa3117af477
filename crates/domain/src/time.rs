//! Timestamps: RFC 3339 in and out, and the fixed-width UTC form that index keys sort by.

use chrono::{DateTime, SecondsFormat, SubsecRound, Utc};

/// Parses RFC 3339 and truncates to microseconds, the precision the index keys keep.
pub fn parse_rfc3339(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc).trunc_subsecs(6))
}

/// The form clients see: UTC, `Z`, and only as many fraction digits as needed (0, 3 or 6).
pub fn to_rfc3339(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// The fixed-width form `YYYY-MM-DDTHH:MM:SS.ffffffZ` (27 bytes). Because every key has the same
/// width, byte order equals time order, which DynamoDB's sort keys rely on.
pub fn to_fixed(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// Parses the fixed-width form back.
pub fn from_fixed(text: &str) -> Option<DateTime<Utc>> {
    parse_rfc3339(text)
}

/// Truncates "now" to the stored precision, so an echoed `created_at` equals the stored one.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_form_is_27_bytes_and_round_trips() {
        let t = parse_rfc3339("2024-03-01T10:20:30.5+02:00").unwrap();
        let fixed = to_fixed(&t);
        assert_eq!(fixed, "2024-03-01T08:20:30.500000Z");
        assert_eq!(fixed.len(), 27);
        assert_eq!(from_fixed(&fixed), Some(t));
    }

    #[test]
    fn client_form_drops_needless_fraction_digits() {
        let t = parse_rfc3339("2024-03-01T10:20:30Z").unwrap();
        assert_eq!(to_rfc3339(&t), "2024-03-01T10:20:30Z");
        let t = parse_rfc3339("2024-03-01T10:20:30.123456789Z").unwrap();
        assert_eq!(to_rfc3339(&t), "2024-03-01T10:20:30.123456Z");
    }

    #[test]
    fn garbage_is_not_a_time() {
        for text in [
            "",
            "yesterday",
            "2024-13-01T00:00:00Z",
            "2024-01-01 00:00:00",
        ] {
            assert_eq!(parse_rfc3339(text), None, "{text}");
        }
    }
}
