//! `otel-canary serve`: resolve every scenario exactly as `run` does, then hand them to the
//! daemon (`crate::serve`) until SIGTERM or Ctrl-C.

use crate::cli::{RunArgs, RunOutput, ServeArgs, ServeSchedule};
use crate::config::ConfigError;
use crate::config::env::EnvSnapshot;
use crate::config::pull::resolve_pull_target;
use crate::serve::metrics::CanaryMetrics;
use crate::serve::{ScenarioProbe, ServeConfig};
use std::path::Path;
use std::sync::Arc;

/// The scenario arguments as (name, argument for `Scenario::load`): directories expand to
/// their `*.toml` files, names come from file stems.
fn scenario_list(args: &[String]) -> Result<Vec<(String, Option<String>)>, ConfigError> {
    if args.is_empty() {
        return Ok(vec![("default".to_string(), None)]);
    }
    let mut out: Vec<(String, Option<String>)> = Vec::new();
    for arg in args {
        let path = Path::new(arg);
        let files: Vec<String> = if path.is_dir() {
            let mut files: Vec<String> = std::fs::read_dir(path)
                .map_err(|e| ConfigError::new("--scenario", format!("cannot read {arg}: {e}")))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "toml") && p.is_file())
                .map(|p| p.display().to_string())
                .collect();
            files.sort();
            if files.is_empty() {
                return Err(ConfigError::new(
                    "--scenario",
                    format!("the directory {arg} holds no *.toml scenario"),
                ));
            }
            files
        } else {
            vec![arg.clone()]
        };
        for f in files {
            let name = Path::new(&f)
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| f.clone());
            if out.iter().any(|(n, _)| *n == name) {
                return Err(ConfigError::new(
                    "--scenario",
                    format!(
                        "two scenarios are called '{name}' (the file name is the scenario's name \
                         in metrics): rename one"
                    ),
                ));
            }
            out.push((name, Some(f)));
        }
    }
    Ok(out)
}

/// Resolves one scenario into a ready round trip with its pull paths.
fn prepare_scenario(
    name: String,
    file: Option<String>,
    args: &ServeArgs,
    env: &EnvSnapshot,
    metrics: &Arc<CanaryMetrics>,
) -> Result<ScenarioProbe, ConfigError> {
    let run_args = RunArgs {
        scenario: file.clone(),
        export: args.export.clone(),
        probe: args.probe.clone(),
        read: args.read.clone(),
        self_trace: args.self_trace.clone(),
        output: RunOutput::Json,
        no_timeline: true,
    };
    let mut prepared = super::run::prepare_for_serve(&run_args, env)?;
    let pulls = resolve_pull_target(
        prepared.scenario.as_deref(),
        &name,
        prepared.roundtrip.read_target(),
    )?;
    let setter_metrics = metrics.clone();
    let setter_name = name.clone();
    if let Some(sdk) = prepared.sdk_roundtrip.take() {
        prepared.sdk_roundtrip = Some(
            sdk.overlapping(args.max_in_flight > 1)
                .learning(args.schedule == ServeSchedule::Learned),
        );
    }
    let learn = args.schedule == ServeSchedule::Learned;
    prepared.roundtrip = prepared
        .roundtrip
        .overlapping(args.max_in_flight > 1)
        .learning(learn)
        .with_pulls(
            &pulls,
            &name,
            Arc::new(move |marker| setter_metrics.set_scrape_marker(&setter_name, marker)),
        )?;
    Ok(ScenarioProbe { name, prepared })
}

pub async fn run(args: &ServeArgs, env: &EnvSnapshot) -> Result<u8, ConfigError> {
    let metrics = Arc::new(CanaryMetrics::new());
    let mut scenarios = scenario_list(&args.scenarios)?
        .into_iter()
        .map(|(name, file)| prepare_scenario(name, file, args, env, &metrics))
        .collect::<Result<Vec<_>, _>>()?;
    // One self-tracer for every scenario: one queue, one exporter, one dropped-spans counter.
    let self_trace = match scenarios.first_mut() {
        Some(first) => {
            first
                .prepared
                .start_self_trace(metrics.self_trace_dropped())?;
            first.prepared.self_trace.clone()
        }
        None => None,
    };
    for s in &mut scenarios {
        s.prepared.self_trace = self_trace.clone();
    }
    let config = ServeConfig {
        scenarios,
        interval: args.interval,
        max_in_flight: args.max_in_flight as usize,
        listen: args.listen,
        shutdown_grace: args.shutdown_grace,
    };
    crate::serve::run(config, metrics, crate::serve::shutdown_signal())
        .await
        .map_err(|e| ConfigError::new("--listen", e.to_string()))?;
    if let Some(st) = self_trace {
        st.finish(args.shutdown_grace).await;
    }
    Ok(0)
}
