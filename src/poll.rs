//! Polling a backend until a signal is visible or a deadline passes, shared by every reader.
//!
//! Why the schedule looks like this: the true moment a signal became visible lies between the
//! last read that did not see it and the first read that did. Reads are spaced so that gap
//! grows with the time already waited (a fixed fraction, [`PollPolicy::growth`]) but never
//! drops below a floor. The midpoint of that interval is then within half a gap of the truth:
//! `growth / 2` of the elapsed time, or half the floor, whichever is larger. With 20 % growth
//! and a 50 ms floor that is max(10 %, 25 ms), and a 10 s visibility costs about 26 queries.
//! (Timing only "first positive read" with a 10 % step would need ~45 queries for the same
//! 10 s, and would still be biased late by up to a whole step.)

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
    fn default() -> Self {
        PollPolicy {
            min_gap: Duration::from_millis(50),
            growth: 0.2,
            max_gap: Duration::from_secs(5),
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
    mut read: F,
) -> Polled<T, E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Read<T, E>>,
{
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
        let mut next = (start + policy.gap_after(start.saturating_duration_since(since))).max(end);
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
    fn schedule_meets_the_query_budget_for_ten_seconds() {
        let p = PollPolicy::default();
        let reads = p.schedule(Duration::from_secs(10)).len();
        assert!(reads <= 30, "{reads} reads to cover 10 s");
        // Every gap stays within max(20 % of elapsed, 50 ms): the midpoint error bound.
        let s = p.schedule(Duration::from_secs(10));
        for w in s.windows(2) {
            let gap = (w[1] - w[0]).as_secs_f64();
            let bound = (w[0].as_secs_f64() * 0.2).max(0.05);
            assert!(gap <= bound + 1e-9, "gap {gap} after {:?}", w[0]);
        }
    }

    #[test]
    fn gaps_are_capped() {
        let p = PollPolicy::default();
        assert_eq!(
            p.gap_after(Duration::from_secs(600)),
            Duration::from_secs(5)
        );
        assert_eq!(p.gap_after(Duration::ZERO), Duration::from_millis(50));
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
