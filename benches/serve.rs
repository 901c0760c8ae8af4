//! `serve` throughput and memory against the lab (release build: `cargo bench --bench serve`).
//!
//! The lab runs in this process on free ports; `otel-canary serve` runs as a child with
//! `--interval 1ms` so the in-flight bound, not the schedule, sets the pace. Reported:
//! probes per second sustained over a window, the child's CPU use over the same window (from
//! /proc/<pid>/stat: user + system time / wall time, 1.0 = one core), and its RSS after 100 and
//! after 10,000 probes. Trace-only probes (the lab's Tempo answers in constant time) measure
//! serve rather than the lab; the all-signals rate, bounded by the lab's Loki and Prometheus
//! scanning their stores, is reported too.

use otel_canary::lab::{LabStack, LabStackConfig, LabState};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn page(url: &str) -> String {
    let out = Command::new("curl").args(["-s", url]).output();
    match out {
        Ok(o) => String::from_utf8_lossy(&o.stdout).into_owned(),
        Err(_) => String::new(),
    }
}

fn probes(addr: &str) -> f64 {
    page(&format!("http://{addr}/metrics"))
        .lines()
        .find_map(|l| l.strip_prefix("otel_canary_probes_total{scenario=\"default\"} "))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

fn failures(addr: &str) -> usize {
    page(&format!("http://{addr}/metrics"))
        .lines()
        .filter(|l| l.starts_with("otel_canary_probe_failures_total"))
        .count()
}

/// utime + stime of a process in seconds.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // Fields after the command: state is 0, utime 11, stime 12; 100 ticks a second on Linux.
    (ticks(11) + ticks(12)) / 100.0
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn wait_for(addr: &str, n: f64, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if probes(addr) >= n {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn start_serve(lab: &LabStack, signals: &str, in_flight: &str) -> (Child, String) {
    let addr = format!("127.0.0.1:{}", free_port());
    let child = Command::new(env!("CARGO_BIN_EXE_otel-canary"))
        .args([
            "serve",
            "--listen",
            &addr,
            "--interval",
            "1ms",
            "--no-search",
        ])
        .args(["--max-in-flight", in_flight, "--signals", signals])
        .args(["--log-level", "error"])
        .args(["--endpoint", &format!("http://{}", lab.receivers.http_addr)])
        .args(["--tempo", &lab.tempo_url(), "--loki", &lab.loki_url()])
        .args(["--mimir", &lab.mimir_url()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("otel-canary serve starts");
    (child, addr)
}

/// Probes/s and CPU over `window`, after `warm` probes.
fn rate(addr: &str, pid: u32, warm: f64, window: Duration) -> (f64, f64) {
    assert!(
        wait_for(addr, warm, Duration::from_secs(120)),
        "serve did not warm up"
    );
    let (p0, c0, t0) = (probes(addr), cpu_seconds(pid), Instant::now());
    std::thread::sleep(window);
    let (p1, c1, wall) = (probes(addr), cpu_seconds(pid), t0.elapsed().as_secs_f64());
    ((p1 - p0) / wall, (c1 - c0) / wall)
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let lab = rt
        .block_on(LabStack::start(
            LabStackConfig::ephemeral(),
            LabState::new(),
        ))
        .expect("lab starts");
    println!(
        "serve against the lab, --interval 1ms, release build, {} cores",
        num_cpus()
    );
    for in_flight in ["1", "4"] {
        let (mut child, addr) = start_serve(&lab, "trace", in_flight);
        let pid = child.id();
        assert!(
            wait_for(&addr, 100.0, Duration::from_secs(60)),
            "no 100 probes"
        );
        let rss_100 = rss_kib(pid);
        let (per_s, cpu) = rate(&addr, pid, 200.0, Duration::from_secs(10));
        println!(
            "trace only, max-in-flight {in_flight}: {per_s:.0} probes/s, serve CPU {:.0} % of a core",
            cpu * 100.0
        );
        if in_flight == "4" {
            assert!(
                wait_for(&addr, 10_000.0, Duration::from_secs(300)),
                "10,000 probes not reached"
            );
            let rss_10k = rss_kib(pid);
            println!(
                "RSS after 100 probes: {rss_100} KiB, after 10,000: {rss_10k} KiB ({:+} KiB); failed series: {}",
                rss_10k as i64 - rss_100 as i64,
                failures(&addr)
            );
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    let (mut child, addr) = start_serve(&lab, "trace,log,metric", "4");
    let (per_s, cpu) = rate(&addr, child.id(), 200.0, Duration::from_secs(10));
    println!(
        "trace+log+metric, max-in-flight 4: {per_s:.0} probes/s, serve CPU {:.0} % of a core (lab store filling)",
        cpu * 100.0
    );
    let _ = child.kill();
    let _ = child.wait();
}

fn num_cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
