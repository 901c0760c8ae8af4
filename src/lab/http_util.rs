//! Small response and request helpers shared by the lab's query APIs, so each API module only
//! says *what* the real server answers (Go's `http.Error` shapes, empty bodies without a
//! Content-Type, form parameters read the way Go's `r.FormValue` reads them).

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::Response;

/// Go's `text/plain; charset=utf-8`.
pub const TEXT_UTF8: &str = "text/plain; charset=utf-8";
/// Largest query request body read (queries are small; OTLP pushes use their own limit).
const MAX_QUERY_BODY: usize = 1024 * 1024;

/// A response with an optional Content-Type.
pub fn respond(status: StatusCode, content_type: Option<&str>, body: impl Into<Body>) -> Response {
    let mut r = Response::new(body.into());
    *r.status_mut() = status;
    if let Some(ct) = content_type.and_then(|c| HeaderValue::from_str(c).ok()) {
        r.headers_mut().insert(header::CONTENT_TYPE, ct);
    }
    r
}

/// What Go's `http.Error` sends: text with `X-Content-Type-Options: nosniff`. The body is
/// used as given (callers add the newline `http.Error` writes where the server used it).
pub fn go_error(status: StatusCode, body: impl Into<Body>) -> Response {
    let mut r = respond(status, Some(TEXT_UTF8), body);
    r.headers_mut().insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    r
}

/// Go's mux answer for an unknown path.
pub fn not_found() -> Response {
    go_error(StatusCode::NOT_FOUND, "404 page not found\n")
}

/// An empty body and no Content-Type (Loki 204, Mimir 200, Tempo v1 404).
pub fn empty(status: StatusCode) -> Response {
    respond(status, None, Body::empty())
}

/// Adds `Vary: Accept-Encoding`, which the real query frontends' gzip middleware sets.
pub fn vary(mut r: Response) -> Response {
    r.headers_mut()
        .insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    r
}

/// A JSON body with the given Content-Type.
pub fn json(status: StatusCode, content_type: &str, body: impl Into<Body>) -> Response {
    respond(status, Some(content_type), body)
}

/// The answer a `query_error` fault asks for.
pub fn fault_answer(status: u16, body: &str) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    respond(status, Some(TEXT_UTF8), body.to_string())
}

/// Request parameters: form body first, then the URL query, as Go's `r.FormValue` sees them.
#[derive(Clone, Debug, Default)]
pub struct Params(Vec<(String, String)>);

impl Params {
    /// Parameters from already-decoded pairs (tests, internal callers).
    pub fn from_pairs(pairs: Vec<(String, String)>) -> Params {
        Params(pairs)
    }

    /// The first value of `name`, if present.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first non-empty value of `name`.
    pub fn non_empty(&self, name: &str) -> Option<&str> {
        self.get(name).filter(|v| !v.is_empty())
    }

    /// Every value of `name` (repeatable parameters such as `match[]`).
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

fn pairs(raw: &[u8]) -> impl Iterator<Item = (String, String)> + '_ {
    url::form_urlencoded::parse(raw).map(|(k, v)| (k.into_owned(), v.into_owned()))
}

/// A handler step's outcome: the value, or the (boxed, responses are large) early answer.
pub type Reply<T> = Result<T, Box<Response>>;

/// A request split into what the handlers need.
pub struct Incoming {
    pub method: Method,
    /// The path, percent-decoded.
    pub path: String,
    pub headers: HeaderMap,
    pub params: Params,
    pub body: Bytes,
}

/// Reads a request: path, headers, parameters (URL query plus a form body on POST) and body.
pub async fn incoming(req: Request, body_limit: usize) -> Reply<Incoming> {
    let (parts, body): (Parts, Body) = req.into_parts();
    let limit = body_limit.max(MAX_QUERY_BODY);
    let body = axum::body::to_bytes(body, limit).await.map_err(|_| {
        Box::new(go_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "http: request body too large\n",
        ))
    })?;
    let mut params = Vec::new();
    let is_form = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
    if is_form && matches!(parts.method, Method::POST | Method::PUT | Method::PATCH) {
        params.extend(pairs(&body));
    }
    if let Some(q) = parts.uri.query() {
        params.extend(pairs(q.as_bytes()));
    }
    let path = percent_encoding::percent_decode_str(parts.uri.path())
        .decode_utf8_lossy()
        .into_owned();
    Ok(Incoming {
        method: parts.method,
        path,
        headers: parts.headers,
        params: Params(params),
        body,
    })
}
