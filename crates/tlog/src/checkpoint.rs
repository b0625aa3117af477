//! The signed statement of a tenant's log: a C2SP tlog-checkpoint body. The origin, the tree size in
//! decimal, the root in standard base64, and one extension line, the time (RFC 3339, UTC, to the
//! second). Every line ends in `\n`, and these bytes are what KMS signs.
//!
//! Parsing is strict: a body parses only if formatting the result gives the same bytes back. So a
//! signature covers one checkpoint, never two readings of one text.

use chrono::{DateTime, SecondsFormat, SubsecRound as _, Utc};

use crate::hash::{Hash, HashError};
use crate::tree::TreeSize;

/// The first line: which log this is, `<prefix>/<tenant>`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Origin(String);

/// A checkpoint body, parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    origin: Origin,
    size: TreeSize,
    root: Hash,
    time: DateTime<Utc>,
}

/// Why a text is not a checkpoint body.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CheckpointError {
    #[error("a checkpoint body ends with a newline")]
    MissingFinalNewline,
    #[error("a checkpoint body has 4 lines (origin, size, root, time), not {0}")]
    LineCount(usize),
    /// tlog-checkpoint asks for a non-empty origin without spaces or `+`; control characters would
    /// let one line pass for two.
    #[error("an origin is not empty and has no space, '+' or control character")]
    Origin,
    #[error("a tree size is decimal digits without leading zeros")]
    Size,
    #[error("invalid root hash")]
    Root(#[source] HashError),
    #[error("a checkpoint's time is RFC 3339 in UTC to the second, as 2026-12-03T12:00:00Z")]
    Time,
}

impl Origin {
    pub fn new(text: &str) -> Result<Self, CheckpointError> {
        let ok = !text.is_empty()
            && text
                .chars()
                .all(|c| !c.is_whitespace() && !c.is_control() && c != '+');
        if ok {
            Ok(Self(text.to_owned()))
        } else {
            Err(CheckpointError::Origin)
        }
    }

    /// `<prefix>/<tenant>`: one log per tenant under the service's prefix.
    pub fn for_tenant(prefix: &str, tenant: &str) -> Result<Self, CheckpointError> {
        if prefix.is_empty() || tenant.is_empty() {
            return Err(CheckpointError::Origin);
        }
        Self::new(&format!("{prefix}/{tenant}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Checkpoint {
    /// `time` is kept to the second, as the body carries it.
    pub fn new(origin: Origin, size: TreeSize, root: Hash, time: DateTime<Utc>) -> Self {
        Self {
            origin,
            size,
            root,
            time: time.trunc_subsecs(0),
        }
    }

    pub fn origin(&self) -> &Origin {
        &self.origin
    }

    pub fn size(&self) -> TreeSize {
        self.size
    }

    pub fn root(&self) -> &Hash {
        &self.root
    }

    pub fn time(&self) -> DateTime<Utc> {
        self.time
    }

    /// The bytes to sign and to publish.
    pub fn body(&self) -> String {
        format!(
            "{}\n{}\n{}\n{}\n",
            self.origin.0,
            self.size,
            self.root.to_base64(),
            self.time.to_rfc3339_opts(SecondsFormat::Secs, true)
        )
    }

    pub fn parse(body: &str) -> Result<Self, CheckpointError> {
        let text = body
            .strip_suffix('\n')
            .ok_or(CheckpointError::MissingFinalNewline)?;
        let lines: Vec<&str> = text.split('\n').collect();
        let [origin, size, root, time] = lines[..] else {
            return Err(CheckpointError::LineCount(lines.len()));
        };
        Ok(Self {
            origin: Origin::new(origin)?,
            size: parse_size(size)?,
            root: Hash::from_base64(root).map_err(CheckpointError::Root)?,
            time: parse_time(time)?,
        })
    }
}

fn parse_size(line: &str) -> Result<TreeSize, CheckpointError> {
    let digits = !line.is_empty() && line.bytes().all(|b| b.is_ascii_digit());
    let leading_zero = line.len() > 1 && line.starts_with('0');
    if !digits || leading_zero {
        return Err(CheckpointError::Size);
    }
    line.parse()
        .map(TreeSize::new)
        .map_err(|_| CheckpointError::Size)
}

fn parse_time(line: &str) -> Result<DateTime<Utc>, CheckpointError> {
    let time = DateTime::parse_from_rfc3339(line)
        .map_err(|_| CheckpointError::Time)?
        .with_timezone(&Utc);
    // Only the one form `body` writes: `Z`, no fraction, upper-case `T`.
    if time.to_rfc3339_opts(SecondsFormat::Secs, true) == line {
        Ok(time)
    } else {
        Err(CheckpointError::Time)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::leaf_hash;

    fn sample() -> Checkpoint {
        let time = DateTime::parse_from_rfc3339("2026-12-03T12:00:00.75Z")
            .unwrap()
            .with_timezone(&Utc);
        Checkpoint::new(
            Origin::for_tenant("audit.example.com/log", "acme").unwrap(),
            TreeSize::new(20_852_163),
            leaf_hash(b"root"),
            time,
        )
    }

    fn body_with(line: usize, text: &str) -> String {
        let body = sample().body();
        let mut lines: Vec<&str> = body.split('\n').collect();
        lines[line] = text;
        lines.join("\n")
    }

    #[test]
    fn a_body_is_four_lines_each_ending_in_a_newline() {
        let checkpoint = sample();
        let expected = format!(
            "audit.example.com/log/acme\n20852163\n{}\n2026-12-03T12:00:00Z\n",
            leaf_hash(b"root").to_base64()
        );
        assert_eq!(checkpoint.body(), expected);
    }

    #[test]
    fn a_body_parses_back_to_its_checkpoint() {
        let checkpoint = sample();
        assert_eq!(Checkpoint::parse(&checkpoint.body()), Ok(checkpoint));
    }

    #[test]
    fn the_empty_tree_has_size_zero() {
        let body = body_with(1, "0");
        assert_eq!(Checkpoint::parse(&body).unwrap().size(), TreeSize::EMPTY);
    }

    #[test]
    fn a_body_without_its_final_newline_is_refused() {
        let body = sample().body();
        assert_eq!(
            Checkpoint::parse(body.trim_end_matches('\n')),
            Err(CheckpointError::MissingFinalNewline)
        );
    }

    #[test]
    fn a_body_with_other_than_four_lines_is_refused() {
        let body = sample().body();
        assert_eq!(
            Checkpoint::parse(&format!("{body}extra\n")),
            Err(CheckpointError::LineCount(5))
        );
        assert_eq!(
            Checkpoint::parse(&format!("{body}\n")),
            Err(CheckpointError::LineCount(5))
        );
        let three: String = body.split_inclusive('\n').take(3).collect();
        assert_eq!(
            Checkpoint::parse(&three),
            Err(CheckpointError::LineCount(3))
        );
        assert_eq!(Checkpoint::parse("\n"), Err(CheckpointError::LineCount(1)));
    }

    #[test]
    fn sizes_are_plain_decimal() {
        for size in [
            "",
            "01",
            "00",
            "+1",
            "-1",
            "1e3",
            " 1",
            "0x10",
            "１",
            "18446744073709551616",
        ] {
            assert_eq!(
                Checkpoint::parse(&body_with(1, size)),
                Err(CheckpointError::Size),
                "{size:?}"
            );
        }
        let max = body_with(1, "18446744073709551615");
        assert_eq!(Checkpoint::parse(&max).unwrap().size().get(), u64::MAX);
    }

    #[test]
    fn roots_are_44_characters_of_standard_base64() {
        let root = leaf_hash(b"root").to_base64();
        for bad in [&root[..43], &format!("{root}A"), "", &root.replace('=', "")] {
            assert!(
                matches!(
                    Checkpoint::parse(&body_with(2, bad)),
                    Err(CheckpointError::Root(_))
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn origins_are_non_empty_without_spaces_or_plus() {
        for bad in ["", "a b", "a+b", "a\tb", "a\rb", "a\u{a0}b"] {
            assert_eq!(Origin::new(bad), Err(CheckpointError::Origin), "{bad:?}");
        }
        assert_eq!(
            Checkpoint::parse(&body_with(0, "")),
            Err(CheckpointError::Origin)
        );
        assert_eq!(Origin::for_tenant("", "acme"), Err(CheckpointError::Origin));
        assert_eq!(Origin::for_tenant("log", ""), Err(CheckpointError::Origin));
    }

    #[test]
    fn times_are_utc_to_the_second_only() {
        for bad in [
            "",
            "2026-12-03T12:00:00.5Z",
            "2026-12-03T12:00:00+00:00",
            "2026-12-03T13:00:00+01:00",
            "2026-12-03t12:00:00Z",
            "2026-12-03 12:00:00Z",
            "2026-12-03T12:00Z",
            "2026-02-30T12:00:00Z",
        ] {
            assert_eq!(
                Checkpoint::parse(&body_with(3, bad)),
                Err(CheckpointError::Time),
                "{bad:?}"
            );
        }
    }
}
