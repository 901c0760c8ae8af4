//! Asking a port what it speaks, when the client library only reports a broken connection.
//! The facts come from real servers (shared/fixtures/collector): an OTLP/HTTP server answers an
//! HTTP/1.1 request with an `HTTP/1.x` status line, a gRPC server with a binary HTTP/2
//! SETTINGS frame (`http1-to-grpc-port-*-http09.bin`), a Go TLS server with
//! `HTTP/1.0 400` "Client sent an HTTP request to an HTTPS server", and a rustls server with a
//! TLS alert record or by hanging up; a TLS port completes a handshake.

use serde::Serialize;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// What a port was found to speak.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PortSpeaks {
    /// Plain-text HTTP/1.x: an OTLP/HTTP receiver or a query API.
    Http1,
    /// HTTP/2 without TLS (h2c): a plain gRPC port.
    Grpc,
    /// A TLS handshake: an https or gRPC-over-TLS port.
    Tls,
    /// Plain text of no recognised kind (it answered a TLS hello with non-TLS bytes).
    Plaintext,
}

impl PortSpeaks {
    /// For people: "OTLP/HTTP (plain HTTP/1.1)", "gRPC (HTTP/2 without TLS)".
    pub fn describe(self) -> &'static str {
        match self {
            PortSpeaks::Http1 => "plain HTTP/1.1 (OTLP/HTTP or an API)",
            PortSpeaks::Grpc => "gRPC (HTTP/2 without TLS)",
            PortSpeaks::Tls => "TLS",
            PortSpeaks::Plaintext => "plain text, not TLS",
        }
    }
}

/// How long each look may take.
const SNIFF_TIMEOUT: Duration = Duration::from_millis(500);

/// The first byte of a TLS record carrying an alert, and the major version byte after it.
const TLS_ALERT: [u8; 2] = [0x15, 0x03];

/// Sends one HTTP/1.1 request in plain text and judges the first bytes of the answer; `None`
/// when the port says nothing recognisable in time (a rustls server hangs up).
pub async fn sniff_plain(host: &str, port: u16) -> Option<PortSpeaks> {
    let probe = async {
        let mut tcp = TcpStream::connect((host, port)).await.ok()?;
        let req = format!("GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
        tcp.write_all(req.as_bytes()).await.ok()?;
        let mut head = Vec::with_capacity(512);
        // Enough for a status line and Go's one-line explanation.
        while head.len() < 512 {
            let mut buf = [0u8; 512];
            match tcp.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => head.extend_from_slice(&buf[..n]),
            }
            if head.len() >= 9 && !head.starts_with(b"HTTP/1.0 400") {
                break;
            }
        }
        judge_plain_answer(&head)
    };
    tokio::time::timeout(SNIFF_TIMEOUT, probe)
        .await
        .ok()
        .flatten()
}

/// Whether the plain-HTTP port at `host:port` is Loki: its build-info path answers 200 with a
/// `version` (Loki has no OTLP gRPC receiver, so gRPC sent there needs its own advice).
pub async fn is_loki(host: &str, port: u16) -> bool {
    let probe = async {
        let mut tcp = TcpStream::connect((host, port)).await.ok()?;
        let req = format!(
            "GET /loki/api/v1/status/buildinfo HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
        );
        tcp.write_all(req.as_bytes()).await.ok()?;
        let mut answer = Vec::with_capacity(1024);
        let mut buf = [0u8; 1024];
        while answer.len() < 8192 {
            match tcp.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&buf[..n]),
            }
        }
        Some(answer)
    };
    let Some(answer) = tokio::time::timeout(SNIFF_TIMEOUT, probe)
        .await
        .ok()
        .flatten()
    else {
        return false;
    };
    let text = String::from_utf8_lossy(&answer);
    text.starts_with("HTTP/1.1 200") && text.contains("\"version\"") && !text.contains("\"status\"")
}

/// What Go, nginx and Apache answer a plain HTTP request on a TLS port with (a 400).
const HTTPS_ONLY: [&[u8]; 3] = [
    b"Client sent an HTTP request to an HTTPS server",
    b"The plain HTTP request was sent to HTTPS port",
    b"requires TLS",
];

/// Whether an HTTP answer says the port wants TLS.
pub fn says_https_only(head: &[u8]) -> bool {
    HTTPS_ONLY
        .iter()
        .any(|m| head.windows(m.len()).any(|w| w == *m))
}

/// Judges the first bytes a port sent back to a plain HTTP/1.1 request: a TLS alert record
/// or an "HTTPS port" 400 (TLS), an `HTTP/1.x` status line, or an HTTP/2 frame header (at
/// least 9 bytes) whose type byte is SETTINGS (a gRPC port).
pub fn judge_plain_answer(head: &[u8]) -> Option<PortSpeaks> {
    if head.starts_with(&TLS_ALERT) {
        return Some(PortSpeaks::Tls);
    }
    if head.starts_with(b"HTTP/1.") {
        return Some(if says_https_only(head) {
            PortSpeaks::Tls
        } else {
            PortSpeaks::Http1
        });
    }
    if head.len() >= 9 && head[3] == 0x04 {
        return Some(PortSpeaks::Grpc);
    }
    None
}

/// Whether a TCP connection to `host:port` opens within a look's time: after a connect
/// timeout on an `https` URL, it tells a stalled TLS handshake from a dropped connection.
pub async fn tcp_connects(host: &str, port: u16) -> bool {
    matches!(
        tokio::time::timeout(SNIFF_TIMEOUT, TcpStream::connect((host, port))).await,
        Ok(Ok(_))
    )
}

/// Whether the port completes a TLS handshake (any certificate accepted: this only asks).
pub async fn speaks_tls(host: &str, port: u16) -> bool {
    let probe = async {
        let name = rustls_pki_types::ServerName::try_from(host.to_string()).ok()?;
        let tcp = TcpStream::connect((host, port)).await.ok()?;
        let config = crate::emit::tls::diagnostic_config(&[b"h2", b"http/1.1"]);
        tokio_rustls::TlsConnector::from(config)
            .connect(name, tcp)
            .await
            .ok()
            .map(|_| ())
    };
    matches!(
        tokio::time::timeout(SNIFF_TIMEOUT, probe).await,
        Ok(Some(()))
    )
}

/// What the port speaks: a plain look first, then a TLS handshake if that said nothing.
pub async fn port_speaks(host: &str, port: u16) -> Option<PortSpeaks> {
    match sniff_plain(host, port).await {
        Some(found) => Some(found),
        None if speaks_tls(host, port).await => Some(PortSpeaks::Tls),
        None => None,
    }
}

/// Asks a TLS port whether it refuses this client's session. With TLS 1.3 a server that
/// rejects the client (a missing or untrusted client certificate) sends its alert after the
/// client has already finished its half of the handshake, so the HTTP client may only see the
/// connection drop. Completing a handshake here and reading once surfaces the alert; `None`
/// when the session stays open (nothing to blame on TLS).
pub async fn tls_refusal(
    host: &str,
    port: u16,
    config: Arc<rustls::ClientConfig>,
) -> Option<String> {
    let probe = async {
        let name = rustls_pki_types::ServerName::try_from(host.to_string()).ok()?;
        let tcp = TcpStream::connect((host, port)).await.ok()?;
        let connector = tokio_rustls::TlsConnector::from(config);
        let mut tls = match connector.connect(name, tcp).await {
            Ok(t) => t,
            Err(e) => return Some(e.to_string()),
        };
        let mut byte = [0u8; 1];
        match tls.read(&mut byte).await {
            Err(e) => Some(e.to_string()),
            Ok(_) => None,
        }
    };
    tokio::time::timeout(SNIFF_TIMEOUT, probe)
        .await
        .ok()
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorded_answers_are_judged() {
        // What a gRPC server sends an HTTP/1.1 request (a SETTINGS frame first).
        let grpc =
            include_bytes!("../../tests/fixtures/collector/http1-to-grpc-port-14317-http09.bin");
        assert_eq!(judge_plain_answer(grpc), Some(PortSpeaks::Grpc));
        assert_eq!(
            judge_plain_answer(b"HTTP/1.1 404 Not Found\r\n"),
            Some(PortSpeaks::Http1)
        );
        assert_eq!(
            judge_plain_answer(
                b"HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n"
            ),
            Some(PortSpeaks::Tls)
        );
        assert_eq!(
            judge_plain_answer(&[0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x32]),
            Some(PortSpeaks::Tls)
        );
        assert_eq!(judge_plain_answer(b""), None);
        assert_eq!(judge_plain_answer(b"SSH-2.0-OpenSSH"), None);
    }
}
