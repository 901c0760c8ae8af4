//! `otel-canary doctor [HOST]`: scan the host's usual ports (and every configured target's),
//! say what speaks on each, and hold that against the target `run` would use. Exit 0 when
//! every configured target fits, 1 when one mismatches or is closed, 2 for usage errors.

use super::run::{Targets, resolve_targets};
use crate::cli::{DoctorArgs, Output};
use crate::commands::emit::target_warnings;
use crate::config::env::EnvSnapshot;
use crate::config::{ConfigError, Provenance};
use crate::diagnose::scan::check::Checks;
use crate::diagnose::scan::plan::{self, ScanTarget};
use crate::diagnose::scan::{Budget, DoctorReport, USUAL_PORTS, compare, scan};
use crate::report::{doctor_human, doctor_json};
use std::time::Instant;

/// Resolves, scans, compares: the whole diagnosis, without printing.
pub async fn diagnose(
    args: &DoctorArgs,
    env: &EnvSnapshot,
    budget: &Budget,
) -> Result<DoctorReport, ConfigError> {
    let started = Instant::now();
    let Targets {
        scenario,
        export,
        read,
    } = resolve_targets(args.scenario.as_deref(), &args.export, &args.read, env)?;
    let host = plan::scan_host(args.host.as_deref(), &export)?;
    let checks = Checks::new(&export, &read, budget)?;
    let (ports, listed) = if args.ports.is_empty() {
        (USUAL_PORTS.to_vec(), false)
    } else {
        (args.ports.clone(), true)
    };
    let wanted = plan::wanted(
        &host.value,
        &ports,
        listed,
        &export,
        &read,
        scenario.as_deref(),
    );
    let targets = plan::resolve(wanted, budget).await;
    if let Some(t) = targets
        .iter()
        .find(|t: &&ScanTarget| t.address.is_none() && t.names.contains(&host.value))
        && host.source == Provenance::flag("HOST")
    {
        return Err(ConfigError::new(
            "HOST",
            format!(
                "'{}' does not resolve: {}",
                host.value,
                t.error.as_deref().unwrap_or("no address")
            ),
        ));
    }
    let unresolved: Vec<String> = targets
        .iter()
        .filter(|t| t.address.is_none())
        .flat_map(|t| t.names.clone())
        .collect();
    let deadline = started + budget.deadline;
    let (findings, (exports, reads)) = tokio::join!(
        scan(targets, budget, deadline),
        checks.run(deadline, &unresolved)
    );
    let verdicts = compare::compare(&exports, &reads, &findings, budget);

    let mut warnings = target_warnings(&export);
    let all_default = export
        .signals
        .iter()
        .all(|t| t.url.source == Provenance::Default);
    if all_default && host.source != Provenance::Default {
        warnings.push(format!(
            "no OTLP endpoint is configured, so the default ({}) is what was checked; give \
             --endpoint http://{} to check {} instead",
            export
                .signals
                .first()
                .map(|t| t.url.value.to_string())
                .unwrap_or_default(),
            plan::authority(&host.value, 4318),
            host.value
        ));
    }
    Ok(DoctorReport {
        host,
        scenario: scenario.map(|s| s.file.clone()),
        ok: verdicts.iter().all(|v| v.ok),
        seconds: started.elapsed().as_secs_f64(),
        deadline_seconds: budget.deadline.as_secs_f64(),
        connect_timeout_seconds: budget.connect.as_secs_f64(),
        ports: findings,
        targets: verdicts,
        warnings,
    })
}

/// Runs `doctor` and prints the report; the exit code says whether every target fits.
pub async fn run(args: &DoctorArgs, env: &EnvSnapshot) -> Result<u8, ConfigError> {
    let report = diagnose(args, env, &Budget::default()).await?;
    let text = match args.output {
        Output::Human => doctor_human::render(&report),
        Output::Json => doctor_json::render(&report),
    };
    super::write_report(&text);
    Ok(if report.ok { 0 } else { 1 })
}
