//! The round trip: emit each signal, then poll its backend until it is visible or its
//! deadline passes, all signals concurrently, and turn what happened into hops and verdicts.

mod assertions;
pub mod compare;
mod derived;
mod grafana;
pub mod outcome;
mod post_mortem;
pub mod pull;

use post_mortem::PagesBefore;

use crate::backends::loki::LokiReader;
use crate::backends::prometheus::{PrometheusReader, SeriesIdentity};
use crate::backends::self_metrics::SelfMetricsReader;
use crate::backends::tempo::{TempoReader, search_query};
use crate::backends::{QueryError, ReadClient};
use crate::config::ConfigError;
use crate::config::Sourced;
use crate::config::emitter::Emitter;
use crate::config::headers::{Header, merge_headers};
use crate::config::otlp::ExportTarget;
use crate::config::read::{Backend, MetricsApi, ReadTarget};
use crate::config::resource::ResourceSpec;
use crate::diagnose::error_class::ErrorClass;
use crate::diagnose::hints::{HintContext, hint};
use crate::diagnose::identity;
use crate::diagnose::scan::ReadKind;
use crate::emit::exporter::Exporter;
use crate::emit::payload::MetricTag;
use crate::emit::probe_emitter::ProbeEmitter;
use crate::poll::learned::Learned;
use crate::poll::{PollEnd, PollPolicy, Polled, Read, poll_planned};
use crate::probe::{Probe, hex};
use crate::redact::redact_url;
use crate::signal::Signal;
use futures_util::future::join_all;
use outcome::{
    AssertionOutcome, Check, Clue, Hop, HopName, PullOutcome, ReadView, Reason, SignalOutcome,
    Status,
};
use std::future::Future;
use std::time::{Duration, Instant};

/// Live progress for people watching (the command draws it; the round trip only reports).
pub trait Progress: Send + Sync {
    fn event(&self, signal: Signal, event: ProgressEvent);
}

/// What a signal is doing now.
#[derive(Clone, Debug, PartialEq)]
pub enum ProgressEvent {
    Exporting,
    Polling { backend: &'static str, queries: u32 },
    Done { status: Status },
}

/// Progress that goes nowhere.
pub struct NoProgress;

impl Progress for NoProgress {
    fn event(&self, _: Signal, _: ProgressEvent) {}
}

/// What one run found.
#[derive(Clone, Debug)]
pub struct RunOutcome {
    pub probe: Probe,
    pub signals: Vec<SignalOutcome>,
    /// The scenario's pull paths (`serve` only).
    pub pulls: Vec<PullOutcome>,
    /// The scenario's `[[assert]]` checks, after the signals.
    pub assertions: Vec<AssertionOutcome>,
    /// Wall time of the whole round trip.
    pub seconds: f64,
}

impl RunOutcome {
    pub fn ok(&self) -> bool {
        self.signals.iter().all(|s| s.status != Status::Failed)
            && self.pulls.iter().all(|p| p.status != Status::Failed)
            && self.assertions.iter().all(|a| a.status != Status::Failed)
    }
}

struct MetricReader {
    api: MetricsApi,
    reader: PrometheusReader,
}

/// A prepared round trip: clients built and certificates read once, reusable across probes.
pub struct RoundTrip {
    exporter: ProbeEmitter,
    read: ReadTarget,
    resource: ResourceSpec,
    tag: MetricTag,
    tempo: Option<TempoReader>,
    loki: Option<LokiReader>,
    metrics: Option<MetricReader>,
    tenant: bool,
    /// The collector's and Tempo's own metrics pages, when configured.
    collector_metrics: Option<SelfMetricsReader>,
    tempo_metrics: Option<SelfMetricsReader>,
    /// The scenario's pull paths, when `serve` runs it.
    pulls: Option<pull::PullChecks>,
    /// Span metrics, service graph and TraceQL metrics checks, when asked for.
    derived: Option<derived::DerivedChecks>,
    /// The scenario's assertions, checked after the signals.
    assertions: Vec<crate::config::assertions::AssertionSpec>,
    /// The `grafana` hop, when a Grafana is configured.
    grafana: Option<grafana::GrafanaHop>,
    /// Time the command spent reading before the next probe (`resolve_grafana`): it comes out
    /// of that probe's `OVERRUN`.
    preflight: std::sync::Mutex<Duration>,
    pub policy: PollPolicy,
    /// Where recent probes became visible, when `serve` lets this round trip learn.
    learned: Learned<(Signal, HopName)>,
}

/// The most a run takes beyond its longest deadline, in all: the reads before the probe
/// (metrics pages, derived baselines, Grafana's datasources), the identity look and the
/// post-mortem after a failed read, and the grafana hop's minimum share it
/// (docs/round-trip.md, "Hard deadlines").
pub const OVERRUN: Duration = Duration::from_millis(1500);

fn client_for(read: &ReadTarget, backend: &Backend) -> Result<ReadClient, ConfigError> {
    let mut headers: Vec<Header> = read.headers.clone();
    merge_headers(&mut headers, backend.headers.clone());
    ReadClient::new(
        &backend.url.value,
        headers,
        &read.tls,
        read.query_timeout.value,
    )
}

impl RoundTrip {
    pub fn new(
        export: &ExportTarget,
        read: ReadTarget,
        resource: ResourceSpec,
        tag: MetricTag,
    ) -> Result<RoundTrip, ConfigError> {
        let exporter = ProbeEmitter::Wire(Exporter::new(export)?);
        RoundTrip::with_emitter(exporter, read, resource, tag)
    }

    /// A round trip whose probes another emitter sends (the SDK emitter).
    pub fn with_emitter(
        exporter: ProbeEmitter,
        read: ReadTarget,
        resource: ResourceSpec,
        tag: MetricTag,
    ) -> Result<RoundTrip, ConfigError> {
        let tempo = match &read.tempo {
            Some(b) => Some(TempoReader::new(client_for(&read, b)?, b.api_base.clone())),
            None => None,
        };
        let loki = match &read.loki {
            Some(b) => Some(LokiReader::new(
                client_for(&read, b)?,
                b.api_base.clone(),
                read.log_selector.value.clone(),
                read.log_match.value,
            )),
            None => None,
        };
        let metrics = match &read.metrics {
            Some((api, b)) => Some(MetricReader {
                api: *api,
                reader: PrometheusReader::new(
                    client_for(&read, b)?,
                    b.api_base.clone(),
                    read.metric_selector.as_ref().map(|s| s.value.clone()),
                    SeriesIdentity::of(&resource, None),
                )
                .with_probe_id_label(tag == MetricTag::Label),
            }),
            None => None,
        };
        let tenant = read.headers.iter().any(|h| h.name == "x-scope-orgid");
        // The metrics pages get no backend credentials or tenant: they belong to other hosts.
        let page = |u: &Option<Sourced<url::Url>>| -> Result<_, ConfigError> {
            u.as_ref()
                .map(|u| {
                    let client =
                        ReadClient::new(&u.value, Vec::new(), &read.tls, read.query_timeout.value)?;
                    Ok(SelfMetricsReader::new(client, u.value.clone()))
                })
                .transpose()
        };
        let collector_metrics = page(&read.collector_metrics)?;
        let tempo_metrics = page(&read.tempo_metrics)?;
        let derived = derived_checks(&read, &resource, &exporter.signals())?;
        let grafana = grafana::GrafanaHop::new(&read)?;
        Ok(RoundTrip {
            exporter,
            read,
            resource,
            tag,
            tempo,
            loki,
            metrics,
            tenant,
            collector_metrics,
            tempo_metrics,
            pulls: None,
            derived,
            assertions: Vec::new(),
            grafana,
            preflight: std::sync::Mutex::new(Duration::ZERO),
            policy: PollPolicy::default(),
            learned: Learned::off(),
        })
    }

    /// Probes of this round trip may overlap (`serve` with more than one in flight): see
    /// `PrometheusReader::with_later_markers`.
    pub fn overlapping(mut self, on: bool) -> RoundTrip {
        if let Some(m) = self.metrics.take() {
            self.metrics = Some(MetricReader {
                api: m.api,
                reader: m.reader.with_later_markers(on),
            });
        }
        self
    }

    /// Lets this round trip plan each probe's reads from where its recent probes became
    /// visible (`serve`); a one-shot `run` has no past and uses the one-shot rule.
    pub fn learning(mut self, on: bool) -> RoundTrip {
        self.learned = if on { Learned::on() } else { Learned::off() };
        self
    }

    /// Assertions to check after every probe (`config::assertions::resolve_assertions`
    /// checked them against this round trip's read target).
    pub fn with_assertions(mut self, specs: Vec<crate::config::assertions::AssertionSpec>) -> Self {
        self.assertions = specs;
        self
    }

    /// Which emitter sends this round trip's probes.
    pub fn emitter(&self) -> Emitter {
        self.exporter.kind()
    }

    /// Where this round trip reads back from.
    pub fn read_target(&self) -> &ReadTarget {
        &self.read
    }

    /// The signals this round trip probes, in order.
    pub fn signals(&self) -> Vec<Signal> {
        self.exporter.signals()
    }

    /// Settings that work but deserve a word: signals sent but not read back.
    pub fn warnings(&self) -> Vec<String> {
        let mut w = Vec::new();
        for s in self.exporter.signals() {
            let (missing, how) = match s {
                Signal::Trace => (
                    self.tempo.is_none(),
                    "--tempo URL (or OTEL_CANARY_TEMPO_URL)",
                ),
                Signal::Log => (self.loki.is_none(), "--loki URL (or OTEL_CANARY_LOKI_URL)"),
                Signal::Metric => (
                    self.metrics.is_none(),
                    "--mimir URL or --prometheus URL (or OTEL_CANARY_MIMIR_URL)",
                ),
            };
            if missing {
                w.push(format!(
                    "{s}: no backend to read it back from; it was only exported (give {how})"
                ));
            }
        }
        w
    }

    /// Runs one probe: every signal exported and verified concurrently.
    pub async fn run(&self, progress: &dyn Progress) -> RunOutcome {
        self.run_until(progress, None).await
    }

    /// Runs one probe with every read deadline cut at `cap` (`/probe` answers within the
    /// scraper's timeout): a signal not seen by then fails as not found.
    pub async fn run_until(&self, progress: &dyn Progress, cap: Option<Instant>) -> RunOutcome {
        let started = Instant::now();
        let spent_before = std::mem::take(&mut *self.preflight.lock().expect("preflight lock"));
        let baselines = async {
            match &self.derived {
                Some(d) => {
                    d.baselines(post_mortem::PRE_PROBE_BUDGET.min(self.read.query_timeout.value))
                        .await
                }
                None => derived::Baselines::default(),
            }
        };
        let (before, baselines) = tokio::join!(self.pages_before(), baselines);
        // What the reads before the probe took comes out of the time a signal may run past
        // its deadline.
        let overrun = OVERRUN.saturating_sub(spent_before + started.elapsed());
        let probe = Probe::start();
        let signals = join_all(
            self.exporter
                .signals()
                .into_iter()
                .map(|s| self.signal(s, &probe, &before, &baselines, progress, cap, overrun)),
        );
        let (signals, pulls) = tokio::join!(signals, self.pulls(&probe, cap));
        let assertions = self.check_assertions(cap).await;
        RunOutcome {
            probe,
            signals,
            pulls,
            assertions,
            seconds: started.elapsed().as_secs_f64(),
        }
    }

    /// The scenario's assertions, all at once, after the signals.
    async fn check_assertions(&self, cap: Option<Instant>) -> Vec<AssertionOutcome> {
        if self.assertions.is_empty() {
            return Vec::new();
        }
        let askers = assertions::Askers {
            metrics: self.metrics.as_ref().map(|m| (m.api.as_str(), &m.reader)),
            loki: self.loki.as_ref(),
            tempo: self.tempo.as_ref(),
        };
        join_all(
            self.assertions
                .iter()
                .map(|spec| askers.check(spec, self.policy, cap)),
        )
        .await
    }

    #[allow(clippy::too_many_arguments)]
    async fn signal(
        &self,
        signal: Signal,
        probe: &Probe,
        before: &PagesBefore,
        baselines: &derived::Baselines,
        progress: &dyn Progress,
        cap: Option<Instant>,
        overrun: Duration,
    ) -> SignalOutcome {
        progress.event(signal, ProgressEvent::Exporting);
        let sent_at = probe.seconds_since_start();
        let started = Instant::now();
        let export = self
            .exporter
            .export_one(signal, probe, &self.resource, self.tag)
            .await
            .expect("the exporter has a lane for each of its signals");
        let ack = Instant::now();
        let mut out = SignalOutcome {
            signal,
            emitter: export.emitter,
            sent_at,
            status: Status::Ok,
            reason: None,
            hint: None,
            read: None,
            hops: Vec::new(),
            checks: Vec::new(),
            clues: Vec::new(),
            export,
        };
        let export_seconds = out.export.seconds();
        if let Some(e) = &out.export.last().error {
            out.hops.push(Hop::failed(
                HopName::Export,
                Reason::Export(e.class),
                e.message.clone(),
            ));
            self.grafana_not_reached(&mut out);
            self.finish(&mut out, None);
            progress.event(signal, ProgressEvent::Done { status: out.status });
            return out;
        }
        let mut export_hop = Hop::ok(HopName::Export, export_seconds);
        if let Some(w) = out.export.last().warning() {
            export_hop.detail = Some(format!("partial success warning: {w}"));
        }
        out.hops.push(export_hop);
        let window =
            Window::new(started, ack, self.read.timeout(signal).value, cap).overrun(overrun);
        let failure = match signal {
            Signal::Trace => {
                self.verify_trace(probe, window, baselines, &mut out, progress)
                    .await
            }
            Signal::Log => self.verify_log(probe, window, &mut out, progress).await,
            Signal::Metric => self.verify_metric(probe, window, &mut out, progress).await,
        };
        if signal != Signal::Trace {
            // The trace's runs inside `verify_trace`, beside its derived hops.
            self.grafana_hop(probe, window, &mut out, progress).await;
        }
        let not_found = out
            .hop(HopName::Ingest)
            .is_some_and(|h| h.reason == Some(Reason::NotFound));
        let odd_answer = failure
            .as_ref()
            .and_then(|f| f.error.as_ref())
            .is_some_and(|e| e.status == Some(404) || e.class == ErrorClass::Body);
        // The looks after a failed read share what is left of the overrun.
        let looks_end = Instant::now() + window.overrun;
        let left = || looks_end.saturating_duration_since(Instant::now());
        if (not_found || odd_answer)
            && let Some(wrong) = self
                .wrong_backend(signal, left().min(IDENTITY_BUDGET))
                .await
        {
            // The reads were answered by another backend: they prove nothing about the signal.
            if let Some(ingest) = out.hops.iter_mut().find(|h| h.hop == HopName::Ingest) {
                ingest.reason = Some(Reason::QueryFailed);
                ingest.detail = Some(format!(
                    "{wrong}; {}",
                    ingest.detail.as_deref().unwrap_or_default()
                ));
            }
            out.clues.push(Clue::new("identity", wrong).explaining());
        } else if not_found {
            let clues = self
                .post_mortem(signal, probe, before, left().min(post_mortem::BUDGET))
                .await;
            out.clues.extend(clues);
        }
        self.finish(&mut out, failure.as_ref());
        progress.event(signal, ProgressEvent::Done { status: out.status });
        out
    }

    /// Settles the verdict and writes the hint for the first failure.
    fn finish(&self, out: &mut SignalOutcome, failure: Option<&Failure>) {
        let error = failure.and_then(|f| f.error.as_ref());
        let last_seen = failure.and_then(|f| f.last_seen.as_deref());
        out.settle();
        let Some(reason) = out.reason else { return };
        let first_failed = out.hops.iter().find(|h| h.status == Status::Failed);
        if let Some(h) = first_failed.and_then(|h| h.hint.clone()) {
            out.hint = Some(h);
            return;
        }
        let failed_hop = first_failed.map(|h| h.hop).unwrap_or(HopName::Ingest);
        if reason == Reason::Mismatch {
            out.hint = out
                .checks
                .iter()
                .find(|c| c.status == Status::Failed)
                .map(|c| c.detail.clone());
            return;
        }
        let (backend, url) = out
            .read
            .as_ref()
            .map(|r| (backend_title(r.backend), r.url.value.clone()))
            .unwrap_or(("the backend", String::new()));
        let deadline = match failed_hop {
            HopName::Search => self.read.search_timeout.as_ref().map(|t| t.value),
            _ => Some(self.read.timeout(out.signal).value),
        }
        .unwrap_or_default()
        .as_secs_f64();
        out.hint = hint(&HintContext {
            signal: out.signal,
            hop: failed_hop,
            reason,
            export: &out.export,
            backend,
            backend_url: &url,
            deadline_seconds: deadline,
            query_error: error,
            last_seen,
            tenant: self.tenant,
            clues: &out.clues,
            reads: failure.map_or((0, 0), |f| f.reads),
        });
        if out.export.emitter == Emitter::Sdk
            && reason == Reason::NotFound
            && failed_hop == HopName::Ingest
            && let Some(h) = &out.hint
        {
            out.hint = Some(format!(
                "the app's SDK reported success (force_flush returned Ok) but the {} never \
                 arrived, the silent failure of incident 7: {h}",
                out.signal
            ));
        }
    }

    fn read_view(
        &self,
        backend: &'static str,
        b: &Backend,
        query: String,
        deadline: Duration,
    ) -> ReadView {
        ReadView {
            backend,
            url: Sourced::new(redact_url(&b.url.value).to_string(), b.url.source.clone()),
            query,
            deadline_seconds: deadline.as_secs_f64(),
        }
    }

    /// Polls one backend for a signal: records where it reads from, counts reads into the
    /// progress display, and turns the poll into the ingest, query and total hops.
    async fn read_back<T, F, Fut>(
        &self,
        out: &mut SignalOutcome,
        view: ReadView,
        window: Window,
        progress: &dyn Progress,
        mut read: F,
    ) -> (Option<T>, Option<Failure>)
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Read<T, QueryError>>,
    {
        let (signal, backend) = (out.signal, view.backend);
        out.read = Some(view);
        let mut queries = 0;
        let plan = self.learned.plan((signal, HopName::Ingest));
        let polled = poll_planned(
            window.ack.into(),
            window.deadline.into(),
            self.policy,
            &plan.offsets,
            || {
                queries += 1;
                progress.event(signal, ProgressEvent::Polling { backend, queries });
                read()
            },
        )
        .await;
        self.learned.record((signal, HopName::Ingest), &polled.end);
        let (mut hops, seen, failure) =
            hops_from_poll(polled, out.export.seconds(), window.started);
        if let Some(ingest) = hops.iter_mut().find(|h| h.hop == HopName::Ingest) {
            ingest.schedule = Some(plan.used);
        }
        out.hops.extend(hops);
        (seen, failure)
    }

    async fn verify_trace(
        &self,
        probe: &Probe,
        window: Window,
        baselines: &derived::Baselines,
        out: &mut SignalOutcome,
        progress: &dyn Progress,
    ) -> Option<Failure> {
        let (Some(reader), Some(b)) = (&self.tempo, &self.read.tempo) else {
            out.hops
                .push(not_configured(HopName::Ingest, "no Tempo URL given"));
            return None;
        };
        let view = self.read_view(
            "tempo",
            b,
            format!("GET /api/v2/traces/{}", hex(&probe.trace_id)),
            self.read.trace_timeout.value,
        );
        let search = async {
            let t = self.read.search_timeout.as_ref()?;
            let ack = window.ack;
            let deadline = window.limit(ack + t.value);
            let plan = self.learned.plan((Signal::Trace, HopName::Search));
            let polled = poll_planned(
                ack.into(),
                deadline.into(),
                self.policy,
                &plan.offsets,
                || reader.search(probe),
            )
            .await;
            self.learned
                .record((Signal::Trace, HopName::Search), &polled.end);
            Some((polled, plan.used))
        };
        let by_id_then_derived = async {
            let (seen, failure) = self
                .read_back(out, view, window, progress, || reader.read_trace(probe))
                .await;
            let derived = async {
                match (&self.derived, &seen) {
                    (None, _) => Vec::new(),
                    (Some(d), Some(_)) => {
                        d.verify(probe, window, PollPolicy::DERIVED, Some(reader), baselines)
                            .await
                    }
                    (Some(d), None) => d.skipped(),
                }
            };
            // The grafana hop reads the trace as soon as it is visible, while the derived
            // series (tens of seconds behind) are awaited.
            let grafana = self.grafana_hop(probe, window, out, progress);
            let (derived, ()) = tokio::join!(derived, grafana);
            (seen, failure, derived)
        };
        let ((seen, failure, derived_hops), search) = tokio::join!(by_id_then_derived, search);
        if let Some(seen) = &seen {
            out.checks.push(Check {
                name: "spans",
                status: Status::Ok,
                detail: format!(
                    "{} span(s) by id via {} ({})",
                    seen.spans,
                    seen.api,
                    seen.services.join(", ")
                ),
            });
            out.checks.push(match &seen.problem {
                None => Check {
                    name: "probe_id_attribute",
                    status: Status::Ok,
                    detail: format!("both spans carry canary.probe_id={}", probe.probe_id),
                },
                Some(p) => Check {
                    name: "probe_id_attribute",
                    status: Status::Failed,
                    detail: p.clone(),
                },
            });
        }
        let (search_hop, search_failure) = match search {
            None => (
                Hop {
                    detail: Some("search check off (--no-search)".into()),
                    ..Hop::new(HopName::Search, Status::Skipped)
                },
                None,
            ),
            Some((polled, used)) => {
                let (mut h, f) = search_hop(polled);
                h.detail.get_or_insert_with(|| search_query(probe));
                h.schedule = Some(used);
                (h, f)
            }
        };
        insert_before_total(&mut out.hops, search_hop);
        for h in derived_hops {
            insert_before_total(&mut out.hops, h);
        }
        // The grafana hop closes a signal's read hops, as for the others.
        if let Some(at) = out.hops.iter().position(|h| h.hop == HopName::Grafana) {
            let g = out.hops.remove(at);
            insert_before_total(&mut out.hops, g);
        }
        // When only search failed, its error is what the hint explains.
        failure.or(search_failure)
    }

    async fn verify_log(
        &self,
        probe: &Probe,
        window: Window,
        out: &mut SignalOutcome,
        progress: &dyn Progress,
    ) -> Option<Failure> {
        let (Some(reader), Some(b)) = (&self.loki, &self.read.loki) else {
            out.hops
                .push(not_configured(HopName::Ingest, "no Loki URL given"));
            return None;
        };
        let view = self.read_view(
            "loki",
            b,
            reader.query_for(probe),
            self.read.log_timeout.value,
        );
        let (seen, failure) = self
            .read_back(out, view, window, progress, || reader.read_log(probe))
            .await;
        if let Some(seen) = seen {
            let want = hex(&probe.trace_id);
            out.checks.push(match (&seen.trace_id, seen.correlated) {
                (Some(t), true) => Check {
                    name: "correlation",
                    status: Status::Ok,
                    detail: format!("the log line carries the probe's trace_id {t}"),
                },
                (Some(t), false) => Check {
                    name: "correlation",
                    status: Status::Failed,
                    detail: format!(
                        "the log line carries trace_id {t}, not the probe's {want}: the pipeline \
                         rewrites trace context on logs"
                    ),
                },
                (None, _) => Check {
                    name: "correlation",
                    status: Status::Failed,
                    detail: format!(
                        "the log line arrived without a trace_id (expected {want}): trace <-> log \
                         links in Grafana will not work; the pipeline drops the record's trace \
                         context"
                    ),
                },
            });
        }
        failure
    }

    async fn verify_metric(
        &self,
        probe: &Probe,
        window: Window,
        out: &mut SignalOutcome,
        progress: &dyn Progress,
    ) -> Option<Failure> {
        let (Some(m), Some((_, b))) = (&self.metrics, &self.read.metrics) else {
            out.hops.push(not_configured(
                HopName::Ingest,
                "no Mimir or Prometheus URL given",
            ));
            return None;
        };
        let view = self.read_view(
            m.api.as_str(),
            b,
            m.reader.query(),
            self.read.metric_timeout.value,
        );
        let (seen, failure) = self
            .read_back(out, view, window, progress, || m.reader.read_marker(probe))
            .await;
        if let Some(seen) = seen {
            let labels = labels_text(&seen.labels);
            let detail = if seen.value == probe.marker {
                format!("value {} on {labels}", probe.marker)
            } else {
                format!(
                    "value {} on {labels}: a later probe's marker, which replaced this probe's \
                     ({}) on the series before a read saw it (probes overlap)",
                    seen.value, probe.marker
                )
            };
            out.checks.push(Check {
                name: "marker_value",
                status: Status::Ok,
                detail,
            });
        }
        failure
    }
}

impl RoundTrip {
    /// When the signal's read URL answers as another backend (Loki at `--tempo`), says so;
    /// `None` when it is the backend it should be, or nothing recognisable answered.
    async fn wrong_backend(&self, signal: Signal, within: Duration) -> Option<String> {
        let (kind, backend) = match signal {
            Signal::Trace => (ReadKind::Tempo, self.read.tempo.as_ref()?),
            Signal::Log => (ReadKind::Loki, self.read.loki.as_ref()?),
            Signal::Metric => match self.read.metrics.as_ref()? {
                (MetricsApi::Mimir, b) => (ReadKind::Mimir, b),
                (MetricsApi::Prometheus, b) => (ReadKind::Prometheus, b),
            },
        };
        let client = client_for(&self.read, backend).ok()?;
        if within.is_zero() {
            return None;
        }
        let speaks = identity::who_answers(&client, &backend.url.value, within).await?;
        identity::wrong_backend(
            kind,
            redact_url(&backend.url.value).as_ref(),
            &backend.url.source,
            &speaks,
        )
    }
}

/// The identity look after a failed read may take this long: with the post-mortem's, the
/// bounded time a run may spend past its deadline.
const IDENTITY_BUDGET: Duration = Duration::from_millis(500);

/// The derived checks a read target asks for, with the backends they read; a check whose
/// backend or signal is missing is a configuration error naming the setting.
fn derived_checks(
    read: &ReadTarget,
    resource: &ResourceSpec,
    signals: &[Signal],
) -> Result<Option<derived::DerivedChecks>, ConfigError> {
    let Some(target) = &read.derived else {
        return Ok(None);
    };
    let names = |f: fn(&crate::config::derived::DerivedCheck) -> bool| {
        target
            .checks
            .value
            .iter()
            .filter(|c| f(c))
            .map(|c| c.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    if !signals.contains(&Signal::Trace) {
        return Err(ConfigError::at(
            &target.checks.source,
            "derived checks are computed from the probe's trace: add trace to --signals",
        ));
    }
    let needs_metrics = names(|c| c.reads_metrics());
    if !needs_metrics.is_empty() && read.metrics.is_none() {
        return Err(ConfigError::at(
            &target.checks.source,
            format!(
                "{needs_metrics} read Tempo's generated series from Mimir or Prometheus: give                  --mimir URL or --prometheus URL (or read.mimir / read.prometheus)"
            ),
        ));
    }
    if read.tempo.is_none() {
        return Err(ConfigError::at(
            &target.checks.source,
            "derived checks wait for the trace to be visible in Tempo first: give --tempo URL",
        ));
    }
    let counters = match &read.metrics {
        Some((api, b)) => Some(derived::CounterSource {
            reader: PrometheusReader::new(
                client_for(read, b)?,
                b.api_base.clone(),
                None,
                SeriesIdentity::of(resource, None),
            ),
            title: backend_title(api.as_str()),
            url: redact_url(&b.url.value).to_string(),
        }),
        None => None,
    };
    Ok(Some(derived::DerivedChecks {
        target: target.clone(),
        counters,
        tempo_url: read
            .tempo
            .as_ref()
            .map(|b| redact_url(&b.url.value).to_string())
            .unwrap_or_default(),
        tenant: read
            .headers
            .iter()
            .find(|h| h.name == "x-scope-orgid")
            .map(|h| h.value.clone()),
        service: resource.service_name.value.clone(),
        peer: resource.peer_service_name(),
    }))
}

/// `{a="1",b="2"}`: a series' labels as check details show them.
fn labels_text(labels: &std::collections::BTreeMap<String, String>) -> String {
    let inner: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
    format!("{{{}}}", inner.join(","))
}

/// The instants a signal's read-back is measured against.
#[derive(Clone, Copy)]
struct Window {
    /// When the export was sent.
    started: Instant,
    /// When its ack arrived: offsets are measured from here.
    ack: Instant,
    deadline: Instant,
    /// No read outlives this (`run_until`).
    cap: Option<Instant>,
    /// How long the signal may run past its deadline (identity look, post-mortem, the
    /// grafana hop's minimum): what `OVERRUN` leaves after the reads before the probe.
    overrun: Duration,
}

impl Window {
    fn new(started: Instant, ack: Instant, timeout: Duration, cap: Option<Instant>) -> Window {
        let mut w = Window {
            started,
            ack,
            deadline: ack,
            cap,
            overrun: OVERRUN,
        };
        w.deadline = w.limit(ack + timeout);
        w
    }

    fn overrun(mut self, overrun: Duration) -> Window {
        self.overrun = overrun;
        self
    }

    /// `deadline`, or the cap if sooner.
    fn limit(&self, deadline: Instant) -> Instant {
        self.cap.map_or(deadline, |c| c.min(deadline))
    }
}

fn backend_title(name: &str) -> &'static str {
    match name {
        "tempo" => "Tempo",
        "loki" => "Loki",
        "mimir" => "Mimir",
        "prometheus" => "Prometheus",
        _ => "the backend",
    }
}

/// What the failing poll left behind, for the hint.
struct Failure {
    error: Option<QueryError>,
    last_seen: Option<String>,
    /// Reads that got no answer, of all reads.
    reads: (u32, u32),
}

fn not_configured(hop: HopName, why: &str) -> Hop {
    let mut h = Hop::new(hop, Status::Skipped);
    h.detail = Some(format!("{why}: exported only, not read back"));
    h
}

/// Turns a by-id/query poll into the ingest, query and total hops.
fn hops_from_poll<T>(
    polled: Polled<T, QueryError>,
    export_seconds: f64,
    started: Instant,
) -> (Vec<Hop>, Option<T>, Option<Failure>) {
    let reads = polled.reads.clone();
    let (mut hops, seen, failure) = hops_of(polled, export_seconds, started);
    if let Some(ingest) = hops.iter_mut().find(|h| h.hop == HopName::Ingest) {
        ingest.reads = reads;
    }
    (hops, seen, failure)
}

fn hops_of<T>(
    polled: Polled<T, QueryError>,
    export_seconds: f64,
    started: Instant,
) -> (Vec<Hop>, Option<T>, Option<Failure>) {
    let queries = Some(polled.queries);
    match polled.end {
        PollEnd::Found(value, vis) => {
            let ingest = Hop {
                seconds: Some(vis.estimate()),
                visible_after: Some(vis.after),
                visible_by: Some(vis.by),
                resolution: Some(vis.resolution()),
                queries,
                ..Hop::new(HopName::Ingest, Status::Ok)
            };
            let query = Hop::ok(HopName::Query, vis.query_seconds);
            let total = Hop::ok(HopName::Total, export_seconds + vis.by);
            (vec![ingest, query, total], Some(value), None)
        }
        PollEnd::Refused { error, .. } => {
            let mut ingest = Hop::failed(HopName::Ingest, Reason::QueryFailed, error.to_string());
            ingest.queries = queries;
            let total = Hop {
                seconds: Some(started.elapsed().as_secs_f64()),
                ..Hop::new(HopName::Total, Status::Failed)
            };
            (
                vec![ingest, Hop::new(HopName::Query, Status::Skipped), total],
                None,
                Some(Failure {
                    error: Some(error),
                    last_seen: None,
                    reads: (0, polled.queries),
                }),
            )
        }
        PollEnd::Deadline {
            last_seen,
            partial,
            last_error,
            unanswered,
            last,
        } => {
            let (reason, detail) = deadline_verdict(
                last_seen.as_deref(),
                partial,
                last_error.as_ref(),
                unanswered,
                last,
                polled.queries,
            );
            let mut ingest = Hop::failed(HopName::Ingest, reason, detail);
            ingest.queries = queries;
            let total = Hop {
                seconds: Some(started.elapsed().as_secs_f64()),
                ..Hop::new(HopName::Total, Status::Failed)
            };
            (
                vec![ingest, Hop::new(HopName::Query, Status::Skipped), total],
                None,
                Some(Failure {
                    error: last_error,
                    last_seen,
                    reads: (unanswered, polled.queries),
                }),
            )
        }
    }
}

/// What a poll that hit its deadline proves. Only a backend whose last read answered "not
/// there" may be said not to hold the signal (`not_found`, `incomplete`); when the last read
/// got no answer the verdict is `timeout`, and when it failed, `query_failed`: in both cases
/// whether the signal arrived is unknown, and no earlier hop is to blame.
pub(crate) fn deadline_verdict(
    last_seen: Option<&str>,
    partial: bool,
    last_error: Option<&QueryError>,
    unanswered: u32,
    last: crate::poll::LastRead,
    queries: u32,
) -> (Reason, String) {
    use crate::poll::LastRead;
    let silent = |n: u32| {
        format!(
            "{n} of {queries} read{} went unanswered",
            if queries == 1 { "" } else { "s" }
        )
    };
    let earlier = last_seen
        .map(|s| format!("; an earlier answer said: {s}"))
        .unwrap_or_default();
    match last {
        LastRead::NotThere => {
            let seen = last_seen.unwrap_or("not there");
            let also = if unanswered > 0 {
                format!(" ({})", silent(unanswered))
            } else {
                String::new()
            };
            if partial {
                (Reason::Incomplete, format!("{seen}{also}"))
            } else {
                (
                    Reason::NotFound,
                    format!("not visible before the deadline; last read: {seen}{also}"),
                )
            }
        }
        LastRead::Unanswered => {
            let last = match last_error {
                Some(e) => format!("; last error: {e}"),
                None => "; the read still running at the deadline was abandoned".into(),
            };
            (
                Reason::Timeout,
                format!(
                    "no answer before the deadline: {}{last}{earlier}",
                    silent(unanswered)
                ),
            )
        }
        LastRead::Failed => (
            Reason::QueryFailed,
            match last_error {
                Some(e) => format!("the last read failed: {e}{earlier}"),
                None => format!("the last read failed{earlier}"),
            },
        ),
        LastRead::None => (
            Reason::Timeout,
            "no read could start before the deadline".into(),
        ),
    }
}

/// Places a hop before `total`, which closes a signal's rows.
fn insert_before_total(hops: &mut Vec<Hop>, hop: Hop) {
    let at = hops
        .iter()
        .position(|h| h.hop == HopName::Total)
        .unwrap_or(hops.len());
    hops.insert(at, hop);
}

/// The search hop from its own poll, with what its failure leaves for the hint.
fn search_hop(polled: Polled<usize, QueryError>) -> (Hop, Option<Failure>) {
    let reads = polled.reads.clone();
    let (hop, failure) = search_hop_of(polled);
    (Hop { reads, ..hop }, failure)
}

fn search_hop_of(polled: Polled<usize, QueryError>) -> (Hop, Option<Failure>) {
    let queries = Some(polled.queries);
    match polled.end {
        PollEnd::Found(_, vis) => (
            Hop {
                seconds: Some(vis.estimate()),
                visible_after: Some(vis.after),
                visible_by: Some(vis.by),
                resolution: Some(vis.resolution()),
                queries,
                ..Hop::new(HopName::Search, Status::Ok)
            },
            None,
        ),
        PollEnd::Refused { error, .. } => (
            Hop {
                queries,
                ..Hop::failed(HopName::Search, Reason::QueryFailed, error.to_string())
            },
            Some(Failure {
                error: Some(error),
                last_seen: None,
                reads: (0, polled.queries),
            }),
        ),
        PollEnd::Deadline {
            last_seen,
            partial,
            last_error,
            unanswered,
            last,
        } => {
            let (reason, detail) = deadline_verdict(
                last_seen.as_deref(),
                partial,
                last_error.as_ref(),
                unanswered,
                last,
                polled.queries,
            );
            let detail = match reason {
                Reason::NotFound => format!("not found by search: {detail}"),
                _ => format!("search: {detail}"),
            };
            (
                Hop {
                    queries,
                    ..Hop::failed(HopName::Search, reason, detail)
                },
                Some(Failure {
                    error: last_error,
                    last_seen,
                    reads: (unanswered, polled.queries),
                }),
            )
        }
    }
}
