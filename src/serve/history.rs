//! The status page's memory of recent probes: per scenario and lane, the verdicts of the last
//! [`STRIP_LEN`] probes in a fixed ring, and when the lane last passed. A canary running for
//! months keeps exactly this much.

use crate::report::RunReport;
use crate::report::sdk_human::lane_name;
use crate::roundtrip::outcome::{Reason, Status};
use std::collections::VecDeque;
use std::time::SystemTime;

/// Probes kept per lane for the strip.
pub const STRIP_LEN: usize = 50;

/// One probe's verdict on one lane.
#[derive(Clone, Debug, PartialEq)]
pub struct Mark {
    pub finished: SystemTime,
    pub status: Status,
    pub reason: Option<Reason>,
    pub probe_id: String,
    /// The lane's `total`, when it has one.
    pub seconds: Option<f64>,
}

/// A lane's recent verdicts, oldest first.
#[derive(Clone, Debug, Default)]
pub struct LaneHistory {
    pub label: String,
    pub marks: VecDeque<Mark>,
    pub last_success: Option<SystemTime>,
}

/// A scenario's recent probes.
#[derive(Clone, Debug, Default)]
pub struct ScenarioHistory {
    /// In the order lanes first appeared (the reports' order).
    pub lanes: Vec<LaneHistory>,
    /// The last probe in which nothing failed.
    pub last_success: Option<SystemTime>,
    pub probes: u64,
}

impl ScenarioHistory {
    /// Adds a finished probe; the oldest mark of a full ring is dropped.
    pub fn record(&mut self, report: &RunReport, finished: SystemTime) {
        self.probes += 1;
        if report.ok {
            self.last_success = Some(finished);
        }
        let both = report.emitter == crate::config::emitter::EmitterMode::Both;
        let probe_id = &report.probe.probe_id;
        for lane in report.lanes() {
            let label = lane_name(lane.name, lane.emitter, both);
            let at = match self.lanes.iter().position(|l| l.label == label) {
                Some(i) => i,
                None => {
                    self.lanes.push(LaneHistory {
                        label,
                        ..Default::default()
                    });
                    self.lanes.len() - 1
                }
            };
            let h = &mut self.lanes[at];
            if h.marks.len() == STRIP_LEN {
                h.marks.pop_front();
            }
            h.marks.push_back(Mark {
                finished,
                status: lane.status,
                reason: lane.reason,
                probe_id: probe_id.clone(),
                seconds: lane
                    .hops
                    .iter()
                    .find(|h| h.hop == crate::roundtrip::outcome::HopName::Total)
                    .and_then(|h| h.seconds),
            });
            if lane.status == Status::Ok {
                h.last_success = Some(finished);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::test_support::{report, signal_outcome};
    use crate::roundtrip::outcome::{Hop, HopName};
    use crate::signal::Signal;
    use std::time::{Duration, UNIX_EPOCH};

    fn probe(ok: bool) -> RunReport {
        let ingest = if ok {
            Hop::ok(HopName::Ingest, 0.5)
        } else {
            Hop::failed(HopName::Ingest, Reason::NotFound, "not there")
        };
        report(vec![
            signal_outcome(Signal::Trace, vec![Hop::ok(HopName::Export, 0.01)]),
            signal_outcome(Signal::Log, vec![Hop::ok(HopName::Export, 0.01), ingest]),
        ])
    }

    #[test]
    fn the_strip_is_a_ring_of_the_last_probes() {
        let mut h = ScenarioHistory::default();
        for i in 0..(STRIP_LEN as u64 * 10 + 3) {
            let at = UNIX_EPOCH + Duration::from_secs(i);
            h.record(&probe(i % 7 != 0), at);
        }
        assert_eq!(h.probes, STRIP_LEN as u64 * 10 + 3);
        assert_eq!(h.lanes.len(), 2);
        for lane in &h.lanes {
            assert_eq!(lane.marks.len(), STRIP_LEN, "bounded");
            assert_eq!(
                lane.marks.back().unwrap().finished,
                UNIX_EPOCH + Duration::from_secs(502),
                "newest last"
            );
            assert_eq!(
                lane.marks.front().unwrap().finished,
                UNIX_EPOCH + Duration::from_secs(453)
            );
        }
        let log = &h.lanes[1];
        assert_eq!(log.label, "log");
        // 497 = 7 * 71 failed; 502 passed, the last success.
        let failed: Vec<_> = log
            .marks
            .iter()
            .filter(|m| m.status == Status::Failed)
            .map(|m| m.finished.duration_since(UNIX_EPOCH).unwrap().as_secs())
            .collect();
        assert_eq!(failed, [455, 462, 469, 476, 483, 490, 497]);
        assert_eq!(
            log.marks
                .iter()
                .find(|m| m.status == Status::Failed)
                .unwrap()
                .reason,
            Some(Reason::NotFound)
        );
        assert_eq!(
            log.last_success,
            Some(UNIX_EPOCH + Duration::from_secs(502))
        );
    }

    #[test]
    fn a_lane_that_never_passed_has_no_last_success() {
        let mut h = ScenarioHistory::default();
        h.record(&probe(false), UNIX_EPOCH);
        assert_eq!(h.last_success, None);
        assert_eq!(h.lanes[1].last_success, None);
        assert_eq!(h.lanes[0].last_success, Some(UNIX_EPOCH));
    }
}
