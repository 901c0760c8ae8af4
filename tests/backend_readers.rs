//! The readers against every captured backend answer (tests/fixtures, copied from
//! shared/fixtures): each shape parses, "found" is found, "not found" is "not yet", and
//! refusals are refusals with the backend's own text.

mod common;

use common::{Canned, fixture_bytes, replay};
use otel_canary::backends::loki::{self, LogMatch, LokiReader};
use otel_canary::backends::prometheus::{self, PrometheusReader, SeriesIdentity};
use otel_canary::backends::tempo::{self, TempoReader, TraceJudgement};
use otel_canary::backends::{QueryError, ReadClient};
use otel_canary::config::otlp::TlsSettings;
use otel_canary::config::resource::ResourceSpec;
use otel_canary::config::{Provenance, Sourced};
use otel_canary::poll::Read;
use otel_canary::probe::{Interval, Probe};
use std::time::{Duration, SystemTime};
use url::Url;

fn id<const N: usize>(hex: &str) -> [u8; N] {
    let mut out = [0u8; N];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(&hex[i * 2..i * 2 + 2], 16).unwrap();
    }
    out
}

/// A probe with the ids of a captured one.
fn probe(probe_id: &str, trace: &str, client: &str, server: &str, marker: f64) -> Probe {
    let now = SystemTime::now();
    Probe {
        probe_id: probe_id.parse().unwrap(),
        started_at: now,
        trace_id: id(trace),
        client_span_id: id(client),
        server_span_id: id(server),
        client_span: Interval {
            start: now,
            end: now,
        },
        server_span: Interval {
            start: now,
            end: now,
        },
        marker,
    }
}

/// The probe captured in tempo/*-found.json.
fn tempo_probe() -> Probe {
    probe(
        "7b81c87f-f522-4b54-9ad3-6e6628d6d423",
        "e56981bb05769bdeb2c8fa4bf5cc941a",
        "93fab28d6be12587",
        "093e8956c51c5c8f",
        0.0,
    )
}

fn resource(name: &str, instance: &str) -> ResourceSpec {
    ResourceSpec {
        service_name: Sourced::default_value(name.into()),
        service_instance_id: Sourced::default_value(instance.into()),
        service_version: "test".into(),
        extra: Vec::new(),
    }
}

fn client_for(addr: std::net::SocketAddr) -> (ReadClient, Url) {
    let url = Url::parse(&format!("http://{addr}")).unwrap();
    let c = ReadClient::new(
        &url,
        Vec::new(),
        &TlsSettings::default(),
        Duration::from_secs(5),
    )
    .unwrap();
    (c, url)
}

/// A read client for a replay server that answers every request as a captured backend did.
async fn replaying(
    status: u16,
    content_type: Option<&'static str>,
    body: Vec<u8>,
) -> (ReadClient, Url) {
    client_for(
        replay(Canned {
            status,
            content_type,
            body,
        })
        .await,
    )
}

fn refused<T: std::fmt::Debug>(r: Read<T, QueryError>) -> QueryError {
    match r {
        Read::Refused(e) => e,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn tempo_by_id_answers_v1_and_v2_decode_base64_ids() {
    let p = tempo_probe();
    for f in [
        "tempo/v2-traces-found.json",
        "tempo/v1-traces-found.json",
        "tempo/v1-traces-found-with-range.json",
    ] {
        let spans = tempo::parse_trace(&fixture_bytes(f)).unwrap();
        assert_eq!(spans.len(), 2, "{f}");
        assert!(
            spans.iter().all(|s| s.trace_id == p.trace_id.to_vec()),
            "{f}"
        );
        match tempo::judge_trace(&spans, &p, "v2") {
            TraceJudgement::Complete(seen) => {
                assert_eq!(seen.services, ["otel-canary", "otel-canary-peer"], "{f}");
                assert_eq!(seen.problem, None);
            }
            other => panic!("{f}: {other:?}"),
        }
    }
    // Another probe's spans in the same trace id: a mismatch, not "found".
    let other = probe(
        "7b81c87f-f522-4b54-9ad3-6e6628d6d423",
        "e56981bb05769bdeb2c8fa4bf5cc941a",
        "0000000000000001",
        "0000000000000002",
        0.0,
    );
    let spans = tempo::parse_trace(&fixture_bytes("tempo/v2-traces-found.json")).unwrap();
    assert!(matches!(
        tempo::judge_trace(&spans, &other, "v2"),
        TraceJudgement::Mismatch(_)
    ));
    // A stripped attribute is named.
    let mut stripped = spans.clone();
    stripped[1].probe_id = None;
    match tempo::judge_trace(&stripped, &p, "v2") {
        TraceJudgement::Mismatch(why) => assert!(why.contains("canary.server"), "{why}"),
        other => panic!("{other:?}"),
    }
    // Only one span so far: keep polling.
    assert!(matches!(
        tempo::judge_trace(&spans[..1], &p, "v2"),
        TraceJudgement::Partial(_)
    ));
}

#[test]
fn tempo_other_shapes_parse() {
    assert!(
        tempo::parse_trace(&fixture_bytes("tempo/v2-traces-notfound.json"))
            .unwrap()
            .is_empty()
    );
    for f in [
        "tempo/v2-traces-found-proto-ingested.json",
        "tempo/v2-traces-found-short-id.json",
    ] {
        assert_eq!(
            tempo::parse_trace(&fixture_bytes(f)).unwrap().len(),
            2,
            "{f}"
        );
    }
    let ids = tempo::parse_search(&fixture_bytes("tempo/search-traceql-found.json")).unwrap();
    assert_eq!(ids, ["e56981bb05769bdeb2c8fa4bf5cc941a"]);
    let ids =
        tempo::parse_search(&fixture_bytes("tempo/search-traceql-found-no-range.json")).unwrap();
    assert_eq!(ids.len(), 1);
    assert!(
        tempo::parse_search(&fixture_bytes("tempo/search-traceql-empty.json"))
            .unwrap()
            .is_empty()
    );
    // Search trims leading zeros; the reader pads them back.
    let ids = tempo::parse_search(&fixture_bytes(
        "tempo/search-traceql-found-leading-zero-traceid.json",
    ))
    .unwrap();
    assert_eq!(ids, ["00007ef81df9069f62b2fd19ee7b9dcb"]);
}

#[tokio::test]
async fn tempo_reader_not_found_shapes_mean_not_yet_and_errors_are_refusals() {
    let p = tempo_probe();
    // v2 "not found" is a 200 with an empty trace.
    let (c, url) = replaying(
        200,
        Some("application/json"),
        fixture_bytes("tempo/v2-traces-notfound.json"),
    )
    .await;
    assert!(matches!(
        TempoReader::new(c, url).read_trace(&p).await,
        Read::NotYet(_)
    ));
    // v1 "not found" is a 404 with an empty body.
    let (c, url) = replaying(404, None, Vec::new()).await;
    assert!(matches!(
        TempoReader::new(c, url).read_trace(&p).await,
        Read::NotYet(_)
    ));
    // A found trace.
    let (c, url) = replaying(
        200,
        Some("application/json"),
        fixture_bytes("tempo/v2-traces-found.json"),
    )
    .await;
    assert!(matches!(
        TempoReader::new(c, url).read_trace(&p).await,
        Read::Visible(_)
    ));
    // A bad TraceQL answer is refused with Tempo's text.
    let (c, url) = replaying(
        400,
        Some("text/plain; charset=utf-8"),
        fixture_bytes("tempo/search-bad-traceql.txt"),
    )
    .await;
    let e = refused(TempoReader::new(c, url).search(&p).await);
    assert_eq!(e.status, Some(400));
    assert!(e.message.starts_with("invalid TraceQL query"), "{e}");
    // Search finds the probe's trace.
    let (c, url) = replaying(
        200,
        Some("application/json"),
        fixture_bytes("tempo/search-traceql-found.json"),
    )
    .await;
    assert!(matches!(
        TempoReader::new(c, url).search(&p).await,
        Read::Visible(1)
    ));
}

/// The probe captured in loki/query-range-found*.json.
fn loki_probe() -> Probe {
    probe(
        "097a05a8-9d51-4f1a-a794-db57863f63dc",
        "606e7d63595ce2d639aced36ffea5fef",
        "43771cb0a18f8927",
        "0000000000000001",
        0.0,
    )
}

#[test]
fn loki_merged_and_categorized_answers_both_correlate() {
    let p = loki_probe();
    for f in [
        "loki/query-range-found.json",
        "loki/query-range-found-categorized.json",
        "loki/query-range-found-line-filter.json",
    ] {
        let entries = loki::parse_query_range(&fixture_bytes(f)).unwrap();
        let seen = loki::find_probe_entry(&entries, &p).unwrap_or_else(|| panic!("{f}"));
        assert!(seen.correlated, "{f}: {seen:?}");
        assert_eq!(seen.labels["service_name"], "otel-canary", "{f}");
    }
    // Another probe's line (the tenant capture) is not this probe's.
    let entries = loki::parse_query_range(&fixture_bytes(
        "loki/auth-enabled/query-range-with-orgid-found.json",
    ))
    .unwrap();
    assert_eq!(entries.len(), 1);
    assert!(loki::find_probe_entry(&entries, &p).is_none());
    let entries =
        loki::parse_query_range(&fixture_bytes("loki/query-range-found-categorized.json")).unwrap();
    assert_eq!(
        entries[0].labels.len(),
        2,
        "categorized: index labels only in stream"
    );
    assert_eq!(
        entries[0].metadata["canary_probe_id"],
        "097a05a8-9d51-4f1a-a794-db57863f63dc"
    );
    for f in [
        "loki/query-range-empty.json",
        "loki/query-range-empty-no-stream.json",
    ] {
        assert!(
            loki::parse_query_range(&fixture_bytes(f))
                .unwrap()
                .is_empty(),
            "{f}"
        );
    }
    // A metric answer is not a log answer.
    assert!(loki::parse_query_range(&fixture_bytes("loki/query-instant-metric.json")).is_err());
    assert_eq!(
        loki::log_query(
            r#"{service_name="otel-canary"}"#,
            LogMatch::StructuredMetadata,
            &p
        ),
        r#"{service_name="otel-canary"} | canary_probe_id="097a05a8-9d51-4f1a-a794-db57863f63dc""#
    );
}

#[tokio::test]
async fn loki_reader_refuses_with_lokis_text() {
    let p = loki_probe();
    for (status, f, want) in [
        (
            401,
            "loki/auth-enabled/query-range-no-orgid.txt",
            "no org id",
        ),
        (400, "loki/query-bad-logql.txt", "parse error at line 1"),
    ] {
        let (c, url) = replaying(status, Some("text/plain; charset=utf-8"), fixture_bytes(f)).await;
        let reader = LokiReader::new(
            c,
            url,
            loki::DEFAULT_SELECTOR.into(),
            LogMatch::StructuredMetadata,
        );
        let e = refused(reader.read_log(&p).await);
        assert_eq!(e.status, Some(status));
        assert!(e.message.starts_with(want), "{e}");
    }
    // A 503 is retried, not refused.
    let (c, url) = replaying(503, None, b"too busy".to_vec()).await;
    let reader = LokiReader::new(c, url, loki::DEFAULT_SELECTOR.into(), LogMatch::Line);
    assert!(matches!(reader.read_log(&p).await, Read::Retry(_)));
}

#[test]
fn prometheus_mimir_and_victoriametrics_answers_find_the_marker() {
    let prom_id = SeriesIdentity::of(&resource("otel-canary", "canary-host-1"), None);
    let cases = [
        ("mimir/query-marker-found.json", 1795240244889.0),
        ("mimir/query-marker-found-with-time.json", f64::NAN),
        ("mimir/query-marker-last-over-time.json", f64::NAN),
        ("mimir/auth-enabled/query-with-orgid-found.json", f64::NAN),
        ("prometheus/query-marker-found.json", f64::NAN),
        ("victoriametrics/query-marker-found.json", 1795240396310.0),
        (
            "victoriametrics/query-marker-found-prometheus-prefix.json",
            f64::NAN,
        ),
        ("victoriametrics/query-with-dotted-label.json", f64::NAN),
        (
            "victoriametrics/query-marker-found-latency-offset-1ms.json",
            f64::NAN,
        ),
    ];
    for (f, marker) in cases {
        let samples = prometheus::parse_vector(&fixture_bytes(f)).unwrap();
        assert_eq!(samples.len(), 1, "{f}");
        // Whatever the captured marker was, this canary's series is recognised under both
        // label mappings, and the exact value is what decides.
        let marker = if marker.is_nan() {
            samples[0].value
        } else {
            marker
        };
        let seen = prometheus::judge_samples(&samples, Some(&prom_id), marker)
            .unwrap_or_else(|e| panic!("{f}: {e}"));
        assert_eq!(seen.value, marker);
        let older = prometheus::judge_samples(&samples, Some(&prom_id), marker + 1.0).unwrap_err();
        assert!(older.contains("earlier probe"), "{f}: {older}");
    }
    let other = SeriesIdentity::of(&resource("otel-canary", "another-host"), None);
    let samples =
        prometheus::parse_vector(&fixture_bytes("mimir/query-marker-found.json")).unwrap();
    assert!(prometheus::judge_samples(&samples, Some(&other), samples[0].value).is_err());
    for f in [
        "mimir/query-marker-empty.json",
        "prometheus/query-marker-empty.json",
        "victoriametrics/query-marker-empty.json",
    ] {
        assert!(
            prometheus::parse_vector(&fixture_bytes(f))
                .unwrap()
                .is_empty(),
            "{f}"
        );
    }
    assert!(prometheus::parse_vector(&fixture_bytes("mimir/query-range-marker.json")).is_err());
}

#[tokio::test]
async fn prometheus_reader_refusals_carry_the_error_text() {
    let p = probe(
        "097a05a8-9d51-4f1a-a794-db57863f63dc",
        "606e7d63595ce2d639aced36ffea5fef",
        "43771cb0a18f8927",
        "0000000000000001",
        1.0,
    );
    let id = SeriesIdentity::of(&resource("otel-canary", "canary-host-1"), None);
    for (status, f, ct, want) in [
        (
            400,
            "mimir/query-bad-promql.json",
            "application/json",
            "invalid parameter \"query\"",
        ),
        (
            400,
            "prometheus/query-bad-promql.json",
            "application/json",
            "invalid parameter \"query\"",
        ),
        (
            422,
            "victoriametrics/query-bad-promql.json",
            "application/json",
            "",
        ),
        (
            401,
            "mimir/auth-enabled/query-no-orgid.txt",
            "text/plain; charset=utf-8",
            "no org id",
        ),
    ] {
        let (c, url) = replaying(status, Some(ct), fixture_bytes(f)).await;
        let reader = PrometheusReader::new(c, url, None, id.clone());
        let e = refused(reader.read_marker(&p).await);
        assert_eq!(e.status, Some(status), "{f}");
        assert!(
            e.message.contains(want) && !e.message.is_empty(),
            "{f}: {e}"
        );
    }
    // An empty vector is "not yet".
    let (c, url) = replaying(
        200,
        Some("application/json"),
        fixture_bytes("mimir/query-marker-empty.json"),
    )
    .await;
    let reader = PrometheusReader::new(c, url, None, id);
    assert!(matches!(reader.read_marker(&p).await, Read::NotYet(_)));
    let _ = Provenance::Default;
}

/// The marker gauge has no unit, so every name translation leaves it alone: Mimir with and
/// without OTel suffixes, VictoriaMetrics; the default query by name works on all of them.
#[test]
fn the_marker_name_survives_every_name_translation() {
    for f in [
        "mimir/name-translation-series.json",
        "mimir/otel-suffixes-enabled/name-translation-series.json",
        "victoriametrics/name-translation-series.json",
    ] {
        let doc: serde_json::Value = serde_json::from_slice(&fixture_bytes(f)).unwrap();
        let names: Vec<&str> = doc["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|s| s["__name__"].as_str())
            .collect();
        assert!(
            names.contains(&otel_canary::emit::payload::MARKER_METRIC),
            "{f}: {names:?}"
        );
    }
}
