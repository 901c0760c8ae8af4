//! The terminal's glance at a probe: one line per lane under the human report's table, each
//! hop's name followed by a bar as long as the hop took, every line on one scale:
//!
//! ```text
//! trace   export ▏ ingest ▓▓▓▓░ query ▏ search ▓▓▓▓▓▓▓▓░  1.23 s
//! ```
//!
//! `▓` is measured time, `░` the interval the ingest (or search, or derived) estimate lies in,
//! `▏` a hop too short for one cell, `×` a hop that failed (so no colour is needed to see it).
//! A pure function of the report and the terminal's width, so it is tested without a TTY.

use super::RunReport;
use super::waterfall::{Bar, PlacedLane, Waterfall};
use crate::roundtrip::outcome::{HopName, Status};

/// Narrower than this, the lines would be mostly labels: none are drawn.
pub const MIN_WIDTH: usize = 40;

/// One hop's share of a line: measured and uncertain seconds, or a failure.
struct Piece {
    name: &'static str,
    solid: f64,
    unsure: f64,
    failed: bool,
}

fn pieces(lane: &PlacedLane<'_>) -> Vec<Piece> {
    lane.rows
        .iter()
        .filter(|r| r.hop.hop != HopName::Total && r.hop.status != Status::Skipped)
        .map(|r| {
            let (solid, unsure) = match r.bar {
                Bar::Span { start, end } => (end - start, 0.0),
                Bar::Interval {
                    from, after, by, ..
                } => (after - from, by - after),
                Bar::Polled { from, to } => (to - from, 0.0),
                Bar::Nothing => (0.0, 0.0),
            };
            Piece {
                name: r.hop.hop.as_str(),
                solid: solid.max(0.0),
                unsure: unsure.max(0.0),
                failed: r.hop.status == Status::Failed,
            }
        })
        .collect()
}

/// How long the lane took: its `total`, else its last bar's end.
fn lane_seconds(lane: &PlacedLane<'_>) -> f64 {
    lane.rows
        .iter()
        .find(|r| r.hop.hop == HopName::Total)
        .and_then(|r| r.hop.seconds)
        .filter(|s| s.is_finite())
        .unwrap_or_else(|| {
            lane.rows
                .iter()
                .filter_map(|r| r.bar.end())
                .fold(lane.sent_at, f64::max)
                - lane.sent_at
        })
}

fn cells(seconds: f64, per_second: f64) -> usize {
    let c = seconds * per_second;
    if c.is_finite() && c > 0.0 {
        c.floor() as usize
    } else {
        0
    }
}

/// The timeline for a terminal `width` columns wide, or `None` when it does not fit (or the
/// report has no lane).
pub fn render(report: &RunReport, width: usize) -> Option<String> {
    if width < MIN_WIDTH {
        return None;
    }
    let wf = Waterfall::of(report);
    if wf.lanes.is_empty() {
        return None;
    }
    let label_width = wf.lanes.iter().map(|l| l.label.chars().count()).max()? + 2;
    let lines: Vec<(String, Vec<Piece>, String)> = wf
        .lanes
        .iter()
        .map(|l| {
            let total = format!("  {}", super::fmt_seconds(lane_seconds(l)));
            (l.label.clone(), pieces(l), total)
        })
        .collect();
    // Every hop gets its name, a space, at least two cells and a separating space; what is
    // left is shared out by seconds, at one rate for all lines.
    let mut per_second = f64::INFINITY;
    for (_, ps, total) in &lines {
        let fixed: usize = label_width
            + total.chars().count()
            + ps.iter().map(|p| p.name.len() + 4).sum::<usize>();
        let room = width.checked_sub(fixed)?;
        let seconds: f64 = ps.iter().map(|p| p.solid + p.unsure).sum();
        if seconds > 0.0 {
            per_second = per_second.min(room as f64 / seconds);
        }
    }
    if !per_second.is_finite() {
        per_second = 0.0;
    }
    let mut out = String::new();
    for (label, ps, total) in lines {
        let mut line = format!("{label:<label_width$}");
        for (i, p) in ps.iter().enumerate() {
            if i > 0 {
                line.push(' ');
            }
            line.push_str(p.name);
            line.push(' ');
            if p.failed {
                let n = cells(p.solid + p.unsure, per_second).max(1);
                line.push_str(&"×".repeat(n));
                continue;
            }
            let solid = cells(p.solid, per_second);
            let unsure = cells(p.unsure, per_second);
            match (solid, unsure) {
                (0, 0) if p.unsure > 0.0 => line.push('░'),
                (0, 0) => line.push('▏'),
                _ => {
                    line.push_str(&"▓".repeat(solid));
                    // The interval is never hidden, however narrow.
                    let unsure = if p.unsure > 0.0 { unsure.max(1) } else { 0 };
                    line.push_str(&"░".repeat(unsure));
                }
            }
        }
        line.push_str(&total);
        out.push_str(line.trim_end());
        out.push('\n');
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::test_support::{report, signal_outcome};
    use crate::roundtrip::outcome::{Hop, Reason};
    use crate::signal::Signal;

    fn found(name: HopName, after: f64, by: f64) -> Hop {
        Hop {
            seconds: Some((after + by) / 2.0),
            visible_after: Some(after),
            visible_by: Some(by),
            reads: vec![0.0, after],
            ..Hop::new(name, Status::Ok)
        }
    }

    fn passing() -> Vec<Hop> {
        vec![
            Hop::ok(HopName::Export, 0.002),
            found(HopName::Ingest, 0.8, 1.0),
            Hop::ok(HopName::Query, 0.004),
            found(HopName::Search, 1.6, 2.0),
            Hop::ok(HopName::Total, 1.002),
        ]
    }

    #[test]
    fn one_line_per_lane_with_bars_on_one_scale() {
        let mut failed = vec![
            Hop::ok(HopName::Export, 0.002),
            Hop {
                reads: vec![0.0, 0.5, 1.0],
                ..Hop::failed(HopName::Ingest, Reason::NotFound, "not there")
            },
            Hop::new(HopName::Query, Status::Skipped),
        ];
        failed.push(Hop {
            seconds: Some(1.5),
            ..Hop::new(HopName::Total, Status::Failed)
        });
        let r = report(vec![
            signal_outcome(Signal::Trace, passing()),
            signal_outcome(Signal::Log, failed),
        ]);
        let text = render(&r, 100).expect("fits in 100 columns");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        for l in &lines {
            assert!(l.chars().count() <= 100, "{l}");
        }
        let trace = lines[0];
        assert!(trace.starts_with("trace  export ▏ ingest ▓"), "{trace}");
        assert!(trace.contains("░ query ▏ search ▓"), "{trace}");
        assert!(trace.ends_with("1.00 s"), "{trace}");
        let log = lines[1];
        assert!(log.starts_with("log    export ▏ ingest ×"), "{log}");
        assert!(!log.contains("query"), "a skipped hop is left out: {log}");
        // Same scale: search (2 s) is about twice ingest (1 s); the failed poll (1.5 s) between.
        let count = |s: &str, hop: &str| {
            let after = s.split(&format!("{hop} ")).nth(1).unwrap();
            after.chars().take_while(|c| "▓░×".contains(*c)).count()
        };
        let (ingest, search, lost) = (
            count(trace, "ingest"),
            count(trace, "search"),
            count(log, "ingest"),
        );
        assert!(
            search >= 2 * ingest - 2 && search <= 2 * ingest + 2,
            "{text}"
        );
        assert!(lost > ingest && lost < search, "{text}");
    }

    #[test]
    fn too_narrow_a_terminal_gets_no_timeline() {
        let r = report(vec![signal_outcome(Signal::Trace, passing())]);
        assert!(render(&r, MIN_WIDTH - 1).is_none());
        assert!(render(&r, 45).is_none(), "the labels alone do not fit");
        assert!(render(&r, 60).is_some());
        assert!(render(&report(Vec::new()), 200).is_none());
    }

    #[test]
    fn the_line_grows_with_the_terminal_but_never_past_it() {
        let r = report(vec![signal_outcome(Signal::Trace, passing())]);
        let narrow = render(&r, 70).unwrap();
        let wide = render(&r, 160).unwrap();
        let len = |s: &str| s.trim_end().chars().count();
        assert!(len(&narrow) <= 70 && len(&wide) <= 160);
        assert!(len(&wide) > len(&narrow) + 50, "{narrow}{wide}");
    }
}
