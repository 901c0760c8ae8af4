//! The lab's Grafana (port 3000): just enough of Grafana's HTTP API to prove the Grafana ->
//! backend hop against the lab: `/api/health`, `/api/datasources`, `/api/datasources/uid/<uid>`
//! and the data proxy `/api/datasources/proxy/uid/<uid>/<path>`, over three provisioned
//! datasources (`tempo`, `loki`, `mimir`) that point at the lab's own Tempo, Loki and Mimir.
//! There is no Grafana package to run here, so the answers are written from Grafana's source
//! (grafana/grafana; docs/grafana.md lists each fact as verified or inferred):
//!
//! - **Health** (`pkg/api/http_server.go` `apiHealthHandler`, verified): no auth; 200
//!   `application/json; charset=UTF-8`, `json.MarshalIndent` of `{database, version, commit}`
//!   with two-space indent and no trailing newline.
//! - **Auth** (`pkg/middleware/auth.go`, `pkg/services/authn/clients/api_key.go`, `basic.go`):
//!   `Authorization: Bearer <service-account token>`, basic auth, or basic `api_key:<token>`.
//!   Without credentials 401 `{"message":"Unauthorized"}` (verified: `WriteErrOrFallback` with
//!   no error); a bad token 401 `{"message":"Invalid API key","messageId":"api-key.invalid",…}`
//!   and a bad password 401 `{"message":"Invalid username or password","messageId":
//!   "password-auth.failed",…}` (inferred: the errutil errors named in the source, shaped as
//!   users report them). These go through `ctx.JSON`: `application/json; charset=UTF-8` and a
//!   trailing newline (`pkg/web/context.go`, verified).
//! - **Datasources** (`pkg/api/datasources.go`, `pkg/api/dtos/datasource.go`, verified): the
//!   list is `DataSourceListItemDTO`s sorted by lower-case name, via `response.JSON`
//!   (`application/json`, no newline); by uid a `DataSource` DTO with `secureJsonFields`, or
//!   404 `{"message":"Data source not found"}`.
//! - **Data proxy** (`pkg/services/datasourceproxy/datasourceproxy.go`,
//!   `pkg/api/pluginproxy/ds_proxy.go`, `pkg/util/proxyutil`, verified): a bad uid is 400
//!   `{"message":"UID is invalid"}`; an unknown one 404 `{"message":"Unable to find
//!   datasource","traceID":""}` (JsonApiErr with an error, so `traceID` is set, empty without
//!   tracing); a POST/PUT/DELETE to a Prometheus datasource outside its allow-listed routes
//!   403 `non allow-listed POSTs not allowed on proxied Prometheus datasource`. The request
//!   goes to the datasource URL joined with the proxy path, query kept, with the datasource's
//!   custom headers (`jsonData.httpHeaderNameN` / `secureJsonData.httpHeaderValueN`: here
//!   `X-Scope-OrgID`). The backend's **401 becomes 400 `Authentication to data source
//!   failed`** (text, no Content-Type of its own: Go's sniffing gives `text/plain;
//!   charset=utf-8`, inferred), so a backend's `no org id` is never seen through Grafana. A
//!   backend that cannot be reached is 502 with an empty body, a timeout 504. Every proxied
//!   answer gets `Content-Security-Policy: sandbox` and loses `Set-Cookie`.
//! - Inferred, not checked in source: the caller's `Authorization` (its Grafana token) is not
//!   passed to the backend; `POST api/v1/{query,query_range,series,labels,query_exemplars}` are
//!   the Prometheus plugin's allow-listed routes.
//!
//! Faults (`--fault SIGNAL:grafana-…`, `lab::faults::GrafanaFault`) misconfigure the
//! signal's datasource: pointed at an empty backend of the same kind (`wrong-url`), at a dead
//! port (`dead-url`), without its tenant header (`no-tenant`), absent (`missing`), or joined by
//! a second one of its type (`duplicate`).

use super::LabState;
use super::http_util::{TEXT_UTF8, respond};
use crate::signal::Signal;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use base64::Engine;
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// The service-account token the lab's Grafana accepts unless told another
/// (`--grafana-token-file`). A test stack's well-known credential, like `admin:admin`.
pub const LAB_GRAFANA_TOKEN: &str = "glsa_otelCanaryLab0000000000000000_0a1b2c3d";
/// The version `/api/health` reports: Grafana's, marked as the lab.
pub const VERSION: &str = "12.1.0-otel-canary-lab";
/// `ctx.JSON`'s Content-Type (`pkg/web/context.go`).
const JSON_UTF8: &str = "application/json; charset=UTF-8";
/// `response.JSON`'s Content-Type (`pkg/api/response/response.go`).
const JSON_PLAIN: &str = "application/json";
/// Largest proxied request body (queries are small).
const MAX_BODY: usize = 16 * 1024 * 1024;
/// Grafana's data proxy timeout (`dataproxy.timeout`, 30 s by default).
const PROXY_TIMEOUT: Duration = Duration::from_secs(30);

/// How the lab's Grafana is set up.
#[derive(Clone, Debug)]
pub struct LabGrafanaConfig {
    /// The service-account token accepted as `Authorization: Bearer`.
    pub token: String,
    /// The basic-auth user and password accepted (Grafana's default admin).
    pub user: String,
    pub password: String,
    /// The `X-Scope-OrgID` every datasource sends (`httpHeaderName1`); `None`: none is
    /// configured, as for a single-tenant stack.
    pub tenant: Option<String>,
}

impl Default for LabGrafanaConfig {
    fn default() -> Self {
        LabGrafanaConfig {
            token: LAB_GRAFANA_TOKEN.to_string(),
            user: "admin".to_string(),
            password: "admin".to_string(),
            tenant: None,
        }
    }
}

/// The base URLs the datasources point at: the lab's own backends, empty backends of the same
/// kinds (`wrong-url`), and a port nothing listens on (`dead-url`).
#[derive(Clone, Debug)]
pub struct Upstreams {
    pub tempo: String,
    pub loki: String,
    pub mimir: String,
    pub empty_tempo: String,
    pub empty_loki: String,
    pub empty_mimir: String,
    pub dead: String,
}

/// The lab's Grafana: configuration, where datasources point, and the state whose faults
/// decide how they are misconfigured.
pub struct LabGrafana {
    pub config: LabGrafanaConfig,
    pub upstreams: Upstreams,
    state: Arc<LabState>,
    /// The empty backends' state (tenancy kept in step with the lab's).
    empty: Arc<LabState>,
    http: reqwest::Client,
}

impl LabGrafana {
    pub fn new(
        config: LabGrafanaConfig,
        upstreams: Upstreams,
        state: Arc<LabState>,
        empty: Arc<LabState>,
    ) -> LabGrafana {
        let http = reqwest::Client::builder()
            .use_preconfigured_tls(crate::emit::tls::plain_only_config())
            .timeout(PROXY_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("a plain HTTP client builds");
        LabGrafana {
            config,
            upstreams,
            state,
            empty,
            http,
        }
    }

    /// The datasources as they are now (faults apply at once), sorted as Grafana lists them.
    pub fn datasources(&self) -> Vec<LabDatasource> {
        let u = &self.upstreams;
        let provisioned = [
            (Signal::Trace, 1, "tempo", "Tempo", &u.tempo, &u.empty_tempo),
            (Signal::Log, 2, "loki", "Loki", &u.loki, &u.empty_loki),
            (
                Signal::Metric,
                3,
                "mimir",
                "Mimir",
                &u.mimir,
                &u.empty_mimir,
            ),
        ];
        let mut out = Vec::new();
        for (signal, id, uid, name, direct, empty) in provisioned {
            let fault = self.state.faults.get(signal).grafana;
            if fault.missing {
                continue;
            }
            let mut url = if fault.dead_url {
                u.dead.clone()
            } else if fault.wrong_url {
                empty.clone()
            } else {
                direct.clone()
            };
            let mut json_data = BTreeMap::new();
            let plugin = match signal {
                Signal::Trace => Plugin::TEMPO,
                Signal::Log => Plugin::LOKI,
                Signal::Metric => {
                    // Mimir datasources point at the /prometheus prefix.
                    url.push_str("/prometheus");
                    json_data.insert("httpMethod".into(), json!("GET"));
                    json_data.insert("prometheusType".into(), json!("Mimir"));
                    json_data.insert("prometheusVersion".into(), json!("2.9.1"));
                    Plugin::PROMETHEUS
                }
            };
            let mut secure = BTreeMap::new();
            let mut headers = Vec::new();
            if let Some(t) = self.config.tenant.as_ref().filter(|_| !fault.no_tenant) {
                json_data.insert("httpHeaderName1".into(), json!("X-Scope-OrgID"));
                secure.insert("httpHeaderValue1".to_string(), true);
                headers.push(("x-scope-orgid".to_string(), t.clone()));
            }
            let ds = LabDatasource {
                id,
                uid: uid.to_string(),
                name: name.to_string(),
                plugin,
                url,
                is_default: signal == Signal::Metric,
                json_data,
                secure_json_fields: secure,
                headers,
                empty_backend: fault.wrong_url && !fault.dead_url,
            };
            if fault.duplicate {
                out.push(LabDatasource {
                    id: id + 3,
                    uid: format!("{uid}-2"),
                    name: format!("{name} 2"),
                    is_default: false,
                    ..ds.clone()
                });
            }
            out.push(ds);
        }
        out.sort_by_key(|d| d.name.to_lowercase());
        out
    }
}

/// A Grafana plugin's identity as the datasource list shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Plugin {
    pub id: &'static str,
    pub name: &'static str,
    pub logo: &'static str,
}

impl Plugin {
    const TEMPO: Plugin = Plugin {
        id: "tempo",
        name: "Tempo",
        logo: "public/app/plugins/datasource/tempo/img/tempo_logo.svg",
    };
    const LOKI: Plugin = Plugin {
        id: "loki",
        name: "Loki",
        logo: "public/app/plugins/datasource/loki/img/loki_icon.svg",
    };
    const PROMETHEUS: Plugin = Plugin {
        id: "prometheus",
        name: "Prometheus",
        logo: "public/app/plugins/datasource/prometheus/img/prometheus_logo.svg",
    };
}

/// One datasource of the lab's Grafana.
#[derive(Clone, Debug, PartialEq)]
pub struct LabDatasource {
    pub id: i64,
    pub uid: String,
    pub name: String,
    pub plugin: Plugin,
    pub url: String,
    pub is_default: bool,
    pub json_data: BTreeMap<String, Value>,
    pub secure_json_fields: BTreeMap<String, bool>,
    /// The custom headers sent to the backend (lower-case name, value).
    pub headers: Vec<(String, String)>,
    /// Points at an empty backend (whose tenancy follows the lab's).
    empty_backend: bool,
}

/// `DataSourceListItemDTO`, in Go's field order.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ListItem<'a> {
    id: i64,
    uid: &'a str,
    org_id: i64,
    name: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    type_name: &'a str,
    type_logo_url: &'a str,
    access: &'a str,
    url: &'a str,
    user: &'a str,
    database: &'a str,
    basic_auth: bool,
    is_default: bool,
    json_data: &'a BTreeMap<String, Value>,
    read_only: bool,
}

/// The `DataSource` DTO of `/api/datasources/uid/<uid>`, in Go's field order.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Detail<'a> {
    id: i64,
    uid: &'a str,
    org_id: i64,
    name: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    type_logo_url: &'a str,
    access: &'a str,
    url: &'a str,
    user: &'a str,
    database: &'a str,
    basic_auth: bool,
    basic_auth_user: &'a str,
    with_credentials: bool,
    is_default: bool,
    json_data: &'a BTreeMap<String, Value>,
    secure_json_fields: &'a BTreeMap<String, bool>,
    version: i64,
    read_only: bool,
    api_version: &'a str,
}

impl LabDatasource {
    fn list_item(&self) -> ListItem<'_> {
        ListItem {
            id: self.id,
            uid: &self.uid,
            org_id: 1,
            name: &self.name,
            kind: self.plugin.id,
            type_name: self.plugin.name,
            type_logo_url: self.plugin.logo,
            access: "proxy",
            url: &self.url,
            user: "",
            database: "",
            basic_auth: false,
            is_default: self.is_default,
            json_data: &self.json_data,
            read_only: true,
        }
    }

    fn detail(&self) -> Detail<'_> {
        Detail {
            id: self.id,
            uid: &self.uid,
            org_id: 1,
            name: &self.name,
            kind: self.plugin.id,
            type_logo_url: self.plugin.logo,
            access: "proxy",
            url: &self.url,
            user: "",
            database: "",
            basic_auth: false,
            basic_auth_user: "",
            with_credentials: false,
            is_default: self.is_default,
            json_data: &self.json_data,
            secure_json_fields: &self.secure_json_fields,
            version: 1,
            read_only: true,
            api_version: "",
        }
    }
}

/// The router for the Grafana port.
pub fn router(grafana: Arc<LabGrafana>) -> Router {
    Router::new().fallback(handle).with_state(grafana)
}

/// `ctx.JSON`: `application/json; charset=UTF-8`, the encoder's trailing newline.
fn ctx_json(status: StatusCode, body: &Value) -> Response {
    respond(status, Some(JSON_UTF8), format!("{body}\n"))
}

/// `response.JSON`: `application/json`, no newline.
fn response_json(status: StatusCode, body: String) -> Response {
    respond(status, Some(JSON_PLAIN), body)
}

fn health() -> Response {
    let body = format!(
        "{{\n  \"database\": \"ok\",\n  \"version\": \"{VERSION}\",\n  \"commit\": \"otel-canary-lab\"\n}}"
    );
    respond(StatusCode::OK, Some(JSON_UTF8), body)
}

/// Who is asking: `Ok` for the lab's token or user, else Grafana's 401.
fn authenticate(config: &LabGrafanaConfig, headers: &HeaderMap) -> Result<(), Box<Response>> {
    let unauthorized = |body: Value| Box::new(ctx_json(StatusCode::UNAUTHORIZED, &body));
    let invalid_key = || {
        unauthorized(
            json!({"message": "Invalid API key", "messageId": "api-key.invalid",
            "statusCode": 401, "traceID": ""}),
        )
    };
    let Some(auth) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return Err(unauthorized(json!({"message": "Unauthorized"})));
    };
    if let Some(token) = auth.strip_prefix("Bearer ") {
        return if token.trim() == config.token {
            Ok(())
        } else {
            Err(invalid_key())
        };
    }
    if let Some(b64) = auth.strip_prefix("Basic ") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(b64.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok());
        let Some((user, password)) = decoded.as_deref().and_then(|d| d.split_once(':')) else {
            return Err(Box::new(ctx_json(
                StatusCode::BAD_REQUEST,
                &json!({"message": "Invalid Basic Auth Header", "messageId":
                    "basic-auth.invalid-header", "statusCode": 400, "traceID": ""}),
            )));
        };
        if user == "api_key" {
            return if password == config.token {
                Ok(())
            } else {
                Err(invalid_key())
            };
        }
        return if user == config.user && password == config.password {
            Ok(())
        } else {
            Err(unauthorized(
                json!({"message": "Invalid username or password",
                "messageId": "password-auth.failed", "statusCode": 401, "traceID": ""}),
            ))
        };
    }
    Err(unauthorized(json!({"message": "Unauthorized"})))
}

async fn handle(State(g): State<Arc<LabGrafana>>, req: Request) -> Response {
    let path = req.uri().path().to_string();
    let method = req.method().clone();
    if path == "/api/health" {
        return if matches!(method, Method::GET | Method::HEAD) {
            health()
        } else {
            not_found()
        };
    }
    if !path.starts_with("/api/") {
        // A signed-out browser is sent to the login page.
        let mut r = respond(StatusCode::FOUND, Some("text/html; charset=utf-8"), "");
        r.headers_mut()
            .insert(header::LOCATION, HeaderValue::from_static("/login"));
        return r;
    }
    if let Err(r) = authenticate(&g.config, req.headers()) {
        return *r;
    }
    if let Some(rest) = path.strip_prefix("/api/datasources/proxy/uid/") {
        let (uid, proxy_path) = rest.split_once('/').unwrap_or((rest, ""));
        let (uid, proxy_path) = (uid.to_string(), proxy_path.to_string());
        return proxy(&g, &uid, &proxy_path, req).await;
    }
    if method != Method::GET {
        return not_found();
    }
    match path.as_str() {
        "/api/datasources" | "/api/datasources/" => {
            let list = g.datasources();
            let items: Vec<ListItem> = list.iter().map(LabDatasource::list_item).collect();
            response_json(
                StatusCode::OK,
                serde_json::to_string(&items).expect("serialisable"),
            )
        }
        p => match p.strip_prefix("/api/datasources/uid/") {
            Some(uid) if !uid.is_empty() && !uid.contains('/') => {
                match g.datasources().into_iter().find(|d| d.uid == uid) {
                    Some(d) => response_json(
                        StatusCode::OK,
                        serde_json::to_string(&d.detail()).expect("serialisable"),
                    ),
                    None => response_json(
                        StatusCode::NOT_FOUND,
                        r#"{"message":"Data source not found"}"#.to_string(),
                    ),
                }
            }
            _ => not_found(),
        },
    }
}

/// Grafana's answer for an API path it does not have (inferred: `JsonApiErr(404, "Not found")`).
fn not_found() -> Response {
    ctx_json(StatusCode::NOT_FOUND, &json!({"message": "Not found"}))
}

/// Grafana's `util.IsValidShortUID`.
fn valid_uid(uid: &str) -> bool {
    uid.len() <= 40
        && uid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Headers Go's reverse proxy never forwards (RFC 7230 hop-by-hop), plus what the lab's
/// Grafana replaces itself.
fn dropped_request_header(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection"
            | "keep-alive"
            | "proxy-connection"
            | "proxy-authenticate"
            | "proxy-authorization"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
            | "host"
            | "content-length"
            | "authorization"
            | "cookie"
            | "origin"
            | "referer"
            | "user-agent"
            | "x-forwarded-host"
            | "x-forwarded-port"
            | "x-forwarded-proto"
    )
}

fn dropped_response_header(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection"
            | "keep-alive"
            | "proxy-connection"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
            | "content-length"
            | "set-cookie"
    )
}

/// The Prometheus plugin's allow-listed POST routes (inferred from its plugin.json).
fn prometheus_post_allowed(path: &str) -> bool {
    matches!(
        path.trim_start_matches('/'),
        "api/v1/query"
            | "api/v1/query_range"
            | "api/v1/series"
            | "api/v1/labels"
            | "api/v1/query_exemplars"
    )
}

async fn proxy(g: &LabGrafana, uid: &str, proxy_path: &str, req: Request) -> Response {
    if !valid_uid(uid) || uid.is_empty() {
        return ctx_json(
            StatusCode::BAD_REQUEST,
            &json!({"message": "UID is invalid"}),
        );
    }
    let Some(ds) = g.datasources().into_iter().find(|d| d.uid == uid) else {
        return ctx_json(
            StatusCode::NOT_FOUND,
            &json!({"message": "Unable to find datasource", "traceID": ""}),
        );
    };
    let method = req.method().clone();
    if ds.plugin == Plugin::PROMETHEUS {
        let verb = match method {
            Method::DELETE => Some("DELETEs"),
            Method::PUT => Some("PUTs"),
            Method::POST if !prometheus_post_allowed(proxy_path) => Some("POSTs"),
            _ => None,
        };
        if let Some(verb) = verb {
            return ctx_json(
                StatusCode::FORBIDDEN,
                &json!({"message": format!("non allow-listed {verb} not allowed on proxied Prometheus datasource")}),
            );
        }
    }
    if ds.empty_backend {
        g.empty.set_require_tenant(g.state.requires_tenant());
    }
    let query = req.uri().query().map(str::to_string);
    let (parts, body) = req.into_parts();
    let Ok(body) = axum::body::to_bytes(body, MAX_BODY).await else {
        return respond(
            StatusCode::PAYLOAD_TOO_LARGE,
            Some(TEXT_UTF8),
            "http: request body too large\n",
        );
    };
    let mut target = format!(
        "{}/{}",
        ds.url.trim_end_matches('/'),
        proxy_path.trim_start_matches('/')
    );
    if let Some(q) = query {
        target.push('?');
        target.push_str(&q);
    }
    let mut out = g.http.request(method, &target);
    for (name, value) in parts.headers.iter() {
        if !dropped_request_header(name) {
            out = out.header(name, value);
        }
    }
    for (name, value) in &ds.headers {
        out = out.header(name.as_str(), value.as_str());
    }
    out = out
        .header(header::USER_AGENT, format!("Grafana/{VERSION}"))
        .header("x-forwarded-for", "127.0.0.1");
    let answer = match out.body(body).send().await {
        Ok(a) => a,
        Err(e) if e.is_timeout() => return bare(StatusCode::GATEWAY_TIMEOUT),
        Err(_) => return bare(StatusCode::BAD_GATEWAY),
    };
    let status = answer.status();
    if status == StatusCode::UNAUTHORIZED {
        // pluginproxy: the datasource rejected the request as unauthorized, convert to 400.
        let mut r = respond(
            StatusCode::BAD_REQUEST,
            Some(TEXT_UTF8),
            "Authentication to data source failed",
        );
        sandbox(&mut r);
        return r;
    }
    let headers = answer.headers().clone();
    let body: Bytes = match answer.bytes().await {
        Ok(b) => b,
        Err(_) => return bare(StatusCode::BAD_GATEWAY),
    };
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    for (name, value) in headers.iter() {
        if !dropped_response_header(name) {
            r.headers_mut().append(name, value.clone());
        }
    }
    sandbox(&mut r);
    r
}

/// What Go's reverse proxy error handler writes: a status and nothing else.
fn bare(status: StatusCode) -> Response {
    respond(status, None, Body::empty())
}

fn sandbox(r: &mut Response) {
    r.headers_mut().insert(
        "content-security-policy",
        HeaderValue::from_static("sandbox"),
    );
}
