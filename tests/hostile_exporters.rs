//! The exporters, `emit` and `doctor` against receivers that misbehave on purpose, on real
//! sockets: `run` sends every signal to a hostile OTLP endpoint (http/protobuf, http/json,
//! gRPC) and reads back from the lab; each (mode × protocol) must end with the export error
//! class the table names, a hint about the endpoint alone (never a backend), within its
//! export timeout. `emit` and `doctor` end in bounded time with exit codes 0/1/2 only.

mod common;

use common::hostile::{Hostile, Mode, Timed, timed};
use otel_canary::lab::{LabStack, LabStackConfig, LabState};
use serde_json::Value;
use std::time::Duration;

/// Every export attempt's timeout in these runs (`--export-timeout`).
const EXPORT_TIMEOUT: Duration = Duration::from_secs(2);
/// What a run may take past it: process start and exit, the reads before the probe.
const SLACK: Duration = Duration::from_millis(1500);
const SECRET: &str = "Bearer hostile-export-secret-91c2";
const TENANT: &str = "hostile-tenant";

fn modes(other_host: std::net::SocketAddr) -> Vec<Mode> {
    vec![
        Mode::Garbage,
        Mode::Html,
        Mode::WrongShape,
        Mode::InvalidUtf8,
        Mode::Huge,
        Mode::Drip,
        Mode::ResetMidBody,
        Mode::Silent,
        Mode::RedirectLoop,
        Mode::RedirectTo(other_host),
        Mode::WrongContentType,
        Mode::GoAway,
        Mode::TlsExpired,
        Mode::TlsWrongHost,
        Mode::TlsStall,
    ]
}

/// The export error classes a (mode, protocol) may end in, and words its hint must say.
fn expect(mode: &Mode, protocol: &str) -> (&'static [&'static str], &'static [&'static str]) {
    let grpc = protocol == "grpc";
    match mode {
        Mode::TlsExpired => (&["tls_handshake"], &["expired"]),
        Mode::TlsWrongHost => (&["tls_handshake"], &["not issued for this host name"]),
        Mode::Silent => (&["timeout"], &["never acknowledged the export"]),
        // TCP connects; the client's connect timeout fires inside the handshake.
        Mode::TlsStall => (&["tls_handshake"], &["never finished the tls handshake"]),
        // The HTTP/2 server itself refused the work: not another protocol.
        Mode::GoAway if grpc => (&["unavailable"], &["goaway"]),
        // An HTTP/1.1 server (or noise) where gRPC was expected; the drip's headers are
        // HTTP/1.1 too.
        // The server closing at once may reach the client first: the connection broke.
        _ if grpc => (
            &["protocol_mismatch", "transport"],
            &["not grpc", "not in grpc", "broke without an answer"],
        ),
        Mode::Drip => (&["timeout"], &["never acknowledged the export"]),
        // HTTP/2 frames to an HTTP/1.1 client: the port speaks gRPC.
        Mode::GoAway => (&["protocol_mismatch"], &["speaks grpc"]),
        Mode::Garbage => (&["protocol_mismatch"], &["does not answer as"]),
        Mode::Html | Mode::WrongShape | Mode::InvalidUtf8 | Mode::WrongContentType => {
            (&["body"], &["not with an otlp export response"])
        }
        Mode::Huge => (&["body"], &["larger than 4 mib"]),
        Mode::ResetMidBody => (&["transport"], &["broke without an answer"]),
        Mode::RedirectLoop | Mode::RedirectTo(_) => {
            (&["http_status"], &["redirect", "does not follow it"])
        }
        Mode::Recorder => unreachable!(),
    }
}

/// A hostile receiver is the broken hop: no hint may send the reader to a backend.
const BLAME_BACKENDS: &[&str] = &["never reached", "tempo", "loki", "mimir", "prometheus"];

fn sig<'a>(doc: &'a Value, name: &str) -> Option<&'a Value> {
    doc["signals"]
        .as_array()?
        .iter()
        .find(|s| s["signal"] == name)
}

fn keep(what: &str, t: &Timed) {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("hostile");
    let _ = std::fs::create_dir_all(&dir);
    let _ = std::fs::write(dir.join(format!("{what}.json")), &t.stdout);
    let _ = std::fs::write(dir.join(format!("{what}.stderr")), &t.stderr);
}

fn exit_ok(t: &Timed) -> Option<String> {
    (t.signal.is_some() || !matches!(t.code, Some(0..=2)))
        .then(|| format!("exit {:?} signal {:?}", t.code, t.signal))
}

/// Checks a `run` or `emit` document: every signal failed at export with an expected class.
fn check_export(mode: &Mode, protocol: &str, t: &Timed, bound: Duration) -> Result<String, String> {
    let mut problems: Vec<String> = exit_ok(t).into_iter().collect();
    if t.code != Some(1) {
        problems.push(format!("exit {:?}, want 1", t.code));
    }
    if t.wall > bound {
        problems.push(format!(
            "took {:.2} s, bound {:.2} s",
            t.wall.as_secs_f64(),
            bound.as_secs_f64()
        ));
    }
    let Some(doc) = t.json() else {
        return Err(format!("stdout is not JSON: {}\n{}", t.stdout, t.stderr));
    };
    let (classes, words) = expect(mode, protocol);
    let mut got = Vec::new();
    for name in ["trace", "log", "metric"] {
        let Some(s) = sig(&doc, name) else {
            problems.push(format!("no {name}"));
            continue;
        };
        let reason = s["reason"].as_str().unwrap_or("ok");
        got.push(format!("{name}={reason}"));
        if !classes.contains(&reason) {
            problems.push(format!("{name}: {reason}, want one of {classes:?}"));
        }
        let hint = s["hint"].as_str().unwrap_or_default().to_lowercase();
        if hint.is_empty() {
            problems.push(format!("{name}: no hint"));
        }
        // `run` nests the export (emit/v1's signal) under `export`.
        let export = if s["export"].is_object() {
            &s["export"]
        } else {
            s
        };
        let message = export["attempts"]
            .as_array()
            .and_then(|a| a.last())
            .and_then(|a| a["error"]["message"].as_str())
            .unwrap_or_default()
            .to_lowercase();
        let said = format!("{hint} | {message}");
        if !words.iter().any(|w| said.contains(w)) {
            problems.push(format!(
                "{name}: neither hint nor error says any of {words:?}: {said}"
            ));
        }
        for w in BLAME_BACKENDS {
            if hint.contains(w) {
                problems.push(format!("{name}: hint blames a backend ({w:?}): {hint}"));
            }
        }
    }
    if t.stdout.contains(SECRET) || t.stderr.contains(SECRET) {
        problems.push("the Authorization header was printed".into());
    }
    let short: Vec<String> = problems
        .iter()
        .map(|p| p.chars().take(400).collect())
        .collect();
    if short.is_empty() {
        Ok(got.join(" "))
    } else {
        Err(format!("{} | {}", got.join(" "), short.join("; ")))
    }
}

fn endpoint_args(h: &Hostile, protocol: &str) -> Vec<String> {
    let mut a: Vec<String> = vec![
        "--endpoint".into(),
        h.url(),
        "--protocol".into(),
        protocol.into(),
        "--export-timeout".into(),
        format!("{}s", EXPORT_TIMEOUT.as_secs()),
        "-H".into(),
        format!("Authorization={SECRET}"),
        "--tenant".into(),
        TENANT.into(),
    ];
    if let Some(ca) = &h.ca_file {
        a.extend(["--ca-cert".into(), ca.to_string_lossy().into_owned()]);
    }
    a
}

/// Runs `command` (run or emit) for every (mode × protocol) at once and asserts the table.
async fn table(command: &str, lab: Option<&LabStack>) {
    let recorder = Hostile::start(Mode::Recorder).await;
    let mut servers = Vec::new();
    for protocol in ["http/protobuf", "http/json", "grpc"] {
        for m in modes(recorder.addr) {
            servers.push((protocol, Hostile::start(m).await));
        }
    }
    let runs = servers.iter().enumerate().map(|(i, (protocol, h))| {
        let mut a: Vec<String> = vec![command.into(), "--output".into(), "json".into()];
        a.extend(endpoint_args(h, protocol));
        a.extend([
            "--service-instance-id".into(),
            format!("hostile-export-{i}"),
        ]);
        if let Some(lab) = lab {
            a.extend([
                "--tempo".into(),
                lab.tempo_url(),
                "--loki".into(),
                lab.loki_url(),
                "--mimir".into(),
                lab.mimir_url(),
                "--timeout".into(),
                "3s".into(),
            ]);
        }
        timed(a)
    });
    let results = futures_util::future::join_all(runs).await;
    let bound = EXPORT_TIMEOUT + SLACK;
    let (mut rows, mut failed) = (Vec::new(), Vec::new());
    for ((protocol, h), t) in servers.iter().zip(&results) {
        let mut verdict = check_export(&h.mode, protocol, t, bound);
        if let Mode::RedirectTo(_) = h.mode
            && !recorder.recorded().is_empty()
        {
            verdict = Err(format!(
                "the redirect was followed: {:?}",
                recorder.recorded()
            ));
        }
        if protocol.starts_with("http")
            && !h.mode.is_tls()
            && !matches!(h.mode, Mode::Garbage | Mode::GoAway)
            && !h
                .recorded()
                .iter()
                .any(|r| r.header("authorization") == Some(SECRET))
        {
            verdict = Err(format!("no export carried the header: {:?}", h.recorded()));
        }
        let row = format!(
            "{command:<5} {protocol:<14} {:<20} {:>5.2}s  {}",
            h.mode.name(),
            t.wall.as_secs_f64(),
            match &verdict {
                Ok(g) => format!("ok   {g}"),
                Err(e) => format!("FAIL {e}"),
            }
        );
        keep(
            &format!("{command}.{}.{}", protocol.replace('/', "-"), h.mode.name()),
            t,
        );
        if verdict.is_err() {
            failed.push(row.clone());
        }
        rows.push(row);
    }
    eprintln!("{}", rows.join("\n"));
    assert!(failed.is_empty(), "\n{}", failed.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_against_hostile_receivers() {
    let lab = LabStack::start(LabStackConfig::ephemeral(), LabState::new())
        .await
        .expect("lab starts");
    table("run", Some(&lab)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emit_against_hostile_receivers() {
    table("emit", None).await;
}

/// `doctor` scanning a host whose ports all misbehave, each configured target among them:
/// a verdict for every port within the scan's deadline, a JSON document, exit 0/1/2.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_against_hostile_ports() {
    let recorder = Hostile::start(Mode::Recorder).await;
    let mut servers = Vec::new();
    for m in modes(recorder.addr) {
        servers.push(Hostile::start(m).await);
    }
    let ports: Vec<String> = servers.iter().map(|h| h.addr.port().to_string()).collect();
    let by = |m: &str| {
        servers
            .iter()
            .find(|h| h.mode.name() == m)
            .map(|h| h.url())
            .unwrap()
    };
    // Targets on the nastiest ports, so the target checks meet them too.
    let args: Vec<String> = [
        "doctor",
        "--output",
        "json",
        "--endpoint",
        &by("never-answers"),
        "--tempo",
        &by("drip"),
        "--loki",
        &by("html-200"),
        "--mimir",
        &by("huge-body"),
        "--grafana",
        &by("reset-mid-body"),
        "--ports",
        &ports.join(","),
        "127.0.0.1",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let t = timed(args).await;
    keep("doctor.all", &t);
    assert_eq!(exit_ok(&t), None, "{}", t.stderr);
    let doc = t
        .json()
        .unwrap_or_else(|| panic!("not JSON: {}\n{}", t.stdout, t.stderr));
    let deadline = doc["deadline_seconds"].as_f64().unwrap_or(2.5);
    let bound = Duration::from_secs_f64(deadline) + SLACK;
    assert!(
        t.wall <= bound,
        "doctor took {:.2} s, bound {:.2} s",
        t.wall.as_secs_f64(),
        bound.as_secs_f64()
    );
    let target = |name: &str| {
        doc["targets"]
            .as_array()
            .and_then(|ts| ts.iter().find(|t| t["target"] == name))
            .unwrap_or_else(|| panic!("no target {name} in {doc:#}"))
    };
    for (name, reason, says) in [
        ("trace", "not_otlp", "accepts connections but says nothing"),
        ("tempo", "no_verdict", "no answer within"),
        ("loki", "unrecognised", "does not answer like loki"),
        ("mimir", "unrecognised", "larger than 16 mib"),
    ] {
        let t = target(name);
        assert_eq!(t["ok"], false, "{t}");
        assert_eq!(t["reason"], reason, "{t}");
        let message = t["message"].as_str().unwrap_or_default().to_lowercase();
        assert!(message.contains(says), "{name}: {message}");
    }
    let listed = doc["ports"].as_array().expect("ports");
    for h in &servers {
        let p = listed
            .iter()
            .find(|e| e["port"] == h.addr.port())
            .unwrap_or_else(|| panic!("port of {} not in {doc:#}", h.mode.name()));
        eprintln!(
            "doctor {:<20} {}",
            h.mode.name(),
            serde_json::to_string(&p["speaks"]).unwrap_or_default()
        );
    }
    eprintln!("doctor: exit {:?} in {:.2}s", t.code, t.wall.as_secs_f64());
}
