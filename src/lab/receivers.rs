//! Starting the lab's OTLP receivers on real sockets: HTTP/1.1 only on the HTTP port and
//! HTTP/2 only on the gRPC port, as a real collector does, so protocol mistakes fail the way
//! they fail in the field.

use super::LabState;
use super::otlp_grpc::LabGrpc;
use super::otlp_http;
use super::tls::LabTls;
use crate::config::otlp::Protocol;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// Where to listen; port 0 picks a free port.
#[derive(Clone, Debug)]
pub struct ReceiverConfig {
    pub http: SocketAddr,
    pub grpc: SocketAddr,
    pub tls: Option<LabTls>,
}

impl ReceiverConfig {
    /// Both receivers on free loopback ports, plain text.
    pub fn ephemeral() -> Self {
        ReceiverConfig {
            http: SocketAddr::from(([127, 0, 0, 1], 0)),
            grpc: SocketAddr::from(([127, 0, 0, 1], 0)),
            tls: None,
        }
    }
}

/// Running receivers. Dropping the value stops them.
pub struct LabReceivers {
    pub http_addr: SocketAddr,
    pub grpc_addr: SocketAddr,
    pub state: Arc<LabState>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for LabReceivers {
    fn drop(&mut self) {
        self.tasks.iter().for_each(JoinHandle::abort);
    }
}

impl LabReceivers {
    /// Binds both ports and starts serving.
    pub async fn start(config: ReceiverConfig, state: Arc<LabState>) -> io::Result<LabReceivers> {
        let http = TcpListener::bind(config.http).await?;
        let grpc = TcpListener::bind(config.grpc).await?;
        let (http_addr, grpc_addr) = (http.local_addr()?, grpc.local_addr()?);
        let tls = match &config.tls {
            Some(t) => Some(tokio_rustls::TlsAcceptor::from(
                t.server_config(&[b"http/1.1"])?,
            )),
            None => None,
        };
        let http_task = tokio::spawn(serve_http1(http, otlp_http::router(state.clone()), tls));

        let svc = LabGrpc::new(state.clone());
        let mut builder = tonic::transport::Server::builder();
        if let Some(t) = &config.tls {
            builder = builder
                .tls_config(t.tonic_config())
                .map_err(io::Error::other)?;
        }
        let router = builder
            .add_service(svc.trace_server())
            .add_service(svc.logs_server())
            .add_service(svc.metrics_server());
        let grpc_task = tokio::spawn(async move {
            if let Err(e) = router.serve_with_incoming(nodelay_incoming(grpc)).await {
                tracing::error!("lab gRPC receiver stopped: {e}");
            }
        });
        Ok(LabReceivers {
            http_addr,
            grpc_addr,
            state,
            tasks: vec![http_task, grpc_task],
        })
    }

    /// `http://127.0.0.1:<port>` (or https) of the HTTP receiver.
    pub fn http_base(&self, tls: bool) -> String {
        format!(
            "{}://{}",
            if tls { "https" } else { "http" },
            self.http_addr
        )
    }

    /// The base URL of the receiver that speaks `protocol`.
    pub fn base_for(&self, protocol: Protocol, tls: bool) -> String {
        match protocol {
            Protocol::Grpc => self.grpc_base(tls),
            Protocol::HttpProtobuf | Protocol::HttpJson => self.http_base(tls),
        }
    }

    pub fn grpc_base(&self, tls: bool) -> String {
        format!(
            "{}://{}",
            if tls { "https" } else { "http" },
            self.grpc_addr
        )
    }
}

/// Accepted connections with `TCP_NODELAY` set. tonic's own `TcpIncoming` did not set it
/// (seen with strace), and without it small gRPC answers wait 40 ms for a delayed ACK.
fn nodelay_incoming(
    listener: TcpListener,
) -> impl futures_util::Stream<Item = io::Result<tokio::net::TcpStream>> {
    futures_util::stream::unfold(listener, |listener| async move {
        let accepted = listener.accept().await.map(|(tcp, _)| {
            let _ = tcp.set_nodelay(true);
            tcp
        });
        Some((accepted, listener))
    })
}

/// Accepts connections and serves an axum router over HTTP/1.1, optionally behind TLS.
pub async fn serve_http1(
    listener: TcpListener,
    router: axum::Router,
    tls: Option<tokio_rustls::TlsAcceptor>,
) {
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let (router, tls) = (router.clone(), tls.clone());
        tokio::spawn(async move {
            match tls {
                Some(acceptor) => {
                    if let Ok(stream) = acceptor.accept(tcp).await {
                        serve_conn(stream, router).await;
                    }
                }
                None => serve_conn(tcp, router).await,
            }
        });
    }
}

async fn serve_conn<I: AsyncRead + AsyncWrite + Unpin + Send + 'static>(
    io: I,
    router: axum::Router,
) {
    let svc = TowerToHyperService::new(router);
    let _ = hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(io), svc)
        .await;
}
