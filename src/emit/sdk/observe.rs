//! Seeing what the SDK sends. Over HTTP the SDK's exporters are given the canary's own HTTP
//! client (opentelemetry-otlp's `with_http_client`): the SDK builds every request itself
//! (URL, headers, encoding, body), and the client sends it with the canary's reqwest and
//! rustls, records it, and hands the SDK the real answer. Over gRPC the exporter keeps its
//! own tonic channel; an interceptor records each call's metadata as it leaves.
//!
//! The SDK's batch processors and periodic reader run exports on their own OS threads, where
//! no Tokio runtime is current; the client runs each request on the runtime it was built on
//! and waits for it there, so no blocking HTTP client (and no second TLS stack) is needed.

use super::diagnostics::{Sink, claim_thread};
use super::outcome::SdkRequest;
use crate::diagnose::error_class::{ErrorClass, chain_text};
use crate::emit::encoding::Encoding;
use crate::emit::http::{HttpAnswer, judge_answer, read_answer};
use crate::emit::outcome::{Attempt, ExportError};
use crate::signal::Signal;
use bytes::Bytes;
use std::io::Read;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The request timeout runs this much past the SDK's export timeout's connect part, as the
/// wire emitter does, so a connection that never opens is a connect timeout.
const CONNECT_GRACE: Duration = Duration::from_millis(100);

/// Which of the canary's calls is running, so a request can say what triggered it.
#[derive(Debug, Default)]
pub struct Phase(AtomicU8);

impl Phase {
    pub const BACKGROUND: u8 = 0;
    pub const FLUSH: u8 = 1;
    pub const SHUTDOWN: u8 = 2;

    pub fn set(&self, p: u8) {
        self.0.store(p, Ordering::SeqCst);
    }

    fn name(&self) -> &'static str {
        match self.0.load(Ordering::SeqCst) {
            Phase::FLUSH => "force_flush",
            Phase::SHUTDOWN => "shutdown",
            _ => "background",
        }
    }
}

/// A gRPC call seen by the interceptor: when it left, and its metadata names.
#[derive(Clone, Debug)]
pub struct GrpcCall {
    pub service: String,
    pub during: &'static str,
    pub at: Instant,
    pub header_names: Vec<String>,
}

/// Everything one probe's exporters sent, in order.
#[derive(Debug, Default)]
pub struct Recorder {
    http: Mutex<Vec<SdkRequest>>,
    grpc: Mutex<Vec<GrpcCall>>,
    /// Uncompressed body bytes of the requests sent during `force_flush`.
    payload_bytes: Mutex<usize>,
    /// Their bodies as sent (compressed, when gzip).
    sent_bytes: Mutex<usize>,
    pub phase: Phase,
}

impl Recorder {
    pub fn new() -> Arc<Recorder> {
        Arc::new(Recorder::default())
    }

    pub fn http_requests(&self) -> Vec<SdkRequest> {
        self.http.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn grpc_calls(&self) -> Vec<GrpcCall> {
        self.grpc.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn payload_bytes(&self) -> usize {
        *self.payload_bytes.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn sent_bytes(&self) -> usize {
        *self.sent_bytes.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn push_http(&self, r: SdkRequest, raw_len: usize, wire_len: usize) {
        if r.during == "force_flush" {
            *self.payload_bytes.lock().unwrap_or_else(|p| p.into_inner()) += raw_len;
            *self.sent_bytes.lock().unwrap_or_else(|p| p.into_inner()) += wire_len;
        }
        self.http.lock().unwrap_or_else(|p| p.into_inner()).push(r);
    }

    /// Records a gRPC call leaving (called from the exporter's interceptor).
    pub fn push_grpc(&self, service: &str, metadata: &tonic::metadata::MetadataMap) {
        let header_names = metadata
            .keys()
            .map(|k| match k {
                tonic::metadata::KeyRef::Ascii(k) => k.as_str().to_string(),
                tonic::metadata::KeyRef::Binary(k) => k.as_str().to_string(),
            })
            .collect();
        self.grpc
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(GrpcCall {
                service: service.to_string(),
                during: self.phase.name(),
                at: Instant::now(),
                header_names,
            });
    }
}

/// The HTTP client handed to the SDK's exporters.
#[derive(Clone)]
pub struct ObservingClient {
    pub client: reqwest::Client,
    pub tls: Option<Arc<rustls::ClientConfig>>,
    pub runtime: tokio::runtime::Handle,
    pub recorder: Arc<Recorder>,
    pub sink: Arc<Sink>,
    pub signal: Signal,
    /// The provider's service, for the record.
    pub service: String,
    /// The SDK's export timeout (the SDK leaves enforcing it to the client).
    pub timeout: Duration,
}

impl std::fmt::Debug for ObservingClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObservingClient")
            .field("signal", &self.signal)
            .field("service", &self.service)
            .finish_non_exhaustive()
    }
}

/// The transport error handed back to the SDK (it only says "network error" itself).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct SendFailed(String);

fn encoding_of(content_type: Option<&str>) -> Encoding {
    match content_type {
        Some(ct) if ct.contains("json") => Encoding::Json,
        _ => Encoding::Protobuf,
    }
}

fn gunzipped_len(body: &[u8]) -> usize {
    let mut out = Vec::new();
    match flate2::read::GzDecoder::new(body).read_to_end(&mut out) {
        Ok(n) => n,
        Err(_) => body.len(),
    }
}

impl ObservingClient {
    async fn send(
        &self,
        request: http::Request<Bytes>,
    ) -> (Attempt, Result<http::Response<Bytes>, String>) {
        let (parts, body) = request.into_parts();
        let url = crate::redact::redact_url_text(&parts.uri.to_string());
        let content_type = parts
            .headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let started = Instant::now();
        let u = match url::Url::parse(&url) {
            Ok(u) => u,
            Err(e) => {
                let msg = format!("the SDK built an unusable URL '{url}': {e}");
                let attempt = Attempt {
                    number: 1,
                    seconds: 0.0,
                    response: None,
                    partial_success: None,
                    error: Some(ExportError::new(ErrorClass::Transport, msg.clone())),
                    retryable: false,
                    retry_after_seconds: None,
                };
                return (attempt, Err(msg));
            }
        };
        let req = self
            .client
            .request(parts.method.clone(), u.clone())
            .headers(parts.headers.clone())
            .timeout(self.timeout + CONNECT_GRACE)
            .body(body);
        let result = async { read_answer(req.send().await?).await }.await;
        let seconds = started.elapsed().as_secs_f64();
        let for_sdk = match &result {
            Ok(a) => Ok(to_http_response(a)),
            Err(e) => Err(chain_text(e)),
        };
        let encoding = encoding_of(content_type.as_deref());
        let attempt = judge_answer(
            result,
            self.signal,
            encoding,
            &u,
            self.tls.as_ref(),
            1,
            seconds,
        )
        .await;
        (attempt, for_sdk)
    }
}

fn to_http_response(a: &HttpAnswer) -> http::Response<Bytes> {
    let mut resp = http::Response::new(Bytes::from(a.body.clone()));
    *resp.status_mut() = a.status;
    *resp.headers_mut() = a.headers.clone();
    resp
}

#[async_trait::async_trait]
impl opentelemetry_http::HttpClient for ObservingClient {
    async fn send_bytes(
        &self,
        request: http::Request<Bytes>,
    ) -> Result<http::Response<Bytes>, opentelemetry_http::HttpError> {
        claim_thread(&self.sink);
        let during = self.recorder.phase.name();
        let url = crate::redact::redact_url_text(&request.uri().to_string());
        let content_type = header(&request, http::header::CONTENT_TYPE);
        let content_encoding = header(&request, http::header::CONTENT_ENCODING);
        let header_names: Vec<String> = request
            .headers()
            .keys()
            .map(|k| k.as_str().to_string())
            .collect();
        let wire_len = request.body().len();
        let raw_len = match content_encoding.as_deref() {
            Some("gzip") => gunzipped_len(request.body()),
            _ => request.body().len(),
        };
        let this = self.clone();
        // The SDK calls from its own threads: run the request on the canary's runtime.
        let (attempt, for_sdk) = self
            .runtime
            .spawn(async move { this.send(request).await })
            .await
            .map_err(|e| {
                Box::new(SendFailed(format!("the request task failed: {e}")))
                    as opentelemetry_http::HttpError
            })?;
        self.recorder.push_http(
            SdkRequest {
                service: self.service.clone(),
                during,
                url,
                content_type,
                content_encoding,
                header_names,
                attempt,
            },
            raw_len,
            wire_len,
        );
        for_sdk.map_err(|e| Box::new(SendFailed(e)) as opentelemetry_http::HttpError)
    }
}

fn header<B>(r: &http::Request<B>, name: http::header::HeaderName) -> Option<String> {
    r.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}
