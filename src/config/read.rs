//! The read side of a target: which Tempo, Loki and Mimir/Prometheus to poll, with which
//! tenant, headers and credentials, which selectors, and how long to wait. Resolved from
//! flags, then the scenario file, then `OTEL_CANARY_*` variables, then defaults, keeping the
//! provenance of each value.

use super::env::EnvSnapshot;
use super::headers::{Header, merge_headers, parse_header_flag};
use super::otlp::{TlsSettings, parse_endpoint};
use super::scenario::{Scenario, Val};
use super::{ConfigError, Provenance, Sourced};
use crate::backends::loki::{DEFAULT_SELECTOR, LogMatch};
use crate::signal::Signal;
use base64::Engine;
use std::path::PathBuf;
use std::time::Duration;
use url::Url;

pub const DEFAULT_SIGNAL_TIMEOUT: Duration = Duration::from_secs(30);
pub const DEFAULT_SEARCH_TIMEOUT: Duration = Duration::from_secs(60);
pub const DEFAULT_QUERY_TIMEOUT: Duration = Duration::from_secs(10);

/// Which PromQL API the metric backend is: Mimir serves it under `/prometheus`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MetricsApi {
    Mimir,
    Prometheus,
}

impl MetricsApi {
    /// The backend's name in reports (`read.backend`).
    pub fn as_str(self) -> &'static str {
        match self {
            MetricsApi::Mimir => "mimir",
            MetricsApi::Prometheus => "prometheus",
        }
    }
}

/// A backend to read from.
#[derive(Clone, Debug, PartialEq)]
pub struct Backend {
    /// The URL as configured (shown in reports).
    pub url: Sourced<Url>,
    /// Where the API lives (Mimir: the URL plus `/prometheus`).
    pub api_base: Url,
    /// Headers for this backend only (`--read-header loki:Name=value`).
    pub headers: Vec<Header>,
}

/// Read settings given on the command line.
#[derive(Clone, Debug, Default)]
pub struct ReadFlags {
    pub tempo: Option<String>,
    pub loki: Option<String>,
    pub mimir: Option<String>,
    pub prometheus: Option<String>,
    pub headers: Vec<String>,
    pub user: Option<String>,
    pub password_file: Option<PathBuf>,
    pub token_file: Option<PathBuf>,
    pub ca_cert: Option<PathBuf>,
    pub insecure_skip_verify: bool,
    pub log_selector: Option<String>,
    pub log_match: Option<LogMatch>,
    pub metric_selector: Option<String>,
    pub timeout: Option<Duration>,
    pub trace_timeout: Option<Duration>,
    pub log_timeout: Option<Duration>,
    pub metric_timeout: Option<Duration>,
    pub search_timeout: Option<Duration>,
    pub query_timeout: Option<Duration>,
    pub no_search: bool,
    pub collector_metrics: Option<String>,
    pub tempo_metrics: Option<String>,
    /// `--derived`: derived checks, comma lists or `all`.
    pub derived: Vec<String>,
    pub derived_timeout: Option<Duration>,
    /// `--grafana` and friends (the `grafana` hop).
    pub grafana: super::grafana::GrafanaFlags,
}

/// The resolved read side.
#[derive(Clone, Debug)]
pub struct ReadTarget {
    pub tempo: Option<Backend>,
    pub loki: Option<Backend>,
    pub metrics: Option<(MetricsApi, Backend)>,
    /// Sent to every backend: tenant, `--read-header`, credentials.
    pub headers: Vec<Header>,
    pub tls: TlsSettings,
    pub log_selector: Sourced<String>,
    pub log_match: Sourced<LogMatch>,
    pub metric_selector: Option<Sourced<String>>,
    pub trace_timeout: Sourced<Duration>,
    pub log_timeout: Sourced<Duration>,
    pub metric_timeout: Sourced<Duration>,
    /// `None` when the search hop is off.
    pub search_timeout: Option<Sourced<Duration>>,
    pub query_timeout: Sourced<Duration>,
    /// The collector's own metrics page, read before and after a probe to attribute a loss.
    pub collector_metrics: Option<Sourced<Url>>,
    /// Tempo's own metrics page (distributor and receiver counters), read the same way.
    pub tempo_metrics: Option<Sourced<Url>>,
    /// Derived-signal checks on the trace, when asked for.
    pub derived: Option<super::derived::DerivedTarget>,
    /// The Grafana every visible signal is read through again (`None`: the hop is off).
    pub grafana: Option<super::grafana::GrafanaTarget>,
}

impl ReadTarget {
    /// The deadline for a signal's read-back.
    pub fn timeout(&self, s: Signal) -> &Sourced<Duration> {
        match s {
            Signal::Trace => &self.trace_timeout,
            Signal::Log => &self.log_timeout,
            Signal::Metric => &self.metric_timeout,
        }
    }
}

/// First of flag, scenario value, environment variable.
fn layered(
    flag: Option<&String>,
    flag_name: &str,
    scenario: Option<(&Scenario, Option<&Val<String>>, &str)>,
    env: &EnvSnapshot,
    var: &str,
) -> Option<Sourced<String>> {
    if let Some(v) = flag {
        return Some(Sourced::new(v.clone(), Provenance::flag(flag_name)));
    }
    if let Some((sc, Some(v), key)) = scenario {
        return Some(sc.sourced(v, key));
    }
    env.get(var)
        .map(|v| Sourced::new(v.to_string(), Provenance::env(var)))
}

fn url_of(v: Sourced<String>) -> Result<Sourced<Url>, ConfigError> {
    let url = parse_endpoint(&v.value, &v.source)?;
    Ok(Sourced::new(url, v.source))
}

fn duration_of(
    flag: Option<Duration>,
    flag_name: &str,
    scenario: Option<(&Scenario, Option<&Val<String>>, &str)>,
    fallback: Sourced<Duration>,
) -> Result<Sourced<Duration>, ConfigError> {
    if let Some(d) = flag {
        return Ok(Sourced::new(d, Provenance::flag(flag_name)));
    }
    if let Some((sc, Some(v), key)) = scenario {
        return sc.duration(v, key);
    }
    Ok(fallback)
}

/// Splits `--read-header [tempo|loki|metrics:]NAME=VALUE` into its backend and header.
fn backend_header(raw: &str) -> Result<(Option<&'static str>, Header), ConfigError> {
    for backend in ["tempo", "loki", "metrics"] {
        if let Some(rest) = raw.strip_prefix(backend).and_then(|r| r.strip_prefix(':'))
            && rest.contains('=')
        {
            return Ok((Some(backend), parse_header_flag(rest, "--read-header")?));
        }
    }
    Ok((None, parse_header_flag(raw, "--read-header")?))
}

fn read_secret_file(path: &PathBuf, flag: &str) -> Result<String, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError::new(flag, format!("cannot read {}: {e}", path.display())))?;
    let text = text.trim().to_string();
    if text.is_empty() {
        return Err(ConfigError::new(
            flag,
            format!("{} is empty", path.display()),
        ));
    }
    Ok(text)
}

/// Basic auth or a bearer token, from flags, files or `OTEL_CANARY_READ_*` variables.
fn auth_header(flags: &ReadFlags, env: &EnvSnapshot) -> Result<Option<Header>, ConfigError> {
    let token = match (&flags.token_file, env.get("OTEL_CANARY_READ_TOKEN")) {
        (Some(p), _) => Some((
            read_secret_file(p, "--read-token-file")?,
            Provenance::flag("--read-token-file"),
        )),
        (None, Some(t)) if !t.is_empty() => {
            Some((t.to_string(), Provenance::env("OTEL_CANARY_READ_TOKEN")))
        }
        _ => None,
    };
    let user = flags
        .user
        .as_ref()
        .map(|u| (u.clone(), Provenance::flag("--read-user")))
        .or_else(|| {
            env.get("OTEL_CANARY_READ_USER")
                .map(|u| (u.to_string(), Provenance::env("OTEL_CANARY_READ_USER")))
        });
    match (token, user) {
        (Some(_), Some((_, src))) => Err(ConfigError::at(
            &src,
            "give either a bearer token or a user and password for reads, not both",
        )),
        (Some((t, source)), None) => {
            super::headers::check_one_line_token(&t, &source)?;
            Ok(Some(Header {
                name: "authorization".into(),
                value: format!("Bearer {t}"),
                source,
            }))
        }
        (None, Some((user, source))) => {
            let password = match (&flags.password_file, env.get("OTEL_CANARY_READ_PASSWORD")) {
                (Some(p), _) => read_secret_file(p, "--read-password-file")?,
                (None, Some(p)) => p.to_string(),
                (None, None) => {
                    return Err(ConfigError::at(
                        &source,
                        "a read user needs a password: --read-password-file FILE or \
                         OTEL_CANARY_READ_PASSWORD",
                    ));
                }
            };
            let creds =
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
            Ok(Some(Header {
                name: "authorization".into(),
                value: format!("Basic {creds}"),
                source,
            }))
        }
        (None, None) => Ok(None),
    }
}

/// Resolves the read target. `tenant` is the one chosen for writes (reads use the same).
pub fn resolve_read_target(
    flags: &ReadFlags,
    scenario: Option<&Scenario>,
    tenant: Option<Sourced<String>>,
    env: &EnvSnapshot,
) -> Result<ReadTarget, ConfigError> {
    let r = scenario.map(|s| (s, &s.data.read));
    let sc = |pick: fn(&super::scenario::ReadSection) -> Option<&Val<String>>,
              key: &'static str| { r.map(|(s, sec)| (s, pick(sec), key)) };

    let mut common = Vec::new();
    if let Some(s) = scenario {
        merge_headers(&mut common, s.read_headers()?);
    }
    let mut per_backend: Vec<(&str, Header)> = Vec::new();
    for raw in &flags.headers {
        match backend_header(raw)? {
            (None, h) => merge_headers(&mut common, vec![h]),
            (Some(b), h) => per_backend.push((b, h)),
        }
    }
    if let Some(t) = tenant {
        merge_headers(
            &mut common,
            vec![Header {
                name: "x-scope-orgid".into(),
                value: t.value,
                source: t.source,
            }],
        );
    }
    if let Some(h) = auth_header(flags, env)? {
        merge_headers(&mut common, vec![h]);
    }
    let backend = |url: Sourced<Url>, name: &str, api_base: Url| Backend {
        url,
        api_base,
        headers: per_backend
            .iter()
            .filter(|(b, _)| *b == name)
            .map(|(_, h)| h.clone())
            .collect(),
    };

    // Each read URL: flag, then scenario key, then environment variable.
    let url = |flag: Option<&String>,
               name: &str,
               pick: fn(&super::scenario::ReadSection) -> Option<&Val<String>>,
               key: &'static str,
               var: &str| {
        layered(flag, name, sc(pick, key), env, var)
            .map(url_of)
            .transpose()
    };
    let as_is = |u: Sourced<Url>, name: &str| {
        let base = u.value.clone();
        backend(u, name, base)
    };
    let tempo = url(
        flags.tempo.as_ref(),
        "--tempo",
        |s| s.tempo.as_ref(),
        "read.tempo",
        "OTEL_CANARY_TEMPO_URL",
    )?
    .map(|u| as_is(u, "tempo"));
    let loki = url(
        flags.loki.as_ref(),
        "--loki",
        |s| s.loki.as_ref(),
        "read.loki",
        "OTEL_CANARY_LOKI_URL",
    )?
    .map(|u| as_is(u, "loki"));
    let mimir = url(
        flags.mimir.as_ref(),
        "--mimir",
        |s| s.mimir.as_ref(),
        "read.mimir",
        "OTEL_CANARY_MIMIR_URL",
    )?;
    let prometheus = url(
        flags.prometheus.as_ref(),
        "--prometheus",
        |s| s.prometheus.as_ref(),
        "read.prometheus",
        "OTEL_CANARY_PROMETHEUS_URL",
    )?;
    let metrics = match (mimir, prometheus) {
        (Some(m), Some(p)) => {
            return Err(ConfigError::at(
                &p.source,
                format!(
                    "both a Mimir ({}) and a Prometheus URL are set; keep one",
                    m.source
                ),
            ));
        }
        (Some(m), None) => {
            let api = mimir_api_base(&m.value);
            Some((MetricsApi::Mimir, backend(m, "metrics", api)))
        }
        (None, Some(p)) => Some((MetricsApi::Prometheus, as_is(p, "metrics"))),
        (None, None) => None,
    };

    let tls = TlsSettings {
        ca_cert: match (
            &flags.ca_cert,
            r.and_then(|(s, sec)| sec.ca_cert.as_ref().map(|v| (s, v))),
        ) {
            (Some(p), _) => Some(Sourced::new(p.clone(), Provenance::flag("--read-ca-cert"))),
            (None, Some((s, v))) => Some(s.sourced(v, "read.ca_cert")),
            (None, None) => None,
        },
        client_cert: None,
        client_key: None,
        insecure_skip_verify: flags.insecure_skip_verify
            || r.and_then(|(_, sec)| sec.insecure_skip_verify.as_ref())
                .is_some_and(|v| *v.get_ref()),
    };

    let log_selector = layered(
        flags.log_selector.as_ref(),
        "--log-selector",
        sc(|s| s.log_selector.as_ref(), "read.log_selector"),
        env,
        "OTEL_CANARY_LOG_SELECTOR",
    )
    .unwrap_or_else(|| Sourced::default_value(DEFAULT_SELECTOR.to_string()));
    check_selector(&log_selector)?;
    let log_match = match (
        flags.log_match,
        r.and_then(|(s, sec)| sec.log_match.as_ref().map(|v| (s, v))),
    ) {
        (Some(m), _) => Sourced::new(m, Provenance::flag("--log-match")),
        (None, Some((s, v))) => s.parse_value(v, "read.log_match")?,
        (None, None) => Sourced::default_value(LogMatch::StructuredMetadata),
    };
    let metric_selector = layered(
        flags.metric_selector.as_ref(),
        "--metric-selector",
        sc(|s| s.metric_selector.as_ref(), "read.metric_selector"),
        env,
        "OTEL_CANARY_METRIC_SELECTOR",
    );

    let d = scenario.map(|s| (s, &s.data.deadlines));
    let dl = |pick: fn(&super::scenario::DeadlineSection) -> Option<&Val<String>>,
              key: &'static str| { d.map(|(s, sec)| (s, pick(sec), key)) };
    let timeout = duration_of(
        flags.timeout,
        "--timeout",
        dl(|s| s.timeout.as_ref(), "deadlines.timeout"),
        Sourced::default_value(DEFAULT_SIGNAL_TIMEOUT),
    )?;
    let trace_timeout = duration_of(
        flags.trace_timeout,
        "--trace-timeout",
        dl(|s| s.trace.as_ref(), "deadlines.trace"),
        timeout.clone(),
    )?;
    let log_timeout = duration_of(
        flags.log_timeout,
        "--log-timeout",
        dl(|s| s.log.as_ref(), "deadlines.log"),
        timeout.clone(),
    )?;
    let metric_timeout = duration_of(
        flags.metric_timeout,
        "--metric-timeout",
        dl(|s| s.metric.as_ref(), "deadlines.metric"),
        timeout.clone(),
    )?;
    let search_on = !flags.no_search
        && r.and_then(|(_, sec)| sec.search.as_ref())
            .is_none_or(|v| *v.get_ref());
    let search_timeout = if search_on {
        Some(duration_of(
            flags.search_timeout,
            "--search-timeout",
            dl(|s| s.search.as_ref(), "deadlines.search"),
            Sourced::default_value(DEFAULT_SEARCH_TIMEOUT),
        )?)
    } else {
        None
    };
    let query_timeout = duration_of(
        flags.query_timeout,
        "--query-timeout",
        dl(|s| s.query.as_ref(), "deadlines.query"),
        Sourced::default_value(DEFAULT_QUERY_TIMEOUT),
    )?;
    for t in [
        &trace_timeout,
        &log_timeout,
        &metric_timeout,
        &query_timeout,
    ]
    .into_iter()
    .chain(search_timeout.as_ref())
    {
        if t.value.is_zero() {
            return Err(ConfigError::at(
                &t.source,
                "a deadline must be longer than zero",
            ));
        }
    }

    let page = |flag: Option<&String>,
                name: &str,
                pick: fn(&super::scenario::ReadSection) -> Option<&Val<String>>,
                key: &'static str,
                var: &str| {
        layered(flag, name, sc(pick, key), env, var)
            .map(|v| {
                crate::backends::self_metrics::metrics_url(&v.value)
                    .map(|u| Sourced::new(u, v.source.clone()))
                    .map_err(|problem| ConfigError::at(&v.source, problem))
            })
            .transpose()
    };
    let collector_metrics = page(
        flags.collector_metrics.as_ref(),
        "--collector-metrics",
        |s| s.collector_metrics.as_ref(),
        "read.collector_metrics",
        "OTEL_CANARY_COLLECTOR_METRICS_URL",
    )?;
    let tempo_metrics = page(
        flags.tempo_metrics.as_ref(),
        "--tempo-metrics",
        |s| s.tempo_metrics.as_ref(),
        "read.tempo_metrics",
        "OTEL_CANARY_TEMPO_METRICS_URL",
    )?;

    let grafana = super::grafana::resolve_grafana_target(&flags.grafana, scenario, env)?;

    Ok(ReadTarget {
        tempo,
        loki,
        metrics,
        headers: common,
        tls,
        log_selector,
        log_match,
        metric_selector,
        trace_timeout,
        log_timeout,
        metric_timeout,
        search_timeout,
        query_timeout,
        collector_metrics,
        tempo_metrics,
        derived: super::derived::resolve_derived(&flags.derived, flags.derived_timeout, scenario)?,
        grafana,
    })
}

/// Mimir's PromQL API lives under `/prometheus`; a URL that already ends there is kept.
pub fn mimir_api_base(url: &Url) -> Url {
    if url.path().trim_end_matches('/').ends_with("/prometheus") {
        return url.clone();
    }
    crate::backends::client::join(url, "prometheus")
}

/// A stream selector must at least look like one: `{...}`.
fn check_selector(s: &Sourced<String>) -> Result<(), ConfigError> {
    let t = s.value.trim();
    if t.starts_with('{') && t.ends_with('}') && t.len() > 2 {
        Ok(())
    } else {
        Err(ConfigError::at(
            &s.source,
            format!(
                "'{}' is not a LogQL stream selector like {DEFAULT_SELECTOR}",
                s.value
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> EnvSnapshot {
        EnvSnapshot::from_pairs(pairs.iter().copied())
    }

    #[test]
    fn a_token_with_a_line_break_is_refused_without_being_quoted() {
        let env = EnvSnapshot::from_pairs([("OTEL_CANARY_READ_TOKEN", "t0k\rX-Evil: 1")]);
        let e = resolve_read_target(&ReadFlags::default(), None, None, &env).unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("OTEL_CANARY_READ_TOKEN") && text.contains("line break"),
            "{text}"
        );
        assert!(!text.contains("t0k"), "{text}");
    }

    #[test]
    fn mimir_gets_its_prefix_once() {
        let u = Url::parse("http://mimir:9009").unwrap();
        assert_eq!(mimir_api_base(&u).as_str(), "http://mimir:9009/prometheus");
        let u = Url::parse("http://mimir:9009/prometheus/").unwrap();
        assert_eq!(mimir_api_base(&u).as_str(), "http://mimir:9009/prometheus/");
    }

    #[test]
    fn flags_beat_scenario_beats_env() {
        let sc = Scenario::parse(
            "s.toml",
            "[read]\ntempo = \"http://from-file:3200\"\nloki = \"http://file-loki:3100\"\n".into(),
        )
        .unwrap();
        let flags = ReadFlags {
            tempo: Some("http://from-flag:3200".into()),
            ..Default::default()
        };
        let e = env(&[
            ("OTEL_CANARY_LOKI_URL", "http://env-loki:3100"),
            ("OTEL_CANARY_MIMIR_URL", "http://env-mimir:9009"),
        ]);
        let t = resolve_read_target(&flags, Some(&sc), None, &e).unwrap();
        let tempo = t.tempo.unwrap();
        assert_eq!(tempo.url.value.host_str(), Some("from-flag"));
        assert_eq!(tempo.url.source, Provenance::flag("--tempo"));
        let loki = t.loki.unwrap();
        assert_eq!(loki.url.value.host_str(), Some("file-loki"));
        assert_eq!(loki.url.source, sc.source("read.loki"));
        let (api, m) = t.metrics.unwrap();
        assert_eq!(api, MetricsApi::Mimir);
        assert_eq!(m.api_base.as_str(), "http://env-mimir:9009/prometheus");
        assert_eq!(t.trace_timeout.value, DEFAULT_SIGNAL_TIMEOUT);
    }

    #[test]
    fn credentials_and_backend_headers() {
        let flags = ReadFlags {
            user: Some("grafana".into()),
            headers: vec!["loki:X-Extra=1".into(), "X-All=2".into()],
            ..Default::default()
        };
        let t = resolve_read_target(
            &flags,
            None,
            Some(Sourced::new("team-a".into(), Provenance::flag("--tenant"))),
            &env(&[
                ("OTEL_CANARY_READ_PASSWORD", "s3cret"),
                ("OTEL_CANARY_LOKI_URL", "http://l:3100"),
            ]),
        )
        .unwrap();
        let names: Vec<&str> = t.headers.iter().map(|h| h.name.as_str()).collect();
        assert_eq!(names, ["x-all", "x-scope-orgid", "authorization"]);
        assert!(t.headers[2].is_secret());
        assert_eq!(t.loki.unwrap().headers[0].name, "x-extra");

        let err = resolve_read_target(
            &ReadFlags {
                user: Some("u".into()),
                ..Default::default()
            },
            None,
            None,
            &env(&[]),
        )
        .unwrap_err();
        assert!(err.problem.contains("needs a password"), "{err}");
    }

    #[test]
    fn bad_selector_and_zero_deadline_are_config_errors() {
        let err = resolve_read_target(
            &ReadFlags {
                log_selector: Some("service_name=x".into()),
                ..Default::default()
            },
            None,
            None,
            &env(&[]),
        )
        .unwrap_err();
        assert_eq!(err.input, "flag --log-selector");
        let err = resolve_read_target(
            &ReadFlags {
                timeout: Some(Duration::ZERO),
                ..Default::default()
            },
            None,
            None,
            &env(&[]),
        )
        .unwrap_err();
        assert_eq!(err.input, "flag --timeout");
    }
}
