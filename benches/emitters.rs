//! The wire emitter against the SDK emitter, per protocol, against the built-in stack: the
//! export hop of each signal (send -> ack for the wire emitter, the `force_flush` for the
//! SDK), the wall time of a whole `otel-canary run` process, and its peak RSS.
//!
//! `cargo bench --bench emitters` (or `-- quick` for 3 runs per row).

use otel_canary::lab::{LabStack, LabStackConfig, LabState};
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Runs the binary, returning its stdout, wall time and peak RSS (KiB) from wait4(2).
fn run(bin: &str, args: &[String]) -> (Vec<u8>, Duration, i64) {
    let started = Instant::now();
    let mut child = Command::new(bin)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the binary starts");
    let mut out = Vec::new();
    child.stdout.take().unwrap().read_to_end(&mut out).unwrap();
    let mut status = 0;
    // SAFETY: wait4 on our own child's pid, writing into zeroed out-parameters we own. It
    // reaps the child (std's `wait` would have nothing left to wait for), and its rusage is
    // this one process's, unlike getrusage(RUSAGE_CHILDREN).
    let rss = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::wait4(child.id() as i32, &mut status, 0, &mut usage);
        usage.ru_maxrss
    };
    assert_eq!(
        status,
        0,
        "otel-canary run failed: {}",
        String::from_utf8_lossy(&out)
    );
    // Already reaped: this returns at once (an error, which says nothing new).
    let _ = child.try_wait();
    (out, started.elapsed(), rss)
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn main() {
    let quick = std::env::args().any(|a| a == "quick");
    let runs = if quick { 3 } else { 10 };
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let lab = LabStack::start(LabStackConfig::ephemeral(), LabState::new())
            .await
            .unwrap();
        let bin = env!("CARGO_BIN_EXE_otel-canary");
        println!(
            "`otel-canary run --no-search` against the lab, {runs} runs per row (medians; RSS max)"
        );
        println!(
            "{:<6} {:<14} {:>10} {:>10} {:>10} {:>10} {:>10}",
            "EMIT", "PROTOCOL", "trace ms", "log ms", "metric ms", "wall ms", "RSS KiB"
        );
        for emitter in ["wire", "sdk"] {
            for protocol in ["http/protobuf", "http/json", "grpc"] {
                let endpoint = match protocol {
                    "grpc" => lab.receivers.grpc_base(false),
                    _ => lab.receivers.http_base(false),
                };
                let args: Vec<String> = [
                    "run",
                    "--emitter",
                    emitter,
                    "--endpoint",
                    &endpoint,
                    "--protocol",
                    protocol,
                    "--tempo",
                    &lab.tempo_url(),
                    "--loki",
                    &lab.loki_url(),
                    "--mimir",
                    &lab.mimir_url(),
                    "--no-search",
                    "--output",
                    "json",
                ]
                .iter()
                .map(|s| s.to_string())
                .collect();
                let (mut exports, mut walls, mut rss) =
                    ([Vec::new(), Vec::new(), Vec::new()], Vec::new(), 0);
                for _ in 0..runs {
                    let a = args.clone();
                    let (out, wall, peak) = tokio::task::spawn_blocking(move || run(bin, &a))
                        .await
                        .unwrap();
                    let doc: serde_json::Value = serde_json::from_slice(&out).expect("JSON");
                    assert_eq!(doc["ok"], true, "{doc:#}");
                    for (i, name) in ["trace", "log", "metric"].iter().enumerate() {
                        let s = doc["signals"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .find(|s| s["signal"] == *name)
                            .unwrap();
                        exports[i].push(s["hops"][0]["seconds"].as_f64().unwrap() * 1e3);
                    }
                    walls.push(wall.as_secs_f64() * 1e3);
                    rss = rss.max(peak);
                }
                println!(
                    "{:<6} {:<14} {:>10.1} {:>10.1} {:>10.1} {:>10.1} {:>10}",
                    emitter,
                    protocol,
                    median(&mut exports[0]),
                    median(&mut exports[1]),
                    median(&mut exports[2]),
                    median(&mut walls),
                    rss
                );
            }
        }
    });
}
