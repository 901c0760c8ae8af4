//! `otel-canary run`: one probe, every signal read back, a report and an exit code.

use crate::cli::{ExportArgs, ReadArgs, RunArgs, RunOutput};
use crate::commands::emit::target_warnings;
use crate::config::ConfigError;
use crate::config::assertions::resolve_assertions;
use crate::config::emitter::{Emitter, EmitterMode, resolve_emitter};
use crate::config::env::EnvSnapshot;
use crate::config::otlp::{ExportTarget, resolve_export_target, shadowed_endpoints, tenant};
use crate::config::read::{ReadTarget, resolve_read_target};
use crate::config::resource::ResourceSpec;
use crate::config::scenario::Scenario;
use crate::emit::payload::MetricTag;
use crate::emit::probe_emitter::ProbeEmitter;
use crate::emit::sdk::{SdkEmitter, resolve_sdk_target};
use crate::probe::Probe;
use crate::report::progress::TerminalProgress;
use crate::report::{
    EmitterProbe, ProbeView, ResourceView, RunReport, run_html, run_human, run_json, run_junit,
    timeline,
};
use crate::roundtrip::compare::{Side, differences};
use crate::roundtrip::{NoProgress, Progress, RoundTrip, RunOutcome};
use crate::self_trace::{SelfTraceTarget, SelfTracer};
use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Duration;

/// A round trip ready to run, with what the report needs to say about its configuration.
pub struct Prepared {
    /// The round trip of the first emitter (the wire emitter's under `both`).
    pub roundtrip: RoundTrip,
    /// Under `--emitter both`: the SDK emitter's round trip, run alongside.
    pub sdk_roundtrip: Option<RoundTrip>,
    pub emitter: EmitterMode,
    pub resource: ResourceSpec,
    /// The scenario file in effect, loaded once (`serve` reads its `[pull]` from it).
    pub scenario: Option<Arc<Scenario>>,
    pub warnings: Vec<String>,
    /// `--self-trace`, validated; the command starts the tracer.
    pub self_trace_target: Option<SelfTraceTarget>,
    /// The running self-tracer: every probe's own trace is handed to it.
    pub self_trace: Option<Arc<SelfTracer>>,
}

impl Prepared {
    /// A single round trip with nothing else (the demo's).
    pub fn single(roundtrip: RoundTrip, resource: ResourceSpec) -> Prepared {
        Prepared {
            emitter: match roundtrip.emitter() {
                Emitter::Wire => EmitterMode::Wire,
                Emitter::Sdk => EmitterMode::Sdk,
            },
            roundtrip,
            sdk_roundtrip: None,
            resource,
            scenario: None,
            warnings: Vec::new(),
            self_trace_target: None,
            self_trace: None,
        }
    }

    /// Every round trip of this preparation (one, or two under `both`).
    pub fn roundtrips(&self) -> Vec<&RoundTrip> {
        std::iter::once(&self.roundtrip)
            .chain(self.sdk_roundtrip.as_ref())
            .collect()
    }

    /// Starts `--self-trace`'s background exporter, if asked for.
    pub fn start_self_trace(
        &mut self,
        dropped: prometheus_client::metrics::counter::Counter,
    ) -> Result<(), ConfigError> {
        if let Some(t) = self.self_trace_target.clone() {
            let tracer = SelfTracer::start(t, &self.resource.service_instance_id.value, dropped)?;
            self.self_trace = Some(Arc::new(tracer));
        }
        Ok(())
    }
}

/// Where a probe writes and reads, as `run` resolves it from the scenario, flags and
/// environment (each value with its provenance). `doctor` holds its scan against exactly this.
pub struct Targets {
    pub scenario: Option<Arc<Scenario>>,
    pub export: ExportTarget,
    pub read: ReadTarget,
}

/// Resolves the scenario file (if any), then the export and read targets on top of it.
pub fn resolve_targets(
    scenario: Option<&str>,
    export: &ExportArgs,
    read: &ReadArgs,
    env: &EnvSnapshot,
) -> Result<Targets, ConfigError> {
    let scenario = scenario.map(Scenario::load).transpose()?.map(Arc::new);
    let mut export_flags = export.flags();
    export_flags.scenario = scenario.clone();
    let export = resolve_export_target(&export_flags, env)?;
    let tenant = tenant(&export_flags)?;
    let read = resolve_read_target(&read.flags(), scenario.as_deref(), tenant, env)?;
    Ok(Targets {
        scenario,
        export,
        read,
    })
}

/// Resolves scenario, flags and environment into a round trip for one-shot `run`, which
/// skips a scenario's `[pull]` paths and says so.
pub fn prepare(args: &RunArgs, env: &EnvSnapshot) -> Result<Prepared, ConfigError> {
    prepare_with(args, env, true)
}

/// `prepare` for `serve`, which checks the `[pull]` paths itself.
pub fn prepare_for_serve(args: &RunArgs, env: &EnvSnapshot) -> Result<Prepared, ConfigError> {
    prepare_with(args, env, false)
}

fn prepare_with(
    args: &RunArgs,
    env: &EnvSnapshot,
    warn_pull_skipped: bool,
) -> Result<Prepared, ConfigError> {
    let scenario = args
        .scenario
        .as_deref()
        .map(Scenario::load)
        .transpose()?
        .map(Arc::new);
    let emitter = resolve_emitter(args.probe.emitter, scenario.as_deref())?.value;
    let self_trace_target = SelfTraceTarget::resolve(
        args.self_trace.self_trace.as_deref(),
        args.self_trace.self_trace_protocol,
    )?;
    let mut export_flags = args.export.flags();
    export_flags.scenario = scenario.clone();
    let uses = |e: Emitter| emitter.emitters().contains(&e);
    // The SDK reads the environment itself: the wire target (which refuses what the SDK
    // might take) is only resolved when the wire emitter runs.
    let export = if uses(Emitter::Wire) {
        Some(resolve_export_target(&export_flags, env)?)
    } else {
        None
    };
    let sdk_target = if uses(Emitter::Sdk) {
        Some(resolve_sdk_target(&export_flags, env)?)
    } else {
        None
    };
    let read = resolve_read_target(
        &args.read.flags(),
        scenario.as_deref(),
        tenant(&export_flags)?,
        env,
    )?;

    let mut resource_flags = args.probe.resource_flags();
    let mut tag = args.probe.metric_tag.map(Into::into);
    if let Some(sc) = scenario.as_deref() {
        let p = &sc.data.probe;
        resource_flags.scenario_service_name = p
            .service_name
            .as_ref()
            .map(|v| sc.sourced(v, "probe.service_name"));
        resource_flags.scenario_service_instance_id = p
            .service_instance_id
            .as_ref()
            .map(|v| sc.sourced(v, "probe.service_instance_id"));
        if tag.is_none()
            && let Some(v) = &p.metric_tag
        {
            tag = Some(sc.parse_value::<MetricTag>(v, "probe.metric_tag")?.value);
        }
    }
    let tag = tag.unwrap_or_default();
    let resource = ResourceSpec::resolve(&resource_flags, env)?;
    let mut warnings = Vec::new();
    if let Some(export) = &export {
        warnings.extend(target_warnings(export));
    }
    if let Some(sc) = scenario.as_deref().filter(|_| warn_pull_skipped) {
        let p = &sc.data.pull;
        if p.scrape.is_some() || p.log_line.is_some() {
            warnings.push(format!(
                "{}: the [pull] paths (scrape marker, log line) are checked by `otel-canary \
                 serve` only; this one-shot run skips them",
                sc.file
            ));
        }
    }
    if let Some(export) = &export {
        warnings.extend(shadowed_endpoints(export, env));
    }
    let sdk = sdk_target
        .map(|t| SdkEmitter::new(t, resource.clone(), tag))
        .transpose()?;
    if let Some(s) = &sdk {
        warnings.extend(s.warnings());
    }
    let assertions = resolve_assertions(scenario.as_deref(), &read)?;
    let (roundtrip, sdk_roundtrip) = match (export, sdk) {
        (Some(export), None) => (RoundTrip::new(&export, read, resource.clone(), tag)?, None),
        (None, Some(sdk)) => (
            RoundTrip::with_emitter(
                ProbeEmitter::Sdk(Box::new(sdk)),
                read,
                resource.clone(),
                tag,
            )?,
            None,
        ),
        (Some(export), Some(sdk)) => (
            RoundTrip::new(&export, read.clone(), resource.clone(), tag)?,
            Some(RoundTrip::with_emitter(
                ProbeEmitter::Sdk(Box::new(sdk)),
                read,
                resource.clone(),
                tag,
            )?),
        ),
        (None, None) => unreachable!("every emitter mode runs at least one emitter"),
    };
    // Assertions are about the stack, not about a probe: checked once, after the first.
    let roundtrip = roundtrip.with_assertions(assertions);
    for w in roundtrip.warnings() {
        if !warnings.contains(&w) {
            warnings.push(w);
        }
    }
    Ok(Prepared {
        roundtrip,
        sdk_roundtrip,
        emitter,
        resource,
        scenario,
        warnings,
        self_trace_target,
        self_trace: None,
    })
}

/// Runs the prepared round trip once and builds the report (the probe is returned too, for
/// callers that check what arrived).
pub async fn run_once(p: &Prepared, progress: &dyn Progress) -> (RunReport, Probe) {
    run_once_until(p, progress, None).await
}

/// `run_once` with every read deadline cut at `cap` (`serve`'s `/probe`). Under `both` the
/// two emitters' probes run at the same time; the probe returned is the first emitter's.
pub async fn run_once_until(
    p: &Prepared,
    progress: &dyn Progress,
    cap: Option<std::time::Instant>,
) -> (RunReport, Probe) {
    let (outcome, second): (RunOutcome, Option<RunOutcome>) = match &p.sdk_roundtrip {
        None => (p.roundtrip.run_until(progress, cap).await, None),
        Some(sdk) => {
            let (a, b) = tokio::join!(
                p.roundtrip.run_until(progress, cap),
                sdk.run_until(&NoProgress, cap)
            );
            (a, Some(b))
        }
    };
    let report = report_of(p, &outcome, second.as_ref());
    if let Some(st) = &p.self_trace {
        let mut probes = vec![(p.roundtrip.emitter().as_str(), &outcome.probe)];
        if let Some(b) = &second {
            probes.push((Emitter::Sdk.as_str(), &b.probe));
        }
        st.record(&report, &probes);
    }
    (report, outcome.probe)
}

/// The report of one probe, or of two side by side under `both`.
fn report_of(p: &Prepared, first: &RunOutcome, second: Option<&RunOutcome>) -> RunReport {
    let mut report = RunReport {
        probe: ProbeView::of(&first.probe),
        resource: ResourceView::of(&p.resource),
        scenario: p.scenario.as_ref().map(|s| s.file.clone()),
        ok: first.ok(),
        seconds: first.seconds,
        signals: first.signals.clone(),
        pulls: first.pulls.clone(),
        assertions: first.assertions.clone(),
        warnings: p.warnings.clone(),
        emitter: p.emitter,
        probes: Vec::new(),
        differences: Vec::new(),
    };
    let Some(second) = second else {
        return report;
    };
    fn side(o: &RunOutcome) -> Vec<Side<'_>> {
        o.signals
            .iter()
            .map(|s| Side {
                export: &s.export,
                status: s.status,
                reason: s.reason,
            })
            .collect()
    }
    report.differences = differences(&side(first), &side(second));
    report.probes = [(Emitter::Wire, first), (Emitter::Sdk, second)]
        .into_iter()
        .map(|(emitter, o)| EmitterProbe {
            emitter,
            ok: o.ok(),
            seconds: o.seconds,
            probe: ProbeView::of(&o.probe),
        })
        .collect();
    report.ok = first.ok() && second.ok();
    report.seconds = first.seconds.max(second.seconds);
    report.signals.extend(second.signals.iter().cloned());
    report
}

/// How long a one-shot command waits, after its report, for its self-traces to leave.
pub const SELF_TRACE_GRACE: Duration = Duration::from_secs(5);

pub async fn run(args: &RunArgs, env: &EnvSnapshot) -> Result<u8, ConfigError> {
    let mut prepared = prepare(args, env)?;
    prepared.roundtrip.resolve_grafana().await?;
    if let Some(sdk) = &prepared.sdk_roundtrip {
        sdk.resolve_grafana().await?;
    }
    prepared.start_self_trace(Default::default())?;
    let report = if std::io::stderr().is_terminal() && args.output == RunOutput::Human {
        let progress = TerminalProgress::new(&prepared.roundtrip.signals());
        let (r, _) = run_once(&prepared, &progress).await;
        progress.finish();
        r
    } else {
        run_once(&prepared, &NoProgress).await.0
    };
    let text = match args.output {
        RunOutput::Human => run_human::render_with(&report, terminal_timeline(args, &report)),
        RunOutput::Json => run_json::render(&report),
        RunOutput::Junit => run_junit::render(&report),
        RunOutput::Html => run_html::render(&report),
    };
    super::write_report(&text);
    if let Some(st) = &prepared.self_trace {
        st.finish(SELF_TRACE_GRACE).await;
        if st.dropped() > 0 {
            eprintln!(
                "warning: --self-trace: {} span(s) of the canary's own trace could not be \
                 exported to {}",
                st.dropped(),
                crate::redact::redact_url(&st.target.url.value)
            );
        }
    }
    Ok(report.exit_code())
}

/// The timeline under the human table: only on a terminal, as wide as it is, unless
/// `--no-timeline`.
fn terminal_timeline(args: &RunArgs, report: &RunReport) -> Option<String> {
    if args.no_timeline || !std::io::stdout().is_terminal() {
        return None;
    }
    // A pseudo-terminal may report no size (`script`, some CI runners): then $COLUMNS.
    let width = terminal_size::terminal_size_of(std::io::stdout())
        .map(|(terminal_size::Width(w), _)| usize::from(w))
        .or_else(|| std::env::var("COLUMNS").ok()?.trim().parse().ok())?;
    timeline::render(report, width)
}
