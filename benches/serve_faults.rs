//! `serve`'s memory over 10,000 probes with a backend failing half of them (release build:
//! `cargo bench --bench serve_faults`).
//!
//! Two labs run in this process on free ports: one healthy, one whose collector drops every
//! signal after acknowledging it (`drop`: each probe ends `not_found` after its deadline, with
//! the identity look and the post-mortem, the richest failure path). `otel-canary serve` runs
//! as a child with two scenarios, `healthy` and `failing`, one per lab, on the same interval,
//! so about half of all probes fail. Its VmRSS (/proc/<pid>/status) is sampled every 50
//! probes; reported: the mean over the first 1,000 probes against the mean over the last
//! 1,000, which the issue wants within 5 %.

use otel_canary::lab::{LabStack, LabStackConfig, LabState, SignalFault};
use otel_canary::signal::Signal;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const TOTAL: f64 = 10_000.0;

fn page(addr: &str) -> String {
    let Ok(mut s) = std::net::TcpStream::connect(addr) else {
        return String::new();
    };
    use std::io::{Read, Write};
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let _ = s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

fn probes(page: &str, scenario: &str) -> f64 {
    let series = format!("otel_canary_probes_total{{scenario=\"{scenario}\"}} ");
    page.lines()
        .find_map(|l| l.strip_prefix(series.as_str()))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0)
}

/// Failed probes of a scenario, summed over signals and reasons (a probe counts once per
/// failed signal).
fn failed_signals(page: &str, scenario: &str) -> f64 {
    let prefix = format!("otel_canary_probe_failures_total{{scenario=\"{scenario}\"");
    page.lines()
        .filter(|l| l.starts_with(prefix.as_str()))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .fold(0.0, |a, b| a + b)
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn scenario(lab: &LabStack) -> String {
    format!(
        "[export]\nendpoint = \"http://{}\"\nprotocol = \"http/protobuf\"\n\n[read]\ntempo = \
         \"{}\"\nloki = \"{}\"\nmimir = \"{}\"\n",
        lab.receivers.http_addr,
        lab.tempo_url(),
        lab.loki_url(),
        lab.mimir_url()
    )
}

fn mean(v: &[u64]) -> f64 {
    v.iter().sum::<u64>() as f64 / v.len().max(1) as f64
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let start = || {
        rt.block_on(LabStack::start(
            LabStackConfig::ephemeral(),
            LabState::new(),
        ))
        .expect("lab starts")
    };
    let (healthy, failing) = (start(), start());
    for s in [Signal::Trace, Signal::Log, Signal::Metric] {
        failing.state.faults.set(
            s,
            SignalFault {
                drop: true,
                ..Default::default()
            },
        );
    }
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("healthy.toml"), scenario(&healthy)).unwrap();
    std::fs::write(dir.path().join("failing.toml"), scenario(&failing)).unwrap();
    let addr = format!("127.0.0.1:{}", free_port());
    let interval = std::env::var("SERVE_FAULTS_INTERVAL").unwrap_or_else(|_| "100ms".into());
    let args = [
        "serve",
        "--listen",
        &addr,
        "--scenario",
        &dir.path().to_string_lossy(),
        "--interval",
        &interval,
        "--max-in-flight",
        "4",
        "--timeout",
        "100ms",
        "--no-search",
        "--log-level",
        "error",
    ];
    println!("otel-canary {}", args.join(" "));
    let mut child: Child = Command::new(env!("CARGO_BIN_EXE_otel-canary"))
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("otel-canary serve starts");
    let pid = child.id();
    let started = Instant::now();
    // (total probes, RSS KiB) every 50 probes.
    let mut samples: Vec<(f64, u64)> = Vec::new();
    let mut next = 50.0;
    let mut last = (0.0, 0.0);
    loop {
        let p = page(&addr);
        let (h, f) = (probes(&p, "healthy"), probes(&p, "failing"));
        let total = h + f;
        if total >= next {
            samples.push((total, rss_kib(pid)));
            next = (total / 50.0).floor() * 50.0 + 50.0;
        }
        if total >= TOTAL {
            last = (h, f);
            let (fh, ff) = (failed_signals(&p, "healthy"), failed_signals(&p, "failing"));
            println!(
                "{total} probes in {:.0} s: healthy {h} (failed signals {fh}), failing {f} \
                 (failed signals {ff})",
                started.elapsed().as_secs_f64()
            );
            break;
        }
        if started.elapsed() > Duration::from_secs(3600) {
            println!("gave up after an hour at {total} probes");
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    let first: Vec<u64> = samples
        .iter()
        .filter(|(n, _)| *n <= 1000.0)
        .map(|s| s.1)
        .collect();
    let last_k: Vec<u64> = samples
        .iter()
        .filter(|(n, _)| *n > TOTAL - 1000.0)
        .map(|s| s.1)
        .collect();
    let (a, b) = (mean(&first), mean(&last_k));
    let max = samples.iter().map(|s| s.1).max().unwrap_or(0);
    let at = |n: f64| {
        samples
            .iter()
            .find(|(t, _)| *t >= n)
            .map(|s| s.1)
            .unwrap_or(0)
    };
    println!(
        "VmRSS: mean over the first 1,000 probes {a:.0} KiB ({} samples), over the last 1,000 \
         {b:.0} KiB ({} samples): {:+.1} %; at 1,000 {} KiB, at 5,000 {} KiB, at 10,000 {} KiB, \
         max {max} KiB",
        first.len(),
        last_k.len(),
        (b - a) / a * 100.0,
        at(1000.0),
        at(5000.0),
        at(10_000.0)
    );
    println!(
        "flat within 5 %: {}; failing share of probes {:.0} %",
        if (b - a).abs() / a <= 0.05 {
            "yes"
        } else {
            "NO"
        },
        last.1 / (last.0 + last.1).max(1.0) * 100.0
    );
}
