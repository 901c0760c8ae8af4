//! Identifying one port, each step under its own timeout:
//!
//! 1. TCP connect: refused = closed, no answer = filtered.
//! 2. A plain `GET / HTTP/1.1` on that connection (see `diagnose::sniff`): an `HTTP/1.x`
//!    status line is HTTP/1; a binary SETTINGS frame is HTTP/2 without TLS (gRPC); Go's TLS
//!    servers answer `HTTP/1.0 400` "Client sent an HTTP request to an HTTPS server"; a TLS
//!    alert record, a silent close (rustls) or silence all call for step 3.
//! 3. A TLS handshake, certificate not checked, offering ALPN `h2` and `http/1.1`.
//! 4. On HTTP, the `http_probe` requests; on HTTP/2 (h2c, or TLS with ALPN `h2`), the
//!    `grpc_probe` calls. A TLS port that chose `h2` gets both: Go's HTTP servers pick h2 too.

use super::plan::{ScanTarget, authority};
use super::{Budget, PortFinding, PortState, Speaks, TlsInfo, Transport, grpc_probe, http_probe};
use crate::diagnose::sniff::{PortSpeaks, judge_plain_answer, says_https_only};
use crate::emit::http::USER_AGENT;
use crate::emit::tls;
use rustls::pki_types::ServerName;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use url::Url;

/// What a port sent back to a plain HTTP/1.1 request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PlainAnswer {
    /// An HTTP/1.x status line (kept).
    Http1(String),
    /// An HTTP/2 SETTINGS frame.
    H2,
    /// A 400 saying the port wants TLS: Go's "Client sent an HTTP request to an HTTPS
    /// server", nginx's "The plain HTTP request was sent to HTTPS port".
    HttpsOnly,
    /// A TLS alert record.
    TlsAlert,
    /// The connection closed (or reset) without a byte.
    Closed,
    /// Nothing within the sniff timeout.
    Silent,
    /// Something else; the printable start of it is kept.
    Other(String),
}

fn printable(bytes: &[u8], max: usize) -> String {
    String::from_utf8_lossy(bytes)
        .chars()
        .take_while(|c| *c != '\r' && *c != '\n')
        .filter(|c| !c.is_control())
        .take(max)
        .collect()
}

/// Judges the bytes a port sent back (`timed_out`: it stopped sending, not closed).
pub fn judge(buf: &[u8], timed_out: bool) -> PlainAnswer {
    if buf.is_empty() {
        return if timed_out {
            PlainAnswer::Silent
        } else {
            PlainAnswer::Closed
        };
    }
    match judge_plain_answer(buf) {
        Some(PortSpeaks::Tls) if says_https_only(buf) => PlainAnswer::HttpsOnly,
        Some(PortSpeaks::Tls) => PlainAnswer::TlsAlert,
        Some(PortSpeaks::Http1) => PlainAnswer::Http1(printable(buf, 80)),
        Some(PortSpeaks::Grpc) => PlainAnswer::H2,
        Some(PortSpeaks::Plaintext) | None => PlainAnswer::Other(printable(buf, 40)),
    }
}

/// Whether enough has arrived to judge: a frame header, or a status line (a 400 is read
/// on, to where it may say the port wants TLS).
fn settled(buf: &[u8]) -> bool {
    if buf.starts_with(b"HTTP/1.") {
        buf.windows(2).any(|w| w == b"\r\n") && buf.get(9..12) != Some(b"400")
    } else {
        buf.len() >= 9
    }
}

/// Sends `GET /` on the connected stream and judges the answer.
async fn sniff(mut tcp: TcpStream, host: &str, wait: Duration) -> PlainAnswer {
    let req = format!(
        "GET / HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {USER_AGENT}\r\nAccept: */*\r\nConnection: close\r\n\r\n"
    );
    let mut buf: Vec<u8> = Vec::new();
    let exchange = async {
        if tcp.write_all(req.as_bytes()).await.is_err() {
            return;
        }
        let mut chunk = [0u8; 512];
        while let Ok(n) = tcp.read(&mut chunk).await {
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
            if settled(&buf) || buf.len() >= 1024 {
                break;
            }
        }
    };
    let timed_out = tokio::time::timeout(wait, exchange).await.is_err();
    judge(&buf, timed_out)
}

/// A TLS handshake with checks off; what it negotiated, or why it failed.
async fn tls_handshake(addr: SocketAddr, name: &str, budget: &Budget) -> Result<TlsInfo, String> {
    let config = tls::diagnostic_config(&[b"h2", b"http/1.1"]);
    let server_name = ServerName::try_from(name.to_string())
        .unwrap_or_else(|_| ServerName::IpAddress(addr.ip().into()));
    let handshake = async {
        let tcp = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
        let stream = tokio_rustls::TlsConnector::from(config)
            .connect(server_name, tcp)
            .await
            .map_err(|e| e.to_string())?;
        let conn = stream.get_ref().1;
        let version = match conn.protocol_version() {
            Some(rustls::ProtocolVersion::TLSv1_3) => "TLS 1.3".to_string(),
            Some(rustls::ProtocolVersion::TLSv1_2) => "TLS 1.2".to_string(),
            Some(v) => format!("{v:?}"),
            None => "TLS".to_string(),
        };
        let alpn = conn
            .alpn_protocol()
            .map(|p| String::from_utf8_lossy(p).into_owned());
        Ok(TlsInfo { version, alpn })
    };
    tokio::time::timeout(budget.tls, handshake)
        .await
        .unwrap_or_else(|_| {
            Err(format!(
                "no TLS handshake within {:.1} s",
                budget.tls.as_secs_f64()
            ))
        })
}

fn base(scheme: &str, host: &str, port: u16) -> Option<Url> {
    Url::parse(&format!("{scheme}://{}/", authority(host, port))).ok()
}

/// Runs the HTTP and/or gRPC probes against `base` and records what they found.
async fn probe_protocols(f: &mut PortFinding, base: &Url, http: bool, grpc: bool, b: &Budget) {
    let http_fut = async {
        if http {
            Some(http_probe::probe(base, b).await)
        } else {
            None
        }
    };
    let grpc_fut = async {
        if grpc {
            Some(grpc_probe::probe(base, b).await)
        } else {
            None
        }
    };
    let (h, g) = tokio::join!(http_fut, grpc_fut);
    if let Some((services, speaks)) = g {
        f.grpc_services = services;
        f.speaks.extend(speaks);
    }
    if let Some(h) = h {
        f.otlp_paths = h.paths;
        let grpc = !f.speaks.is_empty();
        // A gRPC server answers any HTTP/2 GET somehow; that is not "an unknown HTTP server".
        f.speaks.extend(
            h.speaks
                .into_iter()
                .filter(|s| !(grpc && matches!(s, Speaks::Http { .. }))),
        );
        if f.speaks.is_empty() {
            f.note = h.error;
        }
    }
}

/// Identifies one port.
pub async fn identify(t: &ScanTarget, b: &Budget) -> PortFinding {
    let started = Instant::now();
    let mut f = PortFinding::new(t.names.clone(), t.address, t.port, t.why.clone());
    identify_into(&mut f, t, b).await;
    f.seconds = started.elapsed().as_secs_f64();
    f
}

async fn identify_into(f: &mut PortFinding, t: &ScanTarget, b: &Budget) {
    let Some(ip) = t.address else {
        f.state = PortState::Unresolved;
        f.note = t.error.clone();
        return;
    };
    let addr = SocketAddr::new(ip, t.port);
    let name = t.names.first().cloned().unwrap_or_else(|| ip.to_string());
    let tcp = match tokio::time::timeout(b.connect, TcpStream::connect(addr)).await {
        Err(_) => {
            f.state = PortState::Filtered;
            f.note = Some(format!(
                "no answer to the TCP connect within {:.1} s",
                b.connect.as_secs_f64()
            ));
            return;
        }
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            f.state = PortState::Closed;
            return;
        }
        Ok(Err(e)) => {
            f.state = PortState::Unreachable;
            f.note = Some(e.to_string());
            return;
        }
        Ok(Ok(tcp)) => tcp,
    };
    f.state = PortState::Open;
    let plain = sniff(tcp, &authority(&name, t.port), b.sniff).await;
    let Some(plain_base) = base("http", &name, t.port) else {
        f.note = Some(format!("'{name}' does not make a URL"));
        return;
    };
    match plain {
        PlainAnswer::Http1(line) => {
            f.first_answer = Some(line);
            f.transport = Some(Transport::Http1);
            probe_protocols(f, &plain_base, true, false, b).await;
        }
        PlainAnswer::H2 => {
            f.first_answer = Some("an HTTP/2 SETTINGS frame".into());
            f.transport = Some(Transport::H2c);
            probe_protocols(f, &plain_base, false, true, b).await;
        }
        PlainAnswer::Other(start) => {
            f.note = Some(format!("answers a plain HTTP request with '{start}'"));
            f.first_answer = Some(start);
        }
        other => match tls_handshake(addr, &name, b).await {
            Ok(info) => {
                f.transport = Some(Transport::Tls);
                let h2 = info.alpn.as_deref() == Some("h2");
                f.tls = Some(info);
                if let Some(tls_base) = base("https", &name, t.port) {
                    probe_protocols(f, &tls_base, true, h2, b).await;
                }
            }
            Err(e) => {
                f.note = Some(match other {
                    PlainAnswer::HttpsOnly | PlainAnswer::TlsAlert => {
                        format!("answers like a TLS server, but the handshake failed: {e}")
                    }
                    PlainAnswer::Closed => {
                        format!("closes the connection on a plain request, and TLS failed too: {e}")
                    }
                    _ => format!(
                        "accepts connections but says nothing (no answer within {:.1} s, no \
                         TLS handshake)",
                        b.sniff.as_secs_f64()
                    ),
                });
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_answers_judged() {
        assert_eq!(
            judge(b"HTTP/1.1 404 Not Found\r\nContent-Type: text/plain", false),
            PlainAnswer::Http1("HTTP/1.1 404 Not Found".into())
        );
        assert_eq!(
            judge(
                b"HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n",
                false
            ),
            PlainAnswer::HttpsOnly
        );
        let nginx = b"HTTP/1.1 400 Bad Request\r\nServer: nginx\r\n\r\n<html><body>\
<center>The plain HTTP request was sent to HTTPS port</center></body></html>";
        assert_eq!(judge(nginx, false), PlainAnswer::HttpsOnly);
        // shared/fixtures/collector/http1-to-grpc-port-4317-http09.bin
        let settings = [0, 0, 6, 4, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0x40, 0];
        assert_eq!(judge(&settings, false), PlainAnswer::H2);
        assert_eq!(
            judge(&[0x15, 0x03, 0x03, 0, 2, 2, 10], false),
            PlainAnswer::TlsAlert
        );
        assert_eq!(judge(b"", false), PlainAnswer::Closed);
        assert_eq!(judge(b"", true), PlainAnswer::Silent);
        assert_eq!(
            judge(b"SSH-2.0-OpenSSH_9.2\r\n", true),
            PlainAnswer::Other("SSH-2.0-OpenSSH_9.2".into())
        );
    }

    #[test]
    fn settles_on_a_status_line_or_a_frame_header() {
        assert!(settled(b"HTTP/1.1 200 OK\r\n"));
        assert!(!settled(b"HTTP/1.1 200"));
        assert!(!settled(b"HTTP/1.0 400 Bad Request\r\n"));
        assert!(!settled(b"HTTP/1.1 400 Bad Request\r\n"));
        assert!(settled(&[0, 0, 6, 4, 0, 0, 0, 0, 0]));
        assert!(!settled(&[0, 0, 6]));
    }
}
