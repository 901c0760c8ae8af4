//! Reading OTLP/HTTP answers tolerantly. Real servers differ (shared/fixtures/README.md):
//! Loki answers 204 with no body, Mimir 200 with an empty body and no Content-Type, Tempo and
//! the collector 200 with `{"partialSuccess":{}}` or the 2 bytes `0a 00`. All are success;
//! partial success is decoded only from a non-empty body. Error bodies may be a protobuf
//! `google.rpc.Status`, JSON, or plain text.

use super::encoding::Encoding;
use super::outcome::PartialSuccess;
use crate::signal::Signal;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceResponse;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceResponse;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use prost::Message;
use serde_json::Value;

/// Longest error text quoted in a report.
const MAX_QUOTE: usize = 512;

fn body_encoding(content_type: Option<&str>, request: Encoding) -> Encoding {
    match content_type.map(str::to_ascii_lowercase) {
        Some(ct) if ct.contains("json") => Encoding::Json,
        Some(ct) if ct.contains("protobuf") || ct.contains("octet-stream") => Encoding::Protobuf,
        _ => request,
    }
}

/// Normalises a decoded partial success: an empty one means full success.
fn meaningful(rejected: i64, message: String) -> Option<PartialSuccess> {
    (rejected != 0 || !message.is_empty()).then_some(PartialSuccess { rejected, message })
}

/// Decodes the partial success from a 2xx body. `Err` means the body is not an OTLP export
/// response at all (a proxy page, say), which the caller reports as class `body`.
pub fn decode_partial_success(
    signal: Signal,
    body: &[u8],
    content_type: Option<&str>,
    request: Encoding,
) -> Result<Option<PartialSuccess>, String> {
    if body.is_empty() {
        return Ok(None);
    }
    match body_encoding(content_type, request) {
        Encoding::Protobuf => decode_protobuf(signal, body),
        Encoding::Json => decode_json(signal, body),
    }
    .map_err(|e| {
        format!(
            "the 2xx answer is not an OTLP export response ({e}): {}",
            quote(body)
        )
    })
}

fn decode_protobuf(signal: Signal, body: &[u8]) -> Result<Option<PartialSuccess>, String> {
    let err = |e: prost::DecodeError| e.to_string();
    Ok(match signal {
        Signal::Trace => ExportTraceServiceResponse::decode(body)
            .map_err(err)?
            .partial_success
            .and_then(|p| meaningful(p.rejected_spans, p.error_message)),
        Signal::Log => ExportLogsServiceResponse::decode(body)
            .map_err(err)?
            .partial_success
            .and_then(|p| meaningful(p.rejected_log_records, p.error_message)),
        Signal::Metric => ExportMetricsServiceResponse::decode(body)
            .map_err(err)?
            .partial_success
            .and_then(|p| meaningful(p.rejected_data_points, p.error_message)),
    })
}

/// 64-bit integers arrive as strings in OTLP/JSON; accept numbers too.
fn json_i64(v: Option<&Value>) -> Result<i64, String> {
    match v {
        None | Some(Value::Null) => Ok(0),
        Some(Value::Number(n)) => n.as_i64().ok_or_else(|| format!("{n} is not an integer")),
        Some(Value::String(s)) => s.parse().map_err(|_| format!("'{s}' is not an integer")),
        Some(other) => Err(format!("{other} is not an integer")),
    }
}

fn decode_json(signal: Signal, body: &[u8]) -> Result<Option<PartialSuccess>, String> {
    let v: Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let obj = v.as_object().ok_or("not a JSON object")?;
    let Some(ps) = obj
        .get("partialSuccess")
        .or_else(|| obj.get("partial_success"))
    else {
        return Ok(None);
    };
    if ps.is_null() {
        return Ok(None);
    }
    let ps = ps.as_object().ok_or("partialSuccess is not an object")?;
    let field = match signal {
        Signal::Trace => ["rejectedSpans", "rejected_spans"],
        Signal::Log => ["rejectedLogRecords", "rejected_log_records"],
        Signal::Metric => ["rejectedDataPoints", "rejected_data_points"],
    };
    let rejected = json_i64(field.iter().find_map(|k| ps.get(*k)))?;
    let message = ps
        .get("errorMessage")
        .or_else(|| ps.get("error_message"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    Ok(meaningful(rejected, message))
}

/// The human text of an error body: `google.rpc.Status` (protobuf), then JSON (`message`,
/// `error`), then text.
pub fn describe_error_body(body: &[u8], content_type: Option<&str>) -> String {
    if body.is_empty() {
        return String::new();
    }
    let ct = content_type.unwrap_or("").to_ascii_lowercase();
    let textual = ct.contains("json") || ct.starts_with("text/");
    if !textual
        && let Ok(status) = tonic_types::Status::decode(body)
        && !status.message.is_empty()
    {
        return clip(&status.message);
    }
    if let Ok(v) = serde_json::from_slice::<Value>(body) {
        for key in ["message", "error"] {
            if let Some(s) = v.get(key).and_then(Value::as_str) {
                return clip(s);
            }
        }
    }
    quote(body)
}

/// Trims, clips to `MAX_QUOTE` characters and shows control characters (an escape sequence
/// in a server's message would reach the terminal) as `·`; line breaks and tabs stay.
fn clip(s: &str) -> String {
    let s = s.trim();
    let shown = |c: char| {
        if c.is_control() && c != '\n' && c != '\t' {
            '·'
        } else {
            c
        }
    };
    if s.chars().count() <= MAX_QUOTE {
        s.chars().map(shown).collect()
    } else {
        let head: String = s.chars().take(MAX_QUOTE).map(shown).collect();
        format!("{head}…")
    }
}

/// A body as printable text (lossy UTF-8, control characters escaped, clipped).
pub fn quote(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let printable: String = text
        .trim()
        .chars()
        .map(|c| if c.is_control() && c != ' ' { '·' } else { c })
        .collect();
    clip(&printable)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_and_empty_partial_success_are_full_success() {
        for (body, ct) in [
            (&b""[..], None),
            (&b"{\"partialSuccess\":{}}"[..], Some("application/json")),
            (&[0x0a, 0x00][..], Some("application/x-protobuf")),
        ] {
            assert_eq!(
                decode_partial_success(Signal::Trace, body, ct, Encoding::Protobuf),
                Ok(None)
            );
        }
    }

    #[test]
    fn rejected_counts_decode_from_strings_and_numbers() {
        let body = br#"{"partialSuccess":{"rejectedLogRecords":"2","errorMessage":"too old"}}"#;
        let got =
            decode_partial_success(Signal::Log, body, Some("application/json"), Encoding::Json)
                .unwrap();
        assert_eq!(
            got,
            Some(PartialSuccess {
                rejected: 2,
                message: "too old".into()
            })
        );
        let body = br#"{"partialSuccess":{"rejectedDataPoints":1}}"#;
        let got = decode_partial_success(Signal::Metric, body, None, Encoding::Json).unwrap();
        assert_eq!(got.unwrap().rejected, 1);
    }

    #[test]
    fn a_non_otlp_2xx_body_is_an_error() {
        let e = decode_partial_success(
            Signal::Trace,
            b"<html>ok</html>",
            Some("text/html"),
            Encoding::Json,
        )
        .unwrap_err();
        assert!(e.contains("not an OTLP export response"), "{e}");
    }

    #[test]
    fn error_bodies_in_every_shape() {
        let status = tonic_types::Status {
            code: 3,
            message: "unexpected EOF".into(),
            details: vec![],
        };
        assert_eq!(
            describe_error_body(&status.encode_to_vec(), Some("application/x-protobuf")),
            "unexpected EOF"
        );
        assert_eq!(
            describe_error_body(
                br#"{"code":3,"message":"bad id"}"#,
                Some("application/json")
            ),
            "bad id"
        );
        assert_eq!(
            describe_error_body(b"404 page not found\n", Some("text/plain")),
            "404 page not found"
        );
        assert_eq!(
            describe_error_body(b"404 page not found", None),
            "404 page not found"
        );
    }

    #[test]
    fn a_servers_message_cannot_reach_the_terminal_as_control_characters() {
        // Found by fuzzing (rpc_status): a Status message was quoted with its NULs and
        // escapes intact.
        let status = tonic_types::Status {
            code: 3,
            message: "bad\u{1b}[2J\0id\nline 2".into(),
            details: vec![],
        };
        assert_eq!(
            describe_error_body(&status.encode_to_vec(), Some("application/x-protobuf")),
            "bad·[2J·id\nline 2"
        );
        assert_eq!(
            describe_error_body(br#"{"message":"a\u0007b"}"#, Some("application/json")),
            "a·b"
        );
    }
}
