//! Round-trip measurements (not a criterion bench: each figure is a single timed event).
//!
//! 1. Polling accuracy: with the lab's ingest delay D in {0.2, 2, 10} s on every signal, how
//!    far the reported ingest estimate and the first positive read ("overshoot") land from
//!    D, and how many queries each signal issued.
//! 2. Wall time of `otel-canary run` (process start to exit) for all three signals against
//!    the lab, and the child's peak RSS.
//!
//! Run: `cargo bench --bench roundtrip` (add `-- quick` to skip D = 10 s).

use otel_canary::config::env::EnvSnapshot;
use otel_canary::config::otlp::{ExportFlags, resolve_export_target};
use otel_canary::config::read::{ReadFlags, resolve_read_target};
use otel_canary::config::resource::{ResourceFlags, ResourceSpec};
use otel_canary::emit::payload::MetricTag;
use otel_canary::lab::{LabStack, LabStackConfig, LabState, SignalFault};
use otel_canary::roundtrip::outcome::HopName;
use otel_canary::roundtrip::{NoProgress, RoundTrip};
use otel_canary::signal::Signal;
use std::process::Command;
use std::time::{Duration, Instant};

fn round_trip(lab: &LabStack) -> RoundTrip {
    let env = EnvSnapshot::default();
    let export = resolve_export_target(
        &ExportFlags {
            endpoint: Some(lab.receivers.http_base(false)),
            ..Default::default()
        },
        &env,
    )
    .unwrap();
    let read = resolve_read_target(
        &ReadFlags {
            tempo: Some(lab.tempo_url()),
            loki: Some(lab.loki_url()),
            mimir: Some(lab.mimir_url()),
            no_search: true,
            ..Default::default()
        },
        None,
        None,
        &env,
    )
    .unwrap();
    let resource = ResourceSpec::resolve(&ResourceFlags::default(), &env).unwrap();
    RoundTrip::new(&export, read, resource, MetricTag::Value).unwrap()
}

fn peak_rss_of_children_kib() -> i64 {
    // SAFETY: getrusage only writes into the zeroed struct we pass.
    unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage);
        usage.ru_maxrss
    }
}

fn main() {
    let quick = std::env::args().any(|a| a == "quick");
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let lab = LabStack::start(LabStackConfig::ephemeral(), LabState::new())
            .await
            .unwrap();
        let rtrip = round_trip(&lab);

        println!(
            "polling accuracy (lab ingest delay D on every signal; estimate = interval midpoint)"
        );
        println!(
            "{:>6} {:>7} {:>10} {:>10} {:>12} {:>10} {:>8}",
            "D s", "signal", "estimate", "error", "budget", "overshoot", "queries"
        );
        let delays: &[f64] = if quick {
            &[0.2, 2.0]
        } else {
            &[0.2, 2.0, 10.0]
        };
        for &d in delays {
            for s in Signal::ALL {
                lab.state.faults.set(
                    s,
                    SignalFault {
                        ingest_delay: Duration::from_secs_f64(d),
                        ..Default::default()
                    },
                );
            }
            let outcome = rtrip.run(&NoProgress).await;
            for sig in &outcome.signals {
                let ingest = sig.hop(HopName::Ingest).expect("ingest hop");
                let est = ingest.seconds.unwrap_or(f64::NAN);
                let by = ingest.visible_by.unwrap_or(f64::NAN);
                let budget = (0.1 * d).max(0.025);
                println!(
                    "{:>6.1} {:>7} {:>9.3}s {:>+9.3}s {:>11.3}s {:>+9.3}s {:>8}",
                    d,
                    sig.signal.to_string(),
                    est,
                    est - d,
                    budget,
                    by - d,
                    ingest.queries.unwrap_or(0)
                );
            }
        }
        lab.state.faults.clear();

        println!();
        println!(
            "wall time of `otel-canary run` (process start to exit), 3 signals against the lab:"
        );
        let bin = env!("CARGO_BIN_EXE_otel-canary");
        let mut walls = Vec::new();
        for _ in 0..10 {
            let started = Instant::now();
            let lab_args = [
                "run".to_string(),
                "--endpoint".into(),
                lab.receivers.http_base(false),
                "--tempo".into(),
                lab.tempo_url(),
                "--loki".into(),
                lab.loki_url(),
                "--mimir".into(),
                lab.mimir_url(),
                "--output".into(),
                "json".into(),
            ];
            let out =
                tokio::task::spawn_blocking(move || Command::new(bin).args(&lab_args).output())
                    .await
                    .unwrap()
                    .unwrap();
            walls.push(started.elapsed());
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stdout)
            );
        }
        walls.sort();
        println!(
            "  min {:.1} ms, median {:.1} ms, max {:.1} ms over {} runs (with search)",
            walls[0].as_secs_f64() * 1e3,
            walls[walls.len() / 2].as_secs_f64() * 1e3,
            walls[walls.len() - 1].as_secs_f64() * 1e3,
            walls.len()
        );
        println!(
            "  peak RSS of the run process: {} KiB",
            peak_rss_of_children_kib()
        );
    });
}
