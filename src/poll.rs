//! Polling a backend until a signal is visible or a deadline passes, shared by every reader.
//!
//! Why the schedule looks like this: the true moment a signal became visible lies between the
//! last read that did not see it and the first read that did, and the midpoint of that
//! interval is then within half a gap of the truth. The one-shot rule ([`PollPolicy`]) spaces
//! reads by 20 % of the time already waited, never less than 40 ms and never more than 490 ms:
//! the error stays within max(20 ms, min(10 %, 245 ms)), never worse than a fixed 500 ms
//! poller's +-250 ms, and a backend that answers in 10 s costs 34 queries (a fixed 500 ms
//! poller: 21), in 30 s 75 (61). A cap of 5 s, as before, cost a 10 s wait a whole second of
//! error and a post-deploy job two seconds of waiting.
//!
//! `serve` knows more: [`learned`] plans reads around where the last probes became visible,
//! and falls back to the one-shot rule when the data is later than that.

pub mod learned;

use std::future::Future;
use std::time::Duration;
use tokio::time::Instant;

/// A read the deadline abandons after running less than this, just after the backend
/// answered "not there", does not turn the verdict into "no answer": the last look before the
/// deadline is scheduled a gap before it, and a busy machine can make it late.
pub const ABANDONED_GRACE: Duration = Duration::from_secs(1);

/// How reads are spaced.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PollPolicy {
    /// Smallest gap between the starts of two reads.
    pub min_gap: Duration,
    /// Each gap is at least this fraction of the time waited so far.
    pub growth: f64,
    /// Largest gap: bounds how stale a long wait's estimate can be.
    pub max_gap: Duration,
}

impl Default for PollPolicy {
    /// The one-shot rule (see the module docs for why these numbers).
    fn default() -> Self {
        PollPolicy {
            min_gap: Duration::from_millis(40),
            growth: 0.2,
            max_gap: Duration::from_millis(490),
        }
    }
}

impl PollPolicy {
    /// For derived series (span metrics, service graph, TraceQL metrics): Tempo's generator
    /// collects every 15 s, so reads every 490 ms for 90 s would be 180 queries to learn the
    /// time to within half a second of a 15 s cadence. A 5 s cap keeps it near 35.
    pub const DERIVED: PollPolicy = PollPolicy {
        min_gap: Duration::from_millis(50),
        growth: 0.2,
        max_gap: Duration::from_secs(5),
    };

    /// A poller that reads every `every`, as oats and Tracetest do (for comparison in
    /// benchmarks and tests).
    pub fn fixed(every: Duration) -> PollPolicy {
        PollPolicy {
            min_gap: every,
            growth: 0.0,
            max_gap: every,
        }
    }
}

impl PollPolicy {
    /// The gap after a read that started `elapsed` after the reference instant.
    pub fn gap_after(&self, elapsed: Duration) -> Duration {
        elapsed
            .mul_f64(self.growth)
            .clamp(self.min_gap, self.max_gap.max(self.min_gap))
    }

    /// The read start offsets this policy produces until `horizon` (for docs and benches).
    pub fn schedule(&self, horizon: Duration) -> Vec<Duration> {
        let mut at = Duration::ZERO;
        let mut out = vec![at];
        while at < horizon {
            at += self.gap_after(at);
            out.push(at);
        }
        out
    }
}

/// What one read found.
#[derive(Debug)]
pub enum Read<T, E> {
    /// The signal is there; `T` says what was seen.
    Visible(T),
    /// Not there yet: keep polling. The text says what was seen.
    NotYet(String),
    /// Part of it is there (one span of two): keep polling; at the deadline this is an
    /// incomplete arrival, not a missing one.
    Partial(String),
    /// The backend answered with a failure worth retrying until the deadline (5xx, 429).
    Retry(E),
    /// No answer came (a timeout, a connection reset or cut off mid-answer): worth retrying,
    /// but it says nothing about whether the signal is there.
    Unanswered(E),
    /// The backend refused the query (4xx, an unparsable body, auth): stop at once.
    Refused(E),
}

/// When the signal became visible, relative to the reference instant (the export ack).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Visibility {
    /// Start of the last read that did not see it (0 when the first read saw it).
    pub after: f64,
    /// End of the first read that saw it.
    pub by: f64,
    /// Duration of the read that saw it.
    pub query_seconds: f64,
}

impl Visibility {
    /// The point estimate: the middle of the interval.
    pub fn estimate(&self) -> f64 {
        (self.after + self.by) / 2.0
    }

    /// How wide the interval is: the estimate is within half of this.
    pub fn resolution(&self) -> f64 {
        self.by - self.after
    }
}

/// How a poll ended.
#[derive(Debug)]
pub enum PollEnd<T, E> {
    Found(T, Visibility),
    /// The backend refused a query; `after` is the offset it happened at.
    Refused {
        error: E,
        after: f64,
    },
    /// The deadline passed. `last_seen` is what the last successful read said (`partial`
    /// when it saw part of the signal), `last_error` the last retryable failure, if any,
    /// `unanswered` how many reads got no answer at all (the one abandoned at the deadline
    /// included), and `last` how the final read ended: only a backend that itself answered
    /// "not there" last may be said not to hold the signal.
    Deadline {
        last_seen: Option<String>,
        partial: bool,
        last_error: Option<E>,
        unanswered: u32,
        last: LastRead,
    },
}

/// How the final read of a poll that hit its deadline ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LastRead {
    /// No read ever started.
    None,
    /// The backend answered: not (all) there.
    NotThere,
    /// The backend answered with a failure (5xx, 429).
    Failed,
    /// No answer came: a timeout, a reset, or the read the deadline cut off.
    Unanswered,
}

/// A poll's result with the number of reads it took.
#[derive(Debug)]
pub struct Polled<T, E> {
    pub end: PollEnd<T, E>,
    pub queries: u32,
    /// When each read started, seconds after the reference instant: how the poll found it
    /// (the HTML report draws them as ticks).
    pub reads: Vec<f64>,
}

/// Reads until visible, refused, or `deadline`. The first read starts at once; `since` is the
/// reference instant the offsets are measured from (the export ack). A read still running at
/// the deadline is abandoned, so a hung backend cannot hold the run past it.
pub async fn poll<T, E, F, Fut>(
    since: Instant,
    deadline: Instant,
    policy: PollPolicy,
    read: F,
) -> Polled<T, E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Read<T, E>>,
{
    poll_planned(since, deadline, policy, &[], read).await
}

/// As [`poll`], but the reads after the first go at the `planned` offsets (ascending, after
/// `since`) while any is left, and by the policy's rule after that: a learned schedule.
pub async fn poll_planned<T, E, F, Fut>(
    since: Instant,
    deadline: Instant,
    policy: PollPolicy,
    planned: &[Duration],
    mut read: F,
) -> Polled<T, E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Read<T, E>>,
{
    let planned: Vec<Instant> = planned.iter().map(|p| since + *p).collect();
    let mut planned = planned.into_iter().peekable();
    let secs = |t: Instant| t.saturating_duration_since(since).as_secs_f64();
    let mut queries = 0;
    let mut last_negative_start: f64 = 0.0;
    let mut last_seen = None;
    let mut partial = false;
    let mut last_error = None;
    let mut unanswered = 0;
    let mut last = LastRead::None;
    let mut reads = Vec::new();
    loop {
        let start = Instant::now();
        if start >= deadline {
            break;
        }
        queries += 1;
        reads.push(secs(start));
        let outcome = match tokio::time::timeout_at(deadline, read()).await {
            Ok(o) => o,
            Err(_) => {
                // Still running at the deadline: abandoned. A read the deadline cut short right
                // after the backend answered "not there" says nothing new; one that ran long
                // is a backend that stopped answering.
                let ran = deadline.saturating_duration_since(start);
                if !(last == LastRead::NotThere && ran < ABANDONED_GRACE) {
                    unanswered += 1;
                    last = LastRead::Unanswered;
                }
                break;
            }
        };
        let end = Instant::now();
        match outcome {
            Read::Visible(v) => {
                let vis = Visibility {
                    after: last_negative_start,
                    by: secs(end),
                    query_seconds: end.duration_since(start).as_secs_f64(),
                };
                return Polled {
                    end: PollEnd::Found(v, vis),
                    queries,
                    reads,
                };
            }
            Read::Refused(error) => {
                return Polled {
                    end: PollEnd::Refused {
                        error,
                        after: secs(end),
                    },
                    queries,
                    reads,
                };
            }
            Read::NotYet(what) => {
                last_negative_start = secs(start);
                last_seen = Some(what);
                partial = false;
                last = LastRead::NotThere;
            }
            Read::Partial(what) => {
                last_negative_start = secs(start);
                last_seen = Some(what);
                partial = true;
                last = LastRead::NotThere;
            }
            Read::Retry(e) => {
                last_negative_start = secs(start);
                last_error = Some(e);
                last = LastRead::Failed;
            }
            Read::Unanswered(e) => {
                last_negative_start = secs(start);
                last_error = Some(e);
                unanswered += 1;
                last = LastRead::Unanswered;
            }
        }
        while planned.next_if(|p| *p <= end).is_some() {}
        let mut next = match planned.next() {
            Some(p) => p,
            None => start + policy.gap_after(start.saturating_duration_since(since)),
        }
        .max(end);
        if next >= deadline {
            // One last look just before the deadline beats giving up a whole gap early.
            let last_chance = deadline.checked_sub(policy.min_gap).unwrap_or(deadline);
            if last_chance <= end {
                break;
            }
            next = last_chance;
        }
        tokio::time::sleep_until(next).await;
    }
    Polled {
        end: PollEnd::Deadline {
            last_seen,
            partial,
            last_error,
            unanswered,
            last,
        },
        queries,
        reads,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[test]
    fn gaps_are_capped() {
        let p = PollPolicy::default();
        assert_eq!(
            p.gap_after(Duration::from_secs(600)),
            Duration::from_millis(490)
        );
        assert_eq!(p.gap_after(Duration::ZERO), Duration::from_millis(40));
        assert_eq!(
            PollPolicy::fixed(Duration::from_secs(1)).gap_after(Duration::from_secs(7)),
            Duration::from_secs(1)
        );
    }

    /// A backend where the signal becomes visible `d` after `since`, each read taking `q`.
    async fn poll_backend(
        since: Instant,
        d: Duration,
        q: Duration,
        policy: PollPolicy,
        planned: &[Duration],
    ) -> Polled<(), ()> {
        let visible_at = since + d;
        poll_planned(
            since,
            since + Duration::from_secs(60),
            policy,
            planned,
            || async move {
                // The backend looks at its data halfway through the read.
                tokio::time::sleep(q / 2).await;
                let seen = Instant::now() >= visible_at;
                tokio::time::sleep(q / 2).await;
                if seen {
                    Read::Visible(())
                } else {
                    Read::NotYet("empty".into())
                }
            },
        )
        .await
    }

    fn found(p: &Polled<(), ()>) -> Visibility {
        match p.end {
            PollEnd::Found((), v) => v,
            _ => panic!("not found: {p:?}"),
        }
    }

    /// Goal 1 of the schedule: at D in {0.2, 2, 10, 30} s, whatever the phase of D against the
    /// reads, the estimate is within max(25 ms, min(10 % of D, 250 ms)), the interval holds D,
    /// and the reads are at most 15 more than a fixed 500 ms poller's.
    #[tokio::test(start_paused = true)]
    async fn one_shot_is_never_worse_than_a_fixed_500ms_poller() {
        let q = Duration::from_millis(2);
        for d in [0.2, 2.0, 10.0, 30.0] {
            // Shift D across a whole gap to hit every phase.
            for k in 0..25 {
                let d = d + k as f64 * 0.02 - 0.25;
                let d = Duration::from_secs_f64(d.max(0.001));
                let since = Instant::now();
                let ours = poll_backend(since, d, q, PollPolicy::default(), &[]).await;
                let v = found(&ours);
                let ds = d.as_secs_f64();
                let bound = (0.1 * ds).clamp(0.025, 0.25);
                assert!(
                    (v.estimate() - ds).abs() <= bound,
                    "D {ds}: estimate {} (bound {bound})",
                    v.estimate()
                );
                assert!(v.after <= ds && ds <= v.by, "D {ds}: {v:?}");
                let since = Instant::now();
                let fixed = poll_backend(
                    since,
                    d,
                    q,
                    PollPolicy::fixed(Duration::from_millis(500)),
                    &[],
                )
                .await;
                assert!(
                    ours.queries <= fixed.queries + 15,
                    "D {ds}: {} queries, a fixed 500 ms poller {}",
                    ours.queries,
                    fixed.queries
                );
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn planned_reads_go_first_then_the_rule() {
        let since = Instant::now();
        let plan = [Duration::from_millis(1000), Duration::from_millis(1100)];
        let p = poll_backend(
            since,
            Duration::from_millis(1500),
            Duration::ZERO,
            PollPolicy::default(),
            &plan,
        )
        .await;
        assert_eq!(&p.reads[..3], &[0.0, 1.0, 1.1]);
        // Then the rule from 1.1 s: 220 ms gaps.
        assert!((p.reads[3] - 1.32).abs() < 1e-6, "{:?}", p.reads);
        assert!(found(&p).by >= 1.5);
    }

    /// Goal 2: a learned schedule at a steady D in {0.2, 2, 10} s, after 10 warm-up probes,
    /// is within max(10 ms, 2.5 % of D) with at most 8 reads; when D jumps from 2 s to 10 s it
    /// is back within that bound by the third probe and within goal 1's meanwhile.
    #[tokio::test(start_paused = true)]
    async fn a_learned_schedule_is_tight_cheap_and_recovers_from_a_jump() {
        let q = Duration::from_millis(2);
        let probe = |h: &learned::History, d: f64| {
            let plan = h.plan();
            async move {
                let since = Instant::now();
                let p = poll_backend(
                    since,
                    Duration::from_secs_f64(d),
                    q,
                    PollPolicy::default(),
                    &plan.offsets,
                )
                .await;
                (found(&p), p.queries)
            }
        };
        for d in [0.2, 2.0, 10.0] {
            let mut h = learned::History::default();
            for i in 0..15 {
                // A few ms of jitter, as a real pipeline has.
                let d = d + [0.0, 0.003, -0.002][i % 3];
                let (v, queries) = probe(&h, d).await;
                if i >= 10 {
                    let bound = learned::target_error(d);
                    assert!(
                        (v.estimate() - d).abs() <= bound,
                        "D {d} probe {i}: {v:?} bound {bound}"
                    );
                    assert!(queries <= 8, "D {d} probe {i}: {queries} reads");
                }
                h.record(&v);
            }
        }
        let mut h = learned::History::default();
        for _ in 0..10 {
            let (v, _) = probe(&h, 2.0).await;
            h.record(&v);
        }
        for i in 0..5 {
            let (v, _) = probe(&h, 10.0).await;
            let err = (v.estimate() - 10.0).abs();
            assert!(err <= 0.25, "probe {i} after the jump: {v:?}");
            if i >= 2 {
                assert!(err <= learned::target_error(10.0), "probe {i}: {v:?}");
            }
            h.record(&v);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn visibility_interval_brackets_the_truth() {
        let since = Instant::now();
        let visible_at = since + Duration::from_millis(2000);
        let polled: Polled<(), ()> = poll(
            since,
            since + Duration::from_secs(30),
            PollPolicy::default(),
            || async move {
                if Instant::now() >= visible_at {
                    Read::Visible(())
                } else {
                    Read::NotYet("empty".into())
                }
            },
        )
        .await;
        let PollEnd::Found((), v) = polled.end else {
            panic!("not found")
        };
        assert!(v.after <= 2.0 && 2.0 <= v.by, "{v:?}");
        assert!((v.estimate() - 2.0).abs() <= 0.2, "{v:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn refused_stops_at_once_and_deadline_is_kept() {
        let since = Instant::now();
        let polled: Polled<(), &str> = poll(
            since,
            since + Duration::from_secs(5),
            PollPolicy::default(),
            || async { Read::Refused("400 bad query") },
        )
        .await;
        assert_eq!(polled.queries, 1);
        assert!(matches!(polled.end, PollEnd::Refused { .. }));

        let count = Arc::new(AtomicU32::new(0));
        let c = count.clone();
        let polled: Polled<(), &str> = poll(
            since,
            since + Duration::from_secs(5),
            PollPolicy::default(),
            move || {
                c.fetch_add(1, Ordering::SeqCst);
                async { Read::Retry("503") }
            },
        )
        .await;
        assert!(matches!(
            polled.end,
            PollEnd::Deadline {
                last_error: Some("503"),
                ..
            }
        ));
        assert!(Instant::now() <= since + Duration::from_millis(5001));
        assert_eq!(polled.queries, count.load(Ordering::SeqCst));
    }

    #[tokio::test(start_paused = true)]
    async fn a_hung_read_is_abandoned_at_the_deadline() {
        let since = Instant::now();
        let polled: Polled<(), ()> = poll(
            since,
            since + Duration::from_secs(2),
            PollPolicy::default(),
            || async {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                Read::Visible(())
            },
        )
        .await;
        assert!(matches!(
            polled.end,
            PollEnd::Deadline {
                unanswered: 1,
                last: LastRead::Unanswered,
                ..
            }
        ));
        assert!(Instant::now() <= since + Duration::from_millis(2001));
    }

    #[tokio::test(start_paused = true)]
    async fn only_a_final_not_there_counts_as_an_answer() {
        let since = Instant::now();
        let n = Arc::new(AtomicU32::new(0));
        // Not there twice, then no answer until the deadline.
        let c = n.clone();
        let polled: Polled<(), &str> = poll(
            since,
            since + Duration::from_secs(3),
            PollPolicy::default(),
            move || {
                let i = c.fetch_add(1, Ordering::SeqCst);
                async move {
                    if i < 2 {
                        Read::NotYet("empty".into())
                    } else {
                        Read::Unanswered("timed out")
                    }
                }
            },
        )
        .await;
        let PollEnd::Deadline {
            last_seen,
            unanswered,
            last,
            ..
        } = polled.end
        else {
            panic!("deadline")
        };
        assert_eq!(last_seen.as_deref(), Some("empty"));
        assert_eq!(last, LastRead::Unanswered);
        assert_eq!(unanswered, polled.queries - 2);
        // Timed out at first, then answered "not there": the backend did answer last.
        let c = n.clone();
        c.store(0, Ordering::SeqCst);
        let polled: Polled<(), &str> = poll(
            since,
            Instant::now() + Duration::from_secs(3),
            PollPolicy::default(),
            move || {
                let i = c.fetch_add(1, Ordering::SeqCst);
                async move {
                    if i == 0 {
                        Read::Unanswered("timed out")
                    } else {
                        Read::NotYet("empty".into())
                    }
                }
            },
        )
        .await;
        assert!(matches!(
            polled.end,
            PollEnd::Deadline {
                unanswered: 1,
                last: LastRead::NotThere,
                ..
            }
        ));
    }
}
