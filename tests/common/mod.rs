//! Shared test helpers: the lab on free ports, the binary run with a clean environment, and a
//! replay server that answers with a captured fixture's status, headers and body.
#![allow(dead_code)]

use axum::body::Body;
use axum::http::{HeaderValue, Response, StatusCode, header};
use otel_canary::lab::{LabReceivers, LabState, LabTls, ReceiverConfig};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, Output};

pub fn fixture(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(path)
}

pub fn fixture_bytes(path: &str) -> Vec<u8> {
    std::fs::read(fixture(path)).unwrap_or_else(|e| panic!("fixture {path}: {e}"))
}

/// The whole lab stack (receivers, Tempo, Loki, Mimir) on free ports.
pub async fn lab_stack() -> otel_canary::lab::LabStack {
    otel_canary::lab::LabStack::start(
        otel_canary::lab::LabStackConfig::ephemeral(),
        LabState::new(),
    )
    .await
    .expect("lab starts")
}

/// `serve`/`run` flags pointing every signal at the lab stack, then `extra`.
pub fn lab_stack_args(lab: &otel_canary::lab::LabStack, extra: &[&str]) -> Vec<String> {
    let mut a: Vec<String> = vec![
        "--endpoint".into(),
        format!("http://{}", lab.receivers.http_addr),
        "--tempo".into(),
        lab.tempo_url(),
        "--loki".into(),
        lab.loki_url(),
        "--mimir".into(),
        lab.mimir_url(),
    ];
    a.extend(extra.iter().map(|s| s.to_string()));
    a
}

pub async fn lab() -> LabReceivers {
    LabReceivers::start(ReceiverConfig::ephemeral(), LabState::new())
        .await
        .expect("lab starts")
}

/// Runs the otel-canary binary with no inherited OTEL_* variables plus `env`.
pub fn run_bin(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_otel-canary"));
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("OTEL_")) {
        cmd.env_remove(k);
    }
    cmd.env("NO_COLOR", "1")
        .args(args)
        .envs(env.iter().copied());
    cmd.output().expect("binary runs")
}

/// Same, off the async runtime's threads (the lab keeps serving meanwhile).
pub async fn run_bin_async(args: Vec<String>, env: Vec<(String, String)>) -> Output {
    tokio::task::spawn_blocking(move || {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        let e: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        run_bin(&a, &e)
    })
    .await
    .expect("join")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn json_out(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}\nstderr: {}",
            stdout(o),
            stderr(o)
        )
    })
}

/// Runs `otel-canary emit --output json <args>` and returns the exit code and document.
pub async fn emit_json(
    args: &[&str],
    env: Vec<(String, String)>,
) -> (Option<i32>, serde_json::Value) {
    let mut all = vec!["emit".to_string(), "--output".into(), "json".into()];
    all.extend(args.iter().map(|s| s.to_string()));
    let out = run_bin_async(all, env).await;
    (out.status.code(), json_out(&out))
}

/// The `signals[]` entry of an emit JSON document.
pub fn signal<'a>(doc: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    doc["signals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["signal"] == name)
        .unwrap_or_else(|| panic!("no {name} in {doc}"))
}

/// A canned answer a replay server gives to every request.
#[derive(Clone)]
pub struct Canned {
    pub status: u16,
    pub content_type: Option<&'static str>,
    pub body: Vec<u8>,
}

/// Serves `canned` to any request on a free port, as a real backend captured in fixtures did.
pub async fn replay(canned: Canned) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new().fallback(move || {
        let c = canned.clone();
        async move {
            let mut r = Response::new(Body::from(c.body));
            *r.status_mut() = StatusCode::from_u16(c.status).unwrap();
            if let Some(ct) = c.content_type {
                r.headers_mut()
                    .insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
            }
            r
        }
    });
    tokio::spawn(otel_canary::lab::receivers::serve_http1(
        listener, app, None,
    ));
    addr
}

pub mod browser;
pub mod hostile;
pub mod real_backends;
pub mod serve_process;

/// A self-signed certificate for 127.0.0.1 and localhost, for lab servers that speak TLS.
pub fn self_signed_tls() -> LabTls {
    let ck =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()]).unwrap();
    LabTls {
        cert_pem: ck.cert.pem(),
        key_pem: ck.signing_key.serialize_pem(),
        client_ca_pem: None,
    }
}
