//! OTLP logs as Loki 3.6 stores them with its default `otlp_config`: a fixed list of resource
//! attributes become index labels (dots to `_`), everything else becomes structured metadata,
//! the body becomes the line, and `detected_level` is added the way Loki's level detection
//! finds it. This is what decides whether a reader's LogQL finds the probe.

use super::params::format_es6_float;
use crate::probe::hex;
use base64::Engine;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use std::collections::BTreeMap;

/// Resource attributes Loki 3.6 turns into index labels by default.
pub const INDEX_LABEL_ATTRIBUTES: &[&str] = &[
    "service.name",
    "service.namespace",
    "service.instance.id",
    "deployment.environment",
    "deployment.environment.name",
    "cloud.region",
    "cloud.availability_zone",
    "k8s.cluster.name",
    "k8s.namespace.name",
    "k8s.pod.name",
    "k8s.container.name",
    "container.name",
    "k8s.replicaset.name",
    "k8s.deployment.name",
    "k8s.statefulset.name",
    "k8s.daemonset.name",
    "k8s.cronjob.name",
    "k8s.job.name",
];

/// Labels Loki uses to discover `service_name` when `service.name` is absent.
const SERVICE_NAME_DISCOVERY: &[&str] = &[
    "service",
    "app",
    "application",
    "name",
    "app_kubernetes_io_name",
    "container",
    "container_name",
    "k8s_container_name",
    "component",
    "workload",
    "job",
    "k8s_job_name",
];

/// Adds `service_name` as Loki's distributor does when a stream lacks it: from the first
/// discovery label present, else `unknown_service`.
pub fn discover_service_name(labels: &mut BTreeMap<String, String>) {
    if labels.contains_key("service_name") {
        return;
    }
    let found = SERVICE_NAME_DISCOVERY
        .iter()
        .find_map(|l| labels.get(*l).cloned());
    labels.insert(
        "service_name".into(),
        found.unwrap_or_else(|| "unknown_service".into()),
    );
}

/// Fields Loki reads a level from (`log_level_fields` default).
const LEVEL_FIELDS: &[&str] = &[
    "level",
    "LEVEL",
    "Level",
    "Severity",
    "severity",
    "SEVERITY",
    "lvl",
    "LVL",
    "Lvl",
    "severity_text",
    "Severity_Text",
    "SEVERITY_TEXT",
];

/// One log entry as Loki holds it.
#[derive(Clone, Debug, PartialEq)]
pub struct LokiEntry {
    pub ts_ns: i128,
    pub line: String,
    /// Index labels (the stream).
    pub labels: BTreeMap<String, String>,
    pub metadata: BTreeMap<String, String>,
}

impl LokiEntry {
    /// Index labels and structured metadata together (what label filters and the default
    /// response encoding see).
    pub fn merged(&self) -> BTreeMap<String, String> {
        let mut m = self.labels.clone();
        m.extend(self.metadata.iter().map(|(k, v)| (k.clone(), v.clone())));
        m
    }

    /// Bytes Loki would count as processed for it.
    pub fn size(&self) -> (usize, usize) {
        let sm = self.metadata.iter().map(|(k, v)| k.len() + v.len()).sum();
        (self.line.len(), sm)
    }
}

/// Prometheus' `NormalizeLabel`: invalid characters to `_`, a leading digit gets `key_`, a
/// single leading `_` gets `key`.
pub fn normalize_label(name: &str) -> String {
    if name.is_empty() {
        return String::new();
    }
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.starts_with(|c: char| c.is_ascii_digit()) {
        format!("key_{s}")
    } else if s.starts_with('_') && !s.starts_with("__") {
        format!("key{s}")
    } else {
        s
    }
}

/// A value as JSON the way OTel's `AsRaw` + `encoding/json` write it.
fn to_json(v: &AnyValue) -> serde_json::Value {
    use serde_json::Value;
    match v.value.as_ref() {
        None => Value::Null,
        Some(any_value::Value::StringValue(s)) => Value::String(s.clone()),
        Some(any_value::Value::BoolValue(b)) => Value::Bool(*b),
        Some(any_value::Value::IntValue(i)) => Value::from(*i),
        Some(any_value::Value::DoubleValue(d)) => {
            if d.fract() == 0.0 && d.abs() < 1e15 {
                Value::from(*d as i64)
            } else {
                serde_json::Number::from_f64(*d).map_or(Value::Null, Value::Number)
            }
        }
        Some(any_value::Value::BytesValue(b)) => {
            Value::String(base64::engine::general_purpose::STANDARD.encode(b))
        }
        Some(any_value::Value::ArrayValue(a)) => {
            Value::Array(a.values.iter().map(to_json).collect())
        }
        Some(any_value::Value::StringValueStrindex(i)) => Value::from(*i),
        Some(any_value::Value::KvlistValue(kv)) => Value::Object(
            kv.values
                .iter()
                .map(|kv| {
                    (
                        kv.key.clone(),
                        kv.value.as_ref().map_or(Value::Null, to_json),
                    )
                })
                .collect(),
        ),
    }
}

/// OTel's `pcommon.Value.AsString`.
pub fn as_string(v: Option<&AnyValue>) -> String {
    let Some(value) = v.and_then(|v| v.value.as_ref()) else {
        return String::new();
    };
    match value {
        any_value::Value::StringValue(s) => s.clone(),
        any_value::Value::BoolValue(b) => b.to_string(),
        any_value::Value::IntValue(i) => i.to_string(),
        any_value::Value::DoubleValue(d) => format_es6_float(*d),
        any_value::Value::BytesValue(b) => base64::engine::general_purpose::STANDARD.encode(b),
        // A profiles dictionary index: meaningless outside a profile.
        any_value::Value::StringValueStrindex(i) => i.to_string(),
        any_value::Value::ArrayValue(_) | any_value::Value::KvlistValue(_) => {
            serde_json::to_string(&to_json(v.expect("checked"))).unwrap_or_default()
        }
    }
}

/// Loki's `attributesToLabels`: maps are flattened with `_`, names normalised, empty values
/// left out.
fn flatten(attrs: &[KeyValue], prefix: &str, out: &mut Vec<(String, String)>) {
    for kv in attrs {
        let key = if prefix.is_empty() {
            normalize_label(&kv.key)
        } else {
            format!("{prefix}_{}", normalize_label(&kv.key))
        };
        match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
            Some(any_value::Value::KvlistValue(m)) => flatten(&m.values, &key, out),
            _ => {
                let v = as_string(kv.value.as_ref());
                if !v.is_empty() {
                    out.push((key, v));
                }
            }
        }
    }
}

/// Loki's level detection for an entry without a level label.
fn detect_level(
    labels: &BTreeMap<String, String>,
    metadata: &BTreeMap<String, String>,
    line: &str,
) -> Option<String> {
    let field = |m: &BTreeMap<String, String>| {
        LEVEL_FIELDS
            .iter()
            .find_map(|f| m.get(*f).filter(|v| !v.is_empty()).cloned())
    };
    if let Some(v) = field(labels).or_else(|| field(metadata)) {
        return Some(v);
    }
    if let Some(n) = metadata.get("severity_number") {
        let n: i32 = match n.parse() {
            Ok(n) => n,
            Err(_) => return Some("info".into()),
        };
        return Some(
            match n {
                0 => "unknown",
                1..=4 => "trace",
                5..=8 => "debug",
                9..=12 => "info",
                13..=16 => "warn",
                17..=20 => "error",
                21..=24 => "fatal",
                _ => "unknown",
            }
            .into(),
        );
    }
    let has = |words: &[&str]| words.iter().any(|w| line.contains(w));
    Some(
        if has(&["info:", "INFO:", "info", "INFO"]) {
            "info"
        } else if has(&["err:", "ERR:", "error", "ERROR"]) {
            "error"
        } else if has(&["warn:", "WARN:", "warning", "WARNING"]) {
            "warn"
        } else if has(&["CRITICAL:", "critical:"]) {
            "critical"
        } else if has(&["debug:", "DEBUG:"]) {
            "debug"
        } else {
            "unknown"
        }
        .into(),
    )
}

/// The entries Loki stores for one OTLP request received at `received_ns`.
pub fn entries(req: &ExportLogsServiceRequest, received_ns: i128) -> Vec<LokiEntry> {
    let mut out = Vec::new();
    for rl in &req.resource_logs {
        let attrs = rl
            .resource
            .as_ref()
            .map(|r| r.attributes.as_slice())
            .unwrap_or(&[]);
        let mut labels = BTreeMap::new();
        let mut resource_meta = Vec::new();
        for kv in attrs {
            if INDEX_LABEL_ATTRIBUTES.contains(&kv.key.as_str()) {
                let v = as_string(kv.value.as_ref());
                if !v.is_empty() {
                    labels.insert(normalize_label(&kv.key), v);
                }
            } else {
                flatten(std::slice::from_ref(kv), "", &mut resource_meta);
            }
        }
        discover_service_name(&mut labels);
        for sl in &rl.scope_logs {
            let mut scope_meta = Vec::new();
            if let Some(scope) = &sl.scope {
                flatten(&scope.attributes, "", &mut scope_meta);
                if !scope.name.is_empty() {
                    scope_meta.push(("scope_name".into(), scope.name.clone()));
                }
                if !scope.version.is_empty() {
                    scope_meta.push(("scope_version".into(), scope.version.clone()));
                }
                if scope.dropped_attributes_count != 0 {
                    scope_meta.push((
                        "scope_dropped_attributes_count".into(),
                        scope.dropped_attributes_count.to_string(),
                    ));
                }
            }
            for log in &sl.log_records {
                let mut meta: BTreeMap<String, String> = resource_meta
                    .iter()
                    .chain(scope_meta.iter())
                    .cloned()
                    .collect();
                let mut own = Vec::new();
                flatten(&log.attributes, "", &mut own);
                meta.extend(own);
                if log.time_unix_nano != 0 && log.observed_time_unix_nano != 0 {
                    meta.insert(
                        "observed_timestamp".into(),
                        log.observed_time_unix_nano.to_string(),
                    );
                }
                if log.severity_number != 0 {
                    meta.insert("severity_number".into(), log.severity_number.to_string());
                }
                if !log.severity_text.is_empty() {
                    meta.insert("severity_text".into(), log.severity_text.clone());
                }
                if log.dropped_attributes_count != 0 {
                    meta.insert(
                        "dropped_attributes_count".into(),
                        log.dropped_attributes_count.to_string(),
                    );
                }
                if log.flags != 0 {
                    meta.insert("flags".into(), log.flags.to_string());
                }
                if !log.trace_id.is_empty() && log.trace_id.iter().any(|b| *b != 0) {
                    meta.insert("trace_id".into(), hex(&log.trace_id));
                }
                if !log.span_id.is_empty() && log.span_id.iter().any(|b| *b != 0) {
                    meta.insert("span_id".into(), hex(&log.span_id));
                }
                if !log.event_name.is_empty() {
                    meta.insert("event_name".into(), log.event_name.clone());
                }
                let line = as_string(log.body.as_ref());
                let has_level_label = labels.contains_key("detected_level")
                    || labels.contains_key("level")
                    || meta.contains_key("detected_level");
                if !has_level_label && let Some(level) = detect_level(&labels, &meta, &line) {
                    meta.insert("detected_level".into(), level);
                }
                let ts_ns = if log.time_unix_nano != 0 {
                    log.time_unix_nano as i128
                } else if log.observed_time_unix_nano != 0 {
                    log.observed_time_unix_nano as i128
                } else {
                    received_ns
                };
                out.push(LokiEntry {
                    ts_ns,
                    line,
                    labels: labels.clone(),
                    metadata: meta,
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_normalise_like_prometheus() {
        assert_eq!(normalize_label("canary.probe_id"), "canary_probe_id");
        assert_eq!(normalize_label("1abc"), "key_1abc");
        assert_eq!(normalize_label("_x"), "key_x");
        assert_eq!(normalize_label("__x"), "__x");
    }
}
