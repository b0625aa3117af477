//! Where counters live in the table, next to the event layout of `keys`: which item holds which
//! count, how a time bucket is spelled in a sort key, and the checkpoint items that make applying a
//! stream batch exactly-once.
//!
//! | item | pk | sk | attribute |
//! |---|---|---|---|
//! | tenant counter | `C#<tenant>` | `T`, `H#YYYY-MM-DDTHH`, `M#YYYY-MM-DDTHH:MM` | `n` (Number) |
//! | name counter | `C#<tenant>#<name_key>` | as above | `n` |
//! | stream checkpoint | `CS#count` | `<shard id>` | `seq` (40-digit padded String) |
//!
//! Tenants never contain `#`, so the first `#` after `C#` ends the tenant even when a name key
//! holds one. Bucket sort keys are fixed width, so a `BETWEEN` on `sk` reads a contiguous run of
//! hours or minutes and never mixes the two kinds.

use chrono::{DateTime, Utc};

use crate::event::Tenant;

/// Microseconds in a minute, an hour and a day: the bucket widths, in the unit the index keys keep.
pub const MINUTE_US: i64 = 60 * 1_000_000;
pub const HOUR_US: i64 = 60 * MINUTE_US;
pub const DAY_US: i64 = 24 * HOUR_US;

/// The prefix of every counter item's partition key.
pub const COUNTER_PREFIX: &str = "C#";
/// The sort key of the all-time total.
pub const TOTAL_SK: &str = "T";
/// The partition key of the count function's per-shard checkpoints.
pub const CHECKPOINT_PK: &str = "CS#count";
/// The counter item's count attribute.
pub const COUNT_ATTRIBUTE: &str = "n";
/// The checkpoint item's attribute.
pub const CHECKPOINT_ATTRIBUTE: &str = "seq";

/// What a counter counts events by. Adding a dimension (customers, say) is one variant here, its
/// arm in [`Dimension::partition`], and a line in [`Dimension::maintained`].
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Dimension {
    /// Every event of the tenant.
    Tenant,
    /// The tenant's events with this `name_key` (the lowercase event name).
    Name(String),
}

impl Dimension {
    /// The dimensions an event with this name key is counted in. Customers are not maintained:
    /// at 1,000 customers a 100-event batch touches up to 100 more counters per bucket kind, which
    /// would put the write cost over one unit per event; reads count customers from the index.
    pub fn maintained(name_key: &str) -> [Dimension; 2] {
        [Dimension::Tenant, Dimension::Name(name_key.to_owned())]
    }

    /// The partition key of this dimension's counters.
    pub fn partition(&self, tenant: &Tenant) -> String {
        match self {
            Dimension::Tenant => format!("{COUNTER_PREFIX}{}", tenant.as_str()),
            Dimension::Name(name_key) => {
                format!("{COUNTER_PREFIX}{}#{name_key}", tenant.as_str())
            }
        }
    }
}

/// Which slice of time a counter covers, by the event's `created_at` (UTC). Hours and minutes are
/// numbered from the Unix epoch, so that neighbouring buckets are neighbouring integers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Bucket {
    /// Every event ever counted.
    Total,
    /// Hour number `h`: `[h * 1 h, (h + 1) * 1 h)` after the epoch.
    Hour(i64),
    /// Minute number `m`: `[m * 1 min, (m + 1) * 1 min)` after the epoch.
    Minute(i64),
}

impl Bucket {
    pub fn hour_of(t: &DateTime<Utc>) -> Self {
        Bucket::Hour(micros(t).div_euclid(HOUR_US))
    }

    pub fn minute_of(t: &DateTime<Utc>) -> Self {
        Bucket::Minute(micros(t).div_euclid(MINUTE_US))
    }

    /// The bucket's index when it is of `kind` (hours or minutes since the epoch).
    pub fn index_in(&self, kind: super::range::BucketKind) -> Option<i64> {
        use super::range::BucketKind;
        match (self, kind) {
            (Bucket::Hour(i), BucketKind::Hour) | (Bucket::Minute(i), BucketKind::Minute) => {
                Some(*i)
            }
            _ => None,
        }
    }

    /// The sort key: `T`, `H#YYYY-MM-DDTHH` or `M#YYYY-MM-DDTHH:MM`.
    pub fn sk(&self) -> String {
        match *self {
            Bucket::Total => TOTAL_SK.to_owned(),
            Bucket::Hour(h) => format!("H#{}", at(h * HOUR_US).format("%Y-%m-%dT%H")),
            Bucket::Minute(m) => format!("M#{}", at(m * MINUTE_US).format("%Y-%m-%dT%H:%M")),
        }
    }

    /// Reads a sort key back; `None` for anything this layout does not write.
    pub fn parse_sk(sk: &str) -> Option<Self> {
        if sk == TOTAL_SK {
            return Some(Bucket::Total);
        }
        let (kind, text) = sk.split_once('#')?;
        let (format, width) = match kind {
            "H" => ("%Y-%m-%dT%H:%M", HOUR_US),
            "M" => ("%Y-%m-%dT%H:%M", MINUTE_US),
            _ => return None,
        };
        // An hour key has no minutes; chrono wants them, so give it ":00".
        let text = if kind == "H" {
            format!("{text}:00")
        } else {
            text.to_owned()
        };
        let t = chrono::NaiveDateTime::parse_from_str(&text, format).ok()?;
        let index = t.and_utc().timestamp_micros().div_euclid(width);
        let bucket = if kind == "H" {
            Bucket::Hour(index)
        } else {
            Bucket::Minute(index)
        };
        // Only the canonical spelling: `H#2026-1-2T3` would otherwise alias `H#2026-01-02T03`.
        (bucket.sk() == sk).then_some(bucket)
    }
}

fn micros(t: &DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

fn at(us: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(us).unwrap_or(DateTime::UNIX_EPOCH)
}

/// One counter item: a tenant, a dimension within it, and a bucket. Orders by tenant, dimension,
/// then bucket, which is the order a batch's writes are made in.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CounterKey {
    pub tenant: Tenant,
    pub dimension: Dimension,
    pub bucket: Bucket,
}

impl CounterKey {
    pub fn new(tenant: Tenant, dimension: Dimension, bucket: Bucket) -> Self {
        Self {
            tenant,
            dimension,
            bucket,
        }
    }

    pub fn pk(&self) -> String {
        self.dimension.partition(&self.tenant)
    }

    pub fn sk(&self) -> String {
        self.bucket.sk()
    }

    /// Reads a stored item's key back: `None` for anything that is not a counter this layout
    /// writes (a checkpoint, an event, a name counter with an empty name key, a sort key in another
    /// spelling). The tenant ends at the first `#` after `C#`, since tenants never hold one.
    pub fn parse(pk: &str, sk: &str) -> Option<Self> {
        let rest = pk.strip_prefix(COUNTER_PREFIX)?;
        let (tenant, dimension) = match rest.split_once('#') {
            None => (rest, Dimension::Tenant),
            Some((_, "")) => return None,
            Some((tenant, name_key)) => (tenant, Dimension::Name(name_key.to_owned())),
        };
        let tenant = Tenant::parse(tenant).ok()?;
        Some(Self::new(tenant, dimension, Bucket::parse_sk(sk)?))
    }
}

// By hand: `Tenant` has no order of its own, and its text is what the order should follow.
impl Ord for CounterKey {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.tenant.as_str(), &self.dimension, self.bucket).cmp(&(
            other.tenant.as_str(),
            &other.dimension,
            other.bucket,
        ))
    }
}

impl PartialOrd for CounterKey {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// The tenant's total counter key, for reads.
pub fn tenant_partition(tenant: &Tenant) -> String {
    Dimension::Tenant.partition(tenant)
}

/// A name's counter partition, for reads.
pub fn name_partition(tenant: &Tenant, name_key: &str) -> String {
    Dimension::Name(name_key.to_owned()).partition(tenant)
}

/// What every name partition of the tenant starts with (`C#<tenant>#`), so that one tenant's
/// counters can be picked out of a scan: its tenant partition and the partitions with this prefix.
pub fn name_partition_prefix(tenant: &Tenant) -> String {
    name_partition(tenant, "")
}

/// DynamoDB stream sequence numbers are 21 to 40 decimal digits; this is their padded width.
pub const SEQUENCE_WIDTH: usize = 40;

/// A stream record's sequence number, kept left-padded with zeros to 40 digits so that string
/// order is numeric order: in a sort, in a map, and in the checkpoint's condition expression.
/// Only comparable within one shard; across shards the order means nothing.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SequenceNumber(String);

impl SequenceNumber {
    /// 1 to 40 ASCII digits, padded or not. (AWS's are at least 21 digits; fixtures and emulators
    /// use fewer, which compare the same way once padded.)
    pub fn parse(text: &str) -> Option<Self> {
        let ok = !text.is_empty()
            && text.len() <= SEQUENCE_WIDTH
            && text.bytes().all(|b| b.is_ascii_digit());
        ok.then(|| Self(format!("{text:0>SEQUENCE_WIDTH$}")))
    }

    /// The 40-digit form the checkpoint item stores.
    pub fn padded(&self) -> &str {
        &self.0
    }

    /// The number as the stream spelled it (without the padding), which is what a partial batch
    /// response must name. A number that was all zeros stays `0`.
    pub fn unpadded(&self) -> &str {
        let trimmed = self.0.trim_start_matches('0');
        if trimmed.is_empty() {
            &self.0[SEQUENCE_WIDTH - 1..]
        } else {
            trimmed
        }
    }
}

impl std::fmt::Display for SequenceNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.unpadded())
    }
}

/// A stream shard's id, the sort key of its checkpoint. AWS's are 28 to 65 characters
/// (`shardId-00000001414562045508-2bac9cd2`); anything from 1 to 65 printable ASCII characters
/// is accepted so that emulators' and fixtures' ids work too.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ShardId(String);

impl ShardId {
    pub fn parse(text: &str) -> Option<Self> {
        let ok = !text.is_empty() && text.len() <= 65 && text.bytes().all(|b| b.is_ascii_graphic());
        ok.then(|| Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The checkpoint item's key.
    pub fn checkpoint_key(&self) -> (&'static str, &str) {
        (CHECKPOINT_PK, &self.0)
    }
}

impl std::fmt::Display for ShardId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time;

    fn tenant() -> Tenant {
        Tenant::parse("acme").unwrap()
    }

    #[test]
    fn keys_follow_the_layout() {
        let t = time::parse_rfc3339("2026-11-30T02:30:59.999999Z").unwrap();
        let name = Dimension::Name("user.signed_in".into());
        let cases = [
            (Dimension::Tenant, Bucket::Total, "C#acme", "T"),
            (
                Dimension::Tenant,
                Bucket::hour_of(&t),
                "C#acme",
                "H#2026-11-30T02",
            ),
            (
                name.clone(),
                Bucket::minute_of(&t),
                "C#acme#user.signed_in",
                "M#2026-11-30T02:30",
            ),
            (name, Bucket::Total, "C#acme#user.signed_in", "T"),
        ];
        for (dimension, bucket, pk, sk) in cases {
            let key = CounterKey::new(tenant(), dimension, bucket);
            assert_eq!((key.pk().as_str(), key.sk().as_str()), (pk, sk));
        }
    }

    #[test]
    fn counter_keys_parse_back_from_their_items() {
        let t = time::parse_rfc3339("2026-11-30T02:30:59Z").unwrap();
        for key in [
            CounterKey::new(tenant(), Dimension::Tenant, Bucket::Total),
            CounterKey::new(tenant(), Dimension::Tenant, Bucket::minute_of(&t)),
            CounterKey::new(
                tenant(),
                Dimension::Name("a#b c".into()),
                Bucket::hour_of(&t),
            ),
        ] {
            assert_eq!(CounterKey::parse(&key.pk(), &key.sk()), Some(key));
        }
        assert_eq!(name_partition_prefix(&tenant()), "C#acme#");
        for (pk, sk) in [
            ("CS#count", "shardId-1"),
            ("E#acme#01JDQ7ZK3M5N8P9Q0R1S2T3V20", "E"),
            ("C#acme#", "T"),
            ("C#", "T"),
            ("C#ac me", "T"),
            ("C#acme", "H#2026-11-30T02:00"),
            ("N#acme", "user"),
        ] {
            assert_eq!(CounterKey::parse(pk, sk), None, "{pk} {sk}");
        }
    }

    #[test]
    fn bucket_sort_keys_round_trip_and_sort_in_time_order() {
        let t = time::parse_rfc3339("1999-12-31T23:59:00Z").unwrap();
        let hour = Bucket::hour_of(&t);
        let minute = Bucket::minute_of(&t);
        assert_eq!(Bucket::parse_sk(&hour.sk()), Some(hour));
        assert_eq!(Bucket::parse_sk(&minute.sk()), Some(minute));
        assert_eq!(Bucket::parse_sk("T"), Some(Bucket::Total));
        let Bucket::Minute(m) = minute else { panic!() };
        // The minute after 23:59 is the next day's (and year's) first: keys still sort by time.
        assert!(Bucket::Minute(m).sk() < Bucket::Minute(m + 1).sk());
        assert_eq!(Bucket::Minute(m + 1).sk(), "M#2000-01-01T00:00");
    }

    #[test]
    fn only_canonical_sort_keys_parse() {
        for sk in [
            "",
            "X#2026",
            "H#2026-1-2T3",
            "M#2026-11-30T02",
            "H#2026-11-30T02:00",
            "t",
        ] {
            assert_eq!(Bucket::parse_sk(sk), None, "{sk}");
        }
    }

    #[test]
    fn sequence_numbers_pad_to_compare_as_numbers() {
        let short = SequenceNumber::parse("999999999999999999999").unwrap();
        let long = SequenceNumber::parse("1000000000000000000000").unwrap();
        assert!(short < long);
        assert_eq!(long.padded().len(), 40);
        assert_eq!(long.unpadded(), "1000000000000000000000");
        assert_eq!(SequenceNumber::parse(long.padded()), Some(long));
        assert_eq!(SequenceNumber::parse("0").unwrap().unpadded(), "0");
        for bad in ["", "12a", "-1", &"1".repeat(41)] {
            assert_eq!(SequenceNumber::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn shard_ids_are_bounded_printable_text() {
        let id = ShardId::parse("shardId-00000001414562045508-2bac9cd2").unwrap();
        assert_eq!(id.checkpoint_key(), ("CS#count", id.as_str()));
        for bad in ["", "with space", &"x".repeat(66)] {
            assert_eq!(ShardId::parse(bad), None, "{bad}");
        }
    }
}
