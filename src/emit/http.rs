//! OTLP/HTTP transport (protobuf or JSON) over reqwest with our rustls configuration. One
//! attempt = one POST; the caller decides about retries.

use super::encoding::Encoding;
use super::outcome::{Attempt, ExportError, Response};
use super::response::{decode_partial_success, describe_error_body};
use super::tls;
use crate::config::ConfigError;
use crate::config::otlp::{Compression, SignalTarget};
use crate::diagnose::error_class::{
    ErrorClass, chain_text, classify_chain, classify_http_status, http_status_retryable,
};
use crate::diagnose::second_look::sharpen;
use bytes::Bytes;
use reqwest::header::{CONTENT_ENCODING, CONTENT_TYPE, RETRY_AFTER};
use std::time::{Duration, Instant, SystemTime};

/// Clients should not read more than this of an answer (OTLP spec recommendation).
const MAX_RESPONSE_BYTES: usize = 4 * 1024 * 1024;
/// The request timeout runs this much past the connect timeout, so a connection that never
/// opens is reported as `connect_timeout`, not `timeout`.
const CONNECT_GRACE: Duration = Duration::from_millis(100);

pub const USER_AGENT: &str = concat!("otel-canary/", env!("CARGO_PKG_VERSION"));

/// How much of an answer declared longer than the cap is read anyway, to quote its start.
const OVERSIZED_HEAD: usize = 4096;

/// A response body read up to a cap.
#[derive(Debug, Default)]
pub struct Capped {
    /// At most the cap (at most `OVERSIZED_HEAD` when the declared length was over it).
    pub body: Vec<u8>,
    /// The answer was longer than the cap, by its Content-Length or by what arrived.
    pub over: bool,
}

/// Reads a response body, keeping at most `cap` bytes: a misbehaving server (or a proxy's
/// error page) cannot make the canary buffer without bound, nor spend its deadline reading
/// an answer whose Content-Length already says it is too long.
pub async fn read_capped(resp: &mut reqwest::Response, cap: usize) -> reqwest::Result<Capped> {
    let declared_over = resp.content_length().is_some_and(|n| n > cap as u64);
    let keep = if declared_over {
        cap.min(OVERSIZED_HEAD)
    } else {
        cap
    };
    let mut out = Capped {
        body: Vec::new(),
        over: declared_over,
    };
    while let Some(chunk) = resp.chunk().await? {
        let room = keep - out.body.len();
        if chunk.len() > room {
            out.over = true;
        }
        out.body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if out.body.len() >= keep {
            break;
        }
    }
    Ok(out)
}

/// A reusable HTTP client for one signal's target.
#[derive(Clone, Debug)]
pub struct HttpTransport {
    client: reqwest::Client,
    /// The TLS configuration of an https target, kept to ask the server why a session died.
    tls: Option<std::sync::Arc<rustls::ClientConfig>>,
}

impl HttpTransport {
    pub fn new(target: &SignalTarget) -> Result<Self, ConfigError> {
        let mut builder = reqwest::Client::builder().user_agent(USER_AGENT);
        // Only an https target needs certificates read; a plain one skips that I/O.
        let tls_config = if target.url.value.scheme() == "https" {
            Some(tls::client_config(&target.tls, &[b"http/1.1"])?)
        } else {
            None
        };
        builder = match &tls_config {
            Some(c) => builder.use_preconfigured_tls((**c).clone()),
            None => builder.use_preconfigured_tls(tls::plain_only_config()),
        };
        builder = builder
            .http1_only()
            .redirect(reqwest::redirect::Policy::none());
        if let Some(t) = target.timeout.value {
            builder = builder.connect_timeout(t);
        }
        let client = builder
            .build()
            .map_err(|e| ConfigError::new("http client", chain_text(&e)))?;
        Ok(HttpTransport {
            client,
            tls: tls_config,
        })
    }

    /// POSTs one already-encoded (and, if configured, compressed) body.
    pub async fn send(
        &self,
        target: &SignalTarget,
        encoding: Encoding,
        body: Bytes,
        number: u32,
    ) -> Attempt {
        let started = Instant::now();
        let mut url = target.url.value.clone();
        if target.headers.iter().any(|h| h.name == "authorization") {
            // An explicit Authorization header wins over credentials in the URL (which reqwest
            // would otherwise turn into Basic auth, replacing the header).
            let _ = url.set_username("");
            let _ = url.set_password(None);
        }
        let mut req = self
            .client
            .post(url)
            .header(CONTENT_TYPE, encoding.content_type())
            .body(body);
        if target.compression.value == Compression::Gzip {
            req = req.header(CONTENT_ENCODING, "gzip");
        }
        for h in &target.headers {
            req = req.header(h.name.as_str(), h.value.as_str());
        }
        if let Some(t) = target.timeout.value {
            req = req.timeout(t + CONNECT_GRACE);
        }
        let result = async {
            let resp = req.send().await?;
            read_answer(resp).await
        }
        .await;
        let seconds = started.elapsed().as_secs_f64();
        let url = &target.url.value;
        judge_answer(
            result,
            target.signal,
            encoding,
            url,
            self.tls.as_ref(),
            number,
            seconds,
        )
        .await
    }

    /// The client, for the SDK emitter's HTTP client (same TLS and timeouts).
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// The TLS configuration of an https target, for a second look after a failure.
    pub fn tls(&self) -> Option<&std::sync::Arc<rustls::ClientConfig>> {
        self.tls.as_ref()
    }
}

/// What an OTLP/HTTP POST came back with (the body capped at 4 MiB).
#[derive(Clone, Debug)]
pub struct HttpAnswer {
    pub status: reqwest::StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub content_type: Option<String>,
    pub retry_after: Option<Duration>,
    pub body: Vec<u8>,
    /// Longer than `MAX_RESPONSE_BYTES`: no export response is.
    pub oversized: bool,
}

/// Reads an answer's status, headers and (capped) body.
pub async fn read_answer(mut resp: reqwest::Response) -> reqwest::Result<HttpAnswer> {
    let status = resp.status();
    let headers = resp.headers().clone();
    let content_type = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let retry_after = headers
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_retry_after);
    let capped = read_capped(&mut resp, MAX_RESPONSE_BYTES).await?;
    Ok(HttpAnswer {
        status,
        headers,
        content_type,
        retry_after,
        body: capped.body,
        oversized: capped.over,
    })
}

/// Turns one POST's result into an attempt: the error classified (with a second look at the
/// port when the library's words are ambiguous), partial success decoded from a 2xx body,
/// the server's text quoted from an error body. Shared by the wire emitter and the SDK
/// emitter's HTTP client, so both classify alike.
pub async fn judge_answer(
    result: reqwest::Result<HttpAnswer>,
    signal: crate::signal::Signal,
    encoding: Encoding,
    url: &url::Url,
    tls: Option<&std::sync::Arc<rustls::ClientConfig>>,
    number: u32,
    seconds: f64,
) -> Attempt {
    let mut attempt = Attempt {
        number,
        seconds,
        response: None,
        partial_success: None,
        error: None,
        retryable: false,
        retry_after_seconds: None,
    };
    match result {
        Err(e) => {
            let class = if e.is_timeout() {
                if e.is_connect() {
                    ErrorClass::ConnectTimeout
                } else {
                    ErrorClass::Timeout
                }
            } else {
                classify_chain(&e, e.is_connect())
            };
            let error = sharpen(
                ExportError::new(class, chain_text(&e.without_url())),
                url,
                false,
                tls,
            )
            .await;
            let class = error.class;
            attempt.error = Some(error);
            // A disconnect with no answer may be retried (OTLP spec); a refused or
            // mis-spoken connection will not get better by itself.
            attempt.retryable = matches!(
                class,
                ErrorClass::Timeout | ErrorClass::Transport | ErrorClass::ConnectTimeout
            );
        }
        Ok(HttpAnswer {
            status,
            headers,
            content_type,
            retry_after,
            body,
            oversized,
        }) => {
            attempt.response = Some(Response::Http {
                status: status.as_u16(),
                reason: status.canonical_reason().unwrap_or("").to_string(),
                content_type: content_type.clone(),
                body_bytes: body.len(),
            });
            attempt.retry_after_seconds = retry_after.map(|d| d.as_secs_f64());
            if status.is_success() && oversized {
                attempt.error = Some(ExportError::new(
                    ErrorClass::Body,
                    format!(
                        "the answer is larger than {} MiB, more than an OTLP export response \
                         may be",
                        MAX_RESPONSE_BYTES >> 20
                    ),
                ));
            } else if status.is_success() {
                match decode_partial_success(signal, &body, content_type.as_deref(), encoding) {
                    Ok(ps) => {
                        if let Some(p) = ps.as_ref().filter(|p| p.rejected > 0) {
                            attempt.error = Some(ExportError::new(
                                ErrorClass::PartialSuccess,
                                format!("{} rejected: {}", p.rejected, p.message),
                            ));
                        }
                        attempt.partial_success = ps;
                    }
                    Err(msg) => attempt.error = Some(ExportError::new(ErrorClass::Body, msg)),
                }
            } else {
                let text = describe_error_body(&body, content_type.as_deref());
                let summary = format!(
                    "HTTP {} {}",
                    status.as_u16(),
                    status.canonical_reason().unwrap_or("")
                );
                let mut message = if text.is_empty() {
                    summary
                } else {
                    format!("{summary}: {text}")
                };
                if status.is_redirection() {
                    let to = headers
                        .get(reqwest::header::LOCATION)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|l| url.join(l).ok())
                        .map(|l| crate::redact::redact_url(&l).to_string())
                        .unwrap_or_else(|| "nowhere (no Location)".into());
                    message.push_str(&format!(
                        "; redirects to {to}, which the canary does not follow"
                    ));
                }
                let class = classify_http_status(status.as_u16(), &text);
                let error = ExportError::new(class, message);
                attempt.error = Some(if class == ErrorClass::TlsMismatch {
                    sharpen(error, url, false, None).await
                } else {
                    error
                });
                attempt.retryable = http_status_retryable(status.as_u16());
            }
        }
    }
    attempt
}

/// `Retry-After` as seconds or an HTTP-date.
pub fn parse_retry_after(v: &str) -> Option<Duration> {
    let v = v.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(v).ok()?;
    Some(
        at.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_in_both_forms() {
        assert_eq!(parse_retry_after("3"), Some(Duration::from_secs(3)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
    }
}
