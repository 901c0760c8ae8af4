//! `otel-canary emit`: send one probe and report each export.

use crate::cli::{EmitArgs, Output};
use crate::config::ConfigError;
use crate::config::emitter::{Emitter, EmitterMode, resolve_emitter};
use crate::config::env::EnvSnapshot;
use crate::config::otlp::{ExportFlags, ExportTarget, resolve_export_target, shadowed_endpoints};
use crate::config::resource::{ResourceFlags, ResourceSpec};
use crate::emit::exporter::Exporter;
use crate::emit::outcome::ExportOutcome;
use crate::emit::payload::MetricTag;
use crate::emit::sdk::{SdkEmitter, resolve_sdk_target};
use crate::probe::Probe;
use crate::report::{EmitReport, EmitterProbe, ProbeView, ResourceView, emit_human, emit_json};
use crate::roundtrip::compare::{Side, differences};
use crate::roundtrip::outcome::{Reason, Status};
use std::time::Instant;

/// Resolves the target, sends one probe, and returns the report.
pub async fn emit_probe(
    flags: &ExportFlags,
    resource: &ResourceFlags,
    tag: MetricTag,
    env: &EnvSnapshot,
) -> Result<(Probe, EmitReport), ConfigError> {
    let target = resolve_export_target(flags, env)?;
    let resource = ResourceSpec::resolve(resource, env)?;
    let exporter = Exporter::new(&target)?;
    let probe = Probe::start();
    let exports = exporter.export(&probe, &resource, tag).await;
    let report = EmitReport {
        probe: ProbeView::of(&probe),
        resource: ResourceView::of(&resource),
        exports,
        warnings: target_warnings(&target)
            .into_iter()
            .chain(shadowed_endpoints(&target, env))
            .collect(),
        emitter: EmitterMode::Wire,
        probes: Vec::new(),
        differences: Vec::new(),
    };
    Ok((probe, report))
}

/// Sends one probe with the SDK emitter, or one with each emitter (`both`), and returns the
/// report.
pub async fn emit_with(
    mode: EmitterMode,
    flags: &ExportFlags,
    resource: &ResourceFlags,
    tag: MetricTag,
    env: &EnvSnapshot,
) -> Result<EmitReport, ConfigError> {
    if mode == EmitterMode::Wire {
        return emit_probe(flags, resource, tag, env).await.map(|(_, r)| r);
    }
    let resource = ResourceSpec::resolve(resource, env)?;
    let sdk = SdkEmitter::new(resolve_sdk_target(flags, env)?, resource.clone(), tag)?;
    let mut warnings = sdk.warnings();
    let wire = if mode == EmitterMode::Both {
        let target = resolve_export_target(flags, env)?;
        warnings.extend(target_warnings(&target));
        warnings.extend(shadowed_endpoints(&target, env));
        Some(Exporter::new(&target)?)
    } else {
        None
    };
    let (sdk_probe, wire_probe) = (Probe::start(), Probe::start());
    let sdk_run = async {
        let t = Instant::now();
        let e = sdk.export(&sdk_probe).await;
        (e, t.elapsed().as_secs_f64())
    };
    let wire_run = async {
        let w = wire.as_ref()?;
        let t = Instant::now();
        let e = w.export(&wire_probe, &resource, tag).await;
        Some((e, t.elapsed().as_secs_f64()))
    };
    let ((sdk_exports, sdk_seconds), wire_run) = tokio::join!(sdk_run, wire_run);
    let view =
        |emitter: Emitter, p: &Probe, exports: &[ExportOutcome], seconds: f64| EmitterProbe {
            emitter,
            ok: exports.iter().all(ExportOutcome::accepted),
            seconds,
            probe: ProbeView::of(p),
        };
    fn side(exports: &[ExportOutcome]) -> Vec<Side<'_>> {
        exports
            .iter()
            .map(|e| Side {
                export: e,
                status: if e.accepted() {
                    Status::Ok
                } else {
                    Status::Failed
                },
                reason: e.last().error.as_ref().map(|x| Reason::Export(x.class)),
            })
            .collect()
    }
    let resource = ResourceView::of(sdk.resource());
    Ok(match wire_run {
        None => EmitReport {
            probe: ProbeView::of(&sdk_probe),
            resource,
            exports: sdk_exports,
            warnings,
            emitter: EmitterMode::Sdk,
            probes: Vec::new(),
            differences: Vec::new(),
        },
        Some((wire_exports, wire_seconds)) => EmitReport {
            probe: ProbeView::of(&wire_probe),
            resource,
            differences: differences(&side(&wire_exports), &side(&sdk_exports)),
            probes: vec![
                view(Emitter::Wire, &wire_probe, &wire_exports, wire_seconds),
                view(Emitter::Sdk, &sdk_probe, &sdk_exports, sdk_seconds),
            ],
            exports: wire_exports.into_iter().chain(sdk_exports).collect(),
            warnings,
            emitter: EmitterMode::Both,
        },
    })
}

/// Settings that work but deserve a word.
pub fn target_warnings(target: &ExportTarget) -> Vec<String> {
    let mut w = Vec::new();
    for t in &target.signals {
        let s = t.signal;
        if t.tls.insecure_skip_verify && t.url.value.scheme() == "https" {
            w.push(format!(
                "{s}: --insecure-skip-verify: the server's certificate is not checked"
            ));
        }
        if !t.protocol.value.is_http() && !matches!(t.url.value.path(), "" | "/") {
            w.push(format!(
                "{s}: gRPC ignores the URL path '{}' ({}); did you mean --protocol http/protobuf?",
                t.url.value.path(),
                t.url.source
            ));
        }
        if t.url.value.scheme() == "http" && t.headers.iter().any(|h| h.is_secret()) {
            w.push(format!(
                "{s}: credentials are sent over plain http to {}",
                t.url.value.host_str().unwrap_or("")
            ));
        }
    }
    w
}

pub async fn run(args: &EmitArgs, env: &EnvSnapshot) -> Result<u8, ConfigError> {
    let mode = resolve_emitter(args.probe.emitter, None)?.value;
    let report = emit_with(
        mode,
        &args.export.flags(),
        &args.probe.resource_flags(),
        args.probe.tag(),
        env,
    )
    .await?;
    let text = match args.output {
        Output::Human => emit_human::render(&report),
        Output::Json => emit_json::render(&report),
    };
    super::write_report(&text);
    Ok(if report.ok() { 0 } else { 1 })
}
