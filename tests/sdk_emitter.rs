//! The SDK emitter (`--emitter sdk|both`) end to end against the built-in stack: every signal
//! over HTTP/protobuf, HTTP/JSON and gRPC arrives with the probe's ids and resource; the
//! report says where each signal went and which setting (or the SDK itself) chose it; failures
//! are classified like the wire emitter's and never silent; `both` names what differs; the
//! canary's own probe trace (`--self-trace`) arrives with a span per hop; bad input exits 2.

mod common;

use common::{json_out, run_bin_async, stderr};
use opentelemetry_proto::tonic::common::v1::{KeyValue, any_value};
use otel_canary::emit::encoding::Payload;
use otel_canary::lab::{LabStack, LabStackConfig, LabState, SignalFault};
use otel_canary::probe::hex;
use otel_canary::signal::Signal;
use serde_json::Value;

async fn stack() -> LabStack {
    LabStack::start(LabStackConfig::ephemeral(), LabState::new())
        .await
        .expect("lab stack starts")
}

fn reads(lab: &LabStack) -> Vec<String> {
    [
        "--tempo",
        &lab.tempo_url(),
        "--loki",
        &lab.loki_url(),
        "--mimir",
        &lab.mimir_url(),
        "--timeout",
        "5s",
        "--search-timeout",
        "3s",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn strings(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

/// `run ... --output json` with `env`; the exit code and the document.
async fn run_json(args: Vec<String>, env: &[(&str, &str)]) -> (Option<i32>, Value) {
    let mut a = vec!["run".to_string()];
    a.extend(args);
    a.extend(strings(&["--output", "json"]));
    let env = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let out = run_bin_async(a, env).await;
    (out.status.code(), json_out(&out))
}

fn signal<'a>(doc: &'a Value, name: &str, emitter: &str) -> &'a Value {
    doc["signals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["signal"] == name && s["emitter"] == emitter)
        .unwrap_or_else(|| panic!("no {emitter} {name} in {doc:#}"))
}

fn attr<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a str> {
    attrs
        .iter()
        .find(|k| k.key == key)
        .and_then(|k| match k.value.as_ref()?.value.as_ref()? {
            any_value::Value::StringValue(s) => Some(s.as_str()),
            _ => None,
        })
}

/// What the lab holds of one probe: spans (service, span id hex, parent hex, probe id attr),
/// the log's (trace id, span id, probe id, service, instance) and marker samples (value,
/// service, instance, canary_emitter).
fn spans_of(lab: &LabStack, trace_id: &str) -> Vec<(String, String, String, String)> {
    let mut out = Vec::new();
    for r in lab.state.store.of(Signal::Trace) {
        let Payload::Trace(req) = &r.payload else {
            continue;
        };
        for rs in &req.resource_spans {
            let res = rs
                .resource
                .as_ref()
                .map(|r| r.attributes.clone())
                .unwrap_or_default();
            let service = attr(&res, "service.name").unwrap_or_default().to_string();
            for ss in &rs.scope_spans {
                for s in &ss.spans {
                    if hex(&s.trace_id) != trace_id {
                        continue;
                    }
                    out.push((
                        service.clone(),
                        hex(&s.span_id),
                        hex(&s.parent_span_id),
                        attr(&s.attributes, "canary.probe_id")
                            .unwrap_or_default()
                            .to_string(),
                    ));
                }
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_signal_arrives_over_every_protocol_with_the_probes_ids_and_resource() {
    let lab = stack().await;
    for protocol in ["http/protobuf", "http/json", "grpc"] {
        let endpoint = match protocol {
            "grpc" => lab.receivers.grpc_base(false),
            _ => lab.receivers.http_base(false),
        };
        let mut args = strings(&[
            "--emitter",
            "sdk",
            "--service-instance-id",
            "sdk-host",
            "--endpoint",
            &endpoint,
            "--protocol",
            protocol,
        ]);
        args.extend(reads(&lab));
        let (code, doc) = run_json(args, &[]).await;
        assert_eq!(code, Some(0), "{protocol}: {doc:#}");
        assert_eq!(doc["emitter"], "sdk");
        for name in ["trace", "log", "metric"] {
            let s = signal(&doc, name, "sdk");
            assert_eq!(s["status"], "ok", "{protocol} {name}: {s:#}");
            let sdk = &s["export"]["sdk"];
            assert_eq!(sdk["exporter"], "opentelemetry-otlp 0.33.1");
            let processor = if name == "metric" {
                "periodic"
            } else {
                "batch"
            };
            assert_eq!(sdk["processor"], processor);
            let calls: Vec<(&str, bool)> = sdk["calls"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| (c["call"].as_str().unwrap(), c["ok"].as_bool().unwrap()))
                .collect();
            assert!(calls.contains(&("force_flush", true)), "{calls:?}");
            assert!(calls.contains(&("shutdown", true)), "{calls:?}");
            assert!(sdk["diagnostics"].as_array().unwrap().is_empty(), "{sdk:#}");
            assert_eq!(s["export"]["protocol"]["value"], protocol);
            // The export hop is the flush.
            let export = &s["hops"][0];
            assert_eq!(export["hop"], "export");
            assert!(export["seconds"].as_f64().unwrap() > 0.0);
        }
        // The lab holds the probe's own ids, both services and the probe id on each span.
        let probe = &doc["probe"];
        let trace_id = probe["trace_id"].as_str().unwrap();
        let mut spans = spans_of(&lab, trace_id);
        spans.sort();
        let id = probe["probe_id"].as_str().unwrap().to_string();
        let client = probe["client_span_id"].as_str().unwrap().to_string();
        let server = probe["server_span_id"].as_str().unwrap().to_string();
        assert_eq!(
            spans,
            vec![
                (
                    "otel-canary".to_string(),
                    client.clone(),
                    String::new(),
                    id.clone()
                ),
                (
                    "otel-canary-peer".to_string(),
                    server,
                    client.clone(),
                    id.clone()
                ),
            ],
            "{protocol}"
        );
        // The log carries the client span's ids; its resource names the instance.
        let log = lab
            .state
            .store
            .of(Signal::Log)
            .into_iter()
            .find_map(|r| match r.payload {
                Payload::Log(req) => req.resource_logs.into_iter().find(|rl| {
                    rl.scope_logs
                        .iter()
                        .flat_map(|s| &s.log_records)
                        .any(|l| hex(&l.trace_id) == trace_id)
                }),
                _ => None,
            })
            .unwrap_or_else(|| panic!("{protocol}: no log with the probe's trace id"));
        let res = log.resource.unwrap().attributes;
        assert_eq!(attr(&res, "service.name"), Some("otel-canary"));
        assert_eq!(attr(&res, "service.instance.id"), Some("sdk-host"));
        assert_eq!(attr(&res, "telemetry.sdk.language"), Some("rust"));
        let record = &log.scope_logs[0].log_records[0];
        assert_eq!(hex(&record.span_id), client);
        assert_eq!(
            attr(&record.attributes, "canary.probe_id"),
            Some(id.as_str())
        );
        // The marker on the SDK's own stable series.
        let marker = probe["marker"].as_f64().unwrap();
        let hit = lab.state.store.of(Signal::Metric).into_iter().any(|r| {
            let Payload::Metric(req) = &r.payload else {
                return false;
            };
            req.resource_metrics.iter().any(|rm| {
                rm.scope_metrics.iter().flat_map(|s| &s.metrics).any(|m| {
                    use opentelemetry_proto::tonic::metrics::v1::{metric, number_data_point};
                    let Some(metric::Data::Gauge(g)) = &m.data else {
                        return false;
                    };
                    m.name == "otel_canary_probe_marker"
                        && g.data_points.iter().any(|p| {
                            p.value == Some(number_data_point::Value::AsDouble(marker))
                                && attr(&p.attributes, "canary_emitter") == Some("sdk")
                        })
                })
            })
        });
        assert!(
            hit,
            "{protocol}: no marker {marker} with canary_emitter=sdk"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_report_says_where_each_signal_went_and_what_chose_it() {
    let lab = stack().await;
    let http = lab.receivers.http_base(false);
    struct Case {
        name: &'static str,
        args: Vec<String>,
        env: Vec<(&'static str, String)>,
        url: String,
        source: Value,
        sdk_defaults: Vec<&'static str>,
    }
    let cases = vec![
        Case {
            name: "env only",
            args: Vec::new(),
            env: vec![
                ("OTEL_EXPORTER_OTLP_ENDPOINT", http.clone()),
                ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json".into()),
                ("OTEL_EXPORTER_OTLP_TIMEOUT", "4000".into()),
            ],
            url: format!("{http}/v1/logs"),
            source: serde_json::json!({"kind": "env", "name": "OTEL_EXPORTER_OTLP_ENDPOINT"}),
            sdk_defaults: vec!["compression"],
        },
        Case {
            name: "flag over env",
            args: strings(&["--logs-endpoint", &format!("{http}/v1/logs")]),
            env: vec![(
                "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
                "http://127.0.0.1:9/v1/logs".into(),
            )],
            url: format!("{http}/v1/logs"),
            source: serde_json::json!({"kind": "flag", "name": "--logs-endpoint"}),
            sdk_defaults: vec!["protocol", "compression", "timeout"],
        },
        Case {
            name: "the SDK's own default",
            args: Vec::new(),
            env: Vec::new(),
            url: "http://localhost:4318/v1/logs".into(),
            source: serde_json::json!({"kind": "sdk_default", "unset": [
                "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"]}),
            sdk_defaults: vec!["endpoint", "protocol", "compression", "timeout"],
        },
    ];
    for c in cases {
        let mut args = strings(&["--emitter", "sdk", "--signals", "log"]);
        args.extend(c.args);
        args.extend(reads(&lab));
        let env: Vec<(&str, &str)> = c.env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (_, doc) = run_json(args, &env).await;
        let export = &signal(&doc, "log", "sdk")["export"];
        assert_eq!(export["url"]["value"], c.url, "{}: {export:#}", c.name);
        assert_eq!(export["url"]["source"], c.source, "{}", c.name);
        assert_eq!(export["emitter"], "sdk", "{}", c.name);
        let defaults: Vec<&str> = export["sdk"]["sdk_defaults"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(defaults, c.sdk_defaults, "{}", c.name);
        if c.name == "env only" {
            assert_eq!(export["protocol"]["value"], "http/json");
            assert_eq!(export["sdk"]["timeout_seconds"]["value"], 4.0);
            assert_eq!(signal(&doc, "log", "sdk")["status"], "ok", "{doc:#}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_names_a_stale_variable_that_sends_the_sdk_elsewhere() {
    let lab = stack().await;
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("split.toml");
    std::fs::write(
        &scenario,
        format!(
            "[export]\nendpoint = \"{}\"\n[read]\ntempo = \"{}\"\nloki = \"{}\"\nmimir = \"{}\"\n\
             [deadlines]\ntimeout = \"5s\"\n",
            lab.receivers.http_base(false),
            lab.tempo_url(),
            lab.loki_url(),
            lab.mimir_url()
        ),
    )
    .unwrap();
    let stale = "http://127.0.0.1:9/v1/logs";
    let http = lab.receivers.http_base(false);
    let args = strings(&[
        "--scenario",
        scenario.to_str().unwrap(),
        "--emitter",
        "both",
        "--no-search",
    ]);
    let env = [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", http.as_str()),
        ("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", stale),
    ];
    let (code, doc) = run_json(args.clone(), &env).await;
    assert_eq!(code, Some(1), "the SDK's log fails: {doc:#}");
    assert_eq!(doc["emitter"], "both");
    let probes = doc["probes"].as_array().unwrap();
    assert_eq!(probes.len(), 2);
    assert_eq!(
        (probes[0]["emitter"].as_str(), probes[0]["ok"].as_bool()),
        (Some("wire"), Some(true))
    );
    assert_eq!(
        (probes[1]["emitter"].as_str(), probes[1]["ok"].as_bool()),
        (Some("sdk"), Some(false))
    );
    assert_ne!(
        probes[0]["probe"]["probe_id"],
        probes[1]["probe"]["probe_id"]
    );
    assert_eq!(doc["signals"].as_array().unwrap().len(), 6);
    assert_eq!(signal(&doc, "log", "wire")["status"], "ok");
    assert_eq!(signal(&doc, "log", "sdk")["reason"], "connect_refused");
    assert_eq!(signal(&doc, "trace", "sdk")["status"], "ok");
    let diffs = doc["differences"].as_array().unwrap();
    let find = |signal: &str, what: &str| {
        diffs
            .iter()
            .find(|d| d["signal"] == signal && d["what"] == what)
            .unwrap_or_else(|| panic!("no {signal} {what} difference in {diffs:#?}"))
    };
    let url = find("log", "url");
    assert_eq!(url["sdk"], stale);
    let text = url["text"].as_str().unwrap();
    assert!(
        text.starts_with(&format!(
            "log: the SDK sent logs to {stale}, from OTEL_EXPORTER_OTLP_LOGS_ENDPOINT; the wire \
             emitter used the scenario's {http}/v1/logs"
        )),
        "{text}"
    );
    assert_eq!(find("log", "verdict")["sdk"], "FAILED connect_refused");
    // Same URL for traces, chosen by different settings.
    let chosen = find("trace", "chosen_by");
    assert_eq!(chosen["sdk"], "env OTEL_EXPORTER_OTLP_ENDPOINT");
    // The human report puts them side by side and says it in words.
    let mut a = vec!["run".to_string()];
    a.extend(args);
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let out = run_bin_async(a, env).await;
    let human = String::from_utf8_lossy(&out.stdout);
    assert!(human.contains("side by side (* = differs):"), "{human}");
    assert!(human.contains("log (sdk)"), "{human}");
    assert!(
        human.contains("the SDK sent logs to http://127.0.0.1:9/v1/logs"),
        "{human}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdk_failures_are_classified_like_the_wire_emitters_and_never_silent() {
    let lab = stack().await;
    struct Case {
        name: &'static str,
        fault: Option<SignalFault>,
        dead: bool,
        http: &'static str,
        grpc: &'static str,
    }
    let cases = [
        Case {
            name: "dead port",
            fault: None,
            dead: true,
            http: "connect_refused",
            grpc: "connect_refused",
        },
        Case {
            name: "400 Status",
            fault: Some(SignalFault {
                status: Some(400),
                ..Default::default()
            }),
            dead: false,
            http: "http_status",
            grpc: "grpc_status",
        },
        Case {
            name: "503",
            fault: Some(SignalFault {
                status: Some(503),
                ..Default::default()
            }),
            dead: false,
            http: "unavailable",
            grpc: "unavailable",
        },
        Case {
            name: "accepts and drops",
            fault: Some(SignalFault {
                drop: true,
                ..Default::default()
            }),
            dead: false,
            http: "not_found",
            grpc: "not_found",
        },
    ];
    for c in cases {
        lab.state.faults.clear();
        if let Some(f) = &c.fault {
            lab.state.faults.set(Signal::Log, f.clone());
        }
        for (protocol, want) in [("http/protobuf", c.http), ("grpc", c.grpc)] {
            let endpoint = match (c.dead, protocol) {
                (true, _) => "http://127.0.0.1:9".to_string(),
                (false, "grpc") => lab.receivers.grpc_base(false),
                (false, _) => lab.receivers.http_base(false),
            };
            let mut args = strings(&[
                "--emitter",
                "sdk",
                "--signals",
                "log",
                "--endpoint",
                &endpoint,
                "--protocol",
                protocol,
                "--log-timeout",
                "2s",
            ]);
            args.extend(reads(&lab));
            let (code, doc) = run_json(args, &[]).await;
            let log = signal(&doc, "log", "sdk");
            let what = format!("{} over {protocol}: {log:#}", c.name);
            assert_eq!(code, Some(1), "{what}");
            assert_eq!(log["reason"], want, "{what}");
            assert!(
                log["hint"].as_str().is_some_and(|h| !h.is_empty()),
                "{what}"
            );
            let sdk = &log["export"]["sdk"];
            if want == "not_found" {
                // The SDK said success; the verdict says that is the silent failure.
                assert!(sdk["calls"][0]["ok"].as_bool().unwrap(), "{what}");
                let hint = log["hint"].as_str().unwrap();
                assert!(
                    hint.contains("SDK reported success") && hint.contains("incident 7"),
                    "{what}"
                );
            } else {
                assert_eq!(sdk["calls"][0]["call"], "force_flush", "{what}");
                assert!(!sdk["calls"][0]["ok"].as_bool().unwrap(), "{what}");
                let said: Vec<&str> = sdk["diagnostics"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|d| d["name"].as_str().unwrap())
                    .collect();
                assert!(
                    said.contains(&"BatchLogProcessor.ExportError"),
                    "{what}: {said:?}"
                );
            }
            if c.name == "400 Status" {
                let message = log["export"]["attempts"][0]["error"]["message"]
                    .as_str()
                    .unwrap();
                assert!(
                    message.contains("lab fault: answering 400"),
                    "the server's words: {what}"
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sampler_that_drops_the_span_is_not_sent_not_ok() {
    let lab = stack().await;
    let mut args = strings(&[
        "--emitter",
        "sdk",
        "--signals",
        "trace",
        "--endpoint",
        &lab.receivers.http_base(false),
    ]);
    args.extend(reads(&lab));
    let (code, doc) = run_json(args, &[("OTEL_TRACES_SAMPLER", "always_off")]).await;
    assert_eq!(code, Some(1));
    let trace = signal(&doc, "trace", "sdk");
    assert_eq!(trace["reason"], "not_sent", "{trace:#}");
    assert_eq!(trace["export"]["sdk"]["sampled"], false);
    assert!(
        lab.state.store.of(Signal::Trace).is_empty(),
        "nothing left the process"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn self_trace_arrives_with_a_span_per_hop() {
    let lab = stack().await;
    let mut args = strings(&[
        "--endpoint",
        &lab.receivers.http_base(false),
        "--self-trace",
        &lab.receivers.grpc_base(false),
        "--self-trace-protocol",
        "grpc",
    ]);
    args.extend(reads(&lab));
    let (code, doc) = run_json(args, &[]).await;
    assert_eq!(code, Some(0), "{doc:#}");
    let probe_id = doc["probe"]["probe_id"].as_str().unwrap();
    // The canary's own trace: service otel-canary-self, never the probe's trace.
    let mut names = Vec::new();
    let mut root_probe = None;
    for r in lab.state.store.of(Signal::Trace) {
        let Payload::Trace(req) = &r.payload else {
            continue;
        };
        for rs in &req.resource_spans {
            let res = rs.resource.as_ref().unwrap().attributes.clone();
            if attr(&res, "service.name") != Some("otel-canary-self") {
                continue;
            }
            for s in rs.scope_spans.iter().flat_map(|s| &s.spans) {
                names.push(s.name.clone());
                if s.name == "otel-canary probe" {
                    root_probe = attr(&s.attributes, "canary.probe_id").map(str::to_string);
                    assert_eq!(s.links.len(), 1, "linked to the probe's trace");
                    assert_eq!(
                        hex(&s.links[0].trace_id),
                        doc["probe"]["trace_id"].as_str().unwrap()
                    );
                }
            }
        }
    }
    assert_eq!(root_probe.as_deref(), Some(probe_id), "{names:?}");
    let hops: usize = doc["signals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            s["hops"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|h| h["hop"] != "total")
                .count()
        })
        .sum();
    assert_eq!(
        names.iter().filter(|n| n.starts_with("hop ")).count(),
        hops,
        "{names:?}"
    );
    for s in [
        "signal trace",
        "signal log",
        "signal metric",
        "hop ingest",
        "hop search",
    ] {
        assert!(names.iter().any(|n| n == s), "{s} in {names:?}");
    }
    assert_eq!(names.len(), 1 + 3 + hops);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_emitters_and_self_trace_urls_exit_2_naming_them() {
    let out = run_bin_async(strings(&["run", "--emitter", "otlp"]), Vec::new()).await;
    assert_eq!(out.status.code(), Some(2));
    let e = stderr(&out);
    assert!(
        e.contains("--emitter") && e.contains("'otlp' is not an emitter"),
        "{e}"
    );
    let out = run_bin_async(strings(&["run", "--self-trace", "tempo:4318"]), Vec::new()).await;
    assert_eq!(out.status.code(), Some(2));
    let e = stderr(&out);
    assert!(
        e.contains("flag --self-trace") && e.contains("no scheme"),
        "{e}"
    );
    let dir = tempfile::tempdir().unwrap();
    let sc = dir.path().join("bad.toml");
    std::fs::write(&sc, "[probe]\nemitter = \"sdkk\"\n").unwrap();
    let out = run_bin_async(
        strings(&["run", "--scenario", sc.to_str().unwrap()]),
        Vec::new(),
    )
    .await;
    assert_eq!(out.status.code(), Some(2));
    let e = stderr(&out);
    assert!(
        e.contains("probe.emitter") && e.contains("'sdkk' is not an emitter"),
        "{e}"
    );
    // An endpoint variable the SDK cannot use is a configuration error too.
    let out = run_bin_async(
        strings(&["emit", "--emitter", "sdk"]),
        vec![(
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT".into(),
            "localhost:4318".into(),
        )],
    )
    .await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_both_labels_the_sdks_series_and_counts_dropped_self_trace_spans() {
    use common::real_backends::http_client;
    use common::serve_process::{ServeProcess, sample};
    let lab = stack().await;
    // The lab refuses logs (503): both emitters' logs fail, each on its own series.
    lab.state.faults.set(
        Signal::Log,
        SignalFault {
            status: Some(503),
            ..Default::default()
        },
    );
    let mut args = strings(&[
        "--interval",
        "300ms",
        "--no-search",
        "--timeout",
        "3s",
        "--emitter",
        "both",
        "--endpoint",
        &lab.receivers.http_base(false),
        // Nothing listens there: every self-trace span is dropped, and counted.
        "--self-trace",
        "http://127.0.0.1:9",
    ]);
    args.extend(strings(&[
        "--tempo",
        &lab.tempo_url(),
        "--loki",
        &lab.loki_url(),
        "--mimir",
        &lab.mimir_url(),
    ]));
    let serve = ServeProcess::start(&args);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let page = loop {
        let page = http_client()
            .get(serve.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let dropped = sample(&page, "otel_canary_self_trace_spans_dropped_total").unwrap_or(0.0);
        let sdk_trace = sample(
            &page,
            r#"otel_canary_signal_up{scenario="default",signal="trace",emitter="sdk"}"#,
        );
        if dropped > 0.0 && sdk_trace.is_some() {
            break page;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not seen within 30 s:\n{page}\n{}",
            serve.stderr_text()
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    // Traces pass for both emitters, logs fail for both: one series per emitter.
    for (series, want) in [
        (
            r#"otel_canary_signal_up{scenario="default",signal="trace"}"#,
            1.0,
        ),
        (
            r#"otel_canary_signal_up{scenario="default",signal="trace",emitter="sdk"}"#,
            1.0,
        ),
        (
            r#"otel_canary_signal_up{scenario="default",signal="log"}"#,
            0.0,
        ),
        (
            r#"otel_canary_signal_up{scenario="default",signal="log",emitter="sdk"}"#,
            0.0,
        ),
    ] {
        assert_eq!(sample(&page, series), Some(want), "{series}\n{page}");
    }
    assert!(
        sample(
            &page,
            r#"otel_canary_probe_failures_total{scenario="default",signal="log",reason="unavailable",emitter="sdk"}"#
        )
        .is_some_and(|n| n >= 1.0),
        "{page}"
    );
    // The latest report holds both probes.
    let last: Value = serde_json::from_str(
        &http_client()
            .get(serve.url("/api/v1/last?scenario=default"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(last["emitter"], "both");
    assert_eq!(last["probes"].as_array().unwrap().len(), 2);
    // The SDK's own diagnostics went into the report, not onto stderr.
    let (status, _, stderr) = serve.terminate(std::time::Duration::from_secs(15));
    assert!(status.success());
    assert!(
        !stderr.contains("BatchLogProcessor.ExportError"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emit_both_sends_two_probes_and_says_when_they_agree() {
    let lab = stack().await;
    let endpoint = lab.receivers.http_base(false);
    let args = strings(&["emit", "--emitter", "both", "--endpoint", &endpoint]);
    let mut json = args.clone();
    json.extend(strings(&["--output", "json"]));
    let out = run_bin_async(json, Vec::new()).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let doc = json_out(&out);
    assert_eq!(doc["emitter"], "both");
    let emitters: Vec<&str> = doc["signals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["emitter"].as_str().unwrap())
        .collect();
    assert_eq!(emitters, ["wire", "wire", "wire", "sdk", "sdk", "sdk"]);
    let probes = doc["probes"].as_array().unwrap();
    assert_ne!(
        probes[0]["probe"]["trace_id"],
        probes[1]["probe"]["trace_id"]
    );
    assert!(doc["signals"][3]["sdk"]["calls"].is_array(), "{doc:#}");
    assert!(
        doc.get("differences").is_none(),
        "same URL, same verdicts: {doc:#}"
    );
    // Both probes reached the lab: two traces, four spans.
    let traces: Vec<&str> = probes
        .iter()
        .map(|p| p["probe"]["trace_id"].as_str().unwrap())
        .collect();
    for t in traces {
        assert_eq!(spans_of(&lab, t).len(), 2, "trace {t}");
    }
    let out = run_bin_async(args, Vec::new()).await;
    let human = String::from_utf8_lossy(&out.stdout);
    assert!(human.contains("trace (sdk)"), "{human}");
    assert!(
        human.contains("the two emitters went the same way and got the same verdicts"),
        "{human}"
    );
}
