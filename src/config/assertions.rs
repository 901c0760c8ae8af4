//! Scenario assertions (`[[assert]]`): "and this must hold too". What a dashboard or an
//! alert relies on besides the probe itself (a span-metrics series exists, an app's logs
//! arrive, Tempo knows a service), checked after the probe against the scenario's own
//! backends, tenant and credentials, and reported and counted like a signal.
//!
//! ```toml
//! [[assert]]
//! name = "span metrics exist"
//! promql = 'count(traces_spanmetrics_calls_total) > 0'   # holds when the answer has a series
//!
//! [[assert]]
//! name = "no target down"
//! promql = 'up == 0'
//! expect = "empty"                                        # holds when the answer has none
//!
//! [[assert]]
//! name = "app logs arrive"
//! logql = 'sum(count_over_time({service_name="app"}[5m])) > 0'
//!
//! [[assert]]
//! name = "loki knows app"
//! loki_label = "service_name"
//! contains = "app"
//!
//! [[assert]]
//! name = "tempo knows app"
//! tempo_tag = "resource.service.name"
//! contains = "app"
//! timeout = "20s"                                         # default 10s
//! ```

use super::read::ReadTarget;
use super::scenario::{AssertSection, Scenario, Val};
use super::{ConfigError, Provenance};
use serde::Serialize;
use std::time::Duration;

/// How long an assertion may take to hold: long enough for a scrape or a Loki flush, short
/// enough that a broken one does not hold a one-shot run for long.
pub const DEFAULT_ASSERT_TIMEOUT: Duration = Duration::from_secs(10);

/// The longest assertion name (it is a label value of serve's metrics).
pub const MAX_NAME_LEN: usize = 100;

/// What the answer must look like for a query assertion.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Expect {
    /// At least one series (a comparison in the query filters the others out).
    NonEmpty,
    /// No series at all.
    Empty,
}

impl Expect {
    pub fn as_str(self) -> &'static str {
        match self {
            Expect::NonEmpty => "non-empty",
            Expect::Empty => "empty",
        }
    }
}

/// What an assertion asks, and of which backend.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AssertKind {
    /// An instant query to Mimir/Prometheus.
    Promql { query: String, expect: Expect },
    /// An instant metric query to Loki (`/loki/api/v1/query`).
    Logql { query: String, expect: Expect },
    /// Loki's values of a label (`/loki/api/v1/label/<name>/values`) include a value.
    LokiLabel { label: String, contains: String },
    /// Tempo's values of a tag (`/api/v2/search/tag/<tag>/values`) include a value.
    TempoTag { tag: String, contains: String },
}

impl AssertKind {
    /// `prometheus`/`mimir` (the configured metrics API), `loki` or `tempo`.
    pub fn backend(&self) -> &'static str {
        match self {
            AssertKind::Promql { .. } => "metrics",
            AssertKind::Logql { .. } | AssertKind::LokiLabel { .. } => "loki",
            AssertKind::TempoTag { .. } => "tempo",
        }
    }

    /// The query as a person would retype it.
    pub fn query_text(&self) -> String {
        match self {
            AssertKind::Promql { query, .. } | AssertKind::Logql { query, .. } => query.clone(),
            AssertKind::LokiLabel { label, .. } => format!("GET /loki/api/v1/label/{label}/values"),
            AssertKind::TempoTag { tag, .. } => format!("GET /api/v2/search/tag/{tag}/values"),
        }
    }

    /// What must hold, in words.
    pub fn expectation(&self) -> String {
        match self {
            AssertKind::Promql { expect, .. } | AssertKind::Logql { expect, .. } => match expect {
                Expect::NonEmpty => "at least one series".into(),
                Expect::Empty => "no series".into(),
            },
            AssertKind::LokiLabel { contains, .. } | AssertKind::TempoTag { contains, .. } => {
                format!("the values include \"{contains}\"")
            }
        }
    }
}

/// One resolved assertion.
#[derive(Clone, Debug, PartialEq)]
pub struct AssertionSpec {
    pub name: String,
    pub kind: AssertKind,
    pub timeout: Duration,
    /// The scenario entry it came from (`assert[N]`).
    pub source: Provenance,
}

fn one_query<'a>(
    sc: &Scenario,
    entry: &'a AssertSection,
    key: &str,
) -> Result<(&'static str, &'a Val<String>), ConfigError> {
    let given: Vec<(&'static str, &Val<String>)> = [
        ("promql", entry.promql.as_ref()),
        ("logql", entry.logql.as_ref()),
        ("loki_label", entry.loki_label.as_ref()),
        ("tempo_tag", entry.tempo_tag.as_ref()),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.map(|v| (k, v)))
    .collect();
    match given.as_slice() {
        [one] => Ok(*one),
        [] => Err(sc.error(
            &entry.name,
            key,
            "an assertion needs one of promql, logql, loki_label or tempo_tag",
        )),
        [_, (k, v), ..] => Err(sc.error(
            v,
            &format!("{key}.{k}"),
            format!(
                "an assertion asks one question; this one has {}",
                given
                    .iter()
                    .map(|(k, _)| *k)
                    .collect::<Vec<_>>()
                    .join(" and ")
            ),
        )),
    }
}

/// The `[[assert]]` entries of a scenario, checked against the backends the scenario reads.
pub fn resolve_assertions(
    scenario: Option<&Scenario>,
    read: &ReadTarget,
) -> Result<Vec<AssertionSpec>, ConfigError> {
    let Some(sc) = scenario else {
        return Ok(Vec::new());
    };
    let mut out: Vec<AssertionSpec> = Vec::new();
    for (i, entry) in sc.data.assertions.iter().enumerate() {
        let key = format!("assert[{i}]");
        let name = entry.name.get_ref().trim().to_string();
        let name_key = format!("{key}.name");
        if name.is_empty() {
            return Err(sc.error(&entry.name, &name_key, "an assertion needs a name"));
        }
        if name.chars().count() > MAX_NAME_LEN || name.chars().any(char::is_control) {
            return Err(sc.error(
                &entry.name,
                &name_key,
                format!("a name of at most {MAX_NAME_LEN} printable characters"),
            ));
        }
        if out.iter().any(|a| a.name == name) {
            return Err(sc.error(
                &entry.name,
                &name_key,
                format!("two assertions are named '{name}'; names must be unique"),
            ));
        }
        let (which, value) = one_query(sc, entry, &key)?;
        let query_key = format!("{key}.{which}");
        let text = value.get_ref().trim().to_string();
        if text.is_empty() {
            return Err(sc.error(value, &query_key, "must not be empty"));
        }
        let expect = match &entry.expect {
            None => Expect::NonEmpty,
            Some(v) if matches!(which, "loki_label" | "tempo_tag") => {
                return Err(sc.error(
                    v,
                    &format!("{key}.expect"),
                    format!("{which} takes `contains`, not `expect`"),
                ));
            }
            Some(v) => match v.get_ref().as_str() {
                "non-empty" | "non_empty" => Expect::NonEmpty,
                "empty" => Expect::Empty,
                other => {
                    return Err(sc.error(
                        v,
                        &format!("{key}.expect"),
                        format!("'{other}' is not an expectation (non-empty or empty)"),
                    ));
                }
            },
        };
        let contains = match (&entry.contains, which) {
            (Some(v), "loki_label" | "tempo_tag") => v.get_ref().clone(),
            (None, "loki_label" | "tempo_tag") => {
                return Err(sc.error(
                    value,
                    &query_key,
                    "a label or tag assertion needs `contains = \"value\"`",
                ));
            }
            (Some(v), _) => {
                return Err(sc.error(
                    v,
                    &format!("{key}.contains"),
                    format!("{which} takes `expect`, not `contains`"),
                ));
            }
            (None, _) => String::new(),
        };
        let kind = match which {
            "promql" => AssertKind::Promql {
                query: text,
                expect,
            },
            "logql" => {
                if text.starts_with('{') {
                    return Err(sc.error(
                        value,
                        &query_key,
                        "Loki answers only metric queries at an instant: use one like \
                         sum(count_over_time({service_name=\"app\"}[5m])) > 0",
                    ));
                }
                AssertKind::Logql {
                    query: text,
                    expect,
                }
            }
            "loki_label" => AssertKind::LokiLabel {
                label: text,
                contains,
            },
            _ => AssertKind::TempoTag {
                tag: text,
                contains,
            },
        };
        let missing = match kind.backend() {
            "metrics" if read.metrics.is_none() => Some("read.mimir or read.prometheus"),
            "loki" if read.loki.is_none() => Some("read.loki"),
            "tempo" if read.tempo.is_none() => Some("read.tempo"),
            _ => None,
        };
        if let Some(setting) = missing {
            return Err(sc.error(
                value,
                &query_key,
                format!("no backend to ask: set {setting} (or its flag)"),
            ));
        }
        let timeout = match &entry.timeout {
            Some(v) => {
                let t = sc.duration(v, &format!("{key}.timeout"))?.value;
                if t.is_zero() {
                    return Err(sc.error(v, &format!("{key}.timeout"), "must be longer than zero"));
                }
                t
            }
            None => DEFAULT_ASSERT_TIMEOUT,
        };
        out.push(AssertionSpec {
            name,
            kind,
            timeout,
            source: sc.source(&key),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::env::EnvSnapshot;
    use crate::config::read::{ReadFlags, resolve_read_target};

    fn read_all() -> ReadTarget {
        let flags = ReadFlags {
            tempo: Some("http://t:3200".into()),
            loki: Some("http://l:3100".into()),
            prometheus: Some("http://p:9090".into()),
            ..Default::default()
        };
        resolve_read_target(
            &flags,
            None,
            None,
            &EnvSnapshot::from_pairs::<&str, &str>([]),
        )
        .unwrap()
    }

    fn resolve(text: &str, read: &ReadTarget) -> Result<Vec<AssertionSpec>, ConfigError> {
        let sc = Scenario::parse("s.toml", text.to_string())?;
        resolve_assertions(Some(&sc), read)
    }

    #[test]
    fn every_kind_resolves() {
        let a = resolve(
            r#"
[[assert]]
name = "span metrics"
promql = 'count(traces_spanmetrics_calls_total) > 0'
[[assert]]
name = "none down"
promql = 'up == 0'
expect = "empty"
[[assert]]
name = "logs"
logql = 'sum(count_over_time({service_name="app"}[5m])) > 0'
timeout = "3s"
[[assert]]
name = "loki label"
loki_label = "service_name"
contains = "app"
[[assert]]
name = "tempo tag"
tempo_tag = "resource.service.name"
contains = "app"
"#,
            &read_all(),
        )
        .unwrap();
        assert_eq!(a.len(), 5);
        assert!(matches!(
            &a[1].kind,
            AssertKind::Promql {
                expect: Expect::Empty,
                ..
            }
        ));
        assert_eq!(a[2].timeout, Duration::from_secs(3));
        assert_eq!(a[0].timeout, DEFAULT_ASSERT_TIMEOUT);
        assert_eq!(a[4].kind.backend(), "tempo");
        assert_eq!(a[3].source.to_string(), "scenario s.toml (assert[3])");
    }

    #[test]
    fn mistakes_name_file_line_and_key() {
        let read = read_all();
        let cases = [
            ("[[assert]]\nname = \"a\"\n", "s.toml:2: key 'assert[0]'"),
            (
                "[[assert]]\nname = \"a\"\npromql = 'up'\nlogql = 'x'\n",
                "s.toml:4: key 'assert[0].logql'",
            ),
            (
                "[[assert]]\nname = \"a\"\nloki_label = 'job'\n",
                "s.toml:3: key 'assert[0].loki_label'",
            ),
            (
                "[[assert]]\nname = \"a\"\npromql = 'up'\nexpect = \"some\"\n",
                "s.toml:4: key 'assert[0].expect'",
            ),
            (
                "[[assert]]\nname = \"a\"\npromql = 'up'\ncontains = \"x\"\n",
                "s.toml:4: key 'assert[0].contains'",
            ),
            (
                "[[assert]]\nname = \"a\"\nlogql = '{app=\"x\"}'\n",
                "s.toml:3: key 'assert[0].logql'",
            ),
            (
                "[[assert]]\nname = \"a\"\npromql = 'up'\n[[assert]]\nname = \"a\"\npromql = 'up'\n",
                "s.toml:5: key 'assert[1].name'",
            ),
            (
                "[[assert]]\nname = \"  \"\npromql = 'up'\n",
                "s.toml:2: key 'assert[0].name'",
            ),
            (
                "[[assert]]\nname = \"a\"\npromql = 'up'\ntimeout = \"0s\"\n",
                "s.toml:4: key 'assert[0].timeout'",
            ),
        ];
        for (text, input) in cases {
            let err = resolve(text, &read).unwrap_err();
            assert_eq!(err.input, input, "{text}: {err}");
        }
        let unknown = resolve("[[assert]]\nname = \"a\"\nquery = 'up'\n", &read).unwrap_err();
        assert!(unknown.input.contains("query"), "{unknown}");
        let none = resolve_read_target(
            &ReadFlags::default(),
            None,
            None,
            &EnvSnapshot::from_pairs::<&str, &str>([]),
        )
        .unwrap();
        let err = resolve("[[assert]]\nname = \"a\"\npromql = 'up'\n", &none).unwrap_err();
        assert_eq!(err.input, "s.toml:3: key 'assert[0].promql'");
        assert!(
            err.problem.contains("read.mimir or read.prometheus"),
            "{err}"
        );
    }
}
