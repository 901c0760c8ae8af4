//! Where and how the SDK emitter's exporters send, as opentelemetry-otlp 0.33.1 resolves it
//! (read in its sources: `exporter/mod.rs`, `exporter/http/mod.rs`, `exporter/tonic/mod.rs`),
//! with the provenance of every value. This is the canary's *prediction*: the exporters
//! themselves read the environment, and what they actually did (the URL a request went to,
//! its headers, the channel's endpoint) is observed and reported next to it.
//!
//! The app's code is the canary's: flags are what an app passes to the builders
//! (`with_endpoint`, `with_protocol`, `with_headers`, `with_timeout`, `with_compression`, TLS);
//! a scenario's `[export]` section is not given to the SDK at all, because an app does not
//! read it. Where the SDK differs from the OTLP exporter spec (and from the wire emitter) the
//! difference is kept as a note:
//! - the per-signal `*_HEADERS` variable replaces the generic one instead of adding to it,
//!   and environment headers win over the code's;
//! - `*_TIMEOUT=0` is zero milliseconds, not "no limit"; an unparsable value is skipped;
//! - `*_CERTIFICATE`, `*_CLIENT_KEY`, `*_CLIENT_CERTIFICATE` are not read at all;
//! - a protocol, compression or timeout value it does not know is ignored (with a warning
//!   event), not refused;
//! - a programmatic HTTP endpoint is used verbatim (no `/v1/<signal>` appended);
//! - a gRPC endpoint without a scheme gets `https://` unless `*_INSECURE=true`.

use crate::config::env::EnvSnapshot;
use crate::config::headers::{Header, parse_header_flag};
use crate::config::otlp::{
    Compression, ExportFlags, Protocol, TlsSettings, append_signal_path, parse_endpoint,
};
use crate::config::{ConfigError, Provenance, Sourced};
use crate::signal::Signal;
use std::time::Duration;
use url::Url;

/// The exporter crate whose behaviour this module models (and the binary links).
pub const SDK_EXPORTER: &str = "opentelemetry-otlp 0.33.1";
/// The SDK's built-in export timeout (`OTEL_EXPORTER_OTLP_TIMEOUT_DEFAULT`).
pub const SDK_DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
const SDK_HTTP_DEFAULT: &str = "http://localhost:4318";
const SDK_GRPC_DEFAULT: &str = "http://localhost:4317";

/// What the canary's code hands the exporter builder (an app's code), per signal.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CodeSettings {
    /// `with_endpoint`: a full URL for HTTP (the SDK uses it verbatim), the target for gRPC.
    pub endpoint: Option<String>,
    /// `with_protocol` (HTTP only: protobuf or JSON).
    pub protocol: Option<Protocol>,
    /// `with_headers` / `with_metadata`.
    pub headers: Vec<Header>,
    /// `with_compression` (there is no call for "none").
    pub compression: Option<Compression>,
    /// `with_timeout`.
    pub timeout: Option<Duration>,
}

/// One signal's exporter, as the SDK will configure it.
#[derive(Clone, Debug, PartialEq)]
pub struct SdkSignalTarget {
    pub signal: Signal,
    pub protocol: Sourced<Protocol>,
    pub url: Sourced<Url>,
    /// Every header the SDK will send besides its own User-Agent, after its merge.
    pub headers: Vec<Header>,
    pub compression: Sourced<Compression>,
    pub timeout: Sourced<Duration>,
    /// TLS from flags only: the SDK reads no certificate variables.
    pub tls: TlsSettings,
    pub code: CodeSettings,
    /// Where the SDK departs from the spec or ignores a setting, for this signal.
    pub notes: Vec<String>,
}

impl SdkSignalTarget {
    /// The names of the settings the SDK chose by itself (its own defaults).
    pub fn sdk_defaults(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        let d = |p: &Provenance| matches!(p, Provenance::SdkDefault { .. });
        if d(&self.url.source) {
            out.push("endpoint");
        }
        if d(&self.protocol.source) {
            out.push("protocol");
        }
        if d(&self.compression.source) {
            out.push("compression");
        }
        if d(&self.timeout.source) {
            out.push("timeout");
        }
        out
    }
}

/// The SDK emitter's resolved write side.
#[derive(Clone, Debug, PartialEq)]
pub struct SdkTarget {
    pub signals: Vec<SdkSignalTarget>,
    /// Notes about the whole target (the scenario's `[export]` not applied, `--retries`).
    pub notes: Vec<String>,
}

impl SdkTarget {
    pub fn signal(&self, s: Signal) -> Option<&SdkSignalTarget> {
        self.signals.iter().find(|t| t.signal == s)
    }
}

fn var(signal: Option<Signal>, suffix: &str) -> String {
    match signal {
        Some(s) => format!("OTEL_EXPORTER_OTLP_{}_{suffix}", s.env_infix()),
        None => format!("OTEL_EXPORTER_OTLP_{suffix}"),
    }
}

fn unset(s: Signal, suffix: &str) -> Provenance {
    Provenance::SdkDefault {
        unset: vec![var(Some(s), suffix), var(None, suffix)],
    }
}

/// `Protocol::parse_from_env_var`: exactly the three spec values, any case; anything else is
/// ignored with a warning.
fn sdk_protocol(raw: &str) -> Option<Protocol> {
    match raw.to_ascii_lowercase().as_str() {
        "grpc" => Some(Protocol::Grpc),
        "http/protobuf" => Some(Protocol::HttpProtobuf),
        "http/json" => Some(Protocol::HttpJson),
        _ => None,
    }
}

fn resolve_protocol(
    flags: &ExportFlags,
    env: &EnvSnapshot,
    s: Signal,
    notes: &mut Vec<String>,
) -> (Sourced<Protocol>, Option<Protocol>) {
    if let Some(p) = flags.protocol {
        return (Sourced::new(p, Provenance::flag("--protocol")), Some(p));
    }
    for name in [var(Some(s), "PROTOCOL"), var(None, "PROTOCOL")] {
        if let Some(raw) = env.get(&name) {
            match sdk_protocol(raw) {
                Some(p) => return (Sourced::new(p, Provenance::env(&name)), None),
                None => notes.push(format!(
                    "{name}='{raw}' is not a protocol opentelemetry-otlp knows (grpc, \
                     http/protobuf, http/json): it ignores the value"
                )),
            }
        }
    }
    // With no protocol set, opentelemetry-otlp falls back to its compiled-in features, and
    // with http-json compiled in (as here) that would be JSON; an app built with the crate's
    // default features gets http/protobuf, so the canary's code asks for that explicitly.
    (
        Sourced::new(Protocol::HttpProtobuf, unset(s, "PROTOCOL")),
        Some(Protocol::HttpProtobuf),
    )
}

/// `apply_insecure_scheme`: a schemeless gRPC endpoint gets `https://`, or `http://` when
/// `OTEL_EXPORTER_OTLP_[<SIGNAL>_]INSECURE` is `true`.
fn grpc_scheme(raw: &str, env: &EnvSnapshot, s: Signal, notes: &mut Vec<String>) -> String {
    let has_scheme = raw
        .split_once("://")
        .is_some_and(|(scheme, _)| !scheme.contains(['/', '?', '#']));
    if has_scheme {
        return raw.to_string();
    }
    let insecure = [var(Some(s), "INSECURE"), var(None, "INSECURE")]
        .iter()
        .find_map(|n| {
            env.get(n)
                .map(|v| (n.clone(), v.eq_ignore_ascii_case("true")))
        });
    let (scheme, why) = match insecure {
        Some((name, true)) => ("http", format!("{name}=true")),
        Some((name, false)) => ("https", format!("{name} is not true")),
        None => ("https", "OTEL_EXPORTER_OTLP_INSECURE is unset".to_string()),
    };
    notes.push(format!(
        "the gRPC endpoint '{}' has no scheme: the SDK uses {scheme}:// ({why})",
        crate::redact::redact_urls_in_text(raw)
    ));
    format!("{scheme}://{raw}")
}

/// Joins the generic endpoint and the signal path as the SDK does (one `/` between them).
fn sdk_join(base: &str, s: Signal) -> String {
    let path = format!("/{}", s.otlp_http_path());
    if base.ends_with('/') {
        format!("{base}{}", &path[1..])
    } else {
        format!("{base}{path}")
    }
}

fn parse_sdk_url(raw: &str, source: &Provenance) -> Result<Url, ConfigError> {
    parse_endpoint(raw, source).map_err(|e| {
        ConfigError::at(
            source,
            format!(
                "{} (the SDK emitter refuses to build its exporter)",
                e.problem
            ),
        )
    })
}

fn resolve_url(
    flags: &ExportFlags,
    env: &EnvSnapshot,
    s: Signal,
    protocol: Protocol,
    notes: &mut Vec<String>,
) -> Result<(Sourced<Url>, Option<String>), ConfigError> {
    let signal_flag = match s {
        Signal::Trace => flags.traces_endpoint.as_ref(),
        Signal::Log => flags.logs_endpoint.as_ref(),
        Signal::Metric => flags.metrics_endpoint.as_ref(),
    };
    if let Some(raw) = signal_flag {
        let src = Provenance::flag(&format!("--{}-endpoint", s.plural()));
        let url = parse_sdk_url(raw, &src)?;
        return Ok((Sourced::new(url.clone(), src), Some(url.to_string())));
    }
    if let Some(raw) = &flags.endpoint {
        let src = Provenance::flag("--endpoint");
        let base = parse_sdk_url(raw, &src)?;
        // The SDK uses a programmatic HTTP endpoint verbatim, so the code appends the path
        // itself, keeping --endpoint's meaning (a base URL, as OTEL_EXPORTER_OTLP_ENDPOINT).
        let url = if protocol.is_http() {
            append_signal_path(&base, s)
        } else {
            base
        };
        return Ok((Sourced::new(url.clone(), src), Some(url.to_string())));
    }
    let signal_var = var(Some(s), "ENDPOINT");
    let generic_var = var(None, "ENDPOINT");
    let from_env = |name: &str, raw: &str, join: bool, notes: &mut Vec<String>| {
        let src = Provenance::env(name);
        let raw = if protocol.is_http() {
            if join {
                sdk_join(raw, s)
            } else {
                raw.to_string()
            }
        } else {
            grpc_scheme(raw, env, s, notes)
        };
        parse_sdk_url(&raw, &src).map(|u| Sourced::new(u, src))
    };
    if let Some(raw) = env.get(&signal_var) {
        return Ok((from_env(&signal_var, raw, false, notes)?, None));
    }
    if let Some(raw) = env.get(&generic_var) {
        return Ok((from_env(&generic_var, raw, true, notes)?, None));
    }
    let raw = if protocol.is_http() {
        sdk_join(SDK_HTTP_DEFAULT, s)
    } else {
        SDK_GRPC_DEFAULT.to_string()
    };
    let url = Url::parse(&raw).expect("the SDK's default endpoint is a URL");
    Ok((Sourced::new(url, unset(s, "ENDPOINT")), None))
}

/// The SDK's `url_decode`: percent escapes decoded, or the raw value when they are broken.
fn url_decode(value: &str) -> String {
    percent_encoding::percent_decode_str(value)
        .decode_utf8()
        .map(|c| c.into_owned())
        .unwrap_or_else(|_| value.to_string())
}

/// `parse_header_string`: `k=v` items split on `,`, empty keys or values dropped, values
/// percent-decoded; an item without `=` is skipped silently.
fn sdk_headers(raw: &str, name: &str, notes: &mut Vec<String>) -> Vec<Header> {
    let mut out = Vec::new();
    for item in raw.split_terminator(',').map(str::trim) {
        let Some((k, v)) = item.split_once('=') else {
            notes.push(format!(
                "{name}: an item without '=' is skipped by the SDK without a word"
            ));
            continue;
        };
        let (k, v) = (k.trim(), url_decode(v.trim()));
        if k.is_empty() || v.is_empty() {
            continue;
        }
        let valid = http::HeaderName::from_bytes(k.as_bytes()).is_ok()
            && http::HeaderValue::from_str(&v).is_ok();
        if !valid {
            notes.push(format!(
                "{name}: header '{k}' is not a valid HTTP header and the SDK drops it silently"
            ));
            continue;
        }
        out.push(Header {
            name: k.to_ascii_lowercase(),
            value: v,
            source: Provenance::env(name),
        });
    }
    out
}

fn resolve_headers(
    flags: &ExportFlags,
    env: &EnvSnapshot,
    s: Signal,
    notes: &mut Vec<String>,
) -> Result<(Vec<Header>, Vec<Header>), ConfigError> {
    let mut code: Vec<Header> = flags
        .headers
        .iter()
        .map(|h| parse_header_flag(h, "--header"))
        .collect::<Result<_, _>>()?;
    if let Some(t) = &flags.tenant {
        code.retain(|h| h.name != "x-scope-orgid");
        code.push(Header {
            name: "x-scope-orgid".into(),
            value: t.trim().to_string(),
            source: Provenance::flag("--tenant"),
        });
    }
    let mut effective = code.clone();
    let signal_var = var(Some(s), "HEADERS");
    let generic_var = var(None, "HEADERS");
    let chosen = [&signal_var, &generic_var]
        .into_iter()
        .find_map(|n| env.get(n).map(|v| (n.clone(), v.to_string())));
    if let Some((name, raw)) = chosen {
        if name == signal_var && env.get(&generic_var).is_some() {
            notes.push(format!(
                "{signal_var} replaces {generic_var} in the SDK (the wire emitter merges them): \
                 headers set only in {generic_var} are not sent with {}",
                s.plural()
            ));
        }
        for h in sdk_headers(&raw, &name, notes) {
            if let Some(old) = effective.iter().find(|o| o.name == h.name)
                && old.value != h.value
            {
                notes.push(format!(
                    "{name} sets '{}', which wins over {} in the SDK (environment over code)",
                    h.name, old.source
                ));
            }
            effective.retain(|o| o.name != h.name);
            effective.push(h);
        }
    }
    Ok((effective, code))
}

fn resolve_compression(
    flags: &ExportFlags,
    env: &EnvSnapshot,
    s: Signal,
    notes: &mut Vec<String>,
) -> (Sourced<Compression>, Option<Compression>) {
    if flags.compression == Some(Compression::Gzip) {
        return (
            Sourced::new(Compression::Gzip, Provenance::flag("--compression")),
            Some(Compression::Gzip),
        );
    }
    let code_none = flags.compression == Some(Compression::None);
    for name in [var(Some(s), "COMPRESSION"), var(None, "COMPRESSION")] {
        let Some(raw) = env.get(&name) else { continue };
        match raw.to_ascii_lowercase().as_str() {
            "none" => {
                return (
                    Sourced::new(Compression::None, Provenance::env(&name)),
                    None,
                );
            }
            "gzip" => {
                if code_none {
                    notes.push(format!(
                        "--compression none cannot turn off {name}=gzip in the SDK: it has no \
                         builder call for 'none'"
                    ));
                }
                return (
                    Sourced::new(Compression::Gzip, Provenance::env(&name)),
                    None,
                );
            }
            other => notes.push(format!(
                "{name}='{other}' is not compiled into this SDK (gzip only): it ignores the value"
            )),
        }
    }
    let source = if code_none {
        Provenance::flag("--compression")
    } else {
        unset(s, "COMPRESSION")
    };
    (Sourced::new(Compression::None, source), None)
}

fn resolve_timeout(
    flags: &ExportFlags,
    env: &EnvSnapshot,
    s: Signal,
    notes: &mut Vec<String>,
) -> (Sourced<Duration>, Option<Duration>) {
    match flags.timeout {
        Some(t) if !t.is_zero() => {
            return (
                Sourced::new(t, Provenance::flag("--export-timeout")),
                Some(t),
            );
        }
        Some(_) => notes.push(
            "--export-timeout 0: the SDK has no 'no limit', so the canary's code sets no timeout \
             and the SDK's own applies"
                .into(),
        ),
        None => {}
    }
    for name in [var(Some(s), "TIMEOUT"), var(None, "TIMEOUT")] {
        let Some(raw) = env.get(&name) else { continue };
        match raw.parse::<u64>() {
            Ok(0) => {
                notes.push(format!(
                    "{name}=0 is zero milliseconds to the SDK (the spec says no limit): every \
                     export times out at once"
                ));
                return (Sourced::new(Duration::ZERO, Provenance::env(&name)), None);
            }
            Ok(ms) => {
                return (
                    Sourced::new(Duration::from_millis(ms), Provenance::env(&name)),
                    None,
                );
            }
            Err(_) => notes.push(format!(
                "{name}='{raw}' is not whole milliseconds: the SDK skips it without a word"
            )),
        }
    }
    (Sourced::new(SDK_DEFAULT_TIMEOUT, unset(s, "TIMEOUT")), None)
}

fn tls_settings(
    flags: &ExportFlags,
    env: &EnvSnapshot,
    s: Signal,
    notes: &mut Vec<String>,
) -> TlsSettings {
    for suffix in ["CERTIFICATE", "CLIENT_CERTIFICATE", "CLIENT_KEY"] {
        for name in [var(Some(s), suffix), var(None, suffix)] {
            if env.get(&name).is_some() {
                notes.push(format!(
                    "{name} is set, but opentelemetry-otlp does not read certificate variables: \
                     the SDK ignores it (the wire emitter honours it; an app must load it in code)"
                ));
            }
        }
    }
    let flag = |p: &Option<std::path::PathBuf>, name: &str| {
        p.as_ref()
            .map(|p| Sourced::new(p.clone(), Provenance::flag(name)))
    };
    TlsSettings {
        ca_cert: flag(&flags.ca_cert, "--ca-cert"),
        client_cert: flag(&flags.client_cert, "--client-cert"),
        client_key: flag(&flags.client_key, "--client-key"),
        insecure_skip_verify: flags.insecure_skip_verify,
    }
}

/// Resolves the SDK emitter's exporters for the requested signals: flags as the app's code,
/// then the environment as opentelemetry-otlp reads it, then the SDK's defaults.
pub fn resolve_sdk_target(
    flags: &ExportFlags,
    env: &EnvSnapshot,
) -> Result<SdkTarget, ConfigError> {
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
    let mut notes = Vec::new();
    if let Some(sc) = flags.scenario.as_deref() {
        let e = &sc.data.export;
        let set = e.endpoint.is_some()
            || e.traces_endpoint.is_some()
            || e.logs_endpoint.is_some()
            || e.metrics_endpoint.is_some()
            || e.protocol.is_some()
            || !e.headers.is_empty()
            || e.compression.is_some()
            || e.timeout.is_some();
        if set {
            notes.push(format!(
                "{}: the scenario's [export] settings are not given to the SDK emitter, which \
                 reads OTEL_EXPORTER_OTLP_* like an app (flags still apply, as an app's code)",
                sc.file
            ));
        }
        if sc.data.tenant.is_some() && flags.tenant.is_none() {
            notes.push(format!(
                "{}: the scenario's tenant is used for reads but not given to the SDK: an app \
                 sends it with OTEL_EXPORTER_OTLP_HEADERS=X-Scope-OrgID=<tenant> (or pass --tenant)",
                sc.file
            ));
        }
    }
    if flags.retries > 0 {
        notes.push(
            "--retries does not apply to the SDK emitter: its exporters run with retries off \
             (RetryPolicy::disabled), so a failure is never hidden behind a later success"
                .into(),
        );
    }
    let mut out = Vec::with_capacity(signals.len());
    for s in signals {
        let mut n = Vec::new();
        let (protocol, code_protocol) = resolve_protocol(flags, env, s, &mut n);
        let (url, code_endpoint) = resolve_url(flags, env, s, protocol.value, &mut n)?;
        let (headers, code_headers) = resolve_headers(flags, env, s, &mut n)?;
        if !protocol.value.is_http() && !matches!(url.value.path(), "" | "/") {
            n.push(format!(
                "the gRPC endpoint {} has a path ({}): tonic sends to it as given",
                url.value,
                url.value.path()
            ));
        }
        let (compression, code_compression) = resolve_compression(flags, env, s, &mut n);
        let (timeout, code_timeout) = resolve_timeout(flags, env, s, &mut n);
        let tls = tls_settings(flags, env, s, &mut n);
        if tls.insecure_skip_verify && !protocol.value.is_http() {
            n.push(
                "--insecure-skip-verify: the SDK's gRPC exporter (tonic) cannot skip certificate \
                 checks, so it is not applied"
                    .into(),
            );
        }
        out.push(SdkSignalTarget {
            signal: s,
            protocol,
            url,
            headers,
            compression,
            timeout,
            tls,
            code: CodeSettings {
                endpoint: code_endpoint,
                protocol: code_protocol.filter(|p| p.is_http()),
                headers: code_headers,
                compression: code_compression,
                timeout: code_timeout,
            },
            notes: n,
        });
    }
    Ok(SdkTarget {
        signals: out,
        notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(flags: &ExportFlags, env: &[(&str, &str)]) -> SdkTarget {
        resolve_sdk_target(flags, &EnvSnapshot::from_pairs(env.iter().copied())).unwrap()
    }

    fn sdk_default(names: &[&str]) -> Provenance {
        Provenance::SdkDefault {
            unset: names.iter().map(|s| s.to_string()).collect(),
        }
    }

    /// Endpoint, protocol and their provenance for (flags, env) -> per signal, the way
    /// opentelemetry-otlp 0.33.1 resolves them.
    #[test]
    fn endpoint_and_protocol_resolution_table() {
        struct Case {
            name: &'static str,
            flags: ExportFlags,
            env: &'static [(&'static str, &'static str)],
            signal: Signal,
            url: &'static str,
            url_source: Provenance,
            protocol: Protocol,
            protocol_source: Provenance,
            code_endpoint: Option<&'static str>,
        }
        let grpc = || ExportFlags {
            protocol: Some(Protocol::Grpc),
            ..Default::default()
        };
        let cases = vec![
            Case {
                name: "nothing set: the SDK's defaults",
                flags: ExportFlags::default(),
                env: &[],
                signal: Signal::Log,
                url: "http://localhost:4318/v1/logs",
                url_source: sdk_default(&[
                    "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
                    "OTEL_EXPORTER_OTLP_ENDPOINT",
                ]),
                protocol: Protocol::HttpProtobuf,
                protocol_source: sdk_default(&[
                    "OTEL_EXPORTER_OTLP_LOGS_PROTOCOL",
                    "OTEL_EXPORTER_OTLP_PROTOCOL",
                ]),
                code_endpoint: None,
            },
            Case {
                name: "env only: generic base with the signal path joined",
                flags: ExportFlags::default(),
                env: &[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://alloy:4319/")],
                signal: Signal::Trace,
                url: "http://alloy:4319/v1/traces",
                url_source: Provenance::env("OTEL_EXPORTER_OTLP_ENDPOINT"),
                protocol: Protocol::HttpProtobuf,
                protocol_source: sdk_default(&[
                    "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
                    "OTEL_EXPORTER_OTLP_PROTOCOL",
                ]),
                code_endpoint: None,
            },
            Case {
                name: "env only: the per-signal variable is used as is and wins",
                flags: ExportFlags::default(),
                env: &[
                    ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://col:4318"),
                    (
                        "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
                        "http://mimir:9009/otlp/v1/metrics",
                    ),
                    ("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "HTTP/JSON"),
                ],
                signal: Signal::Metric,
                url: "http://mimir:9009/otlp/v1/metrics",
                url_source: Provenance::env("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"),
                protocol: Protocol::HttpJson,
                protocol_source: Provenance::env("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL"),
                code_endpoint: None,
            },
            Case {
                name: "env only: gRPC from the protocol variable, default port 4317",
                flags: ExportFlags::default(),
                env: &[("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")],
                signal: Signal::Trace,
                url: "http://localhost:4317/",
                url_source: sdk_default(&[
                    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                    "OTEL_EXPORTER_OTLP_ENDPOINT",
                ]),
                protocol: Protocol::Grpc,
                protocol_source: Provenance::env("OTEL_EXPORTER_OTLP_PROTOCOL"),
                code_endpoint: None,
            },
            Case {
                name: "env only: a schemeless gRPC endpoint becomes https",
                flags: ExportFlags::default(),
                env: &[
                    ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
                    ("OTEL_EXPORTER_OTLP_ENDPOINT", "col:4317"),
                ],
                signal: Signal::Log,
                url: "https://col:4317/",
                url_source: Provenance::env("OTEL_EXPORTER_OTLP_ENDPOINT"),
                protocol: Protocol::Grpc,
                protocol_source: Provenance::env("OTEL_EXPORTER_OTLP_PROTOCOL"),
                code_endpoint: None,
            },
            Case {
                name: "env only: ... or http with INSECURE=true",
                flags: ExportFlags::default(),
                env: &[
                    ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
                    ("OTEL_EXPORTER_OTLP_ENDPOINT", "col:4317"),
                    ("OTEL_EXPORTER_OTLP_INSECURE", "TRUE"),
                ],
                signal: Signal::Log,
                url: "http://col:4317/",
                url_source: Provenance::env("OTEL_EXPORTER_OTLP_ENDPOINT"),
                protocol: Protocol::Grpc,
                protocol_source: Provenance::env("OTEL_EXPORTER_OTLP_PROTOCOL"),
                code_endpoint: None,
            },
            Case {
                name: "flag: --endpoint is a base; the code appends the path for the SDK",
                flags: ExportFlags {
                    endpoint: Some("http://col:4319".into()),
                    ..Default::default()
                },
                env: &[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://localhost:4318")],
                signal: Signal::Log,
                url: "http://col:4319/v1/logs",
                url_source: Provenance::flag("--endpoint"),
                protocol: Protocol::HttpProtobuf,
                protocol_source: sdk_default(&[
                    "OTEL_EXPORTER_OTLP_LOGS_PROTOCOL",
                    "OTEL_EXPORTER_OTLP_PROTOCOL",
                ]),
                code_endpoint: Some("http://col:4319/v1/logs"),
            },
            Case {
                name: "flag: a per-signal flag wins over --endpoint and the environment",
                flags: ExportFlags {
                    endpoint: Some("http://col:4319".into()),
                    logs_endpoint: Some("http://loki:3100/otlp/v1/logs".into()),
                    ..Default::default()
                },
                env: &[(
                    "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
                    "http://stale:4318/v1/logs",
                )],
                signal: Signal::Log,
                url: "http://loki:3100/otlp/v1/logs",
                url_source: Provenance::flag("--logs-endpoint"),
                protocol: Protocol::HttpProtobuf,
                protocol_source: sdk_default(&[
                    "OTEL_EXPORTER_OTLP_LOGS_PROTOCOL",
                    "OTEL_EXPORTER_OTLP_PROTOCOL",
                ]),
                code_endpoint: Some("http://loki:3100/otlp/v1/logs"),
            },
            Case {
                name: "flag: --protocol grpc keeps the gRPC default endpoint",
                flags: grpc(),
                env: &[("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")],
                signal: Signal::Metric,
                url: "http://localhost:4317/",
                url_source: sdk_default(&[
                    "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
                    "OTEL_EXPORTER_OTLP_ENDPOINT",
                ]),
                protocol: Protocol::Grpc,
                protocol_source: Provenance::flag("--protocol"),
                code_endpoint: None,
            },
        ];
        for c in cases {
            let t = resolve(&c.flags, c.env);
            let st = t.signal(c.signal).unwrap();
            assert_eq!(st.url.value.as_str(), c.url, "{}", c.name);
            assert_eq!(st.url.source, c.url_source, "{}", c.name);
            assert_eq!(st.protocol.value, c.protocol, "{}", c.name);
            assert_eq!(st.protocol.source, c.protocol_source, "{}", c.name);
            assert_eq!(st.code.endpoint.as_deref(), c.code_endpoint, "{}", c.name);
        }
    }

    #[test]
    fn defaults_are_listed_as_the_sdks_own_choice() {
        let t = resolve(&ExportFlags::default(), &[]);
        let st = t.signal(Signal::Trace).unwrap();
        assert_eq!(
            st.sdk_defaults(),
            vec!["endpoint", "protocol", "compression", "timeout"]
        );
        assert_eq!(st.timeout.value, SDK_DEFAULT_TIMEOUT);
        assert_eq!(
            st.url.source.to_string(),
            "SDK default (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT and OTEL_EXPORTER_OTLP_ENDPOINT unset)"
        );
        let flags = ExportFlags {
            endpoint: Some("http://col:4318".into()),
            timeout: Some(Duration::from_secs(2)),
            ..Default::default()
        };
        let t = resolve(&flags, &[("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip")]);
        let st = t.signal(Signal::Trace).unwrap();
        assert_eq!(st.sdk_defaults(), vec!["protocol"]);
        assert_eq!(st.compression.value, Compression::Gzip);
        assert_eq!(st.code.timeout, Some(Duration::from_secs(2)));
    }

    #[test]
    fn where_the_sdk_departs_from_the_spec_is_noted() {
        let env = [
            (
                "OTEL_EXPORTER_OTLP_HEADERS",
                "x-scope-orgid=team-a,authorization=Bearer%20abc",
            ),
            ("OTEL_EXPORTER_OTLP_LOGS_HEADERS", "x-extra=1"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "0"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http"),
            ("OTEL_EXPORTER_OTLP_COMPRESSION", "zstd"),
            ("OTEL_EXPORTER_OTLP_CERTIFICATE", "/etc/ca.pem"),
        ];
        let t = resolve(&ExportFlags::default(), &env);
        let log = t.signal(Signal::Log).unwrap();
        // Only the per-signal header variable counts for logs.
        let names: Vec<&str> = log.headers.iter().map(|h| h.name.as_str()).collect();
        assert_eq!(names, vec!["x-extra"]);
        let trace = t.signal(Signal::Trace).unwrap();
        let auth = trace
            .headers
            .iter()
            .find(|h| h.name == "authorization")
            .unwrap();
        assert_eq!(auth.value, "Bearer abc");
        assert_eq!(log.timeout.value, Duration::ZERO);
        assert_eq!(
            log.protocol.value,
            Protocol::HttpProtobuf,
            "'http' is ignored"
        );
        assert_eq!(
            log.compression.value,
            Compression::None,
            "zstd is not compiled in"
        );
        let notes = log.notes.join("\n");
        for needle in [
            "OTEL_EXPORTER_OTLP_LOGS_HEADERS replaces OTEL_EXPORTER_OTLP_HEADERS",
            "OTEL_EXPORTER_OTLP_TIMEOUT=0 is zero milliseconds",
            "OTEL_EXPORTER_OTLP_PROTOCOL='http' is not a protocol",
            "OTEL_EXPORTER_OTLP_COMPRESSION='zstd'",
            "OTEL_EXPORTER_OTLP_CERTIFICATE is set, but opentelemetry-otlp does not read",
        ] {
            assert!(notes.contains(needle), "missing {needle:?} in:\n{notes}");
        }
    }

    #[test]
    fn code_headers_lose_to_the_environment_and_none_cannot_override_gzip() {
        let flags = ExportFlags {
            tenant: Some("flag-tenant".into()),
            compression: Some(Compression::None),
            ..Default::default()
        };
        let env = [
            ("OTEL_EXPORTER_OTLP_HEADERS", "X-Scope-OrgID=env-tenant"),
            ("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"),
        ];
        let t = resolve(&flags, &env);
        let st = t.signal(Signal::Metric).unwrap();
        let org = st
            .headers
            .iter()
            .find(|h| h.name == "x-scope-orgid")
            .unwrap();
        assert_eq!(org.value, "env-tenant");
        assert_eq!(org.source, Provenance::env("OTEL_EXPORTER_OTLP_HEADERS"));
        assert_eq!(st.code.headers[0].value, "flag-tenant");
        assert_eq!(st.compression.value, Compression::Gzip);
        assert!(
            st.notes.iter().any(|n| n.contains("cannot turn off")),
            "{:?}",
            st.notes
        );
    }

    #[test]
    fn bad_endpoints_name_their_source() {
        let e = resolve_sdk_target(
            &ExportFlags::default(),
            &EnvSnapshot::from_pairs([("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "localhost:4318")]),
        )
        .unwrap_err();
        assert_eq!(e.input, "env OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
        assert!(e.problem.contains("SDK emitter"), "{e}");
    }
}
