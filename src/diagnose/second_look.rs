//! A second look at the port after an export failed in a way the client library could not
//! name: a dropped connection, a "corrupt message", an unparsable answer. Asking the port what
//! it speaks turns those into the mismatch a person can fix (a gRPC port, a TLS port, a plain
//! port) instead of a bare `transport`.

use super::error_class::ErrorClass;
use super::sniff::{PortSpeaks, is_loki, port_speaks, sniff_plain, tcp_connects, tls_refusal};
use crate::emit::outcome::ExportError;
use std::sync::Arc;
use url::Url;

/// Sharpens an export error with a second look at the port: a mismatch it finds replaces the
/// class, and a TLS session the server refuses after the handshake (TLS 1.3 with a missing
/// client certificate) is named as such. `tls` is the export's own TLS configuration.
pub async fn sharpen(
    mut error: ExportError,
    url: &Url,
    grpc: bool,
    tls: Option<&Arc<rustls::ClientConfig>>,
) -> ExportError {
    if let Some(f) = second_look(url, grpc, error.class, &error.message).await {
        error.message.push_str(f.note());
        error.class = f.class;
        error.port_speaks = Some(f.port_speaks);
        if f.port_speaks == PortSpeaks::Http1 && grpc {
            let host = url.host_str().unwrap_or_default().trim_matches(['[', ']']);
            let port = url.port_or_known_default().unwrap_or(0);
            if is_loki(host, port).await {
                error
                    .message
                    .push_str("; it is Loki, which has no OTLP gRPC receiver");
                error.port_backend = Some("loki".into());
            }
        }
    }
    if error.class == ErrorClass::ConnectTimeout && url.scheme() == "https" {
        // The client's connect timeout covers the TLS handshake too: a port that takes the
        // TCP connection and never finishes the handshake must not read as a dropped SYN.
        let host = url.host_str().unwrap_or_default().trim_matches(['[', ']']);
        let port = url.port_or_known_default().unwrap_or(443);
        if tcp_connects(host, port).await {
            error.class = ErrorClass::TlsHandshake;
            error.message.push_str(STALLED_HANDSHAKE);
        }
    }
    if let (ErrorClass::Transport, Some(config)) = (error.class, tls) {
        let host = url.host_str().unwrap_or_default();
        let port = url.port_or_known_default().unwrap_or(443);
        if let Some(alert) = tls_refusal(host, port, config.clone()).await {
            error.class = ErrorClass::TlsHandshake;
            error
                .message
                .push_str(&format!("; the server refused the TLS session: {alert}"));
        }
    }
    error
}

/// What a connect timeout on an `https` URL becomes when TCP does connect; the hint keys on it.
pub const STALLED_HANDSHAKE: &str = "; TCP connects, but the TLS handshake never finished";

/// The sharper verdict a second look found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Finding {
    pub class: ErrorClass,
    pub port_speaks: PortSpeaks,
}

impl Finding {
    /// The words appended to the library's own error text.
    pub fn note(&self) -> &'static str {
        match self.port_speaks {
            PortSpeaks::Tls => "; the port expects TLS",
            PortSpeaks::Grpc => "; the port answers with HTTP/2 frames: it is a gRPC port",
            PortSpeaks::Http1 => "; the port answers plain HTTP/1.1: it is an OTLP/HTTP port",
            PortSpeaks::Plaintext => "; the port answered the TLS hello in plain text",
        }
    }
}

/// Whether an error of this class is worth a second look at all.
fn ambiguous(class: ErrorClass) -> bool {
    matches!(
        class,
        ErrorClass::Transport | ErrorClass::ProtocolMismatch | ErrorClass::TlsHandshake
    )
}

/// Looks at the port behind `url` again. `grpc` says which protocol the export spoke;
/// `message` is the library's error text. `None` when the look settles nothing.
pub async fn second_look(
    url: &Url,
    grpc: bool,
    class: ErrorClass,
    message: &str,
) -> Option<Finding> {
    if class == ErrorClass::TlsMismatch {
        // Already named from the server's own words (Go's 400 to plain HTTP on a TLS port).
        return Some(Finding {
            class,
            port_speaks: PortSpeaks::Tls,
        });
    }
    if !ambiguous(class) {
        return None;
    }
    let host = url
        .host_str()?
        .trim_start_matches('[')
        .trim_end_matches(']');
    let port = url.port_or_known_default()?;
    let mismatch = |class, port_speaks| Some(Finding { class, port_speaks });
    if url.scheme() == "https" {
        // rustls reports a non-TLS first record as InvalidContentType; a server that hangs up
        // on the hello leaves only a dropped connection, so ask the port in plain text.
        let corrupt = message.contains("InvalidContentType");
        if !corrupt && class != ErrorClass::Transport {
            return None;
        }
        return match sniff_plain(host, port).await {
            Some(found @ (PortSpeaks::Http1 | PortSpeaks::Grpc)) => {
                mismatch(ErrorClass::TlsMismatch, found)
            }
            _ if corrupt => mismatch(ErrorClass::TlsMismatch, PortSpeaks::Plaintext),
            _ => None,
        };
    }
    match port_speaks(host, port).await? {
        PortSpeaks::Tls => mismatch(ErrorClass::TlsMismatch, PortSpeaks::Tls),
        PortSpeaks::Grpc if !grpc => mismatch(ErrorClass::ProtocolMismatch, PortSpeaks::Grpc),
        PortSpeaks::Http1 if grpc => mismatch(ErrorClass::ProtocolMismatch, PortSpeaks::Http1),
        _ => None,
    }
}
