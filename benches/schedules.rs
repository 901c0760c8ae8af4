//! Read schedules side by side against the same lab delays, in one process and one run:
//! `run`'s one-shot rule, `serve`'s learned schedule, and fixed 500 ms and 1 s pollers (what
//! oats and Tracetest do). For each lab ingest delay D (all three signals), it prints the
//! ingest estimate's error, the width of the interval that holds the truth, and the queries
//! per signal, with each goal's bound:
//!
//! - one-shot: |error| <= max(25 ms, min(10 % of D, 250 ms)), D inside the interval, at most
//!   15 queries more than the fixed 500 ms poller;
//! - learned (after 10 warm-up probes, D in {0.2, 2, 10} s): |error| <= max(10 ms, 2.5 % of D)
//!   with at most 8 queries; and after D jumps from 2 s to 10 s, per probe.
//!
//! Run: `cargo bench --bench schedules` (about 6 minutes; `-- quick` skips D = 10 s and 30 s
//! and the jump, `-- d=30` runs one delay; `SCHEDULES_DEBUG=1` prints every ingest hop with
//! its reads).

mod common;

use common::round_trip;
use otel_canary::lab::{LabStack, LabStackConfig, LabState, SignalFault};
use otel_canary::poll::PollPolicy;
use otel_canary::poll::learned::{ScheduleUsed, target_error};
use otel_canary::roundtrip::outcome::{HopName, SignalOutcome};
use otel_canary::roundtrip::{NoProgress, RoundTrip};
use otel_canary::signal::Signal;
use std::time::Duration;

/// Probes of the one-shot and fixed schedules per delay (the schedules run side by side, each
/// schedule's probes one after another).
const REPEATS: usize = 3;
const WARM_UP: usize = 10;
const MEASURED: usize = 5;

/// What one schedule's probes at one delay showed, over every signal.
#[derive(Default)]
struct Tally {
    errors: Vec<f64>,
    widths: Vec<f64>,
    queries: Vec<u32>,
    exports: Vec<f64>,
    outside: usize,
    failed: usize,
    not_learned: usize,
}

impl Tally {
    fn add(&mut self, signals: &[SignalOutcome], d: f64, want_learned: bool) {
        for s in signals {
            let Some(h) = s.hop(HopName::Ingest) else {
                self.failed += 1;
                continue;
            };
            let (Some(est), Some(after), Some(by)) = (h.seconds, h.visible_after, h.visible_by)
            else {
                self.failed += 1;
                continue;
            };
            if std::env::var_os("SCHEDULES_DEBUG").is_some() {
                eprintln!(
                    "{} D {d}: est {est:.4} [{after:.4}, {by:.4}] q {:?} sent_at {:.4} export {:?} reads {:?} {:?}",
                    s.signal,
                    h.queries,
                    s.sent_at,
                    s.hop(HopName::Export).and_then(|e| e.seconds),
                    h.reads,
                    h.schedule
                );
            }
            self.errors.push(est - d);
            self.widths.push(by - after);
            self.queries.push(h.queries.unwrap_or(0));
            // The lab makes data visible D after it received it, a hair before the ack: the
            // truth from the ack lies in [D - export, D].
            let export = s
                .hop(HopName::Export)
                .and_then(|e| e.seconds)
                .unwrap_or(0.0);
            self.exports.push(export);
            if !(after <= d && d - export <= by) {
                self.outside += 1;
            }
            let learned = matches!(h.schedule, Some(ScheduleUsed::Learned { .. }));
            if want_learned && !learned {
                self.not_learned += 1;
            }
        }
    }

    fn max_abs_error(&self) -> f64 {
        self.errors.iter().fold(0.0, |m, e| m.max(e.abs()))
    }

    fn max_queries(&self) -> u32 {
        self.queries.iter().copied().max().unwrap_or(0)
    }

    fn mean_queries(&self) -> f64 {
        self.queries.iter().sum::<u32>() as f64 / self.queries.len().max(1) as f64
    }

    fn max_width(&self) -> f64 {
        self.widths.iter().fold(0.0, |m, w| m.max(*w))
    }
}

fn set_delay(lab: &LabStack, d: f64) {
    for s in Signal::ALL {
        lab.state.faults.set(
            s,
            SignalFault {
                ingest_delay: Duration::from_secs_f64(d),
                ..Default::default()
            },
        );
    }
}

/// One probe after another: concurrent probes would queue behind each other's exports and
/// move the ack away from the moment the lab received the data, which D is measured from.
async fn probes_in_turn(rt: &RoundTrip, n: usize, d: f64) -> Tally {
    let mut t = Tally::default();
    for _ in 0..n {
        let r = rt.run(&NoProgress).await;
        t.add(&r.signals, d, false);
    }
    t
}

/// Warm-up probes one after another, then the measured ones.
async fn learned_probes(rt: &RoundTrip, d: f64) -> Tally {
    for _ in 0..WARM_UP {
        rt.run(&NoProgress).await;
    }
    let mut t = Tally::default();
    for _ in 0..MEASURED {
        let r = rt.run(&NoProgress).await;
        t.add(&r.signals, d, true);
    }
    t
}

fn one_shot_bound(d: f64) -> f64 {
    (0.1 * d).clamp(0.025, 0.25)
}

fn row(d: f64, name: &str, t: &Tally, bound: f64, max_queries: Option<u32>) {
    let q_ok = max_queries.is_none_or(|m| t.max_queries() <= m);
    let ok =
        t.failed == 0 && t.outside == 0 && t.not_learned == 0 && t.max_abs_error() <= bound && q_ok;
    println!(
        "{:>5.1} {:<15} {:>9.1} {:>9.1} {:>9.1} {:>7.1} {:>7.1} {:>5} {:>7} {:>5} {}",
        d,
        name,
        t.max_abs_error() * 1e3,
        bound * 1e3,
        t.max_width() * 1e3,
        t.exports.iter().fold(0.0f64, |m, e| m.max(*e)) * 1e3,
        t.mean_queries(),
        t.max_queries(),
        max_queries.map_or("-".to_string(), |m| m.to_string()),
        t.outside + t.failed + t.not_learned,
        if bound.is_infinite() {
            "(reference)"
        } else if ok {
            "ok"
        } else {
            "MISSED"
        }
    );
}

/// The learned schedule's recovery when D jumps from 2 s to 10 s, probe by probe.
async fn jump(lab: &LabStack) {
    println!();
    println!(
        "learned schedule when D jumps from 2 s to 10 s ({WARM_UP} probes at 2 s first); \
             bound: goal 1 until the 3rd probe, then max(10 ms, 2.5 %)"
    );
    println!(
        "{:>5} {:>9} {:>9} {:>9} {:>5} verdict",
        "probe", "|err| ms", "bound ms", "width ms", "q max"
    );
    set_delay(lab, 2.0);
    let learned = round_trip(lab).overlapping(true).learning(true);
    for _ in 0..WARM_UP {
        learned.run(&NoProgress).await;
    }
    set_delay(lab, 10.0);
    for i in 1..=MEASURED {
        let r = learned.run(&NoProgress).await;
        let mut t = Tally::default();
        t.add(&r.signals, 10.0, false);
        let bound = if i >= 3 {
            target_error(10.0)
        } else {
            one_shot_bound(10.0)
        };
        let ok = t.failed == 0 && t.outside == 0 && t.max_abs_error() <= bound;
        println!(
            "{:>5} {:>9.1} {:>9.1} {:>9.1} {:>5} {}",
            i,
            t.max_abs_error() * 1e3,
            bound * 1e3,
            t.max_width() * 1e3,
            t.max_queries(),
            if ok { "ok" } else { "MISSED" }
        );
    }
}

fn main() {
    let quick = std::env::args().any(|a| a == "quick");
    let only: Option<f64> = std::env::args().find_map(|a| a.strip_prefix("d=")?.parse().ok());
    let delays: Vec<f64> = match only {
        Some(d) => vec![d],
        None if quick => vec![0.2, 2.0],
        None => vec![0.2, 2.0, 10.0, 30.0],
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let lab = LabStack::start(LabStackConfig::ephemeral(), LabState::new())
            .await
            .unwrap();
        let with = |policy: PollPolicy| {
            let mut r = round_trip(&lab).overlapping(true);
            r.policy = policy;
            r
        };
        let one_shot = with(PollPolicy::default());
        let fixed_500 = with(PollPolicy::fixed(Duration::from_millis(500)));
        let fixed_1s = with(PollPolicy::fixed(Duration::from_secs(1)));

        println!(
            "ingest error per schedule against the lab's ingest delay D (trace, log and metric; \
             {REPEATS} probes each, learned: {MEASURED} after {WARM_UP} warm-up)"
        );
        println!(
            "{:>5} {:<15} {:>9} {:>9} {:>9} {:>7} {:>7} {:>5} {:>7} {:>5} verdict",
            "D s",
            "schedule",
            "|err| ms",
            "bound ms",
            "width ms",
            "exp ms",
            "q mean",
            "q max",
            "q bound",
            "bad"
        );
        println!(
            "(|err|: the worst |estimate - D| over all signals and probes; width: the widest \
             interval holding the truth; exp: the slowest export, by which the ack trails the \
             lab's receipt; q: ingest queries per signal; bad: probes failed, not learned, or \
             with D outside the interval)"
        );
        for &d in &delays {
            set_delay(&lab, d);
            let learned = round_trip(&lab).overlapping(true).learning(true);
            let learn = async {
                if d <= 10.0 {
                    Some(learned_probes(&learned, d).await)
                } else {
                    None
                }
            };
            let (ours, f500, f1s, learned_tally) = tokio::join!(
                probes_in_turn(&one_shot, REPEATS, d),
                probes_in_turn(&fixed_500, REPEATS, d),
                probes_in_turn(&fixed_1s, REPEATS, d),
                learn
            );
            row(
                d,
                "one-shot (run)",
                &ours,
                one_shot_bound(d),
                Some(f500.max_queries() + 15),
            );
            if let Some(l) = &learned_tally {
                row(d, "learned (serve)", l, target_error(d), Some(8));
            }
            row(d, "fixed 500 ms", &f500, f64::INFINITY, None);
            row(d, "fixed 1 s", &f1s, f64::INFINITY, None);
        }

        if !quick && only.is_none() {
            jump(&lab).await;
        }
        lab.state.faults.clear();
    });
}
