//! The Grafana hop's settings: which Grafana to read every signal through again (its datasource
//! proxy), with which credentials, and through which datasource uid per backend. Resolved from
//! flags, then the scenario's `[grafana]` section, then `OTEL_CANARY_GRAFANA_*` variables,
//! keeping the provenance of each value.
//!
//! Credentials never come from the command line itself (a password in argv is visible to every
//! user of the host): a token or password is read from a file or the environment, and the URL
//! may not carry `user:password@`.

use super::env::EnvSnapshot;
use super::headers::Header;
use super::otlp::parse_endpoint;
use super::scenario::{Scenario, Val};
use super::{ConfigError, Provenance, Sourced};
use crate::signal::Signal;
use base64::Engine;
use std::fmt;
use std::path::PathBuf;
use url::Url;

/// The kind of datasource a backend is read through: Grafana's plugin type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DatasourceKind {
    Tempo,
    Loki,
    /// Mimir, Prometheus or VictoriaMetrics: Grafana's `prometheus` plugin type.
    Metrics,
}

impl DatasourceKind {
    pub const ALL: [DatasourceKind; 3] = [
        DatasourceKind::Tempo,
        DatasourceKind::Loki,
        DatasourceKind::Metrics,
    ];

    /// The key in `--grafana-datasource KEY=UID` and `[grafana] datasources`.
    pub fn key(self) -> &'static str {
        match self {
            DatasourceKind::Tempo => "tempo",
            DatasourceKind::Loki => "loki",
            DatasourceKind::Metrics => "metrics",
        }
    }

    /// Grafana's plugin id for this kind (`type` in `/api/datasources`).
    pub fn grafana_type(self) -> &'static str {
        match self {
            DatasourceKind::Tempo => "tempo",
            DatasourceKind::Loki => "loki",
            DatasourceKind::Metrics => "prometheus",
        }
    }

    /// The datasource kind a signal is read through.
    pub fn of(signal: Signal) -> DatasourceKind {
        match signal {
            Signal::Trace => DatasourceKind::Tempo,
            Signal::Log => DatasourceKind::Loki,
            Signal::Metric => DatasourceKind::Metrics,
        }
    }

    fn parse_key(key: &str) -> Option<DatasourceKind> {
        match key.trim().to_ascii_lowercase().as_str() {
            "tempo" | "trace" | "traces" => Some(DatasourceKind::Tempo),
            "loki" | "log" | "logs" => Some(DatasourceKind::Loki),
            "metrics" | "metric" | "mimir" | "prometheus" => Some(DatasourceKind::Metrics),
            _ => None,
        }
    }
}

impl fmt::Display for DatasourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

/// Grafana settings given on the command line.
#[derive(Clone, Debug, Default)]
pub struct GrafanaFlags {
    pub url: Option<String>,
    pub token_file: Option<PathBuf>,
    pub user: Option<String>,
    pub password_file: Option<PathBuf>,
    /// `tempo=UID,loki=UID,metrics=UID`, one or more (each may hold several pairs).
    pub datasources: Vec<String>,
}

/// The datasource uid chosen for each kind, when one was named; the others are discovered
/// from `/api/datasources` by type.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DatasourceUids {
    pub tempo: Option<Sourced<String>>,
    pub loki: Option<Sourced<String>>,
    pub metrics: Option<Sourced<String>>,
}

impl DatasourceUids {
    pub fn get(&self, kind: DatasourceKind) -> Option<&Sourced<String>> {
        match kind {
            DatasourceKind::Tempo => self.tempo.as_ref(),
            DatasourceKind::Loki => self.loki.as_ref(),
            DatasourceKind::Metrics => self.metrics.as_ref(),
        }
    }

    fn slot(&mut self, kind: DatasourceKind) -> &mut Option<Sourced<String>> {
        match kind {
            DatasourceKind::Tempo => &mut self.tempo,
            DatasourceKind::Loki => &mut self.loki,
            DatasourceKind::Metrics => &mut self.metrics,
        }
    }
}

/// The resolved Grafana target.
#[derive(Clone, Debug)]
pub struct GrafanaTarget {
    pub url: Sourced<Url>,
    /// `Authorization` for Grafana (a service-account token or basic auth); secret.
    pub auth: Option<Header>,
    /// The raw token or password, scrubbed from any text shown (the header holds only the
    /// token or base64 of `user:password`).
    pub secrets: Vec<String>,
    pub datasources: DatasourceUids,
}

impl GrafanaTarget {
    /// `the service-account token (flag --grafana-token-file)`: what the credentials are and
    /// where they came from, for hints. Never the value.
    pub fn auth_source(&self) -> String {
        match &self.auth {
            Some(h) if h.value.starts_with("Bearer ") => {
                format!("the service-account token ({})", h.source)
            }
            Some(h) => format!("basic auth ({})", h.source),
            None => "no credentials".to_string(),
        }
    }
}

/// Grafana's own rule for a datasource uid (`util.IsValidShortUID`): letters, digits, `-` and
/// `_`, at most 40 characters.
pub fn valid_uid(uid: &str) -> bool {
    !uid.is_empty()
        && uid.len() <= 40
        && uid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Why `uid` is not a datasource uid, for an error naming its input.
fn uid_problem(uid: &str) -> String {
    format!(
        "'{uid}' is not a Grafana datasource uid (letters, digits, - and _, at most 40 \
         characters; Connections > Data sources shows it in the datasource's URL)"
    )
}

/// Parses `--grafana-datasource tempo=UID,loki=UID,metrics=UID` values into `uids`.
fn parse_datasource_flags(values: &[String], uids: &mut DatasourceUids) -> Result<(), ConfigError> {
    const FLAG: &str = "--grafana-datasource";
    let source = Provenance::flag(FLAG);
    for raw in values.iter().flat_map(|v| v.split(',')) {
        let raw = raw.trim();
        if raw.is_empty() {
            continue;
        }
        let Some((key, uid)) = raw.split_once('=') else {
            return Err(ConfigError::new(
                FLAG,
                format!(
                    "'{raw}' is not KIND=UID (kinds: tempo, loki, metrics), e.g. loki=P8E80F9AEF21F6940"
                ),
            ));
        };
        let kind = DatasourceKind::parse_key(key).ok_or_else(|| {
            ConfigError::new(
                FLAG,
                format!(
                    "'{}' is not a datasource kind: tempo, loki or metrics",
                    key.trim()
                ),
            )
        })?;
        let uid = uid.trim();
        if !valid_uid(uid) {
            return Err(ConfigError::new(FLAG, uid_problem(uid)));
        }
        let slot = uids.slot(kind);
        if let Some(prev) = slot.as_ref().filter(|p| p.value != uid) {
            return Err(ConfigError::new(
                FLAG,
                format!("{kind} is given twice ({} and {uid}); keep one", prev.value),
            ));
        }
        *slot = Some(Sourced::new(uid.to_string(), source.clone()));
    }
    Ok(())
}

fn read_secret_file(path: &PathBuf, source: &Provenance) -> Result<String, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError::at(source, format!("cannot read {}: {e}", path.display())))?;
    let text = text.trim().to_string();
    if text.is_empty() {
        return Err(ConfigError::at(
            source,
            format!("{} is empty", path.display()),
        ));
    }
    if text.contains(['\r', '\n']) {
        return Err(ConfigError::at(
            source,
            format!("{} holds more than one line", path.display()),
        ));
    }
    Ok(text)
}

/// A file path from a flag, else the scenario, with its provenance.
fn file_setting(
    flag: Option<&PathBuf>,
    flag_name: &str,
    scenario: Option<(&Scenario, Option<&Val<PathBuf>>, &str)>,
) -> Option<(PathBuf, Provenance)> {
    if let Some(p) = flag {
        return Some((p.clone(), Provenance::flag(flag_name)));
    }
    if let Some((sc, Some(v), key)) = scenario {
        return Some((v.get_ref().clone(), sc.source(key)));
    }
    None
}

/// The `Authorization` header for Grafana and the raw secret behind it.
fn auth(
    flags: &GrafanaFlags,
    scenario: Option<&Scenario>,
    env: &EnvSnapshot,
) -> Result<Option<(Header, String)>, ConfigError> {
    let sec = scenario.map(|s| (s, &s.data.grafana));
    let token_file = file_setting(
        flags.token_file.as_ref(),
        "--grafana-token-file",
        sec.map(|(s, g)| (s, g.token_file.as_ref(), "grafana.token_file")),
    );
    let token = match token_file {
        Some((path, source)) => Some((read_secret_file(&path, &source)?, source)),
        None => env
            .get("OTEL_CANARY_GRAFANA_TOKEN")
            .map(|t| (t.to_string(), Provenance::env("OTEL_CANARY_GRAFANA_TOKEN"))),
    };
    let user = match (
        &flags.user,
        sec.and_then(|(s, g)| g.user.as_ref().map(|u| (s, u))),
    ) {
        (Some(u), _) => Some((u.clone(), Provenance::flag("--grafana-user"))),
        (None, Some((s, u))) => Some((u.get_ref().clone(), s.source("grafana.user"))),
        (None, None) => env
            .get("OTEL_CANARY_GRAFANA_USER")
            .map(|u| (u.to_string(), Provenance::env("OTEL_CANARY_GRAFANA_USER"))),
    };
    match (token, user) {
        (Some((_, tsrc)), Some((_, usrc))) => Err(ConfigError::at(
            &usrc,
            format!(
                "give Grafana either a service-account token ({tsrc}) or a user and password, \
                 not both"
            ),
        )),
        (Some((token, source)), None) => {
            super::headers::check_one_line_token(&token, &source)?;
            Ok(Some((
                Header {
                    name: "authorization".into(),
                    value: format!("Bearer {token}"),
                    source,
                },
                token,
            )))
        }
        (None, Some((user, source))) => {
            if user.trim().is_empty() || user.contains(':') {
                return Err(ConfigError::at(
                    &source,
                    "a Grafana user name must be non-empty and hold no ':'",
                ));
            }
            let password_file = file_setting(
                flags.password_file.as_ref(),
                "--grafana-password-file",
                sec.map(|(s, g)| (s, g.password_file.as_ref(), "grafana.password_file")),
            );
            let password = match password_file {
                Some((path, psrc)) => read_secret_file(&path, &psrc)?,
                None => match env.get("OTEL_CANARY_GRAFANA_PASSWORD") {
                    Some(p) => p.to_string(),
                    None => {
                        return Err(ConfigError::at(
                            &source,
                            "a Grafana user needs a password: --grafana-password-file FILE \
                             (or grafana.password_file) or OTEL_CANARY_GRAFANA_PASSWORD",
                        ));
                    }
                },
            };
            let creds =
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
            Ok(Some((
                Header {
                    name: "authorization".into(),
                    value: format!("Basic {creds}"),
                    source,
                },
                password,
            )))
        }
        (None, None) => {
            let stray = flags
                .password_file
                .as_ref()
                .map(|_| Provenance::flag("--grafana-password-file"))
                .or_else(|| {
                    sec.and_then(|(s, g)| {
                        g.password_file
                            .as_ref()
                            .map(|_| s.source("grafana.password_file"))
                    })
                });
            match stray {
                Some(src) => Err(ConfigError::at(
                    &src,
                    "a Grafana password without a user: add --grafana-user (or grafana.user)",
                )),
                None => Ok(None),
            }
        }
    }
}

/// Resolves the Grafana target: `None` when no Grafana URL is configured (then the hop is
/// off, and Grafana-only settings given by flag or scenario are an error: they would do
/// nothing).
pub fn resolve_grafana_target(
    flags: &GrafanaFlags,
    scenario: Option<&Scenario>,
    env: &EnvSnapshot,
) -> Result<Option<GrafanaTarget>, ConfigError> {
    let sec = scenario.map(|s| (s, &s.data.grafana));
    let url = match (
        &flags.url,
        sec.and_then(|(s, g)| g.url.as_ref().map(|u| (s, u))),
    ) {
        (Some(u), _) => Some(Sourced::new(u.clone(), Provenance::flag("--grafana"))),
        (None, Some((s, u))) => Some(s.sourced(u, "grafana.url")),
        (None, None) => env
            .get("OTEL_CANARY_GRAFANA_URL")
            .map(|u| Sourced::new(u.to_string(), Provenance::env("OTEL_CANARY_GRAFANA_URL"))),
    };
    let Some(url) = url else {
        let stray = [
            (flags.token_file.is_some(), "--grafana-token-file"),
            (flags.user.is_some(), "--grafana-user"),
            (flags.password_file.is_some(), "--grafana-password-file"),
            (!flags.datasources.is_empty(), "--grafana-datasource"),
        ]
        .into_iter()
        .find(|(set, _)| *set);
        if let Some((_, flag)) = stray {
            return Err(ConfigError::new(
                flag,
                "has no effect without a Grafana to read through: add --grafana URL (or \
                 [grafana] url, or OTEL_CANARY_GRAFANA_URL)",
            ));
        }
        if let Some((s, g)) = sec
            && (g.token_file.is_some()
                || g.user.is_some()
                || g.password_file.is_some()
                || g.datasources.is_some())
        {
            return Err(ConfigError::new(
                format!("{}: section [grafana]", s.file),
                "has settings but no url: add url = \"http://grafana:3000\"",
            ));
        }
        return Ok(None);
    };
    let parsed = parse_endpoint(&url.value, &url.source)?;
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(ConfigError::at(
            &url.source,
            "the Grafana URL carries credentials: put the token in --grafana-token-file (or \
             OTEL_CANARY_GRAFANA_TOKEN), or the user in --grafana-user and the password in \
             --grafana-password-file (or OTEL_CANARY_GRAFANA_PASSWORD)",
        ));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(ConfigError::at(
            &url.source,
            format!(
                "'{}': give Grafana's base URL without ?query or #fragment",
                crate::redact::redact_urls_in_text(&url.value)
            ),
        ));
    }
    let url = Sourced::new(parsed, url.source);

    let mut datasources = DatasourceUids::default();
    parse_datasource_flags(&flags.datasources, &mut datasources)?;
    if let Some((s, g)) = sec
        && let Some(ds) = &g.datasources
    {
        for (kind, v) in [
            (DatasourceKind::Tempo, &ds.tempo),
            (DatasourceKind::Loki, &ds.loki),
            (DatasourceKind::Metrics, &ds.metrics),
        ] {
            let Some(v) = v else { continue };
            let key = format!("grafana.datasources.{}", kind.key());
            let slot = datasources.slot(kind);
            if slot.is_some() {
                continue; // the flag wins
            }
            if !valid_uid(v.get_ref()) {
                return Err(s.error(v, &key, uid_problem(v.get_ref())));
            }
            *slot = Some(s.sourced(v, &key));
        }
    }
    if let Some(raw) = env.get("OTEL_CANARY_GRAFANA_DATASOURCES") {
        let mut from_env = DatasourceUids::default();
        parse_datasource_flags(&[raw.to_string()], &mut from_env)
            .map_err(|e| ConfigError::new("env OTEL_CANARY_GRAFANA_DATASOURCES", e.problem))?;
        for kind in DatasourceKind::ALL {
            let slot = datasources.slot(kind);
            if slot.is_none()
                && let Some(v) = from_env.get(kind)
            {
                *slot = Some(Sourced::new(
                    v.value.clone(),
                    Provenance::env("OTEL_CANARY_GRAFANA_DATASOURCES"),
                ));
            }
        }
    }

    let (auth, secrets) = match auth(flags, scenario, env)? {
        Some((h, secret)) => (Some(h), vec![secret]),
        None => (None, Vec::new()),
    };
    Ok(Some(GrafanaTarget {
        url,
        auth,
        secrets,
        datasources,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn env(pairs: &[(&str, &str)]) -> EnvSnapshot {
        EnvSnapshot::from_pairs(pairs.iter().copied())
    }

    fn secret_file(text: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        write!(f, "{text}").unwrap();
        f
    }

    #[test]
    fn no_url_means_no_hop_and_stray_flags_are_errors() {
        assert!(
            resolve_grafana_target(&GrafanaFlags::default(), None, &env(&[]))
                .unwrap()
                .is_none()
        );
        let err = resolve_grafana_target(
            &GrafanaFlags {
                datasources: vec!["loki=abc".into()],
                ..Default::default()
            },
            None,
            &env(&[]),
        )
        .unwrap_err();
        assert_eq!(err.input, "--grafana-datasource");
        // A token in the environment alone is fine: the hop is just off.
        assert!(
            resolve_grafana_target(
                &GrafanaFlags::default(),
                None,
                &env(&[("OTEL_CANARY_GRAFANA_TOKEN", "glsa_x")])
            )
            .unwrap()
            .is_none()
        );
    }

    #[test]
    fn flags_beat_scenario_beats_env_for_url_and_uids() {
        let sc = Scenario::parse(
            "s.toml",
            "[grafana]\nurl = \"http://file-grafana:3000\"\ndatasources = { loki = \"file-loki\", metrics = \"file-mimir\" }\n"
                .into(),
        )
        .unwrap();
        let flags = GrafanaFlags {
            url: Some("http://flag-grafana:3000".into()),
            datasources: vec!["loki=flag-loki".into()],
            ..Default::default()
        };
        let e = env(&[
            ("OTEL_CANARY_GRAFANA_URL", "http://env-grafana:3000"),
            (
                "OTEL_CANARY_GRAFANA_DATASOURCES",
                "tempo=env-tempo,metrics=env-mimir",
            ),
        ]);
        let t = resolve_grafana_target(&flags, Some(&sc), &e)
            .unwrap()
            .unwrap();
        assert_eq!(t.url.value.host_str(), Some("flag-grafana"));
        assert_eq!(t.url.source, Provenance::flag("--grafana"));
        let loki = t.datasources.loki.unwrap();
        assert_eq!(loki.value, "flag-loki");
        assert_eq!(loki.source, Provenance::flag("--grafana-datasource"));
        let metrics = t.datasources.metrics.unwrap();
        assert_eq!(metrics.value, "file-mimir");
        assert_eq!(metrics.source, sc.source("grafana.datasources.metrics"));
        let tempo = t.datasources.tempo.unwrap();
        assert_eq!(tempo.value, "env-tempo");
        assert_eq!(
            tempo.source,
            Provenance::env("OTEL_CANARY_GRAFANA_DATASOURCES")
        );

        let t = resolve_grafana_target(&GrafanaFlags::default(), Some(&sc), &e)
            .unwrap()
            .unwrap();
        assert_eq!(t.url.source, sc.source("grafana.url"));
        let t = resolve_grafana_target(&GrafanaFlags::default(), None, &e)
            .unwrap()
            .unwrap();
        assert_eq!(t.url.source, Provenance::env("OTEL_CANARY_GRAFANA_URL"));
    }

    #[test]
    fn bad_datasource_values_name_the_input() {
        let bad = |v: &str| {
            resolve_grafana_target(
                &GrafanaFlags {
                    url: Some("http://g:3000".into()),
                    datasources: vec![v.into()],
                    ..Default::default()
                },
                None,
                &env(&[]),
            )
            .unwrap_err()
        };
        for v in [
            "loki",
            "jaeger=abc",
            "loki=has space",
            "loki=",
            "loki=a,loki=b",
        ] {
            let err = bad(v);
            assert_eq!(err.input, "--grafana-datasource", "{v}: {err}");
        }
        assert!(bad("jaeger=abc").problem.contains("tempo, loki or metrics"));
        let ok = resolve_grafana_target(
            &GrafanaFlags {
                url: Some("http://g:3000".into()),
                datasources: vec!["mimir=m1".into(), "tempo=t_1,logs=l-1".into()],
                ..Default::default()
            },
            None,
            &env(&[]),
        )
        .unwrap()
        .unwrap();
        assert_eq!(ok.datasources.metrics.unwrap().value, "m1");
        assert_eq!(ok.datasources.tempo.unwrap().value, "t_1");
        assert_eq!(ok.datasources.loki.unwrap().value, "l-1");

        let sc = Scenario::parse(
            "s.toml",
            "[grafana]\nurl = \"http://g:3000\"\n\ndatasources = { loki = \"not valid!\" }\n"
                .into(),
        )
        .unwrap();
        let err =
            resolve_grafana_target(&GrafanaFlags::default(), Some(&sc), &env(&[])).unwrap_err();
        assert_eq!(err.input, "s.toml:4: key 'grafana.datasources.loki'");
        let err = Scenario::parse(
            "s.toml",
            "[grafana]\nurl = \"http://g:3000\"\ndatasources = { jaeger = \"x\" }\n".into(),
        )
        .unwrap_err();
        assert!(err.input.contains("key 'jaeger'"), "{err}");
    }

    #[test]
    fn credentials_come_from_files_or_env_never_the_url() {
        let token = secret_file("glsa_secret_token_123\n");
        let t = resolve_grafana_target(
            &GrafanaFlags {
                url: Some("http://g:3000".into()),
                token_file: Some(token.path().to_path_buf()),
                ..Default::default()
            },
            None,
            &env(&[]),
        )
        .unwrap()
        .unwrap();
        let h = t.auth.as_ref().unwrap();
        assert_eq!(h.value, "Bearer glsa_secret_token_123");
        assert!(h.is_secret());
        assert_eq!(t.secrets, ["glsa_secret_token_123"]);
        assert!(!t.auth_source().contains("glsa_"));

        let t = resolve_grafana_target(
            &GrafanaFlags {
                url: Some("http://g:3000".into()),
                user: Some("canary".into()),
                ..Default::default()
            },
            None,
            &env(&[("OTEL_CANARY_GRAFANA_PASSWORD", "hunter22")]),
        )
        .unwrap()
        .unwrap();
        assert!(t.auth.as_ref().unwrap().value.starts_with("Basic "));
        assert_eq!(t.secrets, ["hunter22"]);

        let err = resolve_grafana_target(
            &GrafanaFlags {
                url: Some("http://g:3000".into()),
                user: Some("canary".into()),
                ..Default::default()
            },
            None,
            &env(&[]),
        )
        .unwrap_err();
        assert_eq!(err.input, "flag --grafana-user");
        assert!(err.problem.contains("needs a password"));

        let err = resolve_grafana_target(
            &GrafanaFlags {
                url: Some("http://admin:hunter22@g:3000".into()),
                ..Default::default()
            },
            None,
            &env(&[]),
        )
        .unwrap_err();
        assert_eq!(err.input, "flag --grafana");
        assert!(!err.to_string().contains("hunter22"), "{err}");

        let err = resolve_grafana_target(
            &GrafanaFlags {
                url: Some("http://g:3000".into()),
                user: Some("canary".into()),
                ..Default::default()
            },
            None,
            &env(&[
                ("OTEL_CANARY_GRAFANA_PASSWORD", "p"),
                ("OTEL_CANARY_GRAFANA_TOKEN", "glsa_x"),
            ]),
        )
        .unwrap_err();
        assert!(err.problem.contains("not both"), "{err}");

        let empty = secret_file("  \n");
        let err = resolve_grafana_target(
            &GrafanaFlags {
                url: Some("http://g:3000".into()),
                token_file: Some(empty.path().to_path_buf()),
                ..Default::default()
            },
            None,
            &env(&[]),
        )
        .unwrap_err();
        assert_eq!(err.input, "flag --grafana-token-file");
        assert!(err.problem.contains("is empty"));
    }
}
