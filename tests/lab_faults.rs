//! Fault switches on the query side and multi-tenancy: data acknowledged but late (ingest
//! delay), never visible (drop), late only in Tempo search (search delay), queries failing
//! (query error), and `X-Scope-OrgID` enforcement with per-tenant visibility, answering with
//! the auth-enabled Loki/Mimir fixtures' exact bytes.

mod lab_support;

use lab_support::*;
use otel_canary::emit::encoding::Encoding;
use otel_canary::lab::{LabStack, SignalFault};
use otel_canary::probe::Probe;
use otel_canary::signal::Signal;
use std::time::Duration;

/// Whether each backend shows the probe now: (Tempo by id, Loki, Prometheus).
async fn visible(lab: &LabStack, p: &Probe, tenant: Option<&str>) -> (bool, bool, bool) {
    let h: Vec<(&str, &str)> = tenant
        .map(|t| vec![("X-Scope-OrgID", t)])
        .unwrap_or_default();
    let t = get(
        &format!("{}/api/traces/{}", lab.tempo_url(), p.trace_id_hex()),
        &[],
        &h,
    )
    .await;
    let q = format!(
        "{{service_name=\"otel-canary\"}} | canary_probe_id=\"{}\"",
        p.probe_id
    );
    let l = get(
        &format!("{}/loki/api/v1/query_range", lab.loki_url()),
        &[("query", &q)],
        &h,
    )
    .await
    .json();
    let m = get(
        &format!("{}/prometheus/api/v1/query", lab.mimir_url()),
        &[("query", "otel_canary_probe_marker{job=\"otel-canary\"}")],
        &h,
    )
    .await
    .json();
    let marker = format!("{}", p.marker as u64);
    (
        t.status == 200,
        !l["data"]["result"].as_array().unwrap().is_empty(),
        m["data"]["result"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["value"][1] == marker.as_str()),
    )
}

async fn send_all(lab: &LabStack, p: &Probe) {
    for payload in [trace(p), log(p), metric(p)] {
        send_to_receiver(lab, &payload, Encoding::Protobuf).await;
    }
}

fn set_all(lab: &LabStack, fault: SignalFault) {
    for s in Signal::ALL {
        lab.state.faults.set(s, fault.clone());
    }
}

#[tokio::test]
async fn ingest_delay_hides_data_until_it_has_passed() {
    let lab = stack().await;
    set_all(
        &lab,
        SignalFault {
            ingest_delay: Duration::from_millis(600),
            ..Default::default()
        },
    );
    let p = probe();
    send_all(&lab, &p).await;
    // Decided at ingest: switching the fault off now does not make the data visible sooner.
    lab.state.faults.clear();
    assert_eq!(visible(&lab, &p, None).await, (false, false, false));
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(visible(&lab, &p, None).await, (true, true, true));
}

#[tokio::test]
async fn dropped_data_is_acknowledged_but_never_visible() {
    let lab = stack().await;
    set_all(
        &lab,
        SignalFault {
            drop: true,
            ..Default::default()
        },
    );
    let p = probe();
    send_all(&lab, &p).await;
    // The backends' own OTLP endpoints acknowledge and drop too.
    send(
        &format!("{}/otlp/v1/logs", lab.loki_url()),
        &log(&p),
        Encoding::Json,
        &[],
    )
    .await
    .assert_exact(204, None, b"");
    send(
        &format!("{}/otlp/v1/metrics", lab.mimir_url()),
        &metric(&p),
        Encoding::Json,
        &[],
    )
    .await
    .assert_exact(200, None, b"");
    assert_eq!(lab.state.store.len(), 5, "everything was received");
    lab.state.faults.clear();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(visible(&lab, &p, None).await, (false, false, false));
    let search = get(
        &format!("{}/api/search", lab.tempo_url()),
        &[("q", "{}")],
        &[],
    )
    .await
    .json();
    assert_eq!(search["traces"], serde_json::json!([]));
}

#[tokio::test]
async fn search_delay_lets_trace_by_id_see_the_trace_before_search_does() {
    let lab = stack().await;
    lab.state.faults.set(
        Signal::Trace,
        SignalFault {
            search_delay: Duration::from_millis(600),
            ..Default::default()
        },
    );
    let p = probe();
    send_to_receiver(&lab, &trace(&p), Encoding::Protobuf).await;
    let q = format!("{{ span.canary.probe_id = \"{}\" }}", p.probe_id);
    let search = || async {
        get(
            &format!("{}/api/search", lab.tempo_url()),
            &[("q", &q)],
            &[],
        )
        .await
        .json()["traces"]
            .as_array()
            .unwrap()
            .len()
    };
    assert!(visible(&lab, &p, None).await.0, "by id: at once");
    assert_eq!(search().await, 0, "search: not yet");
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(search().await, 1, "search: after the delay");
}

#[tokio::test]
async fn query_errors_answer_the_configured_status_and_body() {
    let lab = stack().await;
    let p = probe();
    send_all(&lab, &p).await;
    for (signal, status) in [
        (Signal::Trace, 503),
        (Signal::Log, 500),
        (Signal::Metric, 429),
    ] {
        lab.state.faults.set(
            signal,
            SignalFault {
                query_error: Some((status, format!("{signal} is down\n"))),
                ..Default::default()
            },
        );
    }
    let text = Some("text/plain; charset=utf-8");
    let id = p.trace_id_hex();
    let t = lab.tempo_url();
    for url in [
        format!("{t}/api/traces/{id}"),
        format!("{t}/api/v2/traces/{id}"),
        format!("{t}/api/search"),
    ] {
        get(&url, &[], &[])
            .await
            .assert_exact(503, text, b"trace is down\n");
    }
    get(
        &format!("{}/loki/api/v1/query_range", lab.loki_url()),
        &[("query", "{service_name=\"otel-canary\"}")],
        &[],
    )
    .await
    .assert_exact(500, text, b"log is down\n");
    let m = lab.mimir_url();
    for path in [
        "/prometheus/api/v1/query",
        "/api/v1/query",
        "/prometheus/api/v1/series",
        "/api/v1/series",
    ] {
        get(
            &format!("{m}{path}"),
            &[("query", "up"), ("match[]", "up")],
            &[],
        )
        .await
        .assert_exact(429, text, b"metric is down\n");
    }
    // Readiness is not a query.
    for url in [
        format!("{t}/ready"),
        format!("{}/ready", lab.loki_url()),
        format!("{m}/ready"),
    ] {
        assert_eq!(get(&url, &[], &[]).await.status, 200);
    }
}

#[tokio::test]
async fn backend_push_endpoints_honour_the_export_status_fault() {
    let lab = stack().await;
    lab.state.faults.set(
        Signal::Log,
        SignalFault {
            status: Some(503),
            ..Default::default()
        },
    );
    let a = send(
        &format!("{}/otlp/v1/logs", lab.loki_url()),
        &log(&probe()),
        Encoding::Json,
        &[],
    )
    .await;
    assert_eq!(a.status, 503);
    assert_eq!(a.content_type.as_deref(), Some("application/octet-stream"));
    assert!(lab.state.store.is_empty());
}

#[tokio::test]
async fn required_tenant_answers_like_auth_enabled_loki_and_mimir() {
    let lab = stack().await;
    lab.state.set_require_tenant(true);
    let p = probe();
    let text = Some("text/plain; charset=utf-8");
    let tenant = [("X-Scope-OrgID", "canary-tenant")];
    let other = [("X-Scope-OrgID", "other-tenant")];
    let both = [("X-Scope-OrgID", "canary-tenant|other-tenant")];

    // Loki push.
    let push = format!("{}/otlp/v1/logs", lab.loki_url());
    send(&push, &log(&p), Encoding::Json, &[])
        .await
        .assert_exact(
            401,
            text,
            &fixture_bytes("loki/auth-enabled/otlp-logs-no-orgid.txt"),
        );
    send(
        &push,
        &log(&p),
        Encoding::Json,
        &[("X-Scope-OrgID", "canary-tenant|other")],
    )
    .await
    .assert_exact(
        400,
        Some("application/octet-stream"),
        &fixture_bytes("loki/auth-enabled/otlp-logs-multi-orgid.bin"),
    );
    send(&push, &log(&p), Encoding::Json, &tenant)
        .await
        .assert_exact(204, None, b"");

    // Mimir push.
    let push = format!("{}/otlp/v1/metrics", lab.mimir_url());
    send(&push, &metric(&p), Encoding::Json, &[])
        .await
        .assert_exact(
            401,
            text,
            &fixture_bytes("mimir/auth-enabled/otlp-metrics-no-orgid.txt"),
        );
    send(
        &push,
        &metric(&p),
        Encoding::Json,
        &[("X-Scope-OrgID", "canary-tenant|other")],
    )
    .await
    .assert_exact(
        422,
        text,
        &fixture_bytes("mimir/auth-enabled/otlp-metrics-multi-orgid.txt"),
    );
    send(&push, &metric(&p), Encoding::Json, &tenant)
        .await
        .assert_exact(200, None, b"");

    // Traces through the collector-like receiver, which forwards the header it was given.
    let url = format!("{}/v1/traces", lab.receivers.http_base(false));
    assert_eq!(
        send(&url, &trace(&p), Encoding::Protobuf, &tenant)
            .await
            .status,
        200
    );

    assert_eq!(
        visible(&lab, &p, Some("canary-tenant")).await,
        (true, true, true)
    );
    assert_eq!(
        visible(&lab, &p, Some("other-tenant")).await,
        (false, false, false)
    );

    // Queries without a tenant, with two, and to the other tenant.
    let q = format!(
        "{{service_name=\"otel-canary\"}} | canary_probe_id=\"{}\"",
        p.probe_id
    );
    let range = format!("{}/loki/api/v1/query_range", lab.loki_url());
    get(&range, &[("query", &q)], &[]).await.assert_exact(
        401,
        text,
        &fixture_bytes("loki/auth-enabled/query-range-no-orgid.txt"),
    );
    get(&range, &[("query", &q)], &both).await.assert_exact(
        500,
        text,
        &fixture_bytes("loki/auth-enabled/query-range-multi-orgid.txt"),
    );
    let empty = get(&range, &[("query", &q)], &other).await;
    assert_eq!(empty.status, 200);
    Shape {
        ignore_keys: &[],
        dynamic: &[],
    }
    .assert(
        &empty.json(),
        &fixture_json("loki/auth-enabled/query-range-other-orgid-empty.json"),
    );
    get(&format!("{}/loki/api/v1/labels", lab.loki_url()), &[], &[])
        .await
        .assert_exact(
            401,
            text,
            &fixture_bytes("loki/auth-enabled/labels-no-orgid.txt"),
        );
    get(&format!("{}/ready", lab.loki_url()), &[], &[])
        .await
        .assert_exact(
            200,
            text,
            &fixture_bytes("loki/auth-enabled/ready-no-orgid.txt"),
        );

    let query = format!("{}/prometheus/api/v1/query", lab.mimir_url());
    let sel = [("query", "otel_canary_probe_marker{job=\"otel-canary\"}")];
    get(&query, &sel, &[]).await.assert_exact(
        401,
        text,
        &fixture_bytes("mimir/auth-enabled/query-no-orgid.txt"),
    );
    get(&query, &sel, &both).await.assert_exact(
        422,
        text,
        &fixture_bytes("mimir/auth-enabled/query-multi-orgid.txt"),
    );
    get(&query, &sel, &other).await.assert_exact(
        200,
        Some("application/json"),
        &fixture_bytes("mimir/auth-enabled/query-other-orgid-empty.json"),
    );
    let found = get(&query, &sel, &tenant).await.json();
    Shape::STRICT.assert(
        &found,
        &fixture_json("mimir/auth-enabled/query-with-orgid-found.json"),
    );
    get(&format!("{}/ready", lab.mimir_url()), &[], &[])
        .await
        .assert_exact(
            200,
            Some("text/plain"),
            &fixture_bytes("mimir/auth-enabled/ready-no-orgid.txt"),
        );
    let b = get(
        &format!("{}/prometheus/api/v1/status/buildinfo", lab.mimir_url()),
        &[],
        &[],
    )
    .await;
    assert_eq!(b.status, 200);

    let by_id = format!("{}/api/traces/{}", lab.tempo_url(), p.trace_id_hex());
    get(&by_id, &[], &[])
        .await
        .assert_exact(401, text, b"no org id\n");
    // Tempo's query frontend federates `a|b`.
    assert_eq!(get(&by_id, &[], &both).await.status, 200);
    assert_eq!(
        get(&format!("{}/ready", lab.tempo_url()), &[], &[])
            .await
            .status,
        200
    );

    // Back to single-tenant: the header is ignored and everything is visible again.
    lab.state.set_require_tenant(false);
    assert_eq!(visible(&lab, &p, None).await, (true, true, true));
    assert_eq!(
        visible(&lab, &p, Some("other-tenant")).await,
        (true, true, true)
    );
}
