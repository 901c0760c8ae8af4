//! Recognising a backend from what it answers, in the shapes captured from the real servers
//! (shared/fixtures): Tempo's and Loki's bare build-info JSON, the Prometheus-style
//! `{"status":"success","data":{…}}` envelope of Prometheus and Mimir (which says
//! `"application":"Grafana Mimir"`) and VictoriaMetrics (only a fake Prometheus `version`),
//! Grafana's `/api/health`, and a collector's or Alloy's self-metrics page. Pure functions,
//! so every shape is tested against its fixture.

use super::{Build, Speaks};
use crate::backends::client::Answer;
use serde_json::Value;
use std::collections::BTreeMap;

/// Tempo's build info (bare JSON).
pub const TEMPO_BUILDINFO: &str = "/api/status/buildinfo";
/// Loki's build info (bare JSON).
pub const LOKI_BUILDINFO: &str = "/loki/api/v1/status/buildinfo";
/// Prometheus' and VictoriaMetrics' build info (envelope).
pub const PROM_BUILDINFO: &str = "/api/v1/status/buildinfo";
/// Mimir's build info, under its `/prometheus` prefix (envelope, `application`).
pub const MIMIR_BUILDINFO: &str = "/prometheus/api/v1/status/buildinfo";
/// Tempo's, Loki's and Mimir's readiness.
pub const READY: &str = "/ready";
/// Prometheus' readiness.
pub const PROM_READY: &str = "/-/ready";
/// Grafana's health (`database`, `version`).
pub const GRAFANA_HEALTH: &str = "/api/health";
/// A collector's or Alloy's self-metrics.
pub const METRICS: &str = "/metrics";

/// Every GET the HTTP probe sends.
pub const GETS: [&str; 8] = [
    TEMPO_BUILDINFO,
    LOKI_BUILDINFO,
    PROM_BUILDINFO,
    MIMIR_BUILDINFO,
    READY,
    PROM_READY,
    GRAFANA_HEALTH,
    METRICS,
];

fn json_ok(a: &Answer) -> Option<Value> {
    if !a.is_success() {
        return None;
    }
    serde_json::from_slice::<Value>(&a.body)
        .ok()
        .filter(Value::is_object)
}

/// Network text fit for a terminal: no control characters (escape sequences), at most 64.
pub fn clean(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).take(64).collect()
}

fn string(v: &Value, key: &str) -> Option<String> {
    v.get(key)?.as_str().map(clean).filter(|s| !s.is_empty())
}

/// Tempo's and Loki's build info: a bare object with a `version` (no Prometheus envelope).
pub fn bare_buildinfo(a: &Answer) -> Option<String> {
    let v = json_ok(a)?;
    if v.get("status").is_some() {
        return None;
    }
    string(&v, "version")
}

/// What a Prometheus-style build-info envelope says.
#[derive(Debug, PartialEq, Eq)]
pub enum PromFlavour {
    Mimir(Option<String>),
    Prometheus(Option<String>),
    /// VictoriaMetrics answers with a fixed, fake Prometheus version and nothing else.
    VictoriaMetrics,
}

/// Parses `{"status":"success","data":{…}}`.
pub fn prom_buildinfo(a: &Answer) -> Option<PromFlavour> {
    let v = json_ok(a)?;
    if v.get("status")?.as_str()? != "success" {
        return None;
    }
    let data = v.get("data")?.as_object()?;
    let version = data.get("version").and_then(Value::as_str).map(clean);
    let application = data.get("application").and_then(Value::as_str);
    Some(if application.is_some_and(|a| a.contains("Mimir")) {
        PromFlavour::Mimir(version)
    } else if data.len() == 1 && version.is_some() {
        PromFlavour::VictoriaMetrics
    } else {
        PromFlavour::Prometheus(version)
    })
}

/// Grafana's `/api/health`: `{"database":"ok","version":"…"}`.
pub fn grafana_health(a: &Answer) -> Option<Option<String>> {
    let v = json_ok(a)?;
    v.get("database")?;
    Some(string(&v, "version"))
}

/// The value of `label="…"` on the first line that starts with `metric` (the whole label
/// name: `version` is not the end of `goversion`).
fn label_on(text: &str, metric: &str, label: &str) -> Option<String> {
    let line = text.lines().find(|l| l.starts_with(metric))?;
    let start = ['{', ','].iter().find_map(|sep| {
        let needle = format!("{sep}{label}=\"");
        line.find(&needle).map(|i| i + needle.len())
    })?;
    let rest = &line[start..];
    Some(clean(&rest[..rest.find('"')?])).filter(|s| !s.is_empty())
}

/// A self-metrics page: the collector's `otelcol_*` (its version from `target_info`), or
/// Alloy's `alloy_build_info`.
pub fn self_metrics(a: &Answer) -> Option<Speaks> {
    if !a.is_success() {
        return None;
    }
    let text = String::from_utf8_lossy(&a.body);
    let evidence = format!("GET {METRICS}");
    if text.contains("\nalloy_build_info") || text.starts_with("alloy_build_info") {
        return Some(Speaks::Alloy(Build {
            version: label_on(&text, "alloy_build_info", "version"),
            ready: None,
            evidence,
        }));
    }
    if text.contains("\notelcol_") || text.starts_with("otelcol_") {
        return Some(Speaks::Collector(Build {
            version: label_on(&text, "target_info", "service_version"),
            ready: None,
            evidence,
        }));
    }
    None
}

fn ready(answers: &BTreeMap<&'static str, Answer>, path: &str) -> Option<bool> {
    answers.get(path).map(Answer::is_success)
}

/// Every backend the GET answers identify, at most once each. `answers` holds the answers
/// that came (any status), keyed by path.
pub fn backends(answers: &BTreeMap<&'static str, Answer>) -> Vec<Speaks> {
    let mut out: Vec<Speaks> = Vec::new();
    let build = |version, ready, path: &str| Build {
        version,
        ready,
        evidence: format!("GET {path}"),
    };
    let loki = answers.get(LOKI_BUILDINFO).and_then(bare_buildinfo);
    if let Some(v) = &loki {
        out.push(Speaks::Loki(build(
            Some(v.clone()),
            ready(answers, READY),
            LOKI_BUILDINFO,
        )));
    }
    if let Some(a) = answers.get(TEMPO_BUILDINFO)
        && let Some(v) = bare_buildinfo(a)
        // A server that answers both paths with the same body is Loki, not Tempo too.
        && answers.get(LOKI_BUILDINFO).is_none_or(|l| l.body != a.body)
    {
        out.push(Speaks::Tempo(build(
            Some(v),
            ready(answers, READY),
            TEMPO_BUILDINFO,
        )));
    }
    for path in [MIMIR_BUILDINFO, PROM_BUILDINFO] {
        let Some(flavour) = answers.get(path).and_then(prom_buildinfo) else {
            continue;
        };
        let s = match flavour {
            PromFlavour::Mimir(v) => Speaks::Mimir(build(v, ready(answers, READY), path)),
            PromFlavour::Prometheus(v) => {
                Speaks::Prometheus(build(v, ready(answers, PROM_READY), path))
            }
            PromFlavour::VictoriaMetrics => Speaks::VictoriaMetrics(build(None, None, path)),
        };
        if !out
            .iter()
            .any(|o| std::mem::discriminant(o) == std::mem::discriminant(&s))
        {
            out.push(s);
        }
    }
    if let Some(v) = answers.get(GRAFANA_HEALTH).and_then(grafana_health) {
        out.push(Speaks::Grafana(build(v, None, GRAFANA_HEALTH)));
    }
    out.extend(answers.get(METRICS).and_then(self_metrics));
    out
}

/// What one build-info answer says, read at the path a read target's backend uses
/// (`kind` picks the parser).
pub fn buildinfo_at(kind: super::ReadKind, a: &Answer, path: &str) -> Option<Speaks> {
    let build = |v| Build {
        version: v,
        ready: None,
        evidence: format!("GET {path}"),
    };
    match kind {
        super::ReadKind::Tempo => bare_buildinfo(a).map(|v| Speaks::Tempo(build(Some(v)))),
        super::ReadKind::Loki => bare_buildinfo(a).map(|v| Speaks::Loki(build(Some(v)))),
        super::ReadKind::Mimir | super::ReadKind::Prometheus => {
            prom_buildinfo(a).map(|f| match f {
                PromFlavour::Mimir(v) => Speaks::Mimir(build(v)),
                PromFlavour::Prometheus(v) => Speaks::Prometheus(build(v)),
                PromFlavour::VictoriaMetrics => Speaks::VictoriaMetrics(build(None)),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn ok(body: &'static [u8]) -> Answer {
        Answer {
            status: 200,
            content_type: Some("application/json".into()),
            body: Bytes::from_static(body),
        }
    }

    macro_rules! fixture {
        ($p:literal) => {
            include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/", $p))
        };
    }

    #[test]
    fn real_buildinfo_bodies() {
        assert_eq!(
            bare_buildinfo(&ok(fixture!("tempo/buildinfo.json"))).as_deref(),
            Some("2.8.2")
        );
        assert_eq!(
            bare_buildinfo(&ok(fixture!("loki/buildinfo.json"))).as_deref(),
            Some("3.6.7")
        );
        assert_eq!(
            prom_buildinfo(&ok(fixture!("mimir/buildinfo.json"))),
            Some(PromFlavour::Mimir(Some("2.16.1".into())))
        );
        assert_eq!(
            prom_buildinfo(&ok(fixture!("prometheus/buildinfo.json"))),
            Some(PromFlavour::Prometheus(Some("2.53.3+ds1".into())))
        );
        assert_eq!(
            prom_buildinfo(&ok(fixture!("victoriametrics/buildinfo.json"))),
            Some(PromFlavour::VictoriaMetrics)
        );
        // The envelope is not a bare build info, and the reverse.
        assert_eq!(bare_buildinfo(&ok(fixture!("mimir/buildinfo.json"))), None);
        assert_eq!(prom_buildinfo(&ok(fixture!("tempo/buildinfo.json"))), None);
        // Error pages identify nothing.
        let mut nf = ok(fixture!("loki/wrong-path-v1-logs.txt"));
        nf.status = 404;
        assert_eq!(bare_buildinfo(&nf), None);
    }

    #[test]
    fn grafana_and_self_metrics() {
        let g = ok(br#"{"commit":"abc","database":"ok","version":"11.6.0"}"#);
        assert_eq!(grafana_health(&g), Some(Some("11.6.0".into())));
        let page = ok(fixture!("collector/self-metrics-full-at-end.txt"));
        match self_metrics(&page) {
            Some(Speaks::Collector(b)) => assert_eq!(b.version.as_deref(), Some("0.124.0-lab")),
            other => panic!("{other:?}"),
        }
        let alloy = ok(
            b"# HELP alloy_build_info x\n# TYPE alloy_build_info gauge\n\
alloy_build_info{branch=\"HEAD\",goversion=\"go1.24\",version=\"v1.8.2\"} 1\n",
        );
        match self_metrics(&alloy) {
            Some(Speaks::Alloy(b)) => assert_eq!(b.version.as_deref(), Some("v1.8.2")),
            other => panic!("{other:?}"),
        }
        assert_eq!(self_metrics(&ok(b"go_goroutines 12\n")), None);
    }

    #[test]
    fn network_text_is_cleaned() {
        let a = ok(b"{\"version\":\"1.0\\u001b[31mred\"}");
        assert_eq!(bare_buildinfo(&a).as_deref(), Some("1.0[31mred"));
    }

    #[test]
    fn one_identity_per_backend() {
        let mut answers = BTreeMap::new();
        // The lab answers Mimir's build info on both paths.
        answers.insert(MIMIR_BUILDINFO, ok(fixture!("mimir/buildinfo.json")));
        answers.insert(PROM_BUILDINFO, ok(fixture!("mimir/buildinfo.json")));
        answers.insert(READY, ok(b"ready"));
        let got = backends(&answers);
        assert_eq!(got.len(), 1, "{got:?}");
        assert!(matches!(&got[0], Speaks::Mimir(b) if b.ready == Some(true)));
    }
}
