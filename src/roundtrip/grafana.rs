//! The `grafana` hop (incident 10: datasources exist and report healthy, dashboards show no
//! data). Once a signal is visible directly, it is read once more through Grafana's datasource
//! proxy with the same query and the same judging (the Tempo, Loki and PromQL readers, rebased
//! on `/api/datasources/proxy/uid/<uid>`), so an ok proves the Grafana -> backend hop and the
//! datasource uid dashboards use.
//!
//! The data is already stored, so the hop polls only briefly: min(5 s, what is left of the
//! signal's deadline), at least 1 s, never past a `run_until` cap. A failure names its cause:
//! the datasource missing (and which of its type exist), of another type, pointing at another
//! backend (visible directly, not through Grafana; its URL from `/api/datasources/uid`),
//! pointing at nothing (Grafana's 502), the canary's credentials refused (401) or short of
//! permission (403), the datasource without the tenant header the backend needs (the
//! backend's 401 arrives as Grafana's 400 `Authentication to data source failed`), or Grafana
//! unreachable (with `/api/health`'s answer). Reasons stay in the closed set: `not_found`
//! when Grafana answered but never showed the signal, `query_failed` for every refusal.

use super::outcome::{Clue, Hop, HopName, Reason, SignalOutcome, Status};
use super::{Progress, ProgressEvent, RoundTrip, Window, backend_title, insert_before_total};
use crate::backends::grafana::{Datasource, Discovery, GrafanaClient, discover, grafana_message};
use crate::backends::loki::LokiReader;
use crate::backends::prometheus::PrometheusReader;
use crate::backends::tempo::TempoReader;
use crate::backends::{QueryError, ReadClient};
use crate::config::grafana::{DatasourceKind, GrafanaTarget};
use crate::config::headers::Header;
use crate::config::read::{Backend, ReadTarget};
use crate::config::{ConfigError, Provenance};
use crate::diagnose::error_class::ErrorClass;
use crate::poll::{LastRead, PollEnd, Read, poll};
use crate::probe::Probe;
use crate::redact::{redact_url, scrub};
use crate::signal::Signal;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;
use url::Url;

/// The longest the hop polls: the data is already stored, so Grafana should show it at once.
pub const GRAFANA_HOP_TIMEOUT: Duration = Duration::from_secs(5);
/// The hop gets at least this long, even when the signal's own deadline is nearly spent.
const GRAFANA_HOP_MIN: Duration = Duration::from_secs(1);

/// A prepared Grafana hop: the client carrying Grafana's credentials (only those: a tenant
/// header sent to Grafana would be forwarded and hide a datasource lacking its own) and the
/// datasources found by type so far.
pub(super) struct GrafanaHop {
    target: GrafanaTarget,
    client: GrafanaClient,
    found: Mutex<BTreeMap<DatasourceKind, Datasource>>,
}

/// Which datasource a kind is read through, and what chose it.
struct Choice {
    uid: String,
    how: String,
}

/// Why no datasource could be chosen.
enum Unresolved {
    ListFailed(QueryError),
    NoneOfType(Vec<Datasource>),
    Several(Vec<Datasource>),
}

impl GrafanaHop {
    pub(super) fn new(read: &ReadTarget) -> Result<Option<GrafanaHop>, ConfigError> {
        let Some(t) = &read.grafana else {
            return Ok(None);
        };
        let client = ReadClient::new(
            &t.url.value,
            t.auth.iter().cloned().collect(),
            &read.tls,
            read.query_timeout.value,
        )?;
        Ok(Some(GrafanaHop {
            target: t.clone(),
            client: GrafanaClient::new(client, t.url.value.clone()),
            found: Mutex::new(BTreeMap::new()),
        }))
    }

    fn grafana(&self) -> String {
        redact_url(&self.target.url.value)
            .as_str()
            .trim_end_matches('/')
            .to_string()
    }

    /// Removes every credential from text shown to people.
    fn clean(&self, text: &str) -> String {
        let mut headers: Vec<Header> = self.target.auth.iter().cloned().collect();
        headers.extend(self.target.secrets.iter().map(|s| Header {
            name: "authorization".into(),
            value: s.clone(),
            source: Provenance::Default,
        }));
        scrub(text, &headers, &self.target.url.value)
    }

    /// The datasource for `kind`: the one named, else the only one of its type. One list
    /// answers every kind; what it found is kept for later probes.
    async fn choose(&self, kind: DatasourceKind) -> Result<Choice, Unresolved> {
        if let Some(uid) = self.target.datasources.get(kind) {
            return Ok(Choice {
                uid: uid.value.clone(),
                how: format!("chosen by {}", uid.source),
            });
        }
        let by_type = |d: &Datasource| Choice {
            uid: d.uid.clone(),
            how: format!("the one {} datasource", kind.grafana_type()),
        };
        let mut found = self.found.lock().await;
        if let Some(d) = found.get(&kind) {
            return Ok(by_type(d));
        }
        let list = self
            .client
            .datasources()
            .await
            .map_err(Unresolved::ListFailed)?;
        for k in DatasourceKind::ALL {
            if let Discovery::Found(d) = discover(&list, k) {
                found.insert(k, d);
            }
        }
        match discover(&list, kind) {
            Discovery::Found(d) => Ok(by_type(&d)),
            Discovery::NoneOfType(all) => Err(Unresolved::NoneOfType(all)),
            Discovery::Several(ds) => Err(Unresolved::Several(ds)),
        }
    }

    /// Forgets a datasource found by type (it vanished: look again next probe).
    async fn forget(&self, kind: DatasourceKind) {
        self.found.lock().await.remove(&kind);
    }

    /// The text for several datasources of one type: a configuration choice only the user can
    /// make.
    fn several_text(
        &self,
        kind: DatasourceKind,
        ds: &[Datasource],
        direct: Option<&Url>,
    ) -> String {
        let names: Vec<String> = ds
            .iter()
            .map(|d| {
                let here = direct.is_some_and(|u| same_place(&d.url, u));
                format!(
                    "{}{}",
                    d.describe(),
                    if here {
                        " (the backend read directly)"
                    } else {
                        ""
                    }
                )
            })
            .collect();
        format!(
            "Grafana at {} has {} {} datasources: {}; name the one your dashboards use with \
             --grafana-datasource {}=UID (or datasources = {{ {} = \"UID\" }} in [grafana])",
            self.grafana(),
            ds.len(),
            kind.grafana_type(),
            names.join(", "),
            kind.key(),
            kind.key()
        )
    }
}

/// True when a datasource URL and a read URL name the same server and path (loopback names
/// count as one host).
fn same_place(datasource_url: &str, direct: &Url) -> bool {
    let Ok(d) = Url::parse(datasource_url) else {
        return false;
    };
    let host = |u: &Url| match u.host_str() {
        Some("localhost" | "127.0.0.1" | "[::1]" | "::1") => "loopback".to_string(),
        Some(h) => h.to_ascii_lowercase(),
        None => String::new(),
    };
    d.scheme() == direct.scheme()
        && host(&d) == host(direct)
        && d.port_or_known_default() == direct.port_or_known_default()
        && d.path().trim_end_matches('/') == direct.path().trim_end_matches('/')
}

/// The backend reader of a signal, rebased on a datasource's proxy URL.
enum Through {
    Trace(TempoReader),
    Log(LokiReader),
    Metric(PrometheusReader),
}

impl Through {
    async fn read(&self, probe: &Probe) -> Read<String, QueryError> {
        match self {
            Through::Trace(r) => erase(r.read_trace(probe).await, |s| {
                format!("{} span(s) by id via {}", s.spans, s.api)
            }),
            Through::Log(r) => erase(r.read_log(probe).await, |_| "the probe's log line".into()),
            Through::Metric(r) => erase(r.read_marker(probe).await, |m| {
                format!("the marker series with value {}", m.value)
            }),
        }
    }
}

/// A read's outcome with what was seen as text. Grafana's own proxy errors (502 or 504 with an
/// empty body: the datasource's URL answers nothing) end the hop at once: retrying within its
/// few seconds will not change where the datasource points.
fn erase<T>(r: Read<T, QueryError>, seen: impl FnOnce(T) -> String) -> Read<String, QueryError> {
    match r {
        Read::Visible(v) => Read::Visible(seen(v)),
        Read::NotYet(s) => Read::NotYet(s),
        Read::Partial(s) => Read::Partial(s),
        Read::Retry(e) if proxy_error(&e) => Read::Refused(e),
        Read::Retry(e) => Read::Retry(e),
        Read::Unanswered(e) => Read::Unanswered(e),
        Read::Refused(e) => Read::Refused(e),
    }
}

/// Grafana's reverse proxy error answer: 502 or 504 and nothing else.
fn proxy_error(e: &QueryError) -> bool {
    matches!(e.status, Some(502 | 504)) && e.message.ends_with("with an empty body")
}

/// What the hop says about the direct read it compares with.
struct Direct<'a> {
    backend: &'static str,
    backend_cfg: &'a Backend,
    /// The tenant the direct read sent, if any.
    tenant: Option<String>,
    /// The direct read sent credentials of its own (`--read-user`, `--read-token-file`).
    credentials: Option<String>,
}

/// A failed hop: its reason, the hop's short detail and the hint.
struct Verdict {
    reason: Reason,
    detail: String,
    hint: String,
}

impl Verdict {
    fn refused(detail: impl Into<String>, hint: impl Into<String>) -> Verdict {
        Verdict {
            reason: Reason::QueryFailed,
            detail: detail.into(),
            hint: hint.into(),
        }
    }
}

fn fmt_budget(d: Duration) -> String {
    format!("{:.1}s", d.as_secs_f64())
}

fn is_transport(e: &QueryError) -> bool {
    e.status.is_none() && !matches!(e.class, ErrorClass::Body | ErrorClass::HttpStatus)
}

impl RoundTrip {
    /// Settles the Grafana datasources before a one-shot `run`: several datasources of one type
    /// and none named is a configuration mistake (exit 2), said before anything is sent. Every
    /// other problem (Grafana down, no datasource of a type) is left to the hop, which reports
    /// it as a failure of that signal.
    ///
    /// The look is one of the reads before the probe: bounded by `PRE_PROBE_BUDGET`, and the
    /// time it takes comes out of the probe's `OVERRUN`. A Grafana that does not answer in
    /// time is left to the hop too.
    pub async fn resolve_grafana(&self) -> Result<(), ConfigError> {
        let Some(g) = &self.grafana else {
            return Ok(());
        };
        let started = Instant::now();
        let look = async {
            for signal in self.signals() {
                let Some(direct) = self.direct_backend(signal) else {
                    continue;
                };
                let kind = DatasourceKind::of(signal);
                if let Err(Unresolved::Several(ds)) = g.choose(kind).await {
                    return Err(ConfigError::new(
                        "--grafana-datasource",
                        g.clean(&g.several_text(kind, &ds, Some(&direct.api_base))),
                    ));
                }
            }
            Ok(())
        };
        let result = tokio::time::timeout(super::post_mortem::PRE_PROBE_BUDGET, look)
            .await
            .unwrap_or(Ok(()));
        *self.preflight.lock().expect("preflight lock") += started.elapsed();
        result
    }

    fn direct_backend(&self, signal: Signal) -> Option<&Backend> {
        match signal {
            Signal::Trace => self.tempo.as_ref().and(self.read.tempo.as_ref()),
            Signal::Log => self.loki.as_ref().and(self.read.loki.as_ref()),
            Signal::Metric => self
                .metrics
                .as_ref()
                .and(self.read.metrics.as_ref().map(|(_, b)| b)),
        }
    }

    /// A skipped `grafana` hop for a signal that never got as far (its export failed).
    pub(super) fn grafana_not_reached(&self, out: &mut SignalOutcome) {
        if self.grafana.is_some() {
            out.hops.push(skipped(
                "the export failed: nothing to read through Grafana",
            ));
        }
    }

    /// Adds the `grafana` hop (before `total`), with its clues when it fails.
    pub(super) async fn grafana_hop(
        &self,
        probe: &Probe,
        window: Window,
        out: &mut SignalOutcome,
        progress: &dyn Progress,
    ) {
        let Some(g) = &self.grafana else {
            return;
        };
        let hop = self.grafana_read(g, probe, window, out, progress).await;
        insert_before_total(&mut out.hops, hop);
    }

    async fn grafana_read(
        &self,
        g: &GrafanaHop,
        probe: &Probe,
        window: Window,
        out: &mut SignalOutcome,
        progress: &dyn Progress,
    ) -> Hop {
        let signal = out.signal;
        let Some(backend_cfg) = self.direct_backend(signal) else {
            return skipped(&format!(
                "no direct read of the {signal} to compare with (give its backend's URL too)"
            ));
        };
        if out
            .hop(HopName::Ingest)
            .is_none_or(|h| h.status != Status::Ok)
        {
            return skipped("not visible directly, so not read through Grafana");
        }
        let direct = Direct {
            backend: out
                .read
                .as_ref()
                .map(|r| backend_title(r.backend))
                .unwrap_or("the backend"),
            backend_cfg,
            tenant: self
                .read
                .headers
                .iter()
                .find(|h| h.name == "x-scope-orgid")
                .map(|h| h.value.clone()),
            credentials: self
                .read
                .headers
                .iter()
                .find(|h| h.name == "authorization")
                .map(|h| h.source.to_string()),
        };
        let kind = DatasourceKind::of(signal);
        let mut clues = Vec::new();
        // Everything the hop does (finding the datasource, its settings, the reads, the
        // diagnosis) ends by `end`: min(5 s, what is left of the deadline), at least
        // GRAFANA_HOP_MIN as far as the signal's overrun allows, never past the cap.
        let now = Instant::now();
        let least = now + GRAFANA_HOP_MIN.min(window.overrun);
        let end = window.limit((now + GRAFANA_HOP_TIMEOUT).min(window.deadline.max(least)));
        let budget = end.saturating_duration_since(now);
        let hop = async {
            match g.choose(kind).await {
                Err(u) => {
                    let v = self
                        .unresolved(g, kind, signal, &direct, u, &mut clues)
                        .await;
                    Err((Hop::failed(HopName::Grafana, v.reason, v.detail), v.hint))
                }
                Ok(choice) => {
                    self.through_datasource(
                        g, &choice, probe, window, end, signal, &direct, progress, &mut clues,
                    )
                    .await
                }
            }
        };
        let (hop, hint) = match tokio::time::timeout_at(end.into(), hop).await {
            Ok(Ok(hop)) => return hop,
            Ok(Err(failed)) => failed,
            Err(_) => {
                let v = silent(g, signal, &direct, budget, None);
                (Hop::failed(HopName::Grafana, v.reason, v.detail), v.hint)
            }
        };
        let hop = Hop {
            detail: hop.detail.map(|d| g.clean(&d)),
            ..hop
        };
        for c in &mut clues {
            c.finding = g.clean(&c.finding);
        }
        clues.push(Clue::new("grafana", g.clean(&hint)).explaining());
        out.clues.extend(clues);
        hop
    }

    /// Reads the signal through one datasource: the ok hop, or the failed hop and its hint.
    #[allow(clippy::too_many_arguments)]
    async fn through_datasource(
        &self,
        g: &GrafanaHop,
        choice: &Choice,
        probe: &Probe,
        window: Window,
        end: Instant,
        signal: Signal,
        direct: &Direct<'_>,
        progress: &dyn Progress,
        clues: &mut Vec<Clue>,
    ) -> Result<Hop, (Hop, String)> {
        let kind = DatasourceKind::of(signal);
        let uid = choice.uid.as_str();
        let fail = |v: Verdict| {
            (
                Hop::failed(
                    HopName::Grafana,
                    v.reason,
                    format!("datasource `{uid}`: {}", v.detail),
                ),
                v.hint,
            )
        };
        // Its settings, to explain a failure (needs datasources:read: best effort).
        let ds = match g.client.datasource(uid).await {
            Ok(Some(ds)) => {
                clues.push(Clue::new("grafana_datasource", settings_text(&ds)));
                if ds.kind != kind.grafana_type() {
                    return Err(fail(Verdict::refused(
                        format!("a {} datasource, not {}", ds.kind, kind.grafana_type()),
                        format!(
                            "datasource `{uid}` ({}) is a {} datasource, not {}: the {signal} \
                             cannot be read through it; name the {} datasource with \
                             --grafana-datasource {}=UID",
                            choice.how,
                            ds.kind,
                            kind.grafana_type(),
                            kind.grafana_type(),
                            kind.key()
                        ),
                    )));
                }
                Some(ds)
            }
            Ok(None) => {
                g.forget(kind).await;
                let v = self.missing(g, kind, choice, direct).await;
                return Err(fail(v));
            }
            Err(e) if e.status == Some(401) => return Err(fail(auth_refused(g, &e))),
            Err(e) if is_transport(&e) => {
                return Err(fail(unreachable(g, &e, uid, clues).await));
            }
            Err(e) => {
                clues.push(Clue::new(
                    "grafana_datasource",
                    format!("the settings of datasource `{uid}` are not readable ({e}): its URL and headers are unknown"),
                ));
                None
            }
        };

        let client = g.client.client().clone();
        let base = g.client.proxy_base(uid);
        let reader = match signal {
            Signal::Trace => Through::Trace(
                self.tempo
                    .as_ref()
                    .expect("a direct reader")
                    .through(client, base),
            ),
            Signal::Log => Through::Log(
                self.loki
                    .as_ref()
                    .expect("a direct reader")
                    .through(client, base),
            ),
            Signal::Metric => Through::Metric(
                self.metrics
                    .as_ref()
                    .expect("a direct reader")
                    .reader
                    .through(client, base),
            ),
        };
        let started = Instant::now();
        let deadline = end;
        let budget = deadline.saturating_duration_since(started);
        let mut queries = 0;
        let polled = poll(started.into(), deadline.into(), self.policy, || {
            queries += 1;
            progress.event(
                signal,
                ProgressEvent::Polling {
                    backend: "grafana",
                    queries,
                },
            );
            reader.read(probe)
        })
        .await;
        let queries = Some(polled.queries);
        // On the axis of the other hops: seconds after the export ack.
        let shift = started.saturating_duration_since(window.ack).as_secs_f64();
        let reads: Vec<f64> = polled.reads.iter().map(|r| r + shift).collect();
        let verdict = match polled.end {
            PollEnd::Found(seen, vis) => {
                let mut detail = format!(
                    "datasource `{uid}` ({}) at {}: {seen}",
                    choice.how,
                    g.grafana()
                );
                if polled.queries > 1 {
                    detail.push_str(&format!(", visible after {:.2}s", vis.by));
                }
                return Ok(Hop {
                    queries,
                    reads,
                    detail: Some(g.clean(&detail)),
                    ..Hop::ok(HopName::Grafana, vis.query_seconds)
                });
            }
            PollEnd::Refused { error, .. } => {
                self.refused(g, kind, choice, direct, ds.as_ref(), &error, clues)
                    .await
            }
            PollEnd::Deadline {
                last: LastRead::NotThere,
                last_seen,
                partial,
                ..
            } => elsewhere(
                signal,
                choice,
                direct,
                ds.as_ref(),
                last_seen.as_deref(),
                partial,
                budget,
            ),
            PollEnd::Deadline {
                last: LastRead::Unanswered | LastRead::None,
                last_error,
                unanswered,
                ..
            } => silent(
                g,
                signal,
                direct,
                budget,
                Some((unanswered, polled.queries, last_error)),
            ),
            PollEnd::Deadline {
                last_error: Some(error),
                ..
            } => {
                self.refused(g, kind, choice, direct, ds.as_ref(), &error, clues)
                    .await
            }
            PollEnd::Deadline {
                last_seen,
                partial,
                last_error: None,
                ..
            } => elsewhere(
                signal,
                choice,
                direct,
                ds.as_ref(),
                last_seen.as_deref(),
                partial,
                budget,
            ),
        };
        let (mut hop, hint) = fail(verdict);
        hop.queries = queries;
        hop.reads = reads;
        Err((hop, hint))
    }

    /// Why a datasource read was refused.
    #[allow(clippy::too_many_arguments)]
    async fn refused(
        &self,
        g: &GrafanaHop,
        kind: DatasourceKind,
        choice: &Choice,
        direct: &Direct<'_>,
        ds: Option<&Datasource>,
        e: &QueryError,
        clues: &mut Vec<Clue>,
    ) -> Verdict {
        let uid = choice.uid.as_str();
        let b = direct.backend;
        let msg = grafana_message(&e.message);
        let ds_url = ds
            .map(|d| d.url.clone())
            .filter(|u| !u.is_empty())
            .unwrap_or_else(|| "its URL".into());
        let direct_url = redact_url(&direct.backend_cfg.url.value).to_string();
        match e.status {
            None if is_transport(e) => unreachable(g, e, uid, clues).await,
            Some(401) if !msg.contains("no org id") => auth_refused(g, e),
            Some(400) if msg.contains("Authentication to data source failed") => {
                backend_auth(uid, direct, ds, e)
            }
            Some(401) => backend_auth(uid, direct, ds, e),
            Some(403) if msg.contains("whitelist") => Verdict::refused(
                e.to_string(),
                format!(
                    "Grafana refused to proxy to datasource `{uid}` ({ds_url}): its host is not \
                     in Grafana's [security] data_source_proxy_whitelist ({msg})"
                ),
            ),
            Some(403) => Verdict::refused(
                e.to_string(),
                format!(
                    "Grafana denied the query through datasource `{uid}` (HTTP 403: {msg}): \
                     {} needs the Viewer role, or the datasources:query permission on `{uid}`",
                    g.target.auth_source()
                ),
            ),
            Some(404)
                if msg.contains("Unable to find datasource")
                    || msg.contains("Data source not found") =>
            {
                g.forget(kind).await;
                self.missing(g, kind, choice, direct).await
            }
            Some(404) => Verdict::refused(
                e.to_string(),
                format!(
                    "datasource `{uid}` points at {ds_url}, which has no {b} API where the \
                     canary reads ({msg}); the canary reads {b} at {direct_url}{}",
                    if kind == DatasourceKind::Metrics {
                        " (a Mimir datasource's URL ends in /prometheus)"
                    } else {
                        ""
                    }
                ),
            ),
            Some(502) => Verdict::refused(
                "HTTP 502 Bad Gateway from Grafana's data proxy",
                format!(
                    "Grafana cannot reach the URL of datasource `{uid}` ({ds_url}): its data \
                     proxy answered 502 Bad Gateway (nothing answers there, or Grafana's network \
                     cannot reach it), while the canary reads {b} directly at {direct_url}: \
                     point the datasource there"
                ),
            ),
            Some(504) => Verdict::refused(
                "HTTP 504 Gateway Timeout from Grafana's data proxy",
                format!(
                    "datasource `{uid}` ({ds_url}) did not answer Grafana in time (504 Gateway \
                     Timeout from the data proxy), while the canary reads {b} directly at \
                     {direct_url}: a firewall, or a wrong host or port in the datasource"
                ),
            ),
            Some(s) if s >= 500 => Verdict::refused(
                e.to_string(),
                format!(
                    "{b} behind datasource `{uid}` ({ds_url}) answered Grafana with HTTP {s}: \
                     {msg}"
                ),
            ),
            _ if e.class == ErrorClass::Body => Verdict::refused(
                e.to_string(),
                format!(
                    "Grafana's answer through datasource `{uid}` is not a {b} answer ({msg}): is \
                     `{uid}` ({ds_url}) really the {b} the canary reads at {direct_url}?"
                ),
            ),
            _ => Verdict::refused(
                e.to_string(),
                format!("the read through datasource `{uid}` was refused: {e}"),
            ),
        }
    }

    /// No datasource with the chosen uid.
    async fn missing(
        &self,
        g: &GrafanaHop,
        kind: DatasourceKind,
        choice: &Choice,
        direct: &Direct<'_>,
    ) -> Verdict {
        let uid = &choice.uid;
        let ty = kind.grafana_type();
        let others = match g.client.datasources().await {
            Ok(list) => {
                let of_type: Vec<String> = list
                    .iter()
                    .filter(|d| d.kind == ty)
                    .map(Datasource::describe)
                    .collect();
                if of_type.is_empty() {
                    format!("; it has no {ty} datasource at all")
                } else {
                    format!("; its {ty} datasources: {}", of_type.join(", "))
                }
            }
            Err(_) => String::new(),
        };
        Verdict::refused(
            "no such datasource",
            format!(
                "Grafana at {} has no datasource with uid `{uid}` ({}){others}: dashboards \
                 using `{uid}` show no data; name an existing one with --grafana-datasource \
                 {}=UID, or provision `{uid}` pointing at {} ({})",
                g.grafana(),
                choice.how,
                kind.key(),
                redact_url(&direct.backend_cfg.url.value),
                direct.backend
            ),
        )
    }

    /// No datasource could be chosen by type.
    async fn unresolved(
        &self,
        g: &GrafanaHop,
        kind: DatasourceKind,
        signal: Signal,
        direct: &Direct<'_>,
        u: Unresolved,
        clues: &mut Vec<Clue>,
    ) -> Verdict {
        let ty = kind.grafana_type();
        match u {
            Unresolved::Several(ds) => Verdict::refused(
                format!("{} {ty} datasources and none named", ds.len()),
                g.several_text(kind, &ds, Some(&direct.backend_cfg.api_base)),
            ),
            Unresolved::NoneOfType(all) => {
                let have: Vec<String> = all
                    .iter()
                    .map(|d| format!("`{}` ({})", d.uid, d.kind))
                    .collect();
                let have = if have.is_empty() {
                    "none at all".to_string()
                } else {
                    have.join(", ")
                };
                Verdict::refused(
                    format!("no {ty} datasource"),
                    format!(
                        "Grafana at {} has no {ty} datasource (it has: {have}, as far as the \
                         canary's account may see): dashboards cannot show the {signal} that \
                         is in {} at {}; add a {ty} datasource pointing there, or name one with \
                         --grafana-datasource {}=UID",
                        g.grafana(),
                        direct.backend,
                        redact_url(&direct.backend_cfg.url.value),
                        kind.key()
                    ),
                )
            }
            Unresolved::ListFailed(e) if e.status == Some(401) => auth_refused(g, &e),
            Unresolved::ListFailed(e) if is_transport(&e) => {
                unreachable(g, &e, "(any)", clues).await
            }
            Unresolved::ListFailed(e) if e.status == Some(403) => Verdict::refused(
                format!("cannot list datasources: {e}"),
                format!(
                    "{} may not list Grafana's datasources (HTTP 403: {}), so the {ty} \
                     datasource cannot be found by type: name it with --grafana-datasource \
                     {}=UID, or grant datasources:read",
                    g.target.auth_source(),
                    grafana_message(&e.message),
                    kind.key()
                ),
            ),
            Unresolved::ListFailed(e) if e.message.starts_with("an HTML page answered") => {
                Verdict::refused(
                    format!("cannot list datasources: {e}"),
                    format!(
                        "{} at {}/api/datasources: a login page or a proxy in front of Grafana's \
                         API? Give the canary a service-account token (--grafana-token-file), \
                         which Grafana's API takes without a browser session",
                        e.message,
                        g.grafana()
                    ),
                )
            }
            Unresolved::ListFailed(e) => Verdict::refused(
                format!("cannot list datasources: {e}"),
                format!(
                    "Grafana at {} did not list its datasources ({e}): name the {ty} datasource \
                     with --grafana-datasource {}=UID",
                    g.grafana(),
                    kind.key()
                ),
            ),
        }
    }
}

fn skipped(why: &str) -> Hop {
    Hop {
        detail: Some(why.to_string()),
        ..Hop::new(HopName::Grafana, Status::Skipped)
    }
}

/// `datasource `loki` (Loki, type loki) points at …; sends X-Scope-OrgID (value set)`.
fn settings_text(ds: &Datasource) -> String {
    let headers = if ds.headers.is_empty() {
        "sends no custom headers".to_string()
    } else {
        let list: Vec<String> = ds
            .headers
            .iter()
            .map(|h| match h.value_set {
                Some(true) => format!("{} (value set)", h.name),
                Some(false) => format!("{} (no value stored)", h.name),
                None => h.name.clone(),
            })
            .collect();
        format!("sends {}", list.join(", "))
    };
    format!(
        "datasource `{}` ({}, type {}) points at {}; {headers}; basic auth {}",
        ds.uid,
        ds.name,
        ds.kind,
        if ds.url.is_empty() { "no URL" } else { &ds.url },
        if ds.basic_auth { "on" } else { "off" }
    )
}

/// Grafana refused the canary's own credentials.
fn auth_refused(g: &GrafanaHop, e: &QueryError) -> Verdict {
    let msg = grafana_message(&e.message);
    let hint = if g.target.auth.is_none() {
        format!(
            "Grafana at {} needs credentials (HTTP 401: {msg}): give a service-account token \
             with the Viewer role (--grafana-token-file or OTEL_CANARY_GRAFANA_TOKEN), or \
             --grafana-user with --grafana-password-file or OTEL_CANARY_GRAFANA_PASSWORD",
            g.grafana()
        )
    } else {
        format!(
            "Grafana at {} refused {} (HTTP 401: {msg}): check the service-account token \
             (--grafana-token-file or OTEL_CANARY_GRAFANA_TOKEN; it starts with glsa_ and must \
             not be expired or revoked) or the user and password (--grafana-user with \
             --grafana-password-file or OTEL_CANARY_GRAFANA_PASSWORD)",
            g.grafana(),
            g.target.auth_source()
        )
    };
    Verdict::refused(e.to_string(), hint)
}

/// The backend refused what the datasource sent (Grafana turns its 401 into a 400).
fn backend_auth(
    uid: &str,
    direct: &Direct<'_>,
    ds: Option<&Datasource>,
    e: &QueryError,
) -> Verdict {
    let b = direct.backend;
    let seen = "answers the datasource's requests with 401 (\"no org id\"), which Grafana \
                reports as 400 \"Authentication to data source failed\"";
    let sends_tenant = ds.map(|d| d.header("x-scope-orgid").is_some());
    let hint = match (&direct.tenant, sends_tenant) {
        (Some(t), Some(false)) => format!(
            "the tenant header is not set on datasource `{uid}`: {b} is multi-tenant (the direct \
             read sent X-Scope-OrgID {t}) and {seen}: set httpHeaderName1 = X-Scope-OrgID and \
             httpHeaderValue1 = {t} on the datasource (provisioning: jsonData.httpHeaderName1, \
             secureJsonData.httpHeaderValue1)"
        ),
        (Some(t), Some(true)) => format!(
            "{b} refuses datasource `{uid}` although it sends X-Scope-OrgID: {b} answers it with \
             401, which Grafana reports as 400 \"Authentication to data source failed\"; check \
             that header's value (the direct read works with {t}) and the datasource's basic auth"
        ),
        (Some(t), None) => format!(
            "{b} {seen}: most likely the tenant header is not set on datasource `{uid}` (the \
             direct read sent X-Scope-OrgID {t}): set httpHeaderName1 = X-Scope-OrgID and \
             httpHeaderValue1 = {t} on it; or its credentials are wrong"
        ),
        (None, _) => match &direct.credentials {
            Some(src) => format!(
                "{b} refuses the credentials of datasource `{uid}` (its 401 reaches the canary as \
                 Grafana's 400 \"Authentication to data source failed\"); the direct read used \
                 credentials ({src}): give the datasource the same (basic auth or a header)"
            ),
            None => format!(
                "{b} refuses the credentials of datasource `{uid}` (its 401 reaches the canary as \
                 Grafana's 400 \"Authentication to data source failed\"), while the direct read \
                 needed none: check the datasource's basic auth and custom headers (a \
                 multi-tenant {b} needs X-Scope-OrgID; then pass the same --tenant to the canary)"
            ),
        },
    };
    Verdict::refused(e.to_string(), hint)
}

/// Grafana did not answer within the hop's budget: `timeout`, and since the signal is visible
/// directly, only Grafana (or the way to it) is in question. `reads` is (unanswered, all,
/// the last error) when the reads were what went unanswered.
fn silent(
    g: &GrafanaHop,
    signal: Signal,
    direct: &Direct<'_>,
    budget: Duration,
    reads: Option<(u32, u32, Option<QueryError>)>,
) -> Verdict {
    let within = fmt_budget(budget);
    let what = match &reads {
        Some((silent, all, last)) => format!(
            "{silent} of {all} read{} through it went unanswered{}",
            if *all == 1 { "" } else { "s" },
            last.as_ref()
                .map(|e| format!(" (last error: {e})"))
                .unwrap_or_default()
        ),
        None => "finding the datasource and reading through it did not finish".into(),
    };
    Verdict {
        reason: Reason::Timeout,
        detail: format!("Grafana did not answer within {within}: {what}"),
        hint: format!(
            "Grafana at {} did not answer within {within}: {what}. The {signal} is visible in {} \
             directly, so only Grafana or the way to it is in question: check Grafana's load \
             and the network path (a proxy in front of it?)",
            g.grafana(),
            direct.backend
        ),
    }
}

/// Grafana itself could not be reached: say what `/api/health` answers.
async fn unreachable(g: &GrafanaHop, e: &QueryError, uid: &str, clues: &mut Vec<Clue>) -> Verdict {
    if e.class == ErrorClass::TlsHandshake {
        return Verdict::refused(
            e.to_string(),
            crate::diagnose::hints::tls_hint(&g.grafana(), e),
        );
    }
    match g.client.health().await {
        Err(h) => {
            let health = if h.class == e.class && h.status.is_none() {
                "nor its /api/health".to_string()
            } else {
                format!("and /api/health answers {h}")
            };
            Verdict::refused(
                e.to_string(),
                format!(
                    "Grafana at {} cannot be reached ({e}), {health}: is Grafana running, and is \
                     this its address (chosen by {})?",
                    g.grafana(),
                    g.target.url.source
                ),
            )
        }
        Ok(h) => {
            clues.push(Clue::new(
                "grafana_health",
                format!(
                    "/api/health: database {}, version {}",
                    h.database,
                    h.version.as_deref().unwrap_or("hidden")
                ),
            ));
            Verdict::refused(
                e.to_string(),
                format!(
                    "Grafana at {} answers /api/health (database {}) but the read through \
                     datasource `{uid}` failed: {e}",
                    g.grafana(),
                    h.database
                ),
            )
        }
    }
}

/// Grafana answered, but never with the signal: the datasource points elsewhere.
#[allow(clippy::too_many_arguments)]
fn elsewhere(
    signal: Signal,
    choice: &Choice,
    direct: &Direct<'_>,
    ds: Option<&Datasource>,
    last_seen: Option<&str>,
    partial: bool,
    budget: Duration,
) -> Verdict {
    let uid = &choice.uid;
    let b = direct.backend;
    let within = fmt_budget(budget);
    let direct_url = redact_url(&direct.backend_cfg.url.value).to_string();
    let source = &direct.backend_cfg.url.source;
    let last = last_seen
        .map(|s| format!("; last read through Grafana: {s}"))
        .unwrap_or_default();
    let hint = match ds {
        _ if last_seen.is_none() => format!(
            "no read through datasource `{uid}` answered within {within}, while {b} answers the \
             canary directly at {direct_url}: Grafana, or {b} as Grafana reaches it, is slow \
             (Grafana's data proxy waits up to its dataproxy.timeout, 30 s by default)"
        ),
        Some(d) if !same_place(&d.url, &direct.backend_cfg.api_base) => format!(
            "the {b} datasource `{uid}` points at {}, another {b} than the one the canary reads \
             directly ({direct_url}, chosen by {source}): the {signal} is visible there but not \
             through Grafana within {within}; point the datasource at {}{last}",
            d.url, direct.backend_cfg.api_base
        ),
        Some(d) => {
            let tenant = match (d.header("x-scope-orgid"), &direct.tenant) {
                (Some(_), Some(t)) => {
                    format!("it sends an X-Scope-OrgID, the direct read used {t}")
                }
                (Some(_), None) => "it sends an X-Scope-OrgID, the direct read none".into(),
                (None, Some(t)) => format!("it sends none, the direct read used {t}"),
                (None, None) => "neither sends one".into(),
            };
            format!(
                "datasource `{uid}` points at the same {b} as the canary ({}) yet Grafana's \
                 answers lack the {signal} within {within}: the datasource reads another tenant \
                 ({tenant}), or something between Grafana and {b} differs{last}",
                d.url
            )
        }
        None => format!(
            "the {signal} is visible in {b} at {direct_url} but not through datasource `{uid}` \
             within {within}: the datasource points at another {b} or reads another tenant \
             (its settings are not readable to the canary's account){last}"
        ),
    };
    let reason = if partial {
        Reason::Incomplete
    } else {
        Reason::NotFound
    };
    let detail = match last_seen {
        Some(s) => format!("not visible through Grafana within {within}; last read: {s}"),
        None => format!("no read through Grafana completed within {within}"),
    };
    Verdict {
        reason,
        detail,
        hint,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_place_ignores_slashes_and_loopback_spelling() {
        let u = Url::parse("http://127.0.0.1:3100/").unwrap();
        assert!(same_place("http://localhost:3100", &u));
        assert!(!same_place("http://127.0.0.1:3101", &u));
        let m = Url::parse("http://mimir:9009/prometheus").unwrap();
        assert!(same_place("http://mimir:9009/prometheus/", &m));
        assert!(!same_place("http://mimir:9009", &m));
        assert!(!same_place("not a url", &m));
    }

    fn loki_backend() -> Backend {
        let url = Url::parse("http://loki:3100").unwrap();
        Backend {
            url: crate::config::Sourced::new(url.clone(), Provenance::flag("--loki")),
            api_base: url,
            headers: Vec::new(),
        }
    }

    fn datasource(url: &str, tenant_header: bool) -> Datasource {
        let json = if tenant_header {
            r#","jsonData":{"httpHeaderName1":"X-Scope-OrgID"}"#
        } else {
            ""
        };
        crate::backends::grafana::parse_datasource(
            format!(r#"{{"uid":"loki","name":"Loki","type":"loki","url":"{url}"{json}}}"#)
                .as_bytes(),
        )
        .unwrap()
    }

    #[test]
    fn elsewhere_tells_another_backend_from_another_tenant_and_silence() {
        let backend = loki_backend();
        let direct = Direct {
            backend: "Loki",
            backend_cfg: &backend,
            tenant: Some("team-a".into()),
            credentials: None,
        };
        let choice = Choice {
            uid: "loki".into(),
            how: "the one loki datasource".into(),
        };
        let budget = Duration::from_secs(5);
        let other = datasource("http://other-loki:3100", false);
        let v = elsewhere(
            Signal::Log,
            &choice,
            &direct,
            Some(&other),
            Some("no matching log line"),
            false,
            budget,
        );
        assert_eq!(v.reason, Reason::NotFound);
        assert!(
            v.hint
                .contains("points at http://other-loki:3100, another Loki"),
            "{}",
            v.hint
        );
        assert!(v.hint.contains("chosen by flag --loki"), "{}", v.hint);
        assert!(
            v.hint
                .contains("last read through Grafana: no matching log line")
        );

        let same = datasource("http://loki:3100/", true);
        let v = elsewhere(
            Signal::Log,
            &choice,
            &direct,
            Some(&same),
            Some("x"),
            false,
            budget,
        );
        assert!(v.hint.contains("reads another tenant"), "{}", v.hint);
        assert!(v.hint.contains("the direct read used team-a"), "{}", v.hint);

        let v = elsewhere(Signal::Log, &choice, &direct, None, Some("x"), true, budget);
        assert_eq!(v.reason, Reason::Incomplete);
        assert!(v.hint.contains("settings are not readable"), "{}", v.hint);

        let v = elsewhere(
            Signal::Log,
            &choice,
            &direct,
            Some(&other),
            None,
            false,
            budget,
        );
        assert!(
            v.hint
                .contains("no read through datasource `loki` answered within 5.0s")
        );
        assert_eq!(v.detail, "no read through Grafana completed within 5.0s");
    }

    #[test]
    fn backend_401_through_grafana_names_the_missing_tenant_header() {
        let backend = loki_backend();
        let e = QueryError {
            class: ErrorClass::HttpStatus,
            status: Some(400),
            message: "Authentication to data source failed".into(),
        };
        let direct = |tenant: Option<&str>| Direct {
            backend: "Loki",
            backend_cfg: &backend,
            tenant: tenant.map(str::to_string),
            credentials: None,
        };
        let without = datasource("http://loki:3100", false);
        let with = datasource("http://loki:3100", true);
        let h = backend_auth("loki", &direct(Some("team-a")), Some(&without), &e).hint;
        assert!(
            h.starts_with("the tenant header is not set on datasource `loki`"),
            "{h}"
        );
        let h = backend_auth("loki", &direct(Some("team-a")), Some(&with), &e).hint;
        assert!(h.contains("although it sends X-Scope-OrgID"), "{h}");
        let h = backend_auth("loki", &direct(Some("team-a")), None, &e).hint;
        assert!(
            h.contains("most likely the tenant header is not set"),
            "{h}"
        );
        let h = backend_auth("loki", &direct(None), Some(&without), &e).hint;
        assert!(
            h.contains("refuses the credentials of datasource `loki`"),
            "{h}"
        );
    }

    #[test]
    fn settings_text_names_headers_without_values() {
        let ds = crate::backends::grafana::parse_datasource(
            br#"{"uid":"loki","name":"Loki","type":"loki","url":"http://loki:3100","jsonData":{"httpHeaderName1":"X-Scope-OrgID"},"secureJsonFields":{"httpHeaderValue1":true}}"#,
        )
        .unwrap();
        assert_eq!(
            settings_text(&ds),
            "datasource `loki` (Loki, type loki) points at http://loki:3100; sends X-Scope-OrgID \
             (value set); basic auth off"
        );
    }
}
