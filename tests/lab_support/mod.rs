//! Helpers for the lab query-API tests: the whole stack on free ports, the canary's real
//! payloads (fixture-shaped probe: 20 ms client span, 10 ms server span inside it), a plain
//! HTTP client, fixtures from tests/fixtures, and a JSON *shape* comparison that checks keys,
//! nesting and value types while ignoring values that legitimately differ (ids, times, stats).
#![allow(dead_code)]

use otel_canary::config::env::EnvSnapshot;
use otel_canary::config::resource::{ResourceFlags, ResourceSpec};
use otel_canary::emit::encoding::{Encoding, Payload};
use otel_canary::emit::payload::{self, MetricTag};
use otel_canary::lab::{LabStack, LabStackConfig, LabState};
use otel_canary::probe::{Interval, Probe};
use serde_json::Value;
use std::path::PathBuf;
use std::time::Duration;

pub fn fixture_path(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(path)
}

pub fn fixture_bytes(path: &str) -> Vec<u8> {
    std::fs::read(fixture_path(path)).unwrap_or_else(|e| panic!("fixture {path}: {e}"))
}

pub fn fixture_text(path: &str) -> String {
    String::from_utf8(fixture_bytes(path)).expect("fixture is UTF-8")
}

pub fn fixture_json(path: &str) -> Value {
    serde_json::from_slice(&fixture_bytes(path)).unwrap_or_else(|e| panic!("fixture {path}: {e}"))
}

pub async fn stack() -> LabStack {
    LabStack::start(LabStackConfig::ephemeral(), LabState::new())
        .await
        .expect("lab stack starts")
}

/// The fixture resource: service.name=otel-canary, service.instance.id=canary-host-1 (plus
/// the canary's own service.version).
pub fn resource() -> ResourceSpec {
    let flags = ResourceFlags {
        service_name: Some("otel-canary".into()),
        service_instance_id: Some("canary-host-1".into()),
        ..Default::default()
    };
    ResourceSpec::resolve(&flags, &EnvSnapshot::default()).expect("resource")
}

/// A probe with the fixture's timing: client span 20 ms ending now, server span 10 ms in it.
pub fn probe() -> Probe {
    let mut p = Probe::start();
    let end = p.client_span.end;
    let start = end - Duration::from_millis(20);
    p.client_span = Interval { start, end };
    p.server_span = Interval {
        start: start + Duration::from_millis(5),
        end: start + Duration::from_millis(15),
    };
    p
}

pub fn trace(p: &Probe) -> Payload {
    Payload::Trace(payload::trace_request(p, &resource()))
}

pub fn log(p: &Probe) -> Payload {
    Payload::Log(payload::log_request(p, &resource()))
}

pub fn metric(p: &Probe) -> Payload {
    Payload::Metric(payload::metric_request(p, &resource(), MetricTag::Value))
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .use_preconfigured_tls(otel_canary::emit::tls::plain_only_config())
        .http1_only()
        .build()
        .expect("client")
}

/// A response: status, Content-Type (None when absent), all headers and the body.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub content_type: Option<String>,
    pub headers: reqwest::header::HeaderMap,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Asserts status, Content-Type and exact body bytes.
    pub fn assert_exact(&self, status: u16, content_type: Option<&str>, body: &[u8]) {
        assert_eq!(self.status, status, "status; body: {}", self.text());
        assert_eq!(self.content_type.as_deref(), content_type, "content type");
        assert_eq!(
            self.body,
            body,
            "body: {:?} vs {:?}",
            self.text(),
            String::from_utf8_lossy(body)
        );
    }
}

async fn answer(resp: reqwest::Response) -> Answer {
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let content_type = headers
        .get(reqwest::header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_string());
    let body = resp.bytes().await.expect("body").to_vec();
    Answer {
        status,
        content_type,
        headers,
        body,
    }
}

/// GET `url` with query parameters and extra headers.
pub async fn get(url: &str, query: &[(&str, &str)], headers: &[(&str, &str)]) -> Answer {
    let mut full = url::Url::parse(url).expect("valid URL");
    if !query.is_empty() {
        full.query_pairs_mut().extend_pairs(query.iter().copied());
    }
    let mut req = client().get(full);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    answer(req.send().await.expect("GET answered")).await
}

/// POSTs raw bytes with a Content-Type and extra headers.
pub async fn post(
    url: &str,
    content_type: &str,
    body: Vec<u8>,
    headers: &[(&str, &str)],
) -> Answer {
    let mut req = client()
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, content_type)
        .body(body);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    answer(req.send().await.expect("POST answered")).await
}

/// Sends a payload as OTLP/HTTP to `url` in `encoding`.
pub async fn send(url: &str, p: &Payload, encoding: Encoding, headers: &[(&str, &str)]) -> Answer {
    post(url, encoding.content_type(), p.encode(encoding), headers).await
}

/// Sends to the collector-like receiver (`/v1/<signal>`), expecting 200.
pub async fn send_to_receiver(lab: &LabStack, p: &Payload, encoding: Encoding) {
    let url = format!(
        "{}/{}",
        lab.receivers.http_base(false),
        p.signal().otlp_http_path()
    );
    let a = send(&url, p, encoding, &[]).await;
    assert_eq!(a.status, 200, "{}", a.text());
}

/// Compares JSON *shapes*: the same keys (minus `ignore_keys`, wherever they occur), the same
/// nesting and the same value types. Objects under a key in `dynamic` are data maps (label
/// sets, per-service stats): their keys may differ, their values' types must match. Arrays
/// whose fixture elements differ in type are tuples (compared position by position); other
/// arrays compare element i with the fixture's element i (or its last).
pub struct Shape<'a> {
    pub ignore_keys: &'a [&'a str],
    pub dynamic: &'a [&'a str],
}

impl Shape<'_> {
    pub const STRICT: Shape<'static> = Shape {
        ignore_keys: &[],
        dynamic: &[],
    };

    pub fn assert(&self, lab: &Value, fixture: &Value) {
        let mut errors = Vec::new();
        self.walk(lab, fixture, "$", None, &mut errors);
        assert!(
            errors.is_empty(),
            "shape differs from the fixture:\n  {}\nlab: {lab}\nfixture: {fixture}",
            errors.join("\n  ")
        );
    }

    fn kind(v: &Value) -> &'static str {
        match v {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        }
    }

    fn walk(
        &self,
        lab: &Value,
        fx: &Value,
        path: &str,
        key: Option<&str>,
        errors: &mut Vec<String>,
    ) {
        match (lab, fx) {
            (Value::Object(l), Value::Object(f)) => {
                if key.is_some_and(|k| self.dynamic.contains(&k)) {
                    if let Some(fv) = f.values().next() {
                        for (k, lv) in l {
                            self.walk(lv, fv, &format!("{path}.{k}"), None, errors);
                        }
                    }
                    return;
                }
                for k in f.keys().filter(|k| !self.ignore_keys.contains(&k.as_str())) {
                    if !l.contains_key(k) {
                        errors.push(format!("{path}: missing key {k:?}"));
                    }
                }
                for k in l.keys().filter(|k| !self.ignore_keys.contains(&k.as_str())) {
                    if !f.contains_key(k) {
                        errors.push(format!("{path}: extra key {k:?}"));
                    }
                }
                for (k, lv) in l {
                    if let Some(fv) = f.get(k) {
                        self.walk(lv, fv, &format!("{path}.{k}"), Some(k), errors);
                    }
                }
            }
            (Value::Array(l), Value::Array(f)) => {
                if f.is_empty() {
                    return;
                }
                if l.is_empty() {
                    errors.push(format!("{path}: empty array, the fixture has elements"));
                    return;
                }
                let tuple = f.iter().any(|v| Self::kind(v) != Self::kind(&f[0]));
                if tuple {
                    if l.len() != f.len() {
                        errors.push(format!(
                            "{path}: tuple of {} elements, fixture {}",
                            l.len(),
                            f.len()
                        ));
                    }
                    for (i, (lv, fv)) in l.iter().zip(f).enumerate() {
                        self.walk(lv, fv, &format!("{path}[{i}]"), None, errors);
                    }
                } else {
                    for (i, lv) in l.iter().enumerate() {
                        let fv = &f[i.min(f.len() - 1)];
                        self.walk(lv, fv, &format!("{path}[{i}]"), None, errors);
                    }
                }
            }
            _ if Self::kind(lab) != Self::kind(fx) => errors.push(format!(
                "{path}: {} where the fixture has {}",
                Self::kind(lab),
                Self::kind(fx)
            )),
            _ => {}
        }
    }
}

/// Unix seconds of now.
pub fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}
