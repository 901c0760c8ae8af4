//! Asking a plain-text port which HTTP it speaks, to name a protocol mismatch when the client
//! library only reports a broken connection. An HTTP/1.1 request is answered with an
//! `HTTP/1.x` status line by an OTLP/HTTP server and with a binary HTTP/2 SETTINGS frame by a
//! gRPC server (shared/fixtures/collector/http1-to-grpc-port-*-http09.bin).

use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// What a port answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Speaks {
    Http1,
    /// HTTP/2 without TLS (h2c): a gRPC port.
    Http2,
}

/// How long the check may take.
const SNIFF_TIMEOUT: Duration = Duration::from_millis(500);

/// Sends one HTTP/1.1 request and judges the first bytes of the answer; `None` when the port
/// says nothing recognisable in time.
pub async fn sniff_plain(host: &str, port: u16) -> Option<Speaks> {
    let probe = async {
        let mut tcp = TcpStream::connect((host, port)).await.ok()?;
        let req = format!("GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
        tcp.write_all(req.as_bytes()).await.ok()?;
        let mut head = [0u8; 9];
        tcp.read_exact(&mut head).await.ok()?;
        judge_head(&head)
    };
    tokio::time::timeout(SNIFF_TIMEOUT, probe)
        .await
        .ok()
        .flatten()
}

/// Judges the first bytes a port sent back to an HTTP/1.1 request: an `HTTP/1.x` status
/// line, or an HTTP/2 frame header (at least 9 bytes) whose type byte is SETTINGS.
pub fn judge_head(head: &[u8]) -> Option<Speaks> {
    if head.starts_with(b"HTTP/1.") {
        Some(Speaks::Http1)
    } else if head.len() >= 9 && head[3] == 0x04 {
        Some(Speaks::Http2)
    } else {
        None
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
    config: std::sync::Arc<rustls::ClientConfig>,
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
