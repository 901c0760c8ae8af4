//! OTLP metrics as Mimir 2.16 stores them with its defaults (`otel-metric-suffixes-enabled`
//! off): names with forbidden characters replaced, `job`/`instance` from the resource, point
//! attributes as labels, gauges and cumulative sums as plain samples, classic histograms and
//! summaries as their `_bucket`/`_sum`/`_count` series, and `target_info` for the remaining
//! resource attributes. This decides whether a reader's PromQL finds the probe.

use super::loki_mapping::{as_string, normalize_label};
use super::params::format_prom_value;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::metrics::v1::{NumberDataPoint, metric, number_data_point};
use std::collections::BTreeMap;

/// A label set (sorted, as Prometheus keeps them).
pub type Labels = BTreeMap<String, String>;

/// One stored sample.
#[derive(Clone, Debug, PartialEq)]
pub struct PromSample {
    pub labels: Labels,
    pub ts_ms: i64,
    pub value: f64,
}

/// The identifying resource attributes that become `job`/`instance`, not `target_info`.
const IDENTIFYING: &[&str] = &["service.name", "service.namespace", "service.instance.id"];

/// OTLP "no recorded value" data point flag: Mimir writes a staleness marker, i.e. nothing
/// an instant query returns.
const FLAG_NO_RECORDED_VALUE: u32 = 1;

/// Delta temporality (Mimir's translator rejects delta sums and histograms by default).
const DELTA: i32 = 1;

/// `otlptranslator.BuildCompliantName` without suffixes: runs of forbidden characters become
/// one `_` (leading and trailing ones vanish), a leading digit gets `_`.
pub fn metric_name(name: &str) -> String {
    let parts: Vec<&str> = name
        .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
        .filter(|p| !p.is_empty())
        .collect();
    let joined = parts.join("_");
    if joined.starts_with(|c: char| c.is_ascii_digit()) {
        format!("_{joined}")
    } else {
        joined
    }
}

/// Point attributes as labels (colliding names joined with `;`, empty values left out).
fn point_labels(attrs: &[KeyValue], base: &Labels) -> Labels {
    let mut labels = Labels::new();
    for kv in attrs {
        let v = as_string(kv.value.as_ref());
        if v.is_empty() {
            continue;
        }
        labels
            .entry(normalize_label(&kv.key))
            .and_modify(|old: &mut String| {
                old.push(';');
                old.push_str(&v);
            })
            .or_insert(v);
    }
    labels.extend(base.iter().map(|(k, v)| (k.clone(), v.clone())));
    labels
}

fn ms(ns: u64) -> i64 {
    (ns / 1_000_000) as i64
}

fn number(p: &NumberDataPoint) -> Option<f64> {
    match p.value? {
        number_data_point::Value::AsDouble(d) => Some(d),
        number_data_point::Value::AsInt(i) => Some(i as f64),
    }
}

/// The samples Mimir stores for one request.
pub fn samples(req: &ExportMetricsServiceRequest) -> Vec<PromSample> {
    let mut out = Vec::new();
    for rm in &req.resource_metrics {
        let attrs = rm
            .resource
            .as_ref()
            .map(|r| r.attributes.as_slice())
            .unwrap_or(&[]);
        let get = |k: &str| {
            attrs
                .iter()
                .find(|kv| kv.key == k)
                .map(|kv| as_string(kv.value.as_ref()))
        };
        let mut base = Labels::new();
        if let Some(name) = get("service.name") {
            let job = match get("service.namespace").filter(|ns| !ns.is_empty()) {
                Some(ns) => format!("{ns}/{name}"),
                None => name,
            };
            base.insert("job".into(), job);
        }
        if let Some(instance) = get("service.instance.id") {
            base.insert("instance".into(), instance);
        }
        base.retain(|_, v| !v.is_empty());
        let first = out.len();
        for sm in &rm.scope_metrics {
            for m in &sm.metrics {
                let name = metric_name(&m.name);
                if name.is_empty() {
                    continue;
                }
                let mut push =
                    |suffix: &str, extra: &[(&str, String)], attrs: &[KeyValue], t: u64, v: f64| {
                        let mut labels = point_labels(attrs, &base);
                        labels.extend(extra.iter().map(|(k, v)| (k.to_string(), v.clone())));
                        labels.insert("__name__".into(), format!("{name}{suffix}"));
                        out.push(PromSample {
                            labels,
                            ts_ms: ms(t),
                            value: v,
                        });
                    };
                match &m.data {
                    Some(metric::Data::Gauge(g)) => {
                        for p in &g.data_points {
                            if p.flags & FLAG_NO_RECORDED_VALUE == 0
                                && let Some(v) = number(p)
                            {
                                push("", &[], &p.attributes, p.time_unix_nano, v);
                            }
                        }
                    }
                    Some(metric::Data::Sum(s)) if s.aggregation_temporality != DELTA => {
                        for p in &s.data_points {
                            if p.flags & FLAG_NO_RECORDED_VALUE == 0
                                && let Some(v) = number(p)
                            {
                                push("", &[], &p.attributes, p.time_unix_nano, v);
                            }
                        }
                    }
                    Some(metric::Data::Histogram(h)) if h.aggregation_temporality != DELTA => {
                        for p in &h.data_points {
                            if p.flags & FLAG_NO_RECORDED_VALUE != 0 {
                                continue;
                            }
                            let t = p.time_unix_nano;
                            push("_count", &[], &p.attributes, t, p.count as f64);
                            if let Some(sum) = p.sum {
                                push("_sum", &[], &p.attributes, t, sum);
                            }
                            let mut cumulative = 0u64;
                            for (i, bound) in p.explicit_bounds.iter().enumerate() {
                                cumulative += p.bucket_counts.get(i).copied().unwrap_or(0);
                                let le = format_prom_value(*bound);
                                push(
                                    "_bucket",
                                    &[("le", le)],
                                    &p.attributes,
                                    t,
                                    cumulative as f64,
                                );
                            }
                            push(
                                "_bucket",
                                &[("le", "+Inf".into())],
                                &p.attributes,
                                t,
                                p.count as f64,
                            );
                        }
                    }
                    Some(metric::Data::Summary(s)) => {
                        for p in &s.data_points {
                            if p.flags & FLAG_NO_RECORDED_VALUE != 0 {
                                continue;
                            }
                            let t = p.time_unix_nano;
                            push("_count", &[], &p.attributes, t, p.count as f64);
                            push("_sum", &[], &p.attributes, t, p.sum);
                            for q in &p.quantile_values {
                                let quantile = format_prom_value(q.quantile);
                                push("", &[("quantile", quantile)], &p.attributes, t, q.value);
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
        let others: Vec<&KeyValue> = attrs
            .iter()
            .filter(|kv| !IDENTIFYING.contains(&kv.key.as_str()))
            .collect();
        let newest = out[first..].iter().map(|s| s.ts_ms).max();
        if let (Some(ts_ms), false, false) = (newest, others.is_empty(), base.is_empty()) {
            let owned: Vec<KeyValue> = others.into_iter().cloned().collect();
            let mut labels = point_labels(&owned, &base);
            labels.insert("__name__".into(), "target_info".into());
            out.push(PromSample {
                labels,
                ts_ms,
                value: 1.0,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_translate_like_mimir_without_suffixes() {
        assert_eq!(
            metric_name("otel_canary_probe_marker"),
            "otel_canary_probe_marker"
        );
        assert_eq!(
            metric_name("otel.canary.write.latency"),
            "otel_canary_write_latency"
        );
        assert_eq!(metric_name("a..b-"), "a_b");
        assert_eq!(metric_name("1x"), "_1x");
    }
}
