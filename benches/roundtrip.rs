//! Wall time of `otel-canary run` (process start to exit) for all three signals against the
//! lab when the backends answer at once, and the child's peak RSS (not a criterion bench:
//! each figure is a single timed event). Polling accuracy is `cargo bench --bench schedules`.
//!
//! Run: `cargo bench --bench roundtrip`.

use otel_canary::lab::{LabStack, LabStackConfig, LabState};
use std::process::Command;
use std::time::Instant;

fn peak_rss_of_children_kib() -> i64 {
    // SAFETY: getrusage only writes into the zeroed struct we pass.
    unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage);
        usage.ru_maxrss
    }
}

fn main() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let lab = LabStack::start(LabStackConfig::ephemeral(), LabState::new())
            .await
            .unwrap();

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
