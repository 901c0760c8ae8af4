//! The `emit` report for people: one row per signal, then the details that explain any
//! failure (class, server text), the settings that chose each endpoint, and warnings.

use super::sdk_human::{SideView, lane_name, probes_lines, sdk_lines, side_by_side};
use super::{EmitReport, fmt_bytes, fmt_seconds, paint};
use crate::config::emitter::{Emitter, EmitterMode};
use crate::diagnose::export_hint::export_hint;
use crate::roundtrip::outcome::Reason;
use crate::roundtrip::outcome::Status;
use comfy_table::{Cell, Table, presets};
use owo_colors::{OwoColorize, Stream};

fn paint_ok(s: &str, ok: bool) -> String {
    paint(s, if ok { Status::Ok } else { Status::Failed })
}

/// Renders the report as text.
pub fn render(r: &EmitReport) -> String {
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
        "service.name={} ({})  service.instance.id={} ({})\n\n",
        r.resource.service_name.value,
        r.resource.service_name.source,
        r.resource.service_instance_id.value,
        r.resource.service_instance_id.source
    ));
    let mut table = Table::new();
    table.load_preset(presets::NOTHING);
    table.set_header([
        "SIGNAL", "RESULT", "RESPONSE", "TIME", "SENT", "PROTOCOL", "URL",
    ]);
    for o in &r.exports {
        let last = o.last();
        let result = match (&last.error, last.warning()) {
            (Some(e), _) => paint_ok(&format!("FAILED {}", e.class), false),
            (None, Some(_)) => paint_ok("ok (warning)", true),
            (None, None) => paint_ok("ok", true),
        };
        let response = last
            .response
            .as_ref()
            .map(|r| r.summary())
            .unwrap_or_else(|| "no answer".into());
        let sent = match (o.bytes_sent, o.payload_bytes) {
            (Some(n), _) => fmt_bytes(n),
            // The SDK's gRPC exporter encodes inside tonic: the canary does not see the body.
            (None, 0) => "n/a".to_string(),
            (None, n) => format!("{} (gzip)", fmt_bytes(n)),
        };
        table.add_row(vec![
            Cell::new(lane_name(o.signal.as_str(), Some(o.emitter), both)),
            Cell::new(result),
            Cell::new(response),
            Cell::new(fmt_seconds(o.seconds())),
            Cell::new(sent),
            Cell::new(o.protocol.value),
            Cell::new(o.url.value.as_str()),
        ]);
    }
    out.push_str(&table.to_string());
    out.push('\n');

    let mut details = Vec::new();
    for o in &r.exports {
        let name = lane_name(o.signal.as_str(), Some(o.emitter), both);
        if o.attempts.len() > 1 {
            for a in &o.attempts {
                let what = match (&a.error, &a.response) {
                    (Some(e), _) => format!("{}: {}", e.class, e.message),
                    (None, Some(resp)) => resp.summary(),
                    (None, None) => "ok".into(),
                };
                details.push(format!(
                    "{} attempt {}: {} in {}",
                    name,
                    a.number,
                    what,
                    fmt_seconds(a.seconds)
                ));
            }
        } else if let Some(e) = &o.last().error {
            details.push(format!("{name} {}: {}", e.class, e.message));
        }
        if let Some(h) = export_hint(o) {
            details.push(format!("{name} hint: {h}"));
        }
        if let Some(w) = o.last().warning() {
            details.push(format!("{name} partial success warning: {w}"));
        }
    }
    if !details.is_empty() {
        out.push('\n');
        for d in details {
            out.push_str(&format!("  {d}\n"));
        }
    }
    let sdk = sdk_lines(r.exports.iter());
    if !sdk.is_empty() {
        out.push('\n');
        out.push_str(&sdk);
    }

    out.push_str("\nchosen by:\n");
    for o in &r.exports {
        out.push_str(&format!(
            "  {:<6} url {}; protocol {}; compression {}\n",
            lane_name(o.signal.as_str(), Some(o.emitter), both),
            o.url.source,
            o.protocol.source,
            o.compression
        ));
        for h in &o.headers {
            out.push_str(&format!(
                "         header {}: {} ({})\n",
                h.name, h.value, h.source
            ));
        }
    }
    if both {
        let side = |e: Emitter| -> Vec<SideView<'_>> {
            r.exports
                .iter()
                .filter(|o| o.emitter == e)
                .map(|o| SideView {
                    export: o,
                    status: if o.accepted() {
                        Status::Ok
                    } else {
                        Status::Failed
                    },
                    reason: o.last().error.as_ref().map(|x| Reason::Export(x.class)),
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
        let line = format!("warning: {w}");
        out.push_str(&format!(
            "\n{}",
            line.if_supports_color(Stream::Stdout, |t| t.yellow())
        ));
    }
    if !r.warnings.is_empty() {
        out.push('\n');
    }
    out
}
