//! Name lookups that hang: every command against host names whose lookups reach a nameserver
//! that never answers (`common::hostile::HungDns`, through a private mount of
//! `/etc/resolv.conf`), so glibc's resolver would wait 10 s. A lookup runs on a blocking
//! thread the canary cannot cancel; the run must still end within its deadline plus the
//! bounded post-mortem (docs/round-trip.md, "Hard deadlines"), with a verdict that blames no
//! hop that did nothing wrong, and exit 0/1/2.

mod common;

use common::hostile::{HungDns, Timed, timed_with_dns};
use serde_json::Value;
use std::time::Duration;

/// Each signal's deadline in these runs.
const DEADLINE: Duration = Duration::from_secs(3);
/// The export timeout for `emit`.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(2);
/// What a command may take past its deadline (docs/round-trip.md, "Hard deadlines").
const OVERRUN: Duration = Duration::from_millis(1500);
/// Names no `/etc/hosts` holds, so every lookup asks the hung nameserver.
const TEMPO: &str = "http://tempo.dns-hangs.test:3200";
const COLLECTOR: &str = "collector.dns-hangs.test";

fn args(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

fn sig<'a>(doc: &'a Value, name: &str) -> &'a Value {
    doc["signals"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["signal"] == name))
        .unwrap_or_else(|| panic!("no {name} signal in {doc:#}"))
}

/// Exit 0/1/2, within `bound`, a JSON document; the document.
fn finished(what: &str, t: &Timed, bound: Duration) -> Value {
    assert!(
        t.signal.is_none() && matches!(t.code, Some(0..=2)),
        "{what}: exit {:?} signal {:?}\n{}",
        t.code,
        t.signal,
        t.stderr
    );
    assert!(
        t.wall <= bound,
        "{what} took {:.2} s against a hung name lookup, bound {:.2} s\n{}",
        t.wall.as_secs_f64(),
        bound.as_secs_f64(),
        t.stdout
    );
    eprintln!("{what}: exit {:?} in {:.2} s", t.code, t.wall.as_secs_f64());
    t.json()
        .unwrap_or_else(|| panic!("{what}: not JSON: {}\n{}", t.stdout, t.stderr))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_with_a_reader_whose_name_never_resolves() {
    let dns = HungDns::start();
    let lab = common::lab_stack().await;
    let secs = format!("{}s", DEADLINE.as_secs());
    let mut a = common::lab_stack_args(&lab, &["--timeout", &secs, "--search-timeout", &secs]);
    let tempo = a.iter().position(|x| x == "--tempo").unwrap() + 1;
    a[tempo] = TEMPO.into();
    let mut all = args(&["run", "--output", "json"]);
    all.extend(a);
    let t = timed_with_dns(&dns, all).await;
    let doc = finished("run", &t, DEADLINE + OVERRUN);
    assert!(
        dns.queries() > 0,
        "the lookup never reached the hung nameserver"
    );
    let trace = sig(&doc, "trace");
    let reason = trace["reason"].as_str().unwrap_or_default();
    assert!(
        ["timeout", "dns"].contains(&reason),
        "trace: {reason}\n{trace:#}"
    );
    let hint = trace["hint"].as_str().unwrap_or_default().to_lowercase();
    for blame in ["never reached", "lost before", "collector acknowledged"] {
        assert!(
            !hint.contains(blame),
            "the hint blames the export side: {hint}"
        );
    }
    // Loki and Mimir are the lab's, resolved by address: their verdicts stand.
    for s in ["log", "metric"] {
        assert_eq!(sig(&doc, s)["status"], "ok", "{s}: {:#}", sig(&doc, s));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emit_to_an_endpoint_whose_name_never_resolves() {
    let dns = HungDns::start();
    let timeout = format!("{}s", EXPORT_TIMEOUT.as_secs());
    for (protocol, port) in [("http/protobuf", 4318), ("http/json", 4318), ("grpc", 4317)] {
        let endpoint = format!("http://{COLLECTOR}:{port}");
        let a = args(&[
            "emit",
            "--output",
            "json",
            "--endpoint",
            &endpoint,
            "--protocol",
            protocol,
            "--export-timeout",
            &timeout,
        ]);
        let t = timed_with_dns(&dns, a).await;
        let doc = finished(&format!("emit {protocol}"), &t, EXPORT_TIMEOUT + OVERRUN);
        assert_eq!(t.code, Some(1), "{protocol}: {}", t.stdout);
        for s in ["trace", "log", "metric"] {
            let signal = sig(&doc, s);
            let reason = signal["reason"].as_str().unwrap_or_default();
            assert!(
                ["connect_timeout", "timeout", "dns"].contains(&reason),
                "{protocol} {s}: {reason}\n{signal:#}"
            );
            // The lookup is inside the connect timeout: the hint may not claim it was TCP.
            let hint = signal["hint"].as_str().unwrap_or_default();
            if reason == "connect_timeout" {
                assert!(hint.contains("name lookup"), "{protocol} {s}: {hint}");
            }
        }
    }
    assert!(dns.queries() > 0, "no lookup reached the hung nameserver");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_on_targets_whose_names_never_resolve() {
    let dns = HungDns::start();
    let endpoint = format!("http://{COLLECTOR}:4318");
    // The targets alone: doctor scans their hosts and checks each.
    let a = args(&[
        "doctor",
        "--output",
        "json",
        "--endpoint",
        &endpoint,
        "--tempo",
        TEMPO,
    ]);
    let t = timed_with_dns(&dns, a).await;
    let deadline = t
        .json()
        .and_then(|d| d["deadline_seconds"].as_f64())
        .unwrap_or(2.5);
    let doc = finished("doctor", &t, Duration::from_secs_f64(deadline) + OVERRUN);
    assert!(dns.queries() > 0, "no lookup reached the hung nameserver");
    assert_ne!(
        t.code,
        Some(0),
        "doctor passed targets it never reached: {doc:#}"
    );

    // A HOST to scan that does not resolve is refused, bounded, naming it.
    let a = args(&["doctor", "--ports", "4317,4318", COLLECTOR]);
    let t = timed_with_dns(&dns, a).await;
    assert_eq!(t.code, Some(2), "{}{}", t.stdout, t.stderr);
    assert!(
        t.wall <= Duration::from_secs(2) + OVERRUN,
        "doctor took {:.2} s to give up on the host",
        t.wall.as_secs_f64()
    );
    assert!(
        t.stderr.contains(COLLECTOR) && t.stderr.contains("does not resolve"),
        "{}",
        t.stderr
    );
}
