//! OTLP/JSON: our encoding follows the OTLP rules (hex ids, integer enums, lowerCamelCase,
//! 64-bit integers as strings, no nulls), matches a golden file for a fixed probe, and the
//! request bodies captured from real clients in the fixtures decode and re-encode losslessly.

mod common;

use otel_canary::config::resource::ResourceSpec;
use otel_canary::config::{Provenance, Sourced};
use otel_canary::emit::encoding::{Encoding, Payload};
use otel_canary::emit::exporter::build_payload;
use otel_canary::emit::payload::MetricTag;
use otel_canary::lab::otlp_http::{decode_request, status_body, success_body};
use otel_canary::probe::{Interval, Probe};
use otel_canary::signal::Signal;
use serde_json::Value;
use std::time::{Duration, UNIX_EPOCH};

fn fixed_probe() -> (Probe, ResourceSpec) {
    let t = |ms: u64| UNIX_EPOCH + Duration::from_millis(ms);
    let probe = Probe {
        probe_id: "7b81c87f-f522-4b54-9ad3-6e6628d6d423".parse().unwrap(),
        started_at: t(1_795_240_000_000),
        trace_id: [
            0x00, 0x33, 0xa8, 0x40, 0x6b, 0xe1, 0x40, 0x4f, 0xb1, 0x5f, 0x91, 0x1d, 0x0a, 0x82,
            0xfd, 0x20,
        ],
        client_span_id: [0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88],
        server_span_id: [0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x01],
        client_span: Interval {
            start: t(1_795_240_000_000),
            end: t(1_795_240_000_020),
        },
        server_span: Interval {
            start: t(1_795_240_000_005),
            end: t(1_795_240_000_015),
        },
        marker: 1_795_240_000_000.0,
    };
    let resource = ResourceSpec {
        service_name: Sourced::default_value("otel-canary".into()),
        service_instance_id: Sourced::new("canary-host-1".into(), Provenance::Default),
        service_version: "0.1.0".into(),
        extra: vec![("deployment.environment.name".into(), "test".into())],
    };
    (probe, resource)
}

/// Walks a JSON document and checks the OTLP/JSON rules.
fn check_otlp_json_rules(v: &Value, path: &str) {
    match v {
        Value::Null => panic!("{path}: explicit null"),
        Value::Object(map) => {
            for (k, val) in map {
                let p = format!("{path}.{k}");
                assert!(!k.contains('_'), "{p}: keys must be lowerCamelCase");
                match k.as_str() {
                    "traceId" => assert!(
                        val.as_str().is_some_and(
                            |s| s.len() == 32 && s.chars().all(|c| c.is_ascii_hexdigit())
                        ),
                        "{p}: {val}"
                    ),
                    "spanId" => assert!(
                        val.as_str().is_some_and(
                            |s| s.len() == 16 && s.chars().all(|c| c.is_ascii_hexdigit())
                        ),
                        "{p}: {val}"
                    ),
                    "parentSpanId" => assert!(
                        val.as_str().is_some_and(|s| s.is_empty() || s.len() == 16),
                        "{p}: {val}"
                    ),
                    "kind" | "severityNumber" | "code" => {
                        assert!(val.is_u64(), "{p}: enums are integers, got {val}")
                    }
                    k if k.ends_with("UnixNano") || k == "asInt" || k == "intValue" => {
                        assert!(
                            val.as_str().is_some_and(|s| s.parse::<u64>().is_ok()),
                            "{p}: 64-bit ints are decimal strings, got {val}"
                        )
                    }
                    _ => {}
                }
                check_otlp_json_rules(val, &p);
            }
        }
        Value::Array(items) => items
            .iter()
            .enumerate()
            .for_each(|(i, x)| check_otlp_json_rules(x, &format!("{path}[{i}]"))),
        _ => {}
    }
}

#[test]
fn our_json_follows_the_otlp_rules_and_matches_the_golden_files() {
    let (probe, resource) = fixed_probe();
    for signal in Signal::ALL {
        let payload = build_payload(signal, &probe, &resource, MetricTag::Value);
        let bytes = payload.encode(Encoding::Json);
        let doc: Value = serde_json::from_slice(&bytes).unwrap();
        check_otlp_json_rules(&doc, signal.as_str());
        let golden_path = common::fixture(&format!("golden/probe-{signal}.json"));
        if std::env::var_os("UPDATE_GOLDEN").is_some() {
            std::fs::create_dir_all(golden_path.parent().unwrap()).unwrap();
            std::fs::write(
                &golden_path,
                serde_json::to_string_pretty(&doc).unwrap() + "\n",
            )
            .unwrap();
        }
        let golden: Value = serde_json::from_slice(&std::fs::read(&golden_path).unwrap()).unwrap();
        assert_eq!(
            doc, golden,
            "{signal}: JSON changed; if intended, rerun with UPDATE_GOLDEN=1 and review the diff"
        );
        // And it decodes back to the same message, as a receiver would read it.
        assert_eq!(
            decode_request(signal, Encoding::Json, &bytes).unwrap(),
            payload
        );
    }
}

#[test]
fn golden_trace_keeps_the_leading_zero_trace_id_and_integer_kinds() {
    let golden: Value =
        serde_json::from_slice(&common::fixture_bytes("golden/probe-trace.json")).unwrap();
    let client = &golden["resourceSpans"][0]["scopeSpans"][0]["spans"][0];
    assert_eq!(client["traceId"], "0033a8406be1404fb15f911d0a82fd20");
    assert_eq!(client["kind"], 3);
    assert_eq!(client["status"]["code"], 1);
    assert_eq!(
        golden["resourceSpans"][1]["scopeSpans"][0]["spans"][0]["parentSpanId"],
        "1122334455667788"
    );
}

/// Request bodies captured from real clients (shared/fixtures/*/req) decode with our JSON
/// decoder, and our encoding of the decoded message decodes to the same message again.
#[test]
fn captured_request_bodies_round_trip() {
    let cases = [
        (Signal::Trace, "collector/req-probe-trace.json"),
        (Signal::Trace, "tempo/req-probe-trace.json"),
        (Signal::Trace, "tempo/req-probe-trace-leading-zeros.json"),
        (Signal::Log, "collector/req-probe-log.json"),
        (Signal::Log, "loki/req-probe-log.json"),
        (Signal::Metric, "collector/req-probe-metric.json"),
        (Signal::Metric, "mimir/req-probe-metric.json"),
        (Signal::Metric, "mimir/req-probe-sum-unit-1.json"),
    ];
    for (signal, path) in cases {
        let body = common::fixture_bytes(path);
        let decoded =
            decode_request(signal, Encoding::Json, &body).unwrap_or_else(|e| panic!("{path}: {e}"));
        let reencoded = decoded.encode(Encoding::Json);
        check_otlp_json_rules(&serde_json::from_slice(&reencoded).unwrap(), path);
        assert_eq!(
            decode_request(signal, Encoding::Json, &reencoded).unwrap(),
            decoded,
            "{path}"
        );
        if let Payload::Trace(t) = &decoded {
            assert_eq!(
                t.resource_spans[0].scope_spans[0].spans[0].trace_id.len(),
                16,
                "{path}: hex ids decoded"
            );
        }
    }
    // A captured protobuf body decodes to the probe shape, and our encoding is byte-exact.
    let bin = common::fixture_bytes("collector/req-probe-trace.bin");
    let proto = decode_request(Signal::Trace, Encoding::Protobuf, &bin).unwrap();
    let Payload::Trace(t) = &proto else { panic!() };
    let kinds: Vec<i32> = t
        .resource_spans
        .iter()
        .map(|rs| rs.scope_spans[0].spans[0].kind)
        .collect();
    assert_eq!(kinds, vec![3, 2], "client then server span");
    assert_eq!(
        proto.encode(Encoding::Protobuf),
        bin,
        "prost re-encodes the captured bytes exactly"
    );
}

/// The lab answers with the exact bytes the real collector sent.
#[test]
fn lab_answers_are_byte_identical_to_the_collectors() {
    assert_eq!(
        success_body(Signal::Trace, Encoding::Json, None),
        common::fixture_bytes("collector/otlp-http-json-traces-response.json")
    );
    for (signal, file) in [
        (Signal::Trace, "traces"),
        (Signal::Log, "logs"),
        (Signal::Metric, "metrics"),
    ] {
        assert_eq!(
            success_body(signal, Encoding::Protobuf, None),
            common::fixture_bytes(&format!("collector/otlp-http-proto-{file}-response.bin"))
        );
    }
    // Malformed protobuf -> Status{code:3, message:"unexpected EOF"} in the collector's fixture.
    assert_eq!(
        status_body(Encoding::Protobuf, 3, "unexpected EOF"),
        common::fixture_bytes("collector/malformed-protobuf.bin")
    );
    let fixture_json: Value =
        serde_json::from_slice(&common::fixture_bytes("collector/malformed-json.json")).unwrap();
    let ours: Value = serde_json::from_slice(&status_body(
        Encoding::Json,
        3,
        fixture_json["message"].as_str().unwrap(),
    ))
    .unwrap();
    assert_eq!(ours, fixture_json);
}
