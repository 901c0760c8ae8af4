//! `otel-canary demo`: start the built-in stack on free ports and run one probe per protocol
//! against it, then check the stack received exactly what was sent. Needs nothing installed;
//! it is the README's first command.

use super::emit::emit_probe;
use crate::cli::{DemoArgs, Output};
use crate::config::ConfigError;
use crate::config::env::EnvSnapshot;
use crate::config::otlp::ExportFlags;
use crate::config::resource::{ResourceFlags, ResourceSpec};
use crate::emit::exporter::build_payload;
use crate::emit::payload::MetricTag;
use crate::lab::{LabReceivers, LabState, ReceiverConfig};
use crate::probe::Probe;
use crate::report::{emit_human, emit_json};
use crate::signal::Signal;
use serde_json::json;

/// Whether the lab holds exactly the payload the probe sent for a signal.
fn lab_holds(lab: &LabReceivers, probe: &Probe, resource: &ResourceSpec, signal: Signal) -> bool {
    let expected = build_payload(signal, probe, resource, MetricTag::Value);
    lab.state
        .store
        .of(signal)
        .iter()
        .any(|r| r.payload == expected)
}

pub async fn run(args: &DemoArgs) -> Result<u8, ConfigError> {
    let lab = LabReceivers::start(ReceiverConfig::ephemeral(), LabState::new())
        .await
        .map_err(|e| ConfigError::new("demo", format!("cannot start the built-in stack: {e}")))?;
    // The demo is self-contained: the caller's OTEL_* variables must not redirect it.
    let env = EnvSnapshot::default();
    let resource_flags = ResourceFlags::default();
    let resource = ResourceSpec::resolve(&resource_flags, &env)?;
    let mut all_ok = true;
    let mut runs = Vec::new();
    let mut human = String::new();
    for protocol in &args.protocol {
        let endpoint = lab.base_for(*protocol, false);
        let flags = ExportFlags {
            endpoint: Some(endpoint),
            protocol: Some(*protocol),
            ..Default::default()
        };
        let (probe, report) = emit_probe(&flags, &resource_flags, MetricTag::Value, &env).await?;
        let received: Vec<(Signal, bool)> = Signal::ALL
            .iter()
            .map(|s| (*s, lab_holds(&lab, &probe, &resource, *s)))
            .collect();
        let ok = report.ok() && received.iter().all(|(_, r)| *r);
        all_ok &= ok;
        match args.output {
            Output::Human => {
                human.push_str(&format!("== {protocol} ==\n"));
                human.push_str(&emit_human::render(&report));
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
                let emit: serde_json::Value =
                    serde_json::from_str(&emit_json::render(&report)).expect("own JSON parses");
                let received: serde_json::Map<_, _> = received
                    .iter()
                    .map(|(s, r)| (s.to_string(), json!(r)))
                    .collect();
                runs.push(json!({"protocol": protocol, "ok": ok, "emit": emit, "received_identical": received}));
            }
        }
    }
    match args.output {
        Output::Human => {
            human.push_str(if all_ok {
                "demo passed: every export was acknowledged and arrived intact.\n"
            } else {
                "demo FAILED: see above.\n"
            });
            print!("{human}");
        }
        Output::Json => {
            let doc = json!({"schema": "otel-canary/demo/v1", "ok": all_ok, "runs": runs});
            println!("{}", serde_json::to_string_pretty(&doc).expect("json"));
        }
    }
    Ok(if all_ok { 0 } else { 1 })
}
