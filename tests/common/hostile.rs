//! A server that misbehaves on purpose, one way per [`Mode`], on a real socket: the backends
//! and receivers a canary meets in the field when something is in the way (a login page, a
//! proxy that redirects, a hung or dripping server, a reset, an expired certificate, an
//! HTTP/2 peer that sends GOAWAY). Every request it gets is recorded, headers included, so a
//! test can prove where credentials went.
#![allow(dead_code)]

use otel_canary::lab::LabTls;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// One way to misbehave. Every HTTP answer closes the connection after it.
#[derive(Clone, Debug, PartialEq)]
pub enum Mode {
    /// Bytes that are not HTTP, then close.
    Garbage,
    /// 200 with an HTML login page.
    Html,
    /// 200 `application/json` of a shape no reader or receiver answers.
    WrongShape,
    /// 200 `application/json` whose body is not UTF-8.
    InvalidUtf8,
    /// 200 with a body larger than the readers' 16 MiB cap.
    Huge,
    /// 200, then the body one byte a second.
    Drip,
    /// 200, part of the body, then a TCP reset.
    ResetMidBody,
    /// Accepts, reads the request, never answers.
    Silent,
    /// 302 to the same URL, forever.
    RedirectLoop,
    /// 302 to the same path on another host (which records what reaches it).
    RedirectTo(SocketAddr),
    /// 200 `application/x-protobuf` with a binary body (a protobuf Status).
    WrongContentType,
    /// HTTP/2: the server preface, then GOAWAY (no stream processed), then close.
    GoAway,
    /// TLS with a certificate that expired (signed by the CA in `Hostile::ca_pem`).
    TlsExpired,
    /// TLS with a certificate for another host name (signed by the CA in `Hostile::ca_pem`).
    TlsWrongHost,
    /// An `https` URL whose server accepts the TCP connection, reads the ClientHello and never
    /// sends its ServerHello: a TLS handshake that stalls (a TLS proxy whose upstream hangs).
    TlsStall,
    /// A well-behaved 200 `{}`: the other host of `RedirectTo`, counting who arrives.
    Recorder,
}

impl Mode {
    /// A short name for tables.
    pub fn name(&self) -> &'static str {
        match self {
            Mode::Garbage => "garbage",
            Mode::Html => "html-200",
            Mode::WrongShape => "wrong-shape",
            Mode::InvalidUtf8 => "invalid-utf8",
            Mode::Huge => "huge-body",
            Mode::Drip => "drip",
            Mode::ResetMidBody => "reset-mid-body",
            Mode::Silent => "never-answers",
            Mode::RedirectLoop => "redirect-loop",
            Mode::RedirectTo(_) => "redirect-other-host",
            Mode::WrongContentType => "wrong-content-type",
            Mode::GoAway => "h2-goaway",
            Mode::TlsExpired => "tls-expired",
            Mode::TlsWrongHost => "tls-wrong-host",
            Mode::TlsStall => "tls-stall",
            Mode::Recorder => "recorder",
        }
    }

    pub fn is_tls(&self) -> bool {
        matches!(self, Mode::TlsExpired | Mode::TlsWrongHost | Mode::TlsStall)
    }
}

/// A request as it arrived.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    /// Lower-case names.
    pub headers: Vec<(String, String)>,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// What the server does with paths it is not hostile on.
#[derive(Clone, Debug)]
struct Scope {
    /// Only paths starting with this misbehave; `None`: every path.
    prefix: Option<String>,
    /// Where other paths are forwarded (a healthy backend).
    upstream: Option<SocketAddr>,
}

/// A running hostile server. Dropping it stops accepting.
pub struct Hostile {
    pub addr: SocketAddr,
    pub mode: Mode,
    pub requests: Arc<Mutex<Vec<Recorded>>>,
    /// The CA that signed the TLS modes' certificates, as a PEM file to trust.
    pub ca_file: Option<PathBuf>,
    _dir: Option<tempfile::TempDir>,
    task: JoinHandle<()>,
}

impl Drop for Hostile {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Hostile {
    /// Misbehaves on every path.
    pub async fn start(mode: Mode) -> Hostile {
        Self::start_scoped(
            mode,
            Scope {
                prefix: None,
                upstream: None,
            },
        )
        .await
    }

    /// Misbehaves only on paths starting with `prefix`; forwards the others to `upstream`.
    pub async fn start_on(mode: Mode, prefix: &str, upstream: SocketAddr) -> Hostile {
        Self::start_scoped(
            mode,
            Scope {
                prefix: Some(prefix.to_string()),
                upstream: Some(upstream),
            },
        )
        .await
    }

    async fn start_scoped(mode: Mode, scope: Scope) -> Hostile {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (acceptor, ca_file, dir) = if mode.is_tls() {
            let dir = tempfile::tempdir().unwrap();
            let (ca_pem, server) = certificates(mode == Mode::TlsExpired);
            let ca = dir.path().join("ca.pem");
            std::fs::write(&ca, ca_pem).unwrap();
            let config = server.server_config(&[b"h2", b"http/1.1"]).unwrap();
            (
                Some(tokio_rustls::TlsAcceptor::from(config)),
                Some(ca),
                Some(dir),
            )
        } else {
            (None, None, None)
        };
        let (m, r) = (mode.clone(), requests.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                let (m, r, scope, acceptor) =
                    (m.clone(), r.clone(), scope.clone(), acceptor.clone());
                tokio::spawn(async move {
                    match acceptor {
                        Some(_) if m == Mode::TlsStall => hold(tcp).await,
                        Some(a) => {
                            if let Ok(tls) = a.accept(tcp).await {
                                let mut tls = tls;
                                let _ = answer_plain(&mut tls, &Mode::Html, &r).await;
                            }
                        }
                        None => connection(tcp, m, r, scope).await,
                    }
                });
            }
        });
        Hostile {
            addr,
            mode,
            requests,
            ca_file,
            _dir: dir,
            task,
        }
    }

    /// `http://127.0.0.1:<port>` (`https` for the TLS modes).
    pub fn url(&self) -> String {
        let scheme = if self.mode.is_tls() { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    pub fn recorded(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }
}

/// A CA and a server certificate signed by it: expired, or for another host name.
fn certificates(expired: bool) -> (String, LabTls) {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "otel-canary hostile CA");
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let names = if expired {
        vec!["127.0.0.1".to_string(), "localhost".to_string()]
    } else {
        vec!["backend.elsewhere.example".to_string()]
    };
    let mut params = CertificateParams::new(names).unwrap();
    if expired {
        params.not_before = rcgen::date_time_ymd(2020, 1, 1);
        params.not_after = rcgen::date_time_ymd(2021, 1, 1);
    }
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &issuer).unwrap();
    (
        ca_cert.pem(),
        LabTls {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            client_ca_pem: None,
        },
    )
}

/// Reads a request head (and a Content-Length body, so closing does not reset early).
/// `None` when the peer closed or sent no HTTP/1.1 head (an HTTP/2 preface, say).
async fn read_request<S: AsyncRead + Unpin>(s: &mut S) -> Option<(Recorded, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > 1 << 20 {
            return None;
        }
        let n = s.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let method = first.next()?.to_string();
    let path = first.next()?.to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    while buf.len() < head_end + length {
        let n = s.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Some((
        Recorded {
            method,
            path,
            headers,
        },
        buf,
    ))
}

async fn connection(
    mut tcp: TcpStream,
    mode: Mode,
    requests: Arc<Mutex<Vec<Recorded>>>,
    scope: Scope,
) {
    let _ = tcp.set_nodelay(true);
    if mode == Mode::GoAway {
        goaway(tcp).await;
        return;
    }
    if mode == Mode::Garbage {
        // Answer whatever arrives (HTTP/1.1 or an HTTP/2 preface) with noise.
        let mut first = [0u8; 1024];
        let _ = tokio::time::timeout(Duration::from_secs(2), tcp.read(&mut first)).await;
        let _ = tcp
            .write_all(
                b"\x16\x03\x01\x00\x05garbage\xff\xfe\x00\x01 not http at all \x07\x08\r\n\r\n",
            )
            .await;
        let _ = tcp.shutdown().await;
        return;
    }
    let Some((req, raw)) = read_request(&mut tcp).await else {
        return;
    };
    let hostile = scope
        .prefix
        .as_deref()
        .is_none_or(|p| req.path.starts_with(p));
    if !hostile && let Some(up) = scope.upstream {
        forward(tcp, up, &req, &raw).await;
        return;
    }
    requests.lock().unwrap().push(req.clone());
    answer(tcp, &mode, &req).await;
}

/// Passes one request to `upstream` and its answer back, closing both afterwards.
async fn forward(mut client: TcpStream, upstream: SocketAddr, req: &Recorded, raw: &[u8]) {
    let Ok(mut up) = TcpStream::connect(upstream).await else {
        return;
    };
    let head_end = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap_or(0) + 4;
    let mut head = format!("{} {} HTTP/1.1\r\n", req.method, req.path);
    for (k, v) in &req.headers {
        if k != "connection" {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
    }
    head.push_str("connection: close\r\n\r\n");
    if up.write_all(head.as_bytes()).await.is_err() || up.write_all(&raw[head_end..]).await.is_err()
    {
        return;
    }
    let _ = tokio::io::copy(&mut up, &mut client).await;
    let _ = client.shutdown().await;
}

/// Closes with a TCP RST instead of a FIN (SO_LINGER 0), as a crashed peer or a middlebox does.
fn reset(tcp: TcpStream) {
    use std::os::fd::AsRawFd;
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: setsockopt(2) on the stream's own open descriptor with a valid `linger`.
    unsafe {
        libc::setsockopt(
            tcp.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
    drop(tcp);
}

fn head(status: &str, content_type: &str, length: usize, extra: &str) -> String {
    format!(
        "HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {length}\r\n\
         connection: close\r\n{extra}\r\n"
    )
}

const LOGIN_PAGE: &str = "<!DOCTYPE html>\n<html><head><title>Sign in - Corporate SSO</title></head>\
<body><form method=\"post\" action=\"/login\"><input name=\"user\"><input name=\"password\" \
type=\"password\"><button>Sign in</button></form></body></html>\n";

/// Valid JSON, an object, shaped like none of the APIs: no `status`/`data` envelope, no
/// `trace`/`batches`, no OTLP `partialSuccess` object.
const WRONG_SHAPE: &str = r#"{"partialSuccess":42,"status":7,"data":"nope","trace":"x","batches":{"n":1},"items":[1,2,3]}"#;

/// Holds a connection open, reading (and dropping) whatever arrives until the peer gives up.
async fn hold(mut tcp: TcpStream) {
    let mut sink = [0u8; 1024];
    while let Ok(n) = tcp.read(&mut sink).await {
        if n == 0 {
            break;
        }
    }
}

async fn answer(mut tcp: TcpStream, mode: &Mode, req: &Recorded) {
    match mode {
        Mode::Silent => hold(tcp).await,
        Mode::Drip => {
            let body = br#"{"status":"success","data":{"resultType":"vector","result":[]}}"#;
            let h = head("200 OK", "application/json", body.len() * 64, "");
            if tcp.write_all(h.as_bytes()).await.is_err() {
                return;
            }
            for b in body.iter().cycle() {
                if tcp.write_all(&[*b]).await.is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
        Mode::ResetMidBody => {
            let h = head("200 OK", "application/json", 4096, "");
            let _ = tcp.write_all(h.as_bytes()).await;
            let _ = tcp
                .write_all(br#"{"status":"success","data":{"resultType":"vec"#)
                .await;
            let _ = tcp.flush().await;
            tokio::time::sleep(Duration::from_millis(20)).await;
            reset(tcp);
        }
        Mode::Huge => {
            let total = 17 * 1024 * 1024;
            let h = head("200 OK", "application/json", total, "");
            if tcp.write_all(h.as_bytes()).await.is_err() {
                return;
            }
            let chunk = vec![b' '; 64 * 1024];
            let mut sent = 0;
            while sent < total {
                if tcp.write_all(&chunk).await.is_err() {
                    return;
                }
                sent += chunk.len();
            }
            let _ = tcp.shutdown().await;
        }
        Mode::RedirectLoop => {
            let h = head(
                "302 Found",
                "text/plain",
                0,
                &format!("location: {}\r\n", req.path),
            );
            let _ = tcp.write_all(h.as_bytes()).await;
            let _ = tcp.shutdown().await;
        }
        Mode::RedirectTo(other) => {
            let h = head(
                "302 Found",
                "text/plain",
                0,
                &format!("location: http://{other}{}\r\n", req.path),
            );
            let _ = tcp.write_all(h.as_bytes()).await;
            let _ = tcp.shutdown().await;
        }
        _ => {
            let _ = answer_plain(&mut tcp, mode, &Arc::new(Mutex::new(Vec::new()))).await;
        }
    }
}

/// The answers that are one write: the body modes.
async fn answer_plain<S: AsyncWrite + Unpin>(
    s: &mut S,
    mode: &Mode,
    _requests: &Arc<Mutex<Vec<Recorded>>>,
) -> std::io::Result<()> {
    let (ct, body): (&str, Vec<u8>) = match mode {
        Mode::Html => ("text/html; charset=utf-8", LOGIN_PAGE.as_bytes().to_vec()),
        Mode::WrongShape => ("application/json", WRONG_SHAPE.as_bytes().to_vec()),
        Mode::InvalidUtf8 => (
            "application/json",
            b"{\"status\":\"success\",\"data\":\"\xff\xfe\xc3\x28\xa0\xa1\x80\"}".to_vec(),
        ),
        Mode::WrongContentType => {
            // A protobuf google.rpc.Status (code 3, a message): binary, not the API's JSON.
            let msg = b"unexpected content";
            let mut b = vec![0x08, 0x03, 0x12, msg.len() as u8];
            b.extend_from_slice(msg);
            b.extend_from_slice(&[0x00, 0xff, 0x80]);
            ("application/x-protobuf", b)
        }
        _ => ("application/json", b"{}".to_vec()),
    };
    s.write_all(head("200 OK", ct, body.len(), "").as_bytes())
        .await?;
    s.write_all(&body).await?;
    s.flush().await?;
    s.shutdown().await
}

/// An HTTP/2 server that refuses all work: SETTINGS, then GOAWAY with last stream 0 and
/// ENHANCE_YOUR_CALM, then close once the client has read it.
async fn goaway(mut tcp: TcpStream) {
    let mut first = [0u8; 4096];
    let _ = tokio::time::timeout(Duration::from_secs(2), tcp.read(&mut first)).await;
    // SETTINGS (type 4), empty; SETTINGS ack (flags 1) for the client's; GOAWAY (type 7).
    let frames: [&[u8]; 3] = [
        &[0, 0, 0, 4, 0, 0, 0, 0, 0],
        &[0, 0, 0, 4, 1, 0, 0, 0, 0],
        &[0, 0, 8, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0b],
    ];
    for f in frames {
        if tcp.write_all(f).await.is_err() {
            return;
        }
    }
    let _ = tcp.flush().await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let _ = tcp.shutdown().await;
}

/// One subprocess run, timed on the wall clock from spawn to exit.
pub struct Timed {
    pub code: Option<i32>,
    /// The signal that killed it, if one did.
    pub signal: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub wall: Duration,
}

impl Timed {
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_str(&self.stdout).ok()
    }
}

/// Runs the binary with `args` (no inherited OTEL_* variables) off the runtime's threads.
pub async fn timed(args: Vec<String>) -> Timed {
    let cmd = std::process::Command::new(env!("CARGO_BIN_EXE_otel-canary"));
    timed_command(cmd, args).await
}

/// Runs the binary as [`timed`] does, with `/etc/resolv.conf` replaced, for it alone, by
/// `dns`'s: a private mount namespace (`unshare --mount`, which needs root) with the file
/// bind-mounted over the real one, so glibc's resolver asks the hung nameserver.
pub async fn timed_with_dns(dns: &HungDns, args: Vec<String>) -> Timed {
    let mut cmd = std::process::Command::new("unshare");
    cmd.args(["--mount", "sh", "-c"])
        .arg(r#"mount --bind "$0" /etc/resolv.conf && exec "$@""#)
        .arg(&dns.resolv_conf)
        .arg(env!("CARGO_BIN_EXE_otel-canary"));
    timed_command(cmd, args).await
}

async fn timed_command(mut cmd: std::process::Command, args: Vec<String>) -> Timed {
    tokio::task::spawn_blocking(move || {
        use std::os::unix::process::ExitStatusExt;
        for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("OTEL_")) {
            cmd.env_remove(k);
        }
        cmd.env("NO_COLOR", "1").args(&args);
        let started = std::time::Instant::now();
        let out = cmd.output().expect("binary runs");
        let wall = started.elapsed();
        Timed {
            code: out.status.code(),
            signal: out.status.signal(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            wall,
        }
    })
    .await
    .expect("join")
}

/// A nameserver that takes every query and never answers, on port 53 of a loopback address
/// of its own, with a `resolv.conf` naming it: name lookups that hang for glibc's whole
/// timeout (5 s per try, 2 tries), as behind a firewall that drops DNS.
pub struct HungDns {
    /// A `resolv.conf` whose only nameserver is this one.
    pub resolv_conf: PathBuf,
    queries: Arc<std::sync::atomic::AtomicUsize>,
    _dir: tempfile::TempDir,
}

impl HungDns {
    /// Binds `127.0.0.<n>:53` for the first free `n` from 60; port 53 needs root, and the
    /// tests that use this fail here, loudly, without it.
    pub fn start() -> HungDns {
        let socket = (60..250u8)
            .find_map(|n| {
                std::net::UdpSocket::bind(("127.0.0.".to_string() + &n.to_string(), 53)).ok()
            })
            .expect("bind a loopback UDP port 53 for the hung nameserver (needs root)");
        let addr = socket.local_addr().unwrap();
        let queries = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = queries.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while socket.recv_from(&mut buf).is_ok() {
                counted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        });
        let dir = tempfile::tempdir().unwrap();
        let resolv_conf = dir.path().join("resolv.conf");
        std::fs::write(
            &resolv_conf,
            format!("nameserver {}\noptions timeout:5 attempts:2\n", addr.ip()),
        )
        .unwrap();
        HungDns {
            resolv_conf,
            queries,
            _dir: dir,
        }
    }

    /// How many queries reached it: a lookup that never asked is not a lookup that hung.
    pub fn queries(&self) -> usize {
        self.queries.load(std::sync::atomic::Ordering::Relaxed)
    }
}
