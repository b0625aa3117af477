//! CloudWatch embedded metric format: one JSON line on stdout per measurement set, which Lambda's
//! log pipeline turns into metrics without an API call (and so without added latency or cost).

use serde_json::{json, Map, Value};

/// The CloudWatch namespace of every metric the service emits.
pub const NAMESPACE: &str = "AuditLog";

/// A metric's unit, as CloudWatch names it.
#[derive(Debug, Clone, Copy)]
pub enum Unit {
    Count,
}

impl Unit {
    fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "Count",
        }
    }
}

/// Builds the EMF document for `metrics`, dimensioned by function.
pub fn document(function: &str, metrics: &[(&str, f64, Unit)], timestamp_ms: i64) -> Value {
    let definitions: Vec<Value> = metrics
        .iter()
        .map(|(name, _, unit)| json!({"Name": name, "Unit": unit.as_str()}))
        .collect();
    let mut root = Map::new();
    root.insert(
        "_aws".into(),
        json!({
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{"Namespace": NAMESPACE, "Dimensions": [["Function"]], "Metrics": definitions}],
        }),
    );
    root.insert("Function".into(), json!(function));
    for (name, value, _) in metrics {
        root.insert((*name).into(), json!(value));
    }
    Value::Object(root)
}

/// Prints the EMF line for `metrics`. With text logs (`AUDIT_LOG_FORMAT=text`, the local runner)
/// the line would only be noise for a person, so it goes to the debug log instead.
pub fn emit(function: &str, metrics: &[(&str, f64, Unit)]) {
    if crate::log_format() == crate::LogFormat::Text {
        tracing::debug!(function, ?metrics, "metrics");
        return;
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    println!("{}", document(function, metrics, now));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_declares_every_metric_it_carries() {
        let doc = document(
            "drain",
            &[
                ("EventsWritten", 12.0, Unit::Count),
                ("Retries", 1.0, Unit::Count),
            ],
            1_700_000_000_000,
        );
        assert_eq!(doc["_aws"]["CloudWatchMetrics"][0]["Namespace"], "AuditLog");
        assert_eq!(
            doc["_aws"]["CloudWatchMetrics"][0]["Metrics"][1]["Name"],
            "Retries"
        );
        assert_eq!(doc["_aws"]["Timestamp"], 1_700_000_000_000i64);
        assert_eq!(doc["Function"], "drain");
        assert_eq!(doc["EventsWritten"], 12.0);
    }
}
