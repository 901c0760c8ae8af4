//! Header lists: the W3C-baggage-like `k1=v1,k2=v2` syntax of `OTEL_EXPORTER_OTLP_HEADERS`,
//! the `--header k=v` flag, and the redaction that keeps credentials out of every output.

use super::{ConfigError, Provenance};
use percent_encoding::percent_decode_str;
use serde::Serialize;

/// One header to send, with the setting that chose it. Names are lowercase: gRPC metadata
/// requires it and HTTP does not care.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    pub name: String,
    pub value: String,
    pub source: Provenance,
}

/// How a header is shown in reports: credentials masked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ShownHeader {
    pub name: String,
    pub value: String,
    pub source: Provenance,
}

impl Header {
    /// The header as it may appear in output.
    pub fn shown(&self) -> ShownHeader {
        ShownHeader {
            name: self.name.clone(),
            value: redact_header_value(&self.name, &self.value),
            source: self.source.clone(),
        }
    }

    /// True when this header's value must never be printed.
    pub fn is_secret(&self) -> bool {
        is_secret_header(&self.name, &self.value)
    }
}

/// Whether `name` is an HTTP header name (a token).
pub fn valid_header_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

fn check_header(name: &str, value: &str, input: &str) -> Result<(), ConfigError> {
    if !valid_header_name(name) {
        if let Some((before, _)) = name.split_once(':') {
            // `name: value=…` read at its `=`: what follows the colon is the value a person
            // meant, maybe a credential, so only the part before it is quoted.
            return Err(ConfigError::new(
                input,
                format!(
                    "'{}: …' is not a valid header name: the separator here is '=' \
                     (name=value), and the text after the ':' is not quoted",
                    redact_free_text(before)
                ),
            ));
        }
        // The "name" may be most of a mistyped credential (`Authorization: Bearer abc=` read
        // at its `=`): shown in full only when short and without spaces.
        return Err(ConfigError::new(
            input,
            format!(
                "'{}' is not a valid header name (letters, digits and -_. only)",
                redact_free_text(name)
            ),
        ));
    }
    if value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
        return Err(ConfigError::new(
            input,
            format!("the value of header '{name}' contains a line break or NUL"),
        ));
    }
    Ok(())
}

/// A token that goes into a header as it is (`Bearer <token>`) must be one line: a line
/// break or NUL would make the header invalid, or smuggle another one. The token is never
/// quoted.
pub fn check_one_line_token(token: &str, source: &Provenance) -> Result<(), ConfigError> {
    if token.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
        return Err(ConfigError::at(
            source,
            "the token holds a line break or NUL: it must be a single line",
        ));
    }
    Ok(())
}

/// Parses one `--header name=value` (a `name: value` form is accepted too, as curl users
/// type it). The first `=` or `:` ends the name, so `Authorization: Bearer abc==` (a base64
/// token's padding) is the curl form, not a name `Authorization: Bearer abc`.
pub fn parse_header_flag(raw: &str, flag: &str) -> Result<Header, ConfigError> {
    let (name, value) = raw
        .find(['=', ':'])
        .map(|i| (&raw[..i], &raw[i + 1..]))
        .ok_or_else(|| {
            ConfigError::new(
                flag,
                format!("'{}' is not name=value", redact_free_text(raw)),
            )
        })?;
    let name = name.trim().to_ascii_lowercase();
    let value = value.trim().to_string();
    check_header(&name, &value, flag)?;
    Ok(Header {
        name,
        value,
        source: Provenance::flag(flag),
    })
}

/// Parses an `OTEL_EXPORTER_OTLP_*HEADERS` value: comma-separated `key=value`, both
/// percent-decoded; `;`-properties are not allowed by the spec and are dropped.
pub fn parse_header_list(raw: &str, var: &str) -> Result<Vec<Header>, ConfigError> {
    let mut out = Vec::new();
    for item in raw.split(',') {
        let item = item.trim();
        if item.is_empty() {
            continue;
        }
        let item = item.split(';').next().unwrap_or("");
        let (k, v) = item.split_once('=').ok_or_else(|| {
            ConfigError::new(
                var,
                format!(
                    "'{}' is not key=value (expected k1=v1,k2=v2)",
                    redact_free_text(item)
                ),
            )
        })?;
        let decode = |s: &str| {
            percent_decode_str(s.trim())
                .decode_utf8()
                .map(|c| c.into_owned())
                .map_err(|_| {
                    ConfigError::new(var, "a header is not valid UTF-8 after percent-decoding")
                })
        };
        let name = decode(k)?.to_ascii_lowercase();
        let value = decode(v)?;
        check_header(&name, &value, var)?;
        out.push(Header {
            name,
            value,
            source: Provenance::env(var),
        });
    }
    Ok(out)
}

/// Adds `incoming` to `headers`; a later header with the same name replaces the earlier one
/// (so flags override env vars, and per-signal vars override generic ones).
pub fn merge_headers(headers: &mut Vec<Header>, incoming: Vec<Header>) {
    for h in incoming {
        headers.retain(|old| old.name != h.name);
        headers.push(h);
    }
}

const SECRET_NAME_PARTS: &[&str] = &[
    "authorization",
    "auth",
    "token",
    "secret",
    "password",
    "passwd",
    "api-key",
    "apikey",
    "api_key",
    "cookie",
    "credential",
    "signature",
    "session",
    "private",
];

const SECRET_VALUE_PREFIXES: &[&str] = &["bearer ", "basic ", "glsa_", "glc_", "token "];

/// True when a header carries a credential, judged by its name or the shape of its value.
pub fn is_secret_header(name: &str, value: &str) -> bool {
    let name = name.to_ascii_lowercase();
    let value = value.to_ascii_lowercase();
    SECRET_NAME_PARTS.iter().any(|p| name.contains(p))
        || (name.ends_with("key") && name != "x-scope-orgid")
        || SECRET_VALUE_PREFIXES.iter().any(|p| value.starts_with(p))
}

/// The value to print for a header: secrets masked, keeping an auth scheme word (`Bearer`)
/// because it helps debugging and reveals nothing.
pub fn redact_header_value(name: &str, value: &str) -> String {
    if !is_secret_header(name, value) {
        return value.to_string();
    }
    match value.split_once(' ') {
        Some((scheme, _))
            if ["bearer", "basic", "token", "digest"]
                .contains(&scheme.to_ascii_lowercase().as_str()) =>
        {
            format!("{scheme} <redacted>")
        }
        _ => "<redacted>".to_string(),
    }
}

/// Masks anything after `=` or `:` in free text a user typed as a header, used only in
/// error messages about malformed input (which might be a mistyped secret).
/// A header name as an error may quote it: whole when valid, else cut as free text (a key
/// like `x-credential=s3cret` may hold the value a person meant).
pub fn shown_header_name(name: &str) -> String {
    if valid_header_name(name) {
        name.to_string()
    } else {
        redact_free_text(name)
    }
}

fn redact_free_text(raw: &str) -> String {
    if raw.len() > 12 || raw.contains(' ') {
        let head: String = raw.chars().take(4).collect();
        format!("{head}… ({} characters)", raw.chars().count())
    } else {
        raw.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_list_is_percent_decoded_and_lowercased() {
        let h = parse_header_list("X-Scope-OrgID=tenant%201, api-key=abc;prop=1", "V").unwrap();
        assert_eq!(h[0].name, "x-scope-orgid");
        assert_eq!(h[0].value, "tenant 1");
        assert_eq!(h[1].name, "api-key");
        assert_eq!(h[1].value, "abc");
    }

    #[test]
    fn malformed_entries_name_the_variable() {
        let e = parse_header_list("novalue", "OTEL_EXPORTER_OTLP_HEADERS").unwrap_err();
        assert_eq!(e.input, "OTEL_EXPORTER_OTLP_HEADERS");
        let e = parse_header_flag("bad name=1", "--header").unwrap_err();
        assert!(e.problem.contains("not a valid header name"), "{e}");
    }

    #[test]
    fn a_mistyped_credential_is_never_quoted_as_a_header_name() {
        // Found by fuzzing (otel_headers): the list splits at `=`, so the curl form with a
        // padded token made a "name" of most of the token, quoted in the error.
        let e = parse_header_list(
            "Authorization: Bearer t0kenWithPad01==",
            "OTEL_EXPORTER_OTLP_HEADERS",
        )
        .unwrap_err();
        assert!(e.problem.contains("not a valid header name"), "{e}");
        assert!(
            !e.to_string().to_lowercase().contains("t0kenwithpad01"),
            "{e}"
        );
        // A short curl-form "name" is cut at its colon (found by otel_headers, later run).
        let e = parse_header_list("n:izatiSuk33=yy", "OTEL_EXPORTER_OTLP_HEADERS").unwrap_err();
        assert!(
            e.problem.contains("'n: …' is not a valid header name"),
            "{e}"
        );
        assert!(!e.to_string().contains("izatiSuk33"), "{e}");
        // The flag takes the curl form whole: its first separator is the `:`.
        let h = parse_header_flag("Authorization: Bearer t0kenWithPad01==", "--header").unwrap();
        assert_eq!(h.name, "authorization");
        assert_eq!(h.value, "Bearer t0kenWithPad01==");
        let h = parse_header_flag("x-a=b:c", "--header").unwrap();
        assert_eq!((h.name.as_str(), h.value.as_str()), ("x-a", "b:c"));
    }

    #[test]
    fn credentials_are_masked_but_tenants_are_not() {
        assert_eq!(
            redact_header_value("authorization", "Bearer s3cr3t"),
            "Bearer <redacted>"
        );
        assert_eq!(redact_header_value("x-api-key", "s3cr3t"), "<redacted>");
        assert_eq!(redact_header_value("x-custom", "glsa_abcdef"), "<redacted>");
        assert_eq!(redact_header_value("x-scope-orgid", "team-a"), "team-a");
        assert_eq!(redact_header_value("x-session-token", "zzz"), "<redacted>");
    }

    #[test]
    fn later_headers_replace_earlier_ones() {
        let mut h = parse_header_list("a=1,b=2", "ENV").unwrap();
        merge_headers(&mut h, vec![parse_header_flag("a=3", "--header").unwrap()]);
        assert_eq!(h.len(), 2);
        let a = h.iter().find(|x| x.name == "a").unwrap();
        assert_eq!(a.value, "3");
        assert_eq!(a.source, Provenance::flag("--header"));
    }
}
