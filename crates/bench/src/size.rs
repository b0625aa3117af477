//! DynamoDB's item-size rules, to turn items and index entries into write units.
//!
//! An item's size is the sum, over its attributes, of the UTF-8 length of the name plus the size of
//! the value: a string's UTF-8 length, a number's (significant digits / 2) + 1 bytes. A write costs
//! one write unit per started KB (1,024 bytes) of the item, and each GSI the item lands in costs one
//! more write per started KB of its index entry: the index keys, the table keys, the projected
//! attributes, and 100 bytes of overhead.
//! Source: the DynamoDB Developer Guide, "Item sizes and formats" and "Provisioned throughput
//! considerations for GSIs".

use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::HashMap;

pub type Item = HashMap<String, AttributeValue>;

pub fn value_size(value: &AttributeValue) -> usize {
    match value {
        AttributeValue::S(s) => s.len(),
        AttributeValue::N(n) => {
            let digits = n
                .trim_start_matches('-')
                .replace('.', "")
                .trim_start_matches('0')
                .len()
                .max(1);
            digits.div_ceil(2) + 1
        }
        AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
        AttributeValue::M(map) => {
            3 + map
                .iter()
                .map(|(k, v)| k.len() + value_size(v) + 1)
                .sum::<usize>()
        }
        AttributeValue::L(list) => 3 + list.iter().map(|v| value_size(v) + 1).sum::<usize>(),
        _ => 0,
    }
}

pub fn item_size(item: &Item) -> usize {
    item.iter()
        .map(|(name, value)| name.len() + value_size(value))
        .sum()
}

/// The size of the entry `item` makes in an index keyed by `keys`, projecting `projected`.
/// `None` when the item lacks the index's key (a sparse index).
pub fn index_entry_size(item: &Item, keys: &[&str], projected: &[&str]) -> Option<usize> {
    if keys.iter().any(|k| !item.contains_key(*k)) {
        return None;
    }
    let names = keys
        .iter()
        .chain(["pk", "sk"].iter())
        .chain(projected.iter());
    let mut seen = std::collections::HashSet::new();
    let size: usize = names
        .filter(|n| seen.insert(**n))
        .filter_map(|n| item.get(*n).map(|v| n.len() + value_size(v)))
        .sum();
    Some(size + 100)
}

pub fn units(bytes: usize) -> usize {
    bytes.div_ceil(1024).max(1)
}

/// Write units of putting `item` into the table with the data model's three indexes.
pub fn write_units(item: &Item) -> (usize, Vec<(&'static str, usize)>) {
    let indexes: [(&str, &[&str], &[&str]); 3] = [
        ("by_time", &["tp", "ts"], &[]),
        ("by_name", &["np", "ts"], &[]),
        ("by_customer", &["cp", "ts"], &["name_key"]),
    ];
    let base = units(item_size(item));
    let entries = indexes
        .iter()
        .filter_map(|(name, keys, projected)| {
            index_entry_size(item, keys, projected).map(|s| (*name, units(s)))
        })
        .collect();
    (base, entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_follow_the_published_rules() {
        assert_eq!(value_size(&AttributeValue::S("abc".into())), 3);
        assert_eq!(value_size(&AttributeValue::N("18".into())), 2);
        assert_eq!(value_size(&AttributeValue::N("123456".into())), 4);
        let item: Item = [
            ("pk".to_owned(), AttributeValue::S("x".repeat(1000))),
            ("sk".to_owned(), AttributeValue::S("E".into())),
        ]
        .into_iter()
        .collect();
        assert_eq!(item_size(&item), 2 + 1000 + 2 + 1);
        assert_eq!(units(1024), 1);
        assert_eq!(units(1025), 2);
        assert_eq!(index_entry_size(&item, &["tp", "ts"], &[]), None);
    }
}
