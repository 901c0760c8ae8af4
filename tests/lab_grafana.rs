//! The lab's Grafana answers in Grafana's shapes (src/lab/grafana_api.rs lists the source of
//! each): health, auth refusals, the datasource list and details, and the data proxy with its
//! own refusals, the datasource's tenant header, the backend's 401 turned into a 400, and a
//! dead upstream's bare 502. Also `otel-canary lab` serving it from the command line.

mod lab_support;

use lab_support::{Answer, client};
use otel_canary::lab::{
    GrafanaFault, LAB_GRAFANA_TOKEN, LabGrafanaConfig, LabStack, LabStackConfig, LabState,
    SignalFault,
};
use otel_canary::signal::Signal;
use serde_json::{Value, json};

const JSON_UTF8: &str = "application/json; charset=UTF-8";

async fn stack_with(config: LabGrafanaConfig) -> (LabStack, String) {
    let mut lab = LabStack::start(LabStackConfig::ephemeral(), LabState::new())
        .await
        .unwrap();
    lab.start_grafana("127.0.0.1:0".parse().unwrap(), config)
        .await
        .unwrap();
    let url = lab.grafana_url().unwrap();
    (lab, url)
}

async fn request(method: &str, url: &str, auth: Option<&str>, body: Option<&str>) -> Answer {
    let mut req = client().request(method.parse().unwrap(), url);
    if let Some(a) = auth {
        req = req.header("authorization", a);
    }
    if let Some(b) = body {
        req = req
            .header("content-type", "application/x-www-form-urlencoded")
            .body(b.to_string());
    }
    let resp = req.send().await.expect("answered");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let content_type = headers
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string());
    let body = resp.bytes().await.unwrap().to_vec();
    Answer {
        status,
        content_type,
        headers,
        body,
    }
}

fn bearer() -> String {
    format!("Bearer {LAB_GRAFANA_TOKEN}")
}

/// `admin:admin`.
const ADMIN: &str = "Basic YWRtaW46YWRtaW4=";

async fn get(url: &str) -> Answer {
    request("GET", url, Some(&bearer()), None).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_auth_answer_like_grafana() {
    let (_lab, g) = stack_with(LabGrafanaConfig::default()).await;
    let a = request("GET", &format!("{g}/api/health"), None, None).await;
    a.assert_exact(
        200,
        Some(JSON_UTF8),
        b"{\n  \"database\": \"ok\",\n  \"version\": \"12.1.0-otel-canary-lab\",\n  \"commit\": \"otel-canary-lab\"\n}",
    );
    let h = otel_canary::backends::grafana::parse_health(&a.body).unwrap();
    assert_eq!(h.database, "ok");

    let list = format!("{g}/api/datasources");
    request("GET", &list, None, None).await.assert_exact(
        401,
        Some(JSON_UTF8),
        b"{\"message\":\"Unauthorized\"}\n",
    );
    let bad = request(
        "GET",
        &list,
        Some("Bearer glsa_wrong_00000000_00000000"),
        None,
    )
    .await;
    assert_eq!(bad.status, 401);
    assert_eq!(bad.content_type.as_deref(), Some(JSON_UTF8));
    assert_eq!(bad.json()["messageId"], "api-key.invalid");
    assert_eq!(bad.json()["message"], "Invalid API key");
    let bad = request("GET", &list, Some("Basic YWRtaW46d3Jvbmc="), None).await;
    assert_eq!(bad.status, 401);
    assert_eq!(bad.json()["messageId"], "password-auth.failed");
    for ok in [bearer(), ADMIN.to_string()] {
        assert_eq!(request("GET", &list, Some(&ok), None).await.status, 200);
    }
    // Basic `api_key:<token>` is a token too.
    let api_key = format!(
        "Basic {}",
        base64_encode(&format!("api_key:{LAB_GRAFANA_TOKEN}"))
    );
    assert_eq!(
        request("GET", &list, Some(&api_key), None).await.status,
        200
    );
}

fn base64_encode(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_datasource_list_and_details() {
    let (lab, g) = stack_with(LabGrafanaConfig {
        tenant: Some("team-a".into()),
        ..Default::default()
    })
    .await;
    let a = get(&format!("{g}/api/datasources")).await;
    assert_eq!(a.status, 200);
    assert_eq!(a.content_type.as_deref(), Some("application/json"));
    assert!(!a.text().ends_with('\n'), "response.JSON adds no newline");
    let list = a.json();
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Loki", "Mimir", "Tempo"], "sorted by name");
    let mimir = &list[1];
    assert_eq!(mimir["uid"], "mimir");
    assert_eq!(mimir["type"], "prometheus");
    assert_eq!(mimir["url"], format!("{}/prometheus", lab.mimir_url()));
    assert_eq!(mimir["jsonData"]["httpHeaderName1"], "X-Scope-OrgID");
    // The list item's fields, as DataSourceListItemDTO has them.
    let keys: Vec<&String> = mimir.as_object().unwrap().keys().collect();
    for k in [
        "id",
        "uid",
        "orgId",
        "name",
        "type",
        "typeName",
        "typeLogoUrl",
        "access",
        "url",
        "user",
        "database",
        "basicAuth",
        "isDefault",
        "jsonData",
        "readOnly",
    ] {
        assert!(keys.iter().any(|x| *x == k), "{k} missing: {mimir}");
    }
    let parsed = otel_canary::backends::grafana::parse_datasources(&a.body).unwrap();
    assert_eq!(parsed.len(), 3);

    let d = get(&format!("{g}/api/datasources/uid/loki")).await;
    assert_eq!(d.status, 200);
    let v: Value = d.json();
    assert_eq!(v["secureJsonFields"], json!({"httpHeaderValue1": true}));
    assert_eq!(v["url"], lab.loki_url());
    assert!(
        !d.text().contains("team-a"),
        "header values are never shown"
    );
    get(&format!("{g}/api/datasources/uid/nope"))
        .await
        .assert_exact(
            404,
            Some("application/json"),
            b"{\"message\":\"Data source not found\"}",
        );

    // Faults change the list at once.
    lab.state.faults.set(
        Signal::Log,
        SignalFault {
            grafana: GrafanaFault {
                missing: true,
                ..Default::default()
            },
            ..Default::default()
        },
    );
    lab.state.faults.set(
        Signal::Metric,
        SignalFault {
            grafana: GrafanaFault {
                duplicate: true,
                no_tenant: true,
                ..Default::default()
            },
            ..Default::default()
        },
    );
    let list = get(&format!("{g}/api/datasources")).await.json();
    let uids: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["uid"].as_str().unwrap())
        .collect();
    assert_eq!(uids, ["mimir", "mimir-2", "tempo"]);
    assert!(list[0]["jsonData"].get("httpHeaderName1").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_data_proxy_forwards_and_refuses_like_grafana() {
    let (lab, g) = stack_with(LabGrafanaConfig {
        tenant: Some("team-a".into()),
        ..Default::default()
    })
    .await;
    let proxy = |uid: &str, path: &str| format!("{g}/api/datasources/proxy/uid/{uid}/{path}");
    let a = get(&proxy("loki", "ready")).await;
    a.assert_exact(200, Some("text/plain; charset=utf-8"), b"ready\n");
    assert_eq!(a.headers["content-security-policy"], "sandbox");
    let a = get(&proxy("mimir", "api/v1/query?query=up")).await;
    assert_eq!(a.status, 200, "{}", a.text());
    assert_eq!(a.json()["status"], "success");

    get(&proxy("nope", "ready")).await.assert_exact(
        404,
        Some(JSON_UTF8),
        b"{\"message\":\"Unable to find datasource\",\"traceID\":\"\"}\n",
    );
    get(&proxy("no$good", "ready")).await.assert_exact(
        400,
        Some(JSON_UTF8),
        b"{\"message\":\"UID is invalid\"}\n",
    );
    let a = request(
        "POST",
        &proxy("mimir", "api/v1/admin/tsdb/delete_series"),
        Some(&bearer()),
        Some("match[]=up"),
    )
    .await;
    a.assert_exact(
        403,
        Some(JSON_UTF8),
        b"{\"message\":\"non allow-listed POSTs not allowed on proxied Prometheus datasource\"}\n",
    );
    let a = request(
        "POST",
        &proxy("mimir", "api/v1/query"),
        Some(&bearer()),
        Some("query=up"),
    )
    .await;
    assert_eq!(a.status, 200, "allow-listed: {}", a.text());
    // Unauthenticated proxy requests never reach the backend.
    assert_eq!(
        request("GET", &proxy("loki", "ready"), None, None)
            .await
            .status,
        401
    );

    // Multi-tenant: the datasource's X-Scope-OrgID gets the query through, without it the
    // backend's 401 comes back as Grafana's 400.
    lab.state.set_require_tenant(true);
    let q = "loki/api/v1/labels";
    let direct = request("GET", &format!("{}/{q}", lab.loki_url()), None, None).await;
    assert_eq!(direct.status, 401, "{}", direct.text());
    assert_eq!(get(&proxy("loki", q)).await.status, 200);
    lab.state.faults.set(
        Signal::Log,
        SignalFault {
            grafana: GrafanaFault {
                no_tenant: true,
                ..Default::default()
            },
            ..Default::default()
        },
    );
    let a = get(&proxy("loki", q)).await;
    a.assert_exact(
        400,
        Some("text/plain; charset=utf-8"),
        b"Authentication to data source failed",
    );

    // A dead upstream is a bare 502; an empty one answers, without the data.
    lab.state.faults.set(
        Signal::Trace,
        SignalFault {
            grafana: GrafanaFault {
                dead_url: true,
                ..Default::default()
            },
            ..Default::default()
        },
    );
    get(&proxy("tempo", "ready"))
        .await
        .assert_exact(502, None, b"");
    lab.state.faults.set(
        Signal::Metric,
        SignalFault {
            grafana: GrafanaFault {
                wrong_url: true,
                ..Default::default()
            },
            ..Default::default()
        },
    );
    let d = get(&format!("{g}/api/datasources/uid/mimir")).await.json();
    let empty = &lab.grafana.as_ref().unwrap().upstreams.empty_mimir;
    assert_eq!(d["url"], format!("{empty}/prometheus"));
    let a = get(&proxy("mimir", "api/v1/query?query=up")).await;
    assert_eq!(
        a.status,
        200,
        "the empty Mimir keeps the lab's tenancy: {}",
        a.text()
    );
}

#[test]
fn otel_canary_lab_serves_grafana_on_its_port() {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::process::{Command, Stdio};
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_otel-canary"))
        .args([
            "lab",
            "--http-port",
            "0",
            "--grpc-port",
            "0",
            "--tempo-port",
            "0",
            "--loki-port",
            "0",
            "--mimir-port",
            "0",
            "--collector-metrics-port",
            "0",
            "--grafana-port",
            &port.to_string(),
            "--grafana-tenant",
            "team-a",
            "--fault",
            "log:grafana-wrong-url",
        ])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut banner = Vec::new();
    while let Some(Ok(line)) = lines.next() {
        let done = line.contains("fault log");
        banner.push(line);
        if done {
            break;
        }
    }
    let result = std::panic::catch_unwind(|| {
        let text = banner.join("\n");
        assert!(
            text.contains(&format!("Grafana    http://127.0.0.1:{port}")),
            "{text}"
        );
        assert!(text.contains("datasource loki"), "{text}");
        assert!(text.contains("X-Scope-OrgID team-a"), "{text}");
        assert!(
            text.contains("Grafana datasource points at an empty backend"),
            "{text}"
        );
        assert!(!text.contains(LAB_GRAFANA_TOKEN), "{text}");
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.write_all(b"GET /api/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        assert!(out.starts_with("HTTP/1.1 200"), "{out}");
        assert!(out.contains("\"database\": \"ok\""), "{out}");
    });
    let _ = child.kill();
    let _ = child.wait();
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }

    let out = Command::new(env!("CARGO_BIN_EXE_otel-canary"))
        .args(["lab", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "--grafana-port",
        "0 turns it off",
        "grafana-wrong-url",
        "grafana-dead-url",
        "grafana-no-tenant",
        "grafana-missing",
        "grafana-duplicate",
    ] {
        assert!(help.contains(needle), "{needle} missing from:\n{help}");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_otel-canary"))
        .args(["lab", "--grafana-port", "0", "--grafana-tenant", "a|b"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--grafana-tenant"));
}
