//! One scenario's schedule: a probe every interval (each wait varied by up to 10 %, the first
//! one staggered), at most `max_in_flight` running at once, the ticks that find them all busy
//! counted as skipped. On stop, running probes get the grace period, then are dropped.

use super::ScenarioProbe;
use super::state::ServeState;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tokio::time::{Instant, sleep_until};

/// How a scenario is scheduled.
#[derive(Clone, Copy, Debug)]
pub struct Schedule {
    pub interval: Duration,
    pub max_in_flight: usize,
    pub grace: Duration,
}

/// Varies a wait by up to ±10 %, so replicas and scenarios drift apart instead of probing
/// the same backend in step.
pub fn jittered(interval: Duration) -> Duration {
    interval.mul_f64(0.9 + fastrand::f64() * 0.2)
}

/// The first probe's delay: up to a tenth of the interval, so scenarios started together do
/// not all probe at once (and the first result comes soon).
fn first_delay(interval: Duration) -> Duration {
    interval.mul_f64(fastrand::f64() * 0.1)
}

/// Runs the schedule until `stop` turns true.
pub async fn run(
    state: Arc<ServeState>,
    scenario: Arc<ScenarioProbe>,
    schedule: Schedule,
    mut stop: watch::Receiver<bool>,
) {
    let permits = Arc::new(Semaphore::new(schedule.max_in_flight));
    let mut running: JoinSet<()> = JoinSet::new();
    let mut next = Instant::now() + first_delay(schedule.interval);
    // Ticks skipped in a row: the first is logged, the rest summed up when a slot frees, so
    // a slow backend does not flood the log at short intervals.
    let mut skipped_in_a_row = 0u64;
    loop {
        tokio::select! {
            _ = sleep_until(next) => {}
            changed = stop.changed() => {
                if changed.is_err() || *stop.borrow() {
                    break;
                }
                continue;
            }
            // Reap finished probes as they end, so the set holds only running ones.
            Some(_) = running.join_next(), if !running.is_empty() => continue,
        }
        // The next tick is planned from this one, not from when the probe ends; after a
        // stall (a suspended machine) it restarts from now rather than firing a burst.
        next = (next + jittered(schedule.interval)).max(Instant::now());
        match permits.clone().try_acquire_owned() {
            Ok(permit) => {
                if skipped_in_a_row > 1 {
                    tracing::warn!(
                        scenario = %scenario.name,
                        skipped = skipped_in_a_row,
                        "{skipped_in_a_row} probes skipped in a row before a slot freed"
                    );
                }
                skipped_in_a_row = 0;
                let (state, scenario) = (state.clone(), scenario.clone());
                running.spawn(async move {
                    state.probe_and_record(&scenario).await;
                    drop(permit);
                });
            }
            Err(_) => {
                state.metrics.skipped(&scenario.name);
                skipped_in_a_row += 1;
                if skipped_in_a_row > 1 {
                    continue;
                }
                tracing::warn!(
                    scenario = %scenario.name,
                    in_flight = schedule.max_in_flight,
                    "probe skipped: {} probes still running (raise --max-in-flight or \
                     --interval, or shorten the deadlines)",
                    schedule.max_in_flight
                );
            }
        }
    }
    if running.is_empty() {
        return;
    }
    let n = running.len();
    tracing::info!(scenario = %scenario.name, running = n, "waiting for running probes");
    let drained = tokio::time::timeout(schedule.grace, async {
        while running.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            scenario = %scenario.name,
            dropped = running.len(),
            "probes still running after the shutdown grace ({}) were dropped",
            humantime::format_duration(schedule.grace)
        );
        running.abort_all();
    }
}
