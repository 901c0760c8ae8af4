//! The answer of `/probe`: one probe's outcome as its own small registry, the way
//! blackbox_exporter answers a probe (`probe_success`, `probe_duration_seconds`), so a
//! Prometheus job can run probes itself and alert on `probe_success == 0`.

use super::metrics::EmitterLabel;
use crate::report::RunReport;
use crate::roundtrip::outcome::Status;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SignalLabels {
    signal: &'static str,
    #[prometheus(flatten)]
    emitter: EmitterLabel,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HopLabels {
    signal: &'static str,
    hop: &'static str,
    #[prometheus(flatten)]
    emitter: EmitterLabel,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FailureLabels {
    signal: &'static str,
    reason: &'static str,
    #[prometheus(flatten)]
    emitter: EmitterLabel,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AssertionLabels {
    assertion: String,
}

type F64Gauge = Gauge<f64, AtomicU64>;

/// The OpenMetrics text for one probe: `probe_success`, `probe_duration_seconds`, and per
/// signal (and pull path) its verdict, hop durations and failure reason. `timed_out` marks a
/// probe cut short by the scrape timeout.
pub fn encode_probe(r: &RunReport, timed_out: bool) -> String {
    let mut registry = Registry::default();
    let success = Gauge::<i64>::default();
    success.set(i64::from(r.ok && !timed_out));
    registry.register(
        "probe_success",
        "1 when every signal of the probe passed",
        success,
    );
    let duration = F64Gauge::default();
    duration.set(r.seconds);
    registry.register(
        "probe_duration_seconds",
        "How long the probe took",
        duration,
    );
    let up = Family::<SignalLabels, Gauge>::default();
    let hops = Family::<HopLabels, F64Gauge>::default();
    let failed = Family::<FailureLabels, Gauge>::default();
    for lane in r.lanes() {
        let signal = lane.name;
        let emitter = EmitterLabel::of(lane.emitter);
        match lane.status {
            Status::Ok => {
                up.get_or_create(&SignalLabels { signal, emitter }).set(1);
            }
            Status::Failed => {
                up.get_or_create(&SignalLabels { signal, emitter }).set(0);
                let reason = lane.reason.map_or("unknown", |r| r.as_str());
                failed
                    .get_or_create(&FailureLabels {
                        signal,
                        reason,
                        emitter,
                    })
                    .set(1);
            }
            Status::Skipped => {}
        }
        for h in lane.hops.iter().filter(|h| h.status == Status::Ok) {
            if let Some(s) = h.seconds {
                hops.get_or_create(&HopLabels {
                    signal,
                    hop: h.hop.as_str(),
                    emitter,
                })
                .set(s);
            }
        }
    }
    registry.register(
        "otel_canary_probe_signal_up",
        "1 when the signal passed this probe, 0 when it failed",
        up,
    );
    registry.register(
        "otel_canary_probe_hop_duration_seconds",
        "Duration of each hop of this probe that completed",
        hops,
    );
    registry.register(
        "otel_canary_probe_failed",
        "1 for each failed signal, labelled with its reason",
        failed,
    );
    let assertions = Family::<AssertionLabels, Gauge>::default();
    for a in &r.assertions {
        assertions
            .get_or_create(&AssertionLabels {
                assertion: a.name.clone(),
            })
            .set(i64::from(a.status == Status::Ok));
    }
    registry.register(
        "otel_canary_probe_assertion_up",
        "1 for each of the scenario's assertions that held after this probe, 0 for each that failed",
        assertions,
    );
    let cut = Gauge::<i64>::default();
    cut.set(i64::from(timed_out));
    registry.register(
        "otel_canary_probe_timed_out",
        "1 when the scrape timeout cut the probe short",
        cut,
    );
    let mut out = String::new();
    encode(&mut out, &registry).expect("writing to a String cannot fail");
    out
}
