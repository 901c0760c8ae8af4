//! The `doctor` report for people: one row per scanned port (what speaks there), then one
//! line per configured target (ok, or the mismatch and what to change), then a closing note
//! with the time the scan took against its deadline.

use super::paint;
use crate::diagnose::scan::{DoctorReport, PortFinding, PortState};
use crate::roundtrip::outcome::Status;
use comfy_table::{Cell, Table, presets};

fn state_cell(f: &PortFinding) -> String {
    match f.state {
        PortState::Open => paint("open", Status::Ok),
        s => paint(s.as_str(), Status::Skipped),
    }
}

/// The SPEAKS cell: what the port is, without repeating the state.
fn speaks_cell(f: &PortFinding) -> String {
    match f.state {
        PortState::Open => f.summary(),
        PortState::Closed => String::new(),
        _ => f.note.clone().unwrap_or_default(),
    }
}

/// Renders the report as text.
pub fn render(r: &DoctorReport) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "doctor: scanning {} ({})\n",
        r.host.value,
        match &r.host.source {
            crate::config::Provenance::Flag { name } if name == "HOST" => "given".to_string(),
            crate::config::Provenance::Default => "default".to_string(),
            other => format!("host of the configured endpoint, chosen by {other}"),
        }
    ));
    if let Some(s) = &r.scenario {
        out.push_str(&format!("scenario {s}\n"));
    }
    out.push('\n');

    let mut table = Table::new();
    table.load_preset(presets::NOTHING);
    table.set_header(["PORT", "STATE", "SPEAKS", "SCANNED FOR"]);
    for f in &r.ports {
        table.add_row([
            Cell::new(f.shown()),
            Cell::new(state_cell(f)),
            Cell::new(speaks_cell(f)),
            Cell::new(f.why.join(", ")),
        ]);
    }
    out.push_str(&table.to_string());
    out.push_str("\n\n");

    if r.targets.is_empty() {
        out.push_str("no configured target to check\n");
    } else {
        out.push_str("configured targets:\n");
        for t in &r.targets {
            let word = if t.ok {
                paint("ok      ", Status::Ok)
            } else {
                paint("MISMATCH", Status::Failed)
            };
            let reason = t
                .reason
                .map(|m| format!(" [{}]", m.as_str()))
                .unwrap_or_default();
            out.push_str(&format!(
                "  {word} {:<10} {}{reason}\n",
                t.target, t.message
            ));
        }
    }
    for w in &r.warnings {
        out.push_str(&format!("warning: {w}\n"));
    }
    let open = r
        .ports
        .iter()
        .filter(|f| f.state == PortState::Open)
        .count();
    let mismatches = r.targets.iter().filter(|t| !t.ok).count();
    out.push_str(&format!(
        "\n{} port{} scanned ({open} open) in {:.2} s (deadline {:.1} s, connect timeout {:.1} s); \
         {}. Only empty OTLP exports were sent: nothing was written.\n",
        r.ports.len(),
        if r.ports.len() == 1 { "" } else { "s" },
        r.seconds,
        r.deadline_seconds,
        r.connect_timeout_seconds,
        match mismatches {
            0 => "no mismatch".to_string(),
            1 => "1 mismatch".to_string(),
            n => format!("{n} mismatches"),
        }
    ));
    out
}
