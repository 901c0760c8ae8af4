//! OTLP logs as they reach Loki through a Loki exporter (Alloy's `otelcol.exporter.loki` or the
//! collector's deprecated `lokiexporter`) instead of Loki's own OTLP endpoint: default stream
//! labels `job` (service.namespace/service.name), `instance` (service.instance.id),
//! `exporter="OTLP"` and `level` (the severity), the record encoded as a JSON line
//! (`body`, `traceid`, `spanid`, `severity`, `attributes`, `resources`,
//! `instrumentation_scope`), and no structured metadata. A reader that expects Loki's OTLP
//! mapping (`canary_probe_id` metadata under `service_name`) misses it: the label-mapping
//! incident this switch reproduces.

use super::loki_mapping::{LokiEntry, as_string, discover_service_name};
use crate::probe::hex;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

fn attributes(kvs: &[KeyValue]) -> Map<String, Value> {
    kvs.iter()
        .map(|kv| (kv.key.clone(), Value::String(as_string(kv.value.as_ref()))))
        .collect()
}

/// The entries Loki stores for one OTLP request that went through a Loki exporter.
pub fn entries(req: &ExportLogsServiceRequest, received_ns: i128) -> Vec<LokiEntry> {
    let mut out = Vec::new();
    for rl in &req.resource_logs {
        let resource = rl
            .resource
            .as_ref()
            .map(|r| attributes(&r.attributes))
            .unwrap_or_default();
        let get = |k: &str| resource.get(k).and_then(Value::as_str).unwrap_or("");
        let job = match (get("service.namespace"), get("service.name")) {
            ("", name) => name.to_string(),
            (ns, name) => format!("{ns}/{name}"),
        };
        let mut stream = BTreeMap::from([("exporter".to_string(), "OTLP".to_string())]);
        if !job.is_empty() {
            stream.insert("job".into(), job);
        }
        if !get("service.instance.id").is_empty() {
            stream.insert("instance".into(), get("service.instance.id").to_string());
        }
        for sl in &rl.scope_logs {
            for log in &sl.log_records {
                let mut labels = stream.clone();
                if !log.severity_text.is_empty() {
                    labels.insert("level".into(), log.severity_text.clone());
                }
                discover_service_name(&mut labels);
                let mut line = Map::new();
                line.insert("body".into(), json!(as_string(log.body.as_ref())));
                if log.trace_id.iter().any(|b| *b != 0) {
                    line.insert("traceid".into(), json!(hex(&log.trace_id)));
                }
                if log.span_id.iter().any(|b| *b != 0) {
                    line.insert("spanid".into(), json!(hex(&log.span_id)));
                }
                if !log.severity_text.is_empty() {
                    line.insert("severity".into(), json!(log.severity_text));
                }
                if !log.attributes.is_empty() {
                    line.insert(
                        "attributes".into(),
                        Value::Object(attributes(&log.attributes)),
                    );
                }
                line.insert("resources".into(), Value::Object(resource.clone()));
                if let Some(scope) = &sl.scope {
                    line.insert(
                        "instrumentation_scope".into(),
                        json!({"name": scope.name, "version": scope.version}),
                    );
                }
                let ts_ns = match (log.time_unix_nano, log.observed_time_unix_nano) {
                    (0, 0) => received_ns,
                    (0, t) | (t, _) => t as i128,
                };
                out.push(LokiEntry {
                    ts_ns,
                    line: Value::Object(line).to_string(),
                    labels,
                    metadata: BTreeMap::new(),
                });
            }
        }
    }
    out
}
