//! OTLP/HTTP ingest as Loki (`/otlp/v1/logs`) and Mimir (`/otlp/v1/metrics`) do it, which is
//! stricter and terser than a collector: the Content-Type must match exactly (so
//! `application/json; charset=utf-8` is refused), errors are a protobuf `google.rpc.Status`
//! sent as `application/octet-stream`, and success is an empty body without a Content-Type
//! (Loki 204, Mimir 200; Loki answers a push with no log record 422). What they accept lands
//! in the same store as the receivers' data.

use super::LabState;
use super::http_util::{Incoming, empty, respond};
use super::otlp_http::{decode_request, decompress, header_pairs};
use super::store::ReceivedVia;
use super::tenancy::{self, TenantError};
use crate::emit::encoding::Encoding;
use crate::signal::Signal;
use axum::http::{Method, StatusCode};
use axum::response::Response;
use prost::Message;

/// Loki's answer to an OTLP push without a single log record (422).
pub const LOKI_EMPTY_PUSH: &str = "error at least one valid stream is required for ingestion";

/// Which backend's rules apply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Loki,
    Mimir,
}

/// A protobuf `google.rpc.Status` answer (`code` 0 is left out, as Loki sends it).
fn status_answer(status: StatusCode, code: i32, message: &str) -> Response {
    let body = tonic_types::Status {
        code,
        message: message.to_string(),
        details: vec![],
    }
    .encode_to_vec();
    respond(status, Some("application/octet-stream"), body)
}

/// Handles one push to the backend's OTLP path.
pub async fn ingest(state: &LabState, backend: Backend, inc: Incoming) -> Response {
    let signal = match backend {
        Backend::Loki => Signal::Log,
        Backend::Mimir => Signal::Metric,
    };
    if inc.method != Method::POST {
        return empty(StatusCode::METHOD_NOT_ALLOWED);
    }
    match tenancy::scope(state, &inc.headers, false) {
        Ok(_) => {}
        Err(TenantError::Missing) => return tenancy::no_org_id(),
        Err(TenantError::Multiple(n)) => {
            return match backend {
                Backend::Loki => {
                    status_answer(StatusCode::BAD_REQUEST, 0, "multiple org IDs present")
                }
                Backend::Mimir => tenancy::mimir_too_many(n),
            };
        }
    }
    let content_type = inc
        .headers
        .get(axum::http::header::CONTENT_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .unwrap_or_default();
    let enc = match content_type.as_str() {
        "application/json" => Encoding::Json,
        "application/x-protobuf" => Encoding::Protobuf,
        other => {
            return match backend {
                Backend::Loki => status_answer(
                    StatusCode::BAD_REQUEST,
                    0,
                    &format!("content type: {other} is not supported"),
                ),
                Backend::Mimir => status_answer(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    415,
                    &format!(
                        "unsupported content type: {other}, supported: [application/json, application/x-protobuf]"
                    ),
                ),
            };
        }
    };
    let payload = match decompress(&inc.headers, inc.body.clone())
        .and_then(|b| decode_request(signal, enc, &b))
    {
        Ok(p) => p,
        Err(msg) => {
            let code = match backend {
                Backend::Loki => 0,
                Backend::Mimir => 400,
            };
            return status_answer(StatusCode::BAD_REQUEST, code, &msg);
        }
    };
    if backend == Backend::Loki && super::pipeline::item_count(&payload) == 0 {
        // Loki 3.6 refuses a push with no log record in it (an empty probe, such as
        // doctor's): shared/fixtures/loki/otlp-logs-empty-*.
        return status_answer(StatusCode::UNPROCESSABLE_ENTITY, 0, LOKI_EMPTY_PUSH);
    }
    let fault = state.faults.get(signal);
    if !fault.delay.is_zero() {
        tokio::time::sleep(fault.delay).await;
    }
    if let Some(status) = fault.status.and_then(|s| StatusCode::from_u16(s).ok()) {
        let code = match backend {
            Backend::Loki => 0,
            Backend::Mimir => i32::from(status.as_u16()),
        };
        let mut resp = status_answer(
            status,
            code,
            &format!("otel-canary lab fault: answering {status}"),
        );
        if let Some(secs) = fault.retry_after {
            resp.headers_mut()
                .insert(axum::http::header::RETRY_AFTER, secs.into());
        }
        return resp;
    }
    state.record(ReceivedVia::Http(enc), header_pairs(&inc.headers), payload);
    match backend {
        Backend::Loki => empty(StatusCode::NO_CONTENT),
        Backend::Mimir => empty(StatusCode::OK),
    }
}
