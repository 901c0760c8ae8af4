//! The HTTP client every reader shares: read headers (tenant, auth) on each request, a
//! per-request timeout, a capped body, and failures sorted into "try again" and "stop".

use crate::config::ConfigError;
use crate::config::headers::Header;
use crate::config::otlp::TlsSettings;
use crate::diagnose::error_class::{ErrorClass, chain_text, classify_chain};
use crate::emit::http::{USER_AGENT, read_capped};
use crate::emit::tls;
use crate::poll::Read;
use crate::redact::scrub;
use bytes::Bytes;
use serde::Serialize;
use std::time::Duration;
use url::Url;

/// Longest answer a reader accepts: a trace or a log query for one probe is a few KiB, a busy
/// collector's whole /metrics page a few hundred. A longer one is refused, named as such.
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// How much of an unusable answer's body an error quotes.
const QUOTED_BYTES: usize = 120;

/// Why a read failed.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct QueryError {
    /// How the request failed: `http_status` when the backend answered with an error.
    pub class: ErrorClass,
    pub status: Option<u16>,
    /// The backend's own error text (or the transport's), secrets removed.
    pub message: String,
}

impl std::fmt::Display for QueryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.status {
            Some(s) => write!(f, "HTTP {s}: {}", self.message),
            None => write!(f, "{}: {}", self.class.as_str(), self.message),
        }
    }
}

/// A backend's answer, read in full.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub content_type: Option<String>,
    pub body: Bytes,
}

impl Answer {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// An HTML page (a login form, a proxy's error page, Grafana's UI) rather than an API's
    /// JSON or text: by its Content-Type, or a body that opens like one.
    pub fn is_html(&self) -> bool {
        let declared = self
            .content_type
            .as_deref()
            .is_some_and(|c| c.to_ascii_lowercase().contains("html"));
        let head: String = String::from_utf8_lossy(&self.body[..self.body.len().min(256)])
            .trim_start()
            .chars()
            .take(15)
            .collect::<String>()
            .to_ascii_lowercase();
        declared || head.starts_with("<!doctype html") || head.starts_with("<html")
    }

    /// The `<title>` of an HTML page, if it has one.
    pub fn html_title(&self) -> Option<String> {
        let text = String::from_utf8_lossy(&self.body[..self.body.len().min(64 * 1024)]);
        let lower = text.to_ascii_lowercase();
        let start = lower.find("<title")?;
        let open_end = start + lower[start..].find('>')? + 1;
        let close = open_end + lower[open_end..].find("</title")?;
        let title: String = text[open_end..close]
            .chars()
            .filter(|c| !c.is_control())
            .collect::<String>()
            .trim()
            .chars()
            .take(80)
            .collect();
        (!title.is_empty()).then_some(title)
    }

    /// The start of the body, for an error message: printable text only, at most
    /// `QUOTED_BYTES`, bytes that are not UTF-8 shown as such.
    pub fn quoted_start(&self) -> String {
        let head = &self.body[..self.body.len().min(QUOTED_BYTES)];
        let text: String = String::from_utf8_lossy(head)
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        let more = if self.body.len() > QUOTED_BYTES {
            "…"
        } else {
            ""
        };
        format!("\"{}{more}\"", text.trim())
    }

    /// The body as text, trimmed, for error messages.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).trim().to_string()
    }
}

/// One client per backend.
#[derive(Clone, Debug)]
pub struct ReadClient {
    http: reqwest::Client,
    headers: Vec<Header>,
    request_timeout: Duration,
}

impl ReadClient {
    /// `headers` go on every request (tenant, auth, custom); `request_timeout` bounds each read.
    pub fn new(
        base: &Url,
        headers: Vec<Header>,
        tls_settings: &TlsSettings,
        request_timeout: Duration,
    ) -> Result<ReadClient, ConfigError> {
        let tls_config = if base.scheme() == "https" {
            (*tls::client_config(tls_settings, &[b"h2", b"http/1.1"])?).clone()
        } else {
            tls::plain_only_config()
        };
        // Redirects are not followed: a read API does not redirect, a login page or a proxy
        // does, and credentials must not travel to wherever it points.
        let http = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .use_preconfigured_tls(tls_config)
            .connect_timeout(request_timeout)
            .timeout(request_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| ConfigError::new("read client", chain_text(&e)))?;
        Ok(ReadClient {
            http,
            headers,
            request_timeout,
        })
    }

    /// GETs `url` with `query` parameters plus `extra` headers. `Err` when no answer came, or
    /// when the body is longer than `MAX_BODY_BYTES` (class `body`, naming the cap). A
    /// redirect is an answer (`location` in the error text of `failed_answer`).
    pub async fn get(
        &self,
        url: &Url,
        query: &[(&str, String)],
        extra: &[(&str, &str)],
    ) -> Result<Answer, QueryError> {
        let mut full = url.clone();
        if !query.is_empty() {
            full.query_pairs_mut()
                .extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())));
        }
        let mut req = self.http.get(full);
        for h in &self.headers {
            req = req.header(h.name.as_str(), h.value.as_str());
        }
        for (k, v) in extra {
            req = req.header(*k, *v);
        }
        let result = async {
            let mut resp = req.send().await?;
            let status = resp.status().as_u16();
            let header = |name| {
                resp.headers()
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string)
            };
            let content_type = header(reqwest::header::CONTENT_TYPE);
            let location = header(reqwest::header::LOCATION);
            let capped = read_capped(&mut resp, MAX_BODY_BYTES).await?;
            Ok::<_, reqwest::Error>((
                Answer {
                    status,
                    content_type,
                    body: Bytes::from(capped.body),
                },
                location,
                capped.over,
            ))
        }
        .await;
        let (answer, location, oversized) = result.map_err(|e| {
            let class = if e.is_timeout() {
                if e.is_connect() {
                    ErrorClass::ConnectTimeout
                } else {
                    ErrorClass::Timeout
                }
            } else {
                classify_chain(&e, e.is_connect())
            };
            let message = if class == ErrorClass::Timeout {
                format!("no answer within {:?}", self.request_timeout)
            } else {
                chain_text(&e)
            };
            self.error(class, None, &message, url)
        })?;
        if oversized {
            return Err(self.error(
                ErrorClass::Body,
                Some(answer.status),
                &format!(
                    "the answer is larger than {} MiB, the most a reader accepts: not an API's \
                     answer to one probe's query",
                    MAX_BODY_BYTES >> 20
                ),
                url,
            ));
        }
        if (300..400).contains(&answer.status) {
            let to = location
                .as_deref()
                .and_then(|l| url.join(l).ok())
                .map(|l| crate::redact::redact_url(&l).to_string())
                .unwrap_or_else(|| "nowhere (no Location)".into());
            return Err(self.error(
                ErrorClass::HttpStatus,
                Some(answer.status),
                &format!(
                    "redirects to {to}: the canary does not follow redirects (credentials must \
                     not travel with them); an API does not redirect, a login page or a proxy \
                     does: point the URL at the API itself"
                ),
                url,
            ));
        }
        Ok(answer)
    }

    /// The error for a 2xx answer that is not what the API answers: an HTML page gets said
    /// as such, anything else is quoted from its start.
    pub fn unusable(&self, answer: &Answer, url: &Url, backend: &str, problem: &str) -> QueryError {
        let message = if answer.is_html() {
            match answer.html_title() {
                Some(t) => format!(
                    "an HTML page answered (HTTP {}, title \"{t}\"), not {backend}'s API",
                    answer.status
                ),
                None => format!(
                    "an HTML page answered (HTTP {}), not {backend}'s API",
                    answer.status
                ),
            }
        } else {
            format!(
                "{backend}'s answer is unusable ({problem}); it starts {}",
                answer.quoted_start()
            )
        };
        self.error(ErrorClass::Body, Some(answer.status), &message, url)
    }

    /// A `QueryError` with secrets scrubbed from the text.
    pub fn error(
        &self,
        class: ErrorClass,
        status: Option<u16>,
        message: &str,
        url: &Url,
    ) -> QueryError {
        QueryError {
            class,
            status,
            message: scrub(message, &self.headers, url),
        }
    }

    /// The usual sorting of a non-success answer: 5xx and 429 are worth retrying (a backend
    /// restarting, a query-frontend queue full); anything else is the backend refusing us.
    pub fn failed_answer<T>(&self, answer: &Answer, url: &Url) -> Read<T, QueryError> {
        let err = self.error(
            ErrorClass::HttpStatus,
            Some(answer.status),
            &error_text(answer),
            url,
        );
        if answer.status >= 500 || answer.status == 429 {
            Read::Retry(err)
        } else {
            Read::Refused(err)
        }
    }

    /// The usual sorting of a request that got no answer: a refused connection, an unknown
    /// host, a TLS or protocol mismatch will not fix themselves within a deadline; a timeout
    /// or a dropped connection might, but until then they say nothing about the signal.
    pub fn transport_failure<T>(err: QueryError) -> Read<T, QueryError> {
        match err.class {
            ErrorClass::Timeout | ErrorClass::Transport | ErrorClass::ConnectTimeout => {
                Read::Unanswered(err)
            }
            _ => Read::Refused(err),
        }
    }

    /// GET for a one-off look (not a poll): `Ok` only for a 2xx answer, any other status is
    /// an `http_status` error quoting the backend.
    pub async fn get_ok(
        &self,
        url: &Url,
        query: &[(&str, String)],
        extra: &[(&str, &str)],
    ) -> Result<Answer, QueryError> {
        let answer = self.get(url, query, extra).await?;
        if answer.is_success() {
            Ok(answer)
        } else {
            Err(self.error(
                ErrorClass::HttpStatus,
                Some(answer.status),
                &error_text(&answer),
                url,
            ))
        }
    }

    /// GET + sort: `Ok(answer)` for 2xx, else the `Read` to return.
    pub async fn fetch<T>(
        &self,
        url: &Url,
        query: &[(&str, String)],
        extra: &[(&str, &str)],
    ) -> Result<Answer, Read<T, QueryError>> {
        match self.get(url, query, extra).await {
            Ok(a) if a.is_success() => Ok(a),
            Ok(a) => Err(self.failed_answer(&a, url)),
            Err(e) => Err(Self::transport_failure(e)),
        }
    }
}

/// The most useful text of an error answer: the `error` member of a Prometheus-style JSON
/// envelope, else the body as text, else the status alone.
pub fn error_text(answer: &Answer) -> String {
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&answer.body)
        && let Some(e) = v.get("error").and_then(|e| e.as_str())
    {
        return e.to_string();
    }
    let text = answer.text();
    let text: String = text.chars().take(2000).collect();
    if text.is_empty() {
        format!("HTTP {} with an empty body", answer.status)
    } else {
        text
    }
}

/// What a label or tag name keeps unescaped in a URL path segment (`resource.service.name`,
/// `service_name`); anything else is percent-encoded.
pub const PATH_SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'.')
    .remove(b'_')
    .remove(b'-');

/// Joins a path onto a base URL, keeping the base's own path (`http://h/prefix` +
/// `api/v1/query` = `http://h/prefix/api/v1/query`).
pub fn join(base: &Url, path: &str) -> Url {
    let mut url = base.clone();
    let joined = format!(
        "{}/{}",
        base.path().trim_end_matches('/'),
        path.trim_start_matches('/')
    );
    url.set_path(&joined);
    url.set_query(None);
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_keeps_prefixes() {
        let b = Url::parse("http://mimir:9009/prometheus").unwrap();
        assert_eq!(
            join(&b, "api/v1/query").as_str(),
            "http://mimir:9009/prometheus/api/v1/query"
        );
        let b = Url::parse("http://tempo:3200/").unwrap();
        assert_eq!(
            join(&b, "/api/v2/traces/ab").as_str(),
            "http://tempo:3200/api/v2/traces/ab"
        );
    }

    #[test]
    fn error_text_prefers_the_envelope() {
        let a = Answer {
            status: 400,
            content_type: None,
            body: Bytes::from_static(
                br#"{"status":"error","errorType":"bad_data","error":"parse error"}"#,
            ),
        };
        assert_eq!(error_text(&a), "parse error");
        let a = Answer {
            status: 401,
            content_type: None,
            body: Bytes::from_static(b"no org id\n"),
        };
        assert_eq!(error_text(&a), "no org id");
    }
}
