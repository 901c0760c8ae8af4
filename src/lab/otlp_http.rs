//! The lab's OTLP/HTTP receiver, answering byte for byte like the OpenTelemetry Collector
//! (shared/fixtures/collector): 200 with an `Export*ServiceResponse` in the request's encoding
//! (`0a 00` / `{"partialSuccess":{}}`), 400 with a `google.rpc.Status` for undecodable bodies,
//! 404 / 405 / 415 as plain text for wrong paths, methods and content types.

use super::LabState;
use super::faults::SignalFault;
use super::store::ReceivedVia;
use crate::emit::encoding::{Encoding, Payload};
use crate::signal::Signal;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::Response;
use axum::routing::any;
use flate2::read::GzDecoder;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;
use serde_json::json;
use std::io::Read;
use std::sync::Arc;

/// Largest request body accepted (the OTLP recommended limit).
pub const MAX_BODY: usize = 64 * 1024 * 1024;

/// The router for `/v1/traces`, `/v1/logs` and `/v1/metrics`.
pub fn router(state: Arc<LabState>) -> Router {
    let route = |signal: Signal| {
        any(
            move |st: State<Arc<LabState>>, m: Method, h: HeaderMap, b: Bytes| {
                export(st, signal, m, h, b)
            },
        )
    };
    Router::new()
        .route("/v1/traces", route(Signal::Trace))
        .route("/v1/logs", route(Signal::Log))
        .route("/v1/metrics", route(Signal::Metric))
        .fallback(|| async {
            text(
                StatusCode::NOT_FOUND,
                "text/plain; charset=utf-8",
                "404 page not found\n",
            )
        })
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(state)
}

fn text(status: StatusCode, content_type: &'static str, body: &'static str) -> Response {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, content_type)
        .body(Body::from(body))
        .expect("static response is valid")
}

fn encoded(status: StatusCode, enc: Encoding, body: Vec<u8>) -> Response {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, enc.content_type())
        .body(Body::from(body))
        .expect("response is valid")
}

/// A `google.rpc.Status` in the request's encoding, as the collector sends errors.
pub fn status_body(enc: Encoding, code: i32, message: &str) -> Vec<u8> {
    match enc {
        Encoding::Protobuf => tonic_types::Status {
            code,
            message: message.to_string(),
            details: vec![],
        }
        .encode_to_vec(),
        Encoding::Json => {
            serde_json::to_vec(&json!({"code": code, "message": message})).expect("json")
        }
    }
}

/// The collector's success body: partial success present, empty unless a fault sets it.
pub fn success_body(signal: Signal, enc: Encoding, partial: Option<&(i64, String)>) -> Vec<u8> {
    use opentelemetry_proto::tonic::collector::{logs, metrics, trace};
    let (rejected, message) = partial.cloned().unwrap_or((0, String::new()));
    match enc {
        Encoding::Protobuf => match signal {
            Signal::Trace => trace::v1::ExportTraceServiceResponse {
                partial_success: Some(trace::v1::ExportTracePartialSuccess {
                    rejected_spans: rejected,
                    error_message: message,
                }),
            }
            .encode_to_vec(),
            Signal::Log => logs::v1::ExportLogsServiceResponse {
                partial_success: Some(logs::v1::ExportLogsPartialSuccess {
                    rejected_log_records: rejected,
                    error_message: message,
                }),
            }
            .encode_to_vec(),
            Signal::Metric => metrics::v1::ExportMetricsServiceResponse {
                partial_success: Some(metrics::v1::ExportMetricsPartialSuccess {
                    rejected_data_points: rejected,
                    error_message: message,
                }),
            }
            .encode_to_vec(),
        },
        Encoding::Json => {
            let mut ps = serde_json::Map::new();
            if rejected != 0 {
                let key = match signal {
                    Signal::Trace => "rejectedSpans",
                    Signal::Log => "rejectedLogRecords",
                    Signal::Metric => "rejectedDataPoints",
                };
                ps.insert(key.into(), json!(rejected.to_string()));
            }
            if !message.is_empty() {
                ps.insert("errorMessage".into(), json!(message));
            }
            serde_json::to_vec(&json!({ "partialSuccess": ps })).expect("json")
        }
    }
}

/// Decodes an OTLP request body of the given signal and encoding.
pub fn decode_request(signal: Signal, enc: Encoding, body: &[u8]) -> Result<Payload, String> {
    fn json<T: serde::de::DeserializeOwned>(b: &[u8]) -> Result<T, String> {
        serde_json::from_slice(b).map_err(|e| e.to_string())
    }
    let proto = |e: prost::DecodeError| e.to_string();
    Ok(match (signal, enc) {
        (Signal::Trace, Encoding::Protobuf) => {
            Payload::Trace(ExportTraceServiceRequest::decode(body).map_err(proto)?)
        }
        (Signal::Log, Encoding::Protobuf) => {
            Payload::Log(ExportLogsServiceRequest::decode(body).map_err(proto)?)
        }
        (Signal::Metric, Encoding::Protobuf) => {
            Payload::Metric(ExportMetricsServiceRequest::decode(body).map_err(proto)?)
        }
        (Signal::Trace, Encoding::Json) => Payload::Trace(json(body)?),
        (Signal::Log, Encoding::Json) => Payload::Log(json(body)?),
        (Signal::Metric, Encoding::Json) => Payload::Metric(json(body)?),
    })
}

/// The encoding a Content-Type names, as the collector judges it: JSON with parameters is
/// fine, protobuf must be exact.
fn request_encoding(headers: &HeaderMap) -> Option<Encoding> {
    let ct = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    let essence = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match essence.as_str() {
        "application/json" => Some(Encoding::Json),
        "application/x-protobuf" => Some(Encoding::Protobuf),
        _ => None,
    }
}

/// Request headers as stored: lowercase names, values lossily decoded.
pub fn header_pairs(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect()
}

/// Undoes `Content-Encoding: gzip` (the only compression OTLP/HTTP clients send).
pub fn decompress(headers: &HeaderMap, body: Bytes) -> Result<Bytes, String> {
    match headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
    {
        None | Some("") | Some("identity") => Ok(body),
        Some(enc) if enc.eq_ignore_ascii_case("gzip") => {
            let mut out = Vec::new();
            GzDecoder::new(&body[..])
                .take(MAX_BODY as u64 + 1)
                .read_to_end(&mut out)
                .map_err(|e| format!("gzip: {e}"))?;
            Ok(Bytes::from(out))
        }
        Some(other) => Err(format!("unsupported Content-Encoding {other:?}")),
    }
}

async fn export(
    State(state): State<Arc<LabState>>,
    signal: Signal,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if method != Method::POST {
        return text(
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain",
            "405 method not allowed, supported: [POST]",
        );
    }
    let Some(enc) = request_encoding(&headers) else {
        return text(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "text/plain",
            "415 unsupported media type, supported: [application/json, application/x-protobuf]",
        );
    };
    let payload = match decompress(&headers, body).and_then(|b| decode_request(signal, enc, &b)) {
        Ok(p) => p,
        Err(msg) => return encoded(StatusCode::BAD_REQUEST, enc, status_body(enc, 3, &msg)),
    };
    let fault = state.faults.get(signal);
    if !fault.delay.is_zero() {
        tokio::time::sleep(fault.delay).await;
    }
    if let Some(resp) = fault_status(&fault, enc) {
        state.answered_error(ReceivedVia::Http(enc), &payload, resp.status().as_u16());
        return resp;
    }
    state.accept(ReceivedVia::Http(enc), header_pairs(&headers), payload);
    encoded(
        StatusCode::OK,
        enc,
        success_body(signal, enc, fault.partial.as_ref()),
    )
}

fn fault_status(fault: &SignalFault, enc: Encoding) -> Option<Response> {
    let status = StatusCode::from_u16(fault.status?).ok()?;
    let code = super::faults::grpc_code_for_http(status.as_u16()) as i32;
    let mut resp = encoded(
        status,
        enc,
        status_body(enc, code, &format!("lab fault: answering {status}")),
    );
    if let Some(secs) = fault.retry_after {
        resp.headers_mut().insert(header::RETRY_AFTER, secs.into());
    }
    Some(resp)
}
