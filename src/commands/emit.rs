//! `otel-canary emit`: send one probe and report each export.

use crate::cli::{EmitArgs, Output};
use crate::config::ConfigError;
use crate::config::env::EnvSnapshot;
use crate::config::otlp::{ExportFlags, ExportTarget, resolve_export_target, shadowed_endpoints};
use crate::config::resource::{ResourceFlags, ResourceSpec};
use crate::emit::exporter::Exporter;
use crate::emit::payload::MetricTag;
use crate::probe::Probe;
use crate::report::{EmitReport, ProbeView, ResourceView, emit_human, emit_json};

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
    };
    Ok((probe, report))
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
    let (_, report) = emit_probe(
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
    print!("{text}");
    Ok(if report.ok() { 0 } else { 1 })
}
