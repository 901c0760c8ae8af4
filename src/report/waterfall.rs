//! The geometry of a probe's waterfall: every hop of every lane (signal or pull path) placed
//! on one time axis, in seconds after the probe began, with each poll read as a tick. Pure
//! arithmetic on the report, so the HTML report, `serve`'s status page and the terminal
//! timeline draw the same picture, and its tests need no renderer.
//!
//! The axis: a lane starts at its `sent_at`; its export (or a pull path's expose) ends at the
//! ack; the polled hops' offsets (`visible_after`, `visible_by`, `reads`) are seconds after
//! that ack (docs/json-output.md).

use super::{Lane, RunReport};
use crate::roundtrip::outcome::{Hop, HopName, Status};

/// The shortest axis drawn: a probe of a few microseconds still gets a readable scale.
const MIN_END: f64 = 0.001;

/// What a hop's row shows, in seconds after the probe began.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Bar {
    /// A measured duration (export, expose, query, the Grafana read, total).
    Span { start: f64, end: f64 },
    /// A polled hop that saw the signal: it waited from `from` (the ack), the signal became
    /// visible somewhere in [`after`, `by`] and `estimate` is the point the report gives.
    Interval {
        from: f64,
        after: f64,
        by: f64,
        estimate: f64,
    },
    /// A polled hop that never saw it: its reads ran from `from` to `to`.
    Polled { from: f64, to: f64 },
    /// Nothing measured (skipped, or failed before any time was taken).
    Nothing,
}

impl Bar {
    /// The latest instant the bar covers.
    pub fn end(&self) -> Option<f64> {
        match *self {
            Bar::Span { end, .. } => Some(end),
            Bar::Interval { by, .. } => Some(by),
            Bar::Polled { to, .. } => Some(to),
            Bar::Nothing => None,
        }
    }

    /// The earliest instant the bar covers.
    pub fn start(&self) -> Option<f64> {
        match *self {
            Bar::Span { start, .. } => Some(start),
            Bar::Interval { from, .. } | Bar::Polled { from, .. } => Some(from),
            Bar::Nothing => None,
        }
    }
}

/// One hop of a lane, placed.
#[derive(Clone, Debug)]
pub struct Row<'a> {
    pub hop: &'a Hop,
    pub bar: Bar,
    /// When each of the hop's reads started, seconds after the probe began.
    pub ticks: Vec<f64>,
}

/// One lane, placed: its rows in the report's hop order.
pub struct PlacedLane<'a> {
    pub lane: Lane<'a>,
    /// `trace`, `log (sdk)`, `scrape`: as the human report names it.
    pub label: String,
    /// When the lane's export was sent (or its pull value exposed).
    pub sent_at: f64,
    /// When the export was acknowledged: the origin of the polled hops' offsets.
    pub ack: f64,
    pub rows: Vec<Row<'a>>,
}

/// A time axis from 0 to `end` seconds, with round gridlines.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Scale {
    pub end: f64,
    /// The gridline spacing: 1, 2 or 5 times a power of ten.
    pub step: f64,
}

impl Scale {
    /// The smallest round axis holding `latest` (at most 10 gridline steps).
    pub fn fit(latest: f64) -> Scale {
        let latest = if latest.is_finite() && latest > MIN_END {
            latest
        } else {
            MIN_END
        };
        let raw = latest / 8.0;
        let power = 10f64.powf(raw.log10().floor());
        let step = [1.0, 2.0, 5.0, 10.0]
            .into_iter()
            .map(|m| m * power)
            .find(|s| latest / s <= 10.0)
            .unwrap_or(10.0 * power);
        // A hair below the next step is that step: float division must not add one.
        let end = (latest / step - 1e-9).ceil() * step;
        Scale { end, step }
    }

    /// Where `t` falls on the axis, from 0 (the probe's start) to 1 (the axis end); values
    /// outside (or not numbers) are clamped.
    pub fn frac(&self, t: f64) -> f64 {
        if !t.is_finite() || self.end <= 0.0 {
            return 0.0;
        }
        (t / self.end).clamp(0.0, 1.0)
    }

    /// `frac` in pixels of a `width`-wide drawing.
    pub fn x(&self, t: f64, width: f64) -> f64 {
        self.frac(t) * width
    }

    /// The gridline positions, 0 and `end` included.
    pub fn gridlines(&self) -> Vec<f64> {
        let n = (self.end / self.step).round() as usize;
        (0..=n.min(20)).map(|i| i as f64 * self.step).collect()
    }
}

/// The whole picture: every lane on one scale.
pub struct Waterfall<'a> {
    pub lanes: Vec<PlacedLane<'a>>,
    pub scale: Scale,
}

impl<'a> Waterfall<'a> {
    /// Places every lane of the report (signals, then pull paths).
    pub fn of(report: &'a RunReport) -> Waterfall<'a> {
        let both = report.emitter == crate::config::emitter::EmitterMode::Both;
        let lanes: Vec<PlacedLane<'a>> = report
            .lanes()
            .into_iter()
            .map(|lane| place(lane, both))
            .collect();
        let latest = lanes
            .iter()
            .flat_map(|l| {
                l.rows
                    .iter()
                    .flat_map(|r| r.bar.end().into_iter().chain(r.ticks.iter().copied()))
            })
            .filter(|t| t.is_finite())
            .fold(0.0, f64::max);
        Waterfall {
            lanes,
            scale: Scale::fit(latest),
        }
    }
}

fn finite(v: Option<f64>) -> Option<f64> {
    v.filter(|s| s.is_finite() && *s >= 0.0)
}

/// Places one lane's hops.
pub fn place(lane: Lane<'_>, both: bool) -> PlacedLane<'_> {
    let label = super::sdk_human::lane_name(lane.name, lane.emitter, both);
    let sent_at = finite(Some(lane.sent_at)).unwrap_or(0.0);
    let first = lane
        .hops
        .iter()
        .find(|h| matches!(h.hop, HopName::Export | HopName::Expose));
    // A failed export has no hop time; its attempt still took some.
    let send_seconds = first.and_then(|h| finite(h.seconds)).or_else(|| {
        lane.export
            .and_then(|e| e.attempts.last())
            .and_then(|a| finite(Some(a.seconds)))
    });
    let ack = sent_at + send_seconds.unwrap_or(0.0);
    let ingest_by = lane
        .hops
        .iter()
        .find(|h| h.hop == HopName::Ingest)
        .and_then(|h| finite(h.visible_by));
    let total_end = lane
        .hops
        .iter()
        .find(|h| h.hop == HopName::Total)
        .and_then(|h| finite(h.seconds))
        .map(|s| sent_at + s);
    let rows = lane
        .hops
        .iter()
        .map(|hop| {
            let ticks: Vec<f64> = hop
                .reads
                .iter()
                .filter(|r| r.is_finite() && **r >= 0.0)
                .map(|r| ack + r)
                .collect();
            let bar = bar_of(
                hop,
                sent_at,
                ack,
                send_seconds,
                ingest_by,
                total_end,
                &ticks,
            );
            Row { hop, bar, ticks }
        })
        .collect();
    PlacedLane {
        label,
        sent_at,
        ack,
        rows,
        lane,
    }
}

fn bar_of(
    hop: &Hop,
    sent_at: f64,
    ack: f64,
    send_seconds: Option<f64>,
    ingest_by: Option<f64>,
    total_end: Option<f64>,
    ticks: &[f64],
) -> Bar {
    if hop.status == Status::Skipped {
        return Bar::Nothing;
    }
    let seconds = finite(hop.seconds);
    match hop.hop {
        HopName::Export | HopName::Expose => match send_seconds {
            Some(_) => Bar::Span {
                start: sent_at,
                end: ack,
            },
            None => Bar::Nothing,
        },
        HopName::Total => match seconds {
            Some(s) => Bar::Span {
                start: sent_at,
                end: sent_at + s,
            },
            None => Bar::Nothing,
        },
        // The read that saw it ended at `visible_by` and lasted `seconds`.
        HopName::Query => match (seconds, ingest_by) {
            (Some(s), Some(by)) => Bar::Span {
                start: ack + (by - s).max(0.0),
                end: ack + by,
            },
            _ => Bar::Nothing,
        },
        // The Grafana hop's time is the read that saw it: the last one.
        HopName::Grafana if hop.status == Status::Ok => match (seconds, ticks.last()) {
            (Some(s), Some(&last)) => Bar::Span {
                start: last,
                end: last + s,
            },
            _ => polled(ticks, None),
        },
        _ => match (finite(hop.visible_after), finite(hop.visible_by)) {
            (Some(a), Some(b)) => {
                let (a, b) = (a.min(b), a.max(b));
                Bar::Interval {
                    from: ack,
                    after: ack + a,
                    by: ack + b,
                    estimate: ack + seconds.unwrap_or((a + b) / 2.0).clamp(a, b),
                }
            }
            // A failed ingest poll ran until the verdict, which `total` marks.
            _ if hop.hop == HopName::Ingest => polled(ticks, total_end),
            _ => polled(ticks, None),
        },
    }
}

fn polled(ticks: &[f64], until: Option<f64>) -> Bar {
    match (ticks.first(), ticks.last()) {
        (Some(&from), Some(&last)) => Bar::Polled {
            from,
            to: until.map_or(last, |u| u.max(last)),
        },
        _ => Bar::Nothing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::roundtrip::outcome::Reason;

    fn lane(hops: &[Hop], sent_at: f64) -> Lane<'_> {
        Lane {
            name: "trace",
            status: Status::Ok,
            reason: None,
            hint: None,
            hops,
            checks: &[],
            clues: &[],
            export: None,
            emitter: None,
            sent_at,
        }
    }

    fn found(name: HopName, after: f64, by: f64, reads: &[f64]) -> Hop {
        Hop {
            seconds: Some((after + by) / 2.0),
            visible_after: Some(after),
            visible_by: Some(by),
            resolution: Some(by - after),
            queries: Some(reads.len() as u32),
            reads: reads.to_vec(),
            ..Hop::new(name, Status::Ok)
        }
    }

    #[test]
    fn scales_are_round_and_hold_the_latest_instant() {
        for (latest, end, step) in [
            (1.3, 1.4, 0.2),
            (0.0034, 0.0035, 0.0005),
            (7.9, 8.0, 1.0),
            (10.0, 10.0, 1.0),
            (31.0, 35.0, 5.0),
            (0.0, 0.001, 0.0001),
            (f64::NAN, 0.001, 0.0001),
        ] {
            let s = Scale::fit(latest);
            assert!((s.end - end).abs() < 1e-9, "{latest}: {s:?}");
            assert!((s.step - step).abs() < 1e-12, "{latest}: {s:?}");
            assert!(s.end >= latest || !latest.is_finite() || latest < MIN_END);
            let grid = s.gridlines();
            assert_eq!(grid[0], 0.0);
            assert!((grid.last().unwrap() - s.end).abs() < 1e-9);
            assert!(grid.len() <= 11, "{grid:?}");
        }
    }

    #[test]
    fn positions_are_clamped_to_the_drawing() {
        let s = Scale::fit(2.0);
        assert_eq!(s.x(1.0, 600.0), 300.0);
        assert_eq!(s.x(-1.0, 600.0), 0.0);
        assert_eq!(s.x(99.0, 600.0), 600.0);
        assert_eq!(s.x(f64::INFINITY, 600.0), 0.0);
        assert_eq!(s.x(f64::NAN, 600.0), 0.0);
    }

    #[test]
    fn hops_sit_on_the_probe_axis_after_the_ack() {
        let hops = vec![
            Hop::ok(HopName::Export, 0.01),
            found(HopName::Ingest, 0.2, 0.3, &[0.0, 0.1, 0.2, 0.25]),
            Hop::ok(HopName::Query, 0.05),
            found(HopName::Search, 0.4, 0.6, &[0.0, 0.4, 0.55]),
            Hop::ok(HopName::Total, 0.31),
        ];
        let p = place(lane(&hops, 0.5), false);
        assert_eq!(p.ack, 0.51);
        let bars: Vec<Bar> = p.rows.iter().map(|r| r.bar).collect();
        assert_eq!(
            bars[0],
            Bar::Span {
                start: 0.5,
                end: 0.51
            }
        );
        let Bar::Interval {
            from,
            after,
            by,
            estimate,
        } = bars[1]
        else {
            panic!("{:?}", bars[1])
        };
        assert_eq!(from, 0.51);
        assert!((after - 0.71).abs() < 1e-9 && (by - 0.81).abs() < 1e-9);
        assert!((estimate - 0.76).abs() < 1e-9, "the middle of the interval");
        // The query is the read that saw it: it ended when the interval did.
        let Bar::Span { start, end } = bars[2] else {
            panic!("{:?}", bars[2])
        };
        assert!((start - 0.76).abs() < 1e-9 && (end - 0.81).abs() < 1e-9);
        assert_eq!(
            bars[4],
            Bar::Span {
                start: 0.5,
                end: 0.81
            }
        );
        // Ticks: every read, moved onto the probe axis.
        let ticks: Vec<f64> = p.rows[1].ticks.iter().map(|t| t - 0.51).collect();
        for (t, want) in ticks.iter().zip([0.0, 0.1, 0.2, 0.25]) {
            assert!((t - want).abs() < 1e-9);
        }
        assert!(p.rows[0].ticks.is_empty());
    }

    #[test]
    fn failed_polls_span_their_reads_and_skipped_hops_draw_nothing() {
        let mut ingest = Hop::failed(HopName::Ingest, Reason::NotFound, "not there");
        ingest.reads = vec![0.0, 0.5, 1.0, 1.4];
        let mut derived = Hop::failed(HopName::SpanMetrics, Reason::DerivedMissing, "no rise");
        derived.reads = vec![0.2, 0.9];
        let hops = vec![
            Hop::ok(HopName::Export, 0.1),
            ingest,
            Hop::new(HopName::Query, Status::Skipped),
            derived,
            Hop {
                seconds: Some(1.6),
                ..Hop::new(HopName::Total, Status::Failed)
            },
        ];
        let p = place(lane(&hops, 0.0), false);
        // The ingest poll runs until the verdict (`total`), not only to its last read start.
        assert_eq!(p.rows[1].bar, Bar::Polled { from: 0.1, to: 1.6 });
        assert_eq!(p.rows[2].bar, Bar::Nothing);
        let Bar::Polled { from, to } = p.rows[3].bar else {
            panic!()
        };
        assert!((from - 0.3).abs() < 1e-9 && (to - 1.0).abs() < 1e-9);
    }

    #[test]
    fn a_failed_export_without_time_and_hostile_numbers_do_not_break_the_layout() {
        let mut ingest = found(HopName::Ingest, f64::NAN, 0.3, &[f64::NAN, -1.0, 0.1]);
        ingest.seconds = Some(f64::INFINITY);
        let hops = vec![
            Hop::failed(HopName::Export, Reason::QueryFailed, "refused"),
            ingest,
        ];
        let p = place(lane(&hops, f64::NAN), false);
        assert_eq!(p.sent_at, 0.0);
        assert_eq!(p.rows[0].bar, Bar::Nothing);
        assert_eq!(
            p.rows[1].ticks,
            vec![0.1],
            "only real read offsets are ticks"
        );
        assert_eq!(p.rows[1].bar, Bar::Polled { from: 0.1, to: 0.1 });
    }

    #[test]
    fn grafana_draws_the_read_that_saw_it() {
        let hops = vec![
            Hop::ok(HopName::Export, 0.0),
            Hop {
                reads: vec![0.3, 0.5],
                ..Hop::ok(HopName::Grafana, 0.02)
            },
        ];
        let p = place(lane(&hops, 1.0), false);
        let Bar::Span { start, end } = p.rows[1].bar else {
            panic!()
        };
        assert!((start - 1.5).abs() < 1e-9 && (end - 1.52).abs() < 1e-9);
    }
}
