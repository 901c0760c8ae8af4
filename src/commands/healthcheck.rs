//! `otel-canary healthcheck`: one GET to a running `serve`'s health endpoint, exit 0 on a 2xx
//! answer and 1 on anything else, within a bounded time. Container images without curl or
//! wget (the distroless one this project ships) use it for HEALTHCHECK and exec probes.

use crate::cli::HealthcheckArgs;
use crate::config::ConfigError;
use http::{Request, Uri, header};
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::time::Duration;

/// At most this much of an answer's body is quoted (`/-/ready`'s 503 names the scenarios that
/// have not finished a probe yet).
const BODY_QUOTE_BYTES: usize = 512;

/// What the endpoint said, or why it said nothing.
#[derive(Debug, PartialEq, Eq)]
pub enum Health {
    /// A 2xx answer: status and the start of the body.
    Healthy { status: u16, body: String },
    /// Any other answer.
    Unhealthy { status: u16, body: String },
    /// No answer: refused, reset, not HTTP, or nothing within the timeout.
    NoAnswer(String),
}

/// Runs the check and prints one line: stdout when healthy, stderr otherwise (Docker keeps
/// both in the container's health log).
pub async fn run(args: &HealthcheckArgs) -> Result<u8, ConfigError> {
    let uri = parse_url(&args.url)?;
    let health = check(&uri, args.timeout).await;
    match &health {
        Health::Healthy { status, body } => super::write_report(&format!(
            "healthy: {uri} answered {status}{}\n",
            quote(body)
        )),
        Health::Unhealthy { status, body } => {
            eprintln!("unhealthy: {uri} answered {status}{}", quote(body))
        }
        Health::NoAnswer(why) => eprintln!("unhealthy: {uri}: {why}"),
    }
    Ok(match health {
        Health::Healthy { .. } => 0,
        _ => 1,
    })
}

/// Only plain `http://` URLs with a host: `serve` speaks plain HTTP, and a health check that
/// needs a certificate store is one more way to fail.
pub fn parse_url(raw: &str) -> Result<Uri, ConfigError> {
    let shown = crate::redact::redact_urls_in_text(raw);
    let bad = |why: &str| ConfigError::new("--url", format!("'{shown}' {why}"));
    if !raw.contains("://") {
        return Err(bad("has no scheme: write http://HOST:PORT/PATH"));
    }
    let uri: Uri = raw
        .parse()
        .map_err(|_| bad("is not a URL like http://127.0.0.1:9464/-/healthy"))?;
    match uri.scheme_str() {
        Some("http") => {}
        Some(other) => {
            return Err(bad(&format!(
                "uses {other}://; serve's endpoints are plain http://"
            )));
        }
        None => return Err(bad("has no scheme: write http://HOST:PORT/PATH")),
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(bad("has no host"));
    }
    // serve's endpoints take no credentials, and the client would put the userinfo in its
    // Host header and its connection-pool logs.
    if uri.authority().is_some_and(|a| a.as_str().contains('@')) {
        return Err(bad(
            "carries credentials (user:password@): serve's endpoints take none",
        ));
    }
    Ok(uri)
}

/// One GET, answer and body (up to [`BODY_QUOTE_BYTES`]) within `timeout`.
pub async fn check(uri: &Uri, timeout: Duration) -> Health {
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<bytes::Bytes>>();
    let request = match Request::get(uri.clone())
        .header(
            header::USER_AGENT,
            concat!("otel-canary-healthcheck/", env!("CARGO_PKG_VERSION")),
        )
        .body(Empty::new())
    {
        Ok(r) => r,
        Err(e) => return Health::NoAnswer(format!("cannot build the request: {e}")),
    };
    let exchange = async {
        let response = client
            .request(request)
            .await
            .map_err(|e| describe_error(&e))?;
        let status = response.status();
        // The status decides; the body is only quoted, so a body that stops early or runs
        // long is cut, not an error.
        let body = match Limited::new(response.into_body(), BODY_QUOTE_BYTES * 8)
            .collect()
            .await
        {
            Ok(collected) => collected.to_bytes(),
            Err(_) => bytes::Bytes::new(),
        };
        let mut text = String::from_utf8_lossy(&body).trim().to_string();
        if text.len() > BODY_QUOTE_BYTES {
            let mut cut = BODY_QUOTE_BYTES;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            text.truncate(cut);
            text.push('…');
        }
        Ok::<_, String>((status.as_u16(), status.is_success(), text))
    };
    match tokio::time::timeout(timeout, exchange).await {
        Ok(Ok((status, true, body))) => Health::Healthy { status, body },
        Ok(Ok((status, false, body))) => Health::Unhealthy { status, body },
        Ok(Err(why)) => Health::NoAnswer(why),
        Err(_) => Health::NoAnswer(format!(
            "no answer within {}",
            humantime::format_duration(timeout)
        )),
    }
}

/// The innermost cause is the useful one ("Connection refused (os error 111)").
fn describe_error(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![e.to_string()];
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = s.source();
    }
    parts.join(": ")
}

fn quote(body: &str) -> String {
    let line = body.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.is_empty() {
        String::new()
    } else {
        format!(": {line}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_http_urls_with_a_host() {
        assert!(parse_url("http://127.0.0.1:9464/-/healthy").is_ok());
        assert!(parse_url("http://otel-canary:9464/-/ready").is_ok());
        for (raw, says) in [
            ("https://127.0.0.1:9464/-/healthy", "plain http://"),
            ("127.0.0.1:9464/-/healthy", "no scheme"),
            ("/-/healthy", "no scheme"),
            ("http:///-/healthy", "not a URL"),
            ("not a url", "no scheme"),
            ("http://exa mple/", "not a URL"),
            (
                "http://u:pw@127.0.0.1:9464/-/healthy",
                "carries credentials",
            ),
        ] {
            let e = parse_url(raw).expect_err(raw);
            assert_eq!(e.input, "--url", "{raw}");
            assert!(e.problem.contains(says), "{raw}: {}", e.problem);
            assert!(
                !e.problem.contains("pw@"),
                "the password is quoted: {}",
                e.problem
            );
        }
    }

    #[test]
    fn a_long_body_is_quoted_on_one_line() {
        assert_eq!(quote("a\n  b\tc "), ": a b c");
        assert_eq!(quote("  "), "");
    }
}
