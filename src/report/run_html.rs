//! The `run` report as one self-contained HTML page (`--output html`): a waterfall of every
//! lane's hops on one time axis from the probe's start, each poll read as a tick, failures
//! with their reason, hint and the backend's own words beside them, then the resolved
//! topology with the setting that chose each value, and the probe's identifiers.
//!
//! Self-contained: inline CSS and inline SVG, no script, no external fetch (the page's own
//! Content-Security-Policy forbids both). Every string, from a backend or a config, goes
//! through maud's escaping: nothing here writes markup by hand. `serve`'s status page builds
//! on the pieces made public here.

use super::waterfall::{Bar, PlacedLane, Row, Scale, Waterfall};
use super::{RunReport, export_detail, fmt_seconds};
use crate::config::emitter::EmitterMode;
use crate::roundtrip::outcome::{Hop, HopName, ReadView, Status};
use maud::{DOCTYPE, Markup, html};

/// The width of a waterfall drawing, in CSS pixels.
pub const BAR_WIDTH: f64 = 560.0;
/// The height of one hop's row.
const ROW_HEIGHT: f64 = 24.0;
/// Room right of the axis end for the failure cross and the last axis label.
const SVG_WIDTH: f64 = BAR_WIDTH + 24.0;

/// The page's style sheet: inline, so the file needs nothing else. Colours come with a
/// second cue (a glyph, a word, a hatch or an outline) so no state is told by colour alone.
pub const STYLE: &str = r#"
:root { --ok: #2e7d32; --ok-light: #a5d6a7; --bad: #c62828; --bad-light: #ffcdd2;
  --skip: #757575; --ink: #212121; --muted: #616161; --grid: #e0e0e0; }
* { box-sizing: border-box; }
body { font: 14px/1.45 "Liberation Sans", Arial, Helvetica, sans-serif; color: var(--ink);
  margin: 0 auto; padding: 16px 24px 48px; max-width: 1320px; background: #fff; }
h1 { font-size: 22px; margin: 4px 0 8px; }
h2 { font-size: 18px; margin: 28px 0 8px; border-bottom: 1px solid var(--grid); padding-bottom: 4px; }
h3 { font-size: 16px; margin: 18px 0 6px; }
code, .mono { font-family: "Liberation Mono", Menlo, Consolas, monospace; font-size: 12.5px; }
.verdict { display: inline-block; padding: 6px 12px; border-radius: 4px; font-weight: bold; }
.verdict.ok { background: #e8f5e9; color: var(--ok); border: 2px solid var(--ok); }
.verdict.failed { background: #ffebee; color: var(--bad); border: 2px dashed var(--bad); }
.badge { display: inline-block; min-width: 78px; padding: 1px 6px; border-radius: 3px;
  font-weight: bold; font-size: 12px; text-align: center; white-space: nowrap; }
.badge.ok { color: var(--ok); border: 1px solid var(--ok); }
.badge.failed { color: #fff; background: var(--bad); border: 1px solid var(--bad); }
.badge.skipped { color: var(--skip); border: 1px dashed var(--skip); font-weight: normal; }
table { border-collapse: collapse; }
table.facts td, table.facts th { text-align: left; padding: 2px 12px 2px 0; vertical-align: top; }
table.facts th { color: var(--muted); font-weight: normal; white-space: nowrap; }
table.waterfall { width: 100%; table-layout: fixed; }
col.c-hop { width: 128px; } col.c-result { width: 96px; } col.c-bar { width: 596px; }
col.c-time { width: 190px; } col.c-detail { width: auto; }
table.waterfall th { text-align: left; color: var(--muted); font-weight: normal; font-size: 12px; padding: 0 8px 2px 0; }
table.waterfall td { padding: 1px 8px 1px 0; vertical-align: middle; }
table.waterfall td.hop { font-family: "Liberation Mono", Menlo, monospace; white-space: nowrap; }
table.waterfall td.time { font-variant-numeric: tabular-nums; }
table.waterfall td.detail { color: var(--muted); font-size: 12.5px; word-break: break-word; }
tr.hop.failed td.hop { color: var(--bad); font-weight: bold; }
tr.why td { padding: 2px 8px 8px 24px; }
.why-box { border-left: 4px solid var(--bad); background: #fff5f5; padding: 6px 10px; }
.why-box p { margin: 2px 0; }
.label { font-weight: bold; }
.lane { border: 1px solid var(--grid); border-radius: 6px; padding: 4px 12px 10px; margin: 12px 0; }
.lane.failed { border: 2px dashed var(--bad); }
.lane h3 .reason { color: var(--bad); font-weight: normal; }
ul.tight { margin: 4px 0; padding-left: 20px; }
svg { display: block; }
svg .grid { stroke: var(--grid); stroke-width: 1; }
svg .axis-label { font-size: 11px; fill: var(--muted); }
svg .span.ok { fill: var(--ok); }
svg .span.failed, svg .polled.failed { fill: url(#hatch-failed); stroke: var(--bad); stroke-width: 1.5; }
svg .polled.ok { fill: var(--ok-light); stroke: var(--ok); }
svg .total { fill: none; stroke: var(--ink); stroke-width: 1.5; }
svg .total.failed { stroke: var(--bad); stroke-dasharray: 4 2; }
svg .wait { stroke: var(--ok); stroke-width: 2; stroke-dasharray: 3 3; }
svg .unsure { fill: var(--ok-light); stroke: var(--ok); stroke-width: 1; }
svg .estimate { fill: #1b5e20; stroke: #fff; stroke-width: 1; }
svg .tick { stroke: #37474f; stroke-width: 1.5; }
svg .cross { stroke: var(--bad); stroke-width: 2.5; }
svg .skipped-label { font-size: 11px; fill: var(--skip); font-style: italic; }
.legend { display: flex; flex-wrap: wrap; gap: 4px 18px; align-items: center; color: var(--muted); font-size: 12.5px; }
.legend span { display: inline-flex; align-items: center; gap: 6px; }
.strip { display: flex; gap: 2px; align-items: center; }
.strip .cell { display: inline-block; width: 12px; height: 18px; border-radius: 2px; font-size: 10px; line-height: 18px; text-align: center; }
.strip .cell.ok { background: var(--ok); }
.strip .cell.failed { background: var(--bad); color: #fff; }
.strip .cell.skipped { border: 1px dashed var(--skip); }
.note { color: var(--muted); font-size: 12.5px; }
nav a { margin-right: 14px; }
"#;

/// Pixels from seconds on `scale`.
fn px(scale: &Scale, t: f64) -> String {
    format!("{:.1}", scale.x(t, BAR_WIDTH))
}

/// A duration label for the axis: `250 ms`, `1.5 s`.
fn axis_label(t: f64, step: f64) -> String {
    if t == 0.0 {
        "0".into()
    } else if step < 1.0 && t < 1.0 {
        let ms = t * 1000.0;
        if ms >= 1.0 && (ms - ms.round()).abs() < 1e-6 {
            format!("{ms:.0} ms")
        } else {
            format!("{ms:.1} ms")
        }
    } else if (t - t.round()).abs() < 1e-6 {
        format!("{t:.0} s")
    } else {
        format!("{t:.1} s")
    }
}

/// The SVG definitions every waterfall of the page refers to (the failure hatch).
pub fn defs() -> Markup {
    html! {
        svg width="0" height="0" style="position:absolute" aria-hidden="true" {
            defs {
                pattern #hatch-failed patternUnits="userSpaceOnUse" width="6" height="6"
                    patternTransform="rotate(45)" {
                    rect width="6" height="6" fill="#ffcdd2" {}
                    line x1="0" y1="0" x2="0" y2="6" stroke="#c62828" stroke-width="3" {}
                }
            }
        }
    }
}

/// The axis above a waterfall: gridlines with their times.
fn axis(scale: &Scale) -> Markup {
    html! {
        svg.axis width=(SVG_WIDTH) height="18" role="img"
            aria-label=(format!("time axis from 0 to {}", fmt_seconds(scale.end))) {
            @for g in scale.gridlines() {
                @let x = scale.x(g, BAR_WIDTH);
                @let anchor = if g == 0.0 { "start" } else { "middle" };
                text.axis-label x=(format!("{x:.1}")) y="13" text-anchor=(anchor) { (axis_label(g, scale.step)) }
            }
        }
    }
}

/// The human words for a hop's time: estimates marked `~` with their interval.
pub fn hop_time(h: &Hop) -> String {
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

fn status_word(s: Status) -> &'static str {
    match s {
        Status::Ok => "ok",
        Status::Failed => "failed",
        Status::Skipped => "skipped",
    }
}

/// The verdict badge: a glyph and a word besides the colour.
pub fn badge(s: Status) -> Markup {
    let text = match s {
        Status::Ok => "✓ ok",
        Status::Failed => "✕ FAILED",
        Status::Skipped => "– skipped",
    };
    html! { span class=(format!("badge {}", status_word(s))) { (text) } }
}

/// The hover text of a hop's drawing.
fn row_title(lane: &str, row: &Row<'_>) -> String {
    let h = row.hop;
    let mut t = format!("{lane} {}: {}", h.hop, h.status);
    let time = hop_time(h);
    if !time.is_empty() {
        t.push_str(&format!(", {time}"));
    }
    if let Bar::Interval { after, by, .. } = row.bar {
        t.push_str(&format!(
            "; visible between {} and {} after the probe began (the estimate is the middle)",
            fmt_seconds(after),
            fmt_seconds(by)
        ));
    }
    if !row.ticks.is_empty() {
        t.push_str(&format!(
            "; {} read{}",
            row.ticks.len(),
            if row.ticks.len() == 1 { "" } else { "s" }
        ));
    }
    if let Some(r) = h.reason {
        t.push_str(&format!("; reason {r}"));
    }
    t
}

/// One hop's drawing on the shared scale.
fn row_svg(lane: &PlacedLane<'_>, row: &Row<'_>, scale: &Scale) -> Markup {
    let status = status_word(row.hop.status);
    let failed = row.hop.status == Status::Failed;
    let total = row.hop.hop == HopName::Total;
    let cross_at = row.bar.end().unwrap_or(lane.ack);
    html! {
        svg width=(SVG_WIDTH) height=(ROW_HEIGHT) role="img"
            aria-label=(row_title(&lane.label, row)) {
            title { (row_title(&lane.label, row)) }
            @for g in scale.gridlines() {
                line.grid x1=(px(scale, g)) x2=(px(scale, g)) y1="0" y2=(ROW_HEIGHT) {}
            }
            @match row.bar {
                Bar::Span { start, end } if total => {
                    @let (a, b) = (scale.x(start, BAR_WIDTH), scale.x(end, BAR_WIDTH));
                    path class=(format!("total {status}"))
                        d=(format!("M{a:.1},7 V17 M{a:.1},12 H{b:.1} M{b:.1},7 V17")) {}
                }
                Bar::Span { start, end } => {
                    @let a = scale.x(start, BAR_WIDTH);
                    @let w = (scale.x(end, BAR_WIDTH) - a).max(2.0);
                    rect class=(format!("span {status}")) x=(format!("{a:.1}")) y="5"
                        width=(format!("{w:.1}")) height="13" rx="2" {}
                }
                Bar::Interval { from, after, by, estimate } => {
                    line.wait x1=(px(scale, from)) x2=(px(scale, after)) y1="11.5" y2="11.5" {}
                    @let a = scale.x(after, BAR_WIDTH);
                    @let w = (scale.x(by, BAR_WIDTH) - a).max(3.0);
                    rect.unsure x=(format!("{a:.1}")) y="4" width=(format!("{w:.1}")) height="15" {}
                    @let e = scale.x(estimate, BAR_WIDTH);
                    polygon.estimate points=(format!("{:.1},5.5 {:.1},11.5 {:.1},17.5 {:.1},11.5", e, e + 5.0, e, e - 5.0)) {}
                }
                Bar::Polled { from, to } => {
                    @let a = scale.x(from, BAR_WIDTH);
                    @let w = (scale.x(to, BAR_WIDTH) - a).max(3.0);
                    rect class=(format!("polled {status}")) x=(format!("{a:.1}")) y="5"
                        width=(format!("{w:.1}")) height="13" {}
                }
                Bar::Nothing => {
                    @if row.hop.status == Status::Skipped {
                        text.skipped-label x=(format!("{:.1}", scale.x(lane.ack, BAR_WIDTH).min(BAR_WIDTH - 60.0))) y="16" { "skipped" }
                    }
                }
            }
            @for t in &row.ticks {
                line.tick x1=(px(scale, *t)) x2=(px(scale, *t)) y1="17" y2="24" {}
            }
            @if failed {
                @let x = scale.x(cross_at, BAR_WIDTH) + 6.0;
                path.cross d=(format!("M{:.1},6 L{:.1},17 M{:.1},6 L{:.1},17", x - 5.5, x + 5.5, x + 5.5, x - 5.5)) {}
            }
        }
    }
}

/// A hop's detail column: what it read, or for the export what the receiver answered.
fn detail_of(lane: &PlacedLane<'_>, h: &Hop) -> Option<String> {
    match (h.hop, lane.lane.export) {
        (HopName::Export, Some(export)) if h.status != Status::Failed => {
            Some(export_detail(export))
        }
        _ if h.status == Status::Failed => None,
        _ => h.detail.clone(),
    }
}

/// Why a failed hop failed: reason, the backend's words, and what to check.
fn why_row(lane: &PlacedLane<'_>, h: &Hop) -> Markup {
    let words = match (h.hop, lane.lane.export) {
        (HopName::Export, Some(export)) => Some(export_detail(export)),
        _ => h.detail.clone(),
    };
    let hint = h
        .hint
        .as_deref()
        .or(lane.lane.hint.filter(|_| first_failed(lane) == Some(h.hop)));
    html! {
        tr.why data-hop=(h.hop.as_str()) {
            td colspan="5" {
                div.why-box {
                    p.reason { span.label { "reason: " } code { (h.reason.map(|r| r.as_str()).unwrap_or("failed")) } }
                    @if let Some(w) = words {
                        p.detail { span.label { "detail: " } span.mono { (w) } }
                    }
                    @if let Some(hint) = hint {
                        p.hint { span.label { "hint: " } (hint) }
                    }
                }
            }
        }
    }
}

/// `total` fails because an earlier hop did: it has nothing of its own to explain.
fn has_why(lane: &PlacedLane<'_>, h: &Hop) -> bool {
    h.reason.is_some()
        || h.detail.is_some()
        || h.hint.is_some()
        || (lane.lane.hint.is_some() && first_failed(lane) == Some(h.hop))
}

fn first_failed(lane: &PlacedLane<'_>) -> Option<HopName> {
    lane.lane
        .hops
        .iter()
        .find(|h| h.status == Status::Failed)
        .map(|h| h.hop)
}

/// One lane: its hops as rows, each with its drawing on `scale`, failures explained.
pub fn lane(lane: &PlacedLane<'_>, scale: &Scale) -> Markup {
    let status = status_word(lane.lane.status);
    let failed = lane.lane.status == Status::Failed;
    html! {
        section class=(format!("lane {status}")) data-lane=(lane.label) data-status=(status) {
            h3 {
                (lane.label) " " (badge(lane.lane.status))
                @if let Some(r) = lane.lane.reason {
                    " " span.reason { (r.as_str()) }
                }
                @if lane.sent_at > 0.0 {
                    " " span.note { "sent " (fmt_seconds(lane.sent_at)) " after the probe began" }
                }
            }
            table.waterfall {
                colgroup {
                    col.c-hop; col.c-result; col.c-bar; col.c-time; col.c-detail;
                }
                thead {
                    tr {
                        th { "hop" } th { "result" } th.bar { (axis(scale)) } th { "time" } th { "detail" }
                    }
                }
                tbody {
                    @for row in &lane.rows {
                        tr class=(format!("hop {}", status_word(row.hop.status)))
                            data-hop=(row.hop.hop.as_str()) data-status=(status_word(row.hop.status))
                            data-reads=(row.ticks.len()) {
                            td.hop { (row.hop.hop.as_str()) }
                            td.result { (badge(row.hop.status)) }
                            td.bar { (row_svg(lane, row, scale)) }
                            td.time {
                                (hop_time(row.hop))
                                @if let (None, Bar::Polled { from, to }) = (row.hop.seconds, row.bar) {
                                    "polled for " (fmt_seconds(to - from))
                                }
                                @if let Some(q) = row.hop.queries {
                                    br; span.note { (q) (if q == 1 { " read" } else { " reads" }) }
                                }
                            }
                            td.detail {
                                @if let Some(d) = detail_of(lane, row.hop) { (d) }
                            }
                        }
                        @if row.hop.status == Status::Failed && has_why(lane, row.hop) {
                            (why_row(lane, row.hop))
                        }
                    }
                }
            }
            @if !lane.lane.checks.is_empty() {
                ul.tight.checks {
                    @for c in lane.lane.checks {
                        li data-check=(c.name) { "check " code { (c.name) } " " (badge(c.status)) ": " (c.detail) }
                    }
                }
            }
            @if failed {
                @if let Some(h) = lane.lane.hint.filter(|_| first_failed(lane).is_none()) {
                    div.why-box { p.hint { span.label { "hint: " } (h) } }
                }
                @let found: Vec<_> = lane.lane.clues.iter().filter(|c| !c.explains).collect();
                @if !found.is_empty() {
                    ul.tight.clues {
                        @for c in found {
                            li { "found (" code { (c.source) } "): " (c.finding) }
                        }
                    }
                }
            }
        }
    }
}

/// What the shapes mean.
pub fn legend() -> Markup {
    html! {
        div.legend {
            span { svg width="28" height="14" { rect.span.ok x="0" y="1" width="28" height="12" rx="2" {} } "measured (export, query, Grafana read)" }
            span { svg width="40" height="16" {
                line.wait x1="0" x2="18" y1="8" y2="8" {}
                rect.unsure x="18" y="1" width="20" height="14" {}
                polygon.estimate points="28,2 33,8 28,14 23,8" {}
            } "waiting, then the interval the signal became visible in; ◆ the estimate" }
            span { svg width="8" height="16" { line.tick x1="4" x2="4" y1="2" y2="14" {} } "a poll read" }
            span { svg width="44" height="16" {
                rect.polled.failed x="0" y="2" width="28" height="12" {}
                path.cross d="M32,3 L42,13 M42,3 L32,13" {}
            } "failed (hatched, ✕)" }
            span { svg width="30" height="16" { path.total.ok d="M1,3 V13 M1,8 H29 M29,3 V13" {} } "total: send to confirmed" }
        }
    }
}

/// Every lane of the report on one scale.
pub fn waterfall(r: &RunReport) -> Markup {
    let wf = Waterfall::of(r);
    html! {
        div.waterfall-lanes data-axis-end=(format!("{:.6}", wf.scale.end)) {
            @for l in &wf.lanes {
                (lane(l, &wf.scale))
            }
            @if wf.lanes.is_empty() {
                p.note { "no signal was probed" }
            }
        }
    }
}

fn read_cell(rv: &ReadView) -> Markup {
    html! {
        (rv.backend) " " code { (rv.url.value) }
        br; span.note { "chosen by " (rv.url.source.to_string()) ", deadline " (fmt_seconds(rv.deadline_seconds)) }
        br; span.note { "query " } code { (rv.query) }
    }
}

/// Where each lane was sent and read, and which setting chose each value.
pub fn topology(r: &RunReport) -> Markup {
    let both = r.emitter == EmitterMode::Both;
    html! {
        table.facts.topology {
            thead { tr { th { "lane" } th { "sent to" } th { "protocol" } th { "read from" } th { "tenant" } } }
            tbody {
                @for s in &r.signals {
                    tr data-lane=(super::sdk_human::lane_name(s.signal.as_str(), Some(s.emitter), both)) {
                        td { (super::sdk_human::lane_name(s.signal.as_str(), Some(s.emitter), both)) }
                        td { code { (s.export.url.value.as_str()) } br; span.note { "chosen by " (s.export.url.source.to_string()) } }
                        td { (s.export.protocol.value.to_string()) br; span.note { "chosen by " (s.export.protocol.source.to_string()) } }
                        td { @if let Some(rv) = &s.read { (read_cell(rv)) } @else { span.note { "not read back" } } }
                        td {
                            @if let Some(t) = s.export.headers.iter().find(|h| h.name == "x-scope-orgid") {
                                code { (t.value) } br; span.note { "chosen by " (t.source.to_string()) }
                            }
                        }
                    }
                }
                @for p in &r.pulls {
                    tr data-lane=(p.path.as_str()) {
                        td { (p.path.as_str()) }
                        td { span.note { "exposed " } code { (p.exposed) } }
                        td { "pull" }
                        td { @if let Some(rv) = &p.read { (read_cell(rv)) } @else { span.note { "not read back" } } }
                        td {}
                    }
                }
            }
        }
    }
}

/// The probe's identifiers, versions and verdict.
pub fn facts(r: &RunReport) -> Markup {
    html! {
        table.facts.probe {
            @if r.probes.is_empty() {
                tr { th { "probe id" } td { code.probe-id { (r.probe.probe_id) } } }
                tr { th { "trace id" } td { code.trace-id { (r.probe.trace_id) } } }
                tr { th { "marker" } td { code { (r.probe.marker) } } }
            } @else {
                @for p in &r.probes {
                    tr { th { (p.emitter.as_str()) " probe" } td {
                        code.probe-id { (p.probe.probe_id) } " trace " code.trace-id { (p.probe.trace_id) }
                        " marker " code { (p.probe.marker) } " " (badge(if p.ok { Status::Ok } else { Status::Failed }))
                    } }
                }
            }
            tr { th { "started" } td { (r.probe.started_at) ", took " (fmt_seconds(r.seconds)) } }
            @if let Some(s) = &r.scenario { tr { th { "scenario" } td { code { (s) } } } }
            tr { th { "emitter" } td { (r.emitter.to_string()) } }
            tr { th { "service.name" } td { code { (r.resource.service_name.value) } " " span.note { "chosen by " (r.resource.service_name.source.to_string()) } } }
            tr { th { "service.instance.id" } td { code { (r.resource.service_instance_id.value) } " " span.note { "chosen by " (r.resource.service_instance_id.source.to_string()) } } }
            tr { th { "versions" } td { "otel-canary " (env!("CARGO_PKG_VERSION")) ", service.version " code { (r.resource.service_version) } ", report schema " code { (super::run_json::SCHEMA) } } }
            tr { th { "exit status" } td.exit-status { code { (r.exit_code()) } " " (verdict_words(r)) } }
        }
    }
}

fn verdict_words(r: &RunReport) -> &'static str {
    let lanes_ok = r.lanes().iter().all(|l| l.status != Status::Failed);
    match (r.ok, lanes_ok) {
        (true, _) if r.assertions.is_empty() => "all signals ok",
        (true, _) => "all signals and assertions ok",
        (false, true) => "signals ok, some assertions failed",
        (false, false) => "some signals failed",
    }
}

/// Assertions, warnings and (under `both`) what the two emitters did differently.
fn the_rest(r: &RunReport) -> Markup {
    html! {
        @if !r.assertions.is_empty() {
            h2 { "Assertions" }
            table.facts.assertions {
                @for a in &r.assertions {
                    tr data-assertion=(a.name) {
                        td { (badge(a.status)) } td { code { (a.name) } }
                        td { (a.kind) " on " (a.backend) ": " code { (a.query) } br;
                            span.note { "expects " (a.expect) }
                            @if let Some(g) = &a.got { br; span.note { "got " (g) } }
                            @if let Some(h) = &a.hint { br; span.label { "hint: " } (h) }
                        }
                    }
                }
            }
        }
        @if !r.differences.is_empty() {
            h2 { "Wire and SDK emitters differ" }
            ul.tight { @for d in &r.differences { li { (d.text) } } }
        }
        @if !r.warnings.is_empty() {
            h2 { "Warnings" }
            ul.tight.warnings { @for w in &r.warnings { li { (w) } } }
        }
    }
}

/// The body of one probe's report (no page around it): verdict, facts, waterfall, topology.
pub fn report_body(r: &RunReport) -> Markup {
    let status = if r.ok { Status::Ok } else { Status::Failed };
    html! {
        p { span class=(format!("verdict {}", status_word(status))) {
            (if r.ok { "✓ " } else { "✕ " }) (verdict_words(r)) " — exit status " (r.exit_code())
        } }
        (facts(r))
        h2 { "Waterfall" }
        p.note { "Every hop on one time axis from the probe's start; the polled hops' intervals and reads are measured from the export's acknowledgement." }
        (legend())
        (waterfall(r))
        h2 { "Topology" }
        p.note { "Where each signal was sent and read back, and which setting (flag, env var, scenario file, default) chose each value." }
        (topology(r))
        (the_rest(r))
    }
}

/// A whole page: the style, the shared SVG definitions, and a policy that lets the page
/// load nothing and run nothing. `refresh` adds a meta refresh of that many seconds.
pub fn page(title: &str, refresh: Option<u64>, body: Markup) -> String {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta http-equiv="Content-Security-Policy"
                    content="default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'none'; base-uri 'none'";
                meta name="viewport" content="width=device-width, initial-scale=1";
                @if let Some(s) = refresh { meta http-equiv="refresh" content=(s); }
                title { (title) }
                style { (maud::PreEscaped(STYLE)) }
            }
            body {
                (defs())
                (body)
            }
        }
    }
    .into_string()
}

/// The page title of a probe's report.
pub fn title(r: &RunReport) -> String {
    format!(
        "otel-canary run {}: {}",
        r.probe.probe_id,
        if r.ok { "ok" } else { "FAILED" }
    )
}

/// Renders the report as one self-contained HTML page.
pub fn render(r: &RunReport) -> String {
    let body = html! {
        h1 { "otel-canary run" }
        (report_body(r))
    };
    page(&title(r), None, body)
}

/// One probe of a page holding several (`demo`, one per protocol).
pub struct Section<'a> {
    pub heading: String,
    pub report: &'a RunReport,
    /// A line under the heading (what the demo's stack received).
    pub note: Option<String>,
}

/// Several probes on one page, each with its own waterfall, under one verdict.
pub fn render_sections(title: &str, ok: bool, verdict: &str, sections: &[Section<'_>]) -> String {
    let status = if ok { Status::Ok } else { Status::Failed };
    let body = html! {
        h1 { (title) }
        p { span class=(format!("verdict {}", status_word(status))) { (if ok { "✓ " } else { "✕ " }) (verdict) } }
        nav { @for (i, s) in sections.iter().enumerate() { a href=(format!("#run-{i}")) { (s.heading) } } }
        @for (i, s) in sections.iter().enumerate() {
            section.run id=(format!("run-{i}")) {
                h2 { (s.heading) }
                @if let Some(n) = &s.note { p.note { (n) } }
                (report_body(s.report))
            }
        }
    };
    page(title, None, body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::test_support::{report, signal_outcome};
    use crate::roundtrip::outcome::Reason;
    use crate::signal::Signal;

    fn found(name: HopName, after: f64, by: f64, reads: Vec<f64>) -> Hop {
        Hop {
            seconds: Some((after + by) / 2.0),
            visible_after: Some(after),
            visible_by: Some(by),
            resolution: Some(by - after),
            queries: Some(reads.len() as u32),
            reads,
            ..Hop::new(name, Status::Ok)
        }
    }

    fn hostile() -> RunReport {
        let evil = r#"<script>alert("x")</script> it's "quoted" & <b>bold</b>"#;
        let mut ingest = Hop::failed(HopName::Ingest, Reason::QueryFailed, evil);
        ingest.reads = vec![0.0, 0.2];
        let mut s = signal_outcome(
            Signal::Log,
            vec![
                Hop::ok(HopName::Export, 0.003),
                ingest,
                Hop::new(HopName::Query, Status::Skipped),
                Hop {
                    seconds: Some(0.4),
                    ..Hop::new(HopName::Total, Status::Failed)
                },
            ],
        );
        s.hint = Some(format!("check {evil}"));
        let mut r = report(vec![
            signal_outcome(
                Signal::Trace,
                vec![
                    Hop::ok(HopName::Export, 0.002),
                    found(HopName::Ingest, 0.1, 0.15, vec![0.0, 0.05, 0.1]),
                    Hop::ok(HopName::Query, 0.01),
                    Hop::ok(HopName::Total, 0.152),
                ],
            ),
            s,
        ]);
        r.warnings.push(evil.into());
        r
    }

    #[test]
    fn backend_words_are_escaped_everywhere() {
        let html = render(&hostile());
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("<b>bold"), "{html}");
        assert!(html.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"));
        assert!(!html.to_lowercase().contains("<script"));
    }

    #[test]
    fn the_page_is_self_contained() {
        let html = render(&hostile());
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(html.contains("default-src 'none'"));
        for external in ["src=\"http", "href=\"http", "@import", "url(http", "<link"] {
            assert!(!html.contains(external), "{external}");
        }
        assert!(!html.contains("http-equiv=\"refresh\""));
    }

    #[test]
    fn lanes_rows_ticks_and_failures_are_in_the_page() {
        let html = render(&hostile());
        assert!(html.contains(r#"data-lane="trace" data-status="ok""#));
        assert!(html.contains(r#"data-lane="log" data-status="failed""#));
        assert_eq!(
            html.matches(r#"class="tick""#).count(),
            3 + 2 + 1,
            "reads + legend"
        );
        assert!(html.contains(r#"class="why""#));
        assert!(html.contains("query_failed"));
        assert!(html.contains("✕ FAILED"), "not colour alone");
        assert!(html.contains("chosen by flag --endpoint"));
        assert!(html.contains("chosen by env OTEL_CANARY_TEMPO_URL"));
        assert!(html.contains("4bf92f3577b34da6a3ce929d0e0e4736"));
        assert!(html.contains("exit status 1"));
        // The estimate: a diamond for the trace's ingest interval.
        assert_eq!(html.matches(r#"class="estimate""#).count(), 1 + 1);
    }

    #[test]
    fn pull_paths_are_lanes_of_their_own() {
        use crate::roundtrip::outcome::{PullOutcome, PullPath};
        let mut r = hostile();
        let mut ingest = Hop::ok(HopName::Ingest, 1.5);
        ingest.visible_after = Some(1.0);
        ingest.visible_by = Some(2.0);
        ingest.reads = vec![0.0, 1.0, 1.9];
        r.pulls.push(PullOutcome {
            path: PullPath::Scrape,
            status: Status::Ok,
            reason: None,
            hint: None,
            exposed: "otel_canary_scrape_marker{scenario=\"default\"} = 17".into(),
            sent_at: 0.2,
            read: None,
            hops: vec![Hop::ok(HopName::Expose, 0.0001), ingest],
            checks: Vec::new(),
            clues: Vec::new(),
        });
        let html = render(&r);
        assert!(html.contains(r#"data-lane="scrape" data-status="ok""#));
        assert!(html.contains(r#"data-hop="expose""#));
        assert!(html.contains("otel_canary_scrape_marker{scenario=&quot;default&quot;} = 17"));
        // The pull lane's 2.2 s end sets the shared axis.
        assert!(html.contains(r#"data-axis-end="2.500000""#), "{html}");
    }

    #[test]
    fn axis_labels_read_naturally() {
        assert_eq!(axis_label(0.0, 0.2), "0");
        assert_eq!(axis_label(0.25, 0.05), "250 ms");
        assert_eq!(axis_label(0.0005, 0.0001), "0.5 ms");
        assert_eq!(axis_label(1.4, 0.2), "1.4 s");
        assert_eq!(axis_label(10.0, 1.0), "10 s");
    }
}
