//! Real VictoriaMetrics and Prometheus servers for integration tests: the Debian trixie builds
//! that `.ci/install-backends` extracts into its cache, started on free loopback ports with
//! their storage in a temporary directory, and killed when dropped.
//!
//! Binaries come from `OTEL_CANARY_VICTORIAMETRICS_BIN` / `OTEL_CANARY_PROMETHEUS_BIN` when
//! set (the script's `<cache>/env` file), else from the default cache
//! (`$OTEL_CANARY_BACKENDS_DIR`, or `~/.cache/otel-canary/backends`). A missing binary is a
//! panic naming the script, never a silent skip.

use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// How long a freshly started server may take to answer its readiness endpoint.
const READY_TIMEOUT: Duration = Duration::from_secs(15);
/// Free ports are found by binding :0 and releasing it, so another process can take the port
/// in between; a start that fails with "address already in use" is retried on a new port.
const START_ATTEMPTS: usize = 3;
/// Lines of a server's log quoted in panic messages.
const LOG_TAIL_LINES: usize = 60;

const VM_BIN_VAR: &str = "OTEL_CANARY_VICTORIAMETRICS_BIN";
const PROM_BIN_VAR: &str = "OTEL_CANARY_PROMETHEUS_BIN";

fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("OTEL_CANARY_BACKENDS_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| {
            panic!(
                "neither OTEL_CANARY_BACKENDS_DIR nor HOME is set, so the real backends cannot be \
                 found: run `.ci/install-backends` and source the env file it writes"
            )
        });
    PathBuf::from(home).join(".cache/otel-canary/backends")
}

fn resolve_bin(var: &str, name: &str) -> PathBuf {
    let (path, origin) = match std::env::var_os(var).filter(|p| !p.is_empty()) {
        Some(p) => (PathBuf::from(p), format!("from {var}")),
        None => (
            cache_dir().join("root/usr/bin").join(name),
            format!("{var} is unset, so the default cache"),
        ),
    };
    if !path.is_file() {
        panic!(
            "the real `{name}` binary is missing at {} ({origin}): run `.ci/install-backends` \
             (it fetches VictoriaMetrics 1.112 and Prometheus 2.53 into its cache and writes \
             <cache>/env with {VM_BIN_VAR} and {PROM_BIN_VAR})",
            path.display()
        );
    }
    path
}

/// Paths from OTEL_CANARY_VICTORIAMETRICS_BIN, else the default cache dir's extracted binary.
pub fn victoriametrics_bin() -> PathBuf {
    resolve_bin(VM_BIN_VAR, "victoria-metrics")
}

/// Paths from OTEL_CANARY_PROMETHEUS_BIN, else the default cache dir's extracted binary.
pub fn prometheus_bin() -> PathBuf {
    resolve_bin(PROM_BIN_VAR, "prometheus")
}

/// A plain-HTTP client for talking to the backends. The crate builds reqwest with
/// `rustls-no-provider`, whose client builder panics unless a process-wide crypto provider is
/// installed, so ring's is installed first (a no-op when one already is). Never uses a proxy:
/// everything here is on loopback.
pub fn http_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("reqwest client for the real backends")
}

/// `GET {base_url}/api/v1/query?query=<promql>&<extra>` as JSON; panics with the body when the
/// answer is not JSON or no answer came. The caller checks `status`.
pub async fn instant_query(
    base_url: &str,
    promql: &str,
    extra: &[(&str, &str)],
) -> serde_json::Value {
    let mut params = vec![("query", promql)];
    params.extend_from_slice(extra);
    let url = url::Url::parse_with_params(&format!("{base_url}/api/v1/query"), &params)
        .expect("query URL");
    let resp = http_client()
        .get(url.clone())
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let status = resp.status();
    let body = resp
        .text()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: reading body: {e}"));
    serde_json::from_str(&body)
        .unwrap_or_else(|e| panic!("GET {url}: HTTP {status}, not JSON ({e}): {body}"))
}

/// The last lines of a server log, for panic messages.
pub fn log_tail(path: &Path) -> String {
    match std::fs::read(path) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            let lines: Vec<&str> = text.lines().collect();
            let from = lines.len().saturating_sub(LOG_TAIL_LINES);
            format!(
                "--- last {} lines of {} ---\n{}",
                lines.len() - from,
                path.display(),
                lines[from..].join("\n")
            )
        }
        Err(e) => format!("(log {} unreadable: {e})", path.display()),
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind 127.0.0.1:0 to find a free port")
        .port()
}

fn stop(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// A started server process: its child, port and log file.
struct Started {
    child: Child,
    port: u16,
    log: PathBuf,
}

/// Starts `bin` with `args(port)` in `dir` (stdout and stderr to `<dir>/<what>.log`) and waits
/// until `GET http://127.0.0.1:<port><ready_path>` answers 2xx. Panics with the log tail if the
/// process exits or is not ready within READY_TIMEOUT.
async fn start_server(
    what: &str,
    bin: &Path,
    dir: &Path,
    args: impl Fn(u16) -> Vec<String>,
    ready_path: &str,
) -> Started {
    let client = http_client();
    let log = dir.join(format!("{what}.log"));
    'attempt: for attempt in 1..=START_ATTEMPTS {
        let port = free_port();
        let out = File::create(&log).unwrap_or_else(|e| panic!("create {}: {e}", log.display()));
        let err = out.try_clone().expect("clone log file handle");
        let argv = args(port);
        let mut child = Command::new(bin)
            .args(&argv)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot run {} ({e}); reinstall with `.ci/install-backends`",
                    bin.display()
                )
            });
        let url = format!("http://127.0.0.1:{port}{ready_path}");
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(status) = child.try_wait().expect("poll child status") {
                let tail = log_tail(&log);
                if attempt < START_ATTEMPTS && tail.contains("address already in use") {
                    continue 'attempt;
                }
                panic!(
                    "{what} ({}) exited with {status} before answering {url}\nargs: {argv:?}\n{tail}",
                    bin.display()
                );
            }
            let ready = client
                .get(&url)
                .timeout(Duration::from_secs(1))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if ready {
                return Started { child, port, log };
            }
            if Instant::now() >= deadline {
                stop(&mut child);
                panic!(
                    "{what} ({}) did not answer {url} within {READY_TIMEOUT:?}\nargs: {argv:?}\n{}",
                    bin.display(),
                    log_tail(&log)
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    unreachable!("the last attempt either returns or panics")
}

/// A running VictoriaMetrics on a free loopback port, with a small -search.latencyOffset (1s),
/// no response cache, storage in a tempdir. Killed on drop.
///
/// OTLP goes to `{base_url}/opentelemetry/v1/metrics`; metric and label names are kept as sent
/// (`-opentelemetry.usePrometheusNaming=false`), so resource attributes show up as dotted
/// labels such as `service.name`. Pass `latency_offset=1ms` per query to skip the 1s offset.
///
/// A new series is not searchable at once: VictoriaMetrics buffers ingested rows and index
/// entries, so it shows up after ~1-5 s, and a query made before that (an empty answer) can
/// keep it hidden for ~10 s more. Budget 15 s or more for a read-back, or call
/// [`VictoriaMetrics::force_flush`] after writing when the test controls the timing.
pub struct VictoriaMetrics {
    pub base_url: String,
    /// stdout+stderr of the process.
    pub log: PathBuf,
    child: Child,
    // Dropped after `child` is killed in `Drop`, so the data directory outlives the process.
    _dir: TempDir,
}

impl VictoriaMetrics {
    /// Starts it and waits until `/health` answers (up to ~15 s), else panics with its log.
    pub async fn start() -> VictoriaMetrics {
        let bin = victoriametrics_bin();
        let dir = tempfile::Builder::new()
            .prefix("otel-canary-victoriametrics-")
            .tempdir()
            .expect("tempdir for VictoriaMetrics");
        let data = dir.path().join("data");
        let started = start_server(
            "victoria-metrics",
            &bin,
            dir.path(),
            |port| {
                vec![
                    format!("-httpListenAddr=127.0.0.1:{port}"),
                    format!("-storageDataPath={}", data.display()),
                    // The minimum allowed; the tempdir is gone after the test anyway.
                    "-retentionPeriod=1d".into(),
                    // Default 30s: points would stay invisible to instant queries for 30s.
                    "-search.latencyOffset=1s".into(),
                    // Tests query the same expressions repeatedly while data arrives.
                    "-search.disableCache".into(),
                    // Explicit although it is the default: the tests rely on dotted labels.
                    "-opentelemetry.usePrometheusNaming=false".into(),
                    "-loggerOutput=stderr".into(),
                ]
            },
            "/health",
        )
        .await;
        VictoriaMetrics {
            base_url: format!("http://127.0.0.1:{}", started.port),
            log: started.log,
            child: started.child,
            _dir: dir,
        }
    }

    /// `GET /internal/force_flush`: makes everything ingested so far searchable now (the
    /// endpoint VictoriaMetrics provides for tests). Panics unless it answers 2xx.
    pub async fn force_flush(&self) {
        let url = format!("{}/internal/force_flush", self.base_url);
        let resp = http_client()
            .get(&url)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {url}: {e}\n{}", self.log_tail()));
        let status = resp.status();
        assert!(
            status.is_success(),
            "GET {url}: HTTP {status}: {}\n{}",
            resp.text().await.unwrap_or_default(),
            self.log_tail()
        );
    }

    /// The last lines of its log, for assertion messages.
    pub fn log_tail(&self) -> String {
        log_tail(&self.log)
    }
}

impl Drop for VictoriaMetrics {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}

/// A running Prometheus on a free loopback port scraping `scrape_target` ("127.0.0.1:PORT")
/// every `scrape_interval` at path /metrics, job name `otel-canary-scrape`, storage in a
/// tempdir. Killed on drop.
pub struct Prometheus {
    pub base_url: String,
    /// stdout+stderr of the process.
    pub log: PathBuf,
    child: Child,
    _dir: TempDir,
}

/// The scrape job's name, i.e. the `job` label of everything Prometheus scrapes.
pub const PROMETHEUS_SCRAPE_JOB: &str = "otel-canary-scrape";

impl Prometheus {
    /// Starts it and waits until `/-/ready` answers (up to ~15 s), else panics with its log.
    pub async fn start(scrape_target: &str, scrape_interval: Duration) -> Prometheus {
        Self::launch(scrape_target, scrape_interval, None).await
    }

    /// Writes the configuration (with `rule_files` and `evaluation_interval` when given a
    /// rule file), starts the server and waits for `/-/ready`.
    async fn launch(scrape_target: &str, interval: Duration, rules: Option<&Path>) -> Prometheus {
        let ms = interval.as_millis();
        assert!(ms > 0, "interval must be at least 1ms");
        let bin = prometheus_bin();
        let dir = tempfile::Builder::new()
            .prefix("otel-canary-prometheus-")
            .tempdir()
            .expect("tempdir for Prometheus");
        // JSON strings are valid YAML scalars: no further escaping for the target or the path.
        let target = serde_json::to_string(scrape_target).unwrap();
        // The timeout is set as well: it must not exceed the interval (default 10s).
        let rule_lines = match rules {
            Some(r) => format!(
                "  evaluation_interval: {ms}ms\nrule_files:\n  - {}\n",
                serde_json::to_string(&r.display().to_string()).unwrap()
            ),
            None => String::new(),
        };
        let config = format!(
            "global:\n  scrape_interval: {ms}ms\n  scrape_timeout: {ms}ms\n{rule_lines}\
             scrape_configs:\n  - job_name: {PROMETHEUS_SCRAPE_JOB}\n    scheme: http\n    \
             metrics_path: /metrics\n    scrape_interval: {ms}ms\n    scrape_timeout: {ms}ms\n    \
             static_configs:\n      - targets: [{target}]\n"
        );
        let config_file = dir.path().join("prometheus.yml");
        std::fs::write(&config_file, config).expect("write prometheus.yml");
        let data = dir.path().join("data");
        // No --web.console.* flags: Prometheus starts without the console directories.
        let started = start_server(
            "prometheus",
            &bin,
            dir.path(),
            |port| {
                vec![
                    format!("--config.file={}", config_file.display()),
                    format!("--storage.tsdb.path={}", data.display()),
                    format!("--web.listen-address=127.0.0.1:{port}"),
                ]
            },
            "/-/ready",
        )
        .await;
        Prometheus {
            base_url: format!("http://127.0.0.1:{}", started.port),
            log: started.log,
            child: started.child,
            _dir: dir,
        }
    }

    /// The last lines of its log, for assertion messages.
    pub fn log_tail(&self) -> String {
        log_tail(&self.log)
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}

/// Rule loading, for tests of alerting rule files. Kept apart from [`Prometheus::start`] so its
/// configuration stays exactly as it was.
impl Prometheus {
    /// Like [`Prometheus::start`], plus `rule_files: [<rule_file>]` and an
    /// `evaluation_interval` equal to `interval`.
    ///
    /// Prometheus refuses to start when a rule file does not parse (YAML, PromQL or template
    /// errors), so that panics here with the log tail naming the file and the error. A missing
    /// file would be silently skipped by Prometheus (`rule_files` are globs), so it is a panic
    /// here before anything starts.
    pub async fn start_with_rules(
        scrape_target: &str,
        interval: Duration,
        rule_file: &Path,
    ) -> Prometheus {
        assert!(
            rule_file.is_file(),
            "rule file {} does not exist (Prometheus would silently load nothing)",
            rule_file.display()
        );
        let rule_file = std::fs::canonicalize(rule_file)
            .unwrap_or_else(|e| panic!("canonicalize {}: {e}", rule_file.display()));
        Self::launch(scrape_target, interval, Some(&rule_file)).await
    }

    /// `GET {base_url}{path_and_query}` as JSON, asserting HTTP 200 and `"status": "success"`.
    pub async fn api_get(&self, path_and_query: &str) -> serde_json::Value {
        let url = format!("{}{path_and_query}", self.base_url);
        let resp = http_client()
            .get(&url)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {url}: {e}\n{}", self.log_tail()));
        let status = resp.status();
        let body = resp
            .text()
            .await
            .unwrap_or_else(|e| panic!("GET {url}: reading body: {e}"));
        let doc: serde_json::Value = serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("GET {url}: HTTP {status}, not JSON ({e}): {body}"));
        assert!(
            status.is_success() && doc["status"] == "success",
            "GET {url}: HTTP {status}: {body}\n{}",
            self.log_tail()
        );
        doc
    }

    /// `/api/v1/rules`: `data.groups[]`, each with its `rules[]` (health, lastError, state...).
    pub async fn rule_groups(&self) -> Vec<serde_json::Value> {
        let doc = self.api_get("/api/v1/rules").await;
        doc["data"]["groups"]
            .as_array()
            .unwrap_or_else(|| panic!("/api/v1/rules without data.groups: {doc}"))
            .clone()
    }

    /// `/api/v1/alerts`: the active (pending or firing) alerts, each with labels, annotations,
    /// state and value.
    pub async fn active_alerts(&self) -> Vec<serde_json::Value> {
        let doc = self.api_get("/api/v1/alerts").await;
        doc["data"]["alerts"]
            .as_array()
            .unwrap_or_else(|| panic!("/api/v1/alerts without data.alerts: {doc}"))
            .clone()
    }
}
