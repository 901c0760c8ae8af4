//! The `grafana` hop end to end against the lab and its Grafana: every signal read again
//! through the datasource proxy, and every way a datasource breaks (missing, pointing at
//! another backend, at nothing, without its tenant header; the canary's credentials refused;
//! Grafana down; discovery ambiguous or empty), each named in the hint. Credentials never
//! appear in any output.

mod common;

use common::{json_out, run_bin_async, signal, stderr, stdout};
use otel_canary::lab::{
    GrafanaFault, LAB_GRAFANA_TOKEN, LabGrafanaConfig, LabStack, LabStackConfig, LabState,
    SignalFault,
};
use otel_canary::signal::Signal;
use serde_json::Value;
use std::io::Write;
use std::time::{Duration, Instant};

async fn stack_with(config: LabGrafanaConfig) -> LabStack {
    let mut lab = LabStack::start(LabStackConfig::ephemeral(), LabState::new())
        .await
        .expect("lab stack starts");
    lab.start_grafana("127.0.0.1:0".parse().unwrap(), config)
        .await
        .expect("lab Grafana starts");
    lab
}

async fn stack() -> LabStack {
    stack_with(LabGrafanaConfig::default()).await
}

fn grafana_fault(lab: &LabStack, signal: Signal, grafana: GrafanaFault) {
    lab.state.faults.set(
        signal,
        SignalFault {
            grafana,
            ..Default::default()
        },
    );
}

fn secret_file(text: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    writeln!(f, "{text}").unwrap();
    f
}

/// `run` args: every signal to the lab, read back directly and through its Grafana.
fn args(lab: &LabStack, extra: &[&str]) -> Vec<String> {
    let mut a: Vec<String> = [
        "run",
        "--endpoint",
        &lab.receivers.http_base(false),
        "--tempo",
        &lab.tempo_url(),
        "--loki",
        &lab.loki_url(),
        "--mimir",
        &lab.mimir_url(),
        "--grafana",
        &lab.grafana_url().unwrap(),
        "--no-search",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    a.extend(extra.iter().map(|s| s.to_string()));
    a
}

/// Basic auth with the lab's admin user (password from the environment).
fn admin() -> Vec<(String, String)> {
    vec![("OTEL_CANARY_GRAFANA_PASSWORD".into(), "admin".into())]
}

async fn run_json(lab: &LabStack, extra: &[&str]) -> (Option<i32>, Value) {
    let mut a = args(lab, extra);
    a.extend(["--grafana-user".into(), "admin".into()]);
    a.extend(["--output".into(), "json".into()]);
    let out = run_bin_async(a, admin()).await;
    (out.status.code(), json_out(&out))
}

fn hop<'a>(sig: &'a Value, name: &str) -> &'a Value {
    sig["hops"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["hop"] == name)
        .unwrap_or_else(|| panic!("no hop {name} in {sig:#}"))
}

fn hint(sig: &Value) -> &str {
    sig["hint"]
        .as_str()
        .unwrap_or_else(|| panic!("no hint: {sig:#}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_signal_is_visible_through_grafana() {
    let lab = stack().await;
    let (code, doc) = run_json(&lab, &[]).await;
    assert_eq!(code, Some(0), "{doc:#}");
    for (name, uid) in [("trace", "tempo"), ("log", "loki"), ("metric", "mimir")] {
        let s = signal(&doc, name);
        let g = hop(s, "grafana");
        assert_eq!(g["status"], "ok", "{name}: {s:#}");
        assert!(g["seconds"].as_f64().unwrap() >= 0.0);
        assert!(g["queries"].as_u64().unwrap() >= 1);
        let detail = g["detail"].as_str().unwrap();
        assert!(
            detail.contains(&format!("datasource `{uid}` (the one ")),
            "{detail}"
        );
        // The grafana hop comes after the direct hops, before total.
        let order: Vec<&str> = s["hops"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["hop"].as_str().unwrap())
            .collect();
        let g_at = order.iter().position(|h| *h == "grafana").unwrap();
        assert_eq!(order[g_at + 1], "total", "{order:?}");
        assert!(order[..g_at].contains(&"query"), "{order:?}");
    }

    // A service-account token works as well, and uids can be named.
    let token = secret_file(LAB_GRAFANA_TOKEN);
    let a = args(
        &lab,
        &[
            "--grafana-token-file",
            token.path().to_str().unwrap(),
            "--grafana-datasource",
            "tempo=tempo,loki=loki",
            "--grafana-datasource",
            "metrics=mimir",
            "--output",
            "json",
        ],
    );
    let out = run_bin_async(a, Vec::new()).await;
    let doc = json_out(&out);
    assert_eq!(out.status.code(), Some(0), "{doc:#}");
    let detail = hop(signal(&doc, "log"), "grafana")["detail"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        detail.contains("chosen by flag --grafana-datasource"),
        "{detail}"
    );

    // The human table and JUnit carry the hop too.
    let out = run_bin_async(
        {
            let mut a = args(&lab, &["--grafana-user", "admin"]);
            a.extend(["--output".into(), "junit".into()]);
            a
        },
        admin(),
    )
    .await;
    let xml = stdout(&out);
    assert!(xml.contains(r#"<testcase name="log.grafana""#), "{xml}");
    let out = run_bin_async(args(&lab, &["--grafana-user", "admin"]), admin()).await;
    let text = stdout(&out);
    assert!(
        text.lines()
            .any(|l| l.contains("grafana") && l.contains("ok")),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_datasource_is_named_with_what_exists() {
    let lab = stack().await;
    grafana_fault(
        &lab,
        Signal::Metric,
        GrafanaFault {
            missing: true,
            ..Default::default()
        },
    );
    // Named by uid: Grafana has no such datasource.
    let (code, doc) = run_json(&lab, &["--grafana-datasource", "metrics=mimir"]).await;
    assert_eq!(code, Some(1), "{doc:#}");
    let m = signal(&doc, "metric");
    assert_eq!(m["status"], "failed");
    assert_eq!(m["reason"], "query_failed");
    assert_eq!(hop(m, "ingest")["status"], "ok", "visible directly");
    assert_eq!(hop(m, "grafana")["status"], "failed");
    let h = hint(m);
    assert!(h.contains("no datasource with uid `mimir`"), "{h}");
    assert!(h.contains("no prometheus datasource at all"), "{h}");
    assert!(h.contains("--grafana-datasource metrics=UID"), "{h}");
    for other in ["trace", "log"] {
        assert_eq!(signal(&doc, other)["status"], "ok", "{doc:#}");
    }

    // Found by type: there is none of that type, and the hint lists what there is.
    let (code, doc) = run_json(&lab, &[]).await;
    assert_eq!(code, Some(1), "{doc:#}");
    let h = hint(signal(&doc, "metric"));
    assert!(h.contains("has no prometheus datasource"), "{h}");
    assert!(
        h.contains("`loki` (loki)") && h.contains("`tempo` (tempo)"),
        "{h}"
    );
    assert!(
        h.contains(&lab.mimir_url()),
        "names the backend to point at: {h}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_datasource_pointing_at_another_backend_is_not_found_through_grafana() {
    let lab = stack().await;
    grafana_fault(
        &lab,
        Signal::Log,
        GrafanaFault {
            wrong_url: true,
            ..Default::default()
        },
    );
    let started = Instant::now();
    let (code, doc) = run_json(&lab, &[]).await;
    assert_eq!(code, Some(1), "{doc:#}");
    let log = signal(&doc, "log");
    assert_eq!(log["reason"], "not_found", "{log:#}");
    assert_eq!(hop(log, "ingest")["status"], "ok");
    let g = hop(log, "grafana");
    assert_eq!(g["status"], "failed");
    assert!(g["queries"].as_u64().unwrap() > 1, "polled briefly: {g:#}");
    let h = hint(log);
    let empty = &lab.grafana.as_ref().unwrap().upstreams.empty_loki;
    assert!(
        h.contains(&format!("datasource `loki` points at {empty}")),
        "{h}"
    );
    assert!(
        h.contains("another Loki than the one the canary reads directly"),
        "{h}"
    );
    assert!(h.contains(&lab.loki_url()), "{h}");
    let clues = log["clues"].as_array().unwrap();
    assert!(
        clues
            .iter()
            .any(|c| c["source"] == "grafana_datasource" && c["explains"] == false),
        "{log:#}"
    );
    // The hop's own deadline: min(5 s, what is left), not the signal's 30 s.
    assert!(
        started.elapsed() < Duration::from_secs(12),
        "{:?}",
        started.elapsed()
    );
    for other in ["trace", "metric"] {
        assert_eq!(signal(&doc, other)["status"], "ok");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_datasource_pointing_at_nothing_is_grafanas_502() {
    let lab = stack().await;
    grafana_fault(
        &lab,
        Signal::Trace,
        GrafanaFault {
            dead_url: true,
            ..Default::default()
        },
    );
    let (code, doc) = run_json(&lab, &[]).await;
    assert_eq!(code, Some(1));
    let t = signal(&doc, "trace");
    assert_eq!(t["reason"], "query_failed");
    let g = hop(t, "grafana");
    assert_eq!(g["queries"], 1, "a proxy 502 ends the hop at once: {g:#}");
    let h = hint(t);
    let dead = &lab.grafana.as_ref().unwrap().upstreams.dead;
    assert!(h.contains("502 Bad Gateway"), "{h}");
    assert!(h.contains(dead.as_str()), "{h}");
    assert!(h.contains(&lab.tempo_url()), "{h}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_token_is_grafanas_401() {
    let lab = stack().await;
    let bad = secret_file("glsa_notTheLabToken_00000000_deadbeef");
    let a = args(
        &lab,
        &[
            "--grafana-token-file",
            bad.path().to_str().unwrap(),
            "--output",
            "json",
        ],
    );
    let out = run_bin_async(a, Vec::new()).await;
    assert_eq!(out.status.code(), Some(1));
    let doc = json_out(&out);
    for name in ["trace", "log", "metric"] {
        let s = signal(&doc, name);
        assert_eq!(s["reason"], "query_failed", "{s:#}");
        assert!(
            hop(s, "grafana")["detail"]
                .as_str()
                .unwrap()
                .contains("HTTP 401")
        );
        let h = hint(s);
        assert!(h.contains("refused the service-account token"), "{h}");
        assert!(h.contains("--grafana-token-file"), "{h}");
    }
    let all = format!("{}{}", stdout(&out), stderr(&out));
    assert!(!all.contains("notTheLabToken"), "the token leaked");

    // No credentials at all: Grafana says it needs some.
    let out = run_bin_async(
        {
            let mut a = args(&lab, &["--signals", "log"]);
            a.extend(["--output".into(), "json".into()]);
            a
        },
        Vec::new(),
    )
    .await;
    let doc = json_out(&out);
    let h = hint(signal(&doc, "log"));
    assert!(
        h.contains("needs credentials (HTTP 401: Unauthorized)"),
        "{h}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_datasource_without_the_tenant_header() {
    let lab = stack_with(LabGrafanaConfig {
        tenant: Some("team-a".into()),
        ..Default::default()
    })
    .await;
    lab.state.set_require_tenant(true);
    // With the header on every datasource, the multi-tenant stack reads fine through Grafana.
    let (code, doc) = run_json(&lab, &["--tenant", "team-a"]).await;
    assert_eq!(code, Some(0), "{doc:#}");

    grafana_fault(
        &lab,
        Signal::Log,
        GrafanaFault {
            no_tenant: true,
            ..Default::default()
        },
    );
    let (code, doc) = run_json(&lab, &["--tenant", "team-a"]).await;
    assert_eq!(code, Some(1), "{doc:#}");
    let log = signal(&doc, "log");
    assert_eq!(log["reason"], "query_failed");
    assert_eq!(hop(log, "ingest")["status"], "ok", "visible directly");
    let g = hop(log, "grafana");
    assert!(
        g["detail"]
            .as_str()
            .unwrap()
            .contains("HTTP 400: Authentication to data source failed"),
        "Grafana reports the backend's 401 as a 400: {g:#}"
    );
    let h = hint(log);
    assert!(
        h.contains("tenant header is not set on datasource `loki`"),
        "{h}"
    );
    assert!(h.contains("httpHeaderName1 = X-Scope-OrgID"), "{h}");
    assert!(h.contains("team-a"), "{h}");
    assert_eq!(signal(&doc, "trace")["status"], "ok");
    assert_eq!(signal(&doc, "metric")["status"], "ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_datasources_of_a_type_are_a_usage_error_naming_each() {
    let lab = stack().await;
    grafana_fault(
        &lab,
        Signal::Log,
        GrafanaFault {
            duplicate: true,
            ..Default::default()
        },
    );
    let mut a = args(&lab, &["--grafana-user", "admin"]);
    a.extend(["--output".into(), "json".into()]);
    let out = run_bin_async(a, admin()).await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stdout(&out).is_empty(),
        "nothing was sent: {}",
        stdout(&out)
    );
    let err = stderr(&out);
    assert!(err.contains("--grafana-datasource"), "{err}");
    assert!(err.contains("2 loki datasources"), "{err}");
    assert!(
        err.contains("`loki` (Loki,") && err.contains("`loki-2` (Loki 2,"),
        "{err}"
    );

    // Naming one settles it.
    let (code, doc) = run_json(&lab, &["--grafana-datasource", "loki=loki-2"]).await;
    assert_eq!(code, Some(0), "{doc:#}");
    assert!(
        hop(signal(&doc, "log"), "grafana")["detail"]
            .as_str()
            .unwrap()
            .contains("`loki-2`")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grafana_unreachable_and_a_failed_signal() {
    let lab = stack().await;
    let dead = lab.grafana.as_ref().unwrap().upstreams.dead.clone();
    let mut a = args(&lab, &["--signals", "log,metric"]);
    let at = a.iter().position(|s| s == "--grafana").unwrap();
    a[at + 1] = dead.clone();
    a.extend(["--output".into(), "json".into()]);
    let out = run_bin_async(a, Vec::new()).await;
    assert_eq!(out.status.code(), Some(1));
    let doc = json_out(&out);
    let h = hint(signal(&doc, "log"));
    assert!(
        h.contains(&format!("Grafana at {dead} cannot be reached")),
        "{h}"
    );
    assert!(h.contains("/api/health"), "{h}");
    assert!(h.contains("chosen by flag --grafana"), "{h}");

    // A signal not visible directly is not read through Grafana.
    lab.state.faults.set(
        Signal::Log,
        SignalFault {
            drop: true,
            ..Default::default()
        },
    );
    let (code, doc) = run_json(&lab, &["--log-timeout", "800ms"]).await;
    assert_eq!(code, Some(1));
    let log = signal(&doc, "log");
    assert_eq!(log["reason"], "not_found");
    assert_eq!(hop(log, "grafana")["status"], "skipped", "{log:#}");
    assert_eq!(hop(signal(&doc, "trace"), "grafana")["status"], "ok");

    // Nor is one whose export failed.
    let mut a = args(&lab, &["--grafana-user", "admin", "--signals", "trace"]);
    let at = a.iter().position(|s| s == "--endpoint").unwrap();
    a[at + 1] = "http://127.0.0.1:9".into();
    a.extend(["--output".into(), "json".into()]);
    let doc = json_out(&run_bin_async(a, admin()).await);
    let t = signal(&doc, "trace");
    assert_eq!(hop(t, "grafana")["status"], "skipped", "{t:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scenarios_grafana_section_is_used() {
    let lab = stack().await;
    let token = secret_file(LAB_GRAFANA_TOKEN);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("with-grafana.toml");
    std::fs::write(
        &file,
        format!(
            "[export]\nendpoint = \"{}\"\n[read]\ntempo = \"{}\"\nloki = \"{}\"\nmimir = \"{}\"\n\
             search = false\n[grafana]\nurl = \"{}\"\ntoken_file = \"{}\"\n\
             datasources = {{ loki = \"loki\" }}\n",
            lab.receivers.http_base(false),
            lab.tempo_url(),
            lab.loki_url(),
            lab.mimir_url(),
            lab.grafana_url().unwrap(),
            token.path().display()
        ),
    )
    .unwrap();
    let out = run_bin_async(
        vec![
            "run".into(),
            "--scenario".into(),
            file.display().to_string(),
            "--output".into(),
            "json".into(),
        ],
        Vec::new(),
    )
    .await;
    let doc = json_out(&out);
    assert_eq!(out.status.code(), Some(0), "{doc:#}");
    let detail = hop(signal(&doc, "log"), "grafana")["detail"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(detail.contains("(grafana.datasources.loki)"), "{detail}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grafana_secrets_never_appear_in_any_output() {
    let lab = stack().await;
    // A failing datasource too, so hints, clues and errors are all printed.
    grafana_fault(
        &lab,
        Signal::Log,
        GrafanaFault {
            dead_url: true,
            ..Default::default()
        },
    );
    let token = secret_file(LAB_GRAFANA_TOKEN);
    let bad = secret_file("glsa_leakyBadToken_11111111_cafef00d");
    // base64("admin:s3cret-grafana-pw") and the password itself.
    let password = "s3cret-grafana-pw";
    let basic = "YWRtaW46czNjcmV0LWdyYWZhbmEtcHc=";
    for output in ["human", "json", "junit"] {
        for auth in [
            vec!["--grafana-token-file", token.path().to_str().unwrap()],
            vec!["--grafana-token-file", bad.path().to_str().unwrap()],
            vec!["--grafana-user", "admin"],
        ] {
            let mut extra = auth.clone();
            extra.extend(["--output", output, "--log-level", "trace"]);
            let out = run_bin_async(
                args(&lab, &extra),
                vec![("OTEL_CANARY_GRAFANA_PASSWORD".into(), password.into())],
            )
            .await;
            let all = format!("{}{}", stdout(&out), stderr(&out));
            assert!(all.contains("grafana"), "{output} {auth:?}: {all}");
            for secret in [
                LAB_GRAFANA_TOKEN,
                "glsa_leakyBadToken_11111111_cafef00d",
                "leakyBadToken",
                password,
                basic,
            ] {
                assert!(
                    !all.contains(secret),
                    "{secret} leaked ({output}, {auth:?}):\n{all}"
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_grafana_settings_exit_2_naming_the_input() {
    let lab = stack().await;
    let empty = secret_file("");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--grafana", "grafana:3000"], "--grafana"),
        (vec!["--grafana", "ftp://grafana:3000"], "--grafana"),
        (
            vec!["--grafana", "http://admin:pw@grafana:3000"],
            "--grafana",
        ),
        (
            vec![
                "--grafana",
                "http://g:3000",
                "--grafana-datasource",
                "loki=bad uid!",
            ],
            "--grafana-datasource",
        ),
        (
            vec![
                "--grafana",
                "http://g:3000",
                "--grafana-datasource",
                "jaeger=x",
            ],
            "--grafana-datasource",
        ),
        (
            vec!["--grafana-datasource", "loki=x"],
            "--grafana-datasource",
        ),
        (
            vec!["--grafana", "http://g:3000", "--grafana-user", "admin"],
            "--grafana-user",
        ),
        (
            vec![
                "--grafana",
                "http://g:3000",
                "--grafana-token-file",
                "/nonexistent/token",
            ],
            "--grafana-token-file",
        ),
        (
            vec![
                "--grafana",
                "http://g:3000",
                "--grafana-token-file",
                empty.path().to_str().unwrap(),
            ],
            "--grafana-token-file",
        ),
    ];
    for (extra, input) in cases {
        let mut a: Vec<String> = vec![
            "run".into(),
            "--endpoint".into(),
            lab.receivers.http_base(false),
        ];
        a.extend(extra.iter().map(|s| s.to_string()));
        let out = run_bin_async(a, Vec::new()).await;
        assert_eq!(out.status.code(), Some(2), "{extra:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(input), "{extra:?}: {}", stderr(&out));
        assert!(!stderr(&out).contains(":pw@"), "{}", stderr(&out));
    }
    // A scenario's [grafana] section is checked like the rest of the file.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.toml");
    std::fs::write(&file, "[grafana]\nurl = \"http://g:3000\"\ntoken = \"x\"\n").unwrap();
    let out = run_bin_async(
        vec![
            "run".into(),
            "--scenario".into(),
            file.display().to_string(),
        ],
        Vec::new(),
    )
    .await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("bad.toml:3: key 'token'"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_counts_the_grafana_hop_and_keeps_running_when_discovery_is_ambiguous() {
    use common::serve_process::{ServeProcess, sample};
    let lab = stack().await;
    grafana_fault(
        &lab,
        Signal::Log,
        GrafanaFault {
            duplicate: true,
            ..Default::default()
        },
    );
    let token = secret_file(LAB_GRAFANA_TOKEN);
    let mut a = args(
        &lab,
        &[
            "--grafana-token-file",
            token.path().to_str().unwrap(),
            "--interval",
            "500ms",
        ],
    );
    a.remove(0); // "run"
    let serve = ServeProcess::start(&a);
    let client = common::real_backends::http_client();
    let deadline = Instant::now() + Duration::from_secs(20);
    let hop = r#"otel_canary_hop_duration_seconds_count{scenario="default",signal="trace",hop="grafana"}"#;
    let failed = r#"otel_canary_probe_failures_total{scenario="default",signal="log",reason="query_failed"}"#;
    let page = loop {
        let page = client
            .get(serve.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if sample(&page, hop).is_some_and(|v| v >= 1.0) && sample(&page, failed).is_some() {
            break page;
        }
        assert!(
            Instant::now() < deadline,
            "no grafana hop in /metrics:\n{page}\n{}",
            serve.stderr_text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        sample(
            &page,
            r#"otel_canary_signal_up{scenario="default",signal="trace"}"#
        ),
        Some(1.0),
        "{page}"
    );
    let logs = serve.stderr_text();
    assert!(logs.contains("2 loki datasources"), "{logs}");
    assert!(!logs.contains(LAB_GRAFANA_TOKEN), "{logs}");
    let (status, _, _) = serve.terminate(Duration::from_secs(15));
    assert!(status.success());
}

/// With derived checks on, the trace's grafana hop (read as soon as the trace is visible, beside
/// the derived polls) still closes the read hops, before `total`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_grafana_hop_closes_the_trace_after_derived_hops() {
    let lab = stack().await;
    lab.state.faults.set(
        Signal::Trace,
        SignalFault {
            generator_delay: Some(Duration::from_millis(1500)),
            ..Default::default()
        },
    );
    let (code, doc) = run_json(&lab, &["--signals", "trace", "--derived", "span-metrics"]).await;
    assert_eq!(code, Some(0), "{doc:#}");
    let trace = signal(&doc, "trace");
    let names: Vec<&str> = trace["hops"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["hop"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "export",
            "ingest",
            "query",
            "search",
            "span_metrics",
            "grafana",
            "total"
        ]
    );
    let g = hop(trace, "grafana");
    assert_eq!(g["status"], "ok", "{g:#}");
    assert_eq!(hop(trace, "span_metrics")["status"], "ok");
}
