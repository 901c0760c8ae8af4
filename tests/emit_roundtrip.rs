//! 3 signals x 3 encodings against the lab receivers: what arrived decodes to exactly what
//! was sent (ids, attributes, values, timestamps), with and without gzip, and the headers
//! (tenant, custom) arrive too.

mod common;

use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::metrics::v1::{metric, number_data_point};
use otel_canary::config::env::EnvSnapshot;
use otel_canary::config::otlp::{Compression, ExportFlags, Protocol, resolve_export_target};
use otel_canary::config::resource::{ResourceFlags, ResourceSpec};
use otel_canary::emit::encoding::{Encoding, Payload};
use otel_canary::emit::exporter::{Exporter, build_payload};
use otel_canary::emit::outcome::Response;
use otel_canary::emit::payload::MetricTag;
use otel_canary::lab::ReceivedVia;
use otel_canary::probe::Probe;
use otel_canary::signal::Signal;

async fn roundtrip(protocol: Protocol, compression: Compression) {
    let lab = common::lab().await;
    let endpoint = lab.base_for(protocol, false);
    let flags = ExportFlags {
        endpoint: Some(endpoint),
        protocol: Some(protocol),
        compression: Some(compression),
        tenant: Some("team-a".into()),
        headers: vec!["X-Custom=yes".into()],
        ..Default::default()
    };
    let env = EnvSnapshot::default();
    let target = resolve_export_target(&flags, &env).unwrap();
    let resource = ResourceSpec::resolve(&ResourceFlags::default(), &env).unwrap();
    let exporter = Exporter::new(&target).unwrap();
    let probe = Probe::start();
    let outcomes = exporter.export(&probe, &resource, MetricTag::Value).await;
    assert_eq!(outcomes.len(), 3);
    for o in &outcomes {
        assert!(o.accepted(), "{protocol} {compression}: {:?}", o.last());
        match (&o.last().response, protocol) {
            (
                Some(Response::Http { status: 200, .. }),
                Protocol::HttpProtobuf | Protocol::HttpJson,
            ) => {}
            (Some(Response::Grpc { code: 0, .. }), Protocol::Grpc) => {}
            other => panic!("unexpected response {other:?}"),
        }
        assert!(o.payload_bytes > 100);
    }
    let want_via = match protocol {
        Protocol::HttpProtobuf => ReceivedVia::Http(Encoding::Protobuf),
        Protocol::HttpJson => ReceivedVia::Http(Encoding::Json),
        Protocol::Grpc => ReceivedVia::Grpc,
    };
    for signal in Signal::ALL {
        let got = lab.state.store.of(signal);
        assert_eq!(got.len(), 1, "{signal}: one request expected");
        let r = &got[0];
        assert_eq!(r.via, want_via);
        assert_eq!(r.header("x-scope-orgid"), Some("team-a"));
        assert_eq!(r.header("x-custom"), Some("yes"));
        assert_eq!(
            r.payload,
            build_payload(signal, &probe, &resource, MetricTag::Value),
            "{signal} over {protocol}/{compression}"
        );
    }
    // Spot-check the decoded contents, not just equality with our own builder.
    let Payload::Trace(t) = &lab.state.store.of(Signal::Trace)[0].payload else {
        panic!()
    };
    assert_eq!(t.resource_spans.len(), 2);
    let client = &t.resource_spans[0].scope_spans[0].spans[0];
    let server = &t.resource_spans[1].scope_spans[0].spans[0];
    assert_eq!(client.trace_id, probe.trace_id.to_vec());
    assert_eq!(server.parent_span_id, probe.client_span_id.to_vec());
    assert_eq!((client.kind, server.kind), (3, 2));
    assert!(
        client.start_time_unix_nano <= server.start_time_unix_nano
            && server.end_time_unix_nano <= client.end_time_unix_nano
    );
    let Some(Value::StringValue(id)) = client.attributes[0]
        .value
        .as_ref()
        .and_then(|v| v.value.clone())
    else {
        panic!()
    };
    assert_eq!(id, probe.probe_id.to_string());
    let Payload::Log(l) = &lab.state.store.of(Signal::Log)[0].payload else {
        panic!()
    };
    let rec = &l.resource_logs[0].scope_logs[0].log_records[0];
    assert_eq!(rec.span_id, probe.client_span_id.to_vec());
    assert_eq!(rec.severity_number, 9);
    let Payload::Metric(m) = &lab.state.store.of(Signal::Metric)[0].payload else {
        panic!()
    };
    let Some(metric::Data::Gauge(g)) = &m.resource_metrics[0].scope_metrics[0].metrics[0].data
    else {
        panic!()
    };
    assert_eq!(
        g.data_points[0].value,
        Some(number_data_point::Value::AsDouble(probe.marker))
    );
    assert!(
        g.data_points[0].attributes.is_empty(),
        "value mode adds no per-probe label"
    );
}

#[tokio::test]
async fn http_protobuf_roundtrip() {
    roundtrip(Protocol::HttpProtobuf, Compression::None).await;
    roundtrip(Protocol::HttpProtobuf, Compression::Gzip).await;
}

#[tokio::test]
async fn http_json_roundtrip() {
    roundtrip(Protocol::HttpJson, Compression::None).await;
    roundtrip(Protocol::HttpJson, Compression::Gzip).await;
}

#[tokio::test]
async fn grpc_roundtrip() {
    roundtrip(Protocol::Grpc, Compression::None).await;
    roundtrip(Protocol::Grpc, Compression::Gzip).await;
}

#[tokio::test]
async fn label_mode_adds_the_probe_id_label() {
    let probe = Probe::start();
    let resource =
        ResourceSpec::resolve(&ResourceFlags::default(), &EnvSnapshot::default()).unwrap();
    let Payload::Metric(m) = build_payload(Signal::Metric, &probe, &resource, MetricTag::Label)
    else {
        panic!()
    };
    let Some(metric::Data::Gauge(g)) = &m.resource_metrics[0].scope_metrics[0].metrics[0].data
    else {
        panic!()
    };
    assert_eq!(g.data_points[0].attributes[0].key, "canary_probe_id");
}

/// The binary end to end: exit 0 and a JSON document that names every URL and its source.
#[tokio::test]
async fn emit_binary_reports_each_signal() {
    let lab = common::lab().await;
    let out = common::run_bin_async(
        vec![
            "emit".into(),
            "--output".into(),
            "json".into(),
            "--metric-tag".into(),
            "label".into(),
        ],
        vec![("OTEL_EXPORTER_OTLP_ENDPOINT".into(), lab.http_base(false))],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", common::stderr(&out));
    let doc = common::json_out(&out);
    assert_eq!(doc["schema"], "otel-canary/emit/v1");
    assert_eq!(doc["ok"], true);
    let log = common::signal(&doc, "log");
    assert_eq!(
        log["url"]["value"],
        format!("{}/v1/logs", lab.http_base(false))
    );
    assert_eq!(log["url"]["source"]["kind"], "env");
    assert_eq!(log["url"]["source"]["name"], "OTEL_EXPORTER_OTLP_ENDPOINT");
    assert_eq!(log["protocol"]["value"], "http/protobuf");
    assert_eq!(log["protocol"]["source"]["kind"], "default");
    assert_eq!(log["response"]["status"], 200);
    assert!(log["seconds"].as_f64().unwrap() > 0.0);
    assert!(log["bytes_sent"].as_u64().unwrap() > 0);
    assert_eq!(lab.state.store.len(), 3);
}
