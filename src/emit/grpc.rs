//! OTLP/gRPC transport: tonic's generated collector clients over a channel dialled by our own
//! connector, so DNS, TCP and TLS failures come back typed (see `DialError`) and TLS uses the
//! same rustls configuration as HTTP (including `--insecure-skip-verify`).

use super::encoding::Payload;
use super::outcome::{Attempt, ExportError, PartialSuccess, Response};
use super::tls;
use crate::config::ConfigError;
use crate::config::otlp::{Compression, SignalTarget};
use crate::diagnose::error_class::{
    DialError, ErrorClass, chain_text, classify_chain, classify_grpc_code, grpc_code_name,
    grpc_code_retryable,
};
use crate::diagnose::second_look::sharpen;
use hyper_util::rt::TokioIo;
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_client::LogsServiceClient;
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_client::MetricsServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use rustls::ClientConfig;
use rustls::pki_types::ServerName;
use std::error::Error as StdError;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tonic::codec::CompressionEncoding;
use tonic::metadata::{MetadataKey, MetadataValue};
use tonic::transport::{Channel, Endpoint, Uri};

trait Io: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}
type BoxIo = TokioIo<Pin<Box<dyn Io>>>;

/// A gRPC exporter for one signal's target.
#[derive(Clone)]
pub struct GrpcTransport {
    tls: Option<Arc<ClientConfig>>,
    endpoint: Endpoint,
    /// The target as configured, for a second look at the port after a failure.
    url: url::Url,
    host: String,
    port: u16,
    metadata: Vec<(
        MetadataKey<tonic::metadata::Ascii>,
        MetadataValue<tonic::metadata::Ascii>,
    )>,
}

impl GrpcTransport {
    pub fn new(target: &SignalTarget) -> Result<Self, ConfigError> {
        let url = &target.url.value;
        let shown = crate::redact::redact_url(url);
        let bad = |p: String| ConfigError::at(&target.url.source, p);
        let host = url
            .host_str()
            .ok_or_else(|| bad(format!("'{shown}' has no host")))?;
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let port = url.port_or_known_default().unwrap_or(4317);
        let tls = match url.scheme() {
            "https" => Some(tls::client_config(&target.tls, &[b"h2"])?),
            _ => None,
        };
        let origin: Uri = format!("{}://{}", url.scheme(), authority(&host, port))
            .parse()
            .map_err(|e| bad(format!("'{shown}' is not a usable gRPC target: {e}")))?;
        // The dial URI is always http://: our connector does TLS itself, and tonic refuses
        // https URIs on custom connectors. `origin` keeps :scheme and :authority right.
        let endpoint = Endpoint::from_shared(format!("http://{}", authority(&host, port)))
            .map_err(|e| {
                bad(format!(
                    "'{shown}' is not a usable gRPC target: {}",
                    chain_text(&e)
                ))
            })?
            .origin(origin)
            .user_agent(super::http::USER_AGENT)
            .map_err(|e| bad(e.to_string()))?;
        let metadata = target
            .headers
            .iter()
            .map(|h| {
                let key = MetadataKey::from_bytes(h.name.as_bytes()).map_err(|_| {
                    ConfigError::at(
                        &h.source,
                        format!("'{}' is not valid gRPC metadata", h.name),
                    )
                })?;
                let value = MetadataValue::try_from(h.value.as_str()).map_err(|_| {
                    ConfigError::at(
                        &h.source,
                        format!(
                            "the value of '{}' is not valid gRPC metadata (ASCII only)",
                            h.name
                        ),
                    )
                })?;
                Ok((key, value))
            })
            .collect::<Result<Vec<_>, ConfigError>>()?;
        Ok(GrpcTransport {
            tls,
            endpoint,
            url: url.clone(),
            host,
            port,
            metadata,
        })
    }

    async fn connect(&self) -> Result<Channel, tonic::transport::Error> {
        let (host, port, tls) = (self.host.clone(), self.port, self.tls.clone());
        let dial = tower::service_fn(move |_: Uri| {
            let (host, tls) = (host.clone(), tls.clone());
            async move { dial(&host, port, tls).await }
        });
        self.endpoint.connect_with_connector(dial).await
    }

    /// One Export call, including connection set-up.
    pub async fn send(&self, target: &SignalTarget, payload: &Payload, number: u32) -> Attempt {
        let started = Instant::now();
        let deadline = target.timeout.value;
        let mut attempt = Attempt {
            number,
            seconds: 0.0,
            response: None,
            partial_success: None,
            error: None,
            retryable: false,
            retry_after_seconds: None,
        };
        let connected = match with_deadline(deadline, self.connect()).await {
            None => Err(sharpen(
                ExportError::new(
                    ErrorClass::ConnectTimeout,
                    "no gRPC connection within the export timeout",
                ),
                &self.url,
                true,
                self.tls.as_ref(),
            )
            .await),
            Some(Err(e)) => Err(sharpen(
                ExportError::new(classify_chain(&e, true), chain_text(&e)),
                &self.url,
                true,
                self.tls.as_ref(),
            )
            .await),
            Some(Ok(ch)) => Ok(ch),
        };
        let channel = match connected {
            Ok(ch) => ch,
            Err(e) => {
                attempt.retryable =
                    matches!(e.class, ErrorClass::ConnectTimeout | ErrorClass::Transport);
                attempt.error = Some(e);
                attempt.seconds = started.elapsed().as_secs_f64();
                return attempt;
            }
        };
        tracing::debug!(signal = %target.signal, connect_ms = started.elapsed().as_secs_f64() * 1e3, "gRPC connected");
        let remaining = deadline.map(|d| d.saturating_sub(started.elapsed()));
        let gzip = target.compression.value == Compression::Gzip;
        let call = self.export(channel, payload, gzip);
        let result = with_deadline(remaining, call).await;
        attempt.seconds = started.elapsed().as_secs_f64();
        match result {
            None => {
                attempt.error = Some(ExportError::new(
                    ErrorClass::Timeout,
                    "no gRPC answer within the export timeout",
                ));
                attempt.retryable = true;
            }
            Some(Ok(ps)) => {
                attempt.response = Some(Response::Grpc {
                    code: 0,
                    name: grpc_code_name(0),
                });
                if let Some(p) = ps.as_ref().filter(|p| p.rejected > 0) {
                    attempt.error = Some(ExportError::new(
                        ErrorClass::PartialSuccess,
                        format!("{} rejected: {}", p.rejected, p.message),
                    ));
                }
                attempt.partial_success = ps;
            }
            Some(Err(status)) => {
                let class = classify_status(&status);
                let code = status.code() as i32;
                if status.source().is_none() && !server_made_up(&status) {
                    attempt.response = Some(Response::Grpc {
                        code,
                        name: grpc_code_name(code),
                    });
                    attempt.retryable = grpc_code_retryable(code);
                }
                let text = match status.source() {
                    Some(src) => format!("{}: {}", status.message(), chain_text(src)),
                    None => status.message().to_string(),
                };
                let mut error = ExportError::new(
                    class,
                    format!("{} ({}): {text}", grpc_code_name(code), code),
                );
                if !matches!(class, ErrorClass::Transport | ErrorClass::ProtocolMismatch) {
                    // A server that sent GOAWAY may take the next connection.
                    attempt.retryable |= class == ErrorClass::Unavailable;
                    attempt.error = Some(error);
                } else {
                    error = sharpen(error, &self.url, true, self.tls.as_ref()).await;
                    attempt.retryable = error.class == ErrorClass::Transport;
                    attempt.error = Some(error);
                }
            }
        }
        attempt
    }

    async fn export(
        &self,
        channel: Channel,
        payload: &Payload,
        gzip: bool,
    ) -> Result<Option<PartialSuccess>, tonic::Status> {
        macro_rules! call {
            ($client:ident, $msg:expr, $field:ident) => {{
                let mut client = $client::new(channel);
                if gzip {
                    client = client
                        .send_compressed(CompressionEncoding::Gzip)
                        .accept_compressed(CompressionEncoding::Gzip);
                }
                let mut req = tonic::Request::new($msg.clone());
                for (k, v) in &self.metadata {
                    req.metadata_mut().insert(k.clone(), v.clone());
                }
                let resp = client.export(req).await?.into_inner();
                Ok(resp
                    .partial_success
                    .filter(|p| p.$field != 0 || !p.error_message.is_empty())
                    .map(|p| PartialSuccess {
                        rejected: p.$field,
                        message: p.error_message,
                    }))
            }};
        }
        match payload {
            Payload::Trace(m) => call!(TraceServiceClient, m, rejected_spans),
            Payload::Log(m) => call!(LogsServiceClient, m, rejected_log_records),
            Payload::Metric(m) => call!(MetricsServiceClient, m, rejected_data_points),
        }
    }
}

fn authority(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

async fn with_deadline<F: Future>(deadline: Option<Duration>, f: F) -> Option<F::Output> {
    match deadline {
        Some(d) => tokio::time::timeout(d, f).await.ok(),
        None => Some(f.await),
    }
}

/// A status the server sent is `grpc_status`; one tonic made up from a broken connection or
/// a non-gRPC answer (an HTTP server replying 404, an HTTP/1 server breaking the h2 stream)
/// is a protocol mismatch or a transport failure.
pub fn classify_status(status: &tonic::Status) -> ErrorClass {
    let said = match status.source() {
        Some(src) => format!("{}: {}", status.message(), chain_text(src)),
        None => status.message().to_string(),
    };
    if peer_ended_h2(&said) {
        return ErrorClass::Unavailable;
    }
    if server_made_up(status) {
        return ErrorClass::ProtocolMismatch;
    }
    match status.source() {
        Some(src) => classify_chain(src, false),
        None => classify_grpc_code(status.code() as i32),
    }
}

/// The HTTP/2 peer itself ended the connection or the stream (GOAWAY, RST_STREAM: h2 says
/// "connection error received" / "stream error received"): an HTTP/2 server shedding load or
/// shutting down, not a port that speaks another protocol.
fn peer_ended_h2(message: &str) -> bool {
    message.to_ascii_lowercase().contains("error received")
}

/// Statuses tonic makes up itself when the answer was not gRPC at all (an HTTP server's 404,
/// an HTTP/1 server breaking the h2 stream): shared/fixtures/collector/rust-tonic-to-*.txt.
fn server_made_up(status: &tonic::Status) -> bool {
    made_up_by_tonic(status.message())
}

/// True for the status messages tonic makes up itself when the answer was not gRPC (see
/// `classify_status`); also used on the messages the SDK's tonic exporter logs.
pub fn made_up_by_tonic(message: &str) -> bool {
    let msg = message.to_ascii_lowercase();
    if peer_ended_h2(&msg) {
        return false;
    }
    msg.contains("grpc-status header missing")
        || msg.contains("invalid compression flag")
        || msg.contains("h2 protocol error")
        || msg.contains("invalid content-type")
}

async fn dial(host: &str, port: u16, tls: Option<Arc<ClientConfig>>) -> Result<BoxIo, DialError> {
    let addrs: Vec<_> = tokio::net::lookup_host((host, port))
        .await
        .map_err(DialError::Dns)?
        .collect();
    if addrs.is_empty() {
        return Err(DialError::Dns(std::io::Error::other(format!(
            "{host} has no address"
        ))));
    }
    let tcp = TcpStream::connect(&addrs[..])
        .await
        .map_err(DialError::Connect)?;
    let _ = tcp.set_nodelay(true);
    let Some(config) = tls else {
        return Ok(TokioIo::new(Box::pin(tcp)));
    };
    let name = ServerName::try_from(host.to_string())
        .map_err(|e| DialError::Tls(std::io::Error::other(e.to_string())))?;
    let stream = tokio_rustls::TlsConnector::from(config)
        .connect(name, tcp)
        .await
        .map_err(DialError::Tls)?;
    Ok(TokioIo::new(Box::pin(stream)))
}
