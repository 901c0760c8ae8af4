//! The exact requests `run` would make, minus the data: for each configured signal an EMPTY
//! export to its URL with its protocol, headers (tenant, credentials) and TLS settings; for
//! each read backend a build-info GET under its URL with the read headers. The port scan
//! says what speaks where; these say whether the configured request itself gets through, so
//! a tenant, a certificate or a custom path is judged exactly as configured.
//!
//! Transports are built before anything is sent, so an unreadable CA file is a
//! configuration error (exit 2), exactly as in `run`.

use super::grpc_probe::empty_payload;
use super::{Budget, ReadKind};
use crate::backends::client::{Answer, QueryError, ReadClient, join};
use crate::config::ConfigError;
use crate::config::headers::{Header, merge_headers};
use crate::config::otlp::{Compression, ExportTarget, SignalTarget};
use crate::config::read::{Backend, MetricsApi, ReadTarget};
use crate::emit::encoding::Encoding;
use crate::emit::grpc::GrpcTransport;
use crate::emit::http::HttpTransport;
use crate::emit::outcome::Attempt;
use bytes::Bytes;
use futures_util::future::join_all;
use std::time::Instant;
use url::Url;

enum Sender {
    Http(HttpTransport, Encoding),
    Grpc(Box<GrpcTransport>),
}

/// What the empty export to a configured signal target got; `None` when the deadline came
/// first.
pub struct ExportCheck {
    pub target: SignalTarget,
    pub attempt: Option<Attempt>,
}

/// What the build-info GET under a configured read URL got; `None` when the deadline came
/// first.
pub struct ReadCheck {
    pub kind: ReadKind,
    pub backend: Backend,
    /// The build-info URL asked.
    pub url: Url,
    pub answer: Option<Result<Answer, QueryError>>,
}

/// The prepared checks.
pub struct Checks {
    export: Vec<(SignalTarget, Sender)>,
    read: Vec<(ReadKind, Backend, ReadClient, Url)>,
}

/// The build-info path of each backend, under its API base.
fn buildinfo_path(kind: ReadKind) -> &'static str {
    match kind {
        ReadKind::Tempo => "api/status/buildinfo",
        ReadKind::Loki => "loki/api/v1/status/buildinfo",
        ReadKind::Mimir | ReadKind::Prometheus => "api/v1/status/buildinfo",
    }
}

impl Checks {
    /// Builds a transport per configured signal and a client per read backend. The export
    /// timeout is capped to the scan's request budget and compression is off (an empty body
    /// has nothing to compress); everything else is as configured.
    pub fn new(
        export: &ExportTarget,
        read: &ReadTarget,
        budget: &Budget,
    ) -> Result<Checks, ConfigError> {
        let mut ex = Vec::new();
        for t in &export.signals {
            let mut t = t.clone();
            let cap = budget.request * 2;
            t.timeout.value = Some(t.timeout.value.map_or(cap, |d| d.min(cap)));
            t.compression.value = Compression::None;
            let sender = match t.protocol.value {
                crate::config::otlp::Protocol::Grpc => {
                    Sender::Grpc(Box::new(GrpcTransport::new(&t)?))
                }
                crate::config::otlp::Protocol::HttpProtobuf => {
                    Sender::Http(HttpTransport::new(&t)?, Encoding::Protobuf)
                }
                crate::config::otlp::Protocol::HttpJson => {
                    Sender::Http(HttpTransport::new(&t)?, Encoding::Json)
                }
            };
            ex.push((t, sender));
        }
        let mut rd = Vec::new();
        let backends = [
            (ReadKind::Tempo, read.tempo.as_ref()),
            (ReadKind::Loki, read.loki.as_ref()),
            (
                match read.metrics.as_ref().map(|(a, _)| *a) {
                    Some(MetricsApi::Prometheus) => ReadKind::Prometheus,
                    _ => ReadKind::Mimir,
                },
                read.metrics.as_ref().map(|(_, b)| b),
            ),
        ];
        for (kind, b) in backends {
            let Some(b) = b else { continue };
            let mut headers: Vec<Header> = read.headers.clone();
            merge_headers(&mut headers, b.headers.clone());
            let timeout = budget.request.min(read.query_timeout.value) * 2;
            let client = ReadClient::new(&b.url.value, headers, &read.tls, timeout)?;
            let url = join(&b.api_base, buildinfo_path(kind));
            rd.push((kind, b.clone(), client, url));
        }
        Ok(Checks {
            export: ex,
            read: rd,
        })
    }

    /// Runs every check at once, each cut off at `deadline`. Targets on a host in
    /// `unresolved` (the scan's resolution already failed) are not asked again: their verdict
    /// comes from the scan, and a second lookup would only wait for the same dead resolver.
    pub async fn run(
        &self,
        deadline: Instant,
        unresolved: &[String],
    ) -> (Vec<ExportCheck>, Vec<ReadCheck>) {
        let at = tokio::time::Instant::from_std(deadline);
        let skip = |url: &Url| {
            url.host_str()
                .is_some_and(|h| unresolved.contains(&super::plan::normalise_host(h)))
        };
        let exports = join_all(self.export.iter().map(|(t, sender)| async move {
            if skip(&t.url.value) {
                return ExportCheck {
                    target: t.clone(),
                    attempt: None,
                };
            }
            let send = async {
                match sender {
                    Sender::Http(h, enc) => {
                        let body = match enc {
                            Encoding::Protobuf => Bytes::new(),
                            Encoding::Json => Bytes::from_static(b"{}"),
                        };
                        h.send(t, *enc, body, 1).await
                    }
                    Sender::Grpc(g) => g.send(t, &empty_payload(t.signal), 1).await,
                }
            };
            ExportCheck {
                target: t.clone(),
                attempt: tokio::time::timeout_at(at, send).await.ok(),
            }
        }));
        let reads = join_all(self.read.iter().map(|(kind, b, client, url)| async move {
            let answer = if skip(url) {
                None
            } else {
                tokio::time::timeout_at(at, client.get(url, &[], &[]))
                    .await
                    .ok()
            };
            ReadCheck {
                kind: *kind,
                backend: b.clone(),
                url: url.clone(),
                answer,
            }
        }));
        tokio::join!(exports, reads)
    }
}
