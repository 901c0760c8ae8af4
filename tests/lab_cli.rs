//! `otel-canary lab` as a user runs it: bad `--fault` values are configuration errors (exit
//! 2, naming the flag), `--help` shows examples and the fault kinds, and a started lab prints
//! every endpoint's URL and serves on them.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn bin() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_otel-canary"));
    cmd.env("NO_COLOR", "1");
    cmd
}

#[test]
fn bad_fault_values_are_configuration_errors() {
    for bad in [
        "trace:bogus",
        "log:ingest-delay=soon",
        "metric:query-error=700",
        "nonsense",
    ] {
        let out = bin().args(["lab", "--fault", bad]).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{bad}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("--fault"), "{bad}: {err}");
    }
}

#[test]
fn help_shows_examples_and_fault_kinds() {
    let out = bin().args(["lab", "--help"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let help = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "--tempo-port",
        "--loki-port",
        "--mimir-port",
        "--require-tenant",
        "--fault trace:drop",
        "ingest-delay=DURATION",
        "query-error=STATUS",
    ] {
        assert!(help.contains(needle), "{needle} missing from:\n{help}");
    }
}

#[test]
fn a_started_lab_prints_its_urls_and_serves() {
    let mut child = bin()
        .args([
            "lab",
            "--http-port",
            "0",
            "--grpc-port",
            "0",
            "--tempo-port",
            "0",
            "--loki-port",
            "0",
            "--mimir-port",
            "0",
            "--grafana-port",
            "0",
            "--fault",
            "trace:search-delay=8s",
        ])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let mut banner = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        let Some(Ok(line)) = lines.next() else { break };
        let done = line.contains("fault trace");
        banner.push(line);
        if done {
            break;
        }
    }
    let url_of = |name: &str| {
        banner
            .iter()
            .find(|l| l.trim_start().starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .map(str::to_string)
    };
    let tempo = url_of("Tempo");
    let loki = url_of("Loki");
    let mimir = url_of("Mimir");
    let ready = |base: &str| {
        let addr = base
            .trim_start_matches("http://")
            .split('/')
            .next()
            .unwrap()
            .to_string();
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        use std::io::{Read, Write};
        s.write_all(b"GET /ready HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    };
    let result = std::panic::catch_unwind(|| {
        for (name, url) in [("Tempo", &tempo), ("Loki", &loki), ("Mimir", &mimir)] {
            let url = url
                .as_ref()
                .unwrap_or_else(|| panic!("no {name} URL in {banner:?}"));
            let answer = ready(url);
            assert!(answer.starts_with("HTTP/1.1 200"), "{name}: {answer}");
        }
        assert!(banner.iter().any(|l| l.contains("OTLP/HTTP")), "{banner:?}");
        assert!(
            banner.iter().any(|l| l.contains("search-delay 8s")),
            "{banner:?}"
        );
    });
    let _ = child.kill();
    let _ = child.wait();
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}
