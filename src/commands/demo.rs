//! `otel-canary demo`: start the built-in stack (OTLP receivers plus Tempo, Loki and Mimir
//! query APIs) on free ports and run the full round trip once per protocol against it, then
//! check the stack received exactly what was sent, and that Tempo's derived signals (span
//! metrics, service graph, TraceQL metrics) followed. Needs nothing installed; it is the
//! README's first command.

use super::run::{Prepared, run_once};
use crate::cli::{DemoArgs, DemoOutput as Output};
use crate::config::ConfigError;
use crate::config::env::EnvSnapshot;
use crate::config::otlp::{ExportFlags, resolve_export_target};
use crate::config::read::{ReadFlags, resolve_read_target};
use crate::config::resource::{ResourceFlags, ResourceSpec};
use crate::emit::exporter::build_payload;
use crate::emit::payload::MetricTag;
use crate::lab::{LabStack, LabStackConfig, LabState, SignalFault};
use crate::probe::Probe;
use crate::report::{run_html, run_human, run_json};
use crate::roundtrip::{NoProgress, RoundTrip};
use crate::signal::Signal;
use serde_json::json;
use std::time::Duration;

/// How soon the demo's built-in Tempo derives span metrics, the service graph and TraceQL
/// metrics from a trace (real Tempo: its 15 s collection interval plus the remote write).
const DEMO_GENERATOR_DELAY: Duration = Duration::from_millis(500);

/// Whether the lab holds exactly the payload the probe sent for a signal.
fn lab_holds(lab: &LabStack, probe: &Probe, resource: &ResourceSpec, signal: Signal) -> bool {
    let expected = build_payload(signal, probe, resource, MetricTag::Value);
    lab.state
        .store
        .of(signal)
        .iter()
        .any(|r| r.payload == expected)
}

pub async fn run(args: &DemoArgs) -> Result<u8, ConfigError> {
    let state = LabState::new();
    // Tempo's generator collects every 15 s; the tour shows the derived hops without the wait.
    state.faults.set(
        Signal::Trace,
        SignalFault {
            generator_delay: Some(DEMO_GENERATOR_DELAY),
            ..Default::default()
        },
    );
    let lab = LabStack::start(LabStackConfig::ephemeral(), state)
        .await
        .map_err(|e| ConfigError::new("demo", format!("cannot start the built-in stack: {e}")))?;
    // The demo is self-contained: the caller's OTEL_* variables must not redirect it.
    let env = EnvSnapshot::default();
    let resource = ResourceSpec::resolve(&ResourceFlags::default(), &env)?;
    let read_flags = ReadFlags {
        tempo: Some(lab.tempo_url()),
        loki: Some(lab.loki_url()),
        mimir: Some(lab.mimir_url()),
        timeout: Some(Duration::from_secs(10)),
        search_timeout: Some(Duration::from_secs(10)),
        derived: vec!["all".into()],
        derived_timeout: Some(Duration::from_secs(10)),
        ..Default::default()
    };
    let mut all_ok = true;
    let mut runs = Vec::new();
    let mut human = String::new();
    let mut pages = Vec::new();
    for protocol in &args.protocol {
        let export_flags = ExportFlags {
            endpoint: Some(lab.receivers.base_for(*protocol, false)),
            protocol: Some(*protocol),
            ..Default::default()
        };
        let export = resolve_export_target(&export_flags, &env)?;
        let read = resolve_read_target(&read_flags, None, None, &env)?;
        let prepared = Prepared::single(
            RoundTrip::new(&export, read, resource.clone(), MetricTag::Value)?,
            resource.clone(),
        );
        let (report, probe) = run_once(&prepared, &NoProgress).await;
        let received: Vec<(Signal, bool)> = Signal::ALL
            .iter()
            .map(|s| (*s, lab_holds(&lab, &probe, &resource, *s)))
            .collect();
        let ok = report.ok && received.iter().all(|(_, r)| *r);
        all_ok &= ok;
        match args.output {
            Output::Human => {
                human.push_str(&format!("== {protocol} ==\n"));
                human.push_str(&run_human::render(&report));
                let marks: Vec<String> = received
                    .iter()
                    .map(|(s, r)| format!("{s} {}", if *r { "identical" } else { "MISSING" }))
                    .collect();
                human.push_str(&format!(
                    "built-in stack received: {}\n\n",
                    marks.join(", ")
                ));
            }
            Output::Json => {
                let run: serde_json::Value =
                    serde_json::from_str(&run_json::render(&report)).expect("own JSON parses");
                let received: serde_json::Map<_, _> = received
                    .iter()
                    .map(|(s, r)| (s.to_string(), json!(r)))
                    .collect();
                runs.push(json!({"protocol": protocol, "ok": ok, "run": run, "received_identical": received}));
            }
            Output::Html => {
                let marks: Vec<String> = received
                    .iter()
                    .map(|(s, r)| format!("{s} {}", if *r { "identical" } else { "MISSING" }))
                    .collect();
                let note = format!("the built-in stack received: {}", marks.join(", "));
                pages.push((protocol.to_string(), report, note));
            }
        }
    }
    match args.output {
        Output::Human => {
            human.push_str(if all_ok {
                "demo passed: every signal was acknowledged, read back from Tempo, Loki and Mimir \
                 (the built-in stack's), and arrived intact.\n"
            } else {
                "demo FAILED: see above.\n"
            });
            super::write_report(&human);
        }
        Output::Html => {
            let sections: Vec<run_html::Section<'_>> = pages
                .iter()
                .map(|(heading, report, note)| run_html::Section {
                    heading: heading.clone(),
                    report,
                    note: Some(note.clone()),
                })
                .collect();
            let verdict = if all_ok {
                "demo passed: every signal was acknowledged, read back and arrived intact"
            } else {
                "demo FAILED: see the failed lanes below"
            };
            super::write_report(&run_html::render_sections(
                "otel-canary demo",
                all_ok,
                verdict,
                &sections,
            ));
        }
        Output::Json => {
            let doc = json!({"schema": "otel-canary/demo/v2", "ok": all_ok, "runs": runs});
            super::write_report(&format!(
                "{}\n",
                serde_json::to_string_pretty(&doc).expect("json")
            ));
        }
    }
    Ok(if all_ok { 0 } else { 1 })
}
