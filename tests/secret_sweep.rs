//! The secret sweep: one known, unique secret put into every input that can carry a
//! credential — export headers (`--header` both forms, `OTEL_EXPORTER_OTLP_HEADERS` and its
//! per-signal variants), read headers, `--read-token-file`, read basic auth, URL userinfo,
//! query parameters named like secrets, the Grafana token and password (flag files,
//! environment, scenario), the self-trace URL, the environment variables — and every command
//! (`emit`, `run`, `doctor`, `demo`, `healthcheck`, `serve` with `/`, `/metrics`, `/probe`,
//! `/api/v1/last`) run in every output format (human, JSON, JUnit) with logs at trace level
//! (text and JSON), against the lab, passing and failing (refused ports, the lab's 401s,
//! malformed settings echoed in errors). The secret must appear nowhere: not in stdout, not
//! in stderr, not in any HTTP answer.

mod common;

use base64::Engine;
use common::real_backends::http_client;
use common::run_bin_async;
use otel_canary::lab::{LabGrafanaConfig, LabStack, LabStackConfig, LabState, SignalFault};
use otel_canary::signal::Signal;
use std::io::Write;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Every secret is `MARK` plus a tag naming its input, so a leak says where it came from.
struct Sweep {
    mark: String,
    /// Encodings the canary makes of a secret (basic auth) that must not appear either.
    derived: Vec<String>,
    leaks: Mutex<Vec<String>>,
    checked: Mutex<usize>,
    _files: Vec<tempfile::NamedTempFile>,
}

impl Sweep {
    fn secret(&self, tag: &str) -> String {
        format!("{}{tag}", self.mark)
    }

    /// Records every place `text` holds the secret (case-insensitively) or one of its
    /// encodings.
    fn check(&self, what: &str, text: &str) {
        *self.checked.lock().unwrap() += 1;
        let lower = text.to_ascii_lowercase();
        for needle in std::iter::once(&self.mark).chain(&self.derived) {
            let n = needle.to_ascii_lowercase();
            let mut from = 0;
            while let Some(i) = lower[from..].find(&n) {
                let at = from + i;
                let start = lower[..at]
                    .char_indices()
                    .rev()
                    .nth(80)
                    .map_or(0, |(i, _)| i);
                let end = (at + n.len() + 40).min(text.len());
                let end = (end..=text.len())
                    .find(|e| text.is_char_boundary(*e))
                    .unwrap_or(text.len());
                self.leaks
                    .lock()
                    .unwrap()
                    .push(format!("{what}: …{}…", &text[start..end]));
                from = at + n.len();
            }
        }
    }

    fn file(&mut self, text: &str) -> String {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        writeln!(f, "{text}").unwrap();
        let path = f.path().display().to_string();
        self._files.push(f);
        path
    }
}

fn strings(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

/// A port nothing listens on (bound, then released).
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// `http://user:SECRET@host:port/path?token=SECRET`: a URL with the secret in its userinfo
/// and in a query parameter named like a secret.
fn secret_url(sw: &Sweep, base: &str, tag: &str, param: &str) -> String {
    let (scheme, rest) = base.split_once("://").unwrap();
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    format!(
        "{scheme}://canary:{}@{authority}/{path}?{param}={}&tenant=team-a",
        sw.secret(&format!("{tag}u")),
        sw.secret(&format!("{tag}q"))
    )
}

/// Export flags and environment carrying the secret everywhere an exporter takes one.
fn export_inputs(sw: &Sweep, endpoint: &str) -> (Vec<String>, Vec<(String, String)>) {
    let args = vec![
        "--endpoint".into(),
        secret_url(sw, endpoint, "ep", "token"),
        "--header".into(),
        format!("authorization=Bearer {}", sw.secret("hdr")),
        "-H".into(),
        format!("x-api-key: {}", sw.secret("curl")),
        "-H".into(),
        format!("x-custom-signature={}==", sw.secret("sig")),
    ];
    let env = vec![
        (
            "OTEL_EXPORTER_OTLP_HEADERS".into(),
            format!("x-auth-token={},x-scope-orgid=team-a", sw.secret("envh")),
        ),
        (
            "OTEL_EXPORTER_OTLP_TRACES_HEADERS".into(),
            format!("x-trace-secret={}", sw.secret("envt")),
        ),
        (
            "OTEL_EXPORTER_OTLP_LOGS_HEADERS".into(),
            format!("x-log-password={}", sw.secret("envl")),
        ),
        (
            "OTEL_EXPORTER_OTLP_METRICS_HEADERS".into(),
            format!("cookie=session={}", sw.secret("envm")),
        ),
    ];
    (args, env)
}

/// Read flags carrying the secret: URLs with userinfo and secret query parameters, read
/// headers (common and per backend), a bearer token file, and the Grafana token file.
fn read_inputs(sw: &mut Sweep, lab: &LabStack, token_file: &str) -> Vec<String> {
    let grafana_token = sw.file(&sw.secret("graf"));
    vec![
        "--tempo".into(),
        secret_url(sw, &lab.tempo_url(), "tempo", "api_key"),
        "--loki".into(),
        secret_url(sw, &lab.loki_url(), "loki", "password"),
        "--mimir".into(),
        secret_url(sw, &lab.mimir_url(), "mimir", "access_token"),
        "--read-header".into(),
        format!("x-read-token={}", sw.secret("rhdr")),
        "--read-header".into(),
        format!("loki:x-loki-apikey={}", sw.secret("rloki")),
        "--read-token-file".into(),
        token_file.into(),
        "--grafana".into(),
        lab.grafana_url().unwrap(),
        "--grafana-token-file".into(),
        grafana_token,
        "--self-trace".into(),
        secret_url(sw, &lab.receivers.http_base(false), "self", "secret"),
    ]
}

/// Runs the binary; every byte of stdout and stderr is checked.
/// `expect` is the exit code the case is built for (0 passing, 1 a failed signal, 2 refused
/// settings), so each case proves it reached the path it stands for.
async fn sweep_run(
    sw: &Sweep,
    what: &str,
    args: Vec<String>,
    env: Vec<(String, String)>,
    expect: i32,
) {
    let started = Instant::now();
    let out = run_bin_async(args.clone(), env).await;
    let code = out.status.code();
    assert_eq!(
        code,
        Some(expect),
        "{what}: exit {code:?}\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !out.stdout.is_empty() || !out.stderr.is_empty(),
        "{what}: no output at all"
    );
    sw.check(
        &format!("{what} stdout"),
        &String::from_utf8_lossy(&out.stdout),
    );
    sw.check(
        &format!("{what} stderr"),
        &String::from_utf8_lossy(&out.stderr),
    );
    eprintln!(
        "swept {what}: exit {code:?}, {} + {} bytes, {:.1}s",
        out.stdout.len(),
        out.stderr.len(),
        started.elapsed().as_secs_f64()
    );
}

fn with(mut a: Vec<String>, more: &[&str]) -> Vec<String> {
    a.extend(more.iter().map(|s| s.to_string()));
    a
}

/// A case of refused settings: its name, arguments, environment and expected exit code.
type Case<'a> = (&'a str, Vec<String>, Vec<(String, String)>, i32);

const LOGS: [&[&str]; 2] = [
    &["--log-level", "trace"],
    &["--log-level", "trace", "--log-format", "json"],
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_appears_in_any_output() {
    let mark = format!("s3cr3t{}", uuid::Uuid::new_v4().simple());
    let mut sw = Sweep {
        mark,
        derived: Vec::new(),
        leaks: Mutex::new(Vec::new()),
        checked: Mutex::new(0),
        _files: Vec::new(),
    };
    // The lab's Grafana accepts the sweep's token and password, so the passing runs read
    // through it with them.
    let mut lab = LabStack::start(LabStackConfig::ephemeral(), LabState::new())
        .await
        .expect("lab stack starts");
    lab.start_grafana(
        "127.0.0.1:0".parse().unwrap(),
        LabGrafanaConfig {
            token: sw.secret("graf"),
            password: sw.secret("grafpw"),
            ..LabGrafanaConfig::default()
        },
    )
    .await
    .expect("lab Grafana starts");
    for (user, tag) in [("sweeper", "rpw"), ("admin", "grafpw"), ("canary", "epu")] {
        let b64 = base64::engine::general_purpose::STANDARD;
        sw.derived
            .push(b64.encode(format!("{user}:{}", sw.secret(tag))));
    }
    let http = lab.receivers.http_base(false);
    let token_file = sw.file(&sw.secret("rtok"));
    let password_file = sw.file(&sw.secret("rpw"));
    let (export_args, export_env) = export_inputs(&sw, &http);
    let read_args = read_inputs(&mut sw, &lab, &token_file);
    let secret_env: Vec<(String, String)> = export_env
        .iter()
        .cloned()
        .chain([
            ("OTEL_CANARY_READ_PASSWORD".into(), sw.secret("envrpw")),
            ("OTEL_CANARY_GRAFANA_PASSWORD".into(), sw.secret("grafpw")),
        ])
        .collect();

    // emit, every format, both emitters, both log formats.
    for output in ["human", "json"] {
        for (i, logs) in LOGS.iter().enumerate() {
            let mut a = strings(&["emit", "--output", output, "--emitter", "both"]);
            a.extend(export_args.iter().cloned());
            sweep_run(
                &sw,
                &format!("emit {output} logs#{i}"),
                with(a, logs),
                export_env.clone(),
                0,
            )
            .await;
        }
    }

    // run, every format: every secret input at once (token auth), passing.
    let run_base = |extra: &[&str]| {
        let mut a = strings(&["run", "--no-search", "--timeout", "10s"]);
        a.extend(export_args.iter().cloned());
        a.extend(read_args.iter().cloned());
        with(a, extra)
    };
    for output in ["human", "json", "junit"] {
        for (i, logs) in LOGS.iter().enumerate() {
            let a = with(run_base(&["--output", output]), logs);
            sweep_run(
                &sw,
                &format!("run {output} logs#{i}"),
                a,
                secret_env.clone(),
                0,
            )
            .await;
        }
    }

    // run with basic auth for reads and Grafana (user + password file / environment).
    let basic = replace_flag(run_base(&[]), "--read-token-file", None);
    let basic = replace_flag(basic, "--grafana-token-file", None);
    for output in ["human", "json", "junit"] {
        let a = with(
            basic.clone(),
            &[
                "--read-user",
                "sweeper",
                "--read-password-file",
                &password_file,
                "--grafana-user",
                "admin",
                "--output",
                output,
                "--log-level",
                "trace",
            ],
        );
        sweep_run(
            &sw,
            &format!("run basic-auth {output}"),
            a,
            secret_env.clone(),
            0,
        )
        .await;
    }

    // Credentials from the environment only: endpoint, read token, Grafana token.
    let env_only: Vec<(String, String)> = export_env
        .iter()
        .cloned()
        .chain([
            (
                "OTEL_EXPORTER_OTLP_ENDPOINT".into(),
                secret_url(&sw, &http, "envep", "apikey"),
            ),
            ("OTEL_CANARY_READ_TOKEN".into(), sw.secret("envrtok")),
            ("OTEL_CANARY_GRAFANA_TOKEN".into(), sw.secret("graf")),
            ("OTEL_CANARY_GRAFANA_URL".into(), lab.grafana_url().unwrap()),
        ])
        .collect();
    for output in ["human", "json", "junit"] {
        let a = strings(&[
            "run",
            "--no-search",
            "--timeout",
            "10s",
            "--tempo",
            &lab.tempo_url(),
            "--loki",
            &lab.loki_url(),
            "--mimir",
            &lab.mimir_url(),
            "--output",
            output,
            "--log-level",
            "trace",
        ]);
        sweep_run(
            &sw,
            &format!("run env-credentials {output}"),
            a,
            env_only.clone(),
            0,
        )
        .await;
    }

    // A scenario file holding the secrets.
    let grafana_token_file = sw.file(&sw.secret("graf"));
    let scenario = sw.file(&format!(
        "[export]\nendpoint = \"{}\"\n[export.headers]\nauthorization = \"Bearer {}\"\n\
         [read]\ntempo = \"{}\"\nloki = \"{}\"\nmimir = \"{}\"\nsearch = false\n\
         [read.headers]\nx-api-key = \"{}\"\n\
         [grafana]\nurl = \"{}\"\ntoken_file = \"{}\"\n",
        secret_url(&sw, &http, "scep", "token"),
        sw.secret("scexh"),
        secret_url(&sw, &lab.tempo_url(), "sctempo", "token"),
        secret_url(&sw, &lab.loki_url(), "scloki", "token"),
        secret_url(&sw, &lab.mimir_url(), "scmimir", "token"),
        sw.secret("scrh"),
        lab.grafana_url().unwrap(),
        grafana_token_file,
    ));
    let scenario_path = format!("{scenario}.toml");
    std::fs::copy(&scenario, &scenario_path).unwrap();
    for output in ["human", "json", "junit"] {
        let a = strings(&[
            "run",
            "--scenario",
            &scenario_path,
            "--timeout",
            "10s",
            "--output",
            output,
            "--log-level",
            "trace",
        ]);
        sweep_run(&sw, &format!("run scenario {output}"), a, Vec::new(), 0).await;
    }

    // doctor, both formats, with the same inputs (scanning only the lab's ports).
    let ports = [
        lab.receivers.http_addr.port(),
        lab.receivers.grpc_addr.port(),
        lab.tempo_addr.port(),
        lab.loki_addr.port(),
        lab.mimir_addr.port(),
    ]
    .map(|p| p.to_string())
    .join(",");
    for output in ["human", "json"] {
        let mut a = strings(&["doctor", "127.0.0.1", "--ports", &ports, "--output", output]);
        a.extend(export_args.iter().cloned());
        a.extend(replace_flag(read_args.clone(), "--self-trace", None));
        for (i, logs) in LOGS.iter().enumerate() {
            let a = with(a.clone(), logs);
            sweep_run(
                &sw,
                &format!("doctor {output} logs#{i}"),
                a,
                secret_env.clone(),
                0,
            )
            .await;
        }
    }

    // Failing runs whose errors echo URLs: refused ports everywhere.
    let dead = format!("http://127.0.0.1:{}", closed_port());
    let (dead_export, _) = export_inputs(&sw, &dead);
    let mut dead_read = strings(&["--no-search", "--timeout", "2s"]);
    for flag in ["--tempo", "--loki", "--mimir"] {
        dead_read.extend([flag.to_string(), secret_url(&sw, &dead, "dead", "token")]);
    }
    dead_read.extend([
        "--read-token-file".to_string(),
        token_file.clone(),
        "--grafana".into(),
        dead.clone(),
        "--grafana-user".into(),
        "admin".into(),
    ]);
    for output in ["human", "json", "junit"] {
        let mut a = strings(&["run", "--output", output, "--log-level", "trace"]);
        a.extend(dead_export.iter().cloned());
        a.extend(dead_read.iter().cloned());
        sweep_run(
            &sw,
            &format!("run refused {output}"),
            a,
            secret_env.clone(),
            1,
        )
        .await;
    }
    for output in ["human", "json"] {
        let mut a = strings(&[
            "emit",
            "--output",
            output,
            "--log-level",
            "trace",
            "--retries",
            "1",
        ]);
        a.extend(dead_export.iter().cloned());
        sweep_run(
            &sw,
            &format!("emit refused {output}"),
            a,
            export_env.clone(),
            1,
        )
        .await;
        let mut a = strings(&["doctor", "127.0.0.1", "--ports", &closed_port().to_string()]);
        a.extend([
            "--output".into(),
            output.into(),
            "--log-level".into(),
            "trace".into(),
        ]);
        a.extend(dead_export.iter().cloned());
        a.extend(replace_flag(dead_read.clone(), "--no-search", None));
        sweep_run(
            &sw,
            &format!("doctor refused {output}"),
            a,
            secret_env.clone(),
            1,
        )
        .await;
    }

    // The lab's refusals: 401 to the trace export and the log read, Grafana refusing a token.
    lab.state.faults.set(
        Signal::Trace,
        SignalFault {
            status: Some(401),
            ..Default::default()
        },
    );
    lab.state.faults.set(
        Signal::Log,
        SignalFault {
            query_error: Some((401, "no credentials".into())),
            ..Default::default()
        },
    );
    let bad_token = sw.file(&sw.secret("badgraf"));
    let refused = replace_flag(
        replace_flag(run_base(&[]), "--timeout", Some("3s")),
        "--grafana-token-file",
        Some(&bad_token),
    );
    for output in ["human", "json", "junit"] {
        let a = with(
            refused.clone(),
            &["--output", output, "--log-level", "trace"],
        );
        sweep_run(&sw, &format!("run 401 {output}"), a, secret_env.clone(), 1).await;
    }
    lab.state.faults.set(Signal::Trace, SignalFault::default());
    lab.state.faults.set(Signal::Log, SignalFault::default());

    // Malformed settings that hold a secret: the errors must not quote it.
    let s = |t: &str| sw.secret(t);
    let bad_settings: Vec<Case> = vec![
        (
            "grafana URL with a query",
            strings(&[
                "run",
                "--grafana",
                &format!("http://g:3000/?auth={}", s("grafq")),
                "--grafana-user",
                "admin",
            ]),
            secret_env.clone(),
            2,
        ),
        (
            "header without separator",
            strings(&[
                "emit",
                "--header",
                &format!("Authorization Bearer {}", s("nosep")),
            ]),
            vec![],
            2,
        ),
        (
            "header with a bad name",
            strings(&[
                "emit",
                "--header",
                &format!("Authorization Bearer {}==", s("badname")),
            ]),
            vec![],
            2,
        ),
        (
            "env header list",
            strings(&["emit"]),
            vec![(
                "OTEL_EXPORTER_OTLP_HEADERS".into(),
                format!("Authorization: Bearer {}==", s("envbad")),
            )],
            2,
        ),
        (
            "env header without =",
            strings(&["emit"]),
            vec![(
                "OTEL_EXPORTER_OTLP_TRACES_HEADERS".into(),
                format!("api-key {}", s("envnoeq")),
            )],
            2,
        ),
        (
            "endpoint with a bad port",
            strings(&[
                "emit",
                "--endpoint",
                &format!("http://canary:{}@127.0.0.1:99999", s("badport")),
            ]),
            vec![],
            2,
        ),
        (
            "endpoint with a bad scheme",
            strings(&[
                "emit",
                "--endpoint",
                &format!(
                    "ftp://canary:{}@127.0.0.1:21/?token={}",
                    s("ftpu"),
                    s("ftpq")
                ),
            ]),
            vec![],
            2,
        ),
        (
            "endpoint without a scheme",
            strings(&[
                "emit",
                "--endpoint",
                &format!("canary:{}@127.0.0.1:4318", s("noscheme")),
            ]),
            vec![],
            2,
        ),
        (
            "env endpoint with a bad port",
            strings(&["emit"]),
            vec![(
                "OTEL_EXPORTER_OTLP_ENDPOINT".into(),
                format!(
                    "http://canary:{}@localhost:70000?token={}",
                    s("envport"),
                    s("envportq")
                ),
            )],
            2,
        ),
        (
            "tempo URL with a bad port",
            strings(&[
                "run",
                "--tempo",
                &format!("http://canary:{}@127.0.0.1:99999", s("tempoport")),
            ]),
            vec![],
            2,
        ),
        (
            "grafana URL without a scheme",
            strings(&[
                "run",
                "--grafana",
                &format!("admin:{}@grafana:3000", s("grafscheme")),
                "--grafana-user",
                "admin",
            ]),
            secret_env.clone(),
            2,
        ),
        (
            "collector metrics URL",
            strings(&[
                "run",
                "--collector-metrics",
                &format!("ftp://u:{}@c:8888/metrics", s("cmetrics")),
            ]),
            vec![],
            2,
        ),
        (
            "self-trace URL",
            strings(&[
                "run",
                "--self-trace",
                &format!("http://u:{}@c:99999", s("selfport")),
            ]),
            vec![],
            2,
        ),
        (
            "token and user both",
            strings(&["run", "--read-token-file", &token_file, "--read-user", "u"]),
            secret_env.clone(),
            2,
        ),
        (
            "healthcheck URL",
            strings(&[
                "healthcheck",
                "--url",
                &format!(
                    "http://u:{}@127.0.0.1:{}/-/healthy?token={}",
                    s("hcu"),
                    closed_port(),
                    s("hcq")
                ),
            ]),
            vec![],
            2,
        ),
        (
            "healthcheck URL with a bad port",
            strings(&[
                "healthcheck",
                "--url",
                &format!("http://u:{}@127.0.0.1:99999/", s("hcport")),
            ]),
            vec![],
            2,
        ),
    ];
    for (what, args, env, expect) in bad_settings {
        for (i, logs) in LOGS.iter().enumerate() {
            sweep_run(
                &sw,
                &format!("{what} logs#{i}"),
                with(args.clone(), logs),
                env.clone(),
                expect,
            )
            .await;
        }
    }
    let multi_line = sw.file(&format!("{}\nsecond line {}", s("ml1"), s("ml2")));
    sweep_run(
        &sw,
        "multi-line Grafana password file",
        strings(&[
            "run",
            "--grafana",
            "http://g:3000",
            "--grafana-user",
            "admin",
            "--grafana-password-file",
            &multi_line,
        ]),
        vec![],
        2,
    )
    .await;

    // demo ignores the environment's settings; with every secret there, nothing shows.
    sweep_run(
        &sw,
        "demo json",
        strings(&["demo", "--output", "json", "--log-level", "trace"]),
        env_only.clone(),
        0,
    )
    .await;

    // serve: every page, passing and with the backends refused.
    for (what, args) in [
        ("serve", {
            let mut a = strings(&[
                "--interval",
                "300ms",
                "--timeout",
                "3s",
                "--log-level",
                "trace",
                "--no-search",
            ]);
            a.extend(export_args.iter().cloned());
            a.extend(read_args.iter().cloned());
            a
        }),
        ("serve refused", {
            let mut a = strings(&["--interval", "300ms", "--log-level", "trace"]);
            a.extend(dead_export.iter().cloned());
            a.extend(dead_read.iter().cloned());
            a
        }),
    ] {
        sweep_serve(&sw, what, &args, &secret_env).await;
    }

    let checked = *sw.checked.lock().unwrap();
    let leaks = sw.leaks.lock().unwrap();
    assert!(checked > 100, "only {checked} outputs checked");
    assert!(
        leaks.is_empty(),
        "{} leak(s) of the secret:\n{}",
        leaks.len(),
        leaks.join("\n")
    );
}

/// `args` without `flag` and its value, or with its value replaced.
fn replace_flag(args: Vec<String>, flag: &str, value: Option<&str>) -> Vec<String> {
    let mut out = Vec::new();
    let mut it = args.into_iter();
    while let Some(a) = it.next() {
        if a == flag {
            let takes_value = flag != "--no-search";
            if takes_value {
                it.next();
            }
            if let Some(v) = value {
                out.push(a);
                out.push(v.to_string());
            }
        } else {
            out.push(a);
        }
    }
    out
}

/// `otel-canary serve ARGS` with `env` (and no inherited OTEL_* variables), JSON logs on
/// stderr collected line by line, stdout to `stdout`; its address from its "listening" line.
struct Serve {
    child: Child,
    addr: String,
    stderr: Arc<Mutex<Vec<String>>>,
}

impl Serve {
    fn start(args: &[String], env: &[(String, String)], stdout: Stdio) -> Serve {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_otel-canary"));
        for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("OTEL_")) {
            cmd.env_remove(k);
        }
        cmd.env("NO_COLOR", "1")
            .args(["serve", "--listen", "127.0.0.1:0", "--log-format", "json"])
            .args(args)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdout(stdout)
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("serve starts");
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let lines = stderr.clone();
        let pipe = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines() {
                match line {
                    Ok(l) => lines.lock().unwrap().push(l),
                    Err(_) => break,
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(20);
        let addr = loop {
            let found = stderr.lock().unwrap().iter().find_map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).ok()?;
                v["fields"]["listen"].as_str().map(str::to_string)
            });
            if let Some(a) = found {
                break a;
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "serve exited ({status}):\n{}",
                    stderr.lock().unwrap().join("\n")
                );
            }
            assert!(
                Instant::now() < deadline,
                "serve did not listen within 20 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        Serve {
            child,
            addr,
            stderr,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn stderr_text(&self) -> String {
        self.stderr.lock().unwrap().join("\n")
    }

    /// SIGTERM, then the whole log once it exited.
    fn stop(mut self) -> String {
        // SAFETY: kill(2) with the child's pid and a valid signal number.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.child.try_wait().expect("wait").is_none() {
            assert!(Instant::now() < deadline, "serve did not stop");
            std::thread::sleep(Duration::from_millis(20));
        }
        std::thread::sleep(Duration::from_millis(50));
        self.stderr_text()
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `serve`, asks each of its pages, and checks the answers (headers and bodies), its
/// stdout and its stderr.
async fn sweep_serve(sw: &Sweep, what: &str, args: &[String], env: &[(String, String)]) {
    let stdout_file = tempfile::NamedTempFile::new().unwrap();
    let serve = Serve::start(args, env, Stdio::from(stdout_file.reopen().unwrap()));
    let client = http_client();
    let deadline = Instant::now() + Duration::from_secs(30);
    // Wait for a finished probe so /api/v1/last and /metrics have one to show.
    loop {
        let r = client.get(serve.url("/api/v1/last")).send().await;
        if let Ok(r) = r
            && r.status().is_success()
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: no probe finished\n{}",
            serve.stderr_text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for path in [
        "/",
        "/metrics",
        "/api/v1/last",
        "/probe",
        "/probe?scenario=no-such-scenario",
        "/-/ready",
        "/-/healthy",
    ] {
        let r = client
            .get(serve.url(path))
            .header("x-prometheus-scrape-timeout-seconds", "5")
            .send()
            .await
            .unwrap_or_else(|e| panic!("{what} GET {path}: {e}"));
        let status = r.status();
        let headers = format!("{:?}", r.headers());
        let body = r.text().await.expect("body");
        assert!(
            !body.is_empty(),
            "{what} {path}: an empty answer ({status})"
        );
        sw.check(&format!("{what} GET {path} headers"), &headers);
        sw.check(&format!("{what} GET {path} ({status})"), &body);
    }
    let stderr = serve.stop();
    sw.check(&format!("{what} stderr"), &stderr);
    let out = std::fs::read_to_string(stdout_file.path()).unwrap();
    sw.check(&format!("{what} stdout"), &out);
    eprintln!("swept {what}: {} bytes of logs", stderr.len());
}
