//! The round trip: emit each signal, then poll its backend until it is visible or its
//! deadline passes, all signals concurrently, and turn what happened into hops and verdicts.

pub mod compare;
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
use crate::diagnose::hints::{HintContext, hint};
use crate::emit::exporter::Exporter;
use crate::emit::payload::MetricTag;
use crate::emit::probe_emitter::ProbeEmitter;
use crate::poll::{PollEnd, PollPolicy, Polled, Read, poll};
use crate::probe::{Probe, hex};
use crate::redact::redact_url;
use crate::signal::Signal;
use futures_util::future::join_all;
use outcome::{Check, Hop, HopName, PullOutcome, ReadView, Reason, SignalOutcome, Status};
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
    /// Wall time of the whole round trip.
    pub seconds: f64,
}

impl RunOutcome {
    pub fn ok(&self) -> bool {
        self.signals.iter().all(|s| s.status != Status::Failed)
            && self.pulls.iter().all(|p| p.status != Status::Failed)
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
    pub policy: PollPolicy,
}

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
            policy: PollPolicy::default(),
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
        let before = self.pages_before().await;
        let probe = Probe::start();
        let signals = join_all(
            self.exporter
                .signals()
                .into_iter()
                .map(|s| self.signal(s, &probe, &before, progress, cap)),
        );
        let (signals, pulls) = tokio::join!(signals, self.pulls(&probe, cap));
        RunOutcome {
            probe,
            signals,
            pulls,
            seconds: started.elapsed().as_secs_f64(),
        }
    }

    async fn signal(
        &self,
        signal: Signal,
        probe: &Probe,
        before: &PagesBefore,
        progress: &dyn Progress,
        cap: Option<Instant>,
    ) -> SignalOutcome {
        progress.event(signal, ProgressEvent::Exporting);
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
            self.finish(&mut out, None, None);
            progress.event(signal, ProgressEvent::Done { status: out.status });
            return out;
        }
        let mut export_hop = Hop::ok(HopName::Export, export_seconds);
        if let Some(w) = out.export.last().warning() {
            export_hop.detail = Some(format!("partial success warning: {w}"));
        }
        out.hops.push(export_hop);
        let window = Window::new(started, ack, self.read.timeout(signal).value, cap);
        let failure = match signal {
            Signal::Trace => self.verify_trace(probe, window, &mut out, progress).await,
            Signal::Log => self.verify_log(probe, window, &mut out, progress).await,
            Signal::Metric => self.verify_metric(probe, window, &mut out, progress).await,
        };
        let not_found = out
            .hop(HopName::Ingest)
            .is_some_and(|h| h.reason == Some(Reason::NotFound));
        if not_found {
            out.clues = self.post_mortem(signal, probe, before).await;
        }
        self.finish(
            &mut out,
            failure.as_ref().and_then(|f| f.error.as_ref()),
            failure.as_ref().and_then(|f| f.last_seen.as_deref()),
        );
        progress.event(signal, ProgressEvent::Done { status: out.status });
        out
    }

    /// Settles the verdict and writes the hint for the first failure.
    fn finish(&self, out: &mut SignalOutcome, error: Option<&QueryError>, last_seen: Option<&str>) {
        out.settle();
        let Some(reason) = out.reason else { return };
        let failed_hop = out
            .hops
            .iter()
            .find(|h| h.status == Status::Failed)
            .map(|h| h.hop)
            .unwrap_or(HopName::Ingest);
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
        let polled = poll(
            window.ack.into(),
            window.deadline.into(),
            self.policy,
            || {
                queries += 1;
                progress.event(signal, ProgressEvent::Polling { backend, queries });
                read()
            },
        )
        .await;
        let (hops, seen, failure) = hops_from_poll(polled, out.export.seconds(), window.started);
        out.hops.extend(hops);
        (seen, failure)
    }

    async fn verify_trace(
        &self,
        probe: &Probe,
        window: Window,
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
            Some(
                poll(ack.into(), deadline.into(), self.policy, || {
                    reader.search(probe)
                })
                .await,
            )
        };
        let by_id = self.read_back(out, view, window, progress, || reader.read_trace(probe));
        let ((seen, failure), search) = tokio::join!(by_id, search);
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
        let search_hop = match search {
            None => Hop {
                detail: Some("search check off (--no-search)".into()),
                ..Hop::new(HopName::Search, Status::Skipped)
            },
            Some(polled) => {
                let mut h = search_hop(polled);
                h.detail.get_or_insert_with(|| search_query(probe));
                h
            }
        };
        insert_before_total(&mut out.hops, search_hop);
        failure
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
}

impl Window {
    fn new(started: Instant, ack: Instant, timeout: Duration, cap: Option<Instant>) -> Window {
        let mut w = Window {
            started,
            ack,
            deadline: ack,
            cap,
        };
        w.deadline = w.limit(ack + timeout);
        w
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
                }),
            )
        }
        PollEnd::Deadline {
            last_seen,
            partial,
            last_error,
        } => {
            let (reason, detail) = match (&last_seen, &last_error) {
                (Some(seen), _) if partial => (Reason::Incomplete, seen.clone()),
                (Some(seen), _) => (
                    Reason::NotFound,
                    format!("not visible before the deadline; last read: {seen}"),
                ),
                (None, Some(e)) => (Reason::QueryFailed, format!("every read failed; last: {e}")),
                (None, None) => (
                    Reason::NotFound,
                    "no read completed before the deadline".into(),
                ),
            };
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
                }),
            )
        }
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

/// The search hop from its own poll.
fn search_hop(polled: Polled<usize, QueryError>) -> Hop {
    let queries = Some(polled.queries);
    match polled.end {
        PollEnd::Found(_, vis) => Hop {
            seconds: Some(vis.estimate()),
            visible_after: Some(vis.after),
            visible_by: Some(vis.by),
            resolution: Some(vis.resolution()),
            queries,
            ..Hop::new(HopName::Search, Status::Ok)
        },
        PollEnd::Refused { error, .. } => Hop {
            queries,
            ..Hop::failed(HopName::Search, Reason::QueryFailed, error.to_string())
        },
        PollEnd::Deadline {
            last_seen,
            last_error,
            ..
        } => {
            let detail = match (last_seen, last_error) {
                (_, Some(e)) => format!("not found by search before the deadline; last error: {e}"),
                (Some(s), None) => {
                    format!("not found by search before the deadline; last read: {s}")
                }
                (None, None) => "no search completed before the deadline".into(),
            };
            Hop {
                queries,
                ..Hop::failed(HopName::Search, Reason::NotFound, detail)
            }
        }
    }
}
