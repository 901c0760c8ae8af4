//! The closed set of export failure classes, and classification of the error chains reqwest,
//! hyper, rustls and tonic produce. The string matches come from what these libraries were
//! observed to report against real servers (shared/fixtures/collector/rust-*.txt).

use serde::Serialize;
use std::error::Error as StdError;
use std::fmt;
use std::io;

/// Why an export failed. Closed and small on purpose: it becomes a metrics label later.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorClass {
    /// The host name did not resolve.
    Dns,
    /// Nothing listens on the port (TCP RST on connect).
    ConnectRefused,
    /// The TCP (or TLS) connection was not established in time: filtered port, wrong host.
    ConnectTimeout,
    /// TLS failed on a TLS port: an untrusted or mismatched certificate, mTLS refused.
    TlsHandshake,
    /// One side spoke TLS and the other plain text: `https://` to a plain port, or
    /// `http://` to a port that expects TLS. `port_speaks` on the error says which.
    TlsMismatch,
    /// The peer speaks another protocol: HTTP/1.1 sent to a gRPC port, gRPC to an HTTP port.
    ProtocolMismatch,
    /// No such path or service on a server that does speak the protocol: HTTP 404, gRPC
    /// UNIMPLEMENTED (Loki wants `/otlp/v1/logs`, Tempo's query port has no OTLP).
    WrongPath,
    /// Credentials or tenant refused: HTTP 401/403, gRPC UNAUTHENTICATED/PERMISSION_DENIED.
    Auth,
    /// The request is larger than the receiver takes: HTTP 413.
    TooLarge,
    /// The receiver is shedding load: HTTP 429, gRPC RESOURCE_EXHAUSTED.
    RateLimited,
    /// The receiver (or a proxy in front of it) cannot take data now: HTTP 502/503/504,
    /// gRPC UNAVAILABLE.
    Unavailable,
    /// Any other HTTP status than 2xx.
    HttpStatus,
    /// Any other gRPC status than OK, sent by the server itself.
    GrpcStatus,
    /// Accepted with OTLP partial success: some items rejected.
    PartialSuccess,
    /// Connected, but no answer within the export timeout.
    Timeout,
    /// A 2xx answer whose body is not an OTLP export response.
    Body,
    /// The connection failed in a way none of the above describes (reset, closed early).
    Transport,
    /// The SDK emitter's flush came back without a request ever leaving the process: its
    /// sampler dropped the span, its queue was full, or the exporter never ran (incident 7,
    /// "spans never left the process").
    NotSent,
}

impl ErrorClass {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorClass::Dns => "dns",
            ErrorClass::ConnectRefused => "connect_refused",
            ErrorClass::ConnectTimeout => "connect_timeout",
            ErrorClass::TlsHandshake => "tls_handshake",
            ErrorClass::TlsMismatch => "tls_mismatch",
            ErrorClass::ProtocolMismatch => "protocol_mismatch",
            ErrorClass::WrongPath => "wrong_path",
            ErrorClass::Auth => "auth",
            ErrorClass::TooLarge => "too_large",
            ErrorClass::RateLimited => "rate_limited",
            ErrorClass::Unavailable => "unavailable",
            ErrorClass::HttpStatus => "http_status",
            ErrorClass::GrpcStatus => "grpc_status",
            ErrorClass::PartialSuccess => "partial_success",
            ErrorClass::Timeout => "timeout",
            ErrorClass::Body => "body",
            ErrorClass::Transport => "transport",
            ErrorClass::NotSent => "not_sent",
        }
    }
}

impl fmt::Display for ErrorClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Failures of our own dialer (used for gRPC), typed so classification need not guess.
#[derive(Debug, thiserror::Error)]
pub enum DialError {
    #[error("dns error: {0}")]
    Dns(io::Error),
    #[error("tcp connect error: {0}")]
    Connect(io::Error),
    #[error("tls handshake error: {0}")]
    Tls(io::Error),
}

/// The whole error chain as one line, with repeated segments dropped
/// (`client error (Connect): tcp connect error: Connection refused (os error 111)`).
pub fn chain_text(err: &(dyn StdError + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cur: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = cur {
        let s = e.to_string();
        if !parts.iter().any(|p| p.contains(&s)) {
            parts.push(s);
        }
        cur = e.source();
    }
    parts.join(": ")
}

/// Classifies a connection-level error chain. `during_connect` says whether the failure
/// happened before a connection existed (so a timeout is a connect timeout).
pub fn classify_chain(err: &(dyn StdError + 'static), during_connect: bool) -> ErrorClass {
    let mut cur: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = cur {
        if let Some(d) = e.downcast_ref::<DialError>() {
            return match d {
                DialError::Dns(_) => ErrorClass::Dns,
                DialError::Connect(io) => classify_io(io, true),
                DialError::Tls(_) => ErrorClass::TlsHandshake,
            };
        }
        if e.downcast_ref::<rustls::Error>().is_some() {
            return ErrorClass::TlsHandshake;
        }
        if let Some(io) = e.downcast_ref::<io::Error>() {
            if io
                .get_ref()
                .is_some_and(|inner| inner.is::<rustls::Error>())
            {
                return ErrorClass::TlsHandshake;
            }
            if matches!(
                io.kind(),
                io::ErrorKind::ConnectionRefused | io::ErrorKind::TimedOut
            ) {
                return classify_io(io, during_connect);
            }
        }
        cur = e.source();
    }
    classify_text(&chain_text(err).to_ascii_lowercase(), during_connect)
}

fn classify_io(io: &io::Error, during_connect: bool) -> ErrorClass {
    match io.kind() {
        io::ErrorKind::ConnectionRefused => ErrorClass::ConnectRefused,
        io::ErrorKind::TimedOut if during_connect => ErrorClass::ConnectTimeout,
        io::ErrorKind::TimedOut => ErrorClass::Timeout,
        _ => classify_text(&io.to_string().to_ascii_lowercase(), during_connect),
    }
}

/// Classifies an error that only exists as text (what the OpenTelemetry SDK returns: its
/// errors carry the transport's source chain as a string).
pub fn classify_message(text: &str, during_connect: bool) -> ErrorClass {
    classify_text(&text.to_ascii_lowercase(), during_connect)
}

fn classify_text(text: &str, during_connect: bool) -> ErrorClass {
    let has = |needle: &str| text.contains(needle);
    if has("dns error") || has("failed to lookup address") || has("name or service not known") {
        ErrorClass::Dns
    } else if has("connection refused") {
        ErrorClass::ConnectRefused
    } else if has("invalidcontenttype")
        || has("certificate")
        || has("tls handshake")
        || has("handshake")
        || has("peer is incompatible")
        || has("alert received")
    {
        ErrorClass::TlsHandshake
    } else if has("connection error received") || has("stream error received") {
        // The peer speaks HTTP/2 and itself ended the connection or the stream (GOAWAY,
        // RST_STREAM): a server shedding load or shutting down, not another protocol.
        ErrorClass::Unavailable
    } else if has("received unexpected message from connection")
        || has("h2 protocol error")
        || has("http2 error")
        || has("frame_size_error")
        || has("invalid compression flag")
        || has("invalid http version")
        || has("invalid status line")
        || has("received http/0.9")
    {
        ErrorClass::ProtocolMismatch
    } else if has("timed out") || has("deadline has elapsed") || has("timeout") {
        if during_connect {
            ErrorClass::ConnectTimeout
        } else {
            ErrorClass::Timeout
        }
    } else {
        ErrorClass::Transport
    }
}

/// The class of an HTTP answer other than 2xx. `body` is the server's text: a Go TLS server
/// answers plain HTTP with 400 "Client sent an HTTP request to an HTTPS server".
pub fn classify_http_status(status: u16, body: &str) -> ErrorClass {
    match status {
        400 if body.contains("HTTP request to an HTTPS server") => ErrorClass::TlsMismatch,
        401 | 403 => ErrorClass::Auth,
        404 => ErrorClass::WrongPath,
        // The receiver does not take this encoding (VictoriaMetrics and JSON, for one).
        415 => ErrorClass::ProtocolMismatch,
        413 => ErrorClass::TooLarge,
        429 => ErrorClass::RateLimited,
        502..=504 => ErrorClass::Unavailable,
        _ => ErrorClass::HttpStatus,
    }
}

/// The class of a gRPC status the server itself sent.
pub fn classify_grpc_code(code: i32) -> ErrorClass {
    match code {
        7 | 16 => ErrorClass::Auth,
        8 => ErrorClass::RateLimited,
        12 => ErrorClass::WrongPath,
        14 => ErrorClass::Unavailable,
        _ => ErrorClass::GrpcStatus,
    }
}

/// The gRPC code names, for reports.
pub fn grpc_code_name(code: i32) -> &'static str {
    match code {
        0 => "OK",
        1 => "CANCELLED",
        2 => "UNKNOWN",
        3 => "INVALID_ARGUMENT",
        4 => "DEADLINE_EXCEEDED",
        5 => "NOT_FOUND",
        6 => "ALREADY_EXISTS",
        7 => "PERMISSION_DENIED",
        8 => "RESOURCE_EXHAUSTED",
        9 => "FAILED_PRECONDITION",
        10 => "ABORTED",
        11 => "OUT_OF_RANGE",
        12 => "UNIMPLEMENTED",
        13 => "INTERNAL",
        14 => "UNAVAILABLE",
        15 => "DATA_LOSS",
        16 => "UNAUTHENTICATED",
        _ => "UNRECOGNISED",
    }
}

/// OTLP spec: HTTP statuses worth retrying.
pub fn http_status_retryable(status: u16) -> bool {
    matches!(status, 429 | 502 | 503 | 504)
}

/// OTLP spec: gRPC codes worth retrying (RESOURCE_EXHAUSTED only with RetryInfo, which we
/// treat as not retryable to stay conservative).
pub fn grpc_code_retryable(code: i32) -> bool {
    matches!(code, 1 | 4 | 10 | 11 | 14 | 15)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Texts recorded in shared/fixtures/collector/rust-*.txt.
    #[test]
    fn recorded_library_texts_classify() {
        let cases = [
            (
                "client error (Connect): tcp connect error: Connection refused (os error 111)",
                true,
                ErrorClass::ConnectRefused,
            ),
            (
                "client error (Connect): received corrupt message of type InvalidContentType",
                true,
                ErrorClass::TlsHandshake,
            ),
            (
                "client error (SendRequest): received unexpected message from connection",
                false,
                ErrorClass::ProtocolMismatch,
            ),
            (
                "h2 protocol error: http2 error",
                false,
                ErrorClass::ProtocolMismatch,
            ),
            (
                "protocol error: received message with invalid compression flag: 52 (valid flags are 0 and 1) while receiving response with status: 404 Not Found",
                false,
                ErrorClass::ProtocolMismatch,
            ),
            (
                "client error (Connect): dns error: failed to lookup address information",
                true,
                ErrorClass::Dns,
            ),
            ("operation timed out", true, ErrorClass::ConnectTimeout),
            ("operation timed out", false, ErrorClass::Timeout),
            ("connection reset by peer", false, ErrorClass::Transport),
        ];
        for (text, connect, want) in cases {
            assert_eq!(
                classify_text(&text.to_ascii_lowercase(), connect),
                want,
                "{text}"
            );
        }
    }

    #[test]
    fn io_kinds_classify_without_text() {
        let e = io::Error::from(io::ErrorKind::ConnectionRefused);
        assert_eq!(classify_chain(&e, true), ErrorClass::ConnectRefused);
        let d = DialError::Dns(io::Error::other("nope"));
        assert_eq!(classify_chain(&d, true), ErrorClass::Dns);
    }
}
