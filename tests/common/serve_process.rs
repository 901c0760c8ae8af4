//! `otel-canary serve` as a child process: started with `--listen 127.0.0.1:0` and JSON logs,
//! its address read from its "listening" log line, its stderr collected, stopped by SIGTERM.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub struct ServeProcess {
    child: Child,
    pub addr: SocketAddr,
    stderr: Arc<Mutex<Vec<String>>>,
}

fn collect(stream: impl std::io::Read + Send + 'static, into: Arc<Mutex<Vec<String>>>) {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            match line {
                Ok(l) => into.lock().unwrap().push(l),
                Err(_) => break,
            }
        }
    });
}

impl ServeProcess {
    /// Starts `otel-canary serve ARGS --listen 127.0.0.1:0 --log-format json` with no inherited
    /// OTEL_* variables; `stdout` is where the child's stdout goes.
    pub fn start_with_stdout(args: &[String], stdout: Stdio) -> ServeProcess {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_otel-canary"));
        for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("OTEL_")) {
            cmd.env_remove(k);
        }
        cmd.arg("serve");
        if !args.iter().any(|a| a == "--listen") {
            cmd.args(["--listen", "127.0.0.1:0"]);
        }
        cmd.args(["--log-format", "json"])
            .args(args)
            .stdout(stdout)
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("otel-canary serve starts");
        let stderr = Arc::new(Mutex::new(Vec::new()));
        collect(child.stderr.take().unwrap(), stderr.clone());
        let deadline = Instant::now() + Duration::from_secs(20);
        let addr = loop {
            let found = stderr.lock().unwrap().iter().find_map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).ok()?;
                v["fields"]["listen"].as_str()?.parse().ok()
            });
            if let Some(a) = found {
                break a;
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "serve exited ({status}) before listening:\n{}",
                    stderr.lock().unwrap().join("\n")
                );
            }
            assert!(
                Instant::now() < deadline,
                "serve did not log its address within 20 s:\n{}",
                stderr.lock().unwrap().join("\n")
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        ServeProcess {
            child,
            addr,
            stderr,
        }
    }

    pub fn start(args: &[String]) -> ServeProcess {
        Self::start_with_stdout(args, Stdio::null())
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The log lines so far, parsed.
    pub fn logs(&self) -> Vec<serde_json::Value> {
        self.stderr
            .lock()
            .unwrap()
            .iter()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    pub fn stderr_text(&self) -> String {
        self.stderr.lock().unwrap().join("\n")
    }

    /// Sends SIGTERM and waits up to `within` for the exit.
    pub fn terminate(mut self, within: Duration) -> (ExitStatus, Duration, String) {
        let sent = Instant::now();
        // SAFETY: kill(2) with the child's pid and a valid signal number.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                // Let the reader thread drain the last lines.
                std::thread::sleep(Duration::from_millis(50));
                return (status, sent.elapsed(), self.stderr_text());
            }
            if sent.elapsed() > within {
                let _ = self.child.kill();
                panic!(
                    "serve did not exit within {within:?} of SIGTERM:\n{}",
                    self.stderr_text()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Resident set size in KiB, from /proc.
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("/proc/<pid>/status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS")
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One metric sample's value from an exposition page, by its exact series text
/// (`name{labels}`), or None.
pub fn sample(page: &str, series: &str) -> Option<f64> {
    page.lines().find_map(|l| {
        let rest = l.strip_prefix(series)?;
        rest.strip_prefix(' ')?.split(' ').next()?.parse().ok()
    })
}
