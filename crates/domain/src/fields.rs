//! Field-keyed validation errors, collected so that a client sees every problem at once.

use std::collections::BTreeMap;

/// Every problem found in one input, keyed by field (`event_name`, or `3.event_name` in a batch).
///
/// A `BTreeMap` keeps the keys sorted, so the JSON answer is stable from one call to the next.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldErrors(BTreeMap<String, String>);

impl FieldErrors {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records `message` for `field` unless that field already has a problem: the first one found is
    /// the most basic ("must be provided" before "must not be more than ...").
    pub fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.entry(field.into()).or_insert_with(|| message.into());
    }

    /// Records `message` for `field` when `ok` is false.
    pub fn check(&mut self, ok: bool, field: &str, message: &str) {
        if !ok {
            self.add(field, message);
        }
    }

    /// Moves every error of `other` in here, its keys prefixed with `prefix.` (batch items).
    pub fn merge_prefixed(&mut self, prefix: &str, other: FieldErrors) {
        for (field, message) in other.0 {
            self.add(format!("{prefix}.{field}"), message);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn get(&self, field: &str) -> Option<&str> {
        self.0.get(field).map(String::as_str)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// `Ok(value)` when nothing was recorded, the errors otherwise.
    pub fn into_result<T>(self, value: impl FnOnce() -> T) -> Result<T, FieldErrors> {
        if self.is_empty() {
            Ok(value())
        } else {
            Err(self)
        }
    }
}

impl std::fmt::Display for FieldErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self.0.iter().map(|(k, v)| format!("{k}: {v}")).collect();
        write!(f, "{}", parts.join("; "))
    }
}

impl std::error::Error for FieldErrors {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_message_for_a_field_wins() {
        let mut errors = FieldErrors::new();
        errors.add("event_name", "must be provided");
        errors.add("event_name", "must not be more than 100 bytes long");
        assert_eq!(errors.get("event_name"), Some("must be provided"));
    }

    #[test]
    fn merged_errors_are_keyed_by_index_and_field() {
        let mut item = FieldErrors::new();
        item.add("event_name", "must be provided");
        let mut batch = FieldErrors::new();
        batch.merge_prefixed("3", item);
        assert_eq!(batch.get("3.event_name"), Some("must be provided"));
    }
}
