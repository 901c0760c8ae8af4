//! The SDK emitter's part of the human reports: per signal, how the SDK exported and what its
//! calls returned, what it said through its diagnostics and which values it chose by itself;
//! and under `--emitter both`, the two emitters side by side with every difference named.

use super::{EmitterProbe, fmt_seconds, paint};
use crate::config::emitter::Emitter;
use crate::emit::outcome::ExportOutcome;
use crate::roundtrip::compare::Difference;
use crate::roundtrip::outcome::{Reason, Status};
use crate::signal::Signal;
use comfy_table::{Cell, Table, presets};

/// `trace`, or `trace (sdk)` when both emitters share the report.
pub fn lane_name(name: &str, emitter: Option<Emitter>, both: bool) -> String {
    match emitter {
        Some(e) if both => format!("{name} ({e})"),
        _ => name.to_string(),
    }
}

/// The probe lines under `both`: one per emitter with its own ids.
pub fn probes_lines(probes: &[EmitterProbe]) -> String {
    let mut out = String::new();
    for p in probes {
        out.push_str(&format!(
            "{:<5} probe {}  trace {}  marker {}  {}\n",
            p.emitter,
            p.probe.probe_id,
            p.probe.trace_id,
            p.probe.marker,
            if p.ok {
                paint("ok", Status::Ok)
            } else {
                paint("FAILED", Status::Failed)
            }
        ));
    }
    out
}

/// What the SDK did for each signal it sent: processor, calls and their results, requests,
/// values it chose by itself, its diagnostics and notes.
pub fn sdk_lines<'a>(exports: impl Iterator<Item = &'a ExportOutcome>) -> String {
    let mut out = String::new();
    for o in exports {
        let Some(sdk) = &o.sdk else { continue };
        // One entry per (call, result): the trace's two providers usually agree.
        let mut calls: Vec<(String, Vec<&str>, f64)> = Vec::new();
        for c in &sdk.calls {
            let what = format!("{} {}", c.call, if c.ok { "ok" } else { c.result.as_str() });
            match calls.iter_mut().find(|(w, _, _)| *w == what) {
                Some((_, services, secs)) => {
                    services.push(&c.service);
                    *secs = secs.max(c.seconds);
                }
                None => calls.push((what, vec![&c.service], c.seconds)),
            }
        }
        let calls: Vec<String> = calls
            .into_iter()
            .map(|(what, services, secs)| {
                format!("{what} ({}) in {}", services.join(", "), fmt_seconds(secs))
            })
            .collect();
        let flushed = sdk
            .requests
            .iter()
            .filter(|r| r.during != "shutdown")
            .count();
        let at_shutdown = sdk.requests.len() - flushed;
        let mut line = format!(
            "sdk {}: {} ({} processor), {} request(s) during the flush",
            o.signal, sdk.exporter, sdk.processor, flushed
        );
        if at_shutdown > 0 {
            line.push_str(&format!(", {at_shutdown} at shutdown"));
        }
        out.push_str(&line);
        out.push('\n');
        out.push_str(&format!("         {}\n", calls.join("; ")));
        if !sdk.sdk_defaults.is_empty() {
            out.push_str(&format!(
                "         the SDK chose by itself: {}\n",
                sdk.sdk_defaults.join(", ")
            ));
        }
        if sdk.sampled == Some(false) {
            out.push_str("         the SDK's sampler did not sample the probe's spans\n");
        }
        let mut said: Vec<(String, usize)> = Vec::new();
        for d in &sdk.diagnostics {
            let line = format!("({}, {}): {} {}", d.level, d.target, d.name, d.message);
            match said.iter_mut().find(|(l, _)| *l == line) {
                Some((_, n)) => *n += 1,
                None => said.push((line, 1)),
            }
        }
        for (line, n) in said {
            let times = if n > 1 {
                format!(" (x{n})")
            } else {
                String::new()
            };
            out.push_str(&format!("         the SDK said {line}{times}\n"));
        }
        for n in &sdk.notes {
            out.push_str(&format!("         note: {n}\n"));
        }
    }
    out
}

/// One emitter's side of a signal, as the side-by-side table shows it.
pub struct SideView<'a> {
    pub export: &'a ExportOutcome,
    pub status: Status,
    pub reason: Option<Reason>,
}

fn verdict(s: &SideView<'_>) -> String {
    match (s.status, s.reason) {
        (Status::Ok, _) => "ok".into(),
        (Status::Skipped, _) => "skipped".into(),
        (Status::Failed, Some(r)) => format!("FAILED {r}"),
        (Status::Failed, None) => "FAILED".into(),
    }
}

/// The wire and SDK emitters side by side per signal (where it went, which setting chose it,
/// the protocol, the export's answer, the verdict), a `*` on every row that differs, then
/// each difference as a sentence.
pub fn side_by_side(
    wire: &[SideView<'_>],
    sdk: &[SideView<'_>],
    differences: &[Difference],
) -> String {
    let mut table = Table::new();
    table.load_preset(presets::NOTHING);
    table.set_header(["SIGNAL", "", "WIRE EMITTER", "SDK EMITTER", ""]);
    for signal in Signal::ALL {
        let (Some(w), Some(s)) = (
            wire.iter().find(|v| v.export.signal == signal),
            sdk.iter().find(|v| v.export.signal == signal),
        ) else {
            continue;
        };
        let answer = |v: &SideView<'_>| {
            let last = v.export.last();
            let r = last
                .response
                .as_ref()
                .map(|r| r.summary())
                .unwrap_or_else(|| "no answer".into());
            match &last.error {
                Some(e) => format!("{}, {r}", e.class),
                None => format!("{r} in {}", fmt_seconds(v.export.seconds())),
            }
        };
        let rows: [(&str, String, String); 5] = [
            (
                "sent to",
                w.export.url.value.to_string(),
                s.export.url.value.to_string(),
            ),
            (
                "chosen by",
                w.export.url.source.to_string(),
                s.export.url.source.to_string(),
            ),
            (
                "protocol",
                format!("{} ({})", w.export.protocol.value, w.export.protocol.source),
                format!("{} ({})", s.export.protocol.value, s.export.protocol.source),
            ),
            ("export", answer(w), answer(s)),
            ("verdict", verdict(w), verdict(s)),
        ];
        for (i, (what, a, b)) in rows.into_iter().enumerate() {
            let differs = match what {
                "protocol" => w.export.protocol.value != s.export.protocol.value,
                "export" => w.export.accepted() != s.export.accepted(),
                _ => a != b,
            };
            table.add_row(vec![
                Cell::new(if i == 0 { signal.as_str() } else { "" }),
                Cell::new(what),
                Cell::new(a),
                Cell::new(b),
                Cell::new(if differs { "*" } else { "" }),
            ]);
        }
    }
    let mut out = String::from("\nside by side (* = differs):\n");
    out.push_str(&table.to_string());
    out.push('\n');
    if differences.is_empty() {
        out.push_str("the two emitters went the same way and got the same verdicts\n");
    } else {
        out.push_str("differences:\n");
        for d in differences {
            out.push_str(&format!("  {}\n", d.text));
        }
    }
    out
}
