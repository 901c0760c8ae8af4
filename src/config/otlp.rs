//! Where and how each signal is exported: the OTel exporter spec's endpoint, protocol,
//! header, compression, timeout and TLS rules, with flags layered on top and the provenance
//! of every value kept for the report.
//!
//! Precedence, highest first: per-signal flag, generic flag, per-signal env var, generic env
//! var, default. `OTEL_EXPORTER_OTLP_ENDPOINT` / `--endpoint` are base URLs that get
//! `v1/<signal>` appended for HTTP; the per-signal forms are used as they are.

use super::env::EnvSnapshot;
use super::headers::{Header, merge_headers, parse_header_flag, parse_header_list};
use super::scenario::{ExportSection, Scenario};
use super::{ConfigError, Provenance, Sourced};
use crate::signal::Signal;
use serde::Serialize;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;
use url::Url;

/// The OTLP transport and encoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum Protocol {
    #[serde(rename = "grpc")]
    Grpc,
    #[serde(rename = "http/protobuf")]
    HttpProtobuf,
    #[serde(rename = "http/json")]
    HttpJson,
}

impl Protocol {
    pub const ALL: [Protocol; 3] = [Protocol::HttpProtobuf, Protocol::HttpJson, Protocol::Grpc];

    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Grpc => "grpc",
            Protocol::HttpProtobuf => "http/protobuf",
            Protocol::HttpJson => "http/json",
        }
    }

    pub fn is_http(self) -> bool {
        !matches!(self, Protocol::Grpc)
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Protocol {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "grpc" => Ok(Protocol::Grpc),
            "http/protobuf" | "http" | "http/proto" => Ok(Protocol::HttpProtobuf),
            "http/json" | "json" => Ok(Protocol::HttpJson),
            // A value pasted into the wrong setting may be a URL with credentials.
            other => Err(format!(
                "unknown protocol '{}': expected grpc, http/protobuf or http/json",
                crate::redact::redact_urls_in_text(other)
            )),
        }
    }
}

/// Request body compression.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    None,
    Gzip,
}

impl FromStr for Compression {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "none" | "" => Ok(Compression::None),
            "gzip" => Ok(Compression::Gzip),
            other => Err(format!(
                "unknown compression '{}': expected gzip or none",
                crate::redact::redact_urls_in_text(other)
            )),
        }
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
        })
    }
}

/// TLS material for one signal's connection. Files are read when the transport is built, so
/// an unreadable file is reported with its path and the setting that named it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TlsSettings {
    pub ca_cert: Option<Sourced<PathBuf>>,
    pub client_cert: Option<Sourced<PathBuf>>,
    pub client_key: Option<Sourced<PathBuf>>,
    /// Accept any server certificate. Explicit opt-in only, and warned about.
    pub insecure_skip_verify: bool,
}

/// Everything needed to export one signal.
#[derive(Clone, Debug, PartialEq)]
pub struct SignalTarget {
    pub signal: Signal,
    pub url: Sourced<Url>,
    pub protocol: Sourced<Protocol>,
    pub headers: Vec<Header>,
    pub compression: Sourced<Compression>,
    /// `None` means no limit (`OTEL_EXPORTER_OTLP_TIMEOUT=0`, per the spec).
    pub timeout: Sourced<Option<Duration>>,
    pub tls: TlsSettings,
}

/// The resolved write side of a probe.
#[derive(Clone, Debug, PartialEq)]
pub struct ExportTarget {
    pub signals: Vec<SignalTarget>,
    /// Extra attempts after a retryable failure; 0 (the default) reports the first answer.
    pub retries: u32,
}

impl ExportTarget {
    pub fn signal(&self, s: Signal) -> Option<&SignalTarget> {
        self.signals.iter().find(|t| t.signal == s)
    }
}

/// Export settings given on the command line, plus the scenario file beneath them.
#[derive(Clone, Debug, Default)]
pub struct ExportFlags {
    pub signals: Vec<Signal>,
    pub endpoint: Option<String>,
    pub traces_endpoint: Option<String>,
    pub logs_endpoint: Option<String>,
    pub metrics_endpoint: Option<String>,
    pub protocol: Option<Protocol>,
    pub headers: Vec<String>,
    pub tenant: Option<String>,
    pub compression: Option<Compression>,
    pub timeout: Option<Duration>,
    pub ca_cert: Option<PathBuf>,
    pub client_cert: Option<PathBuf>,
    pub client_key: Option<PathBuf>,
    pub insecure_skip_verify: bool,
    pub retries: u32,
    /// A scenario file: below the flags, above the environment.
    pub scenario: Option<Arc<Scenario>>,
}

impl ExportFlags {
    fn export_section(&self) -> Option<(&Scenario, &ExportSection)> {
        self.scenario.as_deref().map(|s| (s, &s.data.export))
    }

    fn signal_endpoint(&self, s: Signal) -> Option<&String> {
        match s {
            Signal::Trace => self.traces_endpoint.as_ref(),
            Signal::Log => self.logs_endpoint.as_ref(),
            Signal::Metric => self.metrics_endpoint.as_ref(),
        }
    }
}

pub const DEFAULT_HTTP_ENDPOINT: &str = "http://localhost:4318";
pub const DEFAULT_GRPC_ENDPOINT: &str = "http://localhost:4317";
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

fn var(signal: Option<Signal>, suffix: &str) -> String {
    match signal {
        Some(s) => format!("OTEL_EXPORTER_OTLP_{}_{suffix}", s.env_infix()),
        None => format!("OTEL_EXPORTER_OTLP_{suffix}"),
    }
}

/// Looks a setting up: per-signal var first, then the generic one.
fn env_lookup(env: &EnvSnapshot, signal: Signal, suffix: &str) -> Option<(String, Provenance)> {
    [var(Some(signal), suffix), var(None, suffix)]
        .into_iter()
        .find_map(|name| {
            env.get(&name)
                .map(|v| (v.to_string(), Provenance::env(&name)))
        })
}

fn parse_with<T: FromStr<Err = String>>(raw: &str, source: &Provenance) -> Result<T, ConfigError> {
    raw.parse().map_err(|e: String| ConfigError::at(source, e))
}

/// Parses an endpoint URL, insisting on an http(s) scheme and a host.
pub fn parse_endpoint(raw: &str, source: &Provenance) -> Result<Url, ConfigError> {
    // Errors quote the input with its password and secret query values masked.
    // Word by word, as every configuration error is cleaned: one pass over the whole text
    // could read a query across a comma and mask the colon a later word's password needs.
    let shown = crate::redact::redact_urls_in_text(raw);
    if !raw.contains("://") {
        return Err(ConfigError::at(
            source,
            format!(
                "'{shown}' has no scheme: write http://{shown} (plain) or https://{shown} (TLS)"
            ),
        ));
    }
    check_one_reading(raw, &shown, source)?;
    let url = Url::parse(raw)
        .map_err(|e| ConfigError::at(source, format!("'{shown}' is not a valid URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(ConfigError::at(
            source,
            format!(
                "'{shown}': scheme must be http or https, not {}",
                url.scheme()
            ),
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(ConfigError::at(source, format!("'{shown}' has no host")));
    }
    Ok(url)
}

/// Refuses text that a person and the URL parser would split differently: redaction masks
/// the password a person sees (after the first `://`, up to the first `/`, `?` or `#`), so a
/// URL whose parser puts that text in the path (`http:host://user:pw@h`, `http://h\u:pw@x`)
/// would be shown, and sent, with the password in it. Quotes, commas and spaces end a word
/// for that redaction, so they are refused too. These are pasting slips, never a URL anyone
/// meant.
pub fn check_one_reading(raw: &str, shown: &str, source: &Provenance) -> Result<(), ConfigError> {
    let text = raw.trim_matches(|c: char| c <= ' ');
    let Some(scheme_end) = text.find("://") else {
        return Ok(());
    };
    let scheme = &text[..scheme_end];
    if scheme.is_empty()
        || !scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    {
        return Err(ConfigError::at(
            source,
            // The text before the `://` is not quoted apart: it may hold the password.
            format!(
                "'{shown}' must start with http:// or https://, and other text comes before \
                 its '://': one URL pasted into another, or a missing scheme?"
            ),
        ));
    }
    let rest = &text[scheme_end + 3..];
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    let path = &rest[..rest.find(['?', '#']).unwrap_or(rest.len())];
    let problem = if authority.contains('\\') {
        "has a backslash in its host part: write / for a path"
    } else if path.contains("://") {
        "holds '://' twice: one URL pasted into another?"
    } else if text.contains('#') {
        "holds a fragment ('#'): a client never sends it, so it has no place here"
    } else if text.contains(['"', '\'']) {
        "holds a quote: remove it (env files and some shells keep quotes as part of the value)"
    } else if text.contains(',') {
        "holds a comma: one URL goes here, not a list (write %2C for a comma that belongs)"
    } else if text.contains(|c: char| c.is_whitespace() || c.is_control()) {
        "holds a space or control character: a URL has none (write %20 for a space)"
    } else {
        return Ok(());
    };
    Err(ConfigError::at(source, format!("'{shown}' {problem}")))
}

/// Appends `v1/<signal>` to a base URL after making sure its path ends with `/`, exactly as
/// the spec describes for `OTEL_EXPORTER_OTLP_ENDPOINT` (so `http://loki:3100/otlp` becomes
/// `http://loki:3100/otlp/v1/logs`).
pub fn append_signal_path(base: &Url, signal: Signal) -> Url {
    let mut url = base.clone();
    let mut path = url.path().to_string();
    if !path.ends_with('/') {
        path.push('/');
    }
    path.push_str(signal.otlp_http_path());
    url.set_path(&path);
    url
}

fn resolve_protocol(
    flags: &ExportFlags,
    env: &EnvSnapshot,
    s: Signal,
) -> Result<Sourced<Protocol>, ConfigError> {
    if let Some(p) = flags.protocol {
        return Ok(Sourced::new(p, Provenance::flag("--protocol")));
    }
    if let Some((sc, Some(v))) = flags
        .export_section()
        .map(|(sc, e)| (sc, e.protocol.as_ref()))
    {
        return sc.parse_value(v, "export.protocol");
    }
    match env_lookup(env, s, "PROTOCOL") {
        Some((raw, src)) => Ok(Sourced::new(parse_with(&raw, &src)?, src)),
        None => Ok(Sourced::default_value(Protocol::HttpProtobuf)),
    }
}

fn resolve_url(
    flags: &ExportFlags,
    env: &EnvSnapshot,
    s: Signal,
    protocol: Protocol,
) -> Result<Sourced<Url>, ConfigError> {
    let for_protocol = |base: Url| {
        if protocol.is_http() {
            append_signal_path(&base, s)
        } else {
            base
        }
    };
    if let Some(raw) = flags.signal_endpoint(s) {
        let src = Provenance::flag(&format!("--{}-endpoint", s.plural()));
        return Ok(Sourced::new(parse_endpoint(raw, &src)?, src));
    }
    if let Some(raw) = &flags.endpoint {
        let src = Provenance::flag("--endpoint");
        return Ok(Sourced::new(for_protocol(parse_endpoint(raw, &src)?), src));
    }
    if let Some((sc, e)) = flags.export_section() {
        let (key, per_signal) = match s {
            Signal::Trace => ("export.traces_endpoint", e.traces_endpoint.as_ref()),
            Signal::Log => ("export.logs_endpoint", e.logs_endpoint.as_ref()),
            Signal::Metric => ("export.metrics_endpoint", e.metrics_endpoint.as_ref()),
        };
        if let Some(v) = per_signal {
            let src = sc.source(key);
            let url =
                parse_endpoint(v.get_ref(), &src).map_err(|err| sc.error(v, key, err.problem))?;
            return Ok(Sourced::new(url, src));
        }
        if let Some(v) = &e.endpoint {
            let src = sc.source("export.endpoint");
            let url = parse_endpoint(v.get_ref(), &src)
                .map_err(|err| sc.error(v, "export.endpoint", err.problem))?;
            return Ok(Sourced::new(for_protocol(url), src));
        }
    }
    let signal_var = var(Some(s), "ENDPOINT");
    if let Some(raw) = env.get(&signal_var) {
        let src = Provenance::env(&signal_var);
        return Ok(Sourced::new(parse_endpoint(raw, &src)?, src));
    }
    let generic_var = var(None, "ENDPOINT");
    if let Some(raw) = env.get(&generic_var) {
        let src = Provenance::env(&generic_var);
        return Ok(Sourced::new(for_protocol(parse_endpoint(raw, &src)?), src));
    }
    let default = if protocol.is_http() {
        DEFAULT_HTTP_ENDPOINT
    } else {
        DEFAULT_GRPC_ENDPOINT
    };
    let url = Url::parse(default).expect("default endpoint is a valid URL");
    Ok(Sourced::default_value(for_protocol(url)))
}

fn resolve_headers(
    flags: &ExportFlags,
    env: &EnvSnapshot,
    s: Signal,
) -> Result<Vec<Header>, ConfigError> {
    let mut headers = Vec::new();
    for name in [var(None, "HEADERS"), var(Some(s), "HEADERS")] {
        if let Some(raw) = env.get(&name) {
            merge_headers(&mut headers, parse_header_list(raw, &name)?);
        }
    }
    if let Some(sc) = flags.scenario.as_deref() {
        merge_headers(&mut headers, sc.export_headers()?);
    }
    let from_flags = flags
        .headers
        .iter()
        .map(|h| parse_header_flag(h, "--header"))
        .collect::<Result<Vec<_>, _>>()?;
    merge_headers(&mut headers, from_flags);
    if let Some(t) = tenant(flags)? {
        merge_headers(
            &mut headers,
            vec![Header {
                name: "x-scope-orgid".into(),
                value: t.value,
                source: t.source,
            }],
        );
    }
    Ok(headers)
}

fn resolve_compression(
    flags: &ExportFlags,
    env: &EnvSnapshot,
    s: Signal,
) -> Result<Sourced<Compression>, ConfigError> {
    if let Some(c) = flags.compression {
        return Ok(Sourced::new(c, Provenance::flag("--compression")));
    }
    if let Some((sc, Some(v))) = flags
        .export_section()
        .map(|(sc, e)| (sc, e.compression.as_ref()))
    {
        return sc.parse_value(v, "export.compression");
    }
    match env_lookup(env, s, "COMPRESSION") {
        Some((raw, src)) => Ok(Sourced::new(parse_with(&raw, &src)?, src)),
        None => Ok(Sourced::default_value(Compression::None)),
    }
}

fn resolve_timeout(
    flags: &ExportFlags,
    env: &EnvSnapshot,
    s: Signal,
) -> Result<Sourced<Option<Duration>>, ConfigError> {
    if let Some(t) = flags.timeout {
        let t = (!t.is_zero()).then_some(t);
        return Ok(Sourced::new(t, Provenance::flag("--export-timeout")));
    }
    if let Some((sc, Some(v))) = flags
        .export_section()
        .map(|(sc, e)| (sc, e.timeout.as_ref()))
    {
        let d = sc.duration(v, "export.timeout")?;
        return Ok(Sourced::new(
            (!d.value.is_zero()).then_some(d.value),
            d.source,
        ));
    }
    match env_lookup(env, s, "TIMEOUT") {
        Some((raw, src)) => {
            let ms: u64 = raw.parse().map_err(|_| {
                ConfigError::at(
                    &src,
                    format!("'{raw}' is not a whole number of milliseconds"),
                )
            })?;
            let t = (ms > 0).then(|| Duration::from_millis(ms));
            Ok(Sourced::new(t, src))
        }
        None => Ok(Sourced::default_value(Some(DEFAULT_TIMEOUT))),
    }
}

fn resolve_path(
    flag: Option<&PathBuf>,
    flag_name: &str,
    scenario: Option<(&Scenario, Option<&toml::Spanned<PathBuf>>, &str)>,
    env: &EnvSnapshot,
    s: Signal,
    suffix: &str,
) -> Option<Sourced<PathBuf>> {
    if let Some(p) = flag {
        return Some(Sourced::new(p.clone(), Provenance::flag(flag_name)));
    }
    if let Some((sc, Some(v), key)) = scenario {
        return Some(sc.sourced(v, key));
    }
    env_lookup(env, s, suffix).map(|(raw, src)| Sourced::new(PathBuf::from(raw), src))
}

fn resolve_tls(
    flags: &ExportFlags,
    env: &EnvSnapshot,
    s: Signal,
) -> Result<TlsSettings, ConfigError> {
    let sec = flags.export_section();
    let layer = |pick: fn(&ExportSection) -> Option<&toml::Spanned<PathBuf>>, key: &'static str| {
        sec.map(|(sc, e)| (sc, pick(e), key))
    };
    let tls = TlsSettings {
        ca_cert: resolve_path(
            flags.ca_cert.as_ref(),
            "--ca-cert",
            layer(|e| e.ca_cert.as_ref(), "export.ca_cert"),
            env,
            s,
            "CERTIFICATE",
        ),
        client_cert: resolve_path(
            flags.client_cert.as_ref(),
            "--client-cert",
            layer(|e| e.client_cert.as_ref(), "export.client_cert"),
            env,
            s,
            "CLIENT_CERTIFICATE",
        ),
        client_key: resolve_path(
            flags.client_key.as_ref(),
            "--client-key",
            layer(|e| e.client_key.as_ref(), "export.client_key"),
            env,
            s,
            "CLIENT_KEY",
        ),
        insecure_skip_verify: flags.insecure_skip_verify
            || sec
                .and_then(|(_, e)| e.insecure_skip_verify.as_ref())
                .is_some_and(|v| *v.get_ref()),
    };
    match (&tls.client_cert, &tls.client_key) {
        (Some(c), None) => Err(ConfigError::at(
            &c.source,
            "a client certificate needs a client key too (--client-key)",
        )),
        (None, Some(k)) => Err(ConfigError::at(
            &k.source,
            "a client key needs a client certificate too (--client-cert)",
        )),
        _ => Ok(tls),
    }
}

/// The tenant (X-Scope-OrgID) for writes and reads: `--tenant`, then the scenario's.
pub fn tenant(flags: &ExportFlags) -> Result<Option<Sourced<String>>, ConfigError> {
    let t = match (&flags.tenant, flags.scenario.as_deref()) {
        (Some(t), _) => Sourced::new(t.clone(), Provenance::flag("--tenant")),
        (None, Some(sc)) => match &sc.data.tenant {
            Some(v) => sc.sourced(v, "tenant"),
            None => return Ok(None),
        },
        (None, None) => return Ok(None),
    };
    if t.value.trim().is_empty() || t.value.contains(['\r', '\n']) {
        return Err(ConfigError::at(
            &t.source,
            "tenant must be a non-empty single line",
        ));
    }
    Ok(Some(Sourced::new(t.value.trim().to_string(), t.source)))
}

/// Resolves the export target for the requested signals.
pub fn resolve_export_target(
    flags: &ExportFlags,
    env: &EnvSnapshot,
) -> Result<ExportTarget, ConfigError> {
    let signals = if flags.signals.is_empty() {
        match flags.scenario.as_deref() {
            Some(sc) => sc.signals()?,
            None => Signal::ALL.to_vec(),
        }
    } else {
        let mut s = flags.signals.clone();
        s.sort();
        s.dedup();
        s
    };
    let mut out = Vec::with_capacity(signals.len());
    for s in signals {
        let protocol = resolve_protocol(flags, env, s)?;
        let url = resolve_url(flags, env, s, protocol.value)?;
        out.push(SignalTarget {
            signal: s,
            url,
            protocol,
            headers: resolve_headers(flags, env, s)?,
            compression: resolve_compression(flags, env, s)?,
            timeout: resolve_timeout(flags, env, s)?,
            tls: resolve_tls(flags, env, s)?,
        });
    }
    let scenario_retries = flags
        .export_section()
        .and_then(|(_, e)| e.retries.as_ref())
        .map(|v| *v.get_ref());
    Ok(ExportTarget {
        signals: out,
        retries: if flags.retries > 0 {
            flags.retries
        } else {
            scenario_retries.unwrap_or(0)
        },
    })
}

/// Endpoint environment variables that are set but lost to a flag or a scenario key, with a
/// different URL: an app reading its environment would send there, the canary does not. The
/// "stale env var" of incident 1, said out loud.
pub fn shadowed_endpoints(target: &ExportTarget, env: &EnvSnapshot) -> Vec<String> {
    let mut out = Vec::new();
    for t in &target.signals {
        if matches!(t.url.source, Provenance::Env { .. }) {
            continue;
        }
        let signal_var = var(Some(t.signal), "ENDPOINT");
        let generic_var = var(None, "ENDPOINT");
        let (name, raw, generic) = match (env.get(&signal_var), env.get(&generic_var)) {
            (Some(v), _) => (signal_var, v, false),
            (None, Some(v)) => (generic_var, v, true),
            (None, None) => continue,
        };
        let Ok(url) = parse_endpoint(raw, &Provenance::env(&name)) else {
            continue;
        };
        let url = if generic && t.protocol.value.is_http() {
            append_signal_path(&url, t.signal)
        } else {
            url
        };
        if url != t.url.value {
            out.push(format!(
                "{}: {name}={} is set but {} chose {}: an app reading its environment sends \
                 there instead; make sure which one is live",
                t.signal.plural(),
                crate::redact::redact_url(&url),
                t.url.source,
                crate::redact::redact_url(&t.url.value)
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Text whose password a person sees after the first `://` but the URL parser puts in the
    /// path is refused, password masked (found by the otel_env fuzz target).
    #[test]
    fn a_url_pasted_into_another_is_refused_without_its_password() {
        let src = Provenance::env("OTEL_EXPORTER_OTLP_ENDPOINT");
        for raw in [
            "http:L_EXPORThttp://user:envPassw0rd1@localhost:4318",
            "http:http://user:envPassw0rd1@localhost:4318",
            "http://collector\\user:envPassw0rd1@localhost:4318",
            "http://u&b4://':envPassw0rd1@h",
            "http://collector:4318/x':envPassw0rd1@h",
            "http://collector:4318/?a=b,:envPassw0rd1@h",
            "http://collector:4318/x :envPassw0rd1@h",
            "http://collector:4318/#?token=envPassw0rd1",
            "-ftp:token=envPassw0rd1@h:99/?a=b=http://u:x@h",
            // One pass over the whole text would mask `token=g,ca:` and with it the colon of
            // the next word's password (found by otel_env).
            "http://h/x://q?token=g,ca:&=envPassw0rd1@k",
        ] {
            let e = parse_endpoint(raw, &src).unwrap_err().to_string();
            assert!(!e.contains("envPassw0rd1"), "{e}");
            assert!(e.contains("OTEL_EXPORTER_OTLP_ENDPOINT"), "{e}");
        }
        for ok in [
            "http://user:pw@localhost:4318",
            " https://collector:4318/otlp?next=http://x",
            "http://[::1]:4318",
        ] {
            assert!(parse_endpoint(ok, &src).is_ok(), "{ok}");
        }
    }

    #[test]
    fn a_shadowed_endpoint_variable_is_named() {
        let flags = ExportFlags {
            endpoint: Some("http://collector:4319".into()),
            ..Default::default()
        };
        let env =
            EnvSnapshot::from_pairs([("OTEL_EXPORTER_OTLP_ENDPOINT", "http://localhost:4318")]);
        let target = resolve_export_target(&flags, &env).unwrap();
        let w = shadowed_endpoints(&target, &env);
        assert_eq!(w.len(), 3, "{w:?}");
        assert!(
            w[0].starts_with(
                "traces: OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318/v1/traces is set but \
                 flag --endpoint chose http://collector:4319/v1/traces"
            ),
            "{w:?}"
        );
        // The same URL from both is no conflict.
        let env =
            EnvSnapshot::from_pairs([("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4319")]);
        assert!(shadowed_endpoints(&target, &env).is_empty());
    }

    fn resolve(flags: &ExportFlags, env: &[(&str, &str)]) -> ExportTarget {
        resolve_export_target(flags, &EnvSnapshot::from_pairs(env.iter().copied())).unwrap()
    }

    fn url_of(t: &ExportTarget, s: Signal) -> (String, Provenance) {
        let st = t.signal(s).unwrap();
        (st.url.value.to_string(), st.url.source.clone())
    }

    /// The resolution table: (flags, env) -> (URL, provenance) per signal.
    #[test]
    fn endpoint_resolution_table() {
        let none = ExportFlags::default();
        let t = resolve(&none, &[]);
        assert_eq!(
            url_of(&t, Signal::Trace),
            (
                "http://localhost:4318/v1/traces".into(),
                Provenance::Default
            )
        );
        assert_eq!(url_of(&t, Signal::Log).0, "http://localhost:4318/v1/logs");

        let grpc = ExportFlags {
            protocol: Some(Protocol::Grpc),
            ..Default::default()
        };
        let t = resolve(&grpc, &[]);
        assert_eq!(
            url_of(&t, Signal::Metric),
            ("http://localhost:4317/".into(), Provenance::Default)
        );

        // Generic env var is a base: v1/<signal> appended after a '/'.
        let t = resolve(
            &none,
            &[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://loki:3100/otlp")],
        );
        assert_eq!(
            url_of(&t, Signal::Log),
            (
                "http://loki:3100/otlp/v1/logs".into(),
                Provenance::env("OTEL_EXPORTER_OTLP_ENDPOINT")
            )
        );
        let t = resolve(
            &none,
            &[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://col:4318/")],
        );
        assert_eq!(url_of(&t, Signal::Trace).0, "http://col:4318/v1/traces");

        // Per-signal env var is used as is, and wins over the generic one.
        let env = [
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://col:4318"),
            (
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                "http://tempo:4318/custom",
            ),
        ];
        let t = resolve(&none, &env);
        assert_eq!(
            url_of(&t, Signal::Trace),
            (
                "http://tempo:4318/custom".into(),
                Provenance::env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
            )
        );
        assert_eq!(url_of(&t, Signal::Log).0, "http://col:4318/v1/logs");
        // Per-signal env var with an empty path becomes "/".
        let t = resolve(
            &none,
            &[("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "http://m:9009")],
        );
        assert_eq!(url_of(&t, Signal::Metric).0, "http://m:9009/");

        // Flags win over env vars; per-signal flag wins over --endpoint.
        let flags = ExportFlags {
            endpoint: Some("http://col:4319".into()),
            logs_endpoint: Some("http://loki:3100/otlp/v1/logs".into()),
            ..Default::default()
        };
        let t = resolve(&flags, &env);
        assert_eq!(
            url_of(&t, Signal::Trace),
            (
                "http://col:4319/v1/traces".into(),
                Provenance::flag("--endpoint")
            )
        );
        assert_eq!(
            url_of(&t, Signal::Log),
            (
                "http://loki:3100/otlp/v1/logs".into(),
                Provenance::flag("--logs-endpoint")
            )
        );

        // gRPC: the base is the target, nothing appended.
        let t = resolve(
            &grpc,
            &[("OTEL_EXPORTER_OTLP_ENDPOINT", "https://col:4317")],
        );
        assert_eq!(url_of(&t, Signal::Trace).0, "https://col:4317/");
    }

    #[test]
    fn a_url_pasted_as_the_protocol_is_quoted_without_its_password() {
        let e = "http://u:hunter2@h:4318/?token=t0k"
            .parse::<Protocol>()
            .unwrap_err();
        assert!(e.starts_with("unknown protocol 'http://u:"), "{e}");
        assert!(!e.contains("hunter2") && !e.contains("t0k"), "{e}");
    }

    #[test]
    fn protocol_resolution_per_signal() {
        let env = [
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
            ("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "grpc"),
        ];
        let t = resolve(&ExportFlags::default(), &env);
        let p = |s| t.signal(s).unwrap().protocol.clone();
        assert_eq!(p(Signal::Trace).value, Protocol::HttpJson);
        assert_eq!(
            p(Signal::Trace).source,
            Provenance::env("OTEL_EXPORTER_OTLP_PROTOCOL")
        );
        assert_eq!(p(Signal::Metric).value, Protocol::Grpc);
        assert_eq!(url_of(&t, Signal::Metric).0, "http://localhost:4317/");
        let flags = ExportFlags {
            protocol: Some(Protocol::HttpProtobuf),
            ..Default::default()
        };
        let t = resolve(&flags, &env);
        assert_eq!(
            t.signal(Signal::Metric).unwrap().protocol.source,
            Provenance::flag("--protocol")
        );
    }

    #[test]
    fn headers_compression_timeout_and_tls() {
        let env = [
            (
                "OTEL_EXPORTER_OTLP_HEADERS",
                "x-scope-orgid=env-tenant,authorization=Bearer%20abc",
            ),
            ("OTEL_EXPORTER_OTLP_LOGS_HEADERS", "x-extra=1"),
            ("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"),
            ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "2500"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "0"),
            ("OTEL_EXPORTER_OTLP_CERTIFICATE", "/etc/ca.pem"),
        ];
        let flags = ExportFlags {
            tenant: Some("flag-tenant".into()),
            ..Default::default()
        };
        let t = resolve(&flags, &env);
        let log = t.signal(Signal::Log).unwrap();
        let org = log
            .headers
            .iter()
            .find(|h| h.name == "x-scope-orgid")
            .unwrap();
        assert_eq!(
            (org.value.as_str(), &org.source),
            ("flag-tenant", &Provenance::flag("--tenant"))
        );
        assert!(log.headers.iter().any(|h| h.name == "x-extra"));
        assert!(
            !t.signal(Signal::Trace)
                .unwrap()
                .headers
                .iter()
                .any(|h| h.name == "x-extra")
        );
        assert_eq!(
            log.headers
                .iter()
                .find(|h| h.name == "authorization")
                .unwrap()
                .value,
            "Bearer abc"
        );
        assert_eq!(log.compression.value, Compression::Gzip);
        assert_eq!(
            t.signal(Signal::Trace).unwrap().timeout.value,
            Some(Duration::from_millis(2500))
        );
        assert_eq!(log.timeout.value, None, "0 means no limit");
        assert_eq!(
            log.tls.ca_cert.as_ref().unwrap().source,
            Provenance::env("OTEL_EXPORTER_OTLP_CERTIFICATE")
        );
    }

    #[test]
    fn bad_values_name_their_source() {
        let bad = |env: &[(&str, &str)], flags: ExportFlags| {
            resolve_export_target(&flags, &EnvSnapshot::from_pairs(env.iter().copied()))
                .unwrap_err()
        };
        let e = bad(
            &[("OTEL_EXPORTER_OTLP_PROTOCOL", "udp")],
            ExportFlags::default(),
        );
        assert_eq!(e.input, "env OTEL_EXPORTER_OTLP_PROTOCOL");
        let e = bad(
            &[("OTEL_EXPORTER_OTLP_TIMEOUT", "10s")],
            ExportFlags::default(),
        );
        assert!(e.problem.contains("milliseconds"));
        let e = bad(
            &[],
            ExportFlags {
                endpoint: Some("localhost:4318".into()),
                ..Default::default()
            },
        );
        assert_eq!(e.input, "flag --endpoint");
        assert!(e.problem.contains("no scheme"));
        let e = bad(
            &[],
            ExportFlags {
                endpoint: Some("ftp://x".into()),
                ..Default::default()
            },
        );
        assert!(e.problem.contains("scheme must be http"));
        let e = bad(
            &[],
            ExportFlags {
                client_cert: Some("/c.pem".into()),
                ..Default::default()
            },
        );
        assert!(e.problem.contains("client key"));
    }

    #[test]
    fn only_requested_signals_are_resolved() {
        let flags = ExportFlags {
            signals: vec![Signal::Metric, Signal::Trace, Signal::Metric],
            ..Default::default()
        };
        let t = resolve(&flags, &[]);
        let got: Vec<_> = t.signals.iter().map(|s| s.signal).collect();
        assert_eq!(got, vec![Signal::Trace, Signal::Metric]);
    }
}
