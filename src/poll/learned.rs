//! A read schedule learned from earlier probes, for `serve`.
//!
//! Why: a canary that probes every 30 s sees the same pipeline over and over, and its data
//! becomes visible at about the same moment each time. Reading densely only around that
//! moment gives a far finer estimate than the one-shot rule for a fraction of its queries.
//! The plan is: one read right after the ack (the fast case), a sparse read or two on the way,
//! dense reads across each window where recent probes became visible, and the one-shot rule
//! after the last planned read, so late data is found as `run` would find it.
//!
//! Data that arrives *earlier* than the learned window is seen by a sparse read: its interval
//! is then wide, honestly reported as such, and the next probe learns the new window.

use super::{PollEnd, Visibility};
use serde::Serialize;
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

/// How many recent visibility times a history keeps (bounded memory per scenario and hop).
pub const HISTORY: usize = 10;
/// Fewer observations than this and the one-shot rule is used.
pub const MIN_HISTORY: usize = 3;
/// At most this many reads are planned: data inside the learned windows costs no more.
pub const MAX_PLANNED: usize = 8;
/// Dense reads per window: the window the newest probe fell in, then an older one.
const PRIMARY_READS: usize = 4;
const SECONDARY_READS: usize = 3;
/// Planned reads closer together than this are one read.
const MERGE: f64 = 0.005;

/// Which schedule a poll followed, for the report.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ScheduleUsed {
    /// The one-shot rule: no prior knowledge.
    OneShot,
    /// Planned from the last `probes` probes: reads at `planned` (seconds after the ack), the
    /// one-shot rule after them; `windows` are where those probes became visible.
    Learned {
        probes: usize,
        planned: Vec<f64>,
        windows: Vec<[f64; 2]>,
    },
}

impl ScheduleUsed {
    /// In words, for logs and the human report.
    pub fn describe(&self) -> String {
        match self {
            ScheduleUsed::OneShot => "one-shot schedule".into(),
            ScheduleUsed::Learned {
                probes, planned, ..
            } => {
                let at: Vec<String> = planned.iter().map(|p| format!("{p:.3}")).collect();
                format!(
                    "learned schedule from the last {probes} probes: reads at {} s, then one-shot",
                    at.join(", ")
                )
            }
        }
    }
}

/// A plan for one poll: the offsets to read at, after the first read at once.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    pub offsets: Vec<Duration>,
    pub used: ScheduleUsed,
}

impl Plan {
    /// No plan: the one-shot rule from the first read on.
    pub fn one_shot() -> Plan {
        Plan {
            offsets: Vec::new(),
            used: ScheduleUsed::OneShot,
        }
    }
}

/// The recent visibility intervals of one signal's hop (seconds after the ack), newest last.
#[derive(Clone, Debug, Default)]
pub struct History {
    seen: VecDeque<Seen>,
}

/// Where one probe became visible: the truth lay in [after, by].
#[derive(Clone, Copy, Debug, PartialEq)]
struct Seen {
    after: f64,
    by: f64,
}

impl Seen {
    fn estimate(&self) -> f64 {
        (self.after + self.by) / 2.0
    }
}

impl History {
    /// Remembers where a probe became visible; the oldest is forgotten beyond [`HISTORY`].
    pub fn record(&mut self, v: &Visibility) {
        if self.seen.len() == HISTORY {
            self.seen.pop_front();
        }
        self.seen.push_back(Seen {
            after: v.after.max(0.0),
            by: v.by.max(v.after).max(0.0),
        });
    }

    pub fn len(&self) -> usize {
        self.seen.len()
    }

    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }

    /// The reads to plan for the next probe, or the one-shot rule while too little is known.
    pub fn plan(&self) -> Plan {
        if self.seen.len() < MIN_HISTORY {
            return Plan::one_shot();
        }
        let clusters = clusters(&self.seen);
        let newest = self.seen.back().expect("not empty").estimate();
        let primary = clusters
            .iter()
            .position(|c| c.contains(newest))
            .expect("every value is in a cluster");
        // The older window: the cluster holding the most recent value outside the primary.
        let secondary = self
            .seen
            .iter()
            .rev()
            .map(Seen::estimate)
            .find(|v| !clusters[primary].contains(*v))
            .and_then(|v| clusters.iter().position(|c| c.contains(v)));

        let mut at = vec![0.0];
        let mut windows = Vec::new();
        for (i, reads) in [(Some(primary), PRIMARY_READS), (secondary, SECONDARY_READS)] {
            let Some(i) = i else { continue };
            let w = clusters[i].window(&self.seen);
            windows.push([w.0, w.1]);
            at.extend(dense(w, reads));
        }
        at.sort_by(f64::total_cmp);
        at.dedup_by(|b, a| *b - *a < MERGE);
        // Sparse reads before the earliest window, while the budget allows: earlier data is
        // caught, coarsely.
        let first = at.get(1).copied().unwrap_or(0.0);
        for f in [0.5, 0.25] {
            let t = first * f;
            if t >= 0.05 && at.len() < MAX_PLANNED {
                at.push(t);
            }
        }
        at.sort_by(f64::total_cmp);
        debug_assert!(at.len() <= MAX_PLANNED);
        windows.sort_by(|a, b| a[0].total_cmp(&b[0]));
        Plan {
            offsets: at.iter().map(|s| Duration::from_secs_f64(*s)).collect(),
            used: ScheduleUsed::Learned {
                probes: self.seen.len(),
                planned: at,
                windows,
            },
        }
    }
}

/// The histories of one round trip's polls, keyed by whatever names a poll (signal and hop),
/// or nothing at all when learning is off.
#[derive(Debug)]
pub struct Learned<K> {
    histories: Option<Mutex<HashMap<K, History>>>,
}

impl<K: std::hash::Hash + Eq> Learned<K> {
    /// Learns nothing: every poll uses the one-shot rule.
    pub fn off() -> Self {
        Learned { histories: None }
    }

    pub fn on() -> Self {
        Learned {
            histories: Some(Mutex::new(HashMap::new())),
        }
    }

    /// The plan for `key`'s next poll.
    pub fn plan(&self, key: K) -> Plan {
        match &self.histories {
            None => Plan::one_shot(),
            Some(m) => lock(m).get(&key).map_or_else(Plan::one_shot, History::plan),
        }
    }

    /// Remembers where `key`'s poll saw the signal; a poll that never saw it teaches nothing.
    pub fn record<T, E>(&self, key: K, end: &PollEnd<T, E>) {
        if let (Some(m), PollEnd::Found(_, v)) = (&self.histories, end) {
            lock(m).entry(key).or_default().record(v);
        }
    }
}

/// A poisoned lock only means another probe panicked mid-update of a plain history.
fn lock<K>(m: &Mutex<HashMap<K, History>>) -> std::sync::MutexGuard<'_, HashMap<K, History>> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A run of recent visibility times close enough to be one window.
#[derive(Clone, Debug, PartialEq)]
struct Cluster {
    lo: f64,
    hi: f64,
}

impl Cluster {
    fn contains(&self, v: f64) -> bool {
        self.lo <= v && v <= self.hi
    }

    /// Where the next probe's truth is expected, from the intervals of this cluster's probes
    /// (not their estimates, which carry each probe's error): the narrowest range that meets
    /// every interval. Wide early intervals then do not widen it; narrow ones that disagree
    /// (jitter) span their disagreement.
    fn window(&self, seen: &VecDeque<Seen>) -> (f64, f64) {
        let members = seen.iter().filter(|s| self.contains(s.estimate()));
        let (latest_after, earliest_by) = members.fold((0.0f64, f64::INFINITY), |(a, b), s| {
            (a.max(s.after), b.min(s.by))
        });
        (latest_after.min(earliest_by), latest_after.max(earliest_by))
    }
}

/// Groups sorted estimates where neighbours are within max(50 ms, 25 %) of each other: a 2 s
/// and a 10 s backend are two windows, a backend that flushes anywhere in 9-12 s is one.
fn clusters(seen: &VecDeque<Seen>) -> Vec<Cluster> {
    let mut v: Vec<f64> = seen.iter().map(Seen::estimate).collect();
    v.sort_by(f64::total_cmp);
    let mut out: Vec<Cluster> = Vec::new();
    for x in v {
        match out.last_mut() {
            Some(c) if x - c.hi <= (0.25 * c.hi).max(0.05) => c.hi = x,
            _ => out.push(Cluster { lo: x, hi: x }),
        }
    }
    out
}

/// The error a learned schedule aims for at visibility time `t`: max(10 ms, 2.5 %).
pub fn target_error(t: f64) -> f64 {
    (0.025 * t).max(0.010)
}

/// Reads across a window: a gap of 1.5x the target error (the midpoint is then within 0.75x
/// of it, leaving room for the read's own time), from a gap and a half before it (a guard:
/// data a little earlier than last time still gets a tight interval) to half a gap after,
/// spread wider when the window needs more than `reads`.
fn dense((lo, hi): (f64, f64), reads: usize) -> Vec<f64> {
    let gap = 1.5 * target_error(lo);
    let start = (lo - 1.5 * gap).max(0.0);
    let end = hi + gap / 2.0;
    let needed = ((end - start) / gap - 1e-9).ceil() as usize + 1;
    let n = needed.clamp(2, reads);
    let step = (end - start) / (n - 1) as f64;
    (0..n).map(|i| start + step * i as f64).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn history(values: &[f64]) -> History {
        let mut h = History::default();
        for v in values {
            h.record(&Visibility {
                after: *v,
                by: *v,
                query_seconds: 0.0,
            });
        }
        h
    }

    #[test]
    fn too_little_history_is_one_shot() {
        assert_eq!(history(&[2.0, 2.0]).plan(), Plan::one_shot());
    }

    #[test]
    fn a_steady_backend_gets_a_read_at_the_ack_and_a_tight_pair_around_its_time() {
        let plan = history(&[2.0; 10]).plan();
        let ScheduleUsed::Learned {
            planned, windows, ..
        } = &plan.used
        else {
            panic!("{plan:?}")
        };
        assert_eq!(planned[0], 0.0);
        assert_eq!(windows, &vec![[2.0, 2.0]]);
        assert!(planned.len() <= 6, "{planned:?}");
        // The pair straddles 2 s within the target error's 1.5x.
        let before = planned.iter().rev().find(|p| **p < 2.0).unwrap();
        let after = planned.iter().find(|p| **p > 2.0).unwrap();
        assert!(
            after - before <= 1.5 * target_error(2.0) + 1e-9,
            "{planned:?}"
        );
    }

    #[test]
    fn wide_early_intervals_do_not_widen_the_window() {
        let mut h = History::default();
        for (after, by) in [(1.8, 2.2), (1.6, 2.05), (1.99, 2.01), (1.95, 2.3)] {
            h.record(&Visibility {
                after,
                by,
                query_seconds: 0.0,
            });
        }
        let ScheduleUsed::Learned { windows, .. } = h.plan().used else {
            panic!()
        };
        assert_eq!(windows, vec![[1.99, 2.01]]);
    }

    #[test]
    fn history_is_bounded() {
        let h = history(&[1.0; 25]);
        assert_eq!(h.len(), HISTORY);
    }

    #[test]
    fn a_jump_plans_both_windows_within_the_budget() {
        let mut values = vec![2.0; 9];
        values.push(10.0);
        let plan = history(&values).plan();
        let ScheduleUsed::Learned {
            planned, windows, ..
        } = &plan.used
        else {
            panic!()
        };
        assert_eq!(windows, &vec![[2.0, 2.0], [10.0, 10.0]]);
        assert!(planned.len() <= MAX_PLANNED);
        assert!(planned.iter().any(|p| (*p - 10.0).abs() < 0.2));
        assert!(planned.iter().any(|p| (*p - 2.0).abs() < 0.05));
    }

    #[test]
    fn a_wide_window_is_covered_within_the_budget() {
        let plan = history(&[9.0, 12.0, 10.5, 11.0, 9.5]).plan();
        let ScheduleUsed::Learned {
            planned, windows, ..
        } = &plan.used
        else {
            panic!()
        };
        assert_eq!(windows, &vec![[9.0, 12.0]]);
        assert!(planned.len() <= MAX_PLANNED);
        assert!(planned.iter().any(|p| *p < 9.0) && planned.iter().any(|p| *p > 12.0));
    }
}
