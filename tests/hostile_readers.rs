//! Every reader against a backend that misbehaves on purpose, on real sockets: `otel-canary
//! run` exports to the lab (so the export hop is sound) and reads one backend from a hostile
//! server. A table of (mode × reader) → the reason the hostile signal must get, words its hint
//! must say and must never say (no blame of a hop that did nothing wrong), with every run
//! ending within its deadline plus the bounded post-mortem, measured on the process.

mod common;

use common::hostile::{Hostile, Mode, Timed, timed};
use otel_canary::lab::{LabStack, LabStackConfig, LabState, SignalFault};
use otel_canary::signal::Signal;
use serde_json::Value;
use std::time::Duration;

/// Each signal's deadline in these runs (`--timeout`, `--search-timeout`).
const DEADLINE: Duration = Duration::from_secs(3);
/// What a run may take past its longest deadline: the post-mortem and identity looks
/// (docs/round-trip.md, "Hard deadlines").
const OVERRUN: Duration = Duration::from_millis(1500);
/// The credentials every read carries; they must reach the hostile server and nowhere else.
const TOKEN: &str = "hostile-read-token-7f3a";
const TENANT: &str = "hostile-tenant";

/// Which read the hostile server stands in for.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Reader {
    /// `--tempo`: by-id reads (and search, which shares the URL).
    Tempo,
    /// `--tempo` whose by-id reads are sound and whose `/api/search` misbehaves.
    TempoSearch,
    Loki,
    Mimir,
    Prometheus,
    /// `--collector-metrics`, with the lab dropping the log so the page is read after.
    CollectorMetrics,
    /// `--tempo-metrics`, with the lab dropping the trace so the page is read after.
    TempoMetrics,
    /// `--grafana`: every signal's grafana hop.
    Grafana,
}

impl Reader {
    fn name(self) -> &'static str {
        match self {
            Reader::Tempo => "tempo",
            Reader::TempoSearch => "tempo-search",
            Reader::Loki => "loki",
            Reader::Mimir => "mimir",
            Reader::Prometheus => "prometheus",
            Reader::CollectorMetrics => "collector-metrics",
            Reader::TempoMetrics => "tempo-metrics",
            Reader::Grafana => "grafana",
        }
    }

    /// The signals whose verdict the hostile server decides; the others must pass.
    fn hostile_signals(self) -> &'static [&'static str] {
        match self {
            Reader::Tempo | Reader::TempoSearch | Reader::TempoMetrics => &["trace"],
            Reader::Loki | Reader::CollectorMetrics => &["log"],
            Reader::Mimir | Reader::Prometheus => &["metric"],
            Reader::Grafana => &["trace", "log", "metric"],
        }
    }

    /// The lab fault that makes the page readers matter: the signal is really lost.
    fn lab_fault(self) -> Option<Signal> {
        match self {
            Reader::CollectorMetrics => Some(Signal::Log),
            Reader::TempoMetrics => Some(Signal::Trace),
            _ => None,
        }
    }
}

/// What a case must show.
struct Expect {
    /// Any of these reasons.
    reasons: &'static [&'static str],
    /// Words (lower case) the hint must contain, all of them.
    hint_says: &'static [&'static str],
}

fn all_modes(other_host: std::net::SocketAddr) -> Vec<Mode> {
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
        Mode::TlsExpired,
        Mode::TlsWrongHost,
        Mode::TlsStall,
    ]
}

/// The table for the query readers (Tempo, Loki, Prometheus-likes): the reader itself is the
/// broken hop, so the verdict is about it.
fn expect_direct(mode: &Mode) -> Expect {
    let (reasons, hint_says): (&[&str], &[&str]) = match mode {
        Mode::Garbage => (&["query_failed"], &["does not speak http"]),
        Mode::Html => (
            &["query_failed"],
            &["an html page answered", "a login page, a proxy"],
        ),
        Mode::WrongShape | Mode::InvalidUtf8 | Mode::WrongContentType => {
            (&["query_failed"], &["answer made no sense", "it starts \""])
        }
        Mode::Huge => (&["query_failed"], &["more than a reader accepts", "16 mib"]),
        Mode::Drip | Mode::Silent | Mode::ResetMidBody | Mode::TlsStall => {
            (&["timeout"], &["did not answer"])
        }
        Mode::RedirectLoop | Mode::RedirectTo(_) => (&["query_failed"], &["redirect"]),
        Mode::TlsExpired => (&["query_failed"], &["expired"]),
        Mode::TlsWrongHost => (&["query_failed"], &["not valid for this host name"]),
        Mode::GoAway | Mode::Recorder => unreachable!(),
    };
    Expect { reasons, hint_says }
}

/// Words no hint may say when a reader misbehaved: they blame the collector or the path
/// before the backend, or vouch for the backend.
const BLAME_BEFORE: &[&str] = &[
    "never reached",
    "acknowledged",
    "collector",
    "lost before",
    "is up",
    "pipeline",
];

/// Words no hint may say when a metrics page misbehaved: it vouches for counters it never
/// read.
const PAGE_LIES: &[&str] = &["counters are below", "counters show", "never received"];

async fn stack(fault: Option<Signal>) -> LabStack {
    let lab = LabStack::start(LabStackConfig::ephemeral(), LabState::new())
        .await
        .expect("lab starts");
    if let Some(s) = fault {
        lab.state.faults.set(
            s,
            SignalFault {
                drop: true,
                ..Default::default()
            },
        );
    }
    lab
}

/// `run` pointed at the lab except for `reader`. `instance` keeps each case's marker series
/// apart (cases run at once; one series shared by all would see each other's markers).
fn run_args(
    lab: &LabStack,
    reader: Reader,
    hostile: &Hostile,
    token_file: &str,
    instance: usize,
) -> Vec<String> {
    let mut tempo = lab.tempo_url();
    let mut loki = lab.loki_url();
    let mut metrics = ("--mimir", lab.mimir_url());
    let mut extra: Vec<String> = Vec::new();
    match reader {
        Reader::Tempo | Reader::TempoSearch => tempo = hostile.url(),
        Reader::Loki => loki = hostile.url(),
        Reader::Mimir => metrics = ("--mimir", hostile.url()),
        Reader::Prometheus => metrics = ("--prometheus", hostile.url()),
        Reader::CollectorMetrics => extra.extend([
            "--collector-metrics".into(),
            format!("{}/metrics", hostile.url()),
        ]),
        Reader::TempoMetrics => extra.extend([
            "--tempo-metrics".into(),
            format!("{}/metrics", hostile.url()),
        ]),
        Reader::Grafana => {
            extra.extend([
                "--grafana".into(),
                hostile.url(),
                "--grafana-token-file".into(),
                token_file.into(),
            ]);
        }
    }
    if let Some(ca) = &hostile.ca_file {
        extra.extend(["--read-ca-cert".into(), ca.to_string_lossy().into_owned()]);
    }
    let secs = format!("{}s", DEADLINE.as_secs());
    let mut a: Vec<String> = [
        "run",
        "--output",
        "json",
        "--endpoint",
        &lab.receivers.http_base(false),
        "--tempo",
        &tempo,
        "--loki",
        &loki,
        metrics.0,
        &metrics.1,
        "--timeout",
        &secs,
        "--search-timeout",
        &secs,
        "--tenant",
        TENANT,
        "--read-token-file",
        token_file,
        "--service-instance-id",
        &format!("hostile-{}-{instance}", reader.name()),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    a.extend(extra);
    a
}

fn sig<'a>(doc: &'a Value, name: &str) -> Option<&'a Value> {
    doc["signals"]
        .as_array()?
        .iter()
        .find(|s| s["signal"] == name)
}

/// The hint and every failed hop's detail and hint, lower case: what a person reads.
fn said(s: &Value) -> String {
    let mut text = s["hint"].as_str().unwrap_or_default().to_string();
    for h in s["hops"].as_array().into_iter().flatten() {
        if h["status"] == "failed" {
            for k in ["detail", "hint"] {
                if let Some(t) = h[k].as_str() {
                    text.push_str(" | ");
                    text.push_str(t);
                }
            }
        }
    }
    text.to_lowercase()
}

/// Checks one finished case; `Err` says what is wrong.
fn check(reader: Reader, mode: &Mode, t: &Timed, bound: Duration) -> Result<String, String> {
    let mut problems = Vec::new();
    if t.signal.is_some() || !matches!(t.code, Some(0..=2)) {
        problems.push(format!("exit {:?} signal {:?}", t.code, t.signal));
    }
    if t.wall > bound {
        problems.push(format!(
            "took {:.2} s, bound {:.2} s",
            t.wall.as_secs_f64(),
            bound.as_secs_f64()
        ));
    }
    let Some(doc) = t.json() else {
        return Err(format!(
            "stdout is not JSON: {}\nstderr: {}",
            t.stdout, t.stderr
        ));
    };
    let expect = match reader {
        // The lab really lost the signal and its backend said "not there": not_found is
        // true; what the unusable page adds is that its counters cannot say more.
        Reader::CollectorMetrics => Expect {
            reasons: &["not_found"],
            hint_says: &["never reached loki", "its metrics page could not be read"],
        },
        Reader::TempoMetrics => Expect {
            reasons: &["not_found"],
            hint_says: &["never reached tempo"],
        },
        Reader::Grafana => expect_grafana(mode),
        _ => expect_direct(mode),
    };
    let mut got = Vec::new();
    for name in ["trace", "log", "metric"] {
        let Some(s) = sig(&doc, name) else {
            problems.push(format!("no {name} signal"));
            continue;
        };
        let reason = s["reason"].as_str().unwrap_or("ok");
        if !reader.hostile_signals().contains(&name) {
            if s["status"] != "ok" {
                problems.push(format!("{name} should pass, got {reason}: {}", s["hint"]));
            }
            continue;
        }
        got.push(format!("{name}={reason}"));
        if !expect.reasons.contains(&reason) {
            problems.push(format!(
                "{name}: reason {reason}, want one of {:?}",
                expect.reasons
            ));
        }
        let text = said(s);
        let hint = s["hint"].as_str().unwrap_or_default().to_lowercase();
        if let Some(w) = expect.hint_says.iter().find(|w| !hint.contains(*w)) {
            problems.push(format!("{name}: hint does not say {w:?}: {hint}"));
        }
        let forbidden: &[&str] = match reader {
            Reader::CollectorMetrics | Reader::TempoMetrics => PAGE_LIES,
            _ => BLAME_BEFORE,
        };
        for w in forbidden {
            if hint.contains(w) {
                problems.push(format!("{name}: hint blames another hop ({w:?}): {hint}"));
            }
        }
        if matches!(reader, Reader::CollectorMetrics | Reader::TempoMetrics) {
            // The page was unusable: a clue must say so, and no clue may read counters off it.
            let clues: Vec<String> = s["clues"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|c| {
                    matches!(
                        c["source"].as_str(),
                        Some("collector_metrics" | "backend_metrics")
                    )
                })
                .map(|c| c["finding"].as_str().unwrap_or_default().to_lowercase())
                .collect();
            if !clues
                .iter()
                .any(|c| c.contains("could not be read") || c.contains("not a metrics page"))
            {
                problems.push(format!(
                    "{name}: no clue says the page was unusable: {clues:?} | {text}"
                ));
            }
        }
        if reader == Reader::TempoSearch
            && !s["hops"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|h| h["hop"] == "search" && h["status"] == "failed")
        {
            problems.push(format!("{name}: the search hop did not fail"));
        }
    }
    if problems.is_empty() {
        Ok(got.join(" "))
    } else {
        let short: Vec<String> = problems
            .iter()
            .map(|p| p.chars().take(400).collect())
            .collect();
        Err(format!("{} | {}", got.join(" "), short.join("; ")))
    }
}

fn expect_grafana(mode: &Mode) -> Expect {
    let (reasons, hint_says): (&[&str], &[&str]) = match mode {
        Mode::Drip | Mode::Silent | Mode::TlsStall => {
            (&["timeout"], &["grafana", "did not answer within"])
        }
        // The datasource list is cut off: Grafana is unreachable, or its reads are.
        Mode::ResetMidBody => (&["timeout", "query_failed"], &["grafana"]),
        Mode::TlsExpired => (&["query_failed"], &["expired"]),
        Mode::TlsWrongHost => (&["query_failed"], &["not valid for this host name"]),
        Mode::RedirectLoop | Mode::RedirectTo(_) => (&["query_failed"], &["redirect"]),
        Mode::Html => (
            &["query_failed"],
            &["an html page answered", "a login page"],
        ),
        _ => (&["query_failed"], &["grafana"]),
    };
    Expect { reasons, hint_says }
}

/// Keeps a case's output under the target directory, for reading after a failure.
fn keep(reader: &str, mode: &str, t: &Timed) {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("hostile");
    let _ = std::fs::create_dir_all(&dir);
    let _ = std::fs::write(dir.join(format!("{reader}.{mode}.json")), &t.stdout);
    let _ = std::fs::write(dir.join(format!("{reader}.{mode}.stderr")), &t.stderr);
}

/// Runs every mode against one reader at once and asserts the table.
async fn table(reader: Reader) {
    let lab = stack(reader.lab_fault()).await;
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, TOKEN).unwrap();
    let token_file = token_file.to_string_lossy().into_owned();
    let recorder = Hostile::start(Mode::Recorder).await;
    let mut modes = all_modes(recorder.addr);
    if reader == Reader::TempoSearch {
        // One host: the TLS modes cannot misbehave on one path only.
        modes.retain(|m| !m.is_tls());
    }
    let mut servers = Vec::new();
    for m in modes {
        let h = match reader {
            Reader::TempoSearch => Hostile::start_on(m, "/api/search", lab.tempo_addr).await,
            _ => Hostile::start(m).await,
        };
        servers.push(h);
    }
    let bound = DEADLINE + OVERRUN;
    let runs = servers.iter().enumerate().map(|(i, h)| {
        let args = run_args(&lab, reader, h, &token_file, i);
        async move { timed(args).await }
    });
    let results = futures_util::future::join_all(runs).await;
    let mut rows = Vec::new();
    let mut failed = Vec::new();
    for (h, t) in servers.iter().zip(&results) {
        let mut verdict = check(reader, &h.mode, t, bound);
        // Credentials went to the server they were given for, and no further.
        if let Mode::RedirectTo(_) = h.mode {
            let arrived = recorder.recorded();
            if !arrived.is_empty() {
                verdict = Err(format!("the redirect was followed: {arrived:?}"));
            }
        }
        if matches!(
            reader,
            Reader::Tempo | Reader::Loki | Reader::Mimir | Reader::Prometheus
        ) && !h.mode.is_tls()
            && h.mode != Mode::Garbage
        {
            let reqs = h.recorded();
            let carried = reqs.iter().any(|r| {
                r.header("authorization") == Some(&format!("Bearer {TOKEN}"))
                    && r.header("x-scope-orgid") == Some(TENANT)
            });
            if !carried {
                verdict = Err(format!("no read carried the credentials: {reqs:?}"));
            }
        }
        if !t.stdout.is_empty() && t.stdout.contains(TOKEN) || t.stderr.contains(TOKEN) {
            verdict = Err("the token was printed".into());
        }
        let row = format!(
            "{:<18} {:<20} {:>5.2}s  {}",
            reader.name(),
            h.mode.name(),
            t.wall.as_secs_f64(),
            match &verdict {
                Ok(g) => format!("ok   {g}"),
                Err(e) => format!("FAIL {e}"),
            }
        );
        if verdict.is_err() {
            failed.push(row.clone());
        }
        keep(reader.name(), h.mode.name(), t);
        rows.push(row);
    }
    eprintln!("{}", rows.join("\n"));
    assert!(failed.is_empty(), "\n{}", failed.join("\n\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tempo_by_id() {
    table(Reader::Tempo).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tempo_search() {
    table(Reader::TempoSearch).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loki() {
    table(Reader::Loki).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mimir() {
    table(Reader::Mimir).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_and_victoriametrics() {
    table(Reader::Prometheus).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn collector_metrics_page() {
    table(Reader::CollectorMetrics).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tempo_metrics_page() {
    table(Reader::TempoMetrics).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grafana_proxy() {
    table(Reader::Grafana).await;
}

/// `serve`'s `/probe` with every reader hostile (one hangs, one drips, one answers a page
/// too large) and a 3 s scrape timeout: the answer comes within the scrape timeout, every
/// signal down with its reason, nothing blamed on the collector.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_probe_answers_within_the_scrape_timeout() {
    use common::serve_process::{ServeProcess, sample};
    let lab = stack(None).await;
    let (silent, drip, huge) = (
        Hostile::start(Mode::Silent).await,
        Hostile::start(Mode::Drip).await,
        Hostile::start(Mode::Huge).await,
    );
    let serve = ServeProcess::start(&[
        "--endpoint".into(),
        lab.receivers.http_base(false),
        "--tempo".into(),
        silent.url(),
        "--loki".into(),
        drip.url(),
        "--mimir".into(),
        huge.url(),
        "--interval".into(),
        "1h".into(),
        "--timeout".into(),
        "20s".into(),
    ]);
    let client = common::real_backends::http_client();
    for _ in 0..2 {
        let asked = std::time::Instant::now();
        let r = client
            .get(serve.url("/probe?scenario=default"))
            .header("X-Prometheus-Scrape-Timeout-Seconds", "3")
            .send()
            .await
            .expect("/probe answers");
        let status = r.status();
        let page = r.text().await.unwrap();
        let took = asked.elapsed();
        assert_eq!(status, 200, "{page}");
        assert!(
            took < Duration::from_secs(3),
            "answered in {took:?}\n{page}"
        );
        assert_eq!(sample(&page, "probe_success"), Some(0.0), "{page}");
        for (signal, reason) in [
            ("trace", "timeout"),
            ("log", "timeout"),
            ("metric", "query_failed"),
        ] {
            assert_eq!(
                sample(
                    &page,
                    &format!(r#"otel_canary_probe_failed{{signal="{signal}",reason="{reason}"}}"#)
                ),
                Some(1.0),
                "{signal}: {page}"
            );
        }
        eprintln!("/probe answered in {took:?}");
    }
    let logs = serve.stderr_text().to_lowercase();
    assert!(!logs.contains("never reached"), "{logs}");
}
