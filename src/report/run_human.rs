//! The `run` report for people: one row per signal and hop with its duration and verdict,
//! then a hint for every failure, the checks on what was read back, and the resolved
//! topology (where each signal went and was read from, and which setting chose it).

use super::sdk_human::{SideView, lane_name, probes_lines, sdk_lines, side_by_side};
use super::{RunReport, export_detail, fmt_seconds, paint};
use crate::config::emitter::{Emitter, EmitterMode};
use crate::roundtrip::outcome::{Hop, HopName, ReadView, Status};
use comfy_table::{Cell, Table, presets};

/// The TIME cell: estimates are marked `~` and carry their interval.
fn time_cell(h: &Hop) -> String {
    let Some(s) = h.seconds else {
        return String::new();
    };
    match (h.visible_after, h.visible_by) {
        (Some(a), Some(b)) => format!(
            "~{} ({}..{})",
            fmt_seconds(s),
            fmt_seconds(a),
            fmt_seconds(b)
        ),
        _ => fmt_seconds(s),
    }
}

fn detail_cell(h: &Hop) -> String {
    let mut parts = Vec::new();
    if let Some(r) = h.reason {
        parts.push(r.to_string());
    }
    if let Some(q) = h.queries {
        parts.push(format!("{q} quer{}", if q == 1 { "y" } else { "ies" }));
    }
    if let Some(d) = &h.detail {
        parts.push(d.clone());
    }
    parts.join(", ")
}

/// The topology line saying where a lane is read back from.
fn read_line(rv: &ReadView) -> String {
    format!(
        "         read from {} {} (chosen by {}), deadline {}: {}\n",
        rv.backend,
        rv.url.value,
        rv.url.source,
        fmt_seconds(rv.deadline_seconds),
        rv.query
    )
}

/// Renders the report as text.
pub fn render(r: &RunReport) -> String {
    render_with(r, None)
}

/// Renders the report as text with `timeline` (see `super::timeline`) under the table.
pub fn render_with(r: &RunReport, timeline: Option<String>) -> String {
    let mut out = String::new();
    let both = r.emitter == EmitterMode::Both;
    if both {
        out.push_str(&probes_lines(&r.probes));
    } else {
        out.push_str(&format!(
            "probe {}  trace {}  marker {}\n",
            r.probe.probe_id, r.probe.trace_id, r.probe.marker
        ));
    }
    if r.emitter == EmitterMode::Sdk {
        out.push_str(
            "emitter sdk: opentelemetry_sdk + opentelemetry-otlp, configured from the environment\n",
        );
    }
    out.push_str(&format!(
        "service.name={} ({})  service.instance.id={} ({})\n",
        r.resource.service_name.value,
        r.resource.service_name.source,
        r.resource.service_instance_id.value,
        r.resource.service_instance_id.source
    ));
    if let Some(s) = &r.scenario {
        out.push_str(&format!("scenario {s}\n"));
    }
    out.push('\n');

    let mut table = Table::new();
    table.load_preset(presets::NOTHING);
    table.set_header(["SIGNAL", "HOP", "RESULT", "TIME", "DETAIL"]);
    let lanes = r.lanes();
    for lane in &lanes {
        for (i, h) in lane.hops.iter().enumerate() {
            let name = if i == 0 {
                lane_name(lane.name, lane.emitter, both)
            } else {
                String::new()
            };
            let detail = match (h.hop, lane.export) {
                (HopName::Export, Some(export)) => export_detail(export),
                _ => detail_cell(h),
            };
            table.add_row(vec![
                Cell::new(name),
                Cell::new(h.hop),
                Cell::new(paint(&h.status.to_string(), h.status)),
                Cell::new(time_cell(h)),
                Cell::new(detail),
            ]);
        }
    }
    out.push_str(&table.to_string());
    out.push('\n');
    if let Some(t) = timeline {
        out.push('\n');
        out.push_str(&t);
    }

    for lane in &lanes {
        for c in lane.checks {
            out.push_str(&format!(
                "{}: check {} {}: {}\n",
                lane_name(lane.name, lane.emitter, both),
                c.name,
                paint(&c.status.to_string(), c.status),
                c.detail
            ));
        }
    }
    for a in &r.assertions {
        let answer = a
            .got
            .as_deref()
            .map(|g| format!(": {g}"))
            .unwrap_or_default();
        out.push_str(&format!(
            "assert {:?} {}: {} ({}) expects {}{answer}\n",
            a.name,
            paint(&a.status.to_string(), a.status),
            a.query,
            a.backend,
            a.expect
        ));
    }
    out.push_str(&sdk_lines(r.signals.iter().map(|s| &s.export)));
    let failed: Vec<_> = lanes
        .iter()
        .filter(|l| l.status == Status::Failed)
        .collect();
    let failed_assertions: Vec<_> = r
        .assertions
        .iter()
        .filter(|a| a.status == Status::Failed)
        .collect();
    if !failed.is_empty() || !failed_assertions.is_empty() {
        out.push('\n');
        for lane in failed {
            out.push_str(&format!(
                "{} {}: {}\n",
                paint("FAILED", Status::Failed),
                lane_name(lane.name, lane.emitter, both),
                lane.reason.map(|r| r.to_string()).unwrap_or_default()
            ));
            if let Some(h) = lane.hint {
                out.push_str(&format!("  hint: {h}\n"));
            }
            // Several hops can fail on their own (derived hops); each says what to check.
            for hop in lane.hops.iter().filter(|h| h.status == Status::Failed) {
                if let Some(h) = hop.hint.as_deref().filter(|h| Some(*h) != lane.hint) {
                    out.push_str(&format!("  hint ({}): {h}\n", hop.hop));
                }
            }
            // The explaining clue is the hint already; the others are evidence.
            for c in lane.clues.iter().filter(|c| !c.explains) {
                out.push_str(&format!("  found ({}): {}\n", c.source, c.finding));
            }
        }
        for a in failed_assertions {
            out.push_str(&format!(
                "{} assert {:?}: {}\n",
                paint("FAILED", Status::Failed),
                a.name,
                a.reason.map(|r| r.to_string()).unwrap_or_default()
            ));
            if let Some(h) = &a.hint {
                out.push_str(&format!("  hint: {h}\n"));
            }
        }
    }

    out.push_str("\ntopology:\n");
    for s in &r.signals {
        out.push_str(&format!(
            "  {:<6} sent to {} ({}, {}; chosen by {})\n",
            lane_name(s.signal.as_str(), Some(s.emitter), both),
            s.export.url.value,
            s.export.protocol.value,
            s.export.protocol.source,
            s.export.url.source
        ));
        if let Some(rv) = &s.read {
            out.push_str(&read_line(rv));
        }
        let tenant = s.export.headers.iter().find(|h| h.name == "x-scope-orgid");
        if let Some(t) = tenant {
            out.push_str(&format!("         tenant {} ({})\n", t.value, t.source));
        }
    }
    for p in &r.pulls {
        out.push_str(&format!("  {:<6} {}\n", p.path.to_string(), p.exposed));
        if let Some(rv) = &p.read {
            out.push_str(&read_line(rv));
        }
    }
    if both {
        let side = |e: Emitter| -> Vec<SideView<'_>> {
            r.signals
                .iter()
                .filter(|s| s.emitter == e)
                .map(|s| SideView {
                    export: &s.export,
                    status: s.status,
                    reason: s.reason,
                })
                .collect()
        };
        out.push_str(&side_by_side(
            &side(Emitter::Wire),
            &side(Emitter::Sdk),
            &r.differences,
        ));
    }
    for w in &r.warnings {
        out.push_str(&format!("warning: {w}\n"));
    }
    let lanes_ok = lanes.iter().all(|l| l.status != Status::Failed);
    let verdict = match (r.ok, lanes_ok) {
        (true, _) if r.assertions.is_empty() => paint("all signals ok", Status::Ok),
        (true, _) => paint("all signals and assertions ok", Status::Ok),
        (false, true) => paint("signals ok, some assertions failed", Status::Failed),
        (false, false) => paint("some signals failed", Status::Failed),
    };
    out.push_str(&format!("\n{verdict} in {}\n", fmt_seconds(r.seconds)));
    out
}
