//! The human report's timeline on a real terminal: `run` against the lab with its stdout on a
//! pseudo-terminal of a given width draws one line per signal under the table; `--no-timeline`,
//! a pipe and a terminal too narrow for it leave it out.

mod common;

use common::{run_bin_async, stdout};
use otel_canary::lab::{LabStack, LabStackConfig, LabState};
use std::io::Read;
use std::os::fd::{FromRawFd, OwnedFd};
use std::process::{Command, Stdio};

async fn stack() -> LabStack {
    LabStack::start(LabStackConfig::ephemeral(), LabState::new())
        .await
        .expect("lab stack starts")
}

fn args(lab: &LabStack, extra: &[&str]) -> Vec<String> {
    let mut a: Vec<String> = [
        "run",
        "--endpoint",
        &lab.receivers.http_base(false),
        "--tempo",
        &lab.tempo_url(),
        "--loki",
        &lab.loki_url(),
        "--mimir",
        &lab.mimir_url(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    a.extend(extra.iter().map(|s| s.to_string()));
    a
}

/// Runs the binary with stdout on a `cols`-wide pseudo-terminal; returns what it printed.
fn run_on_terminal(args: Vec<String>, cols: u16) -> String {
    let (mut master, mut slave) = (-1, -1);
    let size = libc::winsize {
        ws_row: 50,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: openpty writes two new descriptors into the out-parameters; the name buffer
    // and termios are optional (null), the window size is a valid struct.
    let rc = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            &size,
        )
    };
    assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
    // SAFETY: both descriptors were just opened by openpty and are owned here only.
    let (master, slave) = unsafe {
        (
            std::fs::File::from_raw_fd(master),
            OwnedFd::from_raw_fd(slave),
        )
    };
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_otel-canary"));
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("OTEL_")) {
        cmd.env_remove(k);
    }
    cmd.env("NO_COLOR", "1")
        .env_remove("COLUMNS")
        .args(&args)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .stdout(Stdio::from(slave));
    let mut child = cmd.spawn().expect("binary runs");
    // The child holds the terminal now; with our copies closed, its exit ends the reads.
    drop(cmd);
    let reader = std::thread::spawn(move || {
        let mut master = master;
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        // Linux answers EIO once the last holder of the other side has closed it.
        while let Ok(n) = master.read(&mut buf) {
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
        }
        out
    });
    child.wait().expect("wait");
    let out = reader.join().expect("reader");
    String::from_utf8_lossy(&out).replace("\r\n", "\n")
}

/// The timeline's lines: those that start with a lane name and then `export `.
fn timeline(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|l| {
            ["trace ", "log ", "metric "]
                .iter()
                .any(|p| l.starts_with(p) && l.contains(" export "))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wide_terminal_gets_one_line_per_signal_under_the_table() {
    let lab = stack().await;
    let a = args(&lab, &[]);
    let text = tokio::task::spawn_blocking(move || run_on_terminal(a, 160))
        .await
        .unwrap();
    let lines = timeline(&text);
    assert_eq!(lines.len(), 3, "{text}");
    for (line, lane) in lines.iter().zip(["trace", "log", "metric"]) {
        assert!(line.starts_with(lane), "{line}");
        assert!(
            line.contains("ingest ") && line.contains("query "),
            "{line}"
        );
        assert!(line.chars().count() <= 160, "{line}");
        assert!(
            line.ends_with(" ms") || line.ends_with(" s"),
            "the total ends it: {line}"
        );
    }
    assert!(lines[0].contains("search "), "{}", lines[0]);
    // Under the table, before the checks and the topology.
    let table = text.find(" SIGNAL  HOP").expect("the table");
    let first = text.find(lines[0]).unwrap();
    let topology = text.find("topology:").expect("the topology");
    assert!(table < first && first < topology, "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_timeline_on_a_pipe_a_narrow_terminal_or_when_asked() {
    let lab = stack().await;
    let a = args(&lab, &["--no-timeline"]);
    let off = tokio::task::spawn_blocking(move || run_on_terminal(a, 160))
        .await
        .unwrap();
    assert!(off.contains(" SIGNAL  HOP"), "{off}");
    assert!(timeline(&off).is_empty(), "{off}");
    let a = args(&lab, &[]);
    let narrow = tokio::task::spawn_blocking(move || run_on_terminal(a, 48))
        .await
        .unwrap();
    assert!(narrow.contains("topology:"), "{narrow}");
    assert!(timeline(&narrow).is_empty(), "{narrow}");
    let piped = run_bin_async(args(&lab, &[]), Vec::new()).await;
    assert_eq!(piped.status.code(), Some(0));
    assert!(timeline(&stdout(&piped)).is_empty(), "{}", stdout(&piped));
}
