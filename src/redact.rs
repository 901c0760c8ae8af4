//! Keeping secrets out of output: credentials in URLs and any secret header value that an
//! error message might echo back.

use crate::config::headers::Header;
use url::Url;

/// The URL with any password replaced, safe to print.
pub fn redact_url(url: &Url) -> Url {
    let mut shown = url.clone();
    if shown.password().is_some() {
        let _ = shown.set_password(Some("redacted"));
    }
    shown
}

/// Replaces every secret header value (and URL password) found in free text.
pub fn scrub(text: &str, headers: &[Header], url: &Url) -> String {
    let mut out = text.to_string();
    let mut secrets: Vec<&str> = headers
        .iter()
        .filter(|h| h.is_secret())
        .flat_map(|h| {
            // The whole value, and the credential after an auth scheme word.
            [
                Some(h.value.as_str()),
                h.value.split_once(' ').map(|(_, rest)| rest),
            ]
        })
        .flatten()
        .filter(|s| s.len() >= 4)
        .collect();
    if let Some(pw) = url.password() {
        secrets.push(pw);
    }
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    for s in secrets {
        out = out.replace(s, "<redacted>");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Provenance;

    #[test]
    fn urls_and_echoed_secrets_are_masked() {
        let url = Url::parse("https://user:hunter22@col:4318/v1/traces").unwrap();
        assert_eq!(
            redact_url(&url).as_str(),
            "https://user:redacted@col:4318/v1/traces"
        );
        let h = vec![Header {
            name: "authorization".into(),
            value: "Bearer tok-123456".into(),
            source: Provenance::Default,
        }];
        let text = scrub("server said: bad token tok-123456 and hunter22", &h, &url);
        assert_eq!(text, "server said: bad token <redacted> and <redacted>");
    }
}
