//! `otel-canary doctor` wall time (process start to exit, release binary), against the
//! promise of under 3 s even when every port is filtered. Not a criterion bench: each figure
//! is one timed process. Each case runs `RUNS` times; the table gives the median and the
//! maximum, and what the scan reported per port (so a case that did not simulate what it
//! claims shows up).
//!
//! 1. 127.0.0.1 with the usual ports (closed on a machine without a stack).
//! 2. An unroutable address (10.255.255.1), where connects normally hang: a real filtered
//!    host. Sandboxes with an egress proxy accept every connect instead (the state column
//!    shows it).
//! 3. Filtered, simulated: 12 loopback listeners whose accept backlog is full (`listen(0)`
//!    plus one queued connection), so the kernel drops every further SYN and connects hang.
//! 4. Silent: 12 loopback listeners that accept and never send a byte.
//!
//! Cases 3 and 4 run twice: with the configured endpoint on one of those ports (its exact
//! check, capped at twice the request budget, then sets the time) and on a closed port (the
//! scan's own steps set it).
//!
//! Run: `cargo bench --bench doctor` (add `-- quick` for 3 runs per case).

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::process::Command;
use std::time::{Duration, Instant};

/// One run: wall seconds, the reported seconds, and how many ports ended in each state.
fn run(args: &[String]) -> (f64, f64, BTreeMap<String, usize>) {
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_otel-canary"))
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .output()
        .expect("the binary runs");
    let wall = started.elapsed().as_secs_f64();
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let mut states = BTreeMap::new();
    for p in doc["ports"].as_array().into_iter().flatten() {
        let s = p["state"].as_str().unwrap_or("?");
        let s = if s == "open" && p["speaks"].as_array().is_some_and(|a| a.is_empty()) {
            "open-unknown"
        } else {
            s
        };
        *states.entry(s.to_string()).or_insert(0) += 1;
    }
    (wall, doc["seconds"].as_f64().unwrap_or(f64::NAN), states)
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn case(name: &str, args: Vec<String>, runs: usize) {
    let mut walls = Vec::new();
    let mut reported = Vec::new();
    let mut states = BTreeMap::new();
    for _ in 0..runs {
        let (w, r, s) = run(&args);
        walls.push(w);
        reported.push(r);
        states = s;
    }
    let max = walls.iter().copied().fold(0.0, f64::max);
    let max_reported = reported.iter().copied().fold(0.0, f64::max);
    let states: Vec<String> = states.iter().map(|(k, v)| format!("{v} {k}")).collect();
    println!(
        "{name:<34} {:>8.3} {:>8.3} {:>10.3} {:>10.3}  {}",
        median(&mut walls),
        max,
        median(&mut reported),
        max_reported,
        states.join(", ")
    );
}

fn doctor_args(host: &str, ports: &[u16], endpoint: &str) -> Vec<String> {
    let mut a: Vec<String> = vec![
        "doctor".into(),
        host.into(),
        "--endpoint".into(),
        endpoint.into(),
        "--output".into(),
        "json".into(),
    ];
    if !ports.is_empty() {
        let list: Vec<String> = ports.iter().map(u16::to_string).collect();
        a.extend(["--ports".into(), list.join(",")]);
    }
    a
}

/// A loopback listener whose accept queue is full: further connects hang. Returns it, the
/// connection that fills the queue, and its port; `None` if this kernel still accepts.
fn full_backlog() -> Option<(TcpListener, TcpStream, u16)> {
    let l = TcpListener::bind("127.0.0.1:0").ok()?;
    // SAFETY: listen() on a socket we own, only changing its backlog.
    if unsafe { libc::listen(l.as_raw_fd(), 0) } != 0 {
        return None;
    }
    let addr: SocketAddr = l.local_addr().ok()?;
    let filler = TcpStream::connect(addr).ok()?;
    let hangs = TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err();
    hangs.then_some((l, filler, addr.port()))
}

/// Listeners that accept and never answer (a thread holds the connections).
fn silent_listeners(n: usize) -> Vec<u16> {
    (0..n)
        .map(|_| {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            let p = l.local_addr().unwrap().port();
            std::thread::spawn(move || {
                let mut held = Vec::new();
                for c in l.incoming().flatten() {
                    held.push(c);
                }
            });
            p
        })
        .collect()
}

/// What a connect to the unroutable address does here, for the note under the table.
fn probe_unroutable(addr: &str) -> String {
    let started = Instant::now();
    let sa: SocketAddr = addr.parse().unwrap();
    match TcpStream::connect_timeout(&sa, Duration::from_millis(800)) {
        Err(e) => format!("{e} after {:.0} ms", started.elapsed().as_secs_f64() * 1e3),
        Ok(mut s) => {
            let _ = s.set_read_timeout(Some(Duration::from_millis(800)));
            let _ = s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
            let mut buf = [0u8; 64];
            let n = s.read(&mut buf).unwrap_or(0);
            format!(
                "connected in {:.1} ms; answered {:?}",
                started.elapsed().as_secs_f64() * 1e3,
                String::from_utf8_lossy(&buf[..n])
                    .lines()
                    .next()
                    .unwrap_or("")
            )
        }
    }
}

fn main() {
    let quick = std::env::args().any(|a| a == "quick");
    let runs = if quick { 3 } else { 9 };
    println!("otel-canary doctor, {runs} runs per case, seconds (wall = process start to exit)");
    println!(
        "{:<34} {:>8} {:>8} {:>10} {:>10}  port states (last run)",
        "case", "wall med", "wall max", "report med", "report max"
    );

    case(
        "127.0.0.1, usual ports",
        doctor_args("127.0.0.1", &[], "http://127.0.0.1:4318"),
        runs,
    );
    case(
        "10.255.255.1, usual ports",
        doctor_args("10.255.255.1", &[], "http://10.255.255.1:4318"),
        runs,
    );

    // The endpoint on one of the scanned ports (its own check waits too), or on a closed
    // port (the scan alone sets the time).
    let closed = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let closed_endpoint = format!("http://127.0.0.1:{closed}");
    let filtered: Vec<_> = (0..12).filter_map(|_| full_backlog()).collect();
    if filtered.len() == 12 {
        let ports: Vec<u16> = filtered.iter().map(|(_, _, p)| *p).collect();
        let endpoint = format!("http://127.0.0.1:{}", ports[0]);
        case(
            "12 filtered, endpoint on one",
            doctor_args("127.0.0.1", &ports, &endpoint),
            runs,
        );
        case(
            "12 filtered, endpoint closed",
            doctor_args("127.0.0.1", &ports, &closed_endpoint),
            runs,
        );
    } else {
        println!("12 filtered                        not simulated: this kernel still accepts");
    }
    let silent = silent_listeners(12);
    let endpoint = format!("http://127.0.0.1:{}", silent[0]);
    case(
        "12 silent, endpoint on one",
        doctor_args("127.0.0.1", &silent, &endpoint),
        runs,
    );
    case(
        "12 silent, endpoint closed",
        doctor_args("127.0.0.1", &silent, &closed_endpoint),
        runs,
    );
    println!(
        "\nconnect to 10.255.255.1:4317 here: {}",
        probe_unroutable("10.255.255.1:4317")
    );
    drop(filtered);
}
