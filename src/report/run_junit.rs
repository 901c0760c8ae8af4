//! The `run` report as JUnit XML for CI systems: a test suite per probe, one test case per
//! signal, per hop and per content check, so a CI dashboard shows which hop broke.

use super::RunReport;
use crate::config::emitter::{Emitter, EmitterMode};
use crate::roundtrip::outcome::Status;
use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
use std::time::Duration;

fn case(name: String, status: Status, seconds: Option<f64>, message: Option<String>) -> TestCase {
    let s = match status {
        Status::Ok => TestCaseStatus::success(),
        Status::Skipped => {
            let mut s = TestCaseStatus::skipped();
            if let Some(m) = &message {
                s.set_message(m.as_str());
            }
            s
        }
        Status::Failed => {
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
            if let Some(m) = &message {
                s.set_message(m.as_str());
            }
            s
        }
    };
    let mut tc = TestCase::new(name, s);
    if let Some(secs) = seconds.filter(|s| s.is_finite() && *s >= 0.0) {
        tc.set_time(Duration::from_secs_f64(secs));
    }
    tc
}

/// Renders the report as a JUnit XML document.
pub fn render(r: &RunReport) -> String {
    let mut suite = TestSuite::new("otel-canary");
    suite.set_time(Duration::from_secs_f64(r.seconds.max(0.0)));
    for lane in r.lanes() {
        // Under `--emitter both` the SDK's signals are `sdk.trace`, `sdk.trace.export`, ….
        let name = match (r.emitter, lane.emitter) {
            (EmitterMode::Both, Some(Emitter::Sdk)) => format!("sdk.{}", lane.name),
            _ => lane.name.to_string(),
        };
        let msg = match (lane.reason, lane.hint) {
            (Some(reason), Some(h)) => Some(format!("{reason}: {h}")),
            (Some(reason), None) => Some(reason.to_string()),
            _ => None,
        };
        let total = lane
            .hops
            .iter()
            .find(|h| h.hop == crate::roundtrip::outcome::HopName::Total)
            .and_then(|h| h.seconds);
        suite.add_test_case(case(name.clone(), lane.status, total, msg));
        for h in lane.hops {
            let msg = match (h.reason, &h.detail) {
                (Some(reason), Some(d)) => Some(format!("{reason}: {d}")),
                (None, Some(d)) => Some(d.clone()),
                (Some(reason), None) => Some(reason.to_string()),
                (None, None) => None,
            };
            let msg = match (msg, &h.hint) {
                (Some(m), Some(hint)) => Some(format!("{m}; hint: {hint}")),
                (m, _) => m,
            };
            suite.add_test_case(case(format!("{name}.{}", h.hop), h.status, h.seconds, msg));
        }
        for c in lane.checks {
            suite.add_test_case(case(
                format!("{name}.check.{}", c.name),
                c.status,
                None,
                Some(c.detail.clone()),
            ));
        }
    }
    for a in &r.assertions {
        let msg = match (a.reason, &a.hint, &a.got) {
            (Some(reason), Some(h), _) => Some(format!("{reason}: {h}")),
            (None, _, Some(got)) => Some(format!("{} answered {got}", a.query)),
            _ => None,
        };
        suite.add_test_case(case(
            format!("assert.{}", a.name),
            a.status,
            Some(a.seconds),
            msg,
        ));
    }
    let mut report = Report::new(format!("otel-canary probe {}", r.probe.probe_id));
    report.add_test_suite(suite);
    report
        .to_string()
        .unwrap_or_else(|e| format!("<!-- cannot render JUnit XML: {e} -->\n"))
}
