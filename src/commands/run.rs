//! `otel-canary run`: one probe, every signal read back, a report and an exit code.

use crate::cli::{ExportArgs, ReadArgs, RunArgs, RunOutput};
use crate::commands::emit::target_warnings;
use crate::config::ConfigError;
use crate::config::assertions::resolve_assertions;
use crate::config::env::EnvSnapshot;
use crate::config::otlp::{ExportTarget, resolve_export_target, shadowed_endpoints, tenant};
use crate::config::read::{ReadTarget, resolve_read_target};
use crate::config::resource::ResourceSpec;
use crate::config::scenario::Scenario;
use crate::emit::payload::MetricTag;
use crate::probe::Probe;
use crate::report::progress::TerminalProgress;
use crate::report::{ProbeView, ResourceView, RunReport, run_human, run_json, run_junit};
use crate::roundtrip::{NoProgress, Progress, RoundTrip};
use std::io::IsTerminal;
use std::sync::Arc;

/// A round trip ready to run, with what the report needs to say about its configuration.
pub struct Prepared {
    pub roundtrip: RoundTrip,
    pub resource: ResourceSpec,
    /// The scenario file in effect, loaded once (`serve` reads its `[pull]` from it).
    pub scenario: Option<Arc<Scenario>>,
    pub warnings: Vec<String>,
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
    let Targets {
        scenario,
        export,
        read,
    } = resolve_targets(args.scenario.as_deref(), &args.export, &args.read, env)?;

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
    let resource = ResourceSpec::resolve(&resource_flags, env)?;
    let mut warnings = target_warnings(&export);
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
    warnings.extend(shadowed_endpoints(&export, env));
    let assertions = resolve_assertions(scenario.as_deref(), &read)?;
    let roundtrip = RoundTrip::new(&export, read, resource.clone(), tag.unwrap_or_default())?
        .with_assertions(assertions);
    warnings.extend(roundtrip.warnings());
    Ok(Prepared {
        roundtrip,
        resource,
        scenario,
        warnings,
    })
}

/// Runs the prepared round trip once and builds the report (the probe is returned too, for
/// callers that check what arrived).
pub async fn run_once(p: &Prepared, progress: &dyn Progress) -> (RunReport, Probe) {
    run_once_until(p, progress, None).await
}

/// `run_once` with every read deadline cut at `cap` (`serve`'s `/probe`).
pub async fn run_once_until(
    p: &Prepared,
    progress: &dyn Progress,
    cap: Option<std::time::Instant>,
) -> (RunReport, Probe) {
    let outcome = p.roundtrip.run_until(progress, cap).await;
    let report = RunReport {
        probe: ProbeView::of(&outcome.probe),
        resource: ResourceView::of(&p.resource),
        scenario: p.scenario.as_ref().map(|s| s.file.clone()),
        ok: outcome.ok(),
        seconds: outcome.seconds,
        signals: outcome.signals,
        pulls: outcome.pulls,
        assertions: outcome.assertions,
        warnings: p.warnings.clone(),
    };
    (report, outcome.probe)
}

pub async fn run(args: &RunArgs, env: &EnvSnapshot) -> Result<u8, ConfigError> {
    let prepared = prepare(args, env)?;
    prepared.roundtrip.resolve_grafana().await?;
    let report = if std::io::stderr().is_terminal() && args.output == RunOutput::Human {
        let progress = TerminalProgress::new(&prepared.roundtrip.signals());
        let (r, _) = run_once(&prepared, &progress).await;
        progress.finish();
        r
    } else {
        run_once(&prepared, &NoProgress).await.0
    };
    let text = match args.output {
        RunOutput::Human => run_human::render(&report),
        RunOutput::Json => run_json::render(&report),
        RunOutput::Junit => run_junit::render(&report),
    };
    print!("{text}");
    Ok(if report.ok { 0 } else { 1 })
}
