//! Scenario files (`scenarios/*.toml`): the live topology under version control (incident
//! 11), so "which config is live?" has one answer. A scenario names the write target, the
//! read backends, the tenant, selectors and deadlines; flags override it, and it overrides
//! the environment. Every value keeps the file and key it came from for the report.
//!
//! Mistakes are errors naming the file, line and key: an unknown key (a typo would otherwise
//! silently fall back to a default) and a bad value alike.

use super::{ConfigError, Provenance, Sourced};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;
use toml::Spanned;

/// A value as written in the file, with its position for error messages.
pub type Val<T> = Spanned<T>;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    /// What this topology is, for people.
    pub description: Option<String>,
    /// Signals to probe: any of "trace", "log", "metric".
    pub signals: Option<Val<Vec<String>>>,
    /// Tenant (X-Scope-OrgID) for writes and reads.
    pub tenant: Option<Val<String>>,
    #[serde(default)]
    pub export: ExportSection,
    #[serde(default)]
    pub read: ReadSection,
    #[serde(default)]
    pub probe: ProbeSection,
    #[serde(default)]
    pub deadlines: DeadlineSection,
    /// Pull paths `serve` checks beside the OTLP push (see `config::pull`).
    #[serde(default)]
    pub pull: PullSection,
    /// Derived-signal checks (see `config::derived`).
    #[serde(default)]
    pub derived: DerivedSection,
    /// Assertions checked after the probe (see `config::assertions`).
    #[serde(default, rename = "assert")]
    pub assertions: Vec<AssertSection>,
    /// The Grafana to read every signal through again (see `config::grafana`).
    #[serde(default)]
    pub grafana: GrafanaSection,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DerivedSection {
    /// Any of "span-metrics", "service-graph", "traceql-metrics", or "all".
    pub checks: Option<Val<Vec<String>>>,
    /// Deadline of each derived hop, from the export ack [default: 90s].
    pub timeout: Option<Val<String>>,
}

/// One `[[assert]]` entry: a name, one question, and what the answer must be.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssertSection {
    pub name: Val<String>,
    pub promql: Option<Val<String>>,
    pub logql: Option<Val<String>>,
    pub loki_label: Option<Val<String>>,
    pub tempo_tag: Option<Val<String>>,
    /// For promql/logql: "non-empty" (default) or "empty".
    pub expect: Option<Val<String>>,
    /// For loki_label/tempo_tag: a value the answer must include.
    pub contains: Option<Val<String>>,
    pub timeout: Option<Val<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportSection {
    pub endpoint: Option<Val<String>>,
    pub traces_endpoint: Option<Val<String>>,
    pub logs_endpoint: Option<Val<String>>,
    pub metrics_endpoint: Option<Val<String>>,
    pub protocol: Option<Val<String>>,
    pub compression: Option<Val<String>>,
    pub timeout: Option<Val<String>>,
    #[serde(default)]
    pub headers: BTreeMap<String, Val<String>>,
    pub ca_cert: Option<Val<PathBuf>>,
    pub client_cert: Option<Val<PathBuf>>,
    pub client_key: Option<Val<PathBuf>>,
    pub insecure_skip_verify: Option<Val<bool>>,
    pub retries: Option<Val<u32>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReadSection {
    pub tempo: Option<Val<String>>,
    pub loki: Option<Val<String>>,
    pub mimir: Option<Val<String>>,
    pub prometheus: Option<Val<String>>,
    /// Headers on every read request.
    #[serde(default)]
    pub headers: BTreeMap<String, Val<String>>,
    pub ca_cert: Option<Val<PathBuf>>,
    pub insecure_skip_verify: Option<Val<bool>>,
    pub log_selector: Option<Val<String>>,
    pub log_match: Option<Val<String>>,
    pub metric_selector: Option<Val<String>>,
    /// false turns the Tempo search hop off.
    pub search: Option<Val<bool>>,
    /// The collector's self-metrics page (`http://collector:8888/metrics`).
    pub collector_metrics: Option<Val<String>>,
    /// Tempo's own metrics page (`http://tempo:3200/metrics`).
    pub tempo_metrics: Option<Val<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProbeSection {
    pub service_name: Option<Val<String>>,
    pub service_instance_id: Option<Val<String>>,
    pub metric_tag: Option<Val<String>>,
    /// `wire`, `sdk` or `both` (see `--emitter`).
    pub emitter: Option<Val<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeadlineSection {
    /// Default for every signal.
    pub timeout: Option<Val<String>>,
    pub trace: Option<Val<String>>,
    pub log: Option<Val<String>>,
    pub metric: Option<Val<String>>,
    pub search: Option<Val<String>>,
    /// Per read request.
    pub query: Option<Val<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PullSection {
    /// Expose `otel_canary_scrape_marker{scenario}` on `serve`'s `/metrics` and read it back
    /// through the scraper and the metrics backend.
    pub scrape: Option<Val<bool>>,
    /// PromQL for the marker [default: `otel_canary_scrape_marker{scenario="<name>"}`].
    pub scrape_selector: Option<Val<String>>,
    /// Deadline of the scrape path, which waits for a scrape interval [default: 90s].
    pub scrape_timeout: Option<Val<String>>,
    /// `stdout`, or a file path: where the probe's JSON line is written for an agent to tail.
    pub log_line: Option<Val<String>>,
    /// LogQL stream selector for the tailed line [default: `{service_name=~".+"}`].
    pub log_line_selector: Option<Val<String>>,
    /// Deadline of the log-line path [default: 60s].
    pub log_line_timeout: Option<Val<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrafanaSection {
    /// Grafana's base URL (`http://grafana:3000`); no credentials in it.
    pub url: Option<Val<String>>,
    /// File holding a service-account token.
    pub token_file: Option<Val<PathBuf>>,
    /// Basic-auth user (the password from `password_file` or `OTEL_CANARY_GRAFANA_PASSWORD`).
    pub user: Option<Val<String>>,
    pub password_file: Option<Val<PathBuf>>,
    /// `{ tempo = "UID", loki = "UID", metrics = "UID" }`; kinds left out are discovered.
    pub datasources: Option<GrafanaDatasources>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrafanaDatasources {
    pub tempo: Option<Val<String>>,
    pub loki: Option<Val<String>>,
    pub metrics: Option<Val<String>>,
}

/// A loaded scenario: the parsed file plus what is needed to point at its lines.
#[derive(Debug)]
pub struct Scenario {
    /// As shown in reports (the path given, or `scenarios/<name>.toml`).
    pub file: String,
    text: String,
    pub data: ScenarioFile,
}

/// Built-in scenarios, so `--scenario local-lgtm` works from any directory.
const BUILT_IN: &[(&str, &str)] = &[
    (
        "local-lgtm",
        include_str!("../../scenarios/local-lgtm.toml"),
    ),
    (
        "alloy-split-receivers",
        include_str!("../../scenarios/alloy-split-receivers.toml"),
    ),
    (
        "direct-to-backends",
        include_str!("../../scenarios/direct-to-backends.toml"),
    ),
    (
        "multi-tenant",
        include_str!("../../scenarios/multi-tenant.toml"),
    ),
];

/// The names of the scenarios shipped in the binary.
pub fn built_in_names() -> Vec<&'static str> {
    BUILT_IN.iter().map(|(n, _)| *n).collect()
}

impl Scenario {
    /// Loads `FILE` (a path) or `NAME` (a shipped scenario; a file of that name under
    /// `./scenarios/` wins, so a checked-out, edited copy is what runs).
    pub fn load(arg: &str) -> Result<Scenario, ConfigError> {
        let as_path = Path::new(arg);
        let looks_like_path = arg.ends_with(".toml") || arg.contains('/');
        if looks_like_path || as_path.is_file() {
            let text = std::fs::read_to_string(as_path)
                .map_err(|e| ConfigError::new("--scenario", format!("cannot read {arg}: {e}")))?;
            return Scenario::parse(arg, text);
        }
        let local = PathBuf::from("scenarios").join(format!("{arg}.toml"));
        if local.is_file() {
            let text = std::fs::read_to_string(&local).map_err(|e| {
                ConfigError::new(
                    "--scenario",
                    format!("cannot read {}: {e}", local.display()),
                )
            })?;
            return Scenario::parse(&local.display().to_string(), text);
        }
        match BUILT_IN.iter().find(|(n, _)| *n == arg) {
            Some((n, text)) => Scenario::parse(&format!("scenarios/{n}.toml"), text.to_string()),
            None => Err(ConfigError::new(
                "--scenario",
                format!(
                    "'{arg}' is neither a file nor a known scenario (known: {})",
                    built_in_names().join(", ")
                ),
            )),
        }
    }

    /// Parses scenario text; `file` names it in errors.
    pub fn parse(file: &str, text: String) -> Result<Scenario, ConfigError> {
        let data: ScenarioFile = toml::from_str(&text).map_err(|e| {
            let line = e.span().map(|s| line_of(&text, s.start)).unwrap_or(0);
            let key = unknown_key(e.message()).unwrap_or_default();
            let input = if key.is_empty() {
                format!("{file}:{line}")
            } else {
                format!("{file}:{line}: key '{key}'")
            };
            ConfigError::new(input, e.message().trim().to_string())
        })?;
        Ok(Scenario {
            file: file.to_string(),
            text,
            data,
        })
    }

    /// Provenance for a key of this file.
    pub fn source(&self, key: &str) -> Provenance {
        Provenance::Scenario {
            file: self.file.clone(),
            key: key.to_string(),
        }
    }

    /// A value with its provenance.
    pub fn sourced<T: Clone>(&self, v: &Val<T>, key: &str) -> Sourced<T> {
        Sourced::new(v.get_ref().clone(), self.source(key))
    }

    /// An error about a value, naming file, line and key.
    pub fn error<T>(&self, v: &Val<T>, key: &str, problem: impl Into<String>) -> ConfigError {
        ConfigError::new(
            format!(
                "{}:{}: key '{key}'",
                self.file,
                line_of(&self.text, v.span().start)
            ),
            problem,
        )
    }

    /// Parses a string value with `FromStr`, or an error pointing at it.
    pub fn parse_value<T: FromStr<Err = String>>(
        &self,
        v: &Val<String>,
        key: &str,
    ) -> Result<Sourced<T>, ConfigError> {
        v.get_ref()
            .parse()
            .map(|x| Sourced::new(x, self.source(key)))
            .map_err(|e| self.error(v, key, e))
    }

    /// Parses a duration value (`30s`, `500ms`).
    pub fn duration(&self, v: &Val<String>, key: &str) -> Result<Sourced<Duration>, ConfigError> {
        humantime::parse_duration(v.get_ref())
            .map(|d| Sourced::new(d, self.source(key)))
            .map_err(|e| {
                self.error(
                    v,
                    key,
                    format!("'{}' is not a duration like 30s or 500ms: {e}", v.get_ref()),
                )
            })
    }
}

impl Scenario {
    /// The signals the scenario asks for (all when it does not say).
    pub fn signals(&self) -> Result<Vec<crate::signal::Signal>, ConfigError> {
        let Some(v) = &self.data.signals else {
            return Ok(crate::signal::Signal::ALL.to_vec());
        };
        let mut out = v
            .get_ref()
            .iter()
            .map(|s| s.parse().map_err(|e: String| self.error(v, "signals", e)))
            .collect::<Result<Vec<crate::signal::Signal>, _>>()?;
        out.sort();
        out.dedup();
        Ok(out)
    }

    /// `[export.headers]` as headers with provenance.
    pub fn export_headers(&self) -> Result<Vec<super::headers::Header>, ConfigError> {
        self.headers(&self.data.export.headers, "export.headers")
    }

    /// `[read.headers]` as headers with provenance.
    pub fn read_headers(&self) -> Result<Vec<super::headers::Header>, ConfigError> {
        self.headers(&self.data.read.headers, "read.headers")
    }

    fn headers(
        &self,
        map: &BTreeMap<String, Val<String>>,
        section: &str,
    ) -> Result<Vec<super::headers::Header>, ConfigError> {
        map.iter()
            .map(|(name, v)| {
                // A table key is the header name exactly; an invalid one is quoted cut, in
                // the location as in the message, since it may hold a credential.
                let shown = super::headers::shown_header_name(name);
                let key = format!("{section}.{shown}");
                if !super::headers::valid_header_name(name) {
                    return Err(self.error(
                        v,
                        &key,
                        format!(
                            "'{shown}' is not a valid header name (letters, digits and -_. only)"
                        ),
                    ));
                }
                let mut h =
                    super::headers::parse_header_flag(&format!("{name}={}", v.get_ref()), &key)
                        .map_err(|e| self.error(v, &key, e.problem))?;
                h.source = self.source(&key);
                Ok(h)
            })
            .collect()
    }
}

/// 1-based line number of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// The key named in toml's "unknown field `x`" message.
fn unknown_key(message: &str) -> Option<String> {
    let rest = message.split("unknown field `").nth(1)?;
    Some(rest.split('`').next()?.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_built_in_scenario_parses() {
        for name in built_in_names() {
            Scenario::load(name).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }

    /// Found by fuzzing (scenario_toml): a header table key holding `=` put the text after
    /// it, maybe the credential, into the error's location.
    #[test]
    fn an_invalid_header_key_is_quoted_cut_everywhere() {
        let text = "[export]\nheaders = { \"x-credential=s3cretValue77\" = \"t0\" }\n";
        let sc = Scenario::parse("s.toml", text.into()).unwrap();
        let e = sc.export_headers().unwrap_err();
        assert!(!e.to_string().contains("s3cretValue77"), "{e}");
        assert!(
            e.input.starts_with("s.toml:2: key 'export.headers.x-cr…"),
            "{e}"
        );
        assert!(e.problem.contains("not a valid header name"), "{e}");
    }

    #[test]
    fn unknown_keys_name_file_line_and_key() {
        let text = "description = \"x\"\n[read]\ntempo = \"http://t:3200\"\nlokii = \"http://l\"\n";
        let err = Scenario::parse("s.toml", text.into()).unwrap_err();
        assert_eq!(err.input, "s.toml:4: key 'lokii'");
        assert!(err.problem.contains("unknown field"), "{err}");
    }

    #[test]
    fn bad_values_name_file_line_and_key() {
        let text = "[export]\nprotocol = \"grpcx\"\n[deadlines]\ntrace = \"soon\"\n";
        let s = Scenario::parse("s.toml", text.into()).unwrap();
        let p = s.data.export.protocol.as_ref().unwrap();
        let err = s
            .parse_value::<crate::config::otlp::Protocol>(p, "export.protocol")
            .unwrap_err();
        assert_eq!(err.input, "s.toml:2: key 'export.protocol'");
        let d = s.data.deadlines.trace.as_ref().unwrap();
        let err = s.duration(d, "deadlines.trace").unwrap_err();
        assert_eq!(err.input, "s.toml:4: key 'deadlines.trace'");
        // A wrong type is caught by the parser, with the line.
        let err = Scenario::parse("s.toml", "[read]\nsearch = \"yes\"\n".into()).unwrap_err();
        assert!(err.input.starts_with("s.toml:2"), "{err}");
    }
}
