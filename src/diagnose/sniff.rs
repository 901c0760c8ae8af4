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
        if head.starts_with(b"HTTP/1.") {
            Some(Speaks::Http1)
        } else if head[3] == 0x04 {
            // A frame header whose type byte is SETTINGS.
            Some(Speaks::Http2)
        } else {
            None
        }
    };
    tokio::time::timeout(SNIFF_TIMEOUT, probe)
        .await
        .ok()
        .flatten()
}
