//! Failure attribution from pipeline self-metrics, end to end against the lab: the canary's
//! emitter exports a probe to the lab's collector receivers, the self-metrics reader
//! snapshots the collector's `/metrics` (and Tempo's) before and after, and the finding names
//! the receiver, exporter or ingester at fault with the right counts. Also: the lab's page
//! has the captured collector's exact shape, and the reader names wrong URLs as such.

mod lab_support;

use lab_support::{fixture_text, stack};
use otel_canary::backends::ReadClient;
use otel_canary::backends::self_metrics::{SelfMetricsReader, Snapshot};
use otel_canary::config::env::EnvSnapshot;
use otel_canary::config::otlp::{ExportFlags, Protocol, TlsSettings, resolve_export_target};
use otel_canary::config::resource::{ResourceFlags, ResourceSpec};
use otel_canary::diagnose::error_class::ErrorClass;
use otel_canary::diagnose::pipeline_delta::{PipelineDelta, PipelineFinding, PipelineVerdict};
use otel_canary::emit::encoding::Encoding;
use otel_canary::emit::exporter::Exporter;
use otel_canary::emit::payload::MetricTag;
use otel_canary::lab::{LabStack, SignalFault, parse_fault_spec};
use otel_canary::probe::Probe;
use otel_canary::signal::Signal;
use std::net::SocketAddr;
use std::time::Duration;
use url::Url;

/// The lab stack with the collector's self-metrics page on a free port.
async fn lab() -> LabStack {
    let mut lab = stack().await;
    lab.start_collector_metrics(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .expect("self-metrics port");
    lab
}

fn reader(url: &str) -> SelfMetricsReader {
    let url = Url::parse(url).unwrap();
    let client = ReadClient::new(
        &url,
        Vec::new(),
        &TlsSettings::default(),
        Duration::from_secs(5),
    )
    .unwrap();
    SelfMetricsReader::new(client, url)
}

fn collector(lab: &LabStack) -> SelfMetricsReader {
    reader(&lab.collector_metrics_url().expect("started"))
}

fn tempo(lab: &LabStack) -> SelfMetricsReader {
    reader(&format!("{}/metrics", lab.tempo_url()))
}

/// Switches on `--fault`-style specs, as `otel-canary lab --fault` would.
fn set_faults(lab: &LabStack, specs: &[&str]) {
    for signal in Signal::ALL {
        let mut fault = SignalFault::default();
        for spec in specs {
            let (s, setting) = parse_fault_spec(spec).unwrap();
            if s == signal {
                fault.apply(setting);
            }
        }
        lab.state.faults.set(signal, fault);
    }
}

/// Exports one probe (all three signals) with the canary's own exporter; every export is
/// acknowledged whatever the fault, as a collector with a sending queue does.
async fn export_probe(lab: &LabStack, protocol: Protocol) {
    let flags = ExportFlags {
        endpoint: Some(lab.receivers.base_for(protocol, false)),
        protocol: Some(protocol),
        ..Default::default()
    };
    let env = EnvSnapshot::default();
    let target = resolve_export_target(&flags, &env).unwrap();
    let resource = ResourceSpec::resolve(&ResourceFlags::default(), &env).unwrap();
    let outcomes = Exporter::new(&target)
        .unwrap()
        .export(&Probe::start(), &resource, MetricTag::Value)
        .await;
    assert_eq!(outcomes.len(), 3);
    for o in &outcomes {
        assert!(o.accepted(), "{}: {:?}", o.signal, o.last());
    }
}

struct Probed {
    collector: PipelineDelta,
    tempo: PipelineDelta,
}

impl Probed {
    fn of(&self, signal: Signal) -> PipelineFinding {
        self.collector.collector_finding(signal)
    }
}

/// Snapshots both pages, exports a probe over `protocol` with `faults` on, snapshots again.
async fn probe_with(lab: &LabStack, faults: &[&str], protocol: Protocol) -> Probed {
    set_faults(lab, faults);
    let (c, t) = (collector(lab), tempo(lab));
    let (c0, t0) = (c.snapshot().await.unwrap(), t.snapshot().await.unwrap());
    export_probe(lab, protocol).await;
    let (c1, t1) = (c.snapshot().await.unwrap(), t.snapshot().await.unwrap());
    Probed {
        collector: PipelineDelta::between(&c0, &c1),
        tempo: PipelineDelta::between(&t0, &t1),
    }
}

#[tokio::test]
async fn without_faults_every_signal_was_sent_on_and_tempo_received_the_spans() {
    let lab = lab().await;
    let p = probe_with(&lab, &[], Protocol::HttpProtobuf).await;
    for (signal, exporter, items, backend) in [
        (Signal::Trace, "otlp/tempo", 2, "Tempo"),
        (Signal::Log, "otlphttp/loki", 1, "Loki"),
        (Signal::Metric, "otlphttp/mimir", 1, "Mimir or Prometheus"),
    ] {
        let f = p.of(signal);
        assert_eq!(
            f.verdict,
            PipelineVerdict::SentOn,
            "{signal}: {}",
            f.sentence
        );
        assert_eq!(f.receiver.as_deref(), Some("otlp"));
        assert_eq!(f.exporter.as_deref(), Some(exporter));
        assert_eq!(f.items, items, "{signal}");
        assert!(
            f.sentence.ends_with(&format!("(in {backend})")),
            "{}",
            f.sentence
        );
        assert!(
            f.changes
                .iter()
                .any(|c| c.component == "otlp" && c.transport == "http"),
            "{:?}",
            f.changes
        );
    }
    let t = p.tempo.tempo_finding();
    assert_eq!(t.verdict, PipelineVerdict::TempoReceived, "{}", t.sentence);
    assert_eq!(t.items, 2);
    assert_eq!(t.receiver.as_deref(), Some("otlp/otlp_receiver"));
    assert!(
        t.sentence.contains("tenant single-tenant"),
        "{}",
        t.sentence
    );
}

#[tokio::test]
async fn drop_looks_like_a_collector_without_a_logs_pipeline() {
    let lab = lab().await;
    let p = probe_with(&lab, &["log:drop"], Protocol::HttpProtobuf).await;
    let f = p.of(Signal::Log);
    assert_eq!(f.verdict, PipelineVerdict::NoExporter);
    assert_eq!(f.receiver.as_deref(), Some("otlp"));
    assert_eq!(f.exporter, None);
    assert_eq!(f.items, 1);
    assert_eq!(
        f.sentence,
        "the collector's receiver otlp accepted 1 log record but it has no logs exporter: no \
         logs pipeline forwards to Loki"
    );
    // The other pipelines are untouched, and the log was received (never visible).
    assert_eq!(p.of(Signal::Trace).verdict, PipelineVerdict::SentOn);
    assert_eq!(p.of(Signal::Metric).verdict, PipelineVerdict::SentOn);
    assert_eq!(lab.state.store.of(Signal::Log).len(), 1);
}

#[tokio::test]
async fn export_fail_names_the_failing_loki_exporter() {
    let lab = lab().await;
    let p = probe_with(&lab, &["log:export_fail"], Protocol::HttpProtobuf).await;
    let f = p.of(Signal::Log);
    assert_eq!(f.verdict, PipelineVerdict::ExportFailed);
    assert_eq!(f.exporter.as_deref(), Some("otlphttp/loki"));
    assert_eq!(f.items, 1);
    assert_eq!(
        f.sentence,
        "exporter otlphttp/loki failed to send 1 log record \
         (otelcol_exporter_send_failed_log_records_total +1): check its endpoint and the \
         collector's logs"
    );
    assert!(
        lab.state.store.of(Signal::Log).is_empty(),
        "nothing reached Loki"
    );
    assert_eq!(p.of(Signal::Trace).verdict, PipelineVerdict::SentOn);
}

#[tokio::test]
async fn ingester_fail_is_pinned_on_tempos_ingesters() {
    let lab = lab().await;
    let p = probe_with(&lab, &["trace:ingester_fail"], Protocol::Grpc).await;
    let t = p.tempo.tempo_finding();
    assert_eq!(t.verdict, PipelineVerdict::IngesterAppendFailed);
    assert_eq!(t.exporter.as_deref(), Some("127.0.0.1:9095"));
    assert_eq!(t.items, 1, "one failed batch append");
    assert_eq!(
        t.sentence,
        "Tempo's distributor received 2 spans but could not hand them to an ingester \
         (tempo_distributor_ingester_append_failures_total +1, ingester 127.0.0.1:9095): check \
         the ingesters and the distributor→ingester link (TLS?)"
    );
    assert!(
        t.changes
            .iter()
            .any(|c| c.metric == "tempo_receiver_refused_spans" && c.delta == 2.0),
        "{:?}",
        t.changes
    );
    // The collector saw its Tempo exporter fail; the gRPC receiver took the spans.
    let f = p.of(Signal::Trace);
    assert_eq!(f.verdict, PipelineVerdict::ExportFailed);
    assert_eq!(f.exporter.as_deref(), Some("otlp/tempo"));
    assert_eq!(f.items, 2);
    assert!(
        f.changes
            .iter()
            .any(|c| c.metric == "otelcol_receiver_accepted_spans_total"
                && c.transport == "grpc"
                && c.delta == 2.0),
        "{:?}",
        f.changes
    );
    assert!(lab.state.store.of(Signal::Trace).is_empty());
}

#[tokio::test]
async fn an_export_to_another_collector_leaves_this_one_silent() {
    let lab = lab().await;
    let elsewhere = lab_support::stack().await;
    set_faults(&lab, &[]);
    let (c, t) = (collector(&lab), tempo(&lab));
    let (c0, t0) = (c.snapshot().await.unwrap(), t.snapshot().await.unwrap());
    export_probe(&elsewhere, Protocol::HttpJson).await;
    let (c1, t1) = (c.snapshot().await.unwrap(), t.snapshot().await.unwrap());
    let d = PipelineDelta::between(&c0, &c1);
    for s in Signal::ALL {
        let f = d.collector_finding(s);
        assert_eq!(f.verdict, PipelineVerdict::NotReceived, "{s}");
        assert_eq!(
            f.sentence,
            "the collector's receivers saw nothing: the export did not reach this collector \
             (another instance or port?)"
        );
    }
    let tf = PipelineDelta::between(&t0, &t1).tempo_finding();
    assert_eq!(tf.verdict, PipelineVerdict::TempoNotReceived);
}

#[tokio::test]
async fn a_receiver_pushing_back_counts_as_refused() {
    let lab = lab().await;
    set_faults(&lab, &["metric:status=503"]);
    let c = collector(&lab);
    let before = c.snapshot().await.unwrap();
    let payload = lab_support::metric(&Probe::start());
    let url = format!("{}/v1/metrics", lab.receivers.http_base(false));
    let answer = lab_support::send(&url, &payload, Encoding::Json, &[]).await;
    assert_eq!(answer.status, 503);
    let f = PipelineDelta::between(&before, &c.snapshot().await.unwrap())
        .collector_finding(Signal::Metric);
    assert_eq!(
        f.verdict,
        PipelineVerdict::ReceiverRefused,
        "{}",
        f.sentence
    );
    assert_eq!(f.receiver.as_deref(), Some("otlp"));
    assert!(f.sentence.contains("(memory limiter?)"), "{}", f.sentence);
}

/// The receiver/exporter lines (with their HELP/TYPE) of a page, as the fixture was cut.
fn pipeline_lines(page: &str) -> String {
    page.lines()
        .filter(|l| {
            let l = l
                .strip_prefix("# HELP ")
                .or_else(|| l.strip_prefix("# TYPE "))
                .unwrap_or(l);
            l.starts_with("otelcol_receiver_") || l.starts_with("otelcol_exporter_")
        })
        .map(|l| format!("{l}\n"))
        .collect()
}

#[tokio::test]
async fn the_lab_page_has_the_captured_collectors_exact_shape() {
    let lab = lab().await;
    let url = lab.collector_metrics_url().unwrap();
    let fresh = lab_support::get(&url, &[], &[]).await;
    // Before any data a collector lists its exporters (queue gauges) but no receiver series.
    assert!(fresh.text().contains("otelcol_exporter_queue_capacity{"));
    assert!(!fresh.text().contains("otelcol_receiver_"));

    export_probe(&lab, Protocol::HttpProtobuf).await;
    let page = lab_support::get(&url, &[], &[]).await;
    assert_eq!(page.status, 200);
    assert_eq!(
        page.content_type.as_deref(),
        Some("text/plain; version=0.0.4; charset=utf-8; escaping=underscores")
    );
    let text = page.text();
    assert_eq!(
        pipeline_lines(&text),
        fixture_text("collector/self-metrics-receiver-exporter-after-one-probe.txt"),
        "one HTTP probe leaves exactly the captured collector's receiver/exporter lines"
    );
    // Every family the lab writes is in the real page, with the same HELP and TYPE, in the
    // same order.
    let real = fixture_text("collector/self-metrics-full-after-one-probe.txt");
    let headers = |p: &str| -> Vec<String> {
        p.lines()
            .filter(|l| l.starts_with('#'))
            .map(str::to_string)
            .collect()
    };
    let real_headers = headers(&real);
    let mut at = 0;
    for h in headers(&text) {
        let found = real_headers[at..].iter().position(|r| *r == h);
        let i = found.unwrap_or_else(|| panic!("{h} is not in the real page (in order)"));
        at += i + 1;
    }
    // The reader keeps the same series from the lab's page as from the real one.
    let lab_snap = Snapshot::parse(&text);
    let real_snap = Snapshot::parse(&real);
    assert_eq!(
        lab_snap.series().collect::<Vec<_>>(),
        real_snap.series().collect::<Vec<_>>()
    );

    // gRPC series sort before HTTP ones, as in the end-of-session capture.
    export_probe(&lab, Protocol::Grpc).await;
    let text = lab_support::get(&url, &[], &[]).await.text();
    let grpc = text
        .find("otelcol_receiver_accepted_spans_total{otel_scope_name=\"go.opentelemetry.io/collector/receiver/receiverhelper\",otel_scope_version=\"\",receiver=\"otlp\",transport=\"grpc\"} 2\n")
        .expect("grpc series");
    let http = text
        .find("otelcol_receiver_accepted_spans_total{otel_scope_name=\"go.opentelemetry.io/collector/receiver/receiverhelper\",otel_scope_version=\"\",receiver=\"otlp\",transport=\"http\"} 2\n")
        .expect("http series");
    assert!(grpc < http);
    assert!(text.contains("otelcol_exporter_sent_spans_total{exporter=\"otlp/tempo\",otel_scope_name=\"go.opentelemetry.io/collector/exporter/exporterhelper\",otel_scope_version=\"\"} 4\n"));
}

#[tokio::test]
async fn tempos_page_counts_received_spans_and_ingester_failures() {
    let lab = lab().await;
    let url = format!("{}/metrics", lab.tempo_url());
    let fresh = lab_support::get(&url, &[], &[]).await;
    assert_eq!(fresh.status, 200);
    assert!(fresh.text().starts_with("# HELP tempo_build_info "));
    assert!(!fresh.text().contains("tempo_distributor_"));
    set_faults(&lab, &["trace:ingester-fail"]);
    export_probe(&lab, Protocol::HttpJson).await;
    let text = lab_support::get(&url, &[], &[]).await.text();
    for line in [
        "# TYPE tempo_distributor_ingester_append_failures_total counter\n",
        "tempo_distributor_ingester_append_failures_total{ingester=\"127.0.0.1:9095\"} 1\n",
        "tempo_distributor_ingester_appends_total{ingester=\"127.0.0.1:9095\"} 1\n",
        "# HELP tempo_distributor_spans_received_total The total number of spans received per tenant\n",
        "tempo_distributor_spans_received_total{tenant=\"single-tenant\"} 2\n",
        "tempo_receiver_accepted_spans{receiver=\"otlp/otlp_receiver\",transport=\"grpc\"} 0\n",
        "tempo_receiver_refused_spans{receiver=\"otlp/otlp_receiver\",transport=\"grpc\"} 2\n",
    ] {
        assert!(text.contains(line), "{line} missing from:\n{text}");
    }
}

#[tokio::test]
async fn wrong_urls_are_named_as_such() {
    let lab = lab().await;
    // A JSON API, not a metrics page.
    let e = reader(&format!("{}/api/status/buildinfo", lab.tempo_url()))
        .snapshot()
        .await
        .unwrap_err();
    assert_eq!(e.class, ErrorClass::Body, "{e}");
    assert!(e.message.contains("not a Prometheus metrics page"), "{e}");
    // The collector's self-metrics port, wrong path.
    let base = lab
        .collector_metrics_url()
        .unwrap()
        .replace("/metrics", "/nope");
    let e = reader(&base).snapshot().await.unwrap_err();
    assert_eq!(
        (e.class, e.status),
        (ErrorClass::HttpStatus, Some(404)),
        "{e}"
    );
    // Nothing listening.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let e = reader(&format!("http://{closed}/metrics"))
        .snapshot()
        .await
        .unwrap_err();
    assert_eq!(e.class, ErrorClass::ConnectRefused, "{e}");
    // The right page of the wrong component: read fine, the finding says so.
    let t = tempo(&lab).snapshot().await.unwrap();
    let f = PipelineDelta::between(&t, &t).collector_finding(Signal::Log);
    assert_eq!(f.verdict, PipelineVerdict::NoSelfMetrics);
}
