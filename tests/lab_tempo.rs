//! The lab's Tempo API answers like Tempo 2.8 (tests/fixtures/tempo): trace by id in v1/v2
//! JSON and protobuf with base64 ids, 404/200-empty for unknown ids, TraceQL search with
//! zero-trimmed trace ids, tags, and Tempo's exact error texts.

mod lab_support;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use lab_support::*;
use otel_canary::emit::encoding::Encoding;
use otel_canary::probe::hex;
use prost::Message;

/// Keys the canary's payload has and the fixture probe had not: a scope version, an OK status.
const CANARY_EXTRAS: Shape<'static> = Shape {
    ignore_keys: &["version", "code"],
    dynamic: &["serviceStats"],
};

fn search_query(p: &otel_canary::probe::Probe) -> String {
    format!(
        "{{ resource.service.name = \"otel-canary\" && span.canary.probe_id = \"{}\" }}",
        p.probe_id
    )
}

#[tokio::test]
async fn trace_by_id_v1_and_v2_have_tempos_shape_and_base64_ids() {
    let lab = stack().await;
    let p = probe();
    send_to_receiver(&lab, &trace(&p), Encoding::Protobuf).await;
    let id = p.trace_id_hex();

    let v1 = get(&format!("{}/api/traces/{id}", lab.tempo_url()), &[], &[]).await;
    assert_eq!(v1.status, 200);
    assert_eq!(v1.content_type.as_deref(), Some("application/json"));
    let doc = v1.json();
    CANARY_EXTRAS.assert(&doc, &fixture_json("tempo/v1-traces-found.json"));
    let batches = doc["batches"].as_array().unwrap();
    assert_eq!(batches.len(), 2, "one batch per ResourceSpans");
    let client = &batches[0]["scopeSpans"][0]["spans"][0];
    let server = &batches[1]["scopeSpans"][0]["spans"][0];
    assert_eq!(
        B64.decode(client["traceId"].as_str().unwrap()).unwrap(),
        p.trace_id
    );
    assert_eq!(
        B64.decode(client["spanId"].as_str().unwrap()).unwrap(),
        p.client_span_id
    );
    assert_eq!(
        B64.decode(server["spanId"].as_str().unwrap()).unwrap(),
        p.server_span_id
    );
    assert_eq!(
        B64.decode(server["parentSpanId"].as_str().unwrap())
            .unwrap(),
        p.client_span_id
    );
    assert_eq!(client["kind"], "SPAN_KIND_CLIENT");
    assert_eq!(server["kind"], "SPAN_KIND_SERVER");
    assert_eq!(client["status"]["code"], "STATUS_CODE_OK");
    assert!(client["startTimeUnixNano"].is_string());

    let v2 = get(&format!("{}/api/v2/traces/{id}", lab.tempo_url()), &[], &[]).await;
    assert_eq!(v2.status, 200);
    assert_eq!(v2.content_type.as_deref(), Some("application/json"));
    let doc2 = v2.json();
    CANARY_EXTRAS.assert(&doc2, &fixture_json("tempo/v2-traces-found.json"));
    assert_eq!(
        doc2["trace"]["resourceSpans"], doc["batches"],
        "same batches in v1 and v2"
    );
}

#[tokio::test]
async fn trace_by_id_of_the_fixture_probe_is_byte_identical() {
    // The exact request Tempo received in the capture, replayed into the lab.
    let lab = stack().await;
    let body = fixture_bytes("tempo/req-probe-trace.json");
    let a = post(
        &format!("{}/v1/traces", lab.receivers.http_base(false)),
        "application/json",
        body,
        &[],
    )
    .await;
    assert_eq!(a.status, 200);
    let id = "e56981bb05769bdeb2c8fa4bf5cc941a";
    let v1 = get(&format!("{}/api/traces/{id}", lab.tempo_url()), &[], &[]).await;
    v1.assert_exact(
        200,
        Some("application/json"),
        &fixture_bytes("tempo/v1-traces-found.json"),
    );
    let v2 = get(&format!("{}/api/v2/traces/{id}", lab.tempo_url()), &[], &[]).await;
    v2.assert_exact(
        200,
        Some("application/json"),
        &fixture_bytes("tempo/v2-traces-found.json"),
    );
    let pb = get(
        &format!("{}/api/traces/{id}", lab.tempo_url()),
        &[],
        &[("Accept", "application/protobuf")],
    )
    .await;
    pb.assert_exact(
        200,
        Some("application/protobuf"),
        &fixture_bytes("tempo/v1-traces-found-protobuf.bin"),
    );
}

#[tokio::test]
async fn protobuf_by_id_decodes_as_traces_data() {
    let lab = stack().await;
    let p = probe();
    send_to_receiver(&lab, &trace(&p), Encoding::Json).await;
    let a = get(
        &format!("{}/api/traces/{}", lab.tempo_url(), p.trace_id_hex()),
        &[],
        &[("Accept", "application/protobuf")],
    )
    .await;
    assert_eq!(a.content_type.as_deref(), Some("application/protobuf"));
    let t = opentelemetry_proto::tonic::trace::v1::TracesData::decode(&a.body[..]).unwrap();
    assert_eq!(t.resource_spans.len(), 2);
    assert_eq!(
        t.resource_spans[0].scope_spans[0].spans[0].trace_id,
        p.trace_id
    );
}

#[tokio::test]
async fn unknown_ids_bad_ids_and_short_ids_answer_like_tempo() {
    let lab = stack().await;
    let unknown = "5c6988ee51a3f49e9d7a18cfb8721484";
    let v1 = get(
        &format!("{}/api/traces/{unknown}", lab.tempo_url()),
        &[],
        &[],
    )
    .await;
    v1.assert_exact(404, None, b"");
    let v2 = get(
        &format!("{}/api/v2/traces/{unknown}", lab.tempo_url()),
        &[],
        &[],
    )
    .await;
    v2.assert_exact(
        200,
        Some("application/json"),
        &fixture_bytes("tempo/v2-traces-notfound.json"),
    );
    for (path, fx) in [
        ("api/traces", "tempo/v1-traces-bad-id.txt"),
        ("api/v2/traces", "tempo/v2-traces-bad-id.txt"),
    ] {
        let a = get(
            &format!("{}/{path}/not-a-trace-id", lab.tempo_url()),
            &[],
            &[],
        )
        .await;
        a.assert_exact(400, Some("text/plain; charset=utf-8"), &fixture_bytes(fx));
    }

    // A trace id with two leading zero bytes: found by its zero-trimmed form too.
    let mut p = probe();
    p.trace_id[0] = 0;
    p.trace_id[1] = 0;
    send_to_receiver(&lab, &trace(&p), Encoding::Protobuf).await;
    let short = p.trace_id_hex().trim_start_matches('0').to_string();
    assert!(short.len() <= 28);
    let a = get(
        &format!("{}/api/v2/traces/{short}", lab.tempo_url()),
        &[],
        &[],
    )
    .await;
    assert_eq!(a.status, 200);
    CANARY_EXTRAS.assert(
        &a.json(),
        &fixture_json("tempo/v2-traces-found-short-id.json"),
    );
}

#[tokio::test]
async fn spans_of_one_trace_sent_in_separate_requests_are_merged() {
    let lab = stack().await;
    let p = probe();
    let otel_canary::emit::encoding::Payload::Trace(full) = trace(&p) else {
        unreachable!()
    };
    for rs in &full.resource_spans {
        let part = otel_canary::emit::encoding::Payload::Trace(
            opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest {
                resource_spans: vec![rs.clone()],
            },
        );
        send_to_receiver(&lab, &part, Encoding::Protobuf).await;
    }
    // And a duplicate of the whole trace: spans are not repeated.
    send_to_receiver(&lab, &trace(&p), Encoding::Protobuf).await;
    let a = get(
        &format!("{}/api/traces/{}", lab.tempo_url(), p.trace_id_hex()),
        &[],
        &[],
    )
    .await;
    let doc = a.json();
    let spans: usize = doc["batches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["scopeSpans"][0]["spans"].as_array().unwrap().len())
        .sum();
    assert_eq!(spans, 2, "{doc}");
}

#[tokio::test]
async fn traceql_search_finds_the_probe_with_a_zero_trimmed_trace_id() {
    let lab = stack().await;
    let mut p = probe();
    p.trace_id[0] = 0;
    p.trace_id[1] = 0;
    send_to_receiver(&lab, &trace(&p), Encoding::Protobuf).await;
    let (start, end) = (
        (now_secs() - 300).to_string(),
        (now_secs() + 60).to_string(),
    );
    let q = search_query(&p);
    let a = get(
        &format!("{}/api/search", lab.tempo_url()),
        &[("q", &q), ("start", &start), ("end", &end), ("limit", "20")],
        &[],
    )
    .await;
    assert_eq!(a.status, 200);
    assert_eq!(a.content_type.as_deref(), Some("application/json"));
    let doc = a.json();
    CANARY_EXTRAS.assert(&doc, &fixture_json("tempo/search-traceql-found.json"));
    CANARY_EXTRAS.assert(
        &doc,
        &fixture_json("tempo/search-traceql-found-leading-zero-traceid.json"),
    );
    let t = &doc["traces"][0];
    let want = hex(&p.trace_id).trim_start_matches('0').to_string();
    assert_eq!(t["traceID"], want.as_str());
    assert!(!t["traceID"].as_str().unwrap().starts_with('0'));
    assert_eq!(t["rootServiceName"], "otel-canary");
    assert_eq!(t["rootTraceName"], "canary.client");
    assert_eq!(t["durationMs"], 20);
    assert_eq!(t["spanSet"]["matched"], 1);
    assert_eq!(
        t["spanSet"]["spans"][0]["spanID"],
        p.client_span_id_hex().as_str()
    );
    assert_eq!(
        t["spanSet"]["spans"][0]["attributes"],
        serde_json::json!([
            {"key": "service.name", "value": {"stringValue": "otel-canary"}},
            {"key": "canary.probe_id", "value": {"stringValue": p.probe_id.to_string()}}
        ])
    );
    assert_eq!(t["serviceStats"]["otel-canary-peer"]["spanCount"], 1);

    // Without start/end, unscoped attributes, an int-free query: still found.
    let q2 = format!(
        "{{ .canary.probe_id = \"{}\" && name = \"canary.server\" }}",
        p.probe_id
    );
    let doc = get(
        &format!("{}/api/search", lab.tempo_url()),
        &[("q", &q2)],
        &[],
    )
    .await
    .json();
    assert_eq!(doc["traces"][0]["traceID"], want.as_str());
    assert_eq!(doc["metrics"]["completedJobs"], 1);
}

#[tokio::test]
async fn search_misses_and_bad_traceql_answer_like_tempo() {
    let lab = stack().await;
    send_to_receiver(&lab, &trace(&probe()), Encoding::Protobuf).await;
    let other = probe();
    let (start, end) = (
        (now_secs() - 300).to_string(),
        (now_secs() + 60).to_string(),
    );
    let q = search_query(&other);
    let empty = get(
        &format!("{}/api/search", lab.tempo_url()),
        &[("q", &q), ("start", &start), ("end", &end)],
        &[],
    )
    .await;
    assert_eq!(empty.status, 200);
    let doc = empty.json();
    Shape::STRICT.assert(&doc, &fixture_json("tempo/search-traceql-empty.json"));
    assert_eq!(doc["traces"], serde_json::json!([]));

    // A time range before the probe: nothing.
    let old = get(
        &format!("{}/api/search", lab.tempo_url()),
        &[("q", "{}"), ("start", "1000"), ("end", "2000")],
        &[],
    )
    .await;
    assert_eq!(old.json()["traces"], serde_json::json!([]));

    let bad = get(
        &format!("{}/api/search", lab.tempo_url()),
        &[
            ("q", "{ span.canary.probe_id = }"),
            ("start", &start),
            ("end", &end),
        ],
        &[],
    )
    .await;
    bad.assert_exact(
        400,
        Some("text/plain; charset=utf-8"),
        &fixture_bytes("tempo/search-bad-traceql.txt"),
    );
    let bad = get(
        &format!("{}/api/search", lab.tempo_url()),
        &[("q", "{ span.x = \"a\" ")],
        &[],
    )
    .await;
    assert_eq!(bad.status, 400);
    assert!(
        bad.text()
            .starts_with("invalid TraceQL query: parse error at line 1, col "),
        "{}",
        bad.text()
    );
}

#[tokio::test]
async fn tags_and_tag_values_have_tempos_shapes() {
    let lab = stack().await;
    let p = probe();
    send_to_receiver(&lab, &trace(&p), Encoding::Protobuf).await;
    let t = lab.tempo_url();
    let v1 = get(&format!("{t}/api/search/tags"), &[], &[]).await.json();
    Shape::STRICT.assert(&v1, &fixture_json("tempo/search-tags-v1.json"));
    let names: Vec<&str> = v1["tagNames"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(names.contains(&"canary.probe_id") && names.contains(&"service.name"));
    let v2 = get(&format!("{t}/api/v2/search/tags"), &[], &[])
        .await
        .json();
    Shape::STRICT.assert(&v2, &fixture_json("tempo/search-tags-v2.json"));
    let values = get(&format!("{t}/api/search/tag/service.name/values"), &[], &[])
        .await
        .json();
    Shape::STRICT.assert(
        &values,
        &fixture_json("tempo/search-tag-values-v1-service.name.json"),
    );
    assert_eq!(
        values["tagValues"],
        serde_json::json!(["otel-canary", "otel-canary-peer"])
    );
    let typed = get(
        &format!("{t}/api/v2/search/tag/span.canary.probe_id/values"),
        &[],
        &[],
    )
    .await
    .json();
    Shape::STRICT.assert(
        &typed,
        &fixture_json("tempo/search-tag-values-v2-probe_id.json"),
    );
    assert_eq!(
        typed["tagValues"][0]["value"],
        p.probe_id.to_string().as_str()
    );
}

#[tokio::test]
async fn ready_echo_buildinfo_and_unknown_paths() {
    let lab = stack().await;
    let t = lab.tempo_url();
    get(&format!("{t}/ready"), &[], &[]).await.assert_exact(
        200,
        Some("text/plain; charset=utf-8"),
        &fixture_bytes("tempo/ready.txt"),
    );
    get(&format!("{t}/api/echo"), &[], &[]).await.assert_exact(
        200,
        Some("text/plain; charset=utf-8"),
        &fixture_bytes("tempo/echo.txt"),
    );
    let b = get(&format!("{t}/api/status/buildinfo"), &[], &[]).await;
    assert_eq!(b.content_type.as_deref(), Some("application/json"));
    let doc = b.json();
    Shape::STRICT.assert(&doc, &fixture_json("tempo/buildinfo.json"));
    assert!(doc["version"].as_str().unwrap().contains("otel-canary-lab"));
    let nf = post(
        &format!("{t}/v1/traces"),
        "application/json",
        fixture_bytes("tempo/req-probe-trace.json"),
        &[],
    )
    .await;
    nf.assert_exact(
        404,
        Some("text/plain; charset=utf-8"),
        &fixture_bytes("tempo/otlp-http-wrong-path-api-port.txt"),
    );
}

#[test]
#[should_panic(expected = "shape differs")]
fn the_shape_check_catches_a_missing_key() {
    let fx = serde_json::json!({"a": [{"b": "x", "c": 1}]});
    Shape::STRICT.assert(&serde_json::json!({"a": [{"b": "y"}]}), &fx);
}

#[test]
#[should_panic(expected = "shape differs")]
fn the_shape_check_catches_a_type_change() {
    let fx = serde_json::json!({"value": [1.5, "1"]});
    Shape::STRICT.assert(&serde_json::json!({"value": ["1.5", "1"]}), &fx);
}
